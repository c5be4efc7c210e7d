//! `status_expected`: the status is in the case's expected set.

use super::{Applies, Check, Run, CheckInput, Verdict};

pub(super) const CHECK: Check = Check {
    summary: "the status is in the case's expected set",
    applies: Applies::Always,
    run: Run::Exchange(check),
};

fn check(input: &CheckInput<'_>) -> Verdict {
    let expected = &input.case.expect.statuses;
    if expected.contains(&input.status()) {
        return Verdict::Passed;
    }
    let list: Vec<String> = expected.iter().map(u16::to_string).collect();
    Verdict::failed(format!("status {}", list.join(" or ")), input.status().to_string())
}
