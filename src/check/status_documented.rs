//! `status_documented`: the status is one the manifest documents for the method sent.

use super::{Applies, Check, Run, CheckInput, Verdict};

pub(super) const CHECK: Check = Check {
    summary: "the status is one the manifest documents for the method",
    applies: Applies::Always,
    run: Run::Exchange(check),
};

fn check(input: &CheckInput<'_>) -> Verdict {
    if input.response_spec().is_some() {
        return Verdict::Passed;
    }
    let documented: Vec<String> = input
        .operation
        .manifest
        .documented_for(&input.request.method, input.strict_statuses)
        .map(|r| r.status.to_string())
        .collect();
    let scope = if input.strict_statuses { " (strict: API page only)" } else { "" };
    Verdict::failed(format!("a documented status{scope}: one of {}", documented.join(", ")), input.status().to_string())
}
