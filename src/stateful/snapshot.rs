//! One reading of an engine's state, and the judgement of a refusal by the readings around it.

use crate::check::StateEvidence;
use crate::contract::StateModel;

/// How far the target's clock may be from ours when a job's end time is compared with the
/// moment a request was sent (only when there was no reading before the request).
pub(crate) const CLOCK_SLACK_MS: i64 = 2_000;

/// A job as the job read shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    /// Its id.
    pub id: String,
    /// Its status.
    pub status: String,
    /// Start, ms since the epoch.
    pub start: Option<i64>,
    /// End, ms since the epoch; `None` while it runs.
    pub end: Option<i64>,
}

/// The engine as the reads show it at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The engine's status.
    pub status: String,
    /// Its newest job's id, when the engine names one.
    pub latest_job_id: Option<String>,
    /// The additional actions it allows, when the engine lists them.
    pub actions: Option<Vec<String>>,
    /// The newest job, when it could be read.
    pub job: Option<JobView>,
    /// A job this run started (its id from the accepting answer) that the engine does not show
    /// yet: a read that lags behind a write. The engine counts as busy until it shows it.
    pub pending_job: Option<String>,
}

impl Snapshot {
    /// A job of the engine is running.
    pub fn job_running(&self, model: &StateModel) -> bool {
        self.pending_job.is_some() || self.job.as_ref().is_some_and(|j| model.running_job_statuses.contains(&j.status))
    }

    /// Marks `accepted`, the id of the last job this run started on the engine, as pending when
    /// the engine's newest job is an older one (a lower id): the read has not caught up. An
    /// engine that names no newest job (`latestJobId` is optional), or not by a number, says
    /// nothing of it: then nothing is pending, or the engine would wait for a job it never shows.
    pub fn note_accepted(&mut self, accepted: Option<i64>) {
        let Some(accepted) = accepted else { return };
        let latest = self.latest_job_id.as_deref().and_then(|id| id.parse::<i64>().ok());
        if latest.is_some_and(|latest| latest < accepted) {
            self.pending_job = Some(accepted.to_string());
        }
    }

    /// A Retry may be accepted now: a retryable status, no job running, and (when the engine
    /// lists its actions) Retry among them.
    pub fn retryable(&self, model: &StateModel) -> bool {
        model.retryable_statuses.contains(&self.status)
            && !self.job_running(model)
            && self.actions.as_ref().is_none_or(|a| a.contains(&model.retry_action))
    }

    /// Nothing will make the engine retryable by itself: its status is neither a failed one nor
    /// an in-progress one, and no job runs (an engine Available after a successful job).
    pub fn settled(&self, model: &StateModel) -> bool {
        !self.job_running(model)
            && !model.retryable_statuses.contains(&self.status)
            && !model.in_progress_statuses.contains(&self.status)
            && !self.actions.as_ref().is_some_and(|a| a.contains(&model.retry_action))
    }

    /// Why a Retry may not be accepted now, or `None` if it may.
    pub fn why_not_retryable(&self, model: &StateModel) -> Option<String> {
        if let Some(id) = &self.pending_job {
            let shown = self.latest_job_id.as_deref().unwrap_or("none");
            return Some(format!("job {id}, which this run started, is not shown yet (latest job {shown})"));
        }
        if let Some(job) = self.job.as_ref().filter(|_| self.job_running(model)) {
            return Some(format!("its job {} is {}", job.id, job.status));
        }
        if !model.retryable_statuses.contains(&self.status) {
            return Some(format!("its status {} is not one of {}", self.status, model.retryable_statuses.join(", ")));
        }
        match &self.actions {
            Some(actions) if !actions.contains(&model.retry_action) => {
                Some(format!("its additional actions [{}] do not include {}", actions.join(", "), model.retry_action))
            }
            _ => None,
        }
    }

    /// In a line: `CreateFailed, latest job 1001 Error`.
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let mut text = self.status.clone();
        let _ = match (&self.job, &self.latest_job_id) {
            (Some(job), _) => write!(text, ", latest job {} {}", job.id, job.status),
            (None, Some(id)) => write!(text, ", latest job {id}"),
            (None, None) => write!(text, ", no job"),
        };
        if let Some(actions) = &self.actions {
            let _ = write!(text, ", actions [{}]", actions.join(", "));
        }
        if let Some(pending) = &self.pending_job {
            let _ = write!(text, ", job {pending} (started by this run) not shown yet");
        }
        text
    }
}

