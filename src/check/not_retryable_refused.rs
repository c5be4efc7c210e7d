//! `not_retryable_refused`: a Retry of an engine that is not in a failed state is refused (one of
//! the state model's refusal statuses, with a conformant error body, which `body_schema` judges),
//! and the engine's state is the same afterwards: its status and newest job do not change. A
//! stateful property.

use super::{Applies, Check, Run, TraceInput, Verdict, findings};
use crate::stateful::{Act, Role};

pub(super) const CHECK: Check = Check {
    summary: "a Retry of an engine that is not in a failed state is refused, and the engine's state stays as it was",
    applies: Applies::Stateful,
    run: Run::Trace(check),
};

fn check(input: &TraceInput<'_>) -> Verdict {
    let (model, trace) = (input.model, input.trace);
    let state = |index: usize| {
        let step = &trace.steps[index];
        (step.field(&model.engine.status).cloned(), step.id_at(&model.engine.latest_job_id))
    };
    let reads: Vec<usize> =
        trace.engine_reads(Role::NotRetryable).filter(|(_, s)| s.status == Some(200)).map(|(i, _)| i).collect();
    let mut problems = Vec::new();
    let mut judged = 0;
    for (index, step) in trace.of(Role::NotRetryable).filter(|(_, s)| s.act == Act::Retry) {
        let Some(status) = step.status else { continue };
        judged += 1;
        if !model.refusal_statuses.contains(&status) {
            let refusals: Vec<String> = model.refusal_statuses.iter().map(u16::to_string).collect();
            problems.push(format!(
                "{}: answered {status}, not a refusal ({}): a Retry of an engine with nothing to retry was not refused",
                trace.name(index),
                refusals.join(", ")
            ));
        }
    }
    if let Some(&first) = reads.first() {
        let before = state(first);
        for &later in &reads[1..] {
            let after = state(later);
            if after != before {
                problems.push(format!(
                    "{}: the engine is {} (latest job {}), but {} showed {} (latest job {}): its state changed",
                    trace.name(later),
                    shown(after.0.as_ref()),
                    after.1.as_deref().unwrap_or("none"),
                    trace.name(first),
                    shown(before.0.as_ref()),
                    before.1.as_deref().unwrap_or("none"),
                ));
            }
        }
    }
    findings(
        "a Retry of the not-retryable engine refused, its state unchanged",
        problems,
        judged,
        "no Retry of the not-retryable engine was sent",
    )
}

fn shown(value: Option<&serde_json::Value>) -> String {
    value.map_or_else(|| "absent".to_owned(), |v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
}
