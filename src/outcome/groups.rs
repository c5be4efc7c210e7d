//! [`FailureGroups`]: cases that did not pass, grouped by what went wrong, so that 32 000
//! failures of one systematic defect read as one line. Two cases are in one group when they
//! failed the same checks (or errored) and come from the same case file or mutation kind (their
//! suite): one defect of the target typically fails one check for one kind of request.
//!
//! Each group names its example, the member with the lowest plan position: the same seed gives
//! the same example whatever order cases finished in. The example is the case the run keeps
//! whole (printed in full, shrunk); the other members are counted, and their report fragments
//! written as they finish.

use std::collections::HashMap;

use super::{CaseOutcome, Outcome};

/// What the members of one group have in common, and how many they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureGroup {
    /// Failed or errored.
    pub outcome: Outcome,
    /// The checks that failed, in the order the cases ran them (`transport` for an errored
    /// case, `expected_failure` for a case marked so that passed).
    pub checks: Vec<&'static str>,
    /// The case file or mutation kind.
    pub suite: String,
    /// How many cases.
    pub count: usize,
    /// The plan position of the example.
    pub example_seq: usize,
    /// The example's name.
    pub example: String,
}

impl FailureGroup {
    /// The group as one line: `N× checks in suite, e.g. NAME`.
    pub fn describe(&self) -> String {
        let what = if self.outcome == Outcome::Errored { "errored" } else { "failed" };
        format!("{}× {what} {} in {} (e.g. {})", self.count, self.checks.join(" + "), self.suite, self.example)
    }
}

/// The groups of a run, in the order their first member finished.
#[derive(Debug, Clone, Default)]
pub struct FailureGroups {
    groups: Vec<FailureGroup>,
    by_key: HashMap<(Outcome, Vec<&'static str>, String), usize>,
}

/// Where a case that did not pass went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// It is its group's example now; `displaced` is the plan position of the example it
    /// replaced, if any (a case of a lower position finished later).
    Example {
        /// The former example.
        displaced: Option<usize>,
    },
    /// It is counted in a group whose example comes before it.
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
        let key = (outcome.outcome, checks_of(outcome), outcome.suite.clone());
        if let Some(&at) = self.by_key.get(&key) {
            let group = &mut self.groups[at];
            group.count += 1;
            if seq >= group.example_seq {
                return Some(Membership::Member);
            }
            let displaced = std::mem::replace(&mut group.example_seq, seq);
            group.example.clone_from(&outcome.name);
            return Some(Membership::Example { displaced: Some(displaced) });
        }
        let (outcome_kind, checks, suite) = key.clone();
        self.groups.push(FailureGroup {
            outcome: outcome_kind,
            checks,
            suite,
            count: 1,
            example_seq: seq,
            example: outcome.name.clone(),
        });
        self.by_key.insert(key, self.groups.len() - 1);
        Some(Membership::Example { displaced: None })
    }

    /// The groups, largest first (then in plan order of their examples).
    pub fn sorted(&self) -> Vec<&FailureGroup> {
        let mut groups: Vec<&FailureGroup> = self.groups.iter().collect();
        groups.sort_by_key(|g| (std::cmp::Reverse(g.count), g.example_seq));
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
        }
    }

    #[test]
    fn one_defect_is_one_group_whose_example_is_the_first_in_plan_order() {
        let mut groups = FailureGroups::default();
        let schema = [CheckKind::BodySchema];
        assert_eq!(groups.add(5, &outcome("g::k::5", "g::k", &schema)), Some(Membership::Example { displaced: None }));
        assert_eq!(groups.add(9, &outcome("g::k::9", "g::k", &schema)), Some(Membership::Member));
        assert_eq!(
            groups.add(2, &outcome("g::k::2", "g::k", &schema)),
            Some(Membership::Example { displaced: Some(5) })
        );
        // Another check, another suite, or an errored case: other groups.
        groups.add(3, &outcome("g::k::3", "g::k", &[CheckKind::Identity]));
        groups.add(4, &outcome("g::j::4", "g::j", &schema));
        groups.add(6, &outcome("g::k::6", "g::k", &[]));
        let sorted = groups.sorted();
        assert_eq!(groups.len(), 4);
        assert_eq!((sorted[0].count, sorted[0].example.as_str(), sorted[0].example_seq), (3, "g::k::2", 2));
        assert_eq!(sorted[3].checks, vec!["transport"]);
        assert!(
            sorted[0].describe().starts_with("3× failed body_schema in g::k (e.g. g::k::2)"),
            "{}",
            sorted[0].describe()
        );
    }
}
