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
        tokio::spawn(async move {
            loop {
                let signo = next().await;
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

/// The next stopping signal's number.
#[cfg(unix)]
async fn next() -> u8 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        let _ = tokio::signal::ctrl_c().await;
        return SIGINT;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => SIGINT,
        _ = term.recv() => 15,
        _ = hup.recv() => 1,
    }
}

/// The next stopping signal's number.
#[cfg(not(unix))]
async fn next() -> u8 {
    let _ = tokio::signal::ctrl_c().await;
    SIGINT
}
