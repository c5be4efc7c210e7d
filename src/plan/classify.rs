//! What the contract says of a request before it is sent: valid, or which rules it breaks.
//! The rules come from the request schemas and the manifest only; the checks read the result.

use std::fmt;

use serde_json::Value;

use crate::client::Request;
use crate::contract::{CompiledSchema, Operation, Violation};

/// The part of a request a violation is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPart {
    /// The method is not the operation's.
    Method,
    /// A path parameter.
    PathParameters,
    /// A header.
    Headers,
    /// The body.
    Body,
}

/// One rule of the contract a request breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestViolation {
    /// Where.
    pub part: RequestPart,
    /// What.
    pub violation: Violation,
}

impl fmt::Display for RequestViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = match self.part {
            RequestPart::Method => "method",
            RequestPart::PathParameters => "path",
            RequestPart::Headers => "headers",
            RequestPart::Body => "body",
        };
        write!(f, "{part} {}", self.violation)
    }
}

/// The contract's verdict on a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classification {
    /// Violations other than of credentials (method, path, headers, body).
    pub violations: Vec<RequestViolation>,
    /// Violations of credential headers (missing, empty, malformed).
    pub credential_violations: Vec<RequestViolation>,
    /// The case expects no 2xx: the request is negative for a reason the schemas cannot see
    /// (an engine that does not exist, a state that forbids it).
    pub expects_rejection: bool,
}

impl Classification {
    /// The request should be refused for some reason.
    pub fn is_negative(&self) -> bool {
        !self.violations.is_empty() || !self.credential_violations.is_empty() || self.expects_rejection
    }

    /// The request should be refused for a reason other than its credentials.
    pub fn is_negative_beyond_credentials(&self) -> bool {
        !self.violations.is_empty() || (self.expects_rejection && self.credential_violations.is_empty())
    }
}

/// Classifies `request`, whose path parameters were `path_parameters`.
pub fn classify(
    op: &Operation,
    request: &Request,
    path_parameters: &serde_json::Map<String, Value>,
    expected_statuses: &[u16],
) -> Classification {
    classify_parsed(op, request, path_parameters, expected_statuses, None)
}

/// [`classify`], given the JSON value the body is known to serialise (so it is not parsed again).
pub fn classify_parsed(
    op: &Operation,
    request: &Request,
    path_parameters: &serde_json::Map<String, Value>,
    expected_statuses: &[u16],
    body: Option<&Value>,
) -> Classification {
    let manifest = &op.manifest;
    let mut class = Classification {
        expects_rejection: !expected_statuses.iter().any(|s| (200..300).contains(s)),
        ..Classification::default()
    };
    let own_method = request.method.eq_ignore_ascii_case(&manifest.method);
    if !own_method {
        class.violations.push(RequestViolation {
            part: RequestPart::Method,
            violation: Violation {
                pointer: String::new(),
                keyword: "method".into(),
                message: format!("{} is not {}", request.method, manifest.method),
                missing: None,
            },
        });
    }
    let path = Value::Object(path_parameters.clone());
    for v in op.path_parameters().violations(&path) {
        class.violations.push(RequestViolation { part: RequestPart::PathParameters, violation: v });
    }
    let headers = op.headers_instance(request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    for v in op.request_headers().violations(&headers) {
        let credential = v.property().is_some_and(|p| op.is_credential_header(&p));
        let violation = RequestViolation { part: RequestPart::Headers, violation: v };
        if credential {
            class.credential_violations.push(violation);
        } else if own_method {
            class.violations.push(violation);
        }
    }
    if let (true, Some(schema)) = (own_method, op.request_body()) {
        match body {
            Some(value) => class.violations.extend(value_violations(schema, value)),
            None => class.violations.extend(body_violations(schema, &request.body)),
        }
    }
    class
}

fn body_violations(schema: &CompiledSchema, body: &[u8]) -> Vec<RequestViolation> {
    let not_json = |message: String| {
        vec![RequestViolation {
            part: RequestPart::Body,
            violation: Violation { pointer: String::new(), keyword: "json".into(), message, missing: None },
        }]
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return not_json("body is not UTF-8, so not JSON".into());
    };
    match serde_json::from_str::<Value>(text) {
        Err(e) if text.trim().is_empty() => not_json(format!("body is empty ({e})")),
        Err(e) => not_json(format!("body is not JSON: {e}")),
        Ok(value) => value_violations(schema, &value),
    }
}

fn value_violations(schema: &CompiledSchema, value: &Value) -> Vec<RequestViolation> {
    let violations = schema.violations(value);
    violations.into_iter().map(|violation| RequestViolation { part: RequestPart::Body, violation }).collect()
}
