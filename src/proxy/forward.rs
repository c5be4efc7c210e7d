//! Forwarding: the proxy's server, one hyper connection per client (HTTP/1.1, or HTTP/2 with
//! prior knowledge), each request sent on to the upstream with its body streaming through a
//! [`Tee`], and the answer streamed back the same way. Only what RFC 9110 (section 7.6.1) says a
//! proxy must not forward is left out: the hop-by-hop fields (Connection and the fields it
//! names, Keep-Alive, Proxy-Connection, Transfer-Encoding, TE, Trailer, Upgrade,
//! Proxy-Authenticate, Proxy-Authorization); Host becomes the upstream's, unless an AK/SK
//! signature covers it (rewriting it would break the signature). Header names keep their case.
//!
//! Once both bodies ended, the exchange is judged on a task of its own and recorded; a permit
//! held from the request's arrival to its recording bounds the exchanges in flight, so judging
//! that falls behind slows the clients down instead of piling up.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};

use super::conn::Busy;
use super::judge::{self, Answer, Seen};
use super::record::Recording;
use super::route::Routes;
use super::tee::{BoxError, Capture, End, Progress, Tee};
use super::{Judging, Upstream};
use crate::client::{Request, TransportError};
use crate::contract::Contract;

/// The body of the proxy's answers: the upstream's, streamed, or its own gateway error.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

type Forwarder = crate::client::Forwarding<Tee<Incoming>>;

/// What every exchange shares.
pub(crate) struct Shared {
    pub(crate) contract: Arc<Contract>,
    pub(crate) routes: Routes,
    pub(crate) upstream: Upstream,
    pub(crate) client: Forwarder,
    /// Asks the upstream, when it is on loopback, whether it is a proxy too ([`super::info`]).
    pub(crate) asker: crate::client::Client,
    /// Bound on waiting for the upstream's answer, and between two parts of its body.
    pub(crate) timeout: Duration,
    pub(crate) judging: Judging,
    /// Exchanges from their arrival to their recording.
    pub(crate) in_flight: Arc<Semaphore>,
    pub(crate) next: AtomicUsize,
    /// Set once the grace after a stop ran out: the exchanges still open are being cut short.
    pub(crate) stopping: std::sync::atomic::AtomicBool,
    /// Told when `stopping` is set.
    pub(crate) halt: Notify,
    pub(crate) recording: Arc<Recording>,
}

/// The answer as the judge waits for it: the upstream's body still to come.
type Pending = Answer<(oneshot::Receiver<Capture>, Arc<Progress>)>;

