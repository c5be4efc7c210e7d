//! `transport`: the exchange completed. Judged by the client's result, not by a response.

use super::{Applies, Check, CheckInput, Run, CheckKind, CheckResult, Verdict};
use crate::client::TransportError;

pub(super) const CHECK: Check = Check {
    summary: "the exchange completed: no connection failure, timeout, reset or malformed HTTP",
    applies: Applies::Always,
    run: Run::Exchange(answered),
};

/// An exchange with a response completed: the checks only run on those (see [`failed`] for the
/// others).
fn answered(_: &CheckInput<'_>) -> Verdict {
    Verdict::Passed
}

/// The failed check of an exchange that did not complete.
pub(super) fn failed(error: &TransportError) -> CheckResult {
    CheckResult { check: CheckKind::Transport, verdict: Verdict::failed("a complete HTTP response", error.to_string()) }
}
