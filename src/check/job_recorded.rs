//! `job_recorded`: the job an accepted Retry says it started exists. Every read of it that
//! follows finds it (200), with that id, `engineId` the engine's, and a type and status the job
//! body's schema allows; and an id no job has is never found. A stateful property: it judges the
//! steps of a stateful case.

use super::{Applies, Check, Run, TraceInput, Verdict, findings};
use crate::stateful::Act;

pub(super) const CHECK: Check = Check {
    summary: "the jobId of an accepted Retry is found by show_job, with that id, the engine's id and a documented type and status",
    applies: Applies::Stateful,
    run: Run::Trace(check),
};

fn check(input: &TraceInput<'_>) -> Verdict {
    let (model, trace) = (input.model, input.trace);
    let fields = &model.job;
    let lag = i64::try_from(model.read_lag_ms).unwrap_or(i64::MAX);
    let mut problems = Vec::new();
    let mut judged = 0;
    for accepted in trace.accepted(model) {
        let started = trace.name(accepted.index);
        for (index, read) in trace.job_reads(accepted.step.role, &accepted.job, accepted.index) {
            let at = trace.name(index);
            match read.status {
                Some(200) => {
                    judged += 1;
                    let id = read.id_at(&fields.id);
                    if id.as_deref() != Some(accepted.job.as_str()) {
                        problems.push(format!("{at}: {} is {}, not {}, the job {started} started", fields.id, shown(id), accepted.job));
                    }
                    let engine = read.id_at(&fields.engine_id);
                    if engine.as_deref() != Some(read.engine.as_str()) {
                        problems.push(format!(
                            "{at}: {} is {}, not {}, the engine whose Retry started it",
                            fields.engine_id,
                            shown(engine),
                            read.engine
                        ));
                    }
                    let undocumented = input
                        .schema_violations(&model.job_operation, index)
                        .into_iter()
                        .filter(|v| v.pointer == fields.kind || v.pointer == fields.status);
                    problems.extend(undocumented.map(|v| format!("{at}: not a documented value: {v}")));
                }
                // Within the state model's read lag after the Retry's answer, the job may not be
                // found yet.
                Some(_) if read.sent_ms < accepted.step.received_ms.saturating_add(lag) => {}
                Some(status) => {
                    judged += 1;
                    problems.push(format!("{at}: answered {status}, but {started} was accepted with job {}", accepted.job));
                }
                // The exchange failed: the transport check tells it.
                None => {}
            }
        }
    }
    for (index, read) in trace.indexed().filter(|(_, s)| matches!(s.act, Act::ShowJob { unknown: true, .. })) {
        judged += 1;
        if read.accepted() {
            let status = read.status.unwrap_or_default();
            problems.push(format!("{}: answered {status}: a job no Retry started was found", trace.name(index)));
        }
    }
    findings(
        "every job an accepted Retry started found by show_job with its id, its engine and a documented type and status; no other job found",
        problems,
        judged,
        "no accepted Retry was followed by a read of its job",
    )
}

/// A value as messages show it: `absent`, or the id.
fn shown(value: Option<String>) -> String {
    value.unwrap_or_else(|| "absent".into())
}
