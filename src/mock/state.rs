//! The mock's engines and jobs. One mutex guards all of it: a retry reads the state, creates a
//! job and moves the engine in one critical section ([`State::retry`]), so concurrent retries of
//! one engine cannot both succeed and job ids are unique and increasing. Jobs finish lazily:
//! whenever an engine is read, a job whose time has come is settled first, so no background task
//! is needed.
//!
//! The stateful faults live here, where the state they bend is: the check and the update of a
//! retry are two steps ([`State::check_retry`], [`State::start_retry`]) that `retry` takes
//! together and the `racy_retry` fault (in the handler) takes apart; the views bend what they
//! show, never what the state holds, so each such fault breaks one thing a client can see.
//!
//! Memory is bounded: engines come only from the fixture (no request creates one), and each
//! engine keeps its newest [`DEFAULT_JOB_HISTORY`] jobs (`--job-history`), so a mock that has
//! served millions of Retries holds what a fresh one holds.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::faults::{Fault, Faults};
use super::fixture::{EngineFixture, EngineStatus, Fixture, JobStatus, JobType, RetryBehaviour, RetryOutcome};

/// How long the job runs that the `accept_not_retryable` fault starts on an engine whose
/// fixture gives no retry behaviour: as long as the default engine's, so a client can watch it.
const SETTLED_RETRY_MS: u64 = 300;

/// When a running job ends, and what it leaves behind.
#[derive(Debug, Clone, Copy)]
struct Finish {
    /// When it ends.
    at: Instant,
    /// How long it runs, for its end time.
    duration_ms: u64,
    /// The engine's status before the job started (what `engine_state_frozen` keeps showing).
    before: EngineStatus,
    /// The job's status once it ends.
    job_status: JobStatus,
    /// The engine's status once it ends (and no other job of it runs).
    engine_status: EngineStatus,
}

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
    /// A Retry started it (not the fixture). The faults that bend jobs bend only these, so the
    /// fixture's jobs stay as they were: a client comparing the two sees the fault.
    pub by_retry: bool,
    /// When a running retry job finishes, and what it ends in; `None` for jobs that never end.
    finish: Option<Finish>,
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
    /// How its retries behave, if the fixture says.
    pub retry: Option<RetryBehaviour>,
    /// Job history, oldest first: the newest jobs, never more than the state's bound (the newest
    /// and the running ones are always kept).
    pub jobs: VecDeque<Job>,
    /// How many of its jobs are executing (a fixture's that never ends included): settling walks
    /// the history only when some are. At most one, unless a fault runs Retries alongside.
    running: usize,
}

impl Engine {
    /// Engine `e` of `fixture` as the state holds it, its jobs started at `start` (ms since the
    /// epoch), its newest `history` kept.
    fn new(fixture: &Fixture, e: &EngineFixture, start: u64, history: usize) -> Engine {
        let jobs: VecDeque<Job> = e
            .jobs
            .iter()
            .map(|j| Job {
                id: j.id,
                kind: j.kind,
                status: j.status,
                start_ms: start,
                end_ms: (j.status != JobStatus::Executing).then_some(start),
                by_retry: false,
                finish: None,
            })
            .collect();
        let running = jobs.iter().filter(|j| j.status == JobStatus::Executing).count();
        let mut engine = Engine {
            id: e.id.clone(),
            name: e.name.clone(),
            project_id: fixture.project_of(e).to_owned(),
            status: e.status,
            retry: e.retry,
            jobs,
            running,
        };
        trim(&mut engine, history);
        engine
    }

    /// The newest job a Retry started that still runs, and how it ends.
    fn running_retry(&self) -> Option<(&Job, Finish)> {
        if self.running == 0 {
            return None;
        }
        self.jobs.iter().rev().find_map(|j| j.finish.map(|f| (j, f)))
    }
}

