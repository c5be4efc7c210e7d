//! Secret masking: every occurrence of a secret, raw, JSON-escaped or percent-encoded (as a path
//! segment carries it), becomes `***`.
//!
//! Masking works on the data, before any renderer sees it ([`Secrets::mask_outcome`]): the
//! values of an outcome (its request's URL, headers and body, its response's headers and body,
//! every check message and note) are masked, and the renderers then escape and cut text that no
//! longer holds a secret. A find-and-replace over rendered JSON or XML would edit keys, tags and
//! syntax when a secret is short (`t`), and would miss a secret that escaping or cutting had
//! already changed.
//!
//! A secret shorter than [`FRAGMENT`] bytes (a test token such as `test` or `t`) cannot be told
//! apart from ordinary text: masking every `t` would turn `charset=UTF-8` into `U***F-8`, and a
//! reproducer would send other bytes. Such a secret is masked where it is a whole value: a header
//! value, a part of the URL between `/`, `?`, `&` and `=`, a whole body or message.

use bytes::Bytes;

use crate::check::Verdict;
use crate::client::Request;
use crate::outcome::CaseOutcome;

/// The secrets of a run.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
    /// The forms of secrets shorter than [`FRAGMENT`] bytes, masked only as whole values.
    whole: Vec<String>,
    /// Every [`FRAGMENT`]-byte window of every form of every secret at least that long: a
    /// target can echo part of a secret, and a check can quote a cut preview of it.
    grams: std::collections::HashSet<[u8; FRAGMENT]>,
}

/// Header names whose values are always secret, besides the contract's credential headers
/// (lower-case).
pub const SECRET_HEADERS: [&str; 4] = ["authorization", "proxy-authorization", "x-security-token", "cookie"];

/// The shortest part of a secret that is masked on its own.
pub(crate) const FRAGMENT: usize = 8;

/// The secrets of the running process, for the panic hook.
static PROCESS_SECRETS: std::sync::LazyLock<std::sync::Mutex<Secrets>> =
    std::sync::LazyLock::new(|| std::sync::Mutex::new(Secrets::default()));

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
        let message = format!("thread '{}' {text}", thread.name().unwrap_or("<unnamed>"));
        #[cfg(test)]
        LAST_PANIC.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(message.clone());
        eprintln!("{message}");
    }));
}

/// What the hook last printed, for the unit test that proves it (a panic's stderr cannot be
/// read from inside the process).
#[cfg(test)]
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

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

/// The attributes of a `Set-Cookie` field (RFC 6265bis), lower-case: not cookies.
const COOKIE_ATTRIBUTES: [&str; 8] =
    ["expires", "max-age", "domain", "path", "secure", "httponly", "samesite", "partitioned"];

/// The values of the cookies a `Set-Cookie` field sets, as byte ranges: its first `name=VALUE`
/// (a pair without `=` is all value, as browsers read it), and any other a server folded into
/// the same field after a comma (`a=1; Path=/, SESS=VALUE`). A session cookie is a credential.
fn set_cookie_ranges(field: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for (i, part) in field.split(',').enumerate() {
        let pair_len = part.find(';').unwrap_or(part.len());
        let pair = &part[..pair_len];
        let value = match pair.split_once('=') {
            // `Expires=Wed, 21 Oct 2015 …` also holds a comma: what follows it is no cookie.
            Some((name, _)) if i > 0 && (name.trim().is_empty() || name.trim().contains(' ')) => None,
            Some((name, _)) if i > 0 && COOKIE_ATTRIBUTES.contains(&name.trim().to_ascii_lowercase().as_str()) => None,
            Some((name, _)) => Some(name.len() + 1..pair_len),
            None if i == 0 => Some(0..pair_len),
            None => None,
        };
        if let Some(value) = value {
            let text = &part[value.clone()];
            let lead = text.len() - text.trim_start().len();
            let trail = text.len() - text.trim_end().len();
            let range = start + value.start + lead..start + value.end - trail;
            if !range.is_empty() {
                ranges.push(range);
            }
        }
        start += part.len() + 1;
    }
    ranges
}

