//! The reference mock of the CSE engine API: the default target of `cse-contract run`, the
//! fixture of the project's own tests, and a standalone server (`cse-contract mock`).
//!
//! It serves the Retry operation as the contract describes it, and the sibling read APIs
//! (engine details, job details) for stateful clients, over in-memory [`state`] seeded from a
//! [`fixture`]. [`faults`] switch on deliberate violations. It uses the contract (path, method,
//! request schemas, limits) but never the checks: if oracle and server shared code, their bugs
//! would cancel out.
//!
//! What a client can make it hold is bounded (README, "Limits of the mock"): each engine's job
//! history ([`state`]); every connection is read through a guard that frames request heads ahead
//! of hyper and answers the malformed ones in JSON, and times every wait; and a cap on connections
//! closes the one idle longest to make room.

mod connections;
pub mod faults;
pub mod fixture;
mod framing;
mod guard;
mod handlers;
mod server;
pub mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use faults::{Fault, Faults};
pub use fixture::Fixture;
pub use server::{MockHandle, spawn};

use crate::contract::Contract;
use state::State;

/// How a mock is started.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The engines.
    pub fixture: Fixture,
    /// If set, the only token accepted; otherwise any non-empty token is.
    pub token: Option<String>,
    /// Deliberate violations.
    pub faults: Faults,
    /// Log one line per request to stderr.
    pub log: bool,
    /// Requests per second beyond which the gateway answers 429.
    pub rate_limit: Option<f64>,
    /// If set, AK/SK-signed requests are verified with these credentials (X-Auth-Token still works).
    pub aksk: Option<crate::sign::Credentials>,
    /// Jobs kept per engine, newest first (at least one).
    pub job_history: usize,
    /// Timeouts and the connection cap.
    pub connections: ConnectionLimits,
}

/// How long a connection may hold the mock, and how many it serves at once (README, "Limits").
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Bound on waiting for a request head, from when the mock starts to wait (a new
    /// connection, or the previous request read); also on waiting for a client to take an answer.
    pub idle_timeout: Duration,
    /// Bound on waiting for the rest of a request body once its head is in.
    pub body_timeout: Duration,
    /// Most connections served at once; past it the one idle longest is closed.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    /// 30 s for a head or a body (nginx gives 60 s, but the mock runs beside its client, where
    /// nothing legitimate waits that long); 1024 connections, the usual soft limit on open files.
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            idle_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl MockConfig {
    /// The default engines on 127.0.0.1 at a free port, quiet, no faults.
    pub fn local() -> MockConfig {
        MockConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            fixture: Fixture::default_set(),
            token: None,
            faults: Faults::default(),
            log: false,
            rate_limit: None,
            aksk: None,
            job_history: state::DEFAULT_JOB_HISTORY,
            connections: ConnectionLimits::default(),
        }
    }
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct App {
    contract: Arc<Contract>,
    state: Mutex<State>,
    token: Option<String>,
    aksk: Option<crate::sign::Credentials>,
    faults: Faults,
    request_seq: AtomicU64,
    request_prefix: u64,
    /// TCP connections accepted so far.
    connections: AtomicU64,
    /// (rate per second, tokens, last refill): a token bucket holding one second of requests.
    bucket: Option<Mutex<(f64, f64, std::time::Instant)>>,
}

impl App {
    fn new(contract: Arc<Contract>, config: &MockConfig) -> App {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() ^ u64::from(d.subsec_nanos()) << 32);
        App {
            contract,
            state: Mutex::new(State::new(&config.fixture, config.job_history).with_faults(config.faults.clone())),
            token: config.token.clone(),
            aksk: config.aksk.clone(),
            faults: config.faults.clone(),
            request_seq: AtomicU64::new(0),
            request_prefix: seed,
            connections: AtomicU64::new(0),
            bucket: config.rate_limit.map(|rate| Mutex::new((rate, rate, std::time::Instant::now()))),
        }
    }

    /// The state; a poisoned lock is taken over, since every update is completed under it.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a token from the bucket; `false` when the rate limit is reached.
    fn admit(&self) -> bool {
        let Some(bucket) = &self.bucket else { return true };
        let mut guard = bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (rate, tokens, last) = &mut *guard;
        let now = std::time::Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * *rate).min(rate.max(1.0));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A fresh 32-hex-digit request id.
    fn request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:016x}", self.request_prefix)
    }
}
