//! [`CaseOutcome`] and [`RunSummary`]: the one interface between the runner and the reporters.
//! An outcome carries everything a report needs (checks, status, request, and for a case that
//! did not pass the response), so reporters never call back into the runner.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use crate::check::{CheckKind, CheckResult};
use crate::client::{Exchange, Request, Response};
use crate::plan::{Origin, PlannedCase, Unbuilt};

mod groups;
pub use groups::{FailureGroup, FailureGroups, Membership, SuiteShare};

/// The verdict on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check that applies passed.
    Passed,
    /// At least one check failed.
    Failed,
    /// The exchange did not complete (transport).
    Errored,
    /// Not sent, for the reason in the note (the real-endpoint guard).
    Skipped,
}

/// The smallest input found that still fails the same check ([`runner::shrink`](crate::runner::shrink)).
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The minimal case: its request, path parameters and mutation in words.
    pub case: PlannedCase,
    /// Requests sent while shrinking (a request retried after a 429 counts once).
    pub steps: usize,
    /// The check it still fails.
    pub check: CheckKind,
    /// Shrinking stopped early: the target still answered 429 after every retry.
    pub throttled: bool,
}

/// Where a case came from, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CaseKind {
    /// A case file.
    #[serde(rename = "hand-written")]
    HandWritten,
    /// A generator.
    #[serde(rename = "generated")]
    Generated,
    /// The stateful phase: a property or a sequence, several requests judged together.
    #[serde(rename = "stateful")]
    Stateful,
    /// An exchange the validation proxy observed between a client and the API.
    #[serde(rename = "observed")]
    Observed,
}

/// One request of a stateful case, as the reports tell it.
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// `step 3 (show_job 18702 of the engine)`.
    pub label: String,
    /// The request, as sent.
    pub request: Request,
    /// The answer's status; `None` when the exchange failed.
    pub status: Option<u16>,
    /// Why the exchange failed, or a note on the step.
    pub note: Option<String>,
    /// The start of the answer's body, as text.
    pub body: Option<String>,
    /// Time of the exchange.
    pub duration: Duration,
    /// The checks of a single exchange that failed on this answer.
    pub failed: Vec<CheckKind>,
}

/// Everything known about one case after it ran.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// Stable name, `file::case`.
    pub name: String,
    /// The suite (file stem).
    pub suite: String,
    /// The source file.
    pub source: String,
    /// What it tests.
    pub description: String,
    /// For a generated case: where it came from.
    pub origin: Origin,
    /// For a failing generated case: the smallest input that still fails.
    pub minimal: Option<Shrunk>,
    /// The verdict.
    pub outcome: Outcome,
    /// The checks that applied, in order.
    pub checks: Vec<CheckResult>,
    /// The status, if a response came.
    pub status: Option<u16>,
    /// Time of the exchange.
    pub duration: Duration,
    /// The request sent.
    pub request: Request,
    /// The response; once recorded, only a case that did not pass keeps it.
    pub response: Option<Response>,
    /// A note on the verdict: an expected failure, or one that unexpectedly passed.
    pub note: Option<String>,
    /// For a stateful case: every request it sent, in order (its `request` is the one a failure
    /// points at, or the first).
    pub steps: Vec<StepRecord>,
}

impl CaseOutcome {
    /// Builds the outcome of `case` from its exchange and check results.
    pub fn decide(case: &PlannedCase, exchange: Exchange, checks: Vec<CheckResult>) -> CaseOutcome {
        let identity = (case.name.clone(), case.suite.clone(), case.source.clone(), case.description.clone());
        CaseOutcome::build(identity, case.origin.clone(), case.expected_failure.as_deref(), exchange, checks)
    }

    /// [`CaseOutcome::decide`], taking the case's names instead of copying them.
    pub fn decide_owned(case: PlannedCase, exchange: Exchange, checks: Vec<CheckResult>) -> CaseOutcome {
        let PlannedCase { name, suite, source, description, origin, expected_failure, .. } = case;
        CaseOutcome::build((name, suite, source, description), origin, expected_failure.as_deref(), exchange, checks)
    }

