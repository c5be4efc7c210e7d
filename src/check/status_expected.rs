//! `status_expected`: the status is in the case's expected set.

use super::{CheckInput, Verdict};

pub(super) fn check(input: &CheckInput<'_>) -> Verdict {
    let expected = &input.case.expect.statuses;
    if expected.contains(&input.status()) {
        return Verdict::Passed;
    }
    let list: Vec<String> = expected.iter().map(u16::to_string).collect();
    Verdict::failed(format!("status {}", list.join(" or ")), input.status().to_string())
}
