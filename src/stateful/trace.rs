//! What a stateful case saw: every request it sent, in order, with its answer and the times it
//! was sent and answered (our clock). Pure data: the stateful properties (`check`) judge it, and
//! the reports tell it step by step.

use serde_json::Value;

use crate::contract::StateModel;

/// Which engine a step is about: the run's variables name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// `${engine_id}`: an engine whose failed job may be retried.
    Target,
    /// `${not_retryable_engine_id}`: an engine that exists and is not in a failed state.
    NotRetryable,
    /// `${foreign_engine_id}`: an engine of another project.
    Foreign,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Target, Role::NotRetryable, Role::Foreign];

    /// How messages name the engine.
    pub fn describe(self) -> &'static str {
        match self {
            Role::Target => "the engine",
            Role::NotRetryable => "the not-retryable engine",
            Role::Foreign => "the foreign engine",
        }
    }

    /// The run variable that names it.
    pub fn variable(self) -> &'static str {
        match self {
            Role::Target => "engine_id",
            Role::NotRetryable => "not_retryable_engine_id",
            Role::Foreign => "foreign_engine_id",
        }
    }

    /// The flag (and environment variable) that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Role::Target => "--engine-id (CSE_ENGINE_ID)",
            Role::NotRetryable => "--not-retryable-engine-id (CSE_NOT_RETRYABLE_ENGINE_ID)",
            Role::Foreign => "--foreign-engine-id (CSE_FOREIGN_ENGINE_ID)",
        }
    }
}

/// What a step asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// A valid Retry of the engine.
    Retry,
    /// The engine's details.
    ShowEngine,
    /// A job's details: `unknown` when the id is one no job of the engine has.
    ShowJob {
        /// The job id asked for.
        id: String,
        /// No job has it: a conformant server refuses it.
        unknown: bool,
    },
}

impl Act {
    /// In a few words: `retry`, `show_engine`, `show_job 18702`.
    pub fn describe(&self) -> String {
        match self {
            Act::Retry => "retry".into(),
            Act::ShowEngine => "show_engine".into(),
            Act::ShowJob { id, unknown: false } => format!("show_job {id}"),
            Act::ShowJob { id, unknown: true } => format!("show_job {id} (no such job)"),
        }
    }
}

/// One request of a stateful case and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What it asked.
    pub act: Act,
    /// Of which engine.
    pub role: Role,
    /// That engine's id.
    pub engine: String,
    /// Steps sent at once share their burst's number.
    pub burst: Option<usize>,
    /// When it was sent, ms since the epoch (our clock).
    pub sent_ms: i64,
    /// When its answer (or its failure) came.
    pub received_ms: i64,
    /// The answer's status; `None` when the exchange failed.
    pub status: Option<u16>,
    /// The answer's body, when it is JSON.
    pub body: Option<Value>,
}

impl Step {
    /// Whether the answer is a 2xx.
    pub fn accepted(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The body's value at `pointer`.
    pub fn field(&self, pointer: &str) -> Option<&Value> {
        self.body.as_ref()?.pointer(pointer)
    }

    /// The body's value at `pointer` as an id: a string, or an integer written in decimal.
    pub fn id_at(&self, pointer: &str) -> Option<String> {
        self.field(pointer).and_then(id_of)
    }
}

/// An id as a body gives it: a non-empty string, or an integer.
pub fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The steps of one stateful case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// In the order they were sent (the steps of a burst in any order among themselves).
    pub steps: Vec<Step>,
}

/// A Retry that was accepted, and the job its answer says it started.
#[derive(Debug, Clone)]
pub struct Accepted<'a> {
    /// Its step's index.
    pub index: usize,
    /// The step.
    pub step: &'a Step,
    /// The job id its answer gives.
    pub job: String,
}

impl Trace {
    /// `step 4 (show_job 18702 of the engine)`: how messages point at step `index`.
    pub fn name(&self, index: usize) -> String {
        let step = &self.steps[index];
        format!("step {} ({} of {})", index + 1, step.act.describe(), step.role.describe())
    }

    /// The steps with their indexes.
    pub fn indexed(&self) -> impl Iterator<Item = (usize, &Step)> {
        self.steps.iter().enumerate()
    }

    /// Every Retry accepted with a job id (at the model's `accepted_job_id`), of any engine.
    pub fn accepted(&self, model: &StateModel) -> Vec<Accepted<'_>> {
        self.indexed()
            .filter(|(_, s)| s.act == Act::Retry && s.accepted())
            .filter_map(|(index, step)| Some(Accepted { index, step, job: step.id_at(&model.accepted_job_id)? }))
            .collect()
    }

    /// The reads of job `job` of `role`'s engine answered after step `after` was sent.
    pub fn job_reads<'a>(&'a self, role: Role, job: &'a str, after: usize) -> impl Iterator<Item = (usize, &'a Step)> {
        self.indexed()
            .skip(after + 1)
            .filter(move |(_, s)| s.role == role && matches!(&s.act, Act::ShowJob { id, unknown: false } if id == job))
    }

    /// The reads of `role`'s engine, with their indexes.
    pub fn engine_reads(&self, role: Role) -> impl Iterator<Item = (usize, &Step)> {
        self.indexed().filter(move |(_, s)| s.role == role && s.act == Act::ShowEngine)
    }

    /// The steps about `role`'s engine.
    pub fn of(&self, role: Role) -> impl Iterator<Item = (usize, &Step)> {
        self.indexed().filter(move |(_, s)| s.role == role)
    }
}
