//! The engines the mock starts with: a default set (`engines.json` beside this file) or a file
//! given with `--engines`. Statuses are the documented enum (schemas/FACTS.md §4.2), job
//! statuses and types those of the job API (§4.4).

use serde::{Deserialize, Serialize};

/// The default fixture, embedded.
pub const DEFAULT_FIXTURE: &str = include_str!("engines.json");

/// An engine's status (Querying Microservice Engine Details, `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the documented enum values, named as the API names them")]
pub enum EngineStatus {
    Creating,
    Available,
    Unavailable,
    Deleting,
    Deleted,
    Upgrading,
    Modifying,
    CreateFailed,
    DeleteFailed,
    UpgradeFailed,
    ModifyFailed,
    Freezed,
}

impl EngineStatus {
    /// For a failed status: the job type a retry runs and the status while it runs.
    pub fn retry_of(self) -> Option<(JobType, EngineStatus)> {
        // Every status named, no catch-all: a status added to the enum must be placed here.
        match self {
            EngineStatus::CreateFailed => Some((JobType::Create, EngineStatus::Creating)),
            EngineStatus::DeleteFailed => Some((JobType::Delete, EngineStatus::Deleting)),
            EngineStatus::UpgradeFailed => Some((JobType::Upgrade, EngineStatus::Upgrading)),
            EngineStatus::ModifyFailed => Some((JobType::Modify, EngineStatus::Modifying)),
            EngineStatus::Creating
            | EngineStatus::Available
            | EngineStatus::Unavailable
            | EngineStatus::Deleting
            | EngineStatus::Deleted
            | EngineStatus::Upgrading
            | EngineStatus::Modifying
            | EngineStatus::Freezed => None,
        }
    }

    /// A job is changing the engine: the status a retry (or any other job) shows while it runs.
    pub fn in_progress(self) -> bool {
        match self {
            EngineStatus::Creating | EngineStatus::Deleting | EngineStatus::Upgrading | EngineStatus::Modifying => true,
            EngineStatus::Available
            | EngineStatus::Unavailable
            | EngineStatus::Deleted
            | EngineStatus::CreateFailed
            | EngineStatus::DeleteFailed
            | EngineStatus::UpgradeFailed
            | EngineStatus::ModifyFailed
            | EngineStatus::Freezed => false,
        }
    }

    /// Nothing will make the engine retryable: neither a failed status (a Retry may be accepted)
    /// nor an in-progress one (a job may yet fail). Available, for instance.
    pub fn settled(self) -> bool {
        self.retry_of().is_none() && !self.in_progress()
    }
}

/// A job's type (job API, `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the documented enum values")]
pub enum JobType {
    Create,
    Delete,
    Upgrade,
    Modify,
}

/// A job's status (job API, `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the documented enum values")]
pub enum JobStatus {
    Init,
    Executing,
    Error,
    Timeout,
    Finished,
}

/// What a retry job ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RetryOutcome {
    /// The engine becomes Available (Deleted, for a delete).
    #[default]
    Succeed,
    /// The engine returns to its failed status.
    Fail,
}

/// How an engine's retries behave.
#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RetryBehaviour {
    /// How long the job runs; 0 finishes it within the request.
    #[serde(default)]
    pub duration_ms: u64,
    /// What it ends in.
    #[serde(default)]
    pub outcome: RetryOutcome,
}

/// A job of the fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFixture {
    /// Job id.
    pub id: u64,
    /// Job type.
    #[serde(rename = "type")]
    pub kind: JobType,
    /// Its status; an `Executing` job of the fixture never finishes.
    pub status: JobStatus,
}

/// An engine of the fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineFixture {
    /// Engine id.
    pub id: String,
    /// Engine name.
    pub name: String,
    /// Its project, when not the fixture's ([`Fixture::project_of`]): an engine of another
    /// tenant, which requests through the fixture's project must not reach.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Current status.
    pub status: EngineStatus,
    /// Its retries' behaviour, if the fixture gives one (otherwise a retry job ends at once and
    /// succeeds).
    #[serde(default)]
    pub retry: Option<RetryBehaviour>,
    /// Its job history, oldest first.
    #[serde(default)]
    pub jobs: Vec<JobFixture>,
}

/// The whole fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// The project the engines belong to, unless an engine names its own.
    pub project_id: String,
    /// The engines.
    pub engines: Vec<EngineFixture>,
}

/// The largest job id a fixture may give: 2^53 - 1.
const MAX_JOB_ID: u64 = (1 << 53) - 1;

impl Fixture {
    /// The default fixture.
    pub fn default_set() -> Fixture {
        Fixture::parse(DEFAULT_FIXTURE).expect("the embedded fixture is valid")
    }

    /// Parses a fixture; the error names line and column.
    pub fn parse(text: &str) -> Result<Fixture, String> {
        let fixture: Fixture =
            serde_json::from_str(text).map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
        // Ids are unique across projects, as the cloud's UUIDs are: the state finds an engine by
        // its id, then checks its project.
        let mut ids = std::collections::HashSet::new();
        if let Some(dup) = fixture.engines.iter().find(|e| !ids.insert(&e.id)) {
            return Err(format!("engine id `{}` appears twice", dup.id));
        }
        // Job ids are unique across engines, as the ids a Retry gives are.
        let mut job_ids = std::collections::HashSet::new();
        if let Some(dup) = fixture.engines.iter().flat_map(|e| &e.jobs).find(|j| !job_ids.insert(j.id)) {
            return Err(format!("job id {} appears twice", dup.id));
        }
        // New jobs are numbered after the largest: leave room, and stay exact in any JSON client.
        if let Some(job) = fixture.engines.iter().flat_map(|e| &e.jobs).find(|j| j.id > MAX_JOB_ID) {
            return Err(format!(
                "job id {} is above {MAX_JOB_ID} (2^53 - 1, the largest integer every JSON client reads exactly)",
                job.id
            ));
        }
        Ok(fixture)
    }

