//! `body_schema`: the body parses as JSON and validates against the schema bound to its status
//! (or the case's override); each violation with its instance pointer, keyword and message.

use super::{Applies, Check, CheckInput, ParsedBody, Run, Verdict};
use crate::client::coding::{self, CodingError};

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
            return Verdict::failed(format!("a JSON body matching {name}"), not_json(input, error));
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

/// What a body that is not JSON is. It may be encoded: then say in what, and why it was not
/// decoded. The validation proxy judges an answer decoded when its request accepted the coding
/// and the tool decodes it ([`coding::decode`]), so an encoded body reaches this check when its
/// stream is not valid in its coding (the client cannot read it either), or when it answers
/// `run`, which decodes nothing and sends no Accept-Encoding (RFC 9110 section 12.5.3 lets a
/// server then pick any coding, but servers send none).
fn not_json(input: &CheckInput<'_>, error: &str) -> String {
    let codings = coding::content_codings(input.response);
    if codings.is_empty() {
        return format!("a body that is not JSON ({error})");
    }
    match coding::decode(input.request, input.response, NOTE_CAP) {
        Err(CodingError::Corrupt { coding, reason }) => {
            format!("a body that is not a valid {coding} stream, which its Content-Encoding says it is ({reason})")
        }
        Err(e) => format!("a body that is not JSON ({error}); {e}"),
        Ok(_) => {
            let asked = input.request.header("accept-encoding").map_or_else(
                || " (the request sent no Accept-Encoding)".to_owned(),
                |a| format!(" (the request's Accept-Encoding: {a})"),
            );
            format!(
                "a body that is not JSON ({error}); it was sent with Content-Encoding: {}, which `run` does not decode{asked}",
                codings.join(", ")
            )
        }
    }
}

/// How much of an encoded body the note decodes to say whether its stream is valid.
const NOTE_CAP: usize = 1 << 20;
