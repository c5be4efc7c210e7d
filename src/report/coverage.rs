//! The coverage summary printed after a run with generated cases: which documented statuses
//! came back, and for each mutation kind how many requests were sent and how they were
//! answered, so a user sees what the fuzzing actually exercised.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::outcome::{Answer, Tally};

/// The summary as a small text table; empty when no case was generated.
pub fn render(tally: &Tally) -> String {
    let mut by_kind: Vec<(String, &BTreeMap<Answer, usize>)> = tally
        .suites()
        .iter()
        .filter_map(|s| s.generated.as_ref().map(|(family, mutation)| (format!("{family}::{mutation}"), &s.answers)))
        .collect();
    if by_kind.is_empty() {
        return String::new();
    }
    by_kind.sort_by(|a, b| a.0.cmp(&b.0));
    let line =
        |counts: &BTreeMap<Answer, usize>| counts.iter().map(|(a, n)| format!("{a}×{n}")).collect::<Vec<_>>().join(" ");
    let mut out = String::from("\ncoverage: statuses seen (all cases): ");
    out.push_str(&line(&tally.answers));
    let width = by_kind.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let _ = writeln!(out, "\n{:<width$}  {:>5}  answered", "generated mutation", "sent");
    for (name, answers) in &by_kind {
        let sent: usize = answers.iter().filter(|(a, _)| **a != Answer::NotBuilt).map(|(_, n)| n).sum();
        let _ = writeln!(out, "{name:<width$}  {sent:>5}  {}", line(answers));
    }
    out
}
