//! The hyper client: connection reuse, http and https, a timeout over the whole exchange and a
//! cap on the body.

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioExecutor;

use super::{Exchange, Request, Response, TransportError};

type Direct = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;
type Tunneled = HyperClient<hyper_rustls::HttpsConnector<Tunnel<HttpConnector>>, Full<Bytes>>;

/// How the client sends.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Bound on one exchange, from sending to the last body byte.
    pub timeout: Duration,
    /// Bound on establishing a connection (TCP, and TLS for https).
    pub connect_timeout: Duration,
    /// Largest response body read.
    pub max_body: usize,
    /// How https targets are verified.
    pub tls: super::TlsOptions,
    /// AK/SK signing, when credentials were given.
    pub signer: Option<Signer>,
    /// Headers added to every request that does not carry one of the same name (`run -H`),
    /// before it is signed; the exchange records them as sent.
    pub headers: Vec<(String, String)>,
}

/// Signs requests that carry `marker` as their token: the marker is removed and the request
/// signed instead, as the SDKs do. Requests with any other token (missing, empty, wrong: the
/// credential cases) go unsigned, so they still test what they say.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The credentials.
    pub credentials: crate::sign::Credentials,
    /// Sent as `X-Project-Id`.
    pub project_id: Option<String>,
    /// The header that carries the token, and the marker value standing for "sign this".
    pub token_header: String,
    /// The marker value.
    pub marker: String,
}

impl Signer {
    fn apply(&self, request: &mut Request) {
        if request.header(&self.token_header) != Some(self.marker.as_str()) {
            return;
        }
        request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&self.token_header));
        crate::sign::sign(request, &self.credentials, self.project_id.as_deref(), chrono::Utc::now());
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_body: 1024 * 1024,
            tls: super::TlsOptions::default(),
            signer: None,
            headers: Vec::new(),
        }
    }
}

/// Sends [`Request`]s; cheap to clone, connections are pooled and shared.
///
/// Proxies: a loopback target is always reached directly; any other honours `HTTP_PROXY`,
/// `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (as curl reads them), through a CONNECT tunnel
/// over which TLS runs end to end for https.
#[derive(Clone)]
pub struct Client {
    direct: Direct,
    proxies: Arc<Proxies>,
    config: ClientConfig,
}

/// The proxy rules of the environment, and one pooled client per proxy used.
struct Proxies {
    matcher: Matcher,
    clients: Mutex<HashMap<String, Tunneled>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the system's root certificates (none, if the system has none) and the
    /// proxy settings of the environment.
    pub fn new(config: ClientConfig) -> Client {
        let direct = pooled(https(tcp(&config), &config.tls));
        let proxies = Proxies { matcher: Matcher::from_env(), clients: Mutex::new(HashMap::new()) };
        Client { direct, proxies: Arc::new(proxies), config }
    }

    /// The tunnelled client for `uri`'s proxy, or `None` to go direct.
    fn proxy_for(&self, uri: &http::Uri) -> Option<Tunneled> {
        let intercept = intercept(&self.proxies.matcher, uri)?;
        let key = intercept.uri().to_string();
        let mut clients = self.proxies.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let client =
            clients.entry(key).or_insert_with(|| pooled(https(tunnel(&intercept, &self.config), &self.config.tls)));
        Some(client.clone())
    }

    /// Whether requests are signed (AK/SK) on their way out.
    pub fn signs(&self) -> bool {
        self.config.signer.is_some()
    }

    /// Sends `request` and reads the whole answer, within the timeout and the body cap.
    pub async fn send(&self, mut request: Request) -> Exchange {
        add_headers(&mut request, &self.config.headers);
        if let Some(signer) = &self.config.signer {
            signer.apply(&mut request);
        }
        let started = Instant::now();
        let result = match build(&request) {
            Ok(hyper_request) => self.exchange(hyper_request).await,
            Err(e) => Err(e),
        };
        Exchange { request, result, elapsed: started.elapsed() }
    }

