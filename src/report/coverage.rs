//! The coverage summary printed after a run with generated cases: which documented statuses
//! came back, and for each mutation kind how many requests were sent and how they were
//! answered, so a user sees what the fuzzing actually exercised.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::outcome::CaseOutcome;
use crate::plan::Origin;

/// The summary as a small text table; empty when no case was generated.
pub fn render(outcomes: &[CaseOutcome]) -> String {
    let mut by_kind: BTreeMap<(String, String), BTreeMap<String, usize>> = BTreeMap::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in outcomes {
        let status = match (outcome.status, outcome.outcome) {
            (Some(status), _) => status.to_string(),
            (None, crate::outcome::Outcome::Skipped) => "skipped".to_owned(),
            (None, _) => "no answer".to_owned(),
        };
        *statuses.entry(status.clone()).or_default() += 1;
        if let Origin::Generated { family, mutation, .. } = &outcome.origin {
            let answers = by_kind.entry((family.name().to_owned(), mutation.clone())).or_default();
            *answers.entry(status).or_default() += 1;
        }
    }
    if by_kind.is_empty() {
        return String::new();
    }
    let line =
        |counts: &BTreeMap<String, usize>| counts.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(" ");
    let mut out = String::from("\ncoverage: statuses seen (all cases): ");
    out.push_str(&line(&statuses));
    let width = by_kind.keys().map(|(f, m)| f.len() + m.len() + 2).max().unwrap_or(0);
    let _ = writeln!(out, "\n{:<width$}  {:>5}  answered", "generated mutation", "sent");
    for ((family, mutation), answers) in &by_kind {
        let sent: usize = answers.values().sum();
        let _ = writeln!(out, "{:<width$}  {sent:>5}  {}", format!("{family}::{mutation}"), line(answers));
    }
    out
}
