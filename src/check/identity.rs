//! `identity`: a response of the manifest's identity status names the resource of the path —
//! for the Retry and the engine details, a 200 body's `id` equals the `engine_id` sent.

use serde_json::Value;

use super::{Applies, Check, Run, CheckInput, Verdict};

pub(super) const CHECK: Check = Check {
    summary: "a 200 body's id equals the engine_id of the path",
    applies: Applies::Always,
    run: Run::Exchange(check),
};

fn check(input: &CheckInput<'_>) -> Verdict {
    let Some(rule) = &input.operation.manifest.identity else {
        return Verdict::Skipped(format!("operation {} names no resource in its answer", input.operation.name()));
    };
    if input.status() != rule.status {
        return Verdict::Skipped(format!("status {} is not {}", input.status(), rule.status));
    }
    let Some(actual) = input.body.json().and_then(|body| body.pointer(&rule.pointer)) else {
        return Verdict::Skipped(format!("the body has no {} (body_schema judges that)", rule.pointer));
    };
    let Some(expected) = input.case.path_parameters.get(&rule.path_parameter) else {
        return Verdict::Skipped(format!("the request has no path parameter {}", rule.path_parameter));
    };
    if actual == expected {
        Verdict::Passed
    } else {
        Verdict::failed(format!("{} = {expected} (the {} sent)", rule.pointer, rule.path_parameter), show(actual))
    }
}

fn show(value: &Value) -> String {
    crate::contract::truncate(&value.to_string(), 120)
}
