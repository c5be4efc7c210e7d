//! `auth_enforced`: a request whose credential headers are missing or invalid is not accepted.

use super::{CheckInput, Verdict};
use crate::plan::PlannedCase;

pub(super) fn applies(case: &PlannedCase) -> bool {
    !case.class.credential_violations.is_empty()
}

pub(super) fn check(input: &CheckInput<'_>) -> Verdict {
    if input.status() >= 400 {
        return Verdict::Passed;
    }
    let why = input.case.class.credential_violations.first().map(ToString::to_string).unwrap_or_default();
    Verdict::failed(
        format!("a rejection of a request without valid credentials ({why})"),
        format!("{} (accepted)", input.status()),
    )
}
