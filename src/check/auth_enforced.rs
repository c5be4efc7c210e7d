//! `auth_enforced`: a request whose credential headers are missing or invalid is not accepted.

use super::{Applies, Check, Run, CheckInput, Verdict};
use crate::plan::PlannedCase;

pub(super) const CHECK: Check = Check {
    summary: "a request without valid credentials is not accepted (no 1xx-3xx)",
    applies: Applies::When(applies),
    run: Run::Exchange(check),
};

fn applies(case: &PlannedCase) -> bool {
    !case.class.credential_violations.is_empty()
}

fn check(input: &CheckInput<'_>) -> Verdict {
    if input.status() >= 400 {
        return Verdict::Passed;
    }
    let why = input.case.class.credential_violations.first().map(ToString::to_string).unwrap_or_default();
    Verdict::failed(
        format!("a rejection of a request without valid credentials ({why})"),
        format!("{} (accepted)", input.status()),
    )
}