/// Why a retry was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryError {
    /// No such engine in the project.
    NotFound,
    /// The engine's status does not allow a retry (not *Failed, or a job is running).
    NotRetryable(EngineStatus),
}

/// What an accepted Retry answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retried {
    /// The engine's id.
    pub id: String,
    /// The engine's name.
    pub name: String,
    /// The job it started.
    pub job_id: u64,
}

/// The job an accepted Retry is to start: decided by [`State::check_retry`], started by
/// [`State::start_retry`].
#[derive(Debug, Clone)]
pub struct RetryPlan {
    engine_id: String,
    kind: JobType,
    /// The engine's status while the job runs.
    in_progress: EngineStatus,
    before: EngineStatus,
    duration_ms: u64,
    /// The job's status and the engine's when it ends.
    ends: (JobStatus, EngineStatus),
}

impl RetryPlan {
    /// The retry of a failed engine with no job running: what the contract allows.
    fn of_failed(engine: &Engine) -> Option<RetryPlan> {
        let (kind, in_progress) = engine.status.retry_of().filter(|_| engine.running == 0)?;
        let retry = engine.retry.unwrap_or_default();
        let ends = match retry.outcome {
            RetryOutcome::Succeed if engine.status == EngineStatus::DeleteFailed => {
                (JobStatus::Finished, EngineStatus::Deleted)
            }
            RetryOutcome::Succeed => (JobStatus::Finished, EngineStatus::Available),
            RetryOutcome::Fail => (JobStatus::Error, engine.status),
        };
        Some(RetryPlan::new(engine, kind, in_progress, retry.duration_ms, ends))
    }

    /// `accept_retry_while_running`: a job beside the running Retry job, of its kind, running as
    /// long and ending as it does.
    fn beside_running(engine: &Engine) -> Option<RetryPlan> {
        let (job, finish) = engine.running_retry()?;
        let ends = (finish.job_status, finish.engine_status);
        let mut plan = RetryPlan::new(engine, job.kind, engine.status, finish.duration_ms, ends);
        plan.before = finish.before;
        Some(plan)
    }

    /// `accept_not_retryable`: an Upgrade of a settled engine, which returns to its status.
    fn of_settled(engine: &Engine) -> Option<RetryPlan> {
        if !engine.status.settled() || engine.running > 0 {
            return None;
        }
        let duration_ms = engine.retry.map_or(SETTLED_RETRY_MS, |r| r.duration_ms);
        let ends = (JobStatus::Finished, engine.status);
        Some(RetryPlan::new(engine, JobType::Upgrade, EngineStatus::Upgrading, duration_ms, ends))
    }

