//! The libtest face of a run: outcomes as libtest-mimic trials, so the console speaks libtest
//! (`--format pretty|terse|json`, `-q`, `--list`) and `cargo test` / `cargo nextest` can list
//! and filter the contract's cases like ordinary tests.
//!
//! Cases are run on tokio first (concurrently), then handed to libtest-mimic as trials that
//! report the result already known: libtest-mimic's own runner is a thread pool that would
//! otherwise hold one thread per request in flight.

use libtest_mimic::{Arguments, Failed, Trial};

use crate::outcome::{CaseOutcome, Outcome};
use crate::plan::Filter;
use crate::report::{RunInfo, Secrets, console};

/// The trial of one outcome: passes, or fails with the full story of the case (masked).
pub fn trial(outcome: &CaseOutcome, info: &RunInfo, secrets: &Secrets) -> Trial {
    let result = match outcome.outcome {
        Outcome::Passed | Outcome::Skipped => Ok(()),
        Outcome::Failed | Outcome::Errored => Err(secrets.mask(console::failure_detail(outcome, info).trim())),
    };
    // No `with_kind`: libtest-mimic would print `[kind] name`, which nextest takes as the name.
    Trial::test(outcome.name.clone(), move || result.map_err(Failed::from))
        .with_ignored_flag(outcome.outcome == Outcome::Skipped)
}

/// A trial that only lists a case (never run).
pub fn listed(name: &str) -> Trial {
    Trial::test(name.to_owned(), || Ok(()))
}

/// The case filter libtest's arguments describe.
pub fn filter(args: &Arguments) -> Filter {
    Filter { include: args.filter.iter().cloned().collect(), skip: args.skip.clone(), exact: args.exact }
}

/// Arguments for printing trials whose results are known: in plan order, on one thread, with
/// the filters already applied.
pub fn for_printing(args: &Arguments) -> Arguments {
    Arguments { test_threads: Some(1), filter: None, skip: Vec::new(), exact: false, ..args.clone() }
}
