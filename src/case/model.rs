//! The serde model of a case file. `schemas/case.schema.json` is checked first, so these types
//! only ever see documents the schema accepts; `deny_unknown_fields` is a second guard.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A loaded case file.
#[derive(Debug, Clone)]
pub struct CaseFile {
    /// Path as messages show it.
    pub path: String,
    /// File name without `.json`: the first part of every case name.
    pub stem: String,
    /// The file's description.
    pub description: Option<String>,
    /// The operation its cases call.
    pub operation: crate::contract::OpId,
    /// Its cases, in file order.
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCaseFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) operation: Option<String>,
    pub(crate) cases: Vec<Case>,
}

/// One hand-written case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Name, unique within its file.
    pub name: String,
    /// What it tests and why.
    pub description: String,
    /// How its request differs from the manifest's template.
    #[serde(default)]
    pub request: RequestOverrides,
    /// What a conforming server answers.
    pub expect: Expect,
    /// JSON pointer of the case inside its file, e.g. `/cases/3`.
    #[serde(skip)]
    pub pointer: String,
}

/// Changes to the template request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOverrides {
    /// The method, if not the manifest's.
    #[serde(default)]
    pub method: Option<String>,
    /// Path parameters to replace.
    #[serde(default)]
    pub path_parameters: BTreeMap<String, String>,
    /// Headers to set (replacing the template's, case-insensitively).
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// Headers to remove.
    #[serde(default)]
    pub omit_headers: Vec<String>,
    /// A JSON body (`null` included) replacing the template's.
    #[serde(default, deserialize_with = "present")]
    pub body: Option<Value>,
    /// Bytes sent as they are.
    #[serde(default)]
    pub raw_body: Option<RawBody>,
}

/// A body given as bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RawBody {
    /// UTF-8 text (variables are substituted).
    Text(String),
    /// Base64 bytes.
    Base64(String),
}

/// The expectation of a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Acceptable statuses.
    pub status: Vec<u16>,
    /// The schema to validate the body with, instead of the one bound to the status.
    #[serde(default)]
    pub schema: Option<String>,
    /// Assertions by JSON pointer.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
    /// Checks this case opts out of, with the reason.
    #[serde(default)]
    pub skip_checks: BTreeMap<String, String>,
    /// Set when the case is known to fail, with the reason.
    #[serde(default)]
    pub expected_failure: Option<ExpectedFailure>,
}

/// A known failure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// Why it fails.
    pub reason: String,
}

/// The value at `pointer` in the response body equals `equals`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// JSON pointer into the response body.
    pub pointer: String,
    /// The expected value; strings may use variables.
    pub equals: Value,
}

/// Deserializes a present field, `null` included, as `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
