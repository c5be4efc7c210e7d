//! From each judged exchange to the reports: its secrets masked, its report fragments rendered
//! on the task that judged it ([`Done`]), and the finished exchange handed to whoever records
//! them (the command's [`Recorder`](crate::report::reporter::Recorder)), which also prints its
//! line ([`ExchangeLog`]).
//!
//! The proxy is told no token: the secrets are learnt from the traffic, as it passes, so that an
//! exchange recorded before another one ends still masks what that one carries. The values of
//! the secret headers (the contract's credential headers, Authorization, Proxy-Authorization,
//! X-Security-Token, Cookie) are learnt as each request arrives ([`Recording::learn_request`]),
//! and the cookie an answer sets and the IAM token it hands out (`X-Subject-Token`) as its head
//! arrives ([`Recording::learn_answer`]); each is masked by name in the recorded request and
//! wherever else it shows. An AK/SK signature is new with every request: it is masked in its own
//! exchange only, which keeps the learnt secrets few; the access key id and signed header names
//! stay readable.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::sync::mpsc;

use crate::client::Request;
use crate::contract::Contract;
use crate::outcome::{CaseOutcome, Outcome};
use crate::report::reporter::{Console, Done, Reports};
use crate::report::{RunInfo, Secrets};

/// The most distinct secret values learnt: past it, a new value is still masked in the header
/// that carries it, but not where an answer echoes it.
const MAX_SECRETS: usize = 10_000;

/// Masks and renders each judged exchange, and hands it on.
pub struct Recording {
    /// The secret header names, lower-case.
    names: Vec<String>,
    secrets: RwLock<Secrets>,
    learnt: Mutex<HashSet<String>>,
    reports: Option<Arc<Reports>>,
    done: mpsc::Sender<Done>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").field("names", &self.names).finish_non_exhaustive()
    }
}

impl Recording {
    /// A recording for `contract`'s exchanges, rendering `reports`' fragments; the finished
    /// exchanges come on the receiver, which holds at most `capacity` (the judging tasks wait).
    pub fn new(
        contract: &Contract,
        reports: Option<Arc<Reports>>,
        capacity: usize,
    ) -> (Arc<Recording>, mpsc::Receiver<Done>) {
        let (done, finished) = mpsc::channel(capacity.max(1));
        let recording = Recording {
            names: secret_headers(contract),
            secrets: RwLock::new(Secrets::default()),
            learnt: Mutex::new(HashSet::new()),
            reports,
            done,
        };
        (Arc::new(recording), finished)
    }

    /// Learns the secrets `request` carries, as it arrives: an exchange recorded before this one
    /// ends may echo them. An AK/SK signature is not among them: it is new with every request
    /// and masked in its own exchange ([`Recording::record`]); learning each would make masking
    /// slower with every signed request.
    pub(crate) fn learn_request(&self, request: &Request) {
        let values = secret_values(request, &self.names);
        self.learn(values.iter().filter(|(_, signature)| !signature).map(|(value, _)| value.as_str()));
        // A client may put its token in the query, under the header's name (`?X-Auth-Token=…`).
        let query = request.url.split_once('?').map_or("", |(_, q)| q.split('#').next().unwrap_or_default());
        // Each value as it was sent (in whatever percent-encoding) and decoded (as `+` for a
        // space too), so that every form an echo may take is known.
        let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
        let in_query: Vec<String> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .filter(|(name, _)| self.names.iter().any(|n| n.eq_ignore_ascii_case(&decode(&name.replace('+', " ")))))
            .flat_map(|(_, value)| [value.to_owned(), decode(value), decode(&value.replace('+', " "))])
            .collect();
        self.learn(in_query.iter().map(String::as_str));
    }

    /// Learns the secrets an answer's head hands out: the cookie it sets (the session the client
    /// sends back) and an IAM token (`X-Subject-Token`), before the client can use them.
    pub(crate) fn learn_answer(&self, headers: &http::HeaderMap) {
        let cookies = headers.get_all(http::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok());
        let tokens = headers.get_all("x-subject-token").iter().filter_map(|v| v.to_str().ok());
        self.learn(cookies.flat_map(crate::report::set_cookie_values).chain(tokens));
    }

