//! The serde model of `state-model.json`: how an engine's state is read through the sibling
//! read operations, and which states allow a Retry. Which statuses may be retried is not
//! documented, so this is data a user can edit (`--schemas DIR`), not code.

use serde::Deserialize;

/// Where the engine's fields are in the engine details body (JSON pointers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnginePointers {
    /// The engine's status.
    pub status: String,
    /// The id of its newest job.
    pub latest_job_id: String,
    /// The additional actions it allows now.
    pub actions: String,
    /// Its id.
    #[serde(default = "EnginePointers::default_id")]
    pub id: String,
    /// Its name.
    #[serde(default = "EnginePointers::default_name")]
    pub name: String,
}

impl EnginePointers {
    fn default_id() -> String {
        "/id".into()
    }
    fn default_name() -> String {
        "/name".into()
    }
}

/// Where the job's fields are in the job details body (JSON pointers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobPointers {
    /// The job's status.
    pub status: String,
    /// Its start, ms since the epoch.
    pub start: String,
    /// Its end, ms since the epoch (0 or absent while it runs).
    pub end: String,
    /// Its id.
    #[serde(default = "JobPointers::default_id")]
    pub id: String,
    /// The engine it belongs to.
    #[serde(default = "JobPointers::default_engine_id")]
    pub engine_id: String,
    /// Its type.
    #[serde(default = "JobPointers::default_kind")]
    pub kind: String,
}

impl JobPointers {
    fn default_id() -> String {
        "/id".into()
    }
    fn default_engine_id() -> String {
        "/engineId".into()
    }
    fn default_kind() -> String {
        "/type".into()
    }
}

/// One conformant way of refusing a request for something the project does not have: a status
/// and, when given, the error code the body must carry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// The status.
    pub status: u16,
    /// The error code (at [`StateModel::error_code`]), when the status alone does not say it.
    #[serde(default)]
    pub error_code: Option<String>,
}

/// The state model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateModel {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// The operation that shows an engine.
    pub engine_operation: String,
    /// The operation that shows a job.
    pub job_operation: String,
    /// The path parameter naming the engine (in the side-effecting operation and the reads).
    pub engine_path_parameter: String,
    /// Where an accepted side-effecting request's answer names the job it started (a pointer).
    pub accepted_job_id: String,
    /// The path parameter naming the job in `job_operation`.
    pub job_path_parameter: String,
    /// Fields of the engine body.
    pub engine: EnginePointers,
    /// Fields of the job body.
    pub job: JobPointers,
    /// Engine statuses a Retry may be accepted in (when no job runs).
    pub retryable_statuses: Vec<String>,
    /// Engine statuses of an engine whose job is still running.
    pub in_progress_statuses: Vec<String>,
    /// Job statuses of a job that has not ended.
    pub running_job_statuses: Vec<String>,
    /// The entry of the engine's additional actions that says a Retry is allowed.
    pub retry_action: String,
    /// Statuses a conformant server refuses a valid request with when the state forbids it.
    pub refusal_statuses: Vec<u16>,
    /// Where an accepted side-effecting request's answer names the engine (a pointer).
    #[serde(default = "EnginePointers::default_id")]
    pub accepted_engine_id: String,
    /// Where it gives the engine's name (a pointer).
    #[serde(default = "EnginePointers::default_name")]
    pub accepted_engine_name: String,
    /// Where an error body carries its code (a pointer).
    #[serde(default = "StateModel::default_error_code")]
    pub error_code: String,
    /// How an engine the project does not have (unknown, or another project's) is refused.
    #[serde(default)]
    pub unknown_engine: Vec<Refusal>,
    /// How a job the engine does not have is refused.
    #[serde(default)]
    pub unknown_job: Vec<Refusal>,
    /// A Retry re-runs the failed job under its own id instead of starting a new job with a new
    /// id. The API page does not say which; by default (`false`) a Retry answered with the id of
    /// a job already seen ended is two jobs sharing an id.
    #[serde(default)]
    pub retry_reuses_job_id: bool,
    /// How long, in ms after a Retry was answered, the reads may still show the state from before
    /// it (a job not found yet, the engine not yet in progress) without failing a stateful
    /// property. 0: reads are consistent with the write they follow.
    #[serde(default)]
    pub read_lag_ms: u64,
}

impl StateModel {
    fn default_error_code() -> String {
        "/error_code".into()
    }
}
