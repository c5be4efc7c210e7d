//! Serving: the router built from the contract's path and method, and an accept loop of our
//! own (rather than `axum::serve`) so that the connection-level faults (hang, reset) can act on
//! the raw socket, every connection is [`guard`](super::guard)ed and counted under the
//! [`connections`](super::connections) cap, and shutdown is graceful.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::faults::Fault;
use std::collections::HashMap;

use axum::extract::Path;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::{HeaderMap, Method, Uri};
use bytes::Bytes;

use super::connections::Connections;
use super::framing::{MAX_HEAD, MAX_HEADERS};
use super::guard::{self, Guarded};
use super::handlers::{self, Call};
use super::{App, MockConfig};
use crate::contract::Contract;

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(2);

/// A running mock.
#[derive(Debug)]
pub struct MockHandle {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl MockHandle {
    /// How many TCP connections the mock has accepted (a client that reuses connections opens
    /// at most as many as it has requests in flight).
    pub fn connections(&self) -> u64 {
        self.app.connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops accepting, lets requests in flight finish (briefly), and waits for the server.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// A copy of one engine's state, for tests.
    pub fn engine(&self, engine_id: &str) -> Option<super::state::Engine> {
        self.app.state().snapshot(engine_id, Instant::now())
    }
}

/// Starts a mock on `config.listen` serving `contract`.
pub async fn spawn(contract: Arc<Contract>, config: MockConfig) -> std::io::Result<MockHandle> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::new(contract, &config));
    let router = router(&app, config.log);
    let (stop, stopped) = watch::channel(false);
    let settings = Arc::new(guard::Settings {
        app: app.clone(),
        idle: config.connections.idle_timeout,
        body: config.connections.body_timeout,
        log: config.log,
    });
    let connections = Connections::new(config.connections.max_connections);
    let task = tokio::spawn(accept_loop(listener, router, settings, connections, stopped));
    Ok(MockHandle { base_url: format!("http://{addr}"), addr, app, stop, task })
}

/// One route per operation of the contract, at the manifest's path: the paths are the
/// contract's, never constants of the mock.
fn router(app: &Arc<App>, log: bool) -> Router {
    let mut router = Router::new();
    let mut limit = 0;
    for op in &app.contract.operations {
        let id = op.id;
        limit = limit.max(usize::try_from(op.manifest.max_request_body_bytes).unwrap_or(usize::MAX));
        router = router.route(
            &op.manifest.path,
            any(
                move |State(app): State<Arc<App>>,
                      method: Method,
                      uri: Uri,
                      path: Result<Path<HashMap<String, String>>, PathRejection>,
                      headers: HeaderMap,
                      body: Result<Bytes, BytesRejection>| async move {
                    handlers::operation(&app, id, Call { method, uri, path, headers, body }).await
                },
            ),
        );
    }
    let router = router
        .fallback(|State(app): State<Arc<App>>| async move { handlers::no_such_api(&app) })
        .layer(DefaultBodyLimit::max(limit));
    let router = if log { router.layer(middleware::from_fn_with_state(app.clone(), log_request)) } else { router };
    router.with_state(app.clone())
}

/// One line per request on stderr; the configured token, should it appear, is masked.
async fn log_request(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let line = format!("{} {}", request.method(), request.uri());
    let response = next.run(request).await;
    let mut line = format!("{line} -> {} ({} µs)", response.status().as_u16(), started.elapsed().as_micros());
    if let Some(token) = app.token.as_deref().filter(|t| !t.is_empty()) {
        line = mask_token(&line, token);
    }
    eprintln!("{line}");
    response
}

/// A log line with the token masked by the line's structure: each `/`- or `?`-separated part
/// of the request line is percent-decoded and masked when it is the token, or (for a token long
/// enough not to be ordinary text, 8 bytes or more) holds it. A one-letter token then leaves
/// `PUT /v2/...` readable, and a token sent percent-encoded in a path parameter is still found.
fn mask_token(line: &str, token: &str) -> String {
    line.split_inclusive(['/', '?', '&', ' '])
        .map(|part| {
            let end = part.len() - usize::from(part.ends_with(['/', '?', '&', ' ']));
            let (text, separator) = part.split_at(end);
            let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
            if decoded == token || (token.len() >= 8 && decoded.contains(token)) {
                format!("***{separator}")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The guard bounds every wait (hyper's header timeout misses a connection that sends
        // nothing, and bodies), and refuses heads past the limits before hyper sees them; hyper's
        // own limits sit above the guard's, so it never answers on its own.
        .header_read_timeout(None)
        .max_headers(MAX_HEADERS)
        .max_buf_size(2 * MAX_HEAD)
        // A client that shuts its side down once it has sent its requests still gets every answer:
        // without this, hyper takes the end of the stream, seen while a request is in hand, for a
        // broken connection and drops the answer.
        .half_close(true);
    builder
}

/// Out of file descriptors (EMFILE, ENFILE: the same numbers on Linux and macOS).
fn out_of_descriptors(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(23 | 24))
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    settings: Arc<guard::Settings>,
    connections: Arc<Connections>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = builder();
    let app = settings.app.clone();
    loop {
        tokio::select! {
            () = connections.room() => {}
            _ = stopped.changed() => break,
        }
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors: an idle connection gives its own back, in a moment.
                    // Otherwise, back off instead of spinning.
                    let evicted = out_of_descriptors(&e) && connections.evict_one();
                    tokio::time::sleep(Duration::from_millis(if evicted { 1 } else { 10 })).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        app.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ticket = connections.admit();
        if app.faults.has(Fault::Hang) {
            let stopped = stopped.clone();
            tokio::spawn(async move {
                hang(stream, stopped).await;
                drop(ticket);
            });
            continue;
        }
        if app.faults.has(Fault::Reset) {
            tokio::spawn(async move {
                reset(stream).await;
                drop(ticket);
            });
            continue;
        }
        let service = TowerToHyperService::new(router.clone());
        let io = TokioIo::new(Guarded::new(stream, settings.clone(), ticket.slot()));
        let connection = graceful.watch(builder.serve_connection_with_upgrades(io, service).into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
            drop(ticket);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// Reads whatever comes and never answers, until the mock stops.
async fn hang(mut stream: TcpStream, mut stopped: watch::Receiver<bool>) {
    let mut buf = [0u8; 4096];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { return },
            _ = stopped.changed() => return,
        }
    }
}

/// Waits for the request's headers, then resets the connection (RST, not FIN).
async fn reset(mut stream: TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

#[cfg(test)]
mod log_tests {
    #[test]
    fn the_token_is_masked_by_part_of_the_line() {
        let line = "PUT /v2/demo-project/engines/a%2Fb%22c/actions?x=t -> 200 (1 µs)";
        assert_eq!(super::mask_token(line, "t"), line);
        // A slash inside a token is percent-encoded in the path: the part is the token decoded.
        assert_eq!(super::mask_token(line, "a/b\"c"), "PUT /v2/demo-project/engines/***/actions?x=t -> 200 (1 µs)");
        let line = "PUT /v2/demo-project/engines/a%22b%3Cc/actions -> 200 (1 µs)";
        assert_eq!(super::mask_token(line, "a\"b<c"), "PUT /v2/demo-project/engines/***/actions -> 200 (1 µs)");
        assert_eq!(super::mask_token("GET /v2/p-long-token-12/x", "long-token-12"), "GET /v2/***/x");
    }
}
