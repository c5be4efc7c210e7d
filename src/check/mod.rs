//! The oracles: pure functions from an exchange, the planned case and the contract to
//! [`CheckResult`]s. No I/O. Each check says itself whether it applies to a case, so which checks
//! run follows from the case's classification, not from a list in the case.
//!
//! # The registry
//!
//! A check is one file, `src/check/NAME.rs`, that declares itself in a `CHECK` constant:
//!
//! ```ignore
//! pub(super) const CHECK: Check = Check {
//!     summary: "what it asserts, in a line",
//!     applies: Applies::Always, // or Applies::When(a fn of the planned case), or Applies::WithStateEvidence
//!     run: check,               // fn(&CheckInput<'_>) -> Verdict
//! };
//! ```
//!
//! and one row, `Variant => NAME,`, in the `checks!` call below. The row is the only list of the
//! checks: it declares the module, and generates [`CheckKind`] (in the rows' order, which is the
//! reporting order), [`CheckKind::ALL`] with its length, [`CheckKind::name`] (the file's name, so
//! a name and its file cannot disagree) and the dispatch to each file's `CHECK`, all as
//! exhaustive matches: there is no catch-all arm to forget. Adding a check is therefore:
//!
//! 1. the file `src/check/NAME.rs`, with its `//!` line and `CHECK` (a missing field does not
//!    compile);
//! 2. its row in `checks!`, where it belongs in the reporting order (a row without its file does
//!    not compile; a file without its row is not compiled, and the test
//!    `every_check_file_is_registered` fails);
//! 3. `NAME`, at the same position, in `schemas/case.schema.json`
//!    (`/$defs/expect/properties/skip_checks/propertyNames/enum`, the names a case may opt out
//!    of; the test `check_names_match_the_case_schema` fails until it is there);
//! 4. its row in the README's table of checks (the test `readme_lists_every_check`), and a fault
//!    of the mock that fails it, in `tests/integration/faults.rs` (`every_fault_is_tested`
//!    fails until one proves it); a check of the client's request, which no server can fail,
//!    is proven by a client instead (`CLIENT_SIDE` in `tests/integration/validation_proxy.rs`).
//!
//! Everything else that names checks follows from the registry: the reports write
//! [`CheckKind::name`] and tally in [`CheckKind::ALL`] order; `schemas/report.schema.json` types a
//! check's name as a string, so it needs no edit.

mod input;

pub use input::{CheckInput, ParsedBody, TraceInput};

use crate::client::{Exchange, TransportError};
use crate::contract::Contract;
use crate::plan::PlannedCase;

/// Generates, from one row per check (`Variant => module`), the check modules, [`CheckKind`],
/// its list, its names and the dispatch to each module's `CHECK`.
macro_rules! checks {
    ($($variant:ident => $module:ident,)+) => {
        $(mod $module;)+

        /// Every check, by its stable name ([`CheckKind::name`]; what it asserts:
        /// [`CheckKind::summary`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckKind {
            $(
                #[doc = concat!("`", stringify!($module), "`")]
                $variant,
            )+
        }

        impl CheckKind {
            /// Every check, in reporting order.
            pub const ALL: [CheckKind; [$(stringify!($variant)),+].len()] = [$(CheckKind::$variant),+];

            /// The stable name used in every output: the name of the check's file.
            pub fn name(self) -> &'static str {
                match self {
                    $(CheckKind::$variant => stringify!($module),)+
                }
            }

            /// What the check's file declares.
            fn check(self) -> &'static Check {
                match self {
                    $(CheckKind::$variant => &$module::CHECK,)+
                }
            }
        }
    };
}

// The registry: one row per check, in reporting order. See the module's documentation.
checks! {
    Transport => transport,
    RequestConforms => request_conforms,
    StatusDocumented => status_documented,
    StatusExpected => status_expected,
    ContentType => content_type,
    ResponseHeaders => response_headers,
    BodySchema => body_schema,
    NegativeRejected => negative_rejected,
    AuthEnforced => auth_enforced,
    NoServerError => no_server_error,
    Identity => identity,
    Assertion => assertion,
    StateJustified => state_justified,
    JobRecorded => job_recorded,
    EngineInProgress => engine_in_progress,
    NameConsistent => name_consistent,
    OneJobAtATime => one_job_at_a_time,
    NotRetryableRefused => not_retryable_refused,
    TenantIsolated => tenant_isolated,
}

