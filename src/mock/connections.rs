//! The connection cap. At most `max_connections` connections are served at once, so a flood of
//! sockets cannot take every file descriptor. When the cap is reached, or the process runs out of
//! descriptors anyway, the connection that has waited longest for a request is closed to make
//! room: a connection in the middle of a request is never cut. With none waiting, the accept
//! loop waits for a connection to end, which the timeouts bound; new sockets queue in the
//! kernel's backlog meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// Serving a request (or not yet known to wait for one).
const BUSY: u8 = 0;
/// Waiting for a request: may be closed to make room.
const RESTING: u8 = 1;
/// Closed to make room.
const EVICTED: u8 = 2;

/// The connections being served.
#[derive(Debug)]
pub(crate) struct Connections {
    cap: usize,
    started: Instant,
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    next: AtomicU64,
    /// A connection ended, or began to wait for a request: there may be room now.
    changed: Arc<Notify>,
}

/// One connection's standing, shared between its IO and the accept loop.
#[derive(Debug)]
pub(crate) struct Slot {
    state: AtomicU8,
    /// Microseconds from the mock's start to when it began to wait.
    resting_since: AtomicU64,
    started: Instant,
    waker: AtomicWaker,
    changed: Arc<Notify>,
}

impl Slot {
    /// The connection waits for a request; `waker` is woken if it is closed to make room.
    pub(crate) fn rest(&self, waker: &Waker) {
        self.waker.register(waker);
        if self.state.load(Ordering::Acquire) == BUSY {
            let since = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.resting_since.store(since, Ordering::Relaxed);
            if self.state.compare_exchange(BUSY, RESTING, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                self.changed.notify_one();
            }
        }
    }

    /// Bytes of a request came: `false` if the connection was closed to make room first.
    pub(crate) fn wake(&self) -> bool {
        match self.state.compare_exchange(RESTING, BUSY, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(state) => state != EVICTED,
        }
    }

    /// Closed to make room.
    pub(crate) fn evicted(&self) -> bool {
        self.state.load(Ordering::Acquire) == EVICTED
    }
}

/// A connection's place under the cap, given back when dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    id: u64,
    slot: Arc<Slot>,
    connections: Arc<Connections>,
}

impl Ticket {
    pub(crate) fn slot(&self) -> Arc<Slot> {
        self.slot.clone()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.connections.open().remove(&self.id);
        self.connections.changed.notify_one();
    }
}

impl Connections {
    pub(crate) fn new(cap: usize) -> Arc<Connections> {
        Arc::new(Connections {
            cap: cap.max(1),
            started: Instant::now(),
            open: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            changed: Arc::new(Notify::new()),
        })
    }

    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns once one more connection may be served: below the cap, or once the connection
    /// resting longest has been closed. With none resting, it waits for one to end or to rest.
    pub(crate) async fn room(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.open().len() < self.cap {
                return;
            }
            self.evict_one();
            changed.await;
        }
    }

    /// Closes the connection that has waited longest for a request; `false` if none waits.
    pub(crate) fn evict_one(&self) -> bool {
        loop {
            let oldest = self
                .open()
                .values()
                .filter(|s| s.state.load(Ordering::Acquire) == RESTING)
                .min_by_key(|s| s.resting_since.load(Ordering::Relaxed))
                .cloned();
            let Some(slot) = oldest else { return false };
            // It may have woken meanwhile: then look again.
            if slot.state.compare_exchange(RESTING, EVICTED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                slot.waker.wake();
                return true;
            }
        }
    }

    /// Counts a newly accepted connection.
    pub(crate) fn admit(self: &Arc<Self>) -> Ticket {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            state: AtomicU8::new(BUSY),
            resting_since: AtomicU64::new(0),
            started: self.started,
            waker: AtomicWaker::new(),
            changed: self.changed.clone(),
        });
        self.open().insert(id, slot.clone());
        Ticket { id, slot, connections: self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_longest_resting_connection_makes_room() {
        let connections = Connections::new(2);
        let waker = Waker::noop();
        let (a, b) = (connections.admit(), connections.admit());
        a.slot.rest(waker);
        std::thread::sleep(std::time::Duration::from_millis(2));
        b.slot.rest(waker);
        assert!(connections.evict_one());
        assert!(a.slot.evicted() && !a.slot.wake());
        // b woke with a request: it is no longer a candidate.
        assert!(b.slot.wake() && !connections.evict_one());
        drop(a);
        tokio::time::timeout(std::time::Duration::from_secs(1), connections.room()).await.unwrap();
    }
}
