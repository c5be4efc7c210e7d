//! The validation proxy: a server that forwards every request to an upstream (the API, or a mock)
//! and every answer back untouched ([`forward`]), and judges each exchange of an operation of the
//! contract ([`route`]) with the suite's checks ([`judge`]), the client's request included
//! (`request_conforms`). Each judged exchange is masked and rendered for the reports
//! ([`Recording`]) and handed to the command, which records it as a run records a case.
//!
//! Bounded under load: at most `max_connections` clients are served at once (the next wait to be
//! accepted), as many exchanges are in flight from arrival to recording, and at most
//! `max_body` bytes of each body are kept for judging (a larger body is forwarded whole and its
//! exchange reported as not judged). An upstream that cannot be reached is answered to the client
//! 502, one that does not answer in time 504, each with a JSON body, and reported errored.

mod conn;
mod forward;
mod info;
mod judge;
mod record;
mod route;
mod tee;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub use info::{Asked, INFO_PATH, ProxyInfo, ask};
pub use judge::UNKNOWN as UNKNOWN_SUITE;
pub use record::{ExchangeLog, Recording, line, secret_headers};
pub use route::{Route, Routes};

use crate::client::ClientConfig;
use crate::contract::Contract;

/// How observed exchanges are judged.
#[derive(Debug, Clone, Copy)]
pub struct Judging {
    /// Only the API page's statuses count as documented (`--strict-statuses`).
    pub strict_statuses: bool,
    /// Missing or invalid credentials must get the gateway's status alone (`--strict-auth`).
    pub strict_auth: bool,
    /// Largest body, request or response, kept for judging.
    pub max_body: usize,
}

impl Default for Judging {
    fn default() -> Self {
        Judging { strict_statuses: false, strict_auth: false, max_body: 1024 * 1024 }
    }
}

/// What the proxy is told.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where it listens; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where it forwards to.
    pub upstream: Upstream,
    /// The forwarding client's timeouts and TLS: `timeout` bounds the wait for the upstream's
    /// answer (then 504) and between two parts of its body.
    pub client: ClientConfig,
    /// Most clients served at once, and most exchanges in flight.
    pub max_connections: usize,
    /// A connection with no exchange in flight for this long is closed.
    pub idle_timeout: Duration,
    /// How exchanges are judged.
    pub judging: Judging,
}

/// The upstream's base URL: scheme, authority, and a path prefix every request's path goes under.
#[derive(Debug, Clone)]
pub struct Upstream {
    base: String,
}

impl Upstream {
    /// `url`, if it is an absolute http or https URL without query or fragment.
    pub fn parse(url: &str) -> Result<Upstream, String> {
        // Said without the credentials the URL may hold.
        let shown = crate::report::mask_url(url);
        let uri: http::Uri = url.parse().map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(format!("`{shown}` is not an http:// or https:// URL with a host"));
        }
        if uri.query().is_some() || url.contains('#') {
            return Err(format!("`{shown}` has a query or a fragment: give the base URL only"));
        }
        if let Some(port) = crate::client::bad_port(&uri) {
            return Err(format!("`{shown}` has the port `{port}`, not one of 1 to 65535"));
        }
        Ok(Upstream { base: url.trim_end_matches('/').to_owned() })
    }

    /// The base URL, as given (without a trailing `/`).
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// Where a request for `sent` (its path and query) goes.
    fn uri_for(&self, sent: &http::Uri) -> Result<http::Uri, String> {
        let path = sent.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        format!("{}{path}", self.base).parse().map_err(|e| format!("the request's target `{path}`: {e}"))
    }
}

/// The AK/SK signing algorithms of the Huawei Cloud SDKs (schemas/FACTS.md §3c).
const SIGNING_ALGORITHMS: [&str; 5] =
    ["SDK-HMAC-SHA256", "SDK-HMAC-SM3", "SDK-ECDSA-P256-SHA256", "SDK-SM2-SM3", "V11-HMAC-SHA256"];

/// The signature of an AK/SK `Authorization` value, if it is one.
fn signature(authorization: &str) -> Option<&str> {
    let rest = authorization.trim_start();
    SIGNING_ALGORITHMS.iter().find_map(|a| rest.strip_prefix(a).filter(|r| r.starts_with(' ')))?;
    rest.split(',').find_map(|part| part.trim().strip_prefix("Signature="))
}

/// The error code of the proxy's own answers with `status`.
fn error_code(status: u16) -> String {
    format!("cse-contract.proxy.{status}")
}

/// A running proxy.
#[derive(Debug)]
pub struct ProxyHandle {
    /// Its base URL, `http://ADDR`.
    pub base_url: String,
    /// The environment's proxy through which the upstream is reached (`HTTPS_PROXY`…), if any.
    pub via: Option<String>,
    stop: watch::Sender<Option<Duration>>,
    task: tokio::task::JoinHandle<()>,
}

impl ProxyHandle {
    /// Stops accepting, lets the exchanges in flight finish (at most `grace`, then their
    /// connections are closed) and be recorded, and returns.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(Some(grace));
        let _ = self.task.await;
    }
}