/// What a check's file declares of itself (its name is its file's).
struct Check {
    /// What it asserts, in a line.
    summary: &'static str,
    /// To which cases it applies.
    applies: Applies,
    /// The oracle.
    run: Run,
}

/// What a check judges.
enum Run {
    /// One answered exchange.
    Exchange(fn(&CheckInput<'_>) -> Verdict),
    /// The steps of a stateful case: a stateful property ([`judge_trace`]).
    Trace(fn(&TraceInput<'_>) -> Verdict),
}

/// To which cases a check applies.
enum Applies {
    /// To every answered case.
    Always,
    /// To the cases this picks, before any answer is seen (from the case's classification and
    /// expectation).
    When(fn(&PlannedCase) -> bool),
    /// Only when the runner read the engine's state around the exchange and hands what it found
    /// to [`judge_with_state`].
    WithStateEvidence,
    /// To no single exchange: a stateful property, judged on the steps of a stateful case.
    Stateful,
}

impl CheckKind {
    /// The check called `name`.
    pub fn from_name(name: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What the check asserts, in a line. A stateful property's is the description of its case
    /// (`stateful::NAME`), which the console's failure story and every report show.
    pub fn summary(self) -> &'static str {
        self.check().summary
    }

    /// Whether the check applies to `case`, when the engine's state was read (`state_read`) or
    /// not.
    fn applies_to(self, case: &PlannedCase, state_read: bool) -> bool {
        match self.check().applies {
            Applies::Always => true,
            Applies::When(picks) => picks(case),
            Applies::WithStateEvidence => state_read,
            Applies::Stateful => false,
        }
    }

    /// Whether the check is a stateful property (it judges a stateful case's steps).
    pub fn is_property(self) -> bool {
        matches!(self.check().run, Run::Trace(_))
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It holds.
    Passed,
    /// It does not: the one-line expectation and what was seen, and any details.
    Failed {
        /// What the contract expects.
        expected: String,
        /// What came back.
        actual: String,
        /// Further lines (one per schema violation, for instance).
        details: Vec<String>,
    },
    /// Not judged, and why (the case opted out, or the response gives nothing to judge).
    Skipped(String),
}

impl Verdict {
    pub(crate) fn failed(expected: impl Into<String>, actual: impl Into<String>) -> Verdict {
        Verdict::Failed { expected: expected.into(), actual: actual.into(), details: Vec::new() }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Which check.
    pub check: CheckKind,
    /// Its verdict.
    pub verdict: Verdict,
}

impl CheckResult {
    /// Whether it failed.
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Failed { .. })
    }

    /// One line: expected vs actual, the skip reason, or "ok".
    pub fn message(&self) -> String {
        match &self.verdict {
            Verdict::Passed => "ok".into(),
            Verdict::Failed { expected, actual, .. } => format!("expected {expected}, got {actual}"),
            Verdict::Skipped(reason) => format!("skipped: {reason}"),
        }
    }
}

/// What the runner learned of the engine's state around a refused side-effecting request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEvidence {
    /// The state explains the refusal.
    pub justified: bool,
    /// What the state was, in a line.
    pub reason: String,
}

/// Whether `check` applies to `case` at all, before any answer is seen (`state_justified`
/// applies only when the runner hands state evidence to [`judge_with_state`]).
pub fn applies(check: CheckKind, case: &PlannedCase) -> bool {
    check.applies_to(case, false)
}

/// Judges one exchange: the results of every check that applies, in [`CheckKind::ALL`] order.
/// A failed exchange yields only the failed `transport` check: there is nothing else to judge.
pub fn judge(contract: &Contract, case: &PlannedCase, exchange: &Exchange, strict_statuses: bool) -> Vec<CheckResult> {
    judge_with_state(contract, case, exchange, strict_statuses, None)
}

/// The checks of an exchange that did not complete (or of a case that was never sent): only the
/// failed `transport` check, saying why.
pub fn unanswered(error: &TransportError) -> Vec<CheckResult> {
    vec![transport::failed(error)]
}

/// [`judge`], with what the engine's state says of a refusal: `state_justified` then applies.
pub fn judge_with_state(
    contract: &Contract,
    case: &PlannedCase,
    exchange: &Exchange,
    strict_statuses: bool,
    state: Option<&StateEvidence>,
) -> Vec<CheckResult> {
    let response = match &exchange.result {
        Err(error) => return unanswered(error),
        Ok(response) => response,
    };
    let body = ParsedBody::parse(&response.body);
    let input = CheckInput { state, strict_statuses, ..CheckInput::new(contract, case, exchange, response, &body) };
    CheckKind::ALL
        .into_iter()
        .filter(|&check| check.applies_to(case, state.is_some()))
        .map(|check| {
            let verdict = match (case.skip_checks.get(check.name()), &check.check().run) {
                (Some(reason), _) => Verdict::Skipped(format!("opted out: {reason}")),
                (None, Run::Exchange(run)) => run(&input),
                // Not reached: a property applies to no single exchange.
                (None, Run::Trace(_)) => Verdict::Skipped("a stateful property judges a sequence".into()),
            };
            CheckResult { check, verdict }
        })
        .collect()
}

/// A stateful property's verdict from what it found: failed on its first problem (all of them
/// in the details), passed when it judged something, skipped saying `nothing` when it did not.
fn findings(expected: &str, problems: Vec<String>, judged: usize, nothing: &str) -> Verdict {
    match problems.first() {
        Some(first) => Verdict::Failed { expected: expected.to_owned(), actual: first.clone(), details: problems },
        None if judged == 0 => Verdict::Skipped(nothing.to_owned()),
        None => Verdict::Passed,
    }
}

/// Judges the steps of a stateful case by the stateful property `check` (a check that is not a
/// property is skipped, saying so).
pub fn judge_trace(check: CheckKind, input: &TraceInput<'_>) -> CheckResult {
    let verdict = match &check.check().run {
        Run::Trace(run) => match (run(input), input.unjudged(check)) {
            // Nothing judged, and the case knows why: say that.
            (Verdict::Skipped(_), Some(reason)) => Verdict::Skipped(reason),
            (verdict, _) => verdict,
        },
        Run::Exchange(_) => Verdict::Skipped(format!("{check} judges one exchange, not a sequence")),
    };
    CheckResult { check, verdict }
}

/// The stateful properties, in reporting order.
pub fn properties() -> impl Iterator<Item = CheckKind> {
    CheckKind::ALL.into_iter().filter(|k| k.is_property())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runner moves a case's request into its exchange before judging (only the method stays
    /// in the case, to spare a copy per case): the checks must read the request from the
    /// exchange, where it is whole, as it was sent.
    #[test]
    fn checks_see_the_request_as_sent() {
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        let mut case = planned_cases(&contract)
            .into_iter()
            .find(|c| c.request.method == "PUT" && !c.request.body.is_empty())
            .unwrap();
        let sent = case.request.clone();
        // As the runner does (runner::run_one, runner::lane::run).
        let request = std::mem::take(&mut case.request);
        case.request.method.clone_from(&request.method);
        let response = crate::client::Response { status: 200, headers: Vec::new(), body: bytes::Bytes::new() };
        let exchange = Exchange { request, result: Ok(response), elapsed: std::time::Duration::ZERO };
        let seen = seen_by_checks(&contract, &case, &exchange);
        assert_eq!(seen, sent);
        assert_eq!(seen.header("X-Auth-Token"), Some("secret-token"));
        assert!(!seen.body.is_empty());
    }

    /// The embedded hand-written cases, planned with placeholder variables.
    fn planned_cases(contract: &Contract) -> Vec<PlannedCase> {
        let files = crate::case::load_cases(&crate::files::FileSource::Embedded, contract).unwrap();
        let mut variables = crate::case::vars::Variables::default();
        let values =
            [("project_id", "p"), ("engine_id", "e"), ("token", "secret-token"), ("enterprise_project_id", "0")];
        for (name, value) in values.into_iter().chain([("unknown_engine_id", "u")]) {
            variables.set(name, value);
        }
        let config = crate::plan::PlanConfig {
            target: "http://127.0.0.1:1".into(),
            variables,
            filter: crate::plan::Filter::default(),
            strict_auth: false,
        };
        crate::plan::plan(contract, &files, &config).unwrap()
    }

    /// The request the checks of `case` are given, judging `exchange`.
    fn seen_by_checks(contract: &Contract, case: &PlannedCase, exchange: &Exchange) -> crate::client::Request {
        let Ok(response) = &exchange.result else { unreachable!() };
        let body = ParsedBody::parse(&response.body);
        let input = CheckInput::new(contract, case, exchange, response, &body);
        input.request.clone()
    }

    #[test]
    fn check_names_match_the_case_schema() {
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        let names =
            contract.case_schema().raw.pointer("/$defs/expect/properties/skip_checks/propertyNames/enum").unwrap();
        let from_schema: Vec<&str> = names.as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        let ours: Vec<&str> = CheckKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(from_schema, ours);
        assert!(CheckKind::ALL.iter().all(|&k| CheckKind::from_name(k.name()) == Some(k)));
    }

    /// A check's file is compiled only through its row in `checks!`: a file without one would
    /// sit there unused. Every file of this directory is a check, but for these helpers.
    #[test]
    fn every_check_file_is_registered() {
        const HELPERS: [&str; 2] = ["mod", "input"];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/check");
        let files: std::collections::BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "rs"))
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|stem| !HELPERS.contains(&stem.as_str()))
            .collect();
        let registered = CheckKind::ALL.iter().map(|k| k.name().to_owned()).collect();
        assert_eq!(files, registered, "a check file without its row in checks! (or a helper not in HELPERS)");
    }

