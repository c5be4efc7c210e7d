//! The proxy's answer about itself, so that a run aimed at it knows where its requests end up.
//!
//! The real-endpoint guard of `run` holds back the side-effecting cases from a target that is not
//! on loopback. A proxy listens on loopback whatever its upstream is, so a run aimed at it would
//! send them to a real endpoint unasked. The proxy therefore answers `GET` [`INFO_PATH`] itself
//! (it is neither forwarded nor recorded) with where it forwards and whether that is on loopback,
//! and `run` asks before it plans (`cli::target::probe`). A proxy whose upstream is on loopback
//! asks that upstream in turn, so a chain of proxies ending at a real endpoint is seen as such;
//! a chain longer than [`MAX_HOPS`] (a loop, say) is taken to be remote.

use serde_json::{Value, json};

use crate::client::{Client, Request};

/// Where a validation proxy answers about itself.
pub const INFO_PATH: &str = "/.well-known/cse-contract-proxy";

/// The header counting the proxies a question about the upstream has gone through.
pub(crate) const HOPS_HEADER: &str = "x-cse-contract-proxy-hops";

/// Proxies asked in turn before the answer is "remote".
pub(crate) const MAX_HOPS: u32 = 8;

/// What a validation proxy says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInfo {
    /// Where it forwards, credentials in the URL masked.
    pub upstream: String,
    /// Whether what it forwards reaches an endpoint that is not on loopback: its upstream's host,
    /// or further on along a chain of proxies.
    pub remote: bool,
}

impl ProxyInfo {
    /// The body of the proxy's answer.
    pub(crate) fn to_json(&self) -> String {
        json!({
            "cse_contract_proxy": env!("CARGO_PKG_VERSION"),
            "upstream": self.upstream,
            "remote": self.remote,
        })
        .to_string()
    }

    /// The answer of a validation proxy, or `None` for any other body.
    pub fn parse(body: &[u8]) -> Option<ProxyInfo> {
        let value: Value = serde_json::from_slice(body).ok()?;
        value.get("cse_contract_proxy")?.as_str()?;
        Some(ProxyInfo {
            upstream: value.get("upstream")?.as_str()?.to_owned(),
            remote: value.get("remote")?.as_bool()?,
        })
    }
}

/// What a server said when asked whether it is a validation proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// It is, and says this.
    Proxy(ProxyInfo),
    /// It answered otherwise (or refused the connection): it is not.
    NotProxy,
    /// No answer in time: it may be a busy proxy.
    NoAnswer,
}

/// Asks the server at `base` (its origin: scheme, host and port) whether it is a validation proxy,
/// having come through `hops` proxies already. `client`'s timeout bounds the wait.
pub async fn ask(client: &Client, base: &str, hops: u32) -> Asked {
    let Some((scheme, authority)) = base
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| Some((uri.scheme_str()?.to_owned(), uri.authority()?.as_str().to_owned())))
    else {
        return Asked::NotProxy;
    };
    let request = Request {
        method: "GET".to_owned(),
        url: format!("{scheme}://{authority}{INFO_PATH}"),
        headers: vec![(HOPS_HEADER.to_owned(), hops.to_string())],
        body: bytes::Bytes::new(),
    };
    match client.send(request).await.result {
        Ok(response) if response.status == 200 => {
            ProxyInfo::parse(&response.body).map_or(Asked::NotProxy, Asked::Proxy)
        }
        Err(crate::client::TransportError::Timeout { .. }) => Asked::NoAnswer,
        Ok(_) | Err(_) => Asked::NotProxy,
    }
}

/// What this proxy says, forwarding to `upstream`, asked by a request that came through `hops`
/// proxies: remote when the upstream is not on loopback, or says it is, or does not answer in time
/// (a busy proxy, maybe: not knowing is taken as remote), or the chain is too long.
pub(crate) async fn about(upstream: &super::Upstream, client: &Client, hops: u32) -> ProxyInfo {
    let url = upstream.as_str();
    let remote = !crate::client::is_loopback_url(url)
        || hops >= MAX_HOPS
        || match ask(client, url, hops + 1).await {
            Asked::Proxy(behind) => behind.remote,
            Asked::NotProxy => false,
            Asked::NoAnswer => true,
        };
    ProxyInfo { upstream: crate::report::mask_url(url), remote }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_proxys_answer_parses() {
        let info = ProxyInfo { upstream: "https://***@gw".to_owned(), remote: true };
        assert_eq!(ProxyInfo::parse(info.to_json().as_bytes()), Some(info));
        for other in [&br#"{"upstream":"x","remote":true}"#[..], b"{\"error_code\":\"x\"}", b"<html>", b""] {
            assert_eq!(ProxyInfo::parse(other), None);
        }
    }
}