/// Starts the proxy on `config.listen`, judging with `contract`, recording into `recording`.
pub async fn spawn(
    contract: Arc<Contract>,
    config: ProxyConfig,
    recording: Arc<Recording>,
) -> std::io::Result<ProxyHandle> {
    let listener = TcpListener::bind(config.listen).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let upstream: http::Uri = config.upstream.as_str().parse().map_err(std::io::Error::other)?;
    let (client, via) = crate::client::Forwarding::new(&config.client, &upstream);
    let shared = Arc::new(forward::Shared {
        routes: Routes::new(&contract),
        contract,
        upstream: config.upstream,
        client,
        asker: crate::client::Client::new(ClientConfig {
            timeout: config.client.connect_timeout,
            ..config.client.clone()
        }),
        timeout: config.client.timeout,
        judging: config.judging,
        in_flight: Arc::new(Semaphore::new(config.max_connections)),
        next: AtomicUsize::new(0),
        stopping: std::sync::atomic::AtomicBool::new(false),
        halt: tokio::sync::Notify::new(),
        recording,
    });
    let (stop, stopped) = watch::channel(None);
    let limits = Limits { max_connections: config.max_connections, idle_timeout: config.idle_timeout };
    let task = tokio::spawn(serve(listener, shared, limits, stopped));
    Ok(ProxyHandle { base_url, via, stop, task })
}

/// Accepts clients until told to stop, then winds down (see [`ProxyHandle::shutdown`]).
async fn serve(
    listener: TcpListener,
    shared: Arc<forward::Shared>,
    limits: Limits,
    stop: watch::Receiver<Option<Duration>>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(conn::Registry::new());
    let mut tasks = tokio::task::JoinSet::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // What the upstream sent is what the client gets: no Date of the proxy's own.
    builder.http1().preserve_header_case(true).auto_date_header(false).timer(TokioTimer::new());
    // One HTTP/2 connection may not take more than a quarter of the places in flight.
    let streams = u32::try_from((limits.max_connections / 4).max(1)).unwrap_or(u32::MAX);
    builder.http2().auto_date_header(false).max_concurrent_streams(streams).timer(TokioTimer::new());
    let mut stopped = stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => break,
            accepted = accept(&listener, &connections, (&registry, limits)) => accepted,
        };
        while tasks.try_join_next().is_some() {}
        let Some((stream, peer, permit)) = accepted else { continue };
        let (key, activity) = registry.enter();
        let service = {
            let (shared, activity) = (shared.clone(), activity.clone());
            hyper::service::service_fn(move |request| {
                forward::exchange(shared.clone(), peer, activity.begin(), request)
            })
        };
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let (registry, stop) = (registry.clone(), stop.clone());
        tasks.spawn(async move {
            conn::watch(connection, auto::Connection::graceful_shutdown, &activity, limits.idle_timeout, stop).await;
            registry.leave(key);
            drop(permit);
        });
    }
    drop(listener);
    let grace = stop.borrow().unwrap_or_default();
    let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    // The grace is over: the connections still open are closed, and each exchange still waiting
    // for its answer is recorded as cut short by the stop.
    shared.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    shared.halt.notify_waiters();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Every exchange holds a permit until it is recorded: all of them back means all recorded.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(1), shared.in_flight.acquire_many(all)).await;
}

/// How many clients, and how long an idle one is kept.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_connections: usize,
    idle_timeout: Duration,
}

/// The next client, with a connection slot: when none is free, the connection idle longest (for
/// [`conn::EVICT_AFTER`] at least) is closed to make room (again every 50 ms while none is); `None` when accepting failed (the
/// error is told, and the proxy goes on after a pause: out of file descriptors, say).
async fn accept(
    listener: &TcpListener,
    connections: &Arc<Semaphore>,
    (registry, limits): (&conn::Registry, Limits),
) -> Option<(tokio::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit)> {
    let (stream, peer) = match listener.accept().await {
        Ok(accepted) => accepted,
        Err(e) => {
            eprintln!("proxy: accepting a connection failed: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            return None;
        }
    };
    let _ = stream.set_nodelay(true);
    let permit = loop {
        if let Ok(permit) = connections.clone().try_acquire_owned() {
            break permit;
        }
        registry.evict_one(limits.idle_timeout.min(conn::EVICT_AFTER));
        if let Ok(permit) = tokio::time::timeout(Duration::from_millis(50), connections.clone().acquire_owned()).await {
            break permit.ok()?;
        }
    };
    Some((stream, peer, permit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_is_a_base_url() {
        let up = Upstream::parse("https://h:8443/base/").unwrap();
        let uri = up.uri_for(&"/v2/p/x?a=1".parse().unwrap()).unwrap();
        assert_eq!(uri.to_string(), "https://h:8443/base/v2/p/x?a=1");
        for bad in ["h:80", "ftp://h", "http://h/?q=1", "http://h/#f", "/v2", "http://h:99999", "http://h:0"] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
        for bad in ["http://u:Pw-secret@h/?q=1", "ftp://u:Pw-secret@h", "http://u:Pw-secret@h:99999"] {
            let error = Upstream::parse(bad).unwrap_err();
            assert!(!error.contains("Pw-secret") && error.contains("***@h"), "{error}");
        }
    }

    #[test]
    fn signatures_are_found_in_the_sdk_schemes_only() {
        let signed = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=c0ffee";
        assert_eq!(signature(signed), Some("c0ffee"));
        assert_eq!(signature("SDK-HMAC-SM3 Access=AK, Signature=ab"), Some("ab"));
        assert_eq!(signature("Bearer Signature=ab"), None);
        assert_eq!(signature("SDK-HMAC-SHA256X Access=AK, Signature=ab"), None);
    }
}