    /// The project `engine` belongs to: its own, or the fixture's.
    pub fn project_of<'a>(&'a self, engine: &'a EngineFixture) -> &'a str {
        engine.project_id.as_deref().unwrap_or(&self.project_id)
    }

    /// The engines of the fixture's own project, in the fixture's order.
    fn own_engines(&self) -> impl Iterator<Item = &EngineFixture> {
        self.engines.iter().filter(|e| self.project_of(e) == self.project_id)
    }

    /// The default `${engine_id}` of the embedded run: the first engine of the fixture's project
    /// in a failed status (in the default set, one whose Retry job runs a while and fails, so a
    /// run meets it busy and can read its job while it runs).
    pub fn default_engine(&self) -> Option<&EngineFixture> {
        self.own_engines().find(|e| e.status.retry_of().is_some())
    }

    /// `${not_retryable_engine_id}`: the first engine of the fixture's project whose status
    /// refuses a Retry for good ([`EngineStatus::settled`]; Available in the default set). An
    /// in-progress engine would not do: its job may fail and make it retryable mid-run.
    pub fn not_retryable_engine(&self) -> Option<&EngineFixture> {
        self.own_engines().find(|e| e.status.settled())
    }

    /// `${foreign_engine_id}`: the first engine of another project. It exists, so a server that
    /// ignores the project of the path finds it; requests through the fixture's project must not.
    pub fn foreign_engine(&self) -> Option<&EngineFixture> {
        self.engines.iter().find(|e| self.project_of(e) != self.project_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_set_names_an_engine_for_each_role() {
        let f = Fixture::default_set();
        let id = |e: Option<&EngineFixture>| e.map(|e| e.id.clone());
        assert_eq!(id(f.default_engine()), Some("4a1bc63d-4719-4bd3-b1ad-5ee590b05e87".to_owned()));
        // The engine the tests' ALWAYS_RETRYABLE names: retryable, its retry jobs fail at once.
        let always_retryable = f.own_engines().find(|e| {
            e.status.retry_of().is_some()
                && e.retry.is_some_and(|r| r.duration_ms == 0 && r.outcome == RetryOutcome::Fail)
        });
        assert_eq!(id(always_retryable), Some("a1a1a1a1-0000-4000-8000-000000000001".to_owned()));
        assert_eq!(id(f.not_retryable_engine()), Some("891bf21a-4024-4f47-b38c-bd259ca8f10a".to_owned()));
        let foreign = f.foreign_engine().unwrap();
        assert_eq!(foreign.id, "f0e1d2c3-b4a5-4968-8776-655443322110");
        assert_eq!((f.project_of(foreign), foreign.name.as_str()), ("other-project", "cse-foreign"));
        assert_eq!(f.project_of(f.default_engine().unwrap()), "demo-project");
    }

    #[test]
    fn not_retryable_skips_failed_in_progress_and_foreign_engines() {
        let f = Fixture::parse(
            r#"{"project_id": "p", "engines": [
                {"id": "a", "name": "a", "status": "Available", "project_id": "q"},
                {"id": "b", "name": "b", "status": "CreateFailed"},
                {"id": "c", "name": "c", "status": "Upgrading"},
                {"id": "d", "name": "d", "status": "Freezed"},
                {"id": "e", "name": "e", "status": "Available"}]}"#,
        )
        .unwrap();
        assert_eq!(f.not_retryable_engine().map(|e| e.id.as_str()), Some("d"));
        assert_eq!(f.foreign_engine().map(|e| e.id.as_str()), Some("a"));
        // An engine that names the fixture's own project is not foreign.
        let own = Fixture::parse(
            r#"{"project_id": "p", "engines": [{"id": "a", "name": "a", "status": "Creating", "project_id": "p"}]}"#,
        )
        .unwrap();
        assert!(own.foreign_engine().is_none() && own.not_retryable_engine().is_none());
    }

    #[test]
    fn a_job_id_given_twice_is_refused() {
        let err = Fixture::parse(
            r#"{"project_id": "p", "engines": [
                {"id": "a", "name": "a", "status": "Available",
                 "jobs": [{"id": 7, "type": "Create", "status": "Finished"}]},
                {"id": "b", "name": "b", "status": "Available", "project_id": "q",
                 "jobs": [{"id": 7, "type": "Create", "status": "Finished"}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err, "job id 7 appears twice");
    }

    #[test]
    fn statuses_fall_in_exactly_one_class() {
        use EngineStatus::*;
        for s in [
            Creating,
            Available,
            Unavailable,
            Deleting,
            Deleted,
            Upgrading,
            Modifying,
            CreateFailed,
            DeleteFailed,
            UpgradeFailed,
            ModifyFailed,
            Freezed,
        ] {
            let classes = [s.retry_of().is_some(), s.in_progress(), s.settled()];
            assert_eq!(classes.iter().filter(|c| **c).count(), 1, "{s:?}");
        }
    }
}
