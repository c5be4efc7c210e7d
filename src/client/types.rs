//! The owned data of one exchange.

use std::time::Duration;

use bytes::Bytes;

/// A request exactly as it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers in sending order; nothing else is added but Host and Content-Length.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Bytes,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers in received order; values that are not UTF-8 are decoded lossily.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Bytes,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why an exchange did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The request could not even be built (an invalid header name or value, a bad URL).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No connection: refused or unreachable.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The target's host name did not resolve.
    #[error("name resolution failed: {0}")]
    NameResolution(String),
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS failed: {0}")]
    Tls(String),
    /// No complete answer within the timeout.
    #[error("timed out {phase}{}", if after.is_zero() { String::new() } else { format!(" (after {after:?})") })]
    Timeout {
        /// What it was waiting for.
        phase: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The server closed or reset the connection before the answer was complete.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The answer was not valid HTTP.
    #[error("malformed HTTP response: {0}")]
    Protocol(String),
    /// Still answered 429 after every retry: throttling, not a contract failure.
    #[error("throttled: still 429 after {0} attempts")]
    Throttled(u32),
    /// The body was larger than the cap; nothing past it was read.
    #[error("body exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// Nothing was sent: the case's request could not be built (a generator drew no value it
    /// could use); why.
    #[error("not sent: the case could not be built: {0}")]
    NotBuilt(String),
}

/// A request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What was sent.
    pub request: Request,
    /// The answer, or why there was none.
    pub result: Result<Response, TransportError>,
    /// From sending to the last body byte (or the failure).
    pub elapsed: Duration,
}
