//! Every check is proven by a server that breaks it: the conforming mock passes every case, and
//! each fault makes its intended check fail. The full set of failed checks is pinned per fault,
//! so a fault that starts tripping an unrelated check (or stops tripping its own) is caught.

use std::collections::BTreeSet;
use std::time::Duration;

use cse_contract::check::CheckKind;
use cse_contract::mock::Fault;
use cse_contract::outcome::Outcome;

use crate::support::{ALWAYS_RETRYABLE, run_stateful, run_suite, run_suite_on, start_mock};

/// The checks that fail somewhere in a run against a mock with `fault`, and the outcome counts.
async fn failed_checks(
    fault: Option<Fault>,
    include: &[&str],
    timeout: Duration,
) -> (BTreeSet<CheckKind>, usize, usize) {
    // The always-retryable engine, still judged by state: whether the valid Retry meets the engine
    // busy would otherwise decide whether its assertions run, and so the set of failed checks.
    let mock = start_mock(fault.as_slice()).await;
    let outcomes = run_suite_on(&mock.base_url, include, timeout, ALWAYS_RETRYABLE).await;
    mock.shutdown().await;
    let failed: BTreeSet<CheckKind> = outcomes.iter().flat_map(|o| o.failed_checks().map(|c| c.check)).collect();
    let not_passed = outcomes.iter().filter(|o| o.outcome != Outcome::Passed).count();
    let errored = outcomes.iter().filter(|o| o.outcome == Outcome::Errored).count();
    (failed, not_passed, errored)
}

#[tokio::test(flavor = "multi_thread")]
async fn conforming_mock_passes_every_case() {
    let mock = start_mock(&[]).await;
    let outcomes = run_suite(&mock.base_url, &[], Duration::from_secs(10)).await;
    mock.shutdown().await;
    assert!(outcomes.len() >= 25, "only {} cases", outcomes.len());
    let bad: Vec<_> = outcomes.iter().filter(|o| o.outcome != Outcome::Passed).map(|o| &o.name).collect();
    assert!(bad.is_empty(), "failed against the conforming mock: {bad:?}");
}

/// (fault, the check it targets, every check it makes fail). The checks by `CheckKind`, not by
/// name: a misspelt check does not compile.
const EXPECTED: &[(Fault, CheckKind, &[CheckKind])] = {
    use CheckKind::{
        Assertion, AuthEnforced, BodySchema, ContentType, Identity, NegativeRejected, NoServerError, ResponseHeaders,
        StateJustified, StatusDocumented, StatusExpected,
    };
    &[
        (Fault::SuccessMissingJobId, BodySchema, &[BodySchema]),
        (Fault::JobIdAsString, BodySchema, &[BodySchema]),
        (Fault::WrongId, Identity, &[Assertion, Identity]),
        (Fault::AcceptBadAction, NegativeRejected, &[NegativeRejected, StatusExpected]),
        (Fault::AcceptMissingToken, AuthEnforced, &[AuthEnforced, StatusExpected]),
        (Fault::ErrorMissingCode, BodySchema, &[Assertion, BodySchema]),
        (Fault::PlainTextErrors, ContentType, &[Assertion, BodySchema, ContentType]),
        (Fault::HtmlContentType, ContentType, &[ContentType]),
        (Fault::UndocumentedStatus, StatusDocumented, &[StatusDocumented, StatusExpected]),
        (Fault::ServerErrorOnBadJson, NoServerError, &[NoServerError, StatusExpected]),
        (Fault::NoAllowHeader, ResponseHeaders, &[ResponseHeaders]),
        (Fault::WrongErrorCode, Assertion, &[Assertion]),
        (Fault::RefuseRetry, StateJustified, &[StateJustified]),
    ]
};

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_fails_its_check() {
    for (fault, target, expected) in EXPECTED {
        let (failed, not_passed, errored) = failed_checks(Some(*fault), &[], Duration::from_secs(10)).await;
        assert!(failed.contains(target), "{}: {target} did not fail; failed: {failed:?}", fault.name());
        let expected: BTreeSet<CheckKind> = expected.iter().copied().collect();
        assert_eq!(failed, expected, "{}: unexpected set of failed checks", fault.name());
        assert!(not_passed > 0 && errored == 0, "{}: {not_passed} not passed, {errored} errored", fault.name());
    }
}

/// The faults that break the connection itself, each proven by `transport` failing (and nothing
/// else) in `hang_and_reset_fail_transport_and_error_the_cases`.
const TRANSPORT: [Fault; 2] = [Fault::Hang, Fault::Reset];

#[tokio::test(flavor = "multi_thread")]
async fn hang_and_reset_fail_transport_and_error_the_cases() {
    for fault in TRANSPORT {
        let started = std::time::Instant::now();
        let (failed, not_passed, errored) =
            failed_checks(Some(fault), &["valid_retry", "action_number"], Duration::from_millis(500)).await;
        assert_eq!(failed, BTreeSet::from([CheckKind::Transport]), "{}", fault.name());
        assert_eq!((not_passed, errored), (2, 2), "{}", fault.name());
        assert!(started.elapsed() < Duration::from_secs(5), "{} took {:?}", fault.name(), started.elapsed());
    }
}

