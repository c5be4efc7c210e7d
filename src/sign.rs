//! AK/SK request signing as the Huawei Cloud SDKs do it (`SDK-HMAC-SHA256`, schemas/FACTS.md §5.3):
//! the harness signs with it, the mock verifies with it. Sharing it is safe only because it is
//! checked twice from outside: a unit test reproduces the SDK's worked example byte for byte,
//! and the official Python SDK is run against the mock in CI (tests/interop).
//!
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
//! SignedHeaders \n hex(sha256(body)); StringToSign = ALGORITHM \n X-Sdk-Date \n
//! hex(sha256(CanonicalRequest)); Signature = hex(HMAC-SHA256(SK, StringToSign)).

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::client::Request;

/// The algorithm name in StringToSign and Authorization.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The date header.
pub const DATE_HEADER: &str = "X-Sdk-Date";
/// How far the date may be from the verifier's clock.
pub const CLOCK_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// What Python's `quote(s, safe='~')` leaves alone: letters, digits, `_.-~`.
const PY_QUOTE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');

/// An access key and its secret (and, for temporary credentials, a security token).
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub ak: String,
    /// Secret access key.
    pub sk: String,
    /// Security token of temporary credentials.
    pub security_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("ak", &self.ak).finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

fn quote(text: &str) -> String {
    utf8_percent_encode(text, PY_QUOTE).to_string()
}

/// The path decoded, each segment re-encoded, with a trailing `/`.
fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut uri = decoded.split('/').map(quote).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Query parameters decoded, re-encoded and sorted.
fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<String> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            format!("{}={}", quote(&decode(k)), quote(&decode(v)))
        })
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// The canonical request over `signed` (lower-case names, sorted), with values from `headers`.
fn canonical_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(String, String)],
    signed: &[String],
    body: &[u8],
) -> String {
    let mut canonical_headers = String::new();
    for name in signed {
        let value = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map_or("", |(_, v)| v.as_str());
        let _ = writeln!(canonical_headers, "{name}:{}", value.trim());
    }
    format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{}",
        canonical_uri(path),
        canonical_query(query),
        signed.join(";"),
        sha256_hex(body)
    )
}

/// The signature of a canonical request made at `date` (`%Y%m%dT%H%M%SZ`).
fn signature(sk: &str, date: &str, canonical: &str) -> String {
    let string_to_sign = format!("{ALGORITHM}\n{date}\n{}", sha256_hex(canonical.as_bytes()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, sk.as_bytes());
    hex(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref())
}

/// The names a signer signs: every header present, lower-cased, except those with `_`.
fn signed_names(headers: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> =
        headers.iter().map(|(n, _)| n.to_ascii_lowercase()).filter(|n| !n.contains('_')).collect();
    names.sort();
    names.dedup();
    names
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value));
}

/// Signs `request` as the SDK does at `now`: adds `X-Project-Id`, `X-Security-Token` (if any),
/// `X-Sdk-Date` and `Host`, then `Authorization`.
pub fn sign(request: &mut Request, credentials: &Credentials, project_id: Option<&str>, now: DateTime<Utc>) {
    let Ok(uri) = request.url.parse::<http::Uri>() else { return };
    if let Some(project) = project_id {
        set(&mut request.headers, "X-Project-Id", project.to_owned());
    }
    if let Some(token) = &credentials.security_token {
        set(&mut request.headers, "X-Security-Token", token.clone());
    }
    let date = now.format("%Y%m%dT%H%M%SZ").to_string();
    set(&mut request.headers, DATE_HEADER, date.clone());
    if let Some(authority) = uri.authority() {
        set(&mut request.headers, "Host", authority.to_string());
    }
    let signed = signed_names(&request.headers);
    let canonical =
        canonical_request(&request.method, uri.path(), uri.query(), &request.headers, &signed, &request.body);
    let authorization = format!(
        "{ALGORITHM} Access={}, SignedHeaders={}, Signature={}",
        credentials.ak,
        signed.join(";"),
        signature(&credentials.sk, &date, &canonical)
    );
    set(&mut request.headers, "Authorization", authorization);
}

/// What the verifier holds of a request.
#[derive(Debug)]
pub struct Signed<'a> {
    /// Method.
    pub method: &'a str,
    /// Path as it came on the wire.
    pub path: &'a str,
    /// Query string, if any.
    pub query: Option<&'a str>,
    /// Every header.
    pub headers: &'a [(String, String)],
    /// Body bytes.
    pub body: &'a [u8],
}

