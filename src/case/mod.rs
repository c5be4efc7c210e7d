//! Hand-written cases: the serde model of a case file ([`CaseFile`], [`Case`]), the loader that
//! validates each file against `schemas/case.schema.json` and attaches its path and a JSON pointer
//! to every error, and the `${variable}` syntax cases use.

mod error;
mod load;
mod model;
pub mod vars;

pub use error::CaseError;
pub use load::load_cases;
pub use model::{Assertion, Case, CaseFile, Expect, RawBody, RequestOverrides};
