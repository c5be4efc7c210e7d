//! The suite against servers that are not ours. `tests/servers/stateful_cse.py` is a small
//! Python (standard library) server written for these tests from the API pages alone, sharing
//! no code with the mock. It keeps an engine and its jobs as the real service does: a Retry
//! starts a job that runs a while, the engine shows its in-progress status meanwhile, a second
//! Retry is refused with 400, and the job ends failed (retryable again) or succeeded (the
//! engine is then Available for good). A conformant server must pass with no failure whatever
//! its jobs do; one that refuses every valid Retry while its engine reads as retryable must
//! fail `state_justified`, and nothing else.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::BIN;

/// The independent server, as a child process killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(mode: &str) -> Server {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/servers/stateful_cse.py");
        let mut child = Command::new("python3")
            .args([script, "--mode", mode, "--lifetime", "300"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the independent server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "{mode}: {line:?}");
        Server { child, url: line.trim().to_owned() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cse-contract run` against `mode`'s server, with a fixed seed; exit code, stdout, stderr and
/// the JSON report.
fn run(mode: &str, extra: &[&str]) -> (Option<i32>, String, String, serde_json::Value) {
    let server = Server::start(mode);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(BIN)
        .args(["run", "--target", &server.url, "--project-id", "p-indep", "--engine-id", "e-indep-1"])
        .args(["--not-retryable-engine-id", "e-indep-avail", "--foreign-engine-id", "e-indep-foreign"])
        .args(["--seed", "20261130", "--json", json.to_str().unwrap()])
        .args(["--junit", dir.path().join("junit.xml").to_str().unwrap()])
        .args(["--html", dir.path().join("index.html").to_str().unwrap()])
        .args(extra)
        .env("CSE_AUTH_TOKEN", "independent-server-token")
        .output()
        .unwrap();
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr), report)
}

/// (name, outcome, failed checks) of every case of a report.
fn cases(report: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let failed = c["failed_checks"].as_array().unwrap().iter().map(text).collect();
            (text(&c["name"]), text(&c["outcome"]), failed)
        })
        .collect()
}

fn count(report: &serde_json::Value, what: &str) -> u64 {
    report["summary"][what].as_u64().unwrap()
}

/// Jobs that fail after 1.5 s, succeed after 1.2 s, fail at once, an UpgradeFailed engine whose
/// jobs are Upgrades, and a server that answers a missing token with 400: each passes, hand-written
/// and generated cases alike (the coverage phase's 200-odd boundary values and 200 random cases).
#[test]
fn independent_conformant_servers_pass() {
    for mode in ["fail_slow", "succeed", "fail_fast", "upgrade_failed", "token_400"] {
        let (code, stdout, stderr, report) = run(mode, &[]);
        let bad: Vec<_> = cases(&report).into_iter().filter(|(_, o, _)| o == "failed" || o == "errored").collect();
        assert_eq!(code, Some(0), "{mode}: {bad:?}\n{stderr}\n{stdout}");
        // The coverage phase comes on top of the 255 cases of the default run without it.
        let coverage = cases(&report).iter().filter(|(n, _, _)| n.starts_with("generated::coverage::")).count();
        assert!(coverage > 100, "{mode}: {coverage} coverage cases");
        assert!(bad.is_empty() && count(&report, "total") == 255 + coverage as u64, "{mode}: {bad:?}");
        assert!(stderr.contains("side-effecting case(s) sent one at a time"), "{mode}: {stderr}");
        // Each met the engine retryable at least once, and the first valid Retry was accepted.
        assert!(!stderr.contains("acceptance was not tested"), "{mode}: {stderr}");
        let valid = cases(&report).into_iter().find(|(n, _, _)| n == "retry::valid_retry").unwrap();
        assert_eq!(valid.1, "passed", "{mode}");
        // Jobs that run a while and fail: every stateful property is judged, and holds.
        if matches!(mode, "fail_slow" | "upgrade_failed") {
            let properties: Vec<_> = cases(&report)
                .into_iter()
                .filter(|(n, _, _)| n.starts_with("stateful::") && !n.starts_with("stateful::sequence::"))
                .collect();
            assert_eq!(properties.len(), 6, "{mode}: {properties:?}");
            assert!(properties.iter().all(|(_, o, _)| o == "passed"), "{mode}: {properties:?}");
        }
    }
}

/// Servers written with one stateful defect each (racing Retries, an engine that does not show
/// its job, another project's engine reachable): each fails its stateful property, and no other.
#[test]
fn defective_independent_servers_fail_their_property() {
    let properties = [
        "job_recorded",
        "engine_in_progress",
        "name_consistent",
        "one_job_at_a_time",
        "not_retryable_refused",
        "tenant_isolated",
    ];
    for (mode, property) in
        [("racy", "one_job_at_a_time"), ("stale_engine", "engine_in_progress"), ("leaky_tenant", "tenant_isolated")]
    {
        let (code, stdout, _, report) = run(mode, &["--generated", "0", "stateful::"]);
        assert_eq!(code, Some(1), "{mode}: {stdout}");
        let failed: std::collections::BTreeSet<String> = cases(&report)
            .into_iter()
            .flat_map(|(_, _, checks)| checks)
            .filter(|c| properties.contains(&c.as_str()))
            .collect();
        assert_eq!(failed.into_iter().collect::<Vec<_>>(), [property], "{mode}: {stdout}");
        let case = cases(&report).into_iter().find(|(n, _, _)| n == &format!("stateful::{property}")).unwrap();
        assert_eq!(case.1, "failed", "{mode}: the property's own case fails");
    }
}

/// Jobs that run long enough to be met busy: refusals of valid Retries pass only as justified.
#[test]
fn a_busy_engine_refuses_and_the_refusal_is_justified_by_its_state() {
    let (code, _, stderr, report) = run("fail_slow", &["--generated", "0"]);
    assert_eq!(code, Some(0), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("state: ") && l.contains("sent one at a time")).unwrap();
    assert!(line.contains(" 0 not;") && !line.contains(" 0 refusal(s) justified"), "{line}");
    let notes: Vec<&str> = report["cases"].as_array().unwrap().iter().filter_map(|c| c["note"].as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("justified by the engine's state") && n.contains("Creating")), "{notes:?}");
}

/// Jobs that succeed: one Retry can ever be accepted. Waiting for the engine shows it settle as
/// Available, and every side-effecting case after that is skipped with the reason, never failed
/// nor counted as passed.
#[test]
fn an_engine_that_becomes_available_skips_the_rest_with_the_reason() {
    let (code, stdout, stderr, report) =
        run("succeed", &["--generated", "0", "--wait-retryable", "5s", "--skip", "stateful::"]);
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    let all = cases(&report);
    let skipped: Vec<_> = all.iter().filter(|(_, o, _)| o == "skipped").collect();
    assert_eq!(skipped.len(), 7, "{all:?}");
    assert!(skipped.iter().all(|(n, _, _)| n.starts_with("retry::")), "{skipped:?}");
    assert_eq!(count(&report, "skipped"), 7);
    assert_eq!(count(&report, "passed"), 39);
    let reasons: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "skipped")
        .filter_map(|c| c["note"].as_str())
        .collect();
    assert!(reasons.iter().all(|r| r.contains("precondition not met") && r.contains("Available")), "{reasons:?}");
}

/// A server that refuses every valid Retry while its engine reads as retryable fails
/// `state_justified`, and only that check.
#[test]
fn an_always_refusing_server_fails_state_justified() {
    let (code, stdout, _, report) = run("always_refuse", &[]);
    assert_eq!(code, Some(1), "{stdout}");
    let failed: Vec<_> = cases(&report).into_iter().filter(|(_, o, _)| o == "failed").collect();
    assert!(failed.iter().any(|(n, _, _)| n == "retry::valid_retry"), "{failed:?}");
    assert!(failed.iter().all(|(_, _, checks)| checks == &["state_justified"]), "{failed:?}");
    assert!(stdout.contains("state_justified: expected a refusal (400) justified by the engine's state"), "{stdout}");
}

/// Reads that are not published (404 from the gateway): the run says so once and judges as
/// before; against an always-retryable engine that passes. With `--no-state` against jobs that
/// run, the hand-written valid Retries race each other and fail `status_expected`: the old
/// judgement, kept for the user who asks for it.
#[test]
fn without_reads_the_run_falls_back_to_judging_without_state() {
    let (code, stdout, stderr, _) = run("no_reads", &["--generated", "0", "retry::", "headers::", "action::"]);
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    assert_eq!(stderr.matches("the engine's state cannot be read (show_engine answered 404)").count(), 1, "{stderr}");
    let (code, _, stderr, report) = run("fail_slow", &["--generated", "0", "--no-state", "retry::"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--no-state"), "{stderr}");
    let failed: Vec<_> = cases(&report).into_iter().filter(|(_, o, _)| o == "failed").collect();
    assert!(!failed.is_empty(), "the valid Retries raced and none failed");
    assert!(failed.iter().all(|(_, _, c)| c.contains(&"status_expected".to_owned())), "{failed:?}");
}

/// `cse-contract run` of the stateful phase against the project's mock started with `mock_args`;
/// exit code, stdout, stderr, the JSON report and the JUnit report.
fn against_mock(mock_args: &[&str], extra: &[&str]) -> (Option<i32>, String, String, serde_json::Value, String) {
    use crate::support::{ENGINE, MockProcess};
    let mut args = vec!["--token", "stateful-secret-token-123"];
    args.extend_from_slice(mock_args);
    let mock = MockProcess::start(&args, &[]);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let out = Command::new(BIN)
        .args(["run", "--target", &mock.url, "--project-id", "demo-project", "--engine-id", ENGINE])
        .args(["--generated", "0", "--seed", "7", "--json", json.to_str().unwrap()])
        .args(["--junit", junit.to_str().unwrap(), "--html", dir.path().join("i.html").to_str().unwrap()])
        .args(extra)
        .env("CSE_AUTH_TOKEN", "stateful-secret-token-123")
        .output()
        .unwrap();
    mock.stop();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let report = std::fs::read_to_string(&json).map_or(serde_json::Value::Null, |t| serde_json::from_str(&t).unwrap());
    let junit = std::fs::read_to_string(&junit).unwrap_or_default();
    (out.status.code(), text(&out.stdout), text(&out.stderr), report, junit)
}

/// A property whose engine the run does not name is skipped, saying which flag names it; the
/// others run and pass. Against a remote target every stateful case is skipped by the guard, and
/// a dry run prints each sequence's transitions.
#[test]
fn properties_without_their_engine_or_permission_are_skipped_saying_why() {
    let (code, stdout, stderr, report, _) = against_mock(&[], &["stateful::"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let note = |name: &str| {
        let case = report["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap().clone();
        (case["outcome"].as_str().unwrap().to_owned(), case["note"].as_str().unwrap_or_default().to_owned())
    };
    let (outcome, reason) = note("stateful::tenant_isolated");
    assert_eq!(outcome, "skipped");
    assert!(reason.contains("needs --foreign-engine-id (CSE_FOREIGN_ENGINE_ID)"), "{reason}");
    let (outcome, reason) = note("stateful::not_retryable_refused");
    assert_eq!(outcome, "skipped");
    assert!(reason.contains("--not-retryable-engine-id (CSE_NOT_RETRYABLE_ENGINE_ID)"), "{reason}");
    for property in ["job_recorded", "engine_in_progress", "name_consistent", "one_job_at_a_time"] {
        assert_eq!(note(&format!("stateful::{property}")).0, "passed", "{property}: {stdout}");
    }
    // The guard: nothing stateful is sent to a target that is not on loopback.
    let (code, stdout, _, report, _) = against_mock(&[], &["stateful::", "--treat-as-remote"]);
    assert_eq!(code, Some(0), "{stdout}");
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    assert!(
        cases.iter().all(|c| c["outcome"] == "skipped" && c["note"].as_str().unwrap().contains("--allow-side-effects"))
    );
    // A dry run prints what each would send, and sends nothing.
    let (code, stdout, _, _, _) = against_mock(&[], &["stateful::", "--dry-run", "--stateful", "2"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("# stateful::sequence::0002\n# show_engine of each engine, then:\n#   1. "), "{stdout}");
    assert!(stdout.contains("dry run: 8 requests printed, none sent"), "{stdout}");
}

/// A stateful case that fails tells its steps, in every report: each request as curl with the
/// token masked, its status, and the checks that failed on it; the property names the step. The
/// JSON report stays valid against its schema.
#[test]
fn a_failing_stateful_case_reports_its_steps_with_the_token_masked() {
    let (code, stdout, stderr, report, junit) =
        against_mock(&["--fault", "engine_state_frozen"], &["stateful::engine_in_progress", "--stateful", "0"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let contract = cse_contract::contract::Contract::load(&cse_contract::files::FileSource::Embedded).unwrap();
    let violations = contract.schema("report.schema.json").unwrap().violations(&report);
    assert!(violations.is_empty(), "{violations:?}");
    let case = &report["cases"][0];
    assert_eq!(case["kind"], "stateful");
    assert_eq!(case["failed_checks"], serde_json::json!(["engine_in_progress"]));
    let message =
        case["checks"].as_array().unwrap().iter().find(|c| c["name"] == "engine_in_progress").unwrap()["message"]
            .as_str()
            .unwrap();
    assert!(message.contains("(show_engine of the engine): the engine is CreateFailed"), "{message}");
    let steps = case["steps"].as_array().unwrap();
    assert!(steps.len() >= 8, "{steps:?}");
    assert!(steps.iter().all(|s| s["request"].as_str().unwrap().contains("${CSE_AUTH_TOKEN}")), "{steps:?}");
    for text in [&stdout, &junit, &report.to_string()] {
        assert!(!text.contains("stateful-secret-token-123"));
        assert!(text.contains("step 2 (retry of the engine)"), "{text}");
    }
    assert!(stdout.contains("sequence ("), "{stdout}");
}

/// A sequence that fails is shrunk against the target, and says so; replaying its seed draws the
/// same sequences.
#[test]
fn a_failing_sequence_is_shrunk_and_reproducible() {
    // Sequence 9 of seed 7 holds a burst of concurrent Retries.
    let extra = ["stateful::sequence::0009", "--stateful", "9"];
    let (code, stdout, stderr, report, _) = against_mock(&["--fault", "racy_retry"], &extra);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let failed: Vec<&serde_json::Value> =
        report["cases"].as_array().unwrap().iter().filter(|c| c["outcome"] == "failed").collect();
    assert!(!failed.is_empty(), "{stdout}");
    for case in &failed {
        assert_eq!(case["failed_checks"], serde_json::json!(["one_job_at_a_time"]), "{case}");
        let note = case["note"].as_str().unwrap();
        assert!(note.contains("shrunk from") && note.contains("still failing one_job_at_a_time"), "{note}");
        assert!(case["description"].as_str().unwrap().contains("concurrent retries"), "{case}");
    }
    let (_, dry, _, _, _) = against_mock(&[], &["stateful::sequence::", "--stateful", "6", "--dry-run"]);
    let (_, again, _, _, _) = against_mock(&[], &["stateful::sequence::", "--stateful", "6", "--dry-run"]);
    let transitions =
        |text: &str| text.lines().filter(|l| l.starts_with("#   ")).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(transitions(&dry), transitions(&again));
    assert!(!transitions(&dry).is_empty());
}

/// Jobs that succeed: the engine can be retried once. The properties' scenario runs before any
/// sequence (a sequence first would use up that one Retry), so every property on the engine is
/// judged on it; `one_job_at_a_time`, with no burst possible, is skipped saying why.
#[test]
fn an_engine_retried_once_is_judged_by_the_scenario_first() {
    let (code, stdout, _, report) = run("succeed", &["--generated", "0", "stateful::"]);
    assert_eq!(code, Some(0), "{stdout}");
    let outcome = |name: &str| {
        let case = report["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        (case["outcome"].as_str().unwrap().to_owned(), case["note"].as_str().unwrap_or_default().to_owned())
    };
    for property in ["job_recorded", "engine_in_progress", "name_consistent"] {
        assert_eq!(outcome(&format!("stateful::{property}")).0, "passed", "{property}: {stdout}");
    }
    let (result, note) = outcome("stateful::one_job_at_a_time");
    assert_eq!(result, "skipped", "{stdout}");
    assert!(note.contains("the burst of 8 Retries was not sent") && note.contains("Available"), "{note}");
}
