//! Building the read requests (engine details, job details) from the contract's operations and
//! templates, and turning their answers into a [`Snapshot`].

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::{JobView, Snapshot};
use crate::case::vars::{self, Variables};
use crate::client::{Request, Response};
use crate::contract::{Contract, Operation, StateModel};
use crate::plan::url;

/// Why the state could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The target does not offer the read (403, 404 or 405, whatever the code): judge without
    /// state.
    Unavailable(String),
    /// The read failed otherwise (transport, another status, a body without the fields).
    Failed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Unavailable(why) | ReadError::Failed(why) => f.write_str(why),
        }
    }
}

/// The read operations of a contract with a state model, and the values to fill their templates.
#[derive(Debug, Clone)]
pub struct Reads {
    contract: Arc<Contract>,
    target: String,
    variables: Variables,
}

impl Reads {
    /// The reads of `contract` against `target`; `None` if the contract has no state model.
    pub fn new(contract: &Arc<Contract>, target: &str, variables: &Variables) -> Option<Reads> {
        contract.state_model.as_ref()?;
        Some(Reads { contract: contract.clone(), target: target.to_owned(), variables: variables.clone() })
    }

    /// The state model.
    pub fn model(&self) -> &StateModel {
        self.contract.state_model.as_ref().expect("Reads exist only for a contract with a state model")
    }

    fn op(&self, name: &str) -> &Operation {
        self.contract.by_name(name).expect("the contract checked the state model's operation names")
    }

    /// The engine named by `params` (the path parameters of the side-effecting case: the read
    /// goes to the same project and engine).
    pub fn engine_request(&self, params: &Map<String, Value>) -> Result<Request, ReadError> {
        self.request(self.op(&self.model().engine_operation), params, None)
    }

    /// A valid Retry (the contract's side-effecting operation, from its template) of the engine
    /// named by `params`.
    pub fn retry_request(&self, params: &Map<String, Value>) -> Result<Request, ReadError> {
        let op = self.contract.default_operation();
        let mut request = self.request(op, params, None)?;
        if let Some(body) = &op.manifest.request.template.body {
            let unset = |e: vars::Unset| ReadError::Failed(format!("{}: ${{{}}} is not set", op.name(), e.0));
            let body = vars::expand_value(body, &self.variables).map_err(unset)?;
            request.body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        }
        Ok(request)
    }

    /// The path parameters naming `engine` (the side-effecting operation's, its other values
    /// from the run's variables); `None` when one of them is not set.
    pub fn engine_params(&self, engine: &str) -> Option<Map<String, Value>> {
        let op = self.contract.default_operation();
        let engine_key = &self.model().engine_path_parameter;
        let mut params = Map::new();
        for (key, value) in &op.manifest.request.template.path_parameters {
            let value = if key == engine_key {
                Value::String(engine.to_owned())
            } else {
                vars::expand_value(value, &self.variables).ok()?
            };
            params.insert(key.clone(), value);
        }
        Some(params)
    }

    /// The contract.
    pub fn contract(&self) -> &Arc<Contract> {
        &self.contract
    }

    /// The value of run variable `name`, if set.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables.get(name)
    }

    /// Job `job_id` of the engine named by `params`.
    pub fn job_request(&self, params: &Map<String, Value>, job_id: &str) -> Result<Request, ReadError> {
        let model = self.model();
        self.request(self.op(&model.job_operation), params, Some((&model.job_path_parameter, job_id)))
    }

    fn request(
        &self,
        op: &Operation,
        params: &Map<String, Value>,
        job: Option<(&str, &str)>,
    ) -> Result<Request, ReadError> {
        let template = &op.manifest.request.template;
        let unset = |e: vars::Unset| ReadError::Failed(format!("{}: ${{{}}} is not set", op.name(), e.0));
        let mut path = Map::new();
        for (key, value) in &template.path_parameters {
            let given = match job {
                Some((name, id)) if name == key => Some(Value::String(id.to_owned())),
                _ => params.get(key).cloned(),
            };
            let value = match given {
                Some(v) => v,
                None => vars::expand_value(value, &self.variables).map_err(unset)?,
            };
            path.insert(key.clone(), value);
        }
        let mut headers = Vec::new();
        for (key, value) in &template.headers {
            headers
                .push((key.clone(), vars::expand(value.as_str().unwrap_or_default(), &self.variables).map_err(unset)?));
        }
        let url = url(&self.target, &op.manifest.path, &path);
        Ok(Request { method: op.manifest.method.clone(), url, headers, body: Bytes::new() })
    }

    /// The engine's fields from the engine read's answer.
    pub fn parse_engine(&self, response: &Response) -> Result<Snapshot, ReadError> {
        let model = self.model();
        let body = Self::body(&model.engine_operation, response)?;
        let name = &model.engine_operation;
        let status = body
            .pointer(&model.engine.status)
            .and_then(Value::as_str)
            .ok_or_else(|| ReadError::Failed(format!("{name}: no string at {}", model.engine.status)))?;
        let latest_job_id = body.pointer(&model.engine.latest_job_id).and_then(job_id);
        let actions = body
            .pointer(&model.engine.actions)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect());
        Ok(Snapshot { status: status.to_owned(), latest_job_id, actions, job: None, pending_job: None })
    }

    /// The job an accepted side-effecting request started, from its answer's body.
    pub fn accepted_job(&self, response: &Response) -> Option<i64> {
        let body: Value = serde_json::from_slice(&response.body).ok()?;
        let id = body.pointer(&self.model().accepted_job_id)?;
        id.as_i64().or_else(|| id.as_str()?.parse().ok())
    }

    /// The job's fields from the job read's answer.
    pub fn parse_job(&self, id: &str, response: &Response) -> Result<JobView, ReadError> {
        let model = self.model();
        let body = Self::body(&model.job_operation, response)?;
        let status = body
            .pointer(&model.job.status)
            .and_then(Value::as_str)
            .ok_or_else(|| ReadError::Failed(format!("{}: no string at {}", model.job_operation, model.job.status)))?;
        let time = |pointer: &str| body.pointer(pointer).and_then(Value::as_i64).filter(|t| *t > 0);
        Ok(JobView {
            id: id.to_owned(),
            status: status.to_owned(),
            start: time(&model.job.start),
            end: time(&model.job.end),
        })
    }

    fn body(operation: &str, response: &Response) -> Result<Value, ReadError> {
        match response.status {
            200 => serde_json::from_slice(&response.body)
                .map_err(|e| ReadError::Failed(format!("{operation} answered 200 with a body that is not JSON: {e}"))),
            403..=405 => Err(ReadError::Unavailable(format!("{operation} answered {}", response.status))),
            other => {
                let text = String::from_utf8_lossy(&response.body);
                Err(ReadError::Failed(format!(
                    "{operation} answered {other}: {}",
                    crate::contract::truncate(&text, 160)
                )))
            }
        }
    }
}

/// A job id as the engine body gives it: an integer (or a string of digits).
fn job_id(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}