/// Forwards one request and answers the client; the exchange is judged once it is over.
pub(crate) async fn exchange(
    shared: Arc<Shared>,
    peer: SocketAddr,
    busy: Busy,
    request: http::Request<Incoming>,
) -> Result<http::Response<ProxyBody>, Infallible> {
    if matches!(*request.method(), http::Method::GET | http::Method::HEAD) && request.uri().path() == super::INFO_PATH {
        return Ok(info_answer(&shared, request.headers()).await);
    }
    let Ok(permit) = shared.in_flight.clone().acquire_owned().await else {
        return Ok(gateway_answer(503, "the proxy is shutting down"));
    };
    let permit = Held { _permit: permit, _busy: busy };
    let number = shared.next.fetch_add(1, Ordering::Relaxed) + 1;
    let (mut parts, body) = request.into_parts();
    let route = shared.routes.find(parts.uri.path());
    let uri = shared.upstream.uri_for(&parts.uri);
    let keep_host = signature_covers_host(&parts.headers);
    let trailers = accepts_trailers(&parts.headers);
    remove_hop_by_hop(&mut parts.headers, keep_host);
    if trailers {
        // TE is hop-by-hop, but the proxy passes trailers on: the upstream may send them.
        parts.headers.append(header::TE, HeaderValue::from_static("trailers"));
    }
    if parts.version == http::Version::HTTP_2 {
        join_cookies(&mut parts.headers);
    }
    let request = Request {
        method: parts.method.as_str().to_owned(),
        // Credentials in the upstream's URL are not the client's to see, nor the reports'.
        url: crate::report::mask_url(&uri.as_ref().map_or_else(|_| parts.uri.to_string(), ToString::to_string)),
        headers: pairs(&parts.headers),
        body: Bytes::new(),
    };
    // Learnt as it comes: an exchange recorded before this one ends may echo it.
    shared.recording.learn_request(&request);
    let seen = Seen { number, peer, route, request, started: Instant::now() };
    // A client that pauses its body longer than the timeout fails it, as the upstream's would.
    let moved = Progress::new();
    let (body, sent) = Tee::new(body, shared.judging.max_body, Some(shared.timeout));
    let body = body.tell(moved.clone());
    // hyper drops this future when the client goes away before the answer's head came; the
    // exchange is then still recorded, by the guard.
    let mut unanswered = Unanswered(Some((shared.clone(), seen, sent, permit)));
    let forwarded = match uri {
        // A reverse proxy has no tunnels to offer: the client took it for its HTTP proxy.
        _ if parts.method == http::Method::CONNECT => Err(refuse(
            501,
            "CONNECT is not forwarded: cse-contract proxy is a reverse proxy; give the client its URL as the \
             endpoint, not as an HTTP proxy"
                .to_owned(),
        )),
        Ok(uri) => {
            parts.uri = uri;
            parts.version = http::Version::HTTP_11;
            forward(&shared, http::Request::from_parts(parts, body), &moved).await.map_err(|(error, status)| {
                let answer = gateway_answer(status, &error.to_string());
                (answer, Answer::Gateway { error, status })
            })
        }
        Err(why) => Err(refuse(400, why)),
    };
    let (answer, pending) = match forwarded {
        Ok(response) => pass_back(response, &shared),
        Err(failed) => failed,
    };
    if let Some((shared, seen, sent, permit)) = unanswered.0.take() {
        tokio::spawn(settle(shared, seen, sent, pending, permit));
    }
    Ok(answer)
}

/// The proxy's own answer to a request it does not forward, and what the judge is told.
fn refuse(status: u16, why: String) -> (http::Response<ProxyBody>, Pending) {
    (gateway_answer(status, &why), Answer::Refused { status, why })
}

/// An exchange forwarded and not yet answered: if it is dropped so (the client closed its
/// connection first, or the proxy's stop closed it), the exchange is recorded as abandoned.
struct Unanswered(Option<(Arc<Shared>, Seen, oneshot::Receiver<Capture>, Held)>);

/// What an exchange holds from its arrival to its recording: its place among those in flight,
/// and its connection kept busy.
pub(crate) struct Held {
    _permit: OwnedSemaphorePermit,
    _busy: Busy,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        let Some((shared, seen, sent, permit)) = self.0.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let stopped = shared.stopping.load(Ordering::SeqCst);
            runtime.spawn(settle(shared, seen, sent, Answer::Abandoned { stopped }, permit));
        }
    }
}

