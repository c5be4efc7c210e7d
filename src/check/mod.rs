//! The oracles: pure functions from an exchange, the planned case and the contract to
//! [`CheckResult`]s. No I/O. One file per check; adding a check is a file and a row in
//! [`CheckKind`]. Each check says itself whether it applies to a case ([`applies`]), so which
//! checks run follows from the case's classification, not from a list in the case.

mod assertion;
mod auth_enforced;
mod body_schema;
mod content_type;
mod identity;
mod input;
mod negative_rejected;
mod no_server_error;
mod response_headers;
mod state_justified;
mod status_documented;
mod status_expected;
mod transport;

pub use input::{CheckInput, ParsedBody};

use crate::client::{Exchange, TransportError};
use crate::contract::Contract;
use crate::plan::PlannedCase;

/// Every check, by its stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The exchange completed.
    Transport,
    /// The status is one the manifest documents.
    StatusDocumented,
    /// The status is in the case's expected set.
    StatusExpected,
    /// A response with a body declares a JSON media type.
    ContentType,
    /// The headers the manifest requires for the status are present.
    ResponseHeaders,
    /// The body is JSON and matches the schema bound to its status.
    BodySchema,
    /// A request the contract calls invalid is not accepted.
    NegativeRejected,
    /// A request without valid credentials is not accepted.
    AuthEnforced,
    /// An invalid request is answered 4xx, not 5xx.
    NoServerError,
    /// A 200 body names the engine of the path.
    Identity,
    /// The case's JSON-pointer assertions hold.
    Assertion,
    /// A refused valid side-effecting request was refused for a reason the engine's state gives.
    StateJustified,
}

impl CheckKind {
    /// Every check, in reporting order.
    pub const ALL: [CheckKind; 12] = [
        CheckKind::Transport,
        CheckKind::StatusDocumented,
        CheckKind::StatusExpected,
        CheckKind::ContentType,
        CheckKind::ResponseHeaders,
        CheckKind::BodySchema,
        CheckKind::NegativeRejected,
        CheckKind::AuthEnforced,
        CheckKind::NoServerError,
        CheckKind::Identity,
        CheckKind::Assertion,
        CheckKind::StateJustified,
    ];

    /// The stable name used in every output.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Transport => "transport",
            CheckKind::StatusDocumented => "status_documented",
            CheckKind::StatusExpected => "status_expected",
            CheckKind::ContentType => "content_type",
            CheckKind::ResponseHeaders => "response_headers",
            CheckKind::BodySchema => "body_schema",
            CheckKind::NegativeRejected => "negative_rejected",
            CheckKind::AuthEnforced => "auth_enforced",
            CheckKind::NoServerError => "no_server_error",
            CheckKind::Identity => "identity",
            CheckKind::Assertion => "assertion",
            CheckKind::StateJustified => "state_justified",
        }
    }

    /// The check called `name`.
    pub fn from_name(name: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What the check asserts, in a line.
    pub fn summary(self) -> &'static str {
        match self {
            CheckKind::Transport => "the exchange completed: no connection failure, timeout, reset or malformed HTTP",
            CheckKind::StatusDocumented => "the status is one the manifest documents for the method",
            CheckKind::StatusExpected => "the status is in the case's expected set",
            CheckKind::ContentType => "a response with a body declares a JSON media type",
            CheckKind::ResponseHeaders => "headers the manifest requires for the status are present (Allow on 405)",
            CheckKind::BodySchema => "the body is JSON and validates against the schema bound to its status",
            CheckKind::NegativeRejected => "a request the contract calls invalid is not accepted (no 1xx-3xx)",
            CheckKind::AuthEnforced => "a request without valid credentials is not accepted (no 1xx-3xx)",
            CheckKind::NoServerError => "an invalid request is answered 4xx, not 5xx",
            CheckKind::Identity => "a 200 body's id equals the engine_id of the path",
            CheckKind::Assertion => "the case's JSON-pointer assertions hold",
            CheckKind::StateJustified => {
                "a refused valid Retry was refused for the engine's state (a job running, or a status that forbids it)"
            }
        }
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It holds.
    Passed,
    /// It does not: the one-line expectation and what was seen, and any details.
    Failed {
        /// What the contract expects.
        expected: String,
        /// What came back.
        actual: String,
        /// Further lines (one per schema violation, for instance).
        details: Vec<String>,
    },
    /// Not judged, and why (the case opted out, or the response gives nothing to judge).
    Skipped(String),
}

impl Verdict {
    pub(crate) fn failed(expected: impl Into<String>, actual: impl Into<String>) -> Verdict {
        Verdict::Failed { expected: expected.into(), actual: actual.into(), details: Vec::new() }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Which check.
    pub check: CheckKind,
    /// Its verdict.
    pub verdict: Verdict,
}

impl CheckResult {
    /// Whether it failed.
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Failed { .. })
    }

    /// One line: expected vs actual, the skip reason, or "ok".
    pub fn message(&self) -> String {
        match &self.verdict {
            Verdict::Passed => "ok".into(),
            Verdict::Failed { expected, actual, .. } => format!("expected {expected}, got {actual}"),
            Verdict::Skipped(reason) => format!("skipped: {reason}"),
        }
    }
}

/// What the runner learned of the engine's state around a refused side-effecting request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEvidence {
    /// The state explains the refusal.
    pub justified: bool,
    /// What the state was, in a line.
    pub reason: String,
}

