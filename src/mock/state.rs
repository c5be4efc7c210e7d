//! The mock's engines and jobs. One mutex guards all of it: a retry reads the state, creates a
//! job and moves the engine in one critical section, so concurrent retries of one engine cannot
//! both succeed and job ids are unique and increasing. Jobs finish lazily: whenever an engine
//! is read, a job whose time has come is settled first, so no background task is needed.
//!
//! Memory is bounded: engines come only from the fixture (no request creates one), and each
//! engine keeps its newest [`DEFAULT_JOB_HISTORY`] jobs (`--job-history`), so a mock that has
//! served millions of Retries holds what a fresh one holds.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::fixture::{EngineStatus, Fixture, JobStatus, JobType, RetryBehaviour, RetryOutcome};

/// A job in the mock.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job id.
    pub id: u64,
    /// Job type.
    pub kind: JobType,
    /// Current status.
    pub status: JobStatus,
    /// Start, ms since the epoch.
    pub start_ms: u64,
    /// End, ms since the epoch, once finished.
    pub end_ms: Option<u64>,
    /// When a running retry job finishes, and what it ends in; `None` for jobs that never end.
    finish: Option<(Instant, RetryOutcome, EngineStatus)>,
}

/// An engine in the mock.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Engine id.
    pub id: String,
    /// Engine name.
    pub name: String,
    /// Its project: only requests through this project's path find it.
    pub project_id: String,
    /// Current status.
    pub status: EngineStatus,
    /// How its retries behave.
    pub retry: RetryBehaviour,
    /// Job history, oldest first: the newest jobs, never more than the state's bound (the newest
    /// and the running one are always kept).
    pub jobs: VecDeque<Job>,
    /// Id of the job now executing, if any: settling looks at it alone. Lookups by id walk the
    /// bounded history from its newest end, where the running and the latest job are.
    running: Option<u64>,
}

/// Why a retry was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryError {
    /// No such engine in the project.
    NotFound,
    /// The engine's status does not allow a retry (not *Failed, or a job is running).
    NotRetryable(EngineStatus),
}

/// Why a job could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// No such engine.
    EngineNotFound,
    /// The job id is not a number.
    BadId,
    /// No such job on the engine.
    NotFound,
}

/// How many jobs each engine keeps by default: enough for a client to follow the jobs of a
/// burst of Retries, small enough that 5 engines hold well under a megabyte.
pub const DEFAULT_JOB_HISTORY: usize = 100;