/// The proxy's answer about itself: where it forwards, and whether that is remote.
async fn info_answer(shared: &Shared, headers: &HeaderMap) -> http::Response<ProxyBody> {
    let hops = headers.get(super::info::HOPS_HEADER).and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
    let info = super::info::about(&shared.upstream, &shared.asker, hops).await;
    let body = Full::new(Bytes::from(info.to_json())).map_err(|never| match never {}).boxed_unsync();
    let mut answer = http::Response::new(body);
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

/// Sends `request` to the upstream; its answer's head, or why there is none and the status the
/// client gets instead: 502, or 504 when the request's body has not `moved` for the timeout, yet
/// no answer came (it ended and the upstream is silent, or the upstream stopped reading it). A
/// slow upload is the client's time, not the upstream's.
async fn forward(
    shared: &Shared,
    request: http::Request<Tee<Incoming>>,
    moved: &Progress,
) -> Result<http::Response<Incoming>, (TransportError, u16)> {
    let timeout = shared.timeout;
    let deadline = moved.stalled(timeout);
    tokio::select! {
        answer = shared.client.request(request) => answer.map_err(|e| (crate::client::transport_error(&e), 502)),
        () = deadline => Err((TransportError::Timeout { phase: "waiting for the upstream's answer", after: timeout }, 504)),
    }
}

/// The upstream's answer as the client gets it, and what the judge waits for.
fn pass_back(response: http::Response<Incoming>, shared: &Shared) -> (http::Response<ProxyBody>, Pending) {
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers, true);
    parts.version = http::Version::HTTP_11;
    shared.recording.learn_answer(&parts.headers);
    let moved = Progress::new();
    let (body, capture) = Tee::new(body, shared.judging.max_body, Some(shared.timeout));
    let body = body.tell(moved.clone());
    let pending =
        Answer::Upstream { status: parts.status.as_u16(), headers: pairs(&parts.headers), body: (capture, moved) };
    (http::Response::from_parts(parts, body.boxed_unsync()), pending)
}

/// Waits for both bodies to end, judges the exchange, records it, and frees its permit.
async fn settle(shared: Arc<Shared>, seen: Seen, sent: oneshot::Receiver<Capture>, pending: Pending, permit: Held) {
    // A request body the upstream's connection still holds (the upstream hangs) ends when that
    // connection does; the exchange is judged without waiting that long.
    let dropped = || Capture { body: Some(Bytes::new()), len: 0, end: End::Dropped, at: Instant::now() };
    let sent = tokio::select! {
        sent = tokio::time::timeout(shared.timeout, sent) => sent.ok().and_then(Result::ok).unwrap_or_else(dropped),
        () = halted(&shared) => dropped(),
    };
    let answer = match pending {
        Answer::Gateway { error, status } => Answer::Gateway { error, status },
        Answer::Abandoned { stopped } => Answer::Abandoned { stopped },
        Answer::Refused { status, why } => Answer::Refused { status, why },
        Answer::Upstream { status, headers, body: (capture, moved) } => {
            // A client that stops taking the answer must not hold its place among those in
            // flight: once the answer has not moved for the timeout, the exchange is recorded as
            // it stands. (An upstream that stops sending fails the body by then.)
            let body = tokio::select! {
                capture = capture => capture.unwrap_or_else(|_| dropped()),
                () = moved.stalled(shared.timeout) => {
                    Capture { body: None, len: 0, end: End::Untaken(shared.timeout), at: Instant::now() }
                }
            };
            Answer::Upstream { status, headers, body }
        }
    };
    let seq = seen.number - 1;
    let outcome = judge::outcome(&shared.contract, &shared.judging, seen, &sent, answer);
    shared.recording.record(seq, outcome).await;
    drop(permit);
}

/// Resolves once the proxy's stop cuts the exchanges still open short.
async fn halted(shared: &Shared) {
    let halt = shared.halt.notified();
    tokio::pin!(halt);
    halt.as_mut().enable();
    if !shared.stopping.load(Ordering::SeqCst) {
        halt.await;
    }
}

