//! `no_server_error`: an invalid request is the client's fault, so it is answered 4xx; a 5xx
//! means the server failed on input it should have rejected.

use super::{Applies, Check, Run, CheckInput, Verdict};
use crate::plan::PlannedCase;

pub(super) const CHECK: Check = Check {
    summary: "an invalid request is answered 4xx, not 5xx",
    applies: Applies::When(applies),
    run: Run::Exchange(check),
};

fn applies(case: &PlannedCase) -> bool {
    case.class.is_negative()
}

fn check(input: &CheckInput<'_>) -> Verdict {
    if input.status() < 500 {
        Verdict::Passed
    } else {
        Verdict::failed("a 4xx for an invalid request", format!("{} (server error)", input.status()))
    }
}
