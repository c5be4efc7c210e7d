//! The proxy's connections: at most `max_connections` at once, each closed once idle (no exchange
//! of it in flight) for the idle timeout, and, when a new client waits for room, the one idle
//! longest closed to make it. "Idle" counts from the connection's start (a client that sends
//! nothing, or only part of a head, or keeps an HTTP/2 connection open unused) or from its last
//! exchange's recording; an exchange in flight (from its request's arrival to its recording,
//! which `forward::settle` bounds) keeps it busy. Closing is graceful (the exchange in progress,
//! if any, ends first); a connection that has not closed one idle timeout later is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// One connection's activity, shared by its exchanges and its task.
#[derive(Debug)]
pub(crate) struct Activity {
    /// Exchanges of it not yet recorded.
    open: AtomicUsize,
    /// When it last became idle, in microseconds since the proxy started.
    idle_since: AtomicU64,
    origin: Instant,
    /// Told to close (to make room).
    close: Notify,
    /// Closing already: not to be picked again.
    closing: std::sync::atomic::AtomicBool,
}

impl Activity {
    fn new(origin: Instant) -> Activity {
        let activity = Activity {
            open: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            origin,
            close: Notify::new(),
            closing: std::sync::atomic::AtomicBool::new(false),
        };
        activity.mark_idle();
        activity
    }

    fn mark_idle(&self) {
        let now = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.idle_since.store(now, Ordering::Relaxed);
    }

    /// An exchange began; it stays open until the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.open.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// How long it has been idle; `None` while an exchange is open.
    fn idle_for(&self) -> Option<Duration> {
        if self.open.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = Duration::from_micros(self.idle_since.load(Ordering::Relaxed));
        Some(self.origin.elapsed().saturating_sub(since))
    }
}

/// An open exchange of a connection.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.mark_idle();
        }
    }
}

/// The open connections, for making room.
#[derive(Debug)]
pub(crate) struct Registry {
    origin: Instant,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry { origin: Instant::now(), open: Mutex::new(HashMap::new()), next: AtomicU64::new(0) }
    }

    /// A new connection's activity, and its key to leave with.
    pub(crate) fn enter(&self) -> (u64, Arc<Activity>) {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new(self.origin));
        self.open.lock().unwrap_or_else(PoisonError::into_inner).insert(key, activity.clone());
        (key, activity)
    }

    pub(crate) fn leave(&self, key: u64) {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
    }

    /// Tells the connection idle longest, for at least `after`, and not closing already, to
    /// close; `false` when there is none. A connection idle for less may be between two requests
    /// of a client (its next one in the socket, not yet read): closing it would lose that.
    pub(crate) fn evict_one(&self, after: Duration) -> bool {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let longest = open
            .values()
            .filter(|a| !a.closing.load(Ordering::Acquire))
            .filter_map(|a| a.idle_for().filter(|idle| *idle >= after).map(|idle| (idle, a)))
            .max_by_key(|(idle, _)| *idle);
        longest.is_some_and(|(_, activity)| {
            activity.closing.store(true, Ordering::Release);
            activity.close.notify_one();
            true
        })
    }
}

/// How long a connection must have been idle to be closed for a waiting client (or the idle
/// timeout, if shorter).
pub(crate) const EVICT_AFTER: Duration = Duration::from_secs(1);

/// How long a connection told to close has to do so gracefully before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves `connection` until it ends, the proxy stops (`stopping`), it was idle for `idle`, or it
/// is told to make room; closing it gracefully (`close`), and dropping it if that takes more
/// than [`CLOSE_GRACE`] (a client holding half a head, an HTTP/2 client that ignores GOAWAY).
pub(crate) async fn watch<C: std::future::Future>(
    connection: C,
    close: impl Fn(std::pin::Pin<&mut C>),
    activity: &Activity,
    idle: Duration,
    mut stopping: tokio::sync::watch::Receiver<Option<Duration>>,
) {
    let mut connection = std::pin::pin!(connection);
    let tick = (idle / 4).clamp(Duration::from_millis(10), CLOSE_GRACE / 4);
    let mut ticks = tokio::time::interval(tick);
    let mut closing = false;
    // Closed for room or idleness (no exchange in flight): dropped if not closed by then. The
    // proxy's stop has its own grace, and drops what is left itself.
    let mut drop_at: Option<Instant> = None;
    loop {
        let idle_out = tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopping.changed(), if !closing => false,
            () = activity.close.notified(), if !closing => true,
            _ = ticks.tick() => {
                match drop_at {
                    Some(at) if Instant::now() >= at => return,
                    None if !closing && activity.idle_for().is_some_and(|i| i >= idle) => true,
                    _ => continue,
                }
            }
        };
        if !closing {
            closing = true;
            activity.closing.store(true, Ordering::Release);
            close(connection.as_mut());
        }
        if idle_out && drop_at.is_none() {
            drop_at = Some(Instant::now() + CLOSE_GRACE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_idle_longest_makes_room_and_a_busy_one_never_does() {
        let registry = Registry::new();
        let (_, first) = registry.enter();
        std::thread::sleep(Duration::from_millis(5));
        let (_, second) = registry.enter();
        let busy = first.begin();
        assert!(first.idle_for().is_none());
        assert!(!registry.evict_one(Duration::from_secs(60)), "not idle long enough");
        assert!(registry.evict_one(Duration::ZERO), "the second is idle");
        assert!(!registry.evict_one(Duration::ZERO), "and closing: not picked twice");
        drop(busy);
        assert!(first.idle_for().is_some_and(|i| i < Duration::from_millis(5)), "idle again, from now");
        assert!(second.idle_for().is_some());
        let _a = first.begin();
        let _b = second.begin();
        assert!(!registry.evict_one(Duration::ZERO), "none is idle");
    }
}
