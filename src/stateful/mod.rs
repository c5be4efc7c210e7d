//! The engine's state as the sibling read operations show it, and what it says of a refused
//! side-effecting request. Everything here is pure: [`Reads`] builds the read requests and parses
//! their answers, [`Snapshot`] is one reading (the engine and its newest job), and [`justify`]
//! decides whether a refusal was the state's doing. The runner sends the reads (honouring
//! `--rate` and 429s) and owns the waiting. Nothing here is shared with the mock: oracle and
//! server must not share code.

pub mod model;
mod reads;
mod snapshot;
mod trace;

pub use reads::{ReadError, Reads};
pub use snapshot::{JobView, Snapshot, justify};
pub use trace::{Accepted, Act, Role, Step, Trace, id_of};