    /// The variant of a row is its name in CamelCase, so that `CheckKind::Identity` cannot be the
    /// row of `assertion`.
    #[test]
    fn variants_are_named_for_their_checks() {
        for kind in CheckKind::ALL {
            let camel: String =
                kind.name().split('_').map(|word| word[..1].to_ascii_uppercase() + &word[1..]).collect();
            assert_eq!(format!("{kind:?}"), camel);
        }
    }

    /// The README's table of checks lists every check, in reporting order.
    #[test]
    fn readme_lists_every_check() {
        let readme = include_str!("../../README.md");
        let section = readme.split("\n## The checks\n").nth(1).unwrap();
        let listed: Vec<&str> = section
            .lines()
            .skip_while(|line| !line.starts_with("| check |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| line.split('|').nth(1).unwrap().trim().trim_matches('`'))
            .collect();
        let ours: Vec<&str> = CheckKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(listed, ours);
    }

    /// Which checks apply follows from the case alone, but for `state_justified`, which applies
    /// exactly when state evidence is given.
    #[test]
    fn state_justified_applies_only_with_state_evidence() {
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        for case in planned_cases(&contract) {
            for kind in CheckKind::ALL {
                let with_state = kind.applies_to(&case, true);
                assert_eq!(with_state, applies(kind, &case) || kind == CheckKind::StateJustified, "{kind}");
            }
            assert!(!applies(CheckKind::StateJustified, &case));
        }
    }
}

/// The stateful properties on traces written by hand: a conforming one passes every property,
/// and each defect a server may have makes exactly its property fail.
#[cfg(test)]
mod property_tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::stateful::{Act, Role, Step, Trace};

    const ENGINE: &str = "e-1";

    fn engine(status: &str, latest: u64) -> Value {
        json!({ "id": ENGINE, "name": "cse-1", "status": status, "latestJobId": latest })
    }

    fn job(id: u64, status: &str, start: i64, end: i64) -> Value {
        json!({ "id": id, "engineId": ENGINE, "type": "Create", "status": status, "startTime": start, "endTime": end })
    }

    fn error(code: &str) -> Value {
        json!({ "error_code": code, "error_msg": "refused" })
    }

    /// Steps with a clock that advances 10 ms per send and per answer.
    #[derive(Default)]
    struct Builder {
        trace: Trace,
        clock: i64,
    }

    impl Builder {
        fn step(&mut self, role: Role, act: Act, status: u16, body: Value) -> &mut Self {
            self.at(role, act, status, body, None)
        }

        fn at(&mut self, role: Role, act: Act, status: u16, body: Value, burst: Option<usize>) -> &mut Self {
            let engine = match role {
                Role::Target => ENGINE,
                Role::NotRetryable => "n-1",
                Role::Foreign => "f-1",
            };
            self.clock += 10;
            let sent_ms = self.clock;
            self.clock += 10;
            self.trace.steps.push(Step {
                act,
                role,
                engine: engine.to_owned(),
                burst,
                sent_ms,
                received_ms: self.clock,
                status: Some(status),
                body: Some(body),
            });
            self
        }
    }

    fn show_job(id: u64) -> Act {
        Act::ShowJob { id: id.to_string(), unknown: false }
    }

    /// What a conforming service shows the phase's scenario, with `bend` applied to the steps
    /// before they are judged.
    fn scenario(bend: impl FnOnce(&mut Vec<Step>)) -> Vec<CheckKind> {
        scenario_with(|_| {}, bend)
    }

    /// [`scenario`], judged with the state model as `model` edits it.
    fn scenario_with(
        model: impl FnOnce(&mut crate::contract::StateModel),
        bend: impl FnOnce(&mut Vec<Step>),
    ) -> Vec<CheckKind> {
        let (t, n, f) = (Role::Target, Role::NotRetryable, Role::Foreign);
        let mut b = Builder::default();
        b.step(f, Act::ShowEngine, 400, error("SVCSTG.00501116"))
            .step(f, Act::Retry, 400, error("SVCSTG.00501116"))
            .step(n, Act::ShowEngine, 200, json!({ "id": "n-1", "name": "n", "status": "Available", "latestJobId": 7 }))
            .step(n, Act::Retry, 400, error("SVCSTG.00501118"))
            .step(n, Act::ShowEngine, 200, json!({ "id": "n-1", "name": "n", "status": "Available", "latestJobId": 7 }))
            .step(t, Act::ShowEngine, 200, engine("CreateFailed", 1))
            .step(t, Act::Retry, 200, json!({ "id": ENGINE, "name": "cse-1", "jobId": 2 }))
            .step(t, Act::ShowEngine, 200, engine("Creating", 2))
            .step(t, show_job(2), 200, job(2, "Executing", 1_000, 0))
            .step(t, show_job(2), 200, job(2, "Error", 1_000, 1_300))
            .step(t, Act::ShowEngine, 200, engine("CreateFailed", 2))
            .at(t, Act::Retry, 200, json!({ "id": ENGINE, "name": "cse-1", "jobId": 3 }), Some(0))
            .at(t, Act::Retry, 400, error("SVCSTG.00501118"), Some(0))
            .at(t, Act::Retry, 400, error("SVCSTG.00501118"), Some(0))
            .step(t, Act::ShowEngine, 200, engine("Creating", 3))
            .step(t, show_job(3), 200, job(3, "Executing", 2_000, 0))
            .step(t, show_job(3), 200, job(3, "Error", 2_000, 2_300))
            .step(t, Act::ShowEngine, 200, engine("CreateFailed", 3));
        bend(&mut b.trace.steps);
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        let mut edited = contract.state_model.clone().unwrap();
        model(&mut edited);
        let input = TraceInput { contract: &contract, model: &edited, trace: &b.trace, unjudged: &[] };
        let results: Vec<CheckResult> = properties().map(|p| judge_trace(p, &input)).collect();
        for result in &results {
            assert!(!matches!(result.verdict, Verdict::Skipped(_)), "{} judged nothing: {result:?}", result.check);
        }
        results.into_iter().filter(CheckResult::failed).map(|r| r.check).collect()
    }

    fn body(steps: &mut [Step], index: usize) -> &mut Value {
        steps[index].body.as_mut().unwrap()
    }

    #[test]
    fn a_conforming_service_passes_every_property() {
        assert_eq!(scenario(|_| {}), []);
        // A burst answered with the running job's id by every acceptance is one job: idempotent.
        let idempotent = scenario(|steps| {
            steps[12].status = Some(200);
            steps[12].body = Some(json!({ "id": ENGINE, "name": "cse-1", "jobId": 3 }));
        });
        assert_eq!(idempotent, []);
    }

    #[test]
    fn each_defect_fails_exactly_its_property() {
        use CheckKind::{
            EngineInProgress, JobRecorded, NameConsistent, NotRetryableRefused, OneJobAtATime, TenantIsolated,
        };
        type Bend = fn(&mut Vec<Step>);
        let defects: [(&str, Bend, CheckKind); 11] = [
            ("the job is not found", |s| s[8].status = Some(400), JobRecorded),
            ("the job names another engine", |s| body(s, 8)["engineId"] = json!("e-2"), JobRecorded),
            ("a job status outside the enum", |s| body(s, 8)["status"] = json!("Running"), JobRecorded),
            (
                "the engine stays failed while its job runs",
                |s| *body(s, 7) = engine("CreateFailed", 2),
                EngineInProgress,
            ),
            ("latestJobId is not the running job", |s| *body(s, 7) = engine("Creating", 1), EngineInProgress),
            ("the engine stays in progress after the job", |s| *body(s, 10) = engine("Creating", 2), EngineInProgress),
            ("the Retry names the engine wrongly", |s| body(s, 6)["name"] = json!("cse-x"), NameConsistent),
            (
                "two jobs of a burst run together",
                |s| {
                    s[13].status = Some(200);
                    s[13].body = Some(json!({ "id": ENGINE, "name": "cse-1", "jobId": 4 }));
                    let mut read = s[15].clone();
                    read.act = Act::ShowJob { id: "4".into(), unknown: false };
                    read.body = Some(job(4, "Executing", 2_010, 0));
                    s.push(read);
                },
                OneJobAtATime,
            ),
            ("an ended job's id answered again", |s| body(s, 11)["jobId"] = json!(2), OneJobAtATime),
            ("the not-retryable engine is retried", |s| s[3].status = Some(200), NotRetryableRefused),
            ("the foreign engine is reachable", |s| s[1].status = Some(200), TenantIsolated),
        ];
        for (defect, bend, property) in defects {
            assert_eq!(scenario(bend), [property], "{defect}");
        }
    }

    /// What the state model allows: a Retry that re-runs its job under the same id, and reads
    /// that lag behind the Retry's answer; and a job that ended without saying when is not set
    /// against another.
    #[test]
    fn the_state_model_decides_what_is_conformant() {
        let reused = |s: &mut Vec<Step>| body(s, 11)["jobId"] = json!(2);
        assert_eq!(scenario(reused), [CheckKind::OneJobAtATime]);
        assert_eq!(scenario_with(|m| m.retry_reuses_job_id = true, reused), []);
        let lagging = |s: &mut Vec<Step>| *body(s, 7) = engine("CreateFailed", 1);
        assert_eq!(scenario(lagging), [CheckKind::EngineInProgress]);
        assert_eq!(scenario_with(|m| m.read_lag_ms = 15, lagging), []);
        let not_found_yet = |s: &mut Vec<Step>| s[8].status = Some(400);
        assert_eq!(scenario_with(|m| m.read_lag_ms = 45, not_found_yet), []);
        // Job 2's last read (answered at 200 ms on our clock) has no endTime: it cannot be placed
        // on the server's clock, and job 3, which started at 60 by the server's, is not said to
        // overlap it (taking our clock's 200 as its end would).
        let no_end = |s: &mut Vec<Step>| {
            body(s, 9).as_object_mut().unwrap().remove("endTime");
            body(s, 9)["startTime"] = json!(50);
            *body(s, 15) = job(3, "Executing", 60, 0);
            *body(s, 16) = job(3, "Error", 60, 400);
        };
        assert_eq!(scenario(no_end), []);
    }

    #[test]
    fn a_property_with_nothing_to_judge_says_why() {
        let contract = Contract::load(&crate::files::FileSource::Embedded).unwrap();
        let model = contract.state_model.clone().unwrap();
        let trace = Trace::default();
        let reasons = [(CheckKind::TenantIsolated, "needs --foreign-engine-id".to_owned())];
        let input = TraceInput { contract: &contract, model: &model, trace: &trace, unjudged: &reasons };
        let result = judge_trace(CheckKind::TenantIsolated, &input);
        assert_eq!(result.verdict, Verdict::Skipped("needs --foreign-engine-id".into()));
        assert!(matches!(judge_trace(CheckKind::JobRecorded, &input).verdict, Verdict::Skipped(_)));
        assert!(!CheckKind::BodySchema.is_property() && CheckKind::JobRecorded.is_property());
    }
}