/// All engines of the mock, of every project.
#[derive(Debug)]
pub struct State {
    /// By engine id (unique across projects, as the fixture ensures); an engine is found only
    /// through its own project ([`State::engine_mut`]).
    engines: HashMap<String, Engine>,
    next_job_id: u64,
    /// Jobs kept per engine.
    history: usize,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl State {
    /// The state a fixture describes, each engine keeping its newest `history` jobs (at least
    /// one).
    pub fn new(fixture: &Fixture, history: usize) -> State {
        let history = history.max(1);
        let start = now_ms();
        let engines: HashMap<String, Engine> = fixture
            .engines
            .iter()
            .map(|e| {
                let jobs: VecDeque<Job> = e
                    .jobs
                    .iter()
                    .map(|j| Job {
                        id: j.id,
                        kind: j.kind,
                        status: j.status,
                        start_ms: start,
                        end_ms: (j.status != JobStatus::Executing).then_some(start),
                        finish: None,
                    })
                    .collect();
                let running = jobs.iter().rev().find(|j| j.status == JobStatus::Executing).map(|j| j.id);
                let mut engine = Engine {
                    id: e.id.clone(),
                    name: e.name.clone(),
                    project_id: fixture.project_of(e).to_owned(),
                    status: e.status,
                    retry: e.retry.unwrap_or_default(),
                    jobs,
                    running,
                };
                trim(&mut engine, history);
                (e.id.clone(), engine)
            })
            .collect();
        let max_job = engines.values().flat_map(|e| e.jobs.iter().map(|j| j.id)).max().unwrap_or(0);
        State { engines, next_job_id: max_job.saturating_add(1), history }
    }

    /// The engine `engine_id` of project `project_id`, its job settled: another project's engine
    /// is not found, as if it did not exist (the cloud answers it as an unknown engine).
    fn engine_mut(&mut self, project_id: &str, engine_id: &str, now: Instant) -> Option<&mut Engine> {
        let engine = self.engines.get_mut(engine_id).filter(|e| e.project_id == project_id)?;
        settle(engine, now);
        Some(engine)
    }

    /// Retries the engine's failed job: (engine id, name, new job id).
    pub fn retry(
        &mut self,
        project_id: &str,
        engine_id: &str,
        now: Instant,
    ) -> Result<(String, String, u64), RetryError> {
        let job_id = self.next_job_id;
        let history = self.history;
        let engine = self.engine_mut(project_id, engine_id, now).ok_or(RetryError::NotFound)?;
        let (kind, in_progress) = match engine.status.retry_of() {
            Some(retry) if engine.running.is_none() => retry,
            _ => return Err(RetryError::NotRetryable(engine.status)),
        };
        let failed_status = engine.status;
        let finish_at = now + Duration::from_millis(engine.retry.duration_ms);
        engine.jobs.push_back(Job {
            id: job_id,
            kind,
            status: JobStatus::Executing,
            start_ms: now_ms(),
            end_ms: None,
            finish: Some((finish_at, engine.retry.outcome, failed_status)),
        });
        engine.running = Some(job_id);
        engine.status = in_progress;
        trim(engine, history);
        settle(engine, now);
        let answer = (engine.id.clone(), engine.name.clone(), job_id);
        self.next_job_id = self.next_job_id.saturating_add(1);
        Ok(answer)
    }

    /// The engine as the details API shows it.
    pub fn engine_view(&mut self, project_id: &str, engine_id: &str, now: Instant) -> Option<Value> {
        let engine = self.engine_mut(project_id, engine_id, now)?;
        let actions: Vec<&str> =
            if engine.status.retry_of().is_some() && engine.running.is_none() { vec!["Retry"] } else { vec![] };
        Some(json!({
            "id": engine.id,
            "name": engine.name,
            "status": engine.status,
            "type": "CSE",
            "authType": "RBAC",
            "flavor": "cse.s1.small2",
            "payment": "1",
            "projectId": engine.project_id,
            "enterpriseProjectId": "0",
            "latestJobId": engine.jobs.back().map(|j| j.id),
            "engineAdditionalActions": actions,
        }))
    }

    /// One job of an engine as the job API shows it.
    pub fn job_view(
        &mut self,
        project_id: &str,
        engine_id: &str,
        job_id: &str,
        now: Instant,
    ) -> Result<Value, JobError> {
        let engine = self.engine_mut(project_id, engine_id, now).ok_or(JobError::EngineNotFound)?;
        let id: u64 = job_id.parse().map_err(|_| JobError::BadId)?;
        let job = engine.jobs.iter().rev().find(|j| j.id == id).ok_or(JobError::NotFound)?;
        Ok(json!({
            "id": job.id,
            "engineId": engine.id,
            "type": job.kind,
            "description": format!("{:?} engine {}", job.kind, engine.name),
            "status": job.status,
            "scheduling": i32::from(job.status == JobStatus::Executing),
            "createUser": "mock",
            "startTime": job.start_ms,
            "endTime": job.end_ms.unwrap_or(0),
            "context": "",
            "tasks": [],
        }))
    }

    /// A copy of one engine, whatever its project, for tests.
    pub fn snapshot(&mut self, engine_id: &str, now: Instant) -> Option<Engine> {
        let engine = self.engines.get_mut(engine_id)?;
        settle(engine, now);
        Some(engine.clone())
    }
}

/// Drops the engine's oldest jobs beyond `keep`, never the running one nor the newest (so
/// latestJobId always names a job the job API shows).
fn trim(engine: &mut Engine, keep: usize) {
    while engine.jobs.len() > keep {
        let newest = engine.jobs.len() - 1;
        match engine.jobs.iter().position(|j| Some(j.id) != engine.running).filter(|&i| i < newest) {
            Some(oldest) => drop(engine.jobs.remove(oldest)),
            None => break,
        }
    }
}

/// Finishes the engine's running retry job if its time has come.
fn settle(engine: &mut Engine, now: Instant) {
    let Some(running) = engine.running else { return };
    let Some(job) = engine.jobs.iter_mut().rev().find(|j| j.id == running) else { return };
    let Some((at, outcome, failed_status)) = job.finish else { return };
    if now < at {
        return;
    }
    job.finish = None;
    // The job ended when its time came, not when it was first looked at after.
    job.end_ms = Some(job.start_ms + engine.retry.duration_ms);
    engine.running = None;
    match outcome {
        RetryOutcome::Succeed => {
            job.status = JobStatus::Finished;
            engine.status = if failed_status == EngineStatus::DeleteFailed {
                EngineStatus::Deleted
            } else {
                EngineStatus::Available
            };
        }
        RetryOutcome::Fail => {
            job.status = JobStatus::Error;
            engine.status = failed_status;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALWAYS: &str = "a1a1a1a1-0000-4000-8000-000000000001";
    const SLOW: &str = "c0ffee00-1234-4abc-9def-0123456789ab";
    const FOREIGN: &str = "f0e1d2c3-b4a5-4968-8776-655443322110";

    #[test]
    fn always_retryable_engine_fails_again_at_once() {
        let mut s = State::new(&Fixture::default_set(), DEFAULT_JOB_HISTORY);
        let now = Instant::now();
        let (_, _, first) = s.retry("demo-project", ALWAYS, now).unwrap();
        let (_, _, second) = s.retry("demo-project", ALWAYS, now).unwrap();
        assert!(second > first && first > 18701);
        let e = s.snapshot(ALWAYS, now).unwrap();
        assert_eq!(e.status, EngineStatus::CreateFailed);
        assert_eq!(e.jobs.back().unwrap().status, JobStatus::Error);
    }

    #[test]
    fn slow_retry_blocks_a_second_retry_then_succeeds() {
        let mut s = State::new(&Fixture::default_set(), DEFAULT_JOB_HISTORY);
        let now = Instant::now();
        let (_, _, job) = s.retry("demo-project", SLOW, now).unwrap();
        assert_eq!(s.retry("demo-project", SLOW, now), Err(RetryError::NotRetryable(EngineStatus::Upgrading)));
        assert_eq!(s.job_view("demo-project", SLOW, &job.to_string(), now).unwrap()["status"], "Executing");
        let later = now + Duration::from_secs(4);
        assert_eq!(s.job_view("demo-project", SLOW, &job.to_string(), later).unwrap()["status"], "Finished");
        assert_eq!(s.snapshot(SLOW, later).unwrap().status, EngineStatus::Available);
        assert_eq!(s.retry("demo-project", SLOW, later), Err(RetryError::NotRetryable(EngineStatus::Available)));
    }

    #[test]
    fn the_history_keeps_the_newest_jobs_and_the_running_one() {
        let mut s = State::new(&Fixture::default_set(), 3);
        let now = Instant::now();
        let ids: Vec<u64> = (0..10).map(|_| s.retry("demo-project", ALWAYS, now).unwrap().2).collect();
        let kept: Vec<u64> = s.snapshot(ALWAYS, now).unwrap().jobs.iter().map(|j| j.id).collect();
        assert_eq!(kept, ids[7..]);
        assert_eq!(s.job_view("demo-project", ALWAYS, &ids[9].to_string(), now).unwrap()["id"], ids[9]);
        assert_eq!(s.job_view("demo-project", ALWAYS, &ids[6].to_string(), now), Err(JobError::NotFound));
        // A fixture whose running job is its oldest keeps it beside the newest, whatever the bound.
        let fixture = Fixture::parse(
            r#"{"project_id": "p", "engines": [{"id": "e", "name": "n", "status": "Upgrading", "jobs": [
                {"id": 1, "type": "Upgrade", "status": "Executing"},
                {"id": 2, "type": "Create", "status": "Finished"},
                {"id": 3, "type": "Create", "status": "Error"}]}]}"#,
        )
        .unwrap();
        let mut s = State::new(&fixture, 1);
        let kept: Vec<u64> = s.snapshot("e", now).unwrap().jobs.iter().map(|j| j.id).collect();
        assert_eq!(kept, [1, 3]);
        assert_eq!(s.retry("p", "e", now), Err(RetryError::NotRetryable(EngineStatus::Upgrading)));
    }

    #[test]
    fn a_fixture_job_id_past_2_pow_53_is_refused() {
        let fixture = |id: u64| {
            Fixture::parse(&format!(
                r#"{{"project_id": "p", "engines": [{{"id": "e", "name": "n", "status": "Upgrading", "jobs": [
                    {{"id": {id}, "type": "Upgrade", "status": "Executing"}}]}}]}}"#
            ))
        };
        let err = fixture(u64::MAX).unwrap_err();
        assert!(err.contains("job id 18446744073709551615 is above 9007199254740991"), "{err}");
        assert!(fixture((1 << 53) - 1).is_ok());
    }

    #[test]
    fn unknown_engine_project_and_job() {
        let mut s = State::new(&Fixture::default_set(), DEFAULT_JOB_HISTORY);
        let now = Instant::now();
        assert_eq!(s.retry("other-project", ALWAYS, now), Err(RetryError::NotFound));
        assert_eq!(s.retry("demo-project", "nope", now), Err(RetryError::NotFound));
        assert_eq!(s.job_view("demo-project", ALWAYS, "x1", now), Err(JobError::BadId));
        assert_eq!(s.job_view("demo-project", ALWAYS, "99", now), Err(JobError::NotFound));
    }

    #[test]
    fn an_engine_is_found_only_through_its_own_project() {
        let mut s = State::new(&Fixture::default_set(), DEFAULT_JOB_HISTORY);
        let now = Instant::now();
        assert_eq!(s.retry("demo-project", FOREIGN, now), Err(RetryError::NotFound));
        assert_eq!(s.engine_view("demo-project", FOREIGN, now), None);
        assert_eq!(s.job_view("demo-project", FOREIGN, "18640", now), Err(JobError::EngineNotFound));
        // Its own project reaches it, and it is retryable there: a leak would be an accepted Retry.
        let view = s.engine_view("other-project", FOREIGN, now).unwrap();
        assert_eq!(
            (view["projectId"].as_str(), view["status"].as_str()),
            (Some("other-project"), Some("CreateFailed"))
        );
        assert_eq!(s.job_view("other-project", FOREIGN, "18640", now).unwrap()["status"], "Error");
        assert!(s.retry("other-project", FOREIGN, now).is_ok());
        // And the demo project's engines are not reached through the other project.
        assert_eq!(s.engine_view("other-project", ALWAYS, now), None);
    }
}