/// Verifies an `Authorization` signed with `credentials` at most [`CLOCK_WINDOW`] from `now`;
/// the error is the gateway's reason (schemas/FACTS.md §3.5).
pub fn verify(request: &Signed<'_>, credentials: &Credentials, now: DateTime<Utc>) -> Result<(), &'static str> {
    let header =
        |name: &str| request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let authorization = header("Authorization").ok_or("authorization not found")?;
    let rest = authorization.strip_prefix(ALGORITHM).ok_or("unsupported signing algorithm")?;
    let field = |key: &str| {
        rest.split(',').map(str::trim).find_map(|part| part.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    };
    let (Some(access), Some(names), Some(given)) = (field("Access"), field("SignedHeaders"), field("Signature")) else {
        return Err("verify aksk signature fail");
    };
    if access != credentials.ak {
        return Err("Get secretKey failed,ak:******,err:ak not exist");
    }
    let date = header(DATE_HEADER).ok_or("x-sdk-date not found")?;
    let at = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").map_err(|_| "invalid x-sdk-date")?.and_utc();
    if (now - at).abs() > CLOCK_WINDOW {
        return Err("the request time is more than 15 minutes away from the server time");
    }
    let signed: Vec<String> = names.split(';').map(str::to_owned).collect();
    let canonical =
        canonical_request(request.method, request.path, request.query, request.headers, &signed, request.body);
    let expected = signature(&credentials.sk, date, &canonical);
    let same = expected.len() == given.len()
        && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same { Ok(()) } else { Err("verify aksk signature fail") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_headers() -> Vec<(String, String)> {
        [
            ("Content-Type", "application/json"),
            ("Host", "127.0.0.1:18080"),
            ("User-Agent", "huaweicloud-usdk-python/3.0; os/Linux##1_SMP_PREEMPT_DYNAMIC_@0#x86_64 python/3.11.7 impl/CPython; app/c0495488-6f23-4f49-8ee9-8613120801f8"),
            ("X-Enterprise-Project-ID", "0"),
            ("X-Project-Id", "0123456789abcdef0123456789abcdef"),
            ("X-Sdk-Date", "20261129T114150Z"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .to_vec()
    }

    const PATH: &str =
        "/v2/0123456789abcdef0123456789abcdef/enginemgr/engines/4a1bc63d-4719-4bd3-b1ad-5ee590b05e87/actions";
    const SK: &str = "FAKESKfakeskFAKESKfakeskFAKESK0000000000";

    /// schemas/FACTS.md §5.4: the request the Python SDK sent, and the signature it computed.
    #[test]
    fn reproduces_the_sdk_worked_example() {
        let headers = example_headers();
        let signed = signed_names(&headers);
        assert_eq!(signed.join(";"), "content-type;host;user-agent;x-enterprise-project-id;x-project-id;x-sdk-date");
        let canonical = canonical_request("PUT", PATH, None, &headers, &signed, br#"{"action": "Retry"}"#);
        assert!(canonical.ends_with("\n4d1aeaa5891593015f75790eaa6802be79b164c85c03064ac087402eeaf9060c"));
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "6c5ce4e61f45f74f74a48d54114c84183abd7782fccb6959ccea46add54ec710"
        );
        assert_eq!(
            signature(SK, "20261129T114150Z", &canonical),
            "d0a6f000c00f04101d684635ed752edcef1c946f0bb154feb4b9a0de1fe764c3"
        );
    }

    #[test]
    fn verify_accepts_the_example_and_rejects_tampering_and_skew() {
        let mut headers = example_headers();
        headers.push((
            "Authorization".into(),
            "SDK-HMAC-SHA256 Access=FAKEAK0000000000TEST, SignedHeaders=content-type;host;user-agent;x-enterprise-project-id;x-project-id;x-sdk-date, Signature=d0a6f000c00f04101d684635ed752edcef1c946f0bb154feb4b9a0de1fe764c3".into(),
        ));
        let credentials = Credentials { ak: "FAKEAK0000000000TEST".into(), sk: SK.into(), security_token: None };
        let at = NaiveDateTime::parse_from_str("20261129T115000Z", "%Y%m%dT%H%M%SZ").unwrap().and_utc();
        let request =
            Signed { method: "PUT", path: PATH, query: None, headers: &headers, body: br#"{"action": "Retry"}"# };
        assert_eq!(verify(&request, &credentials, at), Ok(()));
        let tampered = Signed { body: br#"{"action": "Retry!"}"#, ..request };
        assert_eq!(verify(&tampered, &credentials, at), Err("verify aksk signature fail"));
        let later = at + chrono::TimeDelta::minutes(30);
        assert!(verify(&request, &credentials, later).unwrap_err().contains("15 minutes"));
        let wrong_sk = Credentials { sk: "other".into(), ..credentials };
        assert_eq!(verify(&request, &wrong_sk, at), Err("verify aksk signature fail"));
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let credentials = Credentials { ak: "AK".into(), sk: "SK".into(), security_token: Some("ST".into()) };
        let mut request = Request {
            method: "PUT".into(),
            url: "http://127.0.0.1:8080/v2/p/enginemgr/engines/e%2Fx/actions".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: bytes::Bytes::from_static(b"{}"),
        };
        let now = Utc::now();
        sign(&mut request, &credentials, Some("p"), now);
        assert!(request.header("Authorization").unwrap().starts_with("SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token, Signature="));
        let path = "/v2/p/enginemgr/engines/e%2Fx/actions";
        let signed = Signed { method: "PUT", path, query: None, headers: &request.headers, body: &request.body };
        assert_eq!(verify(&signed, &credentials, now), Ok(()));
    }
}
