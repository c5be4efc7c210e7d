//! `request_conforms`: the request a client sent conforms to the contract (the operation's
//! method, the path, header and body schemas, credentials present). It judges the client, not the
//! server, so it applies only to the exchanges the validation proxy observed (`crate::proxy`):
//! the suite's own cases break the contract on purpose, and their classification decides what
//! the server must answer instead.

use super::{Applies, Check, CheckInput, Run, Verdict};
use crate::plan::{Origin, PlannedCase};

/// At most this many violations are listed.
const MAX_LISTED: usize = 20;

pub(super) const CHECK: Check = Check {
    summary: "the client's request conforms to the contract: method, path, headers, body, credentials present",
    applies: Applies::When(applies),
    run: Run::Exchange(check),
};

fn applies(case: &PlannedCase) -> bool {
    case.origin == Origin::Observed
}

fn check(input: &CheckInput<'_>) -> Verdict {
    let class = &input.case.class;
    let violations: Vec<String> =
        class.credential_violations.iter().chain(&class.violations).map(ToString::to_string).collect();
    let Some(first) = violations.first() else { return Verdict::Passed };
    let actual = match violations.len() {
        1 => format!("a request that breaks it: {first}"),
        n => format!("a request that breaks it {n} times, first: {first}"),
    };
    let mut details: Vec<String> = violations.iter().take(MAX_LISTED).cloned().collect();
    if violations.len() > MAX_LISTED {
        details.push(format!("… and {} more", violations.len() - MAX_LISTED));
    }
    Verdict::Failed {
        expected: format!("a request that conforms to the {} operation's contract", input.operation.name()),
        actual,
        details,
    }
}
