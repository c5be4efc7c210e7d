//! Joining case files with the contract into planned cases.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use super::{Classification, Filter, classify};
use crate::case::vars::{self, Unset, Variables};
use crate::case::{CaseFile, RawBody};
use crate::client::Request;
use crate::contract::{Contract, OpId, Operation};

/// Path parameters are encoded as whole segments: everything but RFC 3986's unreserved
/// characters, so a `/` or `?` in a value cannot change the path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What a plan is built with.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Base URL of the target, e.g. `http://127.0.0.1:8080`.
    pub target: String,
    /// The variables' values.
    pub variables: Variables,
    /// Which cases run.
    pub filter: Filter,
    /// A case whose credentials are missing or invalid must get the gateway's status alone.
    pub strict_auth: bool,
}

/// What a case expects, with variables filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedExpect {
    /// Acceptable statuses.
    pub statuses: Vec<u16>,
    /// Schema override.
    pub schema: Option<String>,
    /// (pointer, expected value) pairs.
    pub assertions: Vec<(String, Value)>,
}

/// Where a case comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A case file.
    HandWritten,
    /// A generator.
    Generated {
        /// Its family.
        family: crate::generate::Family,
        /// The mutation kind, e.g. `action_wrong_type`.
        mutation: String,
        /// The mutation in words.
        description: String,
        /// The run's seed.
        seed: u64,
        /// Its index in the run.
        index: usize,
    },
    /// The stateful phase: several requests, judged together.
    Stateful(StatefulOrigin),
    /// An exchange the validation proxy saw pass between a client and the API (`crate::proxy`):
    /// the request is the client's, not the suite's, so it is judged too (`request_conforms`).
    Observed,
}

/// Which stateful case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatefulOrigin {
    /// The case of one stateful property (all of them judge the one scenario the phase runs).
    Property(crate::check::CheckKind),
    /// A sequence drawn from the reference model.
    Sequence {
        /// The run's seed.
        seed: u64,
        /// Its index among the sequences.
        index: usize,
    },
}

/// A case ready to send.
#[derive(Debug, Clone)]
pub struct PlannedCase {
    /// Stable name, `file::case`.
    pub name: String,
    /// The operation it calls.
    pub operation: OpId,
    /// A conforming server may accept it, and accepting changes something: the operation is not
    /// safe and the expected statuses hold a 2xx (a valid Retry starts a real job).
    pub side_effecting: bool,
    /// The source file, as messages show it.
    pub source: String,
    /// The suite: the file's stem.
    pub suite: String,
    /// What the case tests.
    pub description: String,
    /// The request, exactly as it is sent.
    pub request: Request,
    /// Path parameter values, before encoding.
    pub path_parameters: Map<String, Value>,
    /// What the contract says of the request.
    pub class: Classification,
    /// What a conforming answer looks like.
    pub expect: PlannedExpect,
    /// Checks the case opts out of, with the reason.
    pub skip_checks: BTreeMap<String, String>,
    /// Set when the case is known to fail.
    pub expected_failure: Option<String>,
    /// Hand-written or generated.
    pub origin: Origin,
    /// Set when the case must not be sent, with the reason (the real-endpoint guard).
    pub skip: Option<String>,
}

/// A case that could not be built, and why (a generator drew no value it could use): it is
/// reported errored under its name, never dropped.
#[derive(Debug, Clone)]
pub struct Unbuilt {
    /// Stable name, as the case would have had.
    pub name: String,
    /// The suite.
    pub suite: String,
    /// The source, as messages show it.
    pub source: String,
    /// Where it came from.
    pub origin: Origin,
    /// Why it could not be built.
    pub reason: String,
}

/// A case needs a variable the run does not set.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: case `{case}` at `{pointer}` uses ${{{variable}}}, which is not set{hint}")]
pub struct PlanError {
    /// The case file.
    pub path: String,
    /// The case's pointer.
    pub pointer: String,
    /// The case's name.
    pub case: String,
    /// The unset variable.
    pub variable: String,
    /// How to set it.
    pub hint: String,
}

/// Plans every case `config.filter` selects, in file order.
pub fn plan(contract: &Contract, files: &[CaseFile], config: &PlanConfig) -> Result<Vec<PlannedCase>, Vec<PlanError>> {
    let mut planned = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        for case in &file.cases {
            let name = format!("{}::{}", file.stem, case.name);
            if !config.filter.matches(&name) {
                continue;
            }
            match plan_case(contract, file, case, name, config) {
                Ok(p) => planned.push(p),
                Err(Unset(variable)) => errors.push(PlanError {
                    path: file.path.clone(),
                    pointer: case.pointer.clone(),
                    case: case.name.clone(),
                    hint: hint(&variable),
                    variable,
                }),
            }
        }
    }
    if errors.is_empty() { Ok(planned) } else { Err(errors) }
}