/// Whether the engine's state explains why a valid side-effecting request was refused: read
/// `post` right after the refusal and, when there is one, `pre` right before the request (the
/// runner sends such requests one at a time per engine, so nothing of ours ran in between).
///
/// Justified: the engine is not retryable after the refusal; or it was not retryable before;
/// or another job ran in between (the newest job changed). A job may end between the refusal
/// and the read that follows it: with a reading from before, that shows as a changed or
/// finished job; without one, a job that ended at or after the moment the request was sent
/// (`sent_ms`, our clock, with [`CLOCK_SLACK_MS`] for the target's) justifies it.
pub fn justify(pre: Option<&Snapshot>, post: &Snapshot, sent_ms: i64, model: &StateModel) -> StateEvidence {
    let verdict = |justified: bool, reason: String| StateEvidence { justified, reason };
    if let Some(why) = post.why_not_retryable(model) {
        return verdict(true, format!("after the refusal the engine is {} ({why})", post.describe()));
    }
    if let Some(pre) = pre {
        if let Some(why) = pre.why_not_retryable(model) {
            return verdict(true, format!("before the request the engine was {} ({why})", pre.describe()));
        }
        // A job that could not be read on one side says nothing: compare jobs only when both
        // readings have one.
        let job_changed = matches!((&pre.job, &post.job), (Some(a), Some(b)) if a != b);
        if pre.latest_job_id != post.latest_job_id || job_changed {
            return verdict(
                true,
                format!("a job ran meanwhile: the engine was {} before, {} after", pre.describe(), post.describe()),
            );
        }
        return verdict(
            false,
            format!(
                "the engine was retryable before the request ({}) and after the refusal ({}), and no job ran",
                pre.describe(),
                post.describe()
            ),
        );
    }
    match post.job.as_ref().and_then(|j| j.end.map(|end| (j, end))) {
        Some((job, end)) if end >= sent_ms - CLOCK_SLACK_MS => {
            verdict(true, format!("job {} ended ({}) around the time the request was sent", job.id, job.status))
        }
        _ => verdict(
            false,
            format!(
                "after the refusal the engine is retryable ({}), and no job ended around the request",
                post.describe()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> StateModel {
        let contract = crate::contract::Contract::load(&crate::files::FileSource::Embedded).unwrap();
        contract.state_model.unwrap()
    }

    fn snap(status: &str, job: Option<(&str, &str, Option<i64>)>) -> Snapshot {
        Snapshot {
            status: status.into(),
            latest_job_id: job.map(|(id, _, _)| id.to_owned()),
            actions: None,
            job: job.map(|(id, s, end)| JobView { id: id.into(), status: s.into(), start: Some(1), end }),
            pending_job: None,
        }
    }

    #[test]
    fn retryable_needs_a_failed_status_no_running_job_and_the_action() {
        let m = model();
        assert!(snap("CreateFailed", Some(("1", "Error", Some(5)))).retryable(&m));
        assert!(!snap("CreateFailed", Some(("1", "Executing", None))).retryable(&m));
        assert!(!snap("Available", Some(("1", "Finished", Some(5)))).retryable(&m));
        let mut no_action = snap("UpgradeFailed", None);
        no_action.actions = Some(vec![]);
        assert!(!no_action.retryable(&m));
        assert!(snap("Available", None).settled(&m) && !snap("Creating", None).settled(&m));
    }

    #[test]
    fn a_refusal_is_justified_by_state_not_otherwise() {
        let m = model();
        let failed = snap("CreateFailed", Some(("7", "Error", Some(1_000))));
        let running = snap("Creating", Some(("8", "Executing", None)));
        assert!(justify(Some(&failed), &running, 2_000, &m).justified);
        assert!(justify(Some(&running), &failed, 2_000, &m).justified, "the job ended between");
        let refused = justify(Some(&failed), &failed, 2_000, &m);
        assert!(!refused.justified && refused.reason.contains("retryable before"), "{}", refused.reason);
        let other_job = snap("CreateFailed", Some(("9", "Error", Some(1_500))));
        assert!(justify(Some(&failed), &other_job, 2_000, &m).justified);
        // A read that has not caught up with the job this run started counts as busy.
        let mut stale = failed.clone();
        stale.note_accepted(Some(8));
        assert!(justify(Some(&stale), &failed, 2_000, &m).justified);
        let mut caught_up = failed.clone();
        caught_up.note_accepted(Some(7));
        assert!(caught_up.retryable(&m));
        // Without a reading before: the job's end time decides.
        assert!(justify(None, &failed, 2_500, &m).justified);
        assert!(!justify(None, &failed, 60_000, &m).justified);
    }
}
