//! What every check reads: the case, the request as sent, the response, its body parsed once, and
//! the contract.

use serde_json::Value;

use super::{CheckKind, StateEvidence};
use crate::client::{Exchange, Request, Response};
use crate::contract::{Contract, Operation, ResponseSpec, StateModel};
use crate::plan::PlannedCase;
use crate::stateful::Trace;

/// A response body, parsed once for all checks.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedBody {
    /// No bytes.
    Empty,
    /// Valid JSON.
    Json(Value),
    /// Not JSON (or not UTF-8): the parser's message.
    NotJson(String),
}

impl ParsedBody {
    /// Parses `bytes`.
    pub fn parse(bytes: &[u8]) -> ParsedBody {
        if bytes.is_empty() {
            return ParsedBody::Empty;
        }
        match serde_json::from_slice(bytes) {
            Ok(value) => ParsedBody::Json(value),
            Err(e) => ParsedBody::NotJson(e.to_string()),
        }
    }

    /// The JSON value, if the body was JSON.
    pub fn json(&self) -> Option<&Value> {
        match self {
            ParsedBody::Json(v) => Some(v),
            _ => None,
        }
    }
}

/// The inputs of one check.
#[derive(Debug)]
pub struct CheckInput<'a> {
    /// The contract.
    pub contract: &'a Contract,
    /// The operation the case calls.
    pub operation: &'a Operation,
    /// What the engine's state says of a refusal, when the runner read it.
    pub state: Option<&'a StateEvidence>,
    /// The case: its names, classification and expectation. Not its request: the runner moves
    /// that into the exchange before sending (only the method is left here); read
    /// [`CheckInput::request`].
    pub case: &'a PlannedCase,
    /// The request as it was sent (method, URL, headers, body; signed, when the run signs).
    pub request: &'a Request,
    /// The response.
    pub response: &'a Response,
    /// Its body, parsed.
    pub body: &'a ParsedBody,
    /// Only the API page's statuses count as documented.
    pub strict_statuses: bool,
}

impl<'a> CheckInput<'a> {
    /// The inputs of the checks of `case`, judging `response`, the answer of `exchange` (without
    /// state evidence, not strict).
    pub(crate) fn new(
        contract: &'a Contract,
        case: &'a PlannedCase,
        exchange: &'a Exchange,
        response: &'a Response,
        body: &'a ParsedBody,
    ) -> CheckInput<'a> {
        let operation = contract.operation(case.operation);
        let request = &exchange.request;
        CheckInput { contract, operation, state: None, case, request, response, body, strict_statuses: false }
    }

    /// The manifest's entry for the method sent and the status received.
    pub fn response_spec(&self) -> Option<&ResponseSpec> {
        self.operation.manifest.response_for(&self.request.method, self.response.status, self.strict_statuses)
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.response.status
    }
}

/// The inputs of a stateful property: the steps of a stateful case, the contract and its state
/// model, and the engines the run names.
#[derive(Debug)]
pub struct TraceInput<'a> {
    /// The contract.
    pub contract: &'a Contract,
    /// Its state model (a contract without one has no stateful case).
    pub model: &'a StateModel,
    /// What the case sent and what came back.
    pub trace: &'a Trace,
    /// Why a property has nothing to judge in this case, when the case knows (an engine it
    /// needs is not named, its precondition did not hold): the property is skipped with it.
    pub unjudged: &'a [(CheckKind, String)],
}

impl TraceInput<'_> {
    /// The violations of the body of step `index` against the body schema the contract binds
    /// to its operation and status (none when nothing is bound or the body is not JSON).
    pub fn schema_violations(&self, operation: &str, index: usize) -> Vec<crate::contract::Violation> {
        let step = &self.trace.steps[index];
        let (Some(op), Some(status), Some(body)) = (self.contract.by_name(operation), step.status, &step.body) else {
            return Vec::new();
        };
        let schema = op.manifest.response_for(&op.manifest.method, status, false).and_then(|spec| spec.body.as_deref());
        schema.and_then(|name| self.contract.schema(name)).map(|s| s.violations(body)).unwrap_or_default()
    }

    /// The job status a job read's answer gives, at the state model's pointer.
    pub fn job_status<'s>(&self, step: &'s crate::stateful::Step) -> Option<&'s str> {
        step.field(&self.model.job.status).and_then(Value::as_str)
    }

    /// Whether a job read shows the job still running (one of the model's running statuses).
    pub fn job_running(&self, step: &crate::stateful::Step) -> bool {
        self.job_status(step).is_some_and(|status| self.model.running_job_statuses.iter().any(|r| r == status))
    }

    /// The reason a property has nothing to judge here, if the case gives one.
    pub fn unjudged(&self, check: CheckKind) -> Option<String> {
        self.unjudged.iter().find(|(k, _)| *k == check).map(|(_, why)| why.clone())
    }
}
