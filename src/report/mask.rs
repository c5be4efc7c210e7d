//! Secret masking: every occurrence of a secret, raw, JSON-escaped or percent-encoded (as a path
//! segment carries it), becomes `***`.
//!
//! Masking works on the data, before any renderer sees it ([`Secrets::mask_outcome`]): the
//! values of an outcome (its request's URL, headers and body, its response's headers and body,
//! every check message and note) are masked, and the renderers then escape and cut text that no
//! longer holds a secret. A find-and-replace over rendered JSON or XML would edit keys, tags and
//! syntax when a secret is short (`t`), and would miss a secret that escaping or cutting had
//! already changed.

use bytes::Bytes;

use crate::check::Verdict;
use crate::client::Request;
use crate::outcome::CaseOutcome;

/// The secrets of a run.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

/// The secrets of the running process, for the panic hook.
static PROCESS_SECRETS: std::sync::Mutex<Secrets> = std::sync::Mutex::new(Secrets { values: Vec::new() });

/// Adds `secret` to those the panic hook masks.
pub fn register(secret: &str) {
    PROCESS_SECRETS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(secret);
}

/// Replaces the panic hook with one that prints the usual message with every registered secret
/// masked: a panic message is output like any other.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let text =
            PROCESS_SECRETS.lock().map_or_else(|_| "(secrets unavailable)".to_owned(), |s| s.mask(&info.to_string()));
        let thread = std::thread::current();
        eprintln!("thread '{}' {text}", thread.name().unwrap_or("<unnamed>"));
    }));
}

/// `Signature=HEX` in an `Authorization` value becomes `Signature=***`.
fn mask_signature(value: &mut String) {
    const KEY: &str = "Signature=";
    if let Some(at) = value.find(KEY).map(|at| at + KEY.len()) {
        let end = value[at..].find([',', ' ']).map_or(value.len(), |e| at + e);
        if end > at {
            value.replace_range(at..end, MASK);
        }
    }
}

/// What a secret becomes.
pub(crate) const MASK: &str = "***";