    fn new(
        engine: &Engine,
        kind: JobType,
        in_progress: EngineStatus,
        duration_ms: u64,
        ends: (JobStatus, EngineStatus),
    ) -> RetryPlan {
        RetryPlan { engine_id: engine.id.clone(), kind, in_progress, before: engine.status, duration_ms, ends }
    }
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
    /// Engine ids in the fixture's order, so that `job_of_another_engine` names the same engine
    /// in every run.
    order: Vec<String>,
    next_job_id: u64,
    /// The id of the first job a Retry created: under `same_job_id`, every later one's too.
    first_retry_job: Option<u64>,
    /// Jobs kept per engine.
    history: usize,
    faults: Faults,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl State {
    /// The state a fixture describes, each engine keeping its newest `history` jobs (at least
    /// one), with no fault.
    pub fn new(fixture: &Fixture, history: usize) -> State {
        let history = history.max(1);
        let start = now_ms();
        let engines = fixture.engines.iter().map(|e| (e.id.clone(), Engine::new(fixture, e, start, history))).collect();
        // From the fixture, not what the history kept: no new job takes a fixture job's id.
        let max_job = fixture.engines.iter().flat_map(|e| &e.jobs).map(|j| j.id).max().unwrap_or(0);
        State {
            engines,
            order: fixture.engines.iter().map(|e| e.id.clone()).collect(),
            next_job_id: max_job.saturating_add(1),
            first_retry_job: None,
            history,
            faults: Faults::default(),
        }
    }

    /// The same state, bent by those of `faults` that act on the state.
    #[must_use]
    pub fn with_faults(self, faults: Faults) -> State {
        State { faults, ..self }
    }

    /// The engine `engine_id` of project `project_id`, its jobs settled: another project's
    /// engine is not found, as if it did not exist (the cloud answers it as an unknown engine),
    /// unless `foreign_engine_reachable`.
    fn engine_mut(&mut self, project_id: &str, engine_id: &str, now: Instant) -> Option<&mut Engine> {
        let any_project = self.faults.has(Fault::ForeignEngineReachable);
        let engine = self.engines.get_mut(engine_id).filter(|e| any_project || e.project_id == project_id)?;
        settle(engine, now);
        Some(engine)
    }

    /// Retries the engine's failed job, in one step: check, then start.
    pub fn retry(&mut self, project_id: &str, engine_id: &str, now: Instant) -> Result<Retried, RetryError> {
        let plan = self.check_retry(project_id, engine_id, now)?;
        self.start_retry(&plan, now)
    }

    /// Whether the engine may be retried now, and the job a retry would start; changes nothing
    /// but settling jobs whose time has come.
    pub fn check_retry(&mut self, project_id: &str, engine_id: &str, now: Instant) -> Result<RetryPlan, RetryError> {
        let while_running = self.faults.has(Fault::AcceptRetryWhileRunning);
        let settled = self.faults.has(Fault::AcceptNotRetryable);
        let engine = self.engine_mut(project_id, engine_id, now).ok_or(RetryError::NotFound)?;
        RetryPlan::of_failed(engine)
            .or_else(|| RetryPlan::beside_running(engine).filter(|_| while_running))
            .or_else(|| RetryPlan::of_settled(engine).filter(|_| settled))
            .ok_or(RetryError::NotRetryable(engine.status))
    }

    /// Starts the job `plan` describes, whatever the engine's state is now (the check was made
    /// by [`State::check_retry`]): the engine id, its name and the new job's id.
    pub fn start_retry(&mut self, plan: &RetryPlan, now: Instant) -> Result<Retried, RetryError> {
        let job_id = match self.first_retry_job {
            Some(first) if self.faults.has(Fault::SameJobId) => first,
            _ => self.next_job_id,
        };
        let history = self.history;
        // Engines come only from the fixture and are never removed: the planned one is there.
        let engine = self.engines.get_mut(&plan.engine_id).ok_or(RetryError::NotFound)?;
        let (job_status, engine_status) = plan.ends;
        let finish = Finish {
            at: now + Duration::from_millis(plan.duration_ms),
            duration_ms: plan.duration_ms,
            before: plan.before,
            job_status,
            engine_status,
        };
        engine.jobs.push_back(Job {
            id: job_id,
            kind: plan.kind,
            status: JobStatus::Executing,
            start_ms: now_ms(),
            end_ms: None,
            by_retry: true,
            finish: Some(finish),
        });
        engine.running += 1;
        engine.status = plan.in_progress;
        trim(engine, history);
        // A job of 0 ms ends within the request that started it.
        settle(engine, now);
        let answer = Retried { id: engine.id.clone(), name: engine.name.clone(), job_id };
        self.first_retry_job.get_or_insert(job_id);
        if job_id == self.next_job_id {
            self.next_job_id = self.next_job_id.saturating_add(1);
        }
        Ok(answer)
    }

    /// The engine as the details API shows it.
    pub fn engine_view(&mut self, project_id: &str, engine_id: &str, now: Instant) -> Option<Value> {
        let frozen = self.faults.has(Fault::EngineStateFrozen);
        let engine = self.engine_mut(project_id, engine_id, now)?;
        // `engine_state_frozen`: while a Retry's job runs, the engine shows what it was before.
        let (status, busy) = match engine.running_retry().filter(|_| frozen) {
            Some((_, finish)) => (finish.before, false),
            None => (engine.status, engine.running > 0),
        };
        let actions: Vec<&str> = if status.retry_of().is_some() && !busy { vec!["Retry"] } else { vec![] };
        Some(json!({
            "id": engine.id,
            "name": engine.name,
            "status": status,
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

    /// One job of an engine as the job API shows it (the newest, should two share the id).
    pub fn job_view(
        &mut self,
        project_id: &str,
        engine_id: &str,
        job_id: &str,
        now: Instant,
    ) -> Result<Value, JobError> {
        let unknown = self.faults.has(Fault::JobUnknownToShowJob);
        let outside_enum = self.faults.has(Fault::JobStatusOutsideEnum);
        let other_engine = self.faults.has(Fault::JobOfAnotherEngine).then(|| self.other_engine(engine_id));
        let engine = self.engine_mut(project_id, engine_id, now).ok_or(JobError::EngineNotFound)?;
        let id: u64 = job_id.parse().map_err(|_| JobError::BadId)?;
        let job = engine.jobs.iter().rev().find(|j| j.id == id).ok_or(JobError::NotFound)?;
        if job.by_retry && unknown {
            return Err(JobError::NotFound);
        }
        let shown_engine = match other_engine {
            Some(other) if job.by_retry => other,
            _ => engine.id.clone(),
        };
        let status = if job.by_retry && outside_enum && job.status == JobStatus::Executing {
            json!("Running")
        } else {
            json!(job.status)
        };
        Ok(json!({
            "id": job.id,
            "engineId": shown_engine,
            "type": job.kind,
            "description": format!("{:?} engine {}", job.kind, engine.name),
            "status": status,
            "scheduling": i32::from(job.status == JobStatus::Executing),
            "createUser": "mock",
            "startTime": job.start_ms,
            "endTime": job.end_ms.unwrap_or(0),
            "context": "",
            "tasks": [],
        }))
    }

    /// The engine after `engine_id` in the fixture's order (the first after the last), or a
    /// made-up id when the fixture has no other.
    fn other_engine(&self, engine_id: &str) -> String {
        let at = self.order.iter().position(|e| e == engine_id).unwrap_or(0);
        let mut after = self.order.iter().cycle().skip(at + 1).take(self.order.len());
        after.find(|e| *e != engine_id).cloned().unwrap_or_else(|| format!("{engine_id}-other"))
    }

    /// A copy of one engine, whatever its project, for tests.
    pub fn snapshot(&mut self, engine_id: &str, now: Instant) -> Option<Engine> {
        let engine = self.engines.get_mut(engine_id)?;
        settle(engine, now);
        Some(engine.clone())
    }
}

/// Drops the engine's oldest jobs beyond `keep`, never a running one nor the newest (so
/// latestJobId always names a job the job API shows).
fn trim(engine: &mut Engine, keep: usize) {
    while engine.jobs.len() > keep {
        let newest = engine.jobs.len() - 1;
        match engine.jobs.iter().position(|j| j.status != JobStatus::Executing).filter(|&i| i < newest) {
            Some(oldest) => drop(engine.jobs.remove(oldest)),
            None => break,
        }
    }
}

/// Finishes the engine's running retry jobs whose time has come. The engine takes the status a
/// job leaves only once no other job of it runs (more than one runs only under a fault).
fn settle(engine: &mut Engine, now: Instant) {
    if engine.running == 0 {
        return;
    }
    // Oldest first: of jobs that end together, the newest leaves the engine's status.
    for job in &mut engine.jobs {
        let Some(finish) = job.finish.filter(|f| now >= f.at) else { continue };
        job.finish = None;
        job.status = finish.job_status;
        // The job ended when its time came, not when it was first looked at after.
        job.end_ms = Some(job.start_ms + finish.duration_ms);
        engine.running -= 1;
        if engine.running == 0 {
            engine.status = finish.engine_status;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALWAYS: &str = "a1a1a1a1-0000-4000-8000-000000000001";
    const SLOW: &str = "c0ffee00-1234-4abc-9def-0123456789ab";
    const FOREIGN: &str = "f0e1d2c3-b4a5-4968-8776-655443322110";
    const DEFAULT: &str = "4a1bc63d-4719-4bd3-b1ad-5ee590b05e87";
    const AVAILABLE: &str = "891bf21a-4024-4f47-b38c-bd259ca8f10a";
    const UPGRADING: &str = "5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e";
    /// The default engine's job: 300 ms.
    const JOB_RUNS: Duration = Duration::from_millis(300);

    fn with(faults: &[Fault]) -> State {
        State::new(&Fixture::default_set(), DEFAULT_JOB_HISTORY).with_faults(Faults::new(faults.iter().copied()))
    }

    fn job(s: &mut State, engine: &str, job: u64, at: Instant) -> Result<Value, JobError> {
        s.job_view("demo-project", engine, &job.to_string(), at)
    }

    #[test]
    fn always_retryable_engine_fails_again_at_once() {
        let mut s = State::new(&Fixture::default_set(), DEFAULT_JOB_HISTORY);
        let now = Instant::now();
        let first = s.retry("demo-project", ALWAYS, now).unwrap().job_id;
        let second = s.retry("demo-project", ALWAYS, now).unwrap().job_id;
        assert!(second > first && first > 18701);
        let e = s.snapshot(ALWAYS, now).unwrap();
        assert_eq!(e.status, EngineStatus::CreateFailed);
        assert_eq!(e.jobs.back().unwrap().status, JobStatus::Error);
    }

    #[test]
    fn slow_retry_blocks_a_second_retry_then_succeeds() {
        let mut s = State::new(&Fixture::default_set(), DEFAULT_JOB_HISTORY);
        let now = Instant::now();
        let job = s.retry("demo-project", SLOW, now).unwrap().job_id;
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
        let ids: Vec<u64> = (0..10).map(|_| s.retry("demo-project", ALWAYS, now).unwrap().job_id).collect();
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

    #[test]
    fn the_default_engine_runs_its_job_300_ms() {
        let mut s = with(&[]);
        let now = Instant::now();
        let id = s.retry("demo-project", DEFAULT, now).unwrap().job_id;
        let almost = now + Duration::from_millis(299);
        assert_eq!(job(&mut s, DEFAULT, id, almost).unwrap()["status"], "Executing");
        assert_eq!(s.engine_view("demo-project", DEFAULT, almost).unwrap()["status"], "Creating");
        assert_eq!(job(&mut s, DEFAULT, id, now + JOB_RUNS).unwrap()["status"], "Error");
        assert_eq!(s.engine_view("demo-project", DEFAULT, now + JOB_RUNS).unwrap()["status"], "CreateFailed");
    }

    #[test]
    fn job_faults_bend_only_the_jobs_a_retry_started() {
        let now = Instant::now();
        let mut s = with(&[Fault::JobUnknownToShowJob]);
        let id = s.retry("demo-project", DEFAULT, now).unwrap().job_id;
        assert_eq!(job(&mut s, DEFAULT, id, now), Err(JobError::NotFound));
        assert_eq!(job(&mut s, DEFAULT, 18638, now).unwrap()["engineId"], DEFAULT);
        assert_eq!(s.engine_view("demo-project", DEFAULT, now).unwrap()["latestJobId"], id);

        let mut s = with(&[Fault::JobOfAnotherEngine]);
        let id = s.retry("demo-project", DEFAULT, now).unwrap().job_id;
        let other = job(&mut s, DEFAULT, id, now).unwrap()["engineId"].as_str().unwrap().to_owned();
        // Another engine of the fixture, of the same project: it exists, so only its id betrays it.
        assert_eq!(other, ALWAYS);
        assert_eq!(job(&mut s, DEFAULT, 18638, now).unwrap()["engineId"], DEFAULT);

        let mut s = with(&[Fault::JobStatusOutsideEnum]);
        let id = s.retry("demo-project", DEFAULT, now).unwrap().job_id;
        let running = job(&mut s, DEFAULT, id, now).unwrap();
        assert_eq!((running["status"].as_str(), running["scheduling"].as_i64()), (Some("Running"), Some(1)));
        assert_eq!(job(&mut s, DEFAULT, id, now + JOB_RUNS).unwrap()["status"], "Error");
        assert_eq!(job(&mut s, UPGRADING, 18700, now).unwrap()["status"], "Executing", "a fixture job");
    }

    #[test]
    fn a_frozen_engine_shows_its_state_from_before_the_job() {
        let now = Instant::now();
        let mut s = with(&[Fault::EngineStateFrozen]);
        let id = s.retry("demo-project", SLOW, now).unwrap().job_id;
        let view = s.engine_view("demo-project", SLOW, now).unwrap();
        assert_eq!(view["status"], "UpgradeFailed");
        assert_eq!(view["engineAdditionalActions"], json!(["Retry"]));
        assert_eq!(view["latestJobId"], id);
        // Only the view is frozen: the job runs, and another Retry is refused.
        assert_eq!(job(&mut s, SLOW, id, now).unwrap()["status"], "Executing");
        assert_eq!(s.retry("demo-project", SLOW, now), Err(RetryError::NotRetryable(EngineStatus::Upgrading)));
        let later = now + Duration::from_secs(4);
        assert_eq!(s.engine_view("demo-project", SLOW, later).unwrap()["status"], "Available");
        // Without the fault the engine shows its job.
        let mut s = with(&[]);
        s.retry("demo-project", SLOW, now).unwrap();
        let view = s.engine_view("demo-project", SLOW, now).unwrap();
        assert_eq!((view["status"].as_str(), &view["engineAdditionalActions"]), (Some("Upgrading"), &json!([])));
    }

    #[test]
    fn a_retry_beside_a_running_one_runs_alongside() {
        let now = Instant::now();
        let mut s = with(&[Fault::AcceptRetryWhileRunning]);
        let first = s.retry("demo-project", DEFAULT, now).unwrap().job_id;
        let half = now + JOB_RUNS / 2;
        let second = s.retry("demo-project", DEFAULT, half).unwrap().job_id;
        assert!(second > first);
        let e = s.snapshot(DEFAULT, half).unwrap();
        assert_eq!(e.jobs.iter().filter(|j| j.status == JobStatus::Executing).count(), 2);
        // The first ends; the engine stays Creating while the second runs its whole 300 ms.
        let between = now + JOB_RUNS;
        assert_eq!(job(&mut s, DEFAULT, first, between).unwrap()["status"], "Error");
        assert_eq!(job(&mut s, DEFAULT, second, between).unwrap()["status"], "Executing");
        assert_eq!(s.snapshot(DEFAULT, between).unwrap().status, EngineStatus::Creating);
        let after = half + JOB_RUNS;
        assert_eq!(job(&mut s, DEFAULT, second, after).unwrap()["status"], "Error");
        assert_eq!(s.snapshot(DEFAULT, after).unwrap().status, EngineStatus::CreateFailed);
        // A settled engine, and one running a job of the fixture's, are still refused.
        assert_eq!(s.retry("demo-project", AVAILABLE, now), Err(RetryError::NotRetryable(EngineStatus::Available)));
        assert_eq!(s.retry("demo-project", UPGRADING, now), Err(RetryError::NotRetryable(EngineStatus::Upgrading)));
    }

    #[test]
    fn a_checked_retry_starts_without_a_second_check() {
        // What `racy_retry` does in the handler: both check before either starts.
        let now = Instant::now();
        let mut s = with(&[]);
        let plans: Vec<RetryPlan> = (0..2).map(|_| s.check_retry("demo-project", DEFAULT, now).unwrap()).collect();
        let ids: Vec<u64> = plans.iter().map(|p| s.start_retry(p, now).unwrap().job_id).collect();
        assert!(ids[1] > ids[0]);
        let e = s.snapshot(DEFAULT, now).unwrap();
        assert_eq!(e.jobs.iter().filter(|j| j.status == JobStatus::Executing).count(), 2);
        // Checked now, the engine is busy.
        assert_eq!(
            s.check_retry("demo-project", DEFAULT, now).unwrap_err(),
            RetryError::NotRetryable(EngineStatus::Creating)
        );
        assert_eq!(s.snapshot(DEFAULT, now + JOB_RUNS).unwrap().status, EngineStatus::CreateFailed);
    }

    #[test]
    fn same_job_id_gives_every_retry_the_first_id() {
        let now = Instant::now();
        let mut s = with(&[Fault::SameJobId]);
        let first = s.retry("demo-project", ALWAYS, now).unwrap().job_id;
        assert_eq!(s.retry("demo-project", ALWAYS, now).unwrap().job_id, first);
        assert_eq!(s.retry("demo-project", DEFAULT, now).unwrap().job_id, first);
        assert_eq!(s.snapshot(ALWAYS, now).unwrap().jobs.iter().filter(|j| j.id == first).count(), 2);
        // The job API shows the newest of them: the running one.
        assert_eq!(job(&mut s, DEFAULT, first, now).unwrap()["status"], "Executing");
    }

    #[test]
    fn foreign_engine_reachable_ignores_the_project() {
        let now = Instant::now();
        let mut s = with(&[Fault::ForeignEngineReachable]);
        assert_eq!(s.engine_view("demo-project", FOREIGN, now).unwrap()["name"], "cse-foreign");
        assert_eq!(job(&mut s, FOREIGN, 18640, now).unwrap()["status"], "Error");
        assert_eq!(s.retry("demo-project", FOREIGN, now).unwrap().name, "cse-foreign");
        assert_eq!(s.retry("demo-project", "nope", now), Err(RetryError::NotFound));
    }

    #[test]
    fn accept_not_retryable_upgrades_a_settled_engine_and_returns_it() {
        let now = Instant::now();
        let mut s = with(&[Fault::AcceptNotRetryable]);
        let id = s.retry("demo-project", AVAILABLE, now).unwrap().job_id;
        let running = job(&mut s, AVAILABLE, id, now).unwrap();
        assert_eq!((running["type"].as_str(), running["status"].as_str()), (Some("Upgrade"), Some("Executing")));
        assert_eq!(s.snapshot(AVAILABLE, now).unwrap().status, EngineStatus::Upgrading);
        // No retry behaviour in the fixture: 300 ms.
        let almost = now + Duration::from_millis(SETTLED_RETRY_MS - 1);
        assert_eq!(s.retry("demo-project", AVAILABLE, almost), Err(RetryError::NotRetryable(EngineStatus::Upgrading)));
        let after = now + Duration::from_millis(SETTLED_RETRY_MS);
        assert_eq!(job(&mut s, AVAILABLE, id, after).unwrap()["status"], "Finished");
        assert_eq!(s.snapshot(AVAILABLE, after).unwrap().status, EngineStatus::Available);
        // An engine in progress is still refused; a failed one is retried as ever.
        assert_eq!(s.retry("demo-project", UPGRADING, now), Err(RetryError::NotRetryable(EngineStatus::Upgrading)));
        let create = s.retry("demo-project", DEFAULT, now).unwrap().job_id;
        assert_eq!(job(&mut s, DEFAULT, create, now).unwrap()["type"], "Create");
    }
}
