//! `transport`: the exchange completed. Judged by the client's result, not by a response.

use super::{CheckKind, CheckResult, Verdict};
use crate::client::TransportError;

pub(super) fn failed(error: &TransportError) -> CheckResult {
    CheckResult { check: CheckKind::Transport, verdict: Verdict::failed("a complete HTTP response", error.to_string()) }
}