    async fn exchange(&self, request: http::Request<Full<Bytes>>) -> Result<Response, TransportError> {
        let timeout = self.config.timeout;
        let pending = match self.proxy_for(request.uri()) {
            Some(tunneled) => tunneled.request(with_explicit_port(request)),
            None => self.direct.request(request),
        };
        // One timer for both phases (each timer is a registration in tokio's wheel).
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let response = tokio::select! {
            response = pending => response.map_err(|e| classify(&e))?,
            () = &mut deadline => {
                return Err(TransportError::Timeout { phase: "waiting for the response headers", after: timeout });
            }
        };
        let (parts, mut body) = response.into_parts();
        // A body that comes in one frame (most do) is kept as it came, not copied.
        let mut first: Option<Bytes> = None;
        let mut rest = BytesMut::new();
        let read = async {
            let mut len = 0;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| classify_body(&e))?;
                if let Ok(data) = frame.into_data() {
                    len += data.len();
                    if len > self.config.max_body {
                        return Err(TransportError::BodyTooLarge(self.config.max_body));
                    }
                    match first.take() {
                        None if rest.is_empty() => first = Some(data),
                        earlier => {
                            rest.extend_from_slice(&earlier.unwrap_or_default());
                            rest.extend_from_slice(&data);
                        }
                    }
                }
            }
            Ok(())
        };
        tokio::select! {
            read = read => read?,
            () = &mut deadline => {
                return Err(TransportError::Timeout { phase: "reading the response body", after: timeout });
            }
        }
        let body = first.unwrap_or_else(|| rest.freeze());
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        Ok(Response { status: parts.status.as_u16(), headers, body })
    }
}

/// The environment's proxy for `uri`, if it has one; never for a loopback host.
fn intercept(matcher: &Matcher, uri: &http::Uri) -> Option<Intercept> {
    if uri.host().is_none_or(is_loopback) {
        return None;
    }
    matcher.intercept(uri)
}

/// A CONNECT tunnel through `intercept`'s proxy, with its credentials.
fn tunnel(intercept: &Intercept, config: &ClientConfig) -> Tunnel<HttpConnector> {
    let tunnel = Tunnel::new(intercept.uri().clone(), tcp(config));
    match intercept.basic_auth() {
        Some(auth) => tunnel.with_auth(auth.clone()),
        None => tunnel,
    }
}

fn tcp(config: &ClientConfig) -> HttpConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(config.connect_timeout.min(config.timeout)));
    http.set_nodelay(true);
    http
}

fn https<C>(inner: C, tls: &super::TlsOptions) -> hyper_rustls::HttpsConnector<C> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(super::tls::client_config(tls))
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(inner)
}

fn pooled<C>(connector: C) -> HyperClient<C, Full<Bytes>>
where
    C: hyper_util::client::legacy::connect::Connect + Clone,
{
    HyperClient::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector)
}

/// The validation proxy's client (`crate::proxy`): requests whose bodies of type `B` stream
/// through, the case of header names kept as the client wrote them (hyper carries it from the
/// proxy's server side in the request's extensions), http or https with `config`'s TLS and
/// connect timeout. Its one upstream is reached as [`Client`] reaches a target: directly on
/// loopback, otherwise through the environment's proxy for it, if any (a CONNECT tunnel).
pub(crate) enum Forwarding<B> {
    /// Straight to the upstream.
    Direct(HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, B>),
    /// Through a tunnel of the environment's proxy.
    Tunneled(HyperClient<hyper_rustls::HttpsConnector<Tunnel<HttpConnector>>, B>),
}

impl<B> Forwarding<B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// The client for `upstream`; and the environment's proxy it goes through, credentials masked.
    pub(crate) fn new(config: &ClientConfig, upstream: &http::Uri) -> (Forwarding<B>, Option<String>) {
        let builder = || {
            let mut builder = HyperClient::builder(TokioExecutor::new());
            builder.pool_idle_timeout(Duration::from_secs(30)).http1_preserve_header_case(true);
            builder
        };
        let Some(intercept) = intercept(&Matcher::from_env(), upstream) else {
            return (Forwarding::Direct(builder().build(https(tcp(config), &config.tls))), None);
        };
        let via = crate::report::mask_url(&intercept.uri().to_string());
        (Forwarding::Tunneled(builder().build(https(tunnel(&intercept, config), &config.tls))), Some(via))
    }

    /// Sends `request`.
    pub(crate) fn request(&self, request: http::Request<B>) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            Forwarding::Direct(client) => client.request(request),
            Forwarding::Tunneled(client) => client.request(with_explicit_port(request)),
        }
    }
}

