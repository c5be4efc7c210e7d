//! [`FailureGroups`]: cases that did not pass, grouped by what went wrong, so that 32 000
//! failures of one systematic defect read as one line. Two cases are in one group when they
//! failed the same checks (or both errored): one defect of a target typically fails one check,
//! whatever request shows it. Within a group, cases are counted per suite (case file or mutation
//! kind), which says how widely the defect shows.
//!
//! Each suite of a group names its example, the member with the lowest plan position (the same
//! seed gives the same example whatever order cases finished in); the group's example is the
//! first of those. The examples are the cases the run keeps whole (printed in full, shrunk per
//! mutation kind); the other members are counted, and their report fragments written as they
//! finish.

use std::collections::HashMap;

use super::{CaseOutcome, Outcome};

/// One suite's share of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteShare {
    /// The case file or mutation kind.
    pub suite: String,
    /// How many cases of the group are from it.
    pub count: usize,
    /// The plan position of its example.
    pub example_seq: usize,
    /// The example's name.
    pub example: String,
}

/// What the members of one group have in common, and how many they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureGroup {
    /// Failed or errored.
    pub outcome: Outcome,
    /// The checks that failed, in the order the cases ran them (`transport` for an errored
    /// case, `expected_failure` for a case marked so that passed).
    pub checks: Vec<&'static str>,
    /// How many cases.
    pub count: usize,
    /// Its suites, in the order their first member finished.
    pub suites: Vec<SuiteShare>,
}

impl FailureGroup {
    /// The example of the whole group: the first in plan order of its suites' examples.
    pub fn example(&self) -> &SuiteShare {
        self.suites.iter().min_by_key(|s| s.example_seq).unwrap_or(&self.suites[0])
    }

    /// The suites, largest first (then in plan order of their examples).
    pub fn suites_sorted(&self) -> Vec<&SuiteShare> {
        let mut suites: Vec<&SuiteShare> = self.suites.iter().collect();
        suites.sort_by_key(|s| (std::cmp::Reverse(s.count), s.example_seq));
        suites
    }

    /// The group as one line: `N× failed CHECKS, in K suites (largest: …), e.g. NAME`.
    pub fn describe(&self) -> String {
        let what = if self.outcome == Outcome::Errored { "errored" } else { "failed" };
        let suites = self.suites_sorted();
        let spread = match suites.as_slice() {
            [one] => format!("in {}", one.suite),
            many => {
                let largest: Vec<String> = many.iter().take(3).map(|s| format!("{} {}", s.suite, s.count)).collect();
                let more = if many.len() > 3 { ", …" } else { "" };
                format!("in {} suites ({}{more})", many.len(), largest.join(", "))
            }
        };
        format!("{}× {what} {}, {spread}; e.g. {}", self.count, self.checks.join(" + "), self.example().example)
    }
}

/// The groups of a run, in the order their first member finished.
#[derive(Debug, Clone, Default)]
pub struct FailureGroups {
    groups: Vec<FailureGroup>,
    by_key: HashMap<(Outcome, Vec<&'static str>), usize>,
}

/// Where a case that did not pass went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// It is its suite's example in its group now; `displaced` is the plan position of the
    /// example it replaced, if any (a case of a lower position finished later).
    Example {
        /// The former example.
        displaced: Option<usize>,
    },
    /// It is counted in a group whose example for its suite comes before it.
    Member,
}

fn checks_of(outcome: &CaseOutcome) -> Vec<&'static str> {
    let failed: Vec<&'static str> = outcome.failed_checks().map(|c| c.check.name()).collect();
    match (outcome.outcome, failed.is_empty()) {
        (Outcome::Errored, true) => vec!["transport"],
        (_, true) => vec!["expected_failure"],
        _ => failed,
    }
}

impl FailureGroups {
    /// Counts `outcome` (plan position `seq`) if it failed or errored; `None` for any other.
    pub fn add(&mut self, seq: usize, outcome: &CaseOutcome) -> Option<Membership> {
        if !matches!(outcome.outcome, Outcome::Failed | Outcome::Errored) {
            return None;
        }
        let key = (outcome.outcome, checks_of(outcome));
        let at = match self.by_key.get(&key) {
            Some(&at) => at,
            None => {
                let (kind, checks) = key.clone();
                self.groups.push(FailureGroup { outcome: kind, checks, count: 0, suites: Vec::new() });
                self.by_key.insert(key, self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[at];
        group.count += 1;
        let Some(share) = group.suites.iter_mut().find(|s| s.suite == outcome.suite) else {
            group.suites.push(SuiteShare {
                suite: outcome.suite.clone(),
                count: 1,
                example_seq: seq,
                example: outcome.name.clone(),
            });
            return Some(Membership::Example { displaced: None });
        };
        share.count += 1;
        if seq >= share.example_seq {
            return Some(Membership::Member);
        }
        let displaced = std::mem::replace(&mut share.example_seq, seq);
        share.example.clone_from(&outcome.name);
        Some(Membership::Example { displaced: Some(displaced) })
    }

    /// The groups, largest first (then in plan order of their examples).
    pub fn sorted(&self) -> Vec<&FailureGroup> {
        let mut groups: Vec<&FailureGroup> = self.groups.iter().collect();
        groups.sort_by_key(|g| (std::cmp::Reverse(g.count), g.example().example_seq));
        groups
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no case failed.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckKind, CheckResult, Verdict};

    fn outcome(name: &str, suite: &str, failed: &[CheckKind]) -> CaseOutcome {
        CaseOutcome {
            name: name.into(),
            suite: suite.into(),
            source: String::new(),
            description: String::new(),
            origin: crate::plan::Origin::HandWritten,
            minimal: None,
            outcome: if failed.is_empty() { Outcome::Errored } else { Outcome::Failed },
            checks: failed
                .iter()
                .map(|&check| CheckResult {
                    check,
                    verdict: Verdict::Failed { expected: "x".into(), actual: "y".into(), details: Vec::new() },
                })
                .collect(),
            status: None,
            duration: std::time::Duration::ZERO,
            request: crate::client::Request::default(),
            response: None,
            note: None,
            steps: Vec::new(),
        }
    }

    #[test]
    fn one_defect_is_one_group_whose_examples_are_the_first_in_plan_order() {
        let mut groups = FailureGroups::default();
        let schema = [CheckKind::BodySchema];
        assert_eq!(groups.add(5, &outcome("g::k::5", "g::k", &schema)), Some(Membership::Example { displaced: None }));
        assert_eq!(groups.add(9, &outcome("g::k::9", "g::k", &schema)), Some(Membership::Member));
        assert_eq!(
            groups.add(2, &outcome("g::k::2", "g::k", &schema)),
            Some(Membership::Example { displaced: Some(5) })
        );
        // The same defect seen by another mutation kind: the same group, its own example.
        assert_eq!(groups.add(4, &outcome("g::j::4", "g::j", &schema)), Some(Membership::Example { displaced: None }));
        // Another check, or an errored case: other groups.
        groups.add(3, &outcome("g::k::3", "g::k", &[CheckKind::Identity]));
        groups.add(6, &outcome("g::k::6", "g::k", &[]));
        let sorted = groups.sorted();
        assert_eq!(groups.len(), 3);
        assert_eq!((sorted[0].count, sorted[0].example().example.as_str(), sorted[0].suites.len()), (4, "g::k::2", 2));
        assert_eq!(sorted[2].checks, vec!["transport"]);
        let line = sorted[0].describe();
        assert_eq!(line, "4× failed body_schema, in 2 suites (g::k 3, g::j 1); e.g. g::k::2");
    }
}