/// The proxy's own answer, as a gateway gives it: `{"error_code":"cse-contract.proxy.502",
/// "error_msg":…}`.
pub(crate) fn gateway_answer(status: u16, message: &str) -> http::Response<ProxyBody> {
    let body = serde_json::json!({ "error_code": super::error_code(status), "error_msg": message });
    let body = Full::new(Bytes::from(body.to_string())).map_err(|never| match never {}).boxed_unsync();
    let mut answer = http::Response::new(body);
    *answer.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

/// The fields a proxy does not forward (RFC 9110 section 7.6.1), besides those Connection names.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Removes the hop-by-hop fields from `headers`, and Host unless `keep_host`, keeping the order of
/// the others.
fn remove_hop_by_hop(headers: &mut HeaderMap, keep_host: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    let dropped = |name: &HeaderName| {
        HOP_BY_HOP.contains(&name.as_str()) || named.contains(name) || (!keep_host && name == header::HOST)
    };
    if headers.keys().any(dropped) {
        rewrite(headers, |name, value| (!dropped(name)).then(|| value.clone()));
    }
}

/// `headers` with each field `field` keeps, as it gives it back, in their order
/// (`HeaderMap::remove` would move the last field into the place it frees).
fn rewrite(headers: &mut HeaderMap, mut field: impl FnMut(&HeaderName, &HeaderValue) -> Option<HeaderValue>) {
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        if let Some(value) = field(name, value) {
            kept.append(name.clone(), value);
        }
    }
    *headers = kept;
}

/// Whether the client's TE accepts trailers.
fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("trailers")))
}

/// HTTP/2 lets a client split Cookie into several fields; HTTP/1.1 wants one, the parts joined
/// with `; ` (RFC 9113 section 8.2.3). It takes the place of the first.
fn join_cookies(headers: &mut HeaderMap) {
    if headers.get_all(header::COOKIE).iter().count() < 2 {
        return;
    }
    let parts: Vec<&[u8]> = headers.get_all(header::COOKIE).iter().map(HeaderValue::as_bytes).collect();
    let Ok(joined) = HeaderValue::from_bytes(&parts.join(&b"; "[..])) else { return };
    let mut joined = Some(joined);
    rewrite(headers, |name, value| if name == header::COOKIE { joined.take() } else { Some(value.clone()) });
}

/// Whether an AK/SK signature in `headers` covers Host (the Huawei SDKs sign it).
fn signature_covers_host(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    super::signature(value).is_some()
        && value
            .split(',')
            .filter_map(|part| part.trim().strip_prefix("SignedHeaders="))
            .any(|names| names.split(';').any(|n| n.eq_ignore_ascii_case("host")))
}

/// Header fields as the checks read them: names lower-case, values not UTF-8 decoded lossily.
fn pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_not_forwarded() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, X-Hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic x"),
            ("x-auth-token", "t"),
            ("host", "proxy:8081"),
            ("content-length", "3"),
            ("x-hop", "2"),
            ("accept", "*/*"),
        ] {
            headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        let mut with_host = headers.clone();
        remove_hop_by_hop(&mut headers, false);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-auth-token", "content-length", "accept"]);
        remove_hop_by_hop(&mut with_host, true);
        let left: Vec<&str> = with_host.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-auth-token", "host", "content-length", "accept"]);
    }

    #[test]
    fn http2_cookie_crumbs_are_joined_in_the_first_ones_place_and_trailers_are_asked_for() {
        let mut headers = HeaderMap::new();
        for (name, value) in [("cookie", "a=1"), ("accept", "*/*"), ("cookie", "b=2"), ("te", "gzip, trailers;q=1")] {
            headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        assert!(accepts_trailers(&headers));
        join_cookies(&mut headers);
        let fields: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        assert_eq!(fields, [("cookie", &b"a=1; b=2"[..]), ("accept", b"*/*"), ("te", b"gzip, trailers;q=1")]);
        headers.insert(header::TE, HeaderValue::from_static("gzip"));
        assert!(!accepts_trailers(&headers));
    }

    #[test]
    fn host_is_kept_only_under_a_signature_that_covers_it() {
        let mut headers = HeaderMap::new();
        let signed = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-sdk-date, Signature=ab12";
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(signed));
        assert!(signature_covers_host(&headers));
        let unsigned_host = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;x-sdk-date, Signature=ab12";
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(unsigned_host));
        assert!(!signature_covers_host(&headers));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer host"));
        assert!(!signature_covers_host(&headers));
    }
}
