//! `body_schema`: the body parses as JSON and validates against the schema bound to its status
//! (or the case's override); each violation with its instance pointer, keyword and message.

use super::{Applies, Check, Run, CheckInput, ParsedBody, Verdict};

/// At most this many violations are listed.
const MAX_LISTED: usize = 20;

pub(super) const CHECK: Check = Check {
    summary: "the body is JSON and validates against the schema bound to its status",
    applies: Applies::Always,
    run: Run::Exchange(check),
};

fn check(input: &CheckInput<'_>) -> Verdict {
    let name = match (&input.case.expect.schema, input.response_spec()) {
        (Some(name), _) => name.clone(),
        (None, Some(spec)) => match &spec.body {
            Some(name) => name.clone(),
            None => {
                return Verdict::Skipped(format!("no body schema is bound to status {}", spec.status));
            }
        },
        (None, None) => {
            return Verdict::Skipped(format!("no schema is bound to status {}", input.status()));
        }
    };
    let Some(schema) = input.contract.schema(&name) else {
        return Verdict::Skipped(format!("schema {name} is not in the contract"));
    };
    let value = match input.body {
        ParsedBody::Json(value) => value,
        ParsedBody::Empty => {
            return Verdict::failed(format!("a JSON body matching {name}"), "an empty body");
        }
        ParsedBody::NotJson(error) => {
            return Verdict::failed(
                format!("a JSON body matching {name}"),
                format!("a body that is not JSON ({error}){}", encoding_note(input)),
            );
        }
    };
    let violations = schema.violations(value);
    if violations.is_empty() {
        return Verdict::Passed;
    }
    let first = violations[0].to_string();
    let count = violations.len();
    let mut details: Vec<String> = violations.iter().take(MAX_LISTED).map(ToString::to_string).collect();
    if count > MAX_LISTED {
        details.push(format!("… and {} more", count - MAX_LISTED));
    }
    let actual = if count == 1 { first } else { format!("{count} violations, first {first}") };
    Verdict::Failed { expected: format!("a body matching {name}"), actual, details }
}

/// A body the tool cannot read may be encoded: name a Content-Encoding it does not decode (it
/// sends no Accept-Encoding, so a conforming server uses none; RFC 9110 section 12.5.3).
fn encoding_note(input: &CheckInput<'_>) -> String {
    match input.response.header("content-encoding").map(str::trim) {
        Some(coding) if !coding.is_empty() && !coding.eq_ignore_ascii_case("identity") => format!(
            "; it was sent with Content-Encoding: {coding}, which this tool does not decode (the request asked for none)"
        ),
        _ => String::new(),
    }
}
