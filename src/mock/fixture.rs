//! The engines the mock starts with: a default set (`engines.json` beside this file) or a file
//! given with `--engines`. Statuses are the documented enum (FACTS.md 2a), job statuses and
//! types those of the job API (2b).

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
        match self {
            EngineStatus::CreateFailed => Some((JobType::Create, EngineStatus::Creating)),
            EngineStatus::DeleteFailed => Some((JobType::Delete, EngineStatus::Deleting)),
            EngineStatus::UpgradeFailed => Some((JobType::Upgrade, EngineStatus::Upgrading)),
            EngineStatus::ModifyFailed => Some((JobType::Modify, EngineStatus::Modifying)),
            _ => None,
        }
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
    /// Current status.
    pub status: EngineStatus,
    /// Its retries' behaviour.
    #[serde(default)]
    pub retry: RetryBehaviour,
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
    /// The project the engines belong to.
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
        let mut ids = std::collections::HashSet::new();
        if let Some(dup) = fixture.engines.iter().find(|e| !ids.insert(&e.id)) {
            return Err(format!("engine id `{}` appears twice", dup.id));
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

    /// The default `${engine_id}` of the embedded run: the first engine in a failed status (in
    /// the default set, one whose Retry job runs a while and fails, so a run meets it busy).
    pub fn default_engine(&self) -> Option<&EngineFixture> {
        self.engines.iter().find(|e| e.status.retry_of().is_some())
    }

    /// The engine whose retries are always accepted (retry jobs that fail at once), if any: for
    /// load tests, where no Retry should wait for a job.
    pub fn always_retryable(&self) -> Option<&EngineFixture> {
        self.engines.iter().find(|e| {
            e.status.retry_of().is_some() && e.retry.duration_ms == 0 && e.retry.outcome == RetryOutcome::Fail
        })
    }
}
