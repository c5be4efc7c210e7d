//! The contract: the JSON Schemas of `schemas/` and the operation manifest that binds them
//! (`operation.json`). [`Contract`] loads and compiles them once; everything else asks it which
//! statuses are documented, which schema a body must match, and what a valid request looks like.
//! Nothing outside this folder restates a field, type, enum or status that the schemas say.

mod error;
mod load;
mod manifest;
mod openapi;
mod schema;

pub use error::ContractError;
pub use load::Contract;
pub use manifest::{Identity, Manifest, RequestSpec, ResponseSpec, StatusSource, Template};
pub use openapi::openapi;
pub use schema::{CompiledSchema, Violation, truncate_chars as truncate};