    fn build(
        (name, suite, source, description): (String, String, String, String),
        origin: Origin,
        expected_failure: Option<&str>,
        exchange: Exchange,
        checks: Vec<CheckResult>,
    ) -> CaseOutcome {
        let any_failed = checks.iter().any(CheckResult::failed);
        let transport_failed = exchange.result.is_err();
        let (outcome, note) = match (expected_failure, transport_failed, any_failed) {
            (_, true, _) => (Outcome::Errored, None),
            (Some(reason), false, true) => (Outcome::Passed, Some(format!("failed as expected: {reason}"))),
            (Some(reason), false, false) => {
                (Outcome::Failed, Some(format!("marked expected_failure ({reason}) but every check passed")))
            }
            (None, false, true) => (Outcome::Failed, None),
            (None, false, false) => (Outcome::Passed, None),
        };
        let status = exchange.result.as_ref().ok().map(|r| r.status);
        // A passing case's answer is dropped when it is recorded (`report::reporter::Done`),
        // once `-v` could log it.
        let response = exchange.result.ok();
        CaseOutcome {
            name,
            suite,
            source,
            description,
            origin,
            minimal: None,
            outcome,
            checks,
            status,
            duration: exchange.elapsed,
            request: exchange.request,
            response,
            note,
            steps: Vec::new(),
        }
    }

    /// A case that could not be built: errored, judged by the failed `transport` check alone,
    /// which gives the reason. It has no request ([`CaseOutcome::built`]).
    pub fn unbuilt(unbuilt: Unbuilt) -> CaseOutcome {
        let Unbuilt { name, suite, source, origin, reason } = unbuilt;
        let description = "not built: the generator could not draw this case".to_owned();
        let error = crate::client::TransportError::NotBuilt(reason);
        let checks = crate::check::unanswered(&error);
        let exchange = Exchange { request: Request::default(), result: Err(error), elapsed: Duration::ZERO };
        CaseOutcome::build((name, suite, source, description), origin, None, exchange, checks)
    }

    /// Whether the case's request was built (and so sent, unless skipped); a case its generator
    /// could not build has none: an empty request, without even a URL.
    pub fn built(&self) -> bool {
        !self.request.url.is_empty()
    }

    /// A case that was not sent, and why.
    pub fn skipped(case: &PlannedCase, reason: &str) -> CaseOutcome {
        let exchange = Exchange {
            request: case.request.clone(),
            result: Err(crate::client::TransportError::InvalidRequest(String::new())),
            elapsed: std::time::Duration::ZERO,
        };
        CaseOutcome {
            outcome: Outcome::Skipped,
            note: Some(reason.to_owned()),
            ..CaseOutcome::decide(case, exchange, Vec::new())
        }
    }

    /// Hand-written or generated, as reports name it.
    pub fn kind(&self) -> CaseKind {
        match self.origin {
            Origin::HandWritten => CaseKind::HandWritten,
            Origin::Generated { .. } => CaseKind::Generated,
            Origin::Stateful(_) => CaseKind::Stateful,
            Origin::Observed => CaseKind::Observed,
        }
    }

    /// The checks that failed.
    pub fn failed_checks(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.failed())
    }
}

/// Counts over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Cases run.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Errored.
    pub errored: usize,
    /// Skipped.
    pub skipped: usize,
    /// Wall time of the run.
    pub duration: Duration,
    /// When the run started.
    pub started: SystemTime,
    /// The run was interrupted: the outcomes are those of the cases that finished.
    pub partial: bool,
}

impl RunSummary {
    /// Counts `outcomes` of a run that started at `started`.
    pub fn of(outcomes: &[CaseOutcome], started: SystemTime, partial: bool) -> RunSummary {
        let mut tally = Tally::default();
        for (seq, outcome) in outcomes.iter().enumerate() {
            tally.add(seq, outcome);
        }
        tally.summary(started, partial)
    }

    /// Every case passed, and the run was complete.
    pub fn success(&self) -> bool {
        self.failed == 0 && self.errored == 0 && !self.partial
    }
}

/// How a case was answered, as the coverage table and the status chart count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Answer {
    /// A status came back.
    Status(u16),
    /// The exchange did not complete.
    NoAnswer,
    /// Not sent.
    Skipped,
    /// Not sent: the case could not be built.
    NotBuilt,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Status(status) => write!(f, "{status}"),
            Answer::NoAnswer => f.write_str("no answer"),
            Answer::Skipped => f.write_str("skipped"),
            Answer::NotBuilt => f.write_str("not built"),
        }
    }
}

