//! The signals that stop a run: SIGINT (Ctrl-C), SIGTERM (what CI cancellation, `timeout` and
//! `docker stop` send) and SIGHUP (a closed terminal). The first is remembered: the run stops
//! starting cases, gives those in flight a short grace, stops shrinking, writes its reports marked
//! partial, and exits with 128 + the signal's number (130, 143, 129). A second signal exits at
//! once, with the same code.

use tokio::sync::watch;

/// SIGINT's number.
pub(super) const SIGINT: u8 = 2;

/// Listens for the stopping signals from when it is created; cheap to clone.
#[derive(Clone)]
pub(super) struct Signals {
    received: watch::Receiver<u8>,
}

impl Signals {
    /// Starts listening (on the current tokio runtime).
    pub(super) fn listen() -> Signals {
        Signals::listen_saying("no new case is started; the reports of what finished will be written")
    }

    /// [`Signals::listen`], saying `what` happens next when the first signal comes.
    pub(super) fn listen_saying(what: &'static str) -> Signals {
        let (tx, received) = watch::channel(0);
        // Registered here, not in the task: a signal that comes before the task first runs (a CI
        // job cancelled right after `proxy` printed its URL) is not lost.
        let mut stopping = Stopping::register();
        tokio::spawn(async move {
            loop {
                let signo = stopping.next().await;
                if *tx.borrow() != 0 {
                    eprintln!("\n{}: a second signal, exiting at once", name(signo));
                    std::process::exit(i32::from(exit_code(signo)));
                }
                eprintln!("\n{}: {what} (a second signal exits at once)", name(signo));
                let _ = tx.send(signo);
            }
        });
        Signals { received }
    }

    /// The first signal received, if any.
    pub(super) fn received(&self) -> Option<u8> {
        Some(*self.received.borrow()).filter(|&s| s != 0)
    }

    /// Resolves once a signal has been received.
    pub(super) async fn wait(&self) {
        let mut rx = self.received.clone();
        if rx.wait_for(|&s| s != 0).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The exit code after signal `signo`: 128 + its number, as shells report it.
pub(super) fn exit_code(signo: u8) -> u8 {
    128_u8.saturating_add(signo)
}

fn name(signo: u8) -> &'static str {
    match signo {
        1 => "SIGHUP",
        15 => "SIGTERM",
        _ => "interrupted (SIGINT)",
    }
}

/// The stopping signals, each registered once, when this is made.
#[cfg(unix)]
struct Stopping {
    /// SIGINT, SIGTERM and SIGHUP; `None` when one could not be registered (then Ctrl-C alone).
    streams: Option<[tokio::signal::unix::Signal; 3]>,
}

#[cfg(unix)]
impl Stopping {
    fn register() -> Stopping {
        use tokio::signal::unix::{SignalKind, signal};
        let kinds = [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()];
        let streams = kinds.map(signal);
        let streams = match streams {
            [Ok(int), Ok(term), Ok(hup)] => Some([int, term, hup]),
            _ => None,
        };
        Stopping { streams }
    }

    /// The next stopping signal's number.
    async fn next(&mut self) -> u8 {
        let Some([int, term, hup]) = &mut self.streams else {
            let _ = tokio::signal::ctrl_c().await;
            return SIGINT;
        };
        tokio::select! {
            _ = int.recv() => SIGINT,
            _ = term.recv() => 15,
            _ = hup.recv() => 1,
        }
    }
}

/// Ctrl-C alone, where there are no Unix signals.
#[cfg(not(unix))]
struct Stopping;

#[cfg(not(unix))]
impl Stopping {
    fn register() -> Stopping {
        Stopping
    }

    /// The next stopping signal's number.
    async fn next(&mut self) -> u8 {
        let _ = tokio::signal::ctrl_c().await;
        SIGINT
    }
}