/// How to set `variable`, as words to append to a message: ` (set --engine-id or CSE_ENGINE_ID)`.
pub fn hint(variable: &str) -> String {
    match variable {
        "token" => " (set CSE_AUTH_TOKEN or --token-file)".into(),
        user if user.starts_with(vars::USER_PREFIX) => {
            format!(" (set --var {}=VALUE)", &user[vars::USER_PREFIX.len()..])
        }
        other => format!(" (set --{} or CSE_{})", other.replace('_', "-"), other.to_uppercase()),
    }
}

fn plan_case(
    contract: &Contract,
    file: &CaseFile,
    case: &crate::case::Case,
    name: String,
    config: &PlanConfig,
) -> Result<PlannedCase, Unset> {
    let vars = &config.variables;
    let op = contract.operation(file.operation);
    let manifest = &op.manifest;
    let template = &manifest.request.template;
    let overrides = &case.request;

    // A template value the case replaces is not expanded: a case that gives its own job_id
    // needs no ${job_id}.
    let mut path_parameters = Map::new();
    for (key, value) in &template.path_parameters {
        if !overrides.path_parameters.contains_key(key) {
            path_parameters.insert(key.clone(), vars::expand_value(value, vars)?);
        }
    }
    for (key, value) in &overrides.path_parameters {
        path_parameters.insert(key.clone(), Value::String(vars::expand(value, vars)?));
    }
    let url = url(&config.target, &manifest.path, &path_parameters);

    let mut headers: Vec<(String, String)> = Vec::new();
    let replaced =
        |key: &str| overrides.headers.keys().chain(&overrides.omit_headers).any(|o| o.eq_ignore_ascii_case(key));
    let template_headers = template.headers.iter().filter(|(key, _)| !replaced(key));
    for (key, value) in template_headers.chain(overrides.headers.iter()) {
        let value = vars::expand(value.as_str().unwrap_or_default(), vars)?;
        match headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(key)) {
            Some(slot) => slot.1 = value,
            None => headers.push((key.clone(), value)),
        }
    }
    headers.retain(|(n, _)| !overrides.omit_headers.iter().any(|o| o.eq_ignore_ascii_case(n)));

    let body = match (&overrides.raw_body, &overrides.body) {
        (Some(RawBody::Text(text)), _) => Bytes::from(vars::expand(text, vars)?),
        (Some(RawBody::Base64(text)), _) => {
            Bytes::from(base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default())
        }
        (None, Some(body)) => Bytes::from(serde_json::to_vec(&vars::expand_value(body, vars)?).unwrap_or_default()),
        (None, None) => match &template.body {
            Some(body) => Bytes::from(serde_json::to_vec(&vars::expand_value(body, vars)?).unwrap_or_default()),
            None => Bytes::new(),
        },
    };

    let method = overrides.method.clone().unwrap_or_else(|| manifest.method.clone());
    let request = Request { method, url, headers, body };
    let expect = PlannedExpect {
        statuses: case.expect.status.clone(),
        schema: case.expect.schema.clone(),
        assertions: case
            .expect
            .assertions
            .iter()
            .map(|a| Ok((a.pointer.clone(), vars::expand_value(&a.equals, vars)?)))
            .collect::<Result<_, Unset>>()?,
    };
    let mut expect = expect;
    let class = classify(op, &request, &path_parameters, &expect.statuses);
    if config.strict_auth && !class.credential_violations.is_empty() {
        let gateway = manifest.request.credential_failure_status;
        if expect.statuses.contains(&gateway) {
            expect.statuses.retain(|s| *s == gateway);
        }
    }
    Ok(PlannedCase {
        name,
        operation: op.id,
        side_effecting: is_side_effecting(op, &expect.statuses),
        source: file.path.clone(),
        suite: file.stem.clone(),
        description: case.description.clone(),
        request,
        path_parameters,
        class,
        expect,
        skip_checks: case.expect.skip_checks.clone(),
        expected_failure: case.expect.expected_failure.as_ref().map(|f| f.reason.clone()),
        origin: Origin::HandWritten,
        skip: None,
    })
}

/// `text` as a path segment carries it (what [`url`] puts in place of a parameter).
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// `target` joined with `template`, each `{name}` replaced by its encoded value.
pub fn url(target: &str, template: &str, params: &Map<String, Value>) -> String {
    let mut path = template.to_owned();
    for (key, value) in params {
        let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        path = path.replace(&format!("{{{key}}}"), &encode_segment(&text));
    }
    format!("{}{path}", target.trim_end_matches('/'))
}

/// Whether a request of `op` expecting `statuses` may change something: the operation is not
/// safe and a conforming server may accept it (a valid Retry starts a real job).
pub fn is_side_effecting(op: &Operation, statuses: &[u16]) -> bool {
    !op.manifest.is_safe() && statuses.iter().any(|s| (200..300).contains(s))
}
