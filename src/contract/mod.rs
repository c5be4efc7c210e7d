//! The contract: the JSON Schemas of `schemas/`, the operation manifests that bind them
//! (`*.operation.json`, one per [`Operation`]), and the state model (`state-model.json`).
//! [`Contract`] loads and compiles them once; everything else takes the [`Operation`] it works
//! on and asks it which statuses are documented, which schema a body must match, and what a
//! valid request looks like.
//! Nothing outside this folder restates a field, type, enum or status that the schemas say.

mod error;
mod load;
mod manifest;
mod openapi;
mod schema;
mod state_model;

pub use error::ContractError;
pub use load::{Contract, OpId, Operation};
pub use manifest::{Identity, Manifest, RequestSpec, ResponseSpec, StatusSource, Template};
pub use openapi::openapi;
pub use schema::{CompiledSchema, Violation, truncate_chars as truncate};
pub(crate) use schema::{MAX_VALIDATED_VALUES, count_values};
pub use state_model::{EnginePointers, JobPointers, Refusal, StateModel};
