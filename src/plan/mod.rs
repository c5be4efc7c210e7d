//! The plan: each case joined with the contract into a concrete [`PlannedCase`] — the exact
//! request to send, a stable name (`file::case`), and a [`Classification`] of the request
//! computed from the request schemas, which decides the checks that apply. Filters and
//! partitions ([`partition`]) apply here, before anything is sent.

mod classify;
mod filter;
mod join;
pub mod partition;

pub use classify::{Classification, RequestPart, RequestViolation, classify, classify_parsed};
pub use filter::Filter;
pub use join::{
    Origin, PlanConfig, PlanError, PlannedCase, PlannedExpect, StatefulOrigin, Unbuilt, encode_segment, hint,
    is_side_effecting, plan, url,
};
pub use partition::{Dealer, Partition};