/// hyper-util's tunnel asks the proxy for port 443 when the URI has none, even for `http://`:
/// make the scheme's port explicit, keeping the Host header the server would have seen.
fn with_explicit_port<B>(mut request: http::Request<B>) -> http::Request<B> {
    let uri = request.uri().clone();
    let (Some(authority), None) = (uri.authority().cloned(), uri.port_u16()) else {
        return request;
    };
    let port = if uri.scheme_str() == Some("http") { 80 } else { 443 };
    if let Ok(host) = http::HeaderValue::from_str(authority.as_str()) {
        request.headers_mut().entry(http::header::HOST).or_insert(host);
    }
    let mut parts = uri.into_parts();
    parts.authority = format!("{authority}:{port}").parse().ok();
    if let Ok(explicit) = http::Uri::from_parts(parts) {
        *request.uri_mut() = explicit;
    }
    request
}

/// Adds each of `headers` that `request` does not carry (by name, case-insensitive): `run -H`.
pub fn add_headers(request: &mut Request, headers: &[(String, String)]) {
    for (name, value) in headers {
        if request.header(name).is_none() {
            request.headers.push((name.clone(), value.clone()));
        }
    }
}

/// The port `uri` names when it is not one of 1 to 65535: the URL parser reads `:99999` as no
/// port at all (and would send to the scheme's port).
pub fn bad_port(uri: &http::Uri) -> Option<&str> {
    let authority = uri.authority().map(http::uri::Authority::as_str).unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = host_port.rsplit_once(':')?;
    (!port.contains(']') && !host.is_empty() && !port.parse::<u16>().is_ok_and(|p| p > 0)).then_some(port)
}

/// Whether `url`'s host is on loopback (an unparseable URL is not).
pub fn is_loopback_url(url: &str) -> bool {
    url.parse::<http::Uri>().ok().and_then(|u| u.host().map(is_loopback)).unwrap_or(false)
}

/// `localhost`, 127.0.0.0/8 or ::1 (brackets allowed).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn build(request: &Request) -> Result<http::Request<Full<Bytes>>, TransportError> {
    let invalid = |e: &dyn std::fmt::Display| TransportError::InvalidRequest(e.to_string());
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|e| invalid(&e))?;
    let uri: http::Uri = request.url.parse().map_err(|e| invalid(&e))?;
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in &request.headers {
        let name =
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(&format!("header `{name}`: {e}")))?;
        let value =
            http::HeaderValue::from_bytes(value.as_bytes()).map_err(|e| invalid(&format!("header `{name}`: {e}")))?;
        builder = builder.header(name, value);
    }
    builder.body(Full::new(request.body.clone())).map_err(|e| invalid(&e))
}

/// The cause chain as one line, outermost first, without repeats.
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// What went wrong with an exchange hyper's client could not complete, as a [`TransportError`].
pub(crate) fn classify(error: &hyper_util::client::legacy::Error) -> TransportError {
    if error.is_connect() {
        let message = chain(error);
        let lower = message.to_ascii_lowercase();
        return if lower.contains("dns error") || lower.contains("failed to lookup") || lower.contains("name or service")
        {
            TransportError::NameResolution(message)
        } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            TransportError::Tls(message)
        } else if lower.contains("timed out") || lower.contains("timeout") || lower.contains("deadline has elapsed") {
            TransportError::Timeout { phase: "connecting", after: Duration::ZERO }
        } else {
            TransportError::Connect(message)
        };
    }
    match error.source().and_then(|s| s.downcast_ref::<hyper::Error>()) {
        Some(e) => classify_hyper(e, &chain(error)),
        None => TransportError::Closed(chain(error)),
    }
}

/// [`classify`] for an error while reading a body.
pub(crate) fn classify_body(error: &hyper::Error) -> TransportError {
    classify_hyper(error, &chain(error))
}

fn classify_hyper(error: &hyper::Error, message: &str) -> TransportError {
    if error.is_parse() || error.is_parse_status() {
        TransportError::Protocol(message.to_owned())
    } else {
        TransportError::Closed(message.to_owned())
    }
}