/// The values of the cookies a `Set-Cookie` field sets (see [`set_cookie_ranges`]).
pub fn set_cookie_values(field: &str) -> impl Iterator<Item = &str> {
    set_cookie_ranges(field).into_iter().map(move |range| &field[range])
}

/// Masks the values of the cookies a `Set-Cookie` field sets; names and attributes stay.
fn mask_set_cookie(field: &mut String) {
    for range in set_cookie_ranges(field).into_iter().rev() {
        field.replace_range(range, MASK);
    }
}

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
        let short = secret.len() < FRAGMENT;
        for form in [secret.to_owned(), escaped, encoded] {
            for gram in form.as_bytes().windows(FRAGMENT) {
                self.grams.insert(gram.try_into().unwrap_or([0; FRAGMENT]));
            }
            let list = if short { &mut self.whole } else { &mut self.values };
            if !list.contains(&form) {
                list.push(form);
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
        if self.whole.contains(&text) {
            return MASK.to_owned();
        }
        let mut out = text;
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// [`Secrets::mask_fragments`] of a copy: for text a target sent (a cut preview may hold
    /// part of a secret it echoed).
    pub fn mask_echo(&self, text: &str) -> String {
        let mut text = text.to_owned();
        self.mask_fragments(&mut text);
        text
    }

    /// `text` with every secret masked, and every run of text made of [`FRAGMENT`]-byte parts
    /// of a secret (a cut or partial echo) too.
    fn mask_fragments(&self, text: &mut String) {
        self.mask_in_place(text);
        if let Some(masked) = self.fragments_masked(text.as_bytes()) {
            *text = String::from_utf8_lossy(&masked).into_owned();
        }
    }

    /// [`Secrets::mask_fragments`] for bytes.
    fn mask_fragments_bytes(&self, bytes: &Bytes) -> Bytes {
        let masked = self.mask_bytes(bytes);
        self.fragments_masked(&masked).map_or(masked, Bytes::from)
    }

    /// The bytes with each run covered by fragments of a secret replaced by `***` (widened to
    /// whole UTF-8 characters); `None` when there is none.
    fn fragments_masked(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        if self.grams.is_empty() || bytes.len() < FRAGMENT {
            return None;
        }
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (at, window) in bytes.windows(FRAGMENT).enumerate() {
            if !self.grams.contains(<&[u8; FRAGMENT]>::try_from(window).ok()?) {
                continue;
            }
            match runs.last_mut() {
                Some((_, end)) if *end >= at => *end = at + FRAGMENT,
                _ => runs.push((at, at + FRAGMENT)),
            }
        }
        if runs.is_empty() {
            return None;
        }
        let continuation = |b: u8| b & 0xC0 == 0x80;
        let mut out = Vec::with_capacity(bytes.len());
        let mut from = 0;
        for (mut start, mut end) in runs {
            while start > from && continuation(bytes[start]) {
                start -= 1;
            }
            while end < bytes.len() && continuation(bytes[end]) {
                end += 1;
            }
            if start < from {
                start = from;
            }
            out.extend_from_slice(&bytes[from..start]);
            out.extend_from_slice(MASK.as_bytes());
            from = end;
        }
        out.extend_from_slice(&bytes[from.min(bytes.len())..]);
        Some(out)
    }

    /// Whether there is any secret to mask.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.whole.is_empty()
    }

    /// `bytes` with every secret replaced; text that is not UTF-8 is masked where it is.
    pub fn mask_bytes(&self, bytes: &Bytes) -> Bytes {
        if self.whole.iter().any(|w| w.as_bytes() == &bytes[..]) {
            return Bytes::from_static(MASK.as_bytes());
        }
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
        if self.values.iter().any(|s| text.contains(s.as_str())) || self.whole.iter().any(|w| w == text) {
            *text = self.mask(text);
        }
    }

    /// Masks a URL: every secret in it, and a short secret where it is a whole part of it.
    fn mask_url(&self, url: &mut String) {
        self.mask_in_place(url);
        if self.whole.is_empty() {
            return;
        }
        let separators = ['/', '?', '&', '='];
        *url = url
            .split_inclusive(separators)
            .map(|part| {
                let text = part.strip_suffix(separators).unwrap_or(part);
                if self.whole.iter().any(|w| w == text) {
                    format!("{MASK}{}", &part[text.len()..])
                } else {
                    part.to_owned()
                }
            })
            .collect();
    }

    /// Masks a request's URL, header values and body, and the signature of an AK/SK-signed
    /// request (valid for minutes: a replayable credential; `replay` signs afresh).
    pub fn mask_request(&self, request: &mut Request) {
        self.mask_url(&mut request.url);
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
        // Credentials in a URL (`https://user:password@host`) are masked whatever the secrets.
        if outcome.request.url.contains('@') {
            outcome.request.url = super::mask_url(&outcome.request.url);
        }
        let responses = outcome.response.iter_mut().flat_map(|r| r.headers.iter_mut());
        for (_, value) in responses.filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie")) {
            mask_set_cookie(value);
        }
        if self.is_empty() {
            return;
        }
        if let Some(note) = &mut outcome.note {
            self.mask_fragments(note);
        }
        self.mask_request(&mut outcome.request);
        // What a target sent back, and what checks quote of it, can hold part of a secret (a
        // partial echo, a cut preview): masked down to fragments. Only an outcome that did not
        // pass keeps these, so a passing run pays nothing for it.
        if let Some(response) = &mut outcome.response {
            for (_, value) in &mut response.headers {
                self.mask_fragments(value);
            }
            response.body = self.mask_fragments_bytes(&response.body);
        }
        for check in &mut outcome.checks {
            match &mut check.verdict {
                Verdict::Passed => {}
                Verdict::Skipped(reason) => self.mask_fragments(reason),
                Verdict::Failed { expected, actual, details } => {
                    self.mask_fragments(expected);
                    self.mask_fragments(actual);
                    for detail in details.iter_mut() {
                        self.mask_fragments(detail);
                    }
                }
            }
        }
        if let Some(minimal) = &mut outcome.minimal {
            self.mask_request(&mut minimal.case.request);
        }
        for step in &mut outcome.steps {
            self.mask_request(&mut step.request);
            for text in [&mut step.note, &mut step.body].into_iter().flatten() {
                self.mask_fragments(text);
            }
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
    fn a_cookie_set_by_the_target_is_masked_its_attributes_kept() {
        fn values(field: &str) -> Vec<&str> {
            set_cookie_values(field).collect()
        }
        assert_eq!(values("SESSION=abc123; Path=/; HttpOnly"), ["abc123"]);
        assert!(values("gone=; Max-Age=0").is_empty());
        assert_eq!(values("bare-value-9"), ["bare-value-9"], "no `=`: all value, as browsers read it");
        assert_eq!(values("a=1; Path=/, SESS=s3cr3t; HttpOnly"), ["1", "s3cr3t"], "folded");
        let dated = "id=v1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/";
        assert_eq!(values(dated), ["v1"], "a date's comma folds no cookie");
        let mut field = "a=1; Path=/, SESS = s3cr3t ; HttpOnly".to_owned();
        mask_set_cookie(&mut field);
        assert_eq!(field, "a=***; Path=/, SESS = *** ; HttpOnly");
    }

    /// The hook masks every registered secret in a real panic's message (before, the binary held
    /// a test switch, CSE_CONTRACT_TEST_PANIC, that panicked on purpose).
    #[test]
    fn the_panic_hook_masks_registered_secrets() {
        let secret = "panic-hook-secret-0123456789";
        register(secret);
        install_panic_hook();
        let result = std::panic::catch_unwind(|| panic!("token {secret} in a panic"));
        let _ = std::panic::take_hook();
        assert!(result.is_err());
        let message = LAST_PANIC.lock().unwrap().clone().unwrap_or_default();
        assert!(message.contains("token *** in a panic"), "{message}");
        assert!(!message.contains(secret), "{message}");
    }

    #[test]
    fn fragments_of_a_secret_are_masked_on_whole_characters() {
        let mut s = Secrets::default();
        s.add("ünïcødé-secret-value");
        let mut text = "id \"ünïcødé-se…\" and -secret-valu, not secre".to_owned();
        s.mask_fragments(&mut text);
        assert_eq!(text, "id \"***…\" and ***, not secre");
        let body = s.mask_fragments_bytes(&Bytes::from_static(b"xx-secret-value!"));
        assert_eq!(&body[..], b"xx***!");
    }

    #[test]
    fn a_short_secret_is_masked_only_as_a_whole_value() {
        let mut s = Secrets::default();
        s.add("t");
        let mut request = Request {
            method: "PUT".into(),
            url: "http://h/v2/t/engines/x?a=t&b=tt".into(),
            headers: vec![("X-Auth-Token".into(), "t".into()), ("Content-Type".into(), "charset=UTF-8".into())],
            body: Bytes::from_static(b"t"),
        };
        s.mask_request(&mut request);
        assert_eq!(request.url, "http://h/v2/***/engines/x?a=***&b=tt");
        assert_eq!(request.headers[0].1, "***");
        assert_eq!(request.headers[1].1, "charset=UTF-8");
        assert_eq!(&request.body[..], b"***");
    }

    #[test]
    fn masks_raw_and_json_escaped_forms() {
        let mut s = Secrets::default();
        s.add("long-to\"ken");
        assert_eq!(s.mask("a long-to\"ken b"), "a *** b");
        assert_eq!(s.mask(r#"{"t":"long-to\"ken"}"#), r#"{"t":"***"}"#);
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
                url: format!("http://user:Pw-77@127.0.0.1:1/v2/{encoded}/x"),
                headers: vec![("X-Auth-Token".into(), secret.into()), ("X-Other".into(), format!("a{secret}b"))],
                body: Bytes::from(serde_json::to_vec(&serde_json::json!({ "action": secret })).unwrap()),
            },
            response: Some(Response {
                status: 200,
                headers: vec![
                    ("x-echo".into(), secret.into()),
                    ("Set-Cookie".into(), "SESSION=abc123; Path=/; HttpOnly".into()),
                    ("set-cookie".into(), "gone=; Max-Age=0".into()),
                ],
                body: Bytes::from(echo),
            }),
            note: Some(format!("note {secret}")),
            steps: Vec::new(),
        };
        secrets.mask_outcome(&mut outcome);
        let fields: Vec<&str> = outcome.response.as_ref().unwrap().headers.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            fields[1..],
            ["SESSION=***; Path=/; HttpOnly", "gone=; Max-Age=0"],
            "a set cookie's value is masked"
        );
        assert!(outcome.request.url.starts_with("http://***@127.0.0.1:1/v2/"), "{}", outcome.request.url);
        let info = crate::report::RunInfo::for_tests();
        let json = crate::report::json::case_line(&outcome, &info, true);
        let xml = crate::report::junit::case_xml(&outcome, &info, true);
        let text = crate::report::console::failure_detail(&outcome, &info);
        serde_json::from_str::<serde_json::Value>(&json).unwrap();
        let escaped = serde_json::to_string(secret).unwrap();
        for (what, rendered) in [("json", &json), ("junit", &xml), ("console", &text)] {
            // The identity message quoted a 12-character preview: a fragment, masked as one.
            for form in [secret, escaped.trim_matches('"'), encoded.as_str(), &secret[..12], &secret[12..]] {
                assert!(!rendered.contains(form), "{what} holds {form:?}:\n{rendered}");
            }
            for gram in secret.as_bytes().windows(FRAGMENT) {
                let gram = std::str::from_utf8(gram).unwrap();
                assert!(!rendered.contains(gram), "{what} holds the fragment {gram:?}:\n{rendered}");
            }
        }
        assert!(text.contains("x-echo: ***") && json.contains("***yyyy"), "{text}");
    }
}
