//! `assertion`: each of the case's assertions holds — the value at the pointer in the body
//! equals the expected literal.

use super::{Applies, Check, Run, CheckInput, Verdict};
use crate::plan::PlannedCase;

pub(super) const CHECK: Check = Check {
    summary: "the case's JSON-pointer assertions hold",
    applies: Applies::When(applies),
    run: Run::Exchange(check),
};

fn applies(case: &PlannedCase) -> bool {
    !case.expect.assertions.is_empty()
}

fn check(input: &CheckInput<'_>) -> Verdict {
    let body = input.body.json();
    let failures: Vec<(String, String)> = input
        .case
        .expect
        .assertions
        .iter()
        .filter_map(|(pointer, expected)| {
            let actual = body.and_then(|b| b.pointer(pointer));
            (actual != Some(expected)).then(|| {
                let actual = actual
                    .map_or_else(|| "nothing there".to_owned(), |v| crate::contract::truncate(&v.to_string(), 120));
                (format!("{pointer} = {expected}"), format!("{pointer} = {actual}"))
            })
        })
        .collect();
    match failures.split_first() {
        None => Verdict::Passed,
        Some(((expected, actual), rest)) => Verdict::Failed {
            expected: expected.clone(),
            actual: actual.clone(),
            details: rest.iter().map(|(e, a)| format!("expected {e}, got {a}")).collect(),
        },
    }
}
