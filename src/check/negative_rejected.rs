//! `negative_rejected`: a request the contract calls invalid, for a reason other than its
//! credentials (those are `auth_enforced`'s), is not accepted: its status is 4xx or 5xx.

use super::{Applies, Check, Run, CheckInput, Verdict};
use crate::plan::PlannedCase;

pub(super) const CHECK: Check = Check {
    summary: "a request the contract calls invalid is not accepted (no 1xx-3xx)",
    applies: Applies::When(applies),
    run: Run::Exchange(check),
};

fn applies(case: &PlannedCase) -> bool {
    case.class.is_negative_beyond_credentials()
}

fn check(input: &CheckInput<'_>) -> Verdict {
    if input.status() >= 400 {
        return Verdict::Passed;
    }
    let why = match input.case.class.violations.first() {
        Some(v) => format!("a rejection of a request that breaks the contract ({v})"),
        None => "a rejection (the case expects no success)".to_owned(),
    };
    Verdict::failed(why, format!("{} (accepted)", input.status()))
}
