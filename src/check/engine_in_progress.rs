//! `engine_in_progress`: an engine shows the job a Retry started. While the job runs (a read of
//! the job made after the engine's shows it running), the engine is not in a status a Retry is
//! accepted in — not the failed status it had — and its `latestJobId`, when it gives one, is
//! that job; once a read showed the job ended, the engine is no longer in an in-progress status.
//! A read is judged against the newest job accepted before it; right after a burst that several
//! jobs answered, it is not (that is `one_job_at_a_time`'s to judge). A stateful property.

use super::{Applies, Check, Run, TraceInput, Verdict, findings};
use crate::stateful::{Accepted, Act, Step, Trace};

pub(super) const CHECK: Check = Check {
    summary: "while a Retry's job runs, show_engine shows the engine in progress with that latestJobId; once it ended, a final status",
    applies: Applies::Stateful,
    run: Run::Trace(check),
};

fn check(input: &TraceInput<'_>) -> Verdict {
    let (model, trace) = (input.model, input.trace);
    let accepted = trace.accepted(model);
    let running = |s: &Step| input.job_running(s);
    // Ended: a status the job schema documents that is not a running one (a status outside the
    // enum says nothing of whether the job ended: `job_recorded` judges it).
    let ended = |index: usize| {
        let step = &trace.steps[index];
        input.job_status(step).is_some()
            && !running(step)
            && !input.schema_violations(&model.job_operation, index).iter().any(|v| v.pointer == model.job.status)
    };
    let mut problems = Vec::new();
    let mut judged = 0;
    for (index, read) in trace.indexed().filter(|(_, s)| s.act == Act::ShowEngine && s.status == Some(200)) {
        let Some(job) = current_job(trace, &accepted, index) else { continue };
        // Within the state model's read lag after the Retry's answer, the engine may still read
        // as before it.
        let lag = i64::try_from(model.read_lag_ms).unwrap_or(i64::MAX);
        if read.sent_ms < job.step.received_ms.saturating_add(lag) {
            continue;
        }
        let status = read.field(&model.engine.status).and_then(|v| v.as_str()).unwrap_or_default();
        let at = trace.name(index);
        // The job's reads until the engine's next accepted Retry: after it, the job is another's
        // concern (and a server that reuses ids would make them ambiguous).
        let next = accepted.iter().filter(|a| a.step.role == read.role && a.index > job.index).map(|a| a.index).min();
        let reads = || {
            trace
                .job_reads(read.role, &job.job, job.index)
                .filter(move |(i, j)| j.status == Some(200) && next.is_none_or(|n| *i < n))
        };
        // A read of the job sent after the engine's answer came, showing it running: it ran then.
        let seen_running = reads().find(|(_, j)| j.sent_ms >= read.received_ms && running(j));
        if let Some((shown_at, _)) = seen_running {
            judged += 1;
            if model.retryable_statuses.iter().any(|s| s == status) {
                problems.push(format!(
                    "{at}: the engine is {status}, a status a Retry is accepted in, while job {} runs ({} shows it running)",
                    job.job,
                    trace.name(shown_at)
                ));
            }
            let latest = read.id_at(&model.engine.latest_job_id);
            if latest.as_deref().is_some_and(|l| l != job.job) {
                problems.push(format!(
                    "{at}: {} is {}, not job {} that {} started and that runs",
                    model.engine.latest_job_id,
                    latest.unwrap_or_default(),
                    job.job,
                    trace.name(job.index)
                ));
            }
            continue;
        }
        // A read of the job answered before the engine's was sent, showing it ended.
        let seen_ended = reads().find(|(i, j)| j.received_ms <= read.sent_ms && ended(*i));
        if let Some((shown_at, _)) = seen_ended {
            judged += 1;
            if model.in_progress_statuses.iter().any(|s| s == status) {
                problems.push(format!(
                    "{at}: the engine is still {status}, but job {} had ended ({} shows it)",
                    job.job,
                    trace.name(shown_at)
                ));
            }
        }
    }
    findings(
        "while its job runs, an engine out of its failed status with that job as latestJobId; after, a final status",
        problems,
        judged,
        "no read of an engine was made while a job a Retry started was seen running, nor after it was seen ended",
    )
}

/// The job the engine read at `index` is judged against: that of the newest Retry of its engine
/// accepted before it, unless that Retry's burst was answered with several jobs.
fn current_job<'a>(trace: &Trace, accepted: &'a [Accepted<'a>], index: usize) -> Option<&'a Accepted<'a>> {
    let role = trace.steps[index].role;
    let last = accepted.iter().filter(|a| a.step.role == role && a.index < index).max_by_key(|a| a.index)?;
    let several = last.step.burst.is_some_and(|burst| {
        accepted.iter().any(|a| a.step.role == role && a.step.burst == Some(burst) && a.job != last.job)
    });
    (!several).then_some(last)
}