/// Whether `check` applies to `case` at all, before any answer is seen (`state_justified`
/// applies only when the runner hands state evidence to [`judge_with_state`]).
pub fn applies(check: CheckKind, case: &PlannedCase) -> bool {
    match check {
        CheckKind::StateJustified => false,
        CheckKind::NegativeRejected => negative_rejected::applies(case),
        CheckKind::AuthEnforced => auth_enforced::applies(case),
        CheckKind::NoServerError => no_server_error::applies(case),
        CheckKind::Assertion => assertion::applies(case),
        _ => true,
    }
}

fn run(check: CheckKind, input: &CheckInput<'_>) -> Verdict {
    match check {
        CheckKind::Transport => Verdict::Passed,
        CheckKind::StatusDocumented => status_documented::check(input),
        CheckKind::StatusExpected => status_expected::check(input),
        CheckKind::ContentType => content_type::check(input),
        CheckKind::ResponseHeaders => response_headers::check(input),
        CheckKind::BodySchema => body_schema::check(input),
        CheckKind::NegativeRejected => negative_rejected::check(input),
        CheckKind::AuthEnforced => auth_enforced::check(input),
        CheckKind::NoServerError => no_server_error::check(input),
        CheckKind::Identity => identity::check(input),
        CheckKind::Assertion => assertion::check(input),
        CheckKind::StateJustified => state_justified::check(input),
    }
}

/// Judges one exchange: the results of every check that applies, in [`CheckKind::ALL`] order.
/// A failed exchange yields only the failed `transport` check: there is nothing else to judge.
pub fn judge(contract: &Contract, case: &PlannedCase, exchange: &Exchange, strict_statuses: bool) -> Vec<CheckResult> {
    judge_with_state(contract, case, exchange, strict_statuses, None)
}

/// The checks of an exchange that did not complete (or of a case that was never sent): only the
/// failed `transport` check, saying why.
pub fn unanswered(error: &TransportError) -> Vec<CheckResult> {
    vec![transport::failed(error)]
}

/// [`judge`], with what the engine's state says of a refusal: `state_justified` then applies.
pub fn judge_with_state(
    contract: &Contract,
    case: &PlannedCase,
    exchange: &Exchange,
    strict_statuses: bool,
    state: Option<&StateEvidence>,
) -> Vec<CheckResult> {
    let response = match &exchange.result {
        Err(error) => return unanswered(error),
        Ok(response) => response,
    };
    let body = ParsedBody::parse(&response.body);
    let input = CheckInput { state, strict_statuses, ..CheckInput::new(contract, case, exchange, response, &body) };
    CheckKind::ALL
        .into_iter()
        .filter(|&check| applies(check, case) || (check == CheckKind::StateJustified && state.is_some()))
        .map(|check| {
            let verdict = match case.skip_checks.get(check.name()) {
                Some(reason) => Verdict::Skipped(format!("opted out: {reason}")),
                None => run(check, &input),
            };
            CheckResult { check, verdict }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runner moves a case's request into its exchange before judging (only the method stays
    /// in the case, to spare a copy per case): the checks must read the request from the
    /// exchange, where it is whole, as it was sent.
    #[test]
    fn checks_see_the_request_as_sent() {
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        let files = crate::case::load_cases(&crate::files::FileSource::Embedded, &contract).unwrap();
        let mut variables = crate::case::vars::Variables::default();
        let values =
            [("project_id", "p"), ("engine_id", "e"), ("token", "secret-token"), ("enterprise_project_id", "0")];
        for (name, value) in values.into_iter().chain([("unknown_engine_id", "u")]) {
            variables.set(name, value);
        }
        let config = crate::plan::PlanConfig {
            target: "http://127.0.0.1:1".into(),
            variables,
            filter: crate::plan::Filter::default(),
            strict_auth: false,
        };
        let mut case = crate::plan::plan(&contract, &files, &config)
            .unwrap()
            .into_iter()
            .find(|c| c.request.method == "PUT" && !c.request.body.is_empty())
            .unwrap();
        let sent = case.request.clone();
        // As the runner does (runner::run_one, runner::lane::run).
        let request = std::mem::take(&mut case.request);
        case.request.method.clone_from(&request.method);
        let response = crate::client::Response { status: 200, headers: Vec::new(), body: bytes::Bytes::new() };
        let exchange = Exchange { request, result: Ok(response), elapsed: std::time::Duration::ZERO };
        let seen = seen_by_checks(&contract, &case, &exchange);
        assert_eq!(seen, sent);
        assert_eq!(seen.header("X-Auth-Token"), Some("secret-token"));
        assert!(!seen.body.is_empty());
    }

    /// The request the checks of `case` are given, judging `exchange`.
    fn seen_by_checks(contract: &Contract, case: &PlannedCase, exchange: &Exchange) -> crate::client::Request {
        let Ok(response) = &exchange.result else { unreachable!() };
        let body = ParsedBody::parse(&response.body);
        let input = CheckInput::new(contract, case, exchange, response, &body);
        input.request.clone()
    }

    #[test]
    fn check_names_match_the_case_schema() {
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        let names =
            contract.case_schema().raw.pointer("/$defs/expect/properties/skip_checks/propertyNames/enum").unwrap();
        let from_schema: Vec<&str> = names.as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        let ours: Vec<&str> = CheckKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(from_schema, ours);
        assert!(ours.iter().all(|n| CheckKind::from_name(n).is_some()));
    }
}