/// The faults only a sequence of requests betrays, each with the stateful property that proves it
/// and every check it makes fail, over the stateful phase (the properties and two sequences) and
/// the hand-written cases. Their behaviour is tested in `mock.rs`.
const STATEFUL_EXPECTED: &[(Fault, CheckKind, &[CheckKind])] = {
    use CheckKind::{
        BodySchema, EngineInProgress, Identity, JobRecorded, NameConsistent, NotRetryableRefused, OneJobAtATime,
        TenantIsolated,
    };
    &[
        (Fault::JobUnknownToShowJob, JobRecorded, &[JobRecorded]),
        (Fault::JobOfAnotherEngine, JobRecorded, &[Identity, JobRecorded]),
        (Fault::JobStatusOutsideEnum, JobRecorded, &[BodySchema, JobRecorded]),
        (Fault::EngineStateFrozen, EngineInProgress, &[EngineInProgress]),
        (Fault::WrongName, NameConsistent, &[NameConsistent]),
        (Fault::AcceptRetryWhileRunning, OneJobAtATime, &[OneJobAtATime]),
        (Fault::RacyRetry, OneJobAtATime, &[OneJobAtATime]),
        (Fault::SameJobId, OneJobAtATime, &[OneJobAtATime]),
        (Fault::ForeignEngineReachable, TenantIsolated, &[TenantIsolated]),
        (Fault::AcceptNotRetryable, NotRetryableRefused, &[NotRetryableRefused]),
    ]
};

/// Each stateful fault fails its property, and exactly the pinned set of checks; the plain mock
/// passes the same run. The faults run side by side, each against its own mock.
#[tokio::test(flavor = "multi_thread")]
async fn each_stateful_fault_fails_its_property() {
    async fn failed(fault: Option<Fault>) -> (BTreeSet<CheckKind>, Vec<String>) {
        let mock = start_mock(fault.as_slice()).await;
        let mut outcomes = run_stateful(&mock.base_url, 2, 20_261_130).await;
        outcomes.extend(run_suite_on(&mock.base_url, &[], Duration::from_secs(10), ALWAYS_RETRYABLE).await);
        mock.shutdown().await;
        let checks = outcomes.iter().flat_map(|o| o.failed_checks().map(|c| c.check)).collect();
        let cases = outcomes
            .iter()
            .filter(|o| o.outcome != Outcome::Passed)
            .map(|o| format!("{} {:?}", o.name, o.outcome))
            .collect();
        (checks, cases)
    }
    let runs = STATEFUL_EXPECTED.iter().map(|(fault, _, _)| failed(Some(*fault)));
    let (plain, results) = tokio::join!(failed(None), futures_util::future::join_all(runs));
    assert!(plain.0.is_empty(), "the plain mock: {plain:?}");
    let mut wrong = Vec::new();
    for ((fault, property, expected), (checks, cases)) in STATEFUL_EXPECTED.iter().zip(results) {
        let expected: BTreeSet<CheckKind> = expected.iter().copied().collect();
        let own = format!("stateful::{property} Failed");
        if checks != expected || !cases.contains(&own) || fault.proves() != property.name() {
            wrong.push(format!("{}: failed {checks:?}, expected {expected:?}, in {cases:?}", fault.name()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every fault of the mock is in exactly one of the tables that a test runs the mock with,
/// asserting that the fault's check fails: `EXPECTED` (`each_fault_fails_its_check`), `TRANSPORT`
/// (`hang_and_reset_fail_transport_and_error_the_cases`), `STATEFUL_EXPECTED`
/// (`each_stateful_fault_fails_its_property`) and `generated::GENERATED_ONLY`
/// (`coverage_finds_the_generated_only_faults_on_every_seed`). A fault's name alone covers nothing.
/// A check of the client's request is proven by a client through the proxy instead
/// (`validation_proxy::CLIENT_SIDE`).
#[test]
fn every_fault_is_tested() {
    let proven: Vec<(Fault, CheckKind)> = EXPECTED
        .iter()
        .chain(STATEFUL_EXPECTED)
        .map(|(fault, target, _)| (*fault, *target))
        .chain(TRANSPORT.map(|fault| (fault, CheckKind::Transport)))
        .chain(crate::generated::GENERATED_ONLY.map(|(fault, check, _)| (fault, check)))
        .collect();
    let covered: BTreeSet<&str> = proven.iter().map(|(fault, _)| fault.name()).collect();
    assert_eq!(covered.len(), proven.len(), "a fault in two tables: {proven:?}");
    let all: BTreeSet<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(covered, all, "a fault that no test runs the mock with");
    // What `--list-faults` says each fault proves is what its test proves.
    for (fault, target) in &proven {
        assert_eq!(fault.proves(), target.name(), "{}", fault.name());
    }
    let targeted: BTreeSet<CheckKind> = EXPECTED
        .iter()
        .chain(STATEFUL_EXPECTED)
        .flat_map(|(_, _, failed)| failed.iter().copied())
        .chain(proven.iter().map(|(_, target)| *target))
        .chain(crate::validation_proxy::CLIENT_SIDE)
        .collect();
    assert_eq!(targeted, BTreeSet::from(CheckKind::ALL), "a check without a fault (or a client) that proves it");
}