    /// Records exchange `seq`: masks it (its own signature too), renders it, hands it on.
    pub(crate) async fn record(&self, seq: usize, mut outcome: CaseOutcome) {
        let signatures: Vec<String> = secret_values(&outcome.request, &self.names)
            .into_iter()
            .filter_map(|(value, signature)| signature.then_some(value))
            .collect();
        if !signatures.is_empty() {
            let mut own = Secrets::default();
            for signature in &signatures {
                own.add(signature);
            }
            own.mask_outcome(&mut outcome);
        }
        for (name, value) in &mut outcome.request.headers {
            // A signature is masked in place (`Secrets::mask_request`); any other value whole.
            let signed = name.eq_ignore_ascii_case("authorization") && super::signature(value).is_some();
            if !value.is_empty() && !signed && self.names.contains(&name.to_ascii_lowercase()) {
                MASKED.clone_into(value);
            }
        }
        let done = {
            let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
            Done::new(seq, outcome, &secrets, self.reports.as_deref(), 0)
        };
        // Closed only once the command stopped recording: nothing is left to tell.
        let _ = self.done.send(done).await;
    }

    fn learn<'a>(&self, values: impl Iterator<Item = &'a str>) {
        let mut learnt = self.learnt.lock().unwrap_or_else(PoisonError::into_inner);
        for value in values.filter(|v| !v.is_empty()) {
            if learnt.len() < MAX_SECRETS && !learnt.contains(value) {
                learnt.insert(value.to_owned());
                self.secrets.write().unwrap_or_else(PoisonError::into_inner).add(value);
                crate::report::register_secret(value);
            }
        }
    }
}

/// The names of the headers whose values are secrets, lower-case: the contract's credential
/// headers and [`SECRET_HEADERS`](crate::report::SECRET_HEADERS).
pub fn secret_headers(contract: &Contract) -> Vec<String> {
    contract
        .operations
        .iter()
        .flat_map(|op| op.manifest.request.credential_headers.iter().map(|h| h.to_ascii_lowercase()))
        .chain(crate::report::SECRET_HEADERS.iter().map(|h| (*h).to_owned()))
        .collect()
}

/// What a secret header's value becomes (`report`'s mask).
const MASKED: &str = "***";

/// The secret values `request` carries in the headers named `names` (lower-case): each whole
/// value, but of an AK/SK Authorization only its signature (marked `true`).
fn secret_values(request: &Request, names: &[String]) -> Vec<(String, bool)> {
    request
        .headers
        .iter()
        .filter(|(name, value)| !value.is_empty() && names.contains(&name.to_ascii_lowercase()))
        .map(|(name, value)| match super::signature(value).filter(|_| name.eq_ignore_ascii_case("authorization")) {
            Some(signature) => (signature.to_owned(), true),
            None => (value.clone(), false),
        })
        .filter(|(value, _)| !value.is_empty())
        .collect()
}

/// The console of the proxy: one line per exchange as it is recorded (its name, which is its
/// operation and number, the method, the status and the verdict), on stderr.
#[derive(Debug)]
pub struct ExchangeLog {
    /// Print nothing.
    pub quiet: bool,
}

/// The line of one exchange.
pub fn line(outcome: &CaseOutcome) -> String {
    let status = outcome.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
    let verdict = match outcome.outcome {
        Outcome::Passed => "passed".to_owned(),
        Outcome::Skipped => format!("not judged: {}", outcome.note.as_deref().unwrap_or_default()),
        Outcome::Failed => {
            let failed: Vec<&str> = outcome.failed_checks().map(|c| c.check.name()).collect();
            let first = outcome.failed_checks().next().map(|c| crate::contract::truncate(&c.message(), 160));
            format!("FAILED {} ({})", failed.join(", "), first.unwrap_or_default())
        }
        Outcome::Errored => {
            let why = outcome.failed_checks().next().map(crate::check::CheckResult::message).unwrap_or_default();
            format!("ERRORED ({why}); {}", outcome.note.as_deref().unwrap_or_default())
        }
    };
    let line =
        format!("{} {} {status} {verdict} ({} ms)", outcome.name, outcome.request.method, outcome.duration.as_millis());
    line.replace(['\n', '\r'], " ")
}

impl Console for ExchangeLog {
    fn case_finished(&mut self, outcome: &CaseOutcome, _whole: bool, _info: &RunInfo) {
        if !self.quiet {
            eprintln!("{}", line(outcome));
        }
    }

    fn demoted(&mut self, _: &CaseOutcome, _: &RunInfo) {}

    fn run_finished(&mut self, _: &[(String, String)], _: usize) {}
}
