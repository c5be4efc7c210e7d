//! Exit codes, documented in the README.

/// Every case passed (or, for `validate` and `list`, everything loaded).
pub const SUCCESS: u8 = 0;
/// At least one case failed or errored.
pub const FAILURES: u8 = 1;
/// A usage or configuration error: a bad flag, an unreadable or invalid schema or case file, a
/// variable a case needs and the run does not set. Nothing was sent.
pub const USAGE: u8 = 2;
/// The filters selected no case: nothing was sent (cargo-nextest's `NO_TESTS_RUN`), so that a
/// typo in a CI filter is not a green build.
pub const NO_CASES: u8 = 4;
/// The run was interrupted by SIGINT (Ctrl-C); the reports hold the cases that finished. SIGTERM
/// gives 143 and SIGHUP 129 (128 + the signal's number, `signals::exit_code`).
pub const INTERRUPTED: u8 = 130;
