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
}