impl CaseOutcome {
    /// How the case was answered.
    pub fn answer(&self) -> Answer {
        match (self.status, self.outcome) {
            (Some(status), _) => Answer::Status(status),
            (None, _) if !self.built() => Answer::NotBuilt,
            (None, Outcome::Skipped) => Answer::Skipped,
            (None, _) => Answer::NoAnswer,
        }
    }
}

/// Counts over the cases of one suite.
#[derive(Debug, Clone, Default)]
pub struct SuiteTally {
    /// Its name.
    pub name: String,
    /// The plan position of its first case: suites are reported in plan order.
    pub first: usize,
    /// Cases.
    pub tests: usize,
    /// Failed.
    pub failures: usize,
    /// Errored.
    pub errors: usize,
    /// Skipped.
    pub skipped: usize,
    /// Sum of the cases' times.
    pub time: Duration,
    /// For a generated suite: (family, mutation).
    pub generated: Option<(&'static str, String)>,
    /// Answers by kind.
    pub answers: BTreeMap<Answer, usize>,
}

/// Everything a run's reports count, updated case by case in constant memory: what a run keeps
/// of a passing case once its line is printed and its report fragments written.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Errored.
    pub errored: usize,
    /// Skipped.
    pub skipped: usize,
    /// Answers over all cases.
    pub answers: BTreeMap<Answer, usize>,
    /// Per check (in [`CheckKind::ALL`](crate::check::CheckKind::ALL) order): how often it
    /// passed, failed, and was skipped.
    pub checks: BTreeMap<crate::check::CheckKind, CheckTally>,
    suites: Vec<SuiteTally>,
    by_name: HashMap<String, usize>,
}

/// How one check went across a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckTally {
    /// Cases it passed.
    pub passed: usize,
    /// Cases it failed.
    pub failed: usize,
    /// Cases it did not apply to.
    pub skipped: usize,
}

impl Tally {
    /// Counts `outcome`, case `seq` of the plan; returns the index of its suite.
    pub fn add(&mut self, seq: usize, outcome: &CaseOutcome) -> usize {
        match outcome.outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Errored => self.errored += 1,
            Outcome::Skipped => self.skipped += 1,
        }
        let answer = outcome.answer();
        *self.answers.entry(answer).or_default() += 1;
        for check in &outcome.checks {
            let tally = self.checks.entry(check.check).or_default();
            match check.verdict {
                crate::check::Verdict::Passed => tally.passed += 1,
                crate::check::Verdict::Failed { .. } => tally.failed += 1,
                crate::check::Verdict::Skipped(_) => tally.skipped += 1,
            }
        }
        let index = match self.by_name.get(outcome.suite.as_str()) {
            Some(&index) => index,
            None => {
                let generated = match &outcome.origin {
                    Origin::Generated { family, mutation, .. } => Some((family.name(), mutation.clone())),
                    Origin::HandWritten | Origin::Stateful(_) | Origin::Observed => None,
                };
                self.suites.push(SuiteTally {
                    name: outcome.suite.clone(),
                    first: seq,
                    generated,
                    ..SuiteTally::default()
                });
                self.by_name.insert(outcome.suite.clone(), self.suites.len() - 1);
                self.suites.len() - 1
            }
        };
        let suite = &mut self.suites[index];
        suite.first = suite.first.min(seq);
        suite.tests += 1;
        suite.time += outcome.duration;
        match outcome.outcome {
            Outcome::Failed => suite.failures += 1,
            Outcome::Errored => suite.errors += 1,
            Outcome::Skipped => suite.skipped += 1,
            Outcome::Passed => {}
        }
        *suite.answers.entry(answer).or_default() += 1;
        index
    }

    /// Cases counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.errored + self.skipped
    }

    /// The suites, by index as [`Tally::add`] returned it.
    pub fn suites(&self) -> &[SuiteTally] {
        &self.suites
    }

    /// The counts as a run summary.
    pub fn summary(&self, started: SystemTime, partial: bool) -> RunSummary {
        RunSummary {
            total: self.total(),
            passed: self.passed,
            failed: self.failed,
            errored: self.errored,
            skipped: self.skipped,
            duration: started.elapsed().unwrap_or_default(),
            started,
            partial,
        }
    }
}
