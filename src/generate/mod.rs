//! Generated cases, in two phases. First the coverage phase ([`coverage`]): the boundary and
//! near-miss values of every constraint of every operation, derived by rule from the schemas,
//! the same on every run. Then random cases: proptest strategies derived from the contract
//! produce whole requests in three families — positive (valid variants), negative (each breaks
//! exactly one rule, and says which), and robustness probes (inputs the contract does not
//! classify). Each becomes a
//! [`PlannedCase`](crate::plan::PlannedCase) like a hand-written one and runs through the same
//! runner and checks. Case `i` of a run is drawn from its own RNG, seeded by (seed, i), so the
//! same seed, count and contract give the same requests under the same names, and any one case
//! can be rebuilt — and shrunk ([`runner::shrink`](crate::runner::shrink)) — on its own.

mod coverage;
mod draft;
mod json;
mod kinds;
mod plan;
mod save;
mod strategies;
mod strings;

pub use draft::Draft;
pub use kinds::{Family, Kind, Mode, kinds};
pub use plan::{GenConfig, Generated, Selection, generate, names};
pub use save::save_failure;
