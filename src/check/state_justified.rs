//! `state_justified`: a valid side-effecting request (a valid Retry) that was refused is refused
//! for a reason the engine's state gives: a job of the engine was running, or its status was not
//! one a Retry may be accepted in. The runner reads the state through the sibling operations
//! around the exchange (`stateful`) and hands the finding over as [`StateEvidence`]; this check
//! only reads it, so it stays pure.

use super::{Applies, Check, Run, CheckInput, StateEvidence, Verdict};

pub(super) const CHECK: Check = Check {
    summary: "a refused valid Retry was refused for the engine's state (a job running, or a status that forbids it)",
    applies: Applies::WithStateEvidence,
    run: Run::Exchange(check),
};

fn check(input: &CheckInput<'_>) -> Verdict {
    match input.state {
        // Not reached: the check applies only with evidence. Kept so the function is total.
        None => Verdict::Skipped("the engine's state was not read".into()),
        Some(StateEvidence { justified: true, .. }) => Verdict::Passed,
        Some(StateEvidence { justified: false, reason }) => Verdict::failed(
            format!(
                "a refusal ({}) justified by the engine's state: a job running, or a status that forbids it",
                input.status()
            ),
            reason.clone(),
        ),
    }
}
