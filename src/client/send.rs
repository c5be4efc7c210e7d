//! The hyper client: connection reuse, http and https, a timeout over the whole exchange and a
//! cap on the body.

use std::error::Error as _;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{Exchange, Request, Response, TransportError};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// How the client sends.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Bound on one exchange, from sending to the last body byte.
    pub timeout: Duration,
    /// Largest response body read.
    pub max_body: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
        }
    }
}

/// Sends [`Request`]s; cheap to clone, connections are pooled and shared.
#[derive(Clone)]
pub struct Client {
    inner: HyperClient<Connector, Full<Bytes>>,
    config: ClientConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the system's root certificates (none, if the system has none).
    pub fn new(config: ClientConfig) -> Client {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.timeout));
        http.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_native_roots() {
            Ok(b) => b,
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(rustls_config_without_roots()),
        };
        let connector = builder
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Client { inner, config }
    }

    /// Sends `request` and reads the whole answer, within the timeout and the body cap.
    pub async fn send(&self, request: Request) -> Exchange {
        let started = Instant::now();
        let result = match build(&request) {
            Ok(hyper_request) => self.exchange(hyper_request, started).await,
            Err(e) => Err(e),
        };
        Exchange {
            request,
            result,
            elapsed: started.elapsed(),
        }
    }

    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        started: Instant,
    ) -> Result<Response, TransportError> {
        let timeout = self.config.timeout;
        let response = tokio::time::timeout(timeout, self.inner.request(request))
            .await
            .map_err(|_| TransportError::Timeout {
                phase: "waiting for the response headers",
                after: timeout,
            })?
            .map_err(|e| classify(&e))?;
        let (parts, mut body) = response.into_parts();
        let mut buf = BytesMut::new();
        let remaining = timeout.saturating_sub(started.elapsed());
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| classify_body(&e))?;
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > self.config.max_body {
                        return Err(TransportError::BodyTooLarge(self.config.max_body));
                    }
                    buf.extend_from_slice(&data);
                }
            }
            Ok(())
        };
        tokio::time::timeout(remaining, read)
            .await
            .map_err(|_| TransportError::Timeout {
                phase: "reading the response body",
                after: timeout,
            })??;
        let headers = parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(Response {
            status: parts.status.as_u16(),
            headers,
            body: buf.freeze(),
        })
    }
}

fn rustls_config_without_roots() -> rustls::ClientConfig {
    rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

fn build(request: &Request) -> Result<http::Request<Full<Bytes>>, TransportError> {
    let invalid = |e: &dyn std::fmt::Display| TransportError::InvalidRequest(e.to_string());
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|e| invalid(&e))?;
    let uri: http::Uri = request.url.parse().map_err(|e| invalid(&e))?;
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in &request.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| invalid(&format!("header `{name}`: {e}")))?;
        let value = http::HeaderValue::from_bytes(value.as_bytes())
            .map_err(|e| invalid(&format!("header `{name}`: {e}")))?;
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(request.body.clone()))
        .map_err(|e| invalid(&e))
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

fn classify(error: &hyper_util::client::legacy::Error) -> TransportError {
    if error.is_connect() {
        return TransportError::Connect(chain(error));
    }
    match error
        .source()
        .and_then(|s| s.downcast_ref::<hyper::Error>())
    {
        Some(e) => classify_hyper(e, &chain(error)),
        None => TransportError::Closed(chain(error)),
    }
}

fn classify_body(error: &hyper::Error) -> TransportError {
    classify_hyper(error, &chain(error))
}

fn classify_hyper(error: &hyper::Error, message: &str) -> TransportError {
    if error.is_parse() || error.is_parse_status() {
        TransportError::Protocol(message.to_owned())
    } else {
        TransportError::Closed(message.to_owned())
    }
}
