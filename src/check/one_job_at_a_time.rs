//! `one_job_at_a_time`: an engine runs one job at a time, and a job id names one job. No two
//! jobs that Retries of one engine were answered with ran at the same time (their `startTime`
//! and `endTime` as the job reads show them, beyond [`OVERLAP_SLACK_MS`]) — a burst of
//! concurrent Retries is accepted at most once while a job runs — and no Retry is answered with
//! the id of a job a read had already shown ended. A Retry answered with the id of the job
//! still running is an idempotent acceptance of that one job, not a second job: the real API's
//! page does not say which it does, and both are conformant. A stateful property.

use std::collections::BTreeMap;

use super::{Applies, Check, Run, TraceInput, Verdict, findings};
use crate::stateful::{Role, Step};

/// Two jobs' times may overlap by this much without counting as running together: the server's
/// clock may step between the end of one job and the start of the next.
const OVERLAP_SLACK_MS: i64 = 100;

pub(super) const CHECK: Check = Check {
    summary: "no two jobs of one engine run at the same time (a burst of Retries is accepted once), and no two jobs share an id",
    applies: Applies::Stateful,
    run: Run::Trace(check),
};

/// A job's run as its newest read shows it: start and end, ms since the epoch (`i64::MAX`: it
/// still ran), and the step that showed it.
type Span = (i64, i64, usize);

fn check(input: &TraceInput<'_>) -> Verdict {
    let (model, trace) = (input.model, input.trace);
    let accepted = trace.accepted(model);
    let running = |s: &Step| input.job_running(s);
    let mut problems = Vec::new();
    let mut judged = 0;
    for role in Role::ALL {
        let mut spans: BTreeMap<&str, Span> = BTreeMap::new();
        for a in accepted.iter().filter(|a| a.step.role == role) {
            let newest = trace.job_reads(role, &a.job, a.index).filter(|(_, s)| s.status == Some(200)).last();
            let Some((index, read)) = newest else { continue };
            let time = |pointer: &str| read.field(pointer).and_then(serde_json::Value::as_i64).filter(|t| *t > 0);
            let Some(start) = time(&model.job.start) else { continue };
            let end = match time(&model.job.end) {
                Some(end) => end,
                None if running(read) => i64::MAX,
                // Ended, and the server does not say when (`endTime` is optional): its run
                // cannot be placed against another's on the server's clock.
                None => continue,
            };
            spans.entry(&a.job).or_insert((start, end, index));
        }
        judged += spans.len();
        let jobs: Vec<(&str, Span)> = spans.into_iter().collect();
        for (i, (a, (a_start, a_end, a_at))) in jobs.iter().enumerate() {
            for (b, (b_start, b_end, b_at)) in &jobs[i + 1..] {
                let overlap = (*a_end).min(*b_end).saturating_sub(*a_start.max(b_start));
                if overlap > OVERLAP_SLACK_MS {
                    problems.push(format!(
                        "jobs {a} ({}, {}) and {b} ({}, {}) of {} ran at the same time",
                        span(*a_start, *a_end),
                        trace.name(*a_at),
                        span(*b_start, *b_end),
                        trace.name(*b_at),
                        role.describe()
                    ));
                }
            }
        }
        // An id answered again after a read showed its job ended names a second job (unless the
        // state model says a Retry re-runs its job under the same id).
        for a in accepted.iter().filter(|a| a.step.role == role && !model.retry_reuses_job_id) {
            let ended_before = trace
                .job_reads(role, &a.job, 0)
                .filter(|(i, s)| *i < a.index && s.status == Some(200) && !running(s))
                .find(|(_, s)| s.received_ms <= a.step.sent_ms);
            if let Some((shown_at, _)) = ended_before {
                judged += 1;
                problems.push(format!(
                    "{} was answered with job {}, which {} had shown ended: two jobs share one id",
                    trace.name(a.index),
                    a.job,
                    trace.name(shown_at)
                ));
            }
        }
    }
    findings(
        "one job at a time per engine, and one job per id",
        problems,
        judged,
        "no job a Retry started was read with its times",
    )
}

fn span(start: i64, end: i64) -> String {
    if end == i64::MAX { format!("from {start}, still running") } else { format!("{start}..{end}") }
}
