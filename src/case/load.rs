//! Loading case files: parse, validate against `case.schema.json`, deserialize, then the checks
//! a schema cannot express (unique names, known variables and schemas, decodable base64). Every
//! file is loaded and every error collected, so one run shows all that is wrong.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::Value;

use super::model::RawCaseFile;
use super::{CaseError, CaseFile, RawBody, vars};
use crate::contract::{Contract, MAX_VALIDATED_VALUES, count_values};
use crate::files::{FileSource, Kind, SourceFile};

/// The most cases one file may hold.
pub(crate) const CASES_PER_FILE: usize = 10_000;
/// The most problems kept and shown for one file; the rest are counted.
pub(crate) const ERRORS_PER_FILE: usize = 50;

/// Loads every case file of `source`, or every error found in any of them (at most
/// [`ERRORS_PER_FILE`] per file, then a count).
pub fn load_cases(source: &FileSource, contract: &Contract) -> Result<Vec<CaseFile>, Vec<CaseError>> {
    let files = source.read(Kind::Cases).map_err(|e| vec![CaseError::from(e)])?;
    if files.is_empty() {
        return Err(vec![CaseError::Empty(source.to_string())]);
    }
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for file in &files {
        match load_file(file, contract) {
            Ok(case_file) => loaded.push(case_file),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    if errors.is_empty() { Ok(loaded) } else { Err(errors) }
}

fn load_file(file: &SourceFile, contract: &Contract) -> Result<CaseFile, Vec<CaseError>> {
    let path = &file.display;
    let doc: Value = serde_json::from_str(&file.text).map_err(|e| {
        vec![CaseError::Syntax { path: path.clone(), line: e.line(), column: e.column(), message: e.to_string() }]
    })?;
    // The validator collects every violation before it yields one: bound their number first.
    if let Some(count) = doc.get("cases").and_then(Value::as_array).map(Vec::len).filter(|n| *n > CASES_PER_FILE) {
        let message = format!("{count} cases, more than the limit of {CASES_PER_FILE} in one file: split the file");
        return Err(vec![CaseError::Schema { path: path.clone(), pointer: "/cases".into(), message }]);
    }
    let (violations, total) = schema_violations(contract, &doc);
    if !violations.is_empty() {
        let mut errors: Vec<CaseError> = violations
            .into_iter()
            .map(|v| CaseError::Schema { path: path.clone(), pointer: v.pointer, message: v.message })
            .collect();
        if total > errors.len() {
            errors.push(CaseError::More { path: path.clone(), count: total - errors.len() });
        }
        return Err(errors);
    }
    let raw: RawCaseFile = serde_json::from_value(doc.clone())
        .map_err(|e| vec![CaseError::Schema { path: path.clone(), pointer: String::new(), message: e.to_string() }])?;
    let mut cases = raw.cases;
    for (i, case) in cases.iter_mut().enumerate() {
        case.pointer = format!("/cases/{i}");
    }
    let mut errors = Vec::new();
    let operation = match raw.operation.as_deref() {
        None => contract.default_operation().id,
        Some(name) => match contract.by_name(name) {
            Some(op) => op.id,
            None => {
                errors.push(CaseError::UnknownOperation {
                    path: path.clone(),
                    name: name.to_owned(),
                    known: contract.operation_names().join(", "),
                });
                contract.default_operation().id
            }
        },
    };
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut more = 0;
    let manifest = &contract.operation(operation).manifest;
    let path_parameters = manifest.path_parameter_names();
    for (case, case_doc) in cases.iter().zip(doc["cases"].as_array().into_iter().flatten()) {
        if let Some(first) = seen.insert(&case.name, &case.pointer) {
            errors.push(CaseError::DuplicateName {
                path: path.clone(),
                pointer: case.pointer.clone(),
                name: case.name.clone(),
                first: first.to_owned(),
            });
        }
        check_case(path, case, case_doc, contract, &mut errors);
        for key in case.request.path_parameters.keys().filter(|k| !path_parameters.contains(&k.as_str())) {
            errors.push(CaseError::Schema {
                path: path.clone(),
                pointer: format!("{}/request/path_parameters/{}", case.pointer, vars::escape_pointer(key)),
                message: format!("`{key}` is not a parameter of the path `{}`", manifest.path),
            });
        }
        if errors.len() > ERRORS_PER_FILE {
            more += errors.len() - ERRORS_PER_FILE;
            errors.truncate(ERRORS_PER_FILE);
        }
    }
    if more > 0 {
        errors.push(CaseError::More { path: path.clone(), count: more });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let stem = file.name.strip_suffix(".json").unwrap_or(&file.name).to_owned();
    Ok(CaseFile { path: path.clone(), stem, description: raw.description, operation, cases })
}

fn check_case(path: &str, case: &super::Case, case_doc: &Value, contract: &Contract, errors: &mut Vec<CaseError>) {
    let mut bad = Vec::new();
    if let Some(request) = case_doc.get("request") {
        vars::check(request, &format!("{}/request", case.pointer), &mut bad);
        let size = vars::expanded_size(request);
        if size > vars::MAX_EXPANDED_BYTES {
            bad.push((
                format!("{}/request", case.pointer),
                format!(
                    "the request's strings expand to {size} bytes, more than the {} one case may build",
                    vars::MAX_EXPANDED_BYTES
                ),
            ));
        }
    }
    if let Some(assertions) = case_doc.pointer("/expect/assertions") {
        vars::check(assertions, &format!("{}/expect/assertions", case.pointer), &mut bad);
    }
    errors.extend(bad.into_iter().map(|(pointer, message)| CaseError::Variable {
        path: path.to_owned(),
        pointer,
        message,
    }));
    if let Some(name) = &case.expect.schema {
        if contract.schema(name).is_none() {
            errors.push(CaseError::UnknownSchema {
                path: path.to_owned(),
                pointer: format!("{}/expect/schema", case.pointer),
                name: name.clone(),
                known: contract.schema_names().collect::<Vec<_>>().join(", "),
            });
        }
    }
    for (name, value) in &case.request.headers {
        let pointer = format!("{}/request/headers/{}", case.pointer, vars::escape_pointer(name));
        if let Some(message) = unsendable_header(name, value.as_str().unwrap_or_default()) {
            errors.push(CaseError::Header { path: path.to_owned(), pointer, message });
        }
    }
    for (i, name) in case.request.omit_headers.iter().enumerate() {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            errors.push(CaseError::Header {
                path: path.to_owned(),
                pointer: format!("{}/request/omit_headers/{i}", case.pointer),
                message: format!("`{}` is not a header name {TOKEN_RULE}", name.escape_debug()),
            });
        }
    }
    if let Some(RawBody::Base64(text)) = &case.request.raw_body {
        if let Err(e) = base64::engine::general_purpose::STANDARD.decode(text) {
            errors.push(CaseError::Base64 {
                path: path.to_owned(),
                pointer: format!("{}/request/raw_body/base64", case.pointer),
                message: e.to_string(),
            });
        }
    }
}

/// The file's violations of `case.schema.json` (the first [`ERRORS_PER_FILE`]) and how many there
/// are, validated one case at a time, so that memory follows the largest case rather than the
/// file: the top-level members with the first case, then each other case alone.
fn schema_violations(contract: &Contract, doc: &Value) -> (Vec<crate::contract::Violation>, usize) {
    let schema = contract.case_schema();
    let (Some(object), Some(cases)) = (doc.as_object(), doc.get("cases").and_then(Value::as_array)) else {
        return schema.violations_limited(doc, ERRORS_PER_FILE);
    };
    if schema.is_valid(doc) {
        return (Vec::new(), 0);
    }
    let mut shell: serde_json::Map<String, Value> =
        object.iter().filter(|(k, _)| *k != "cases").map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut kept = Vec::new();
    let mut total = 0;
    if cases.is_empty() {
        shell.insert("cases".into(), Value::Array(Vec::new()));
        return schema.violations_limited(&Value::Object(shell), ERRORS_PER_FILE);
    }
    for (i, case) in cases.iter().enumerate() {
        let at = format!("/cases/{i}");
        let values = count_values(case, MAX_VALIDATED_VALUES);
        let found = if values > MAX_VALIDATED_VALUES {
            let message = format!("the case holds more than {MAX_VALIDATED_VALUES} JSON values");
            vec![crate::contract::Violation { pointer: at.clone(), keyword: "size".into(), message, missing: None }]
        } else {
            shell.insert("cases".into(), Value::Array(vec![case.clone()]));
            let one = Value::Object(std::mem::take(&mut shell));
            let found = schema.violations(&one);
            if let Value::Object(back) = one {
                shell = back;
            }
            found
                .into_iter()
                .filter_map(|mut v| {
                    let rest = v.pointer.strip_prefix("/cases/0");
                    match rest {
                        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                            v.pointer = format!("{at}{rest}");
                            Some(v)
                        }
                        // the top level's problems, said once, with the first case
                        _ => (i == 0).then_some(v),
                    }
                })
                .collect()
        };
        total += found.len();
        kept.extend(found.into_iter().take(ERRORS_PER_FILE.saturating_sub(kept.len())));
    }
    (kept, total)
}

const TOKEN_RULE: &str =
    "(an HTTP token: letters, digits and !#$%&'*+-.^_`|~, at least one; RFC 9110 section 5.6.2), so it cannot be sent";

/// Why a header of a case file could never be sent, if it could not: HTTP's rules for a field
/// name (a token) and a field value (no control character but tab; RFC 9110 section 5.5), as the
/// client applies them. A variable's value is checked when it is substituted, not here.
fn unsendable_header(name: &str, value: &str) -> Option<String> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Some(format!("`{}` is not a header name {TOKEN_RULE}", name.escape_debug()));
    }
    if http::HeaderValue::from_str(value).is_err() {
        let bad = value
            .chars()
            .find(|c| c.is_control() && *c != '\t')
            .map_or_else(String::new, |c| format!(" ({})", c.escape_debug()));
        return Some(format!(
            "the value of `{name}` holds a control character{bad}: a header value may not (RFC 9110 section 5.5), so it cannot be sent"
        ));
    }
    None
}
