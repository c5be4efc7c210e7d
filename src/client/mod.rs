//! Sending requests: owned [`Request`] / [`Response`] / [`Exchange`] types and a [`Client`] that
//! sends with hyper and returns transport problems as values ([`TransportError`]), never panics.
//!
//! hyper's client rather than reqwest: reqwest inserts `Accept: */*` into any request without an
//! Accept header, and "Accept missing" is one of the contract's cases.

pub mod coding;
mod send;
mod tls;
mod types;

pub use send::{Client, ClientConfig, Signer, add_headers, bad_port, is_loopback, is_loopback_url};
pub(crate) use send::{Forwarding, classify as transport_error, classify_body as body_error};
pub use tls::TlsOptions;
pub use types::{Exchange, Request, Response, TransportError};