impl Secrets {
    /// Adds a secret (empty strings are ignored).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"').to_owned();
        // A secret in a path parameter is sent encoded as the plan encodes it.
        let encoded = crate::plan::encode_segment(secret);
        for form in [secret.to_owned(), escaped, encoded] {
            if !self.values.contains(&form) {
                self.values.push(form);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every secret replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        self.mask_owned(text.to_owned())
    }

    /// [`Secrets::mask`], reusing `text` when it holds no secret (no copy).
    pub fn mask_owned(&self, text: String) -> String {
        let mut out = text;
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Whether there is any secret to mask.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `bytes` with every secret replaced; text that is not UTF-8 is masked where it is.
    pub fn mask_bytes(&self, bytes: &Bytes) -> Bytes {
        if self.values.iter().all(|s| !contains(bytes, s.as_bytes())) {
            return bytes.clone();
        }
        let mut out = bytes.to_vec();
        for secret in &self.values {
            out = replace(&out, secret.as_bytes(), MASK.as_bytes());
        }
        Bytes::from(out)
    }

    fn mask_in_place(&self, text: &mut String) {
        if self.values.iter().any(|s| text.contains(s.as_str())) {
            *text = self.mask(text);
        }
    }

    /// Masks a request's URL, header values and body, and the signature of an AK/SK-signed
    /// request (valid for minutes: a replayable credential; `replay` signs afresh).
    pub fn mask_request(&self, request: &mut Request) {
        self.mask_in_place(&mut request.url);
        for (name, value) in &mut request.headers {
            self.mask_in_place(value);
            if name.eq_ignore_ascii_case("Authorization") {
                mask_signature(value);
            }
        }
        request.body = self.mask_bytes(&request.body);
    }

    /// Masks every value of `outcome` a secret can reach: its note, the request (URL, headers,
    /// body), the response (headers, body), every check's message, and the minimal request of a
    /// shrunk case. Renderers then see no secret, so no secret can break them. (Names and
    /// descriptions come from case files and generators, never from a secret: masking them
    /// would only garble them when a secret is a single letter.)
    pub fn mask_outcome(&self, outcome: &mut CaseOutcome) {
        if self.is_empty() {
            return;
        }
        if let Some(note) = &mut outcome.note {
            self.mask_in_place(note);
        }
        self.mask_request(&mut outcome.request);
        if let Some(response) = &mut outcome.response {
            for (_, value) in &mut response.headers {
                self.mask_in_place(value);
            }
            response.body = self.mask_bytes(&response.body);
        }
        for check in &mut outcome.checks {
            match &mut check.verdict {
                Verdict::Passed => {}
                Verdict::Skipped(reason) => self.mask_in_place(reason),
                Verdict::Failed { expected, actual, details } => {
                    self.mask_in_place(expected);
                    self.mask_in_place(actual);
                    for detail in details.iter_mut() {
                        self.mask_in_place(detail);
                    }
                }
            }
        }
        if let Some(minimal) = &mut outcome.minimal {
            self.mask_request(&mut minimal.case.request);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_raw_and_json_escaped_forms() {
        let mut s = Secrets::default();
        s.add("to\"ken");
        assert_eq!(s.mask("a to\"ken b"), "a *** b");
        assert_eq!(s.mask(r#"{"t":"to\"ken"}"#), r#"{"t":"***"}"#);
        s.add("");
        assert_eq!(s.mask("x"), "x");
    }

    /// A secret placed where a target can put it — the URL (percent-encoded), a header, the
    /// request body, a response header, a response body that echoes it across the 4 KB cut, a
    /// check message — is gone from every rendering, whole and in part, and the JSON parses.
    #[test]
    fn an_outcome_is_masked_before_it_is_rendered() {
        use crate::check::{CheckKind, CheckResult};
        use crate::client::Response;
        use crate::outcome::Outcome;
        use crate::plan::Origin;
        let secret = "s3cr3t/<&>\"'-token-0123456789";
        let mut secrets = Secrets::default();
        secrets.add(secret);
        let encoded = crate::plan::encode_segment(secret);
        let echo = format!("{}{secret}{}", "x".repeat(4090), "y".repeat(100));
        let mut outcome = CaseOutcome {
            name: "a::b".into(),
            suite: "a".into(),
            source: "cases/a.json".into(),
            description: "d".into(),
            origin: Origin::HandWritten,
            minimal: None,
            outcome: Outcome::Failed,
            checks: vec![CheckResult {
                check: CheckKind::Identity,
                verdict: Verdict::failed("the id sent", format!("\"{}…", &secret[..12])),
            }],
            status: Some(200),
            duration: std::time::Duration::ZERO,
            request: Request {
                method: "PUT".into(),
                url: format!("http://127.0.0.1:1/v2/{encoded}/x"),
                headers: vec![("X-Auth-Token".into(), secret.into()), ("X-Other".into(), format!("a{secret}b"))],
                body: Bytes::from(serde_json::to_vec(&serde_json::json!({ "action": secret })).unwrap()),
            },
            response: Some(Response {
                status: 200,
                headers: vec![("x-echo".into(), secret.into())],
                body: Bytes::from(echo),
            }),
            note: Some(format!("note {secret}")),
        };
        secrets.mask_outcome(&mut outcome);
        let info = crate::report::RunInfo::for_tests();
        let json = crate::report::json::case_line(&outcome, &info, true);
        let xml = crate::report::junit::case_xml(&outcome, &info, true);
        let text = crate::report::console::failure_detail(&outcome, &info);
        serde_json::from_str::<serde_json::Value>(&json).unwrap();
        let escaped = serde_json::to_string(secret).unwrap();
        for (what, rendered) in [("json", &json), ("junit", &xml), ("console", &text)] {
            for form in [secret, escaped.trim_matches('"'), encoded.as_str(), &secret[..12], &secret[12..]] {
                // The identity message quoted only a 12-character preview: that preview is a
                // fragment the data-level mask cannot know; it is the one exception tested apart.
                if form == &secret[..12] {
                    continue;
                }
                assert!(!rendered.contains(form), "{what} holds {form:?}:\n{rendered}");
            }
        }
        assert!(text.contains("x-echo: ***") && json.contains("***yyyy"), "{text}");
    }
}
