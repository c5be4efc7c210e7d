//! Reports: the JUnit XML and JSON of a run with a pass, a failure and an error (pinned as
//! snapshots, the JSON validated against `schemas/report.schema.json`); no secret in any
//! output; `--list`; and reports written, marked partial, when a run is interrupted.

use crate::support::BIN;
use crate::support::MockProcess;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cse_contract::contract::Contract;
use cse_contract::files::FileSource;

const SECRET: &str = "DISTINCTIVE-TOKEN-9f8e7d6c5b4a";

/// A standalone mock with `faults`, and its base URL.
fn start_mock(faults: &[&str]) -> (MockProcess, String) {
    let mut args = vec!["--token", SECRET];
    for fault in faults {
        args.extend(["--fault", fault]);
    }
    let mock = MockProcess::start(&args, &[]);
    let url = mock.url.clone();
    (mock, url)
}

fn stop(mock: MockProcess) -> String {
    mock.stop().1
}

fn run_args<'a>(url: &'a str, dir: &'a Path, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--generated", "0", "--target", url, "--project-id", "demo-project"]
        .iter()
        .map(ToString::to_string)
        .collect();
    // The always-retryable engine: the faulty mock accepts a bad action, which would start a job
    // and make the valid Retry beside it meet a busy engine (a justified 400, another chart).
    args.extend(["--engine-id".into(), "a1a1a1a1-0000-4000-8000-000000000001".into()]);
    args.extend(["--json".into(), dir.join("report.json").display().to_string()]);
    args.extend(["--junit".into(), dir.join("junit.xml").display().to_string()]);
    args.extend(["--html".into(), dir.join("index.html").display().to_string()]);
    // the `errors` case waits for an answer that cannot come (unless the test sets its own)
    if !extra.contains(&"--timeout") {
        args.extend(["--timeout".into(), "1s".into()]);
    }
    // The stateful phase's cases have reports of their own (tests/integration/stateful.rs).
    if !extra.contains(&"stateful::") {
        args.extend(["--skip".into(), "stateful::".into()]);
    }
    args.extend(extra.iter().map(ToString::to_string));
    args
}

#[test]
fn reports_of_a_run_with_pass_failure_and_error() {
    let (mock, url) = start_mock(&["accept_bad_action"]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(run_args(&url, dir.path(), &["--cases", "tests/report-cases"]))
        .env("CSE_AUTH_TOKEN", SECRET)
        .output()
        .unwrap();
    let log = stop(mock);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();

    let contract = Contract::load(&FileSource::Embedded).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let violations = contract.schema("report.schema.json").unwrap().violations(&report);
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(report["summary"]["passed"], 1);
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["summary"]["errored"], 1);
    assert!(junit.contains(r#"tests="3" failures="1" errors="1""#), "{junit}");

    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(html.contains(r#"<strong>3</strong> cases: <strong class="passed">1</strong> passed"#), "{html}");
    assert!(html.contains("<title>cse-contract: failed</title>"), "{html}");
    // Every case is listed; those that did not pass are open, the passing one collapsed.
    for (name, outcome, open) in
        [("fails", "failed", " open"), ("errors", "errored", " open"), ("passes", "passed", "")]
    {
        let row = format!(r#"data-outcome="{outcome}" data-checks="#);
        let named = format!(r#"data-name="sample::{name}"{open}><summary>"#);
        assert!(html.contains(&row) && html.contains(&named), "{name}: {html}");
    }
    assert!(
        html.contains(r#"aria-label="statuses seen""#)
            && html.contains("<title>200: 2</title>")
            && html.contains("<title>no answer: 1</title>"),
        "{html}"
    );
    let outputs = [("stdout", &*stdout), ("stderr", &*stderr), ("mock log", &log), ("json", &json), ("junit", &junit)];
    for (what, text) in outputs.into_iter().chain([("html", html.as_str())]) {
        assert!(!text.contains(SECRET), "the token leaked into {what}");
    }
    // The data holds the token masked; the curl lines read it from the environment.
    assert!(json.contains(r#"["X-Auth-Token","***"]"#), "{json}");
    assert!(json.contains("X-Auth-Token: ${CSE_AUTH_TOKEN}") && junit.contains("X-Auth-Token: ${CSE_AUTH_TOKEN}"));
    // A panic message is output too: `report::mask`'s unit test proves the panic hook.

    insta::with_settings!({filters => vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r#"(time|timestamp)="[^"]*""#, "$1=\"[time]\""),
        (r#""(duration_ms|started_at)": [^,\n]+"#, "\"$1\": [time]"),
        (r#""duration_ms":\d+"#, "\"duration_ms\":[time]"),
        (r"[0-9a-f]{32}", "[request-id]"),
        (r"(?i)date: [^\n&\\]*GMT", "date: [date]"),
        (r#""[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} [0-9:]{8} GMT""#, "\"[date]\""),
        (r"[0-9a-f]{16}", "[hash]"),
        (r"jobId(\\?&quot;|\\?\x22):(\d+)", "jobId$1:[job]"),
    ]}, {
        insta::assert_snapshot!("junit", junit);
        insta::assert_snapshot!("json", json);
    });
}

#[test]
fn run_list_prints_every_case_in_libtest_form() {
    let out = Command::new(BIN).args(["run", "--list"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    let names: Vec<&str> = stdout.lines().filter_map(|l| l.strip_suffix(": test")).collect();
    assert_eq!(
        names.len(),
        406,
        "46 hand-written, 6 stateful properties, 3 sequences, 151 coverage and 200 random generated: {stdout}"
    );
    // The run's order: the coverage phase before the random cases.
    let first = |prefix: &str| names.iter().position(|n| n.starts_with(prefix)).unwrap();
    assert!(first("generated::coverage::") < first("generated::negative::"), "{stdout}");
    assert!(names.contains(&"generated::coverage::retry::action_enum::0007"), "{stdout}");
    assert!(names.contains(&"stateful::tenant_isolated") && names.contains(&"stateful::sequence::0003"), "{stdout}");
    assert!(names.contains(&"retry::valid_retry"));
    assert!(names.contains(&"generated::negative::action_wrong_type::0003"), "{stdout}");
    let filtered =
        Command::new(BIN).args(["run", "--list", "--generated", "0", "action_", "--skip", "null"]).output().unwrap();
    let count = String::from_utf8_lossy(&filtered.stdout).lines().filter(|l| l.ends_with(": test")).count();
    assert_eq!(count, 11);
}

#[test]
fn an_interrupted_run_writes_partial_reports_and_exits_130() {
    // 1.5 s in, the run is still reading the engine's state (the mock hangs): nothing was sent.
    let (run, dir) = interrupt_with(&["-INT"], 130, &[]);
    let mut run = run;
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["partial"], true);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testsuites name="cse-contract""#), "{junit}");
    // No case finished, and the JUnit report still says the run was partial.
    assert!(junit.contains(r#"<property name="partial" value="true"/>"#), "{junit}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut run.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(stdout.contains("run interrupted: 0 of 46 cases finished"), "{stdout}");
}

/// Runs against a hanging mock (with `extra` flags), sends `signals` (kill's flags, 100 ms
/// apart) 1.5 s in, and
/// requires exit `code` within 8 s; the finished process and its report directory.
fn interrupt_with(signals: &[&str], code: i32, extra: &[&str]) -> (std::process::Child, tempfile::TempDir) {
    let (mock, url) = start_mock(&["hang"]);
    let dir = tempfile::tempdir().unwrap();
    let mut extra = extra.to_vec();
    extra.extend(["--timeout", "60s"]);
    let mut run = Command::new(BIN)
        .args(run_args(&url, dir.path(), &extra))
        .env("CSE_AUTH_TOKEN", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = Instant::now();
    for signal in signals {
        assert!(Command::new("kill").args([*signal, run.id().to_string().as_str()]).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(interrupted.elapsed() < Duration::from_secs(8), "still running after {signals:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    stop(mock);
    assert_eq!(status.code(), Some(code), "after {signals:?}");
    (run, dir)
}

/// What CI cancellation (SIGTERM) and a closed terminal (SIGHUP) send stops a run as Ctrl-C
/// does: reports written, marked partial, exit 143 and 129. A second signal exits at once,
/// without reports.
#[test]
fn sigterm_and_sighup_write_partial_reports_and_a_second_signal_exits_at_once() {
    // --no-state: 1.5 s in, the cases are in flight (the mock hangs).
    for (signal, code) in [("-TERM", 143), ("-HUP", 129)] {
        let (_, dir) = interrupt_with(&[signal], code, &["--no-state"]);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
        assert_eq!(report["partial"], true, "{signal}");
    }
    // The first signal gives the requests in flight 2 s; the second does not wait for them.
    let started = Instant::now();
    let (_, dir) = interrupt_with(&["-TERM", "-TERM"], 143, &["--no-state"]);
    assert!(started.elapsed() < Duration::from_millis(1500 + 1800), "the second signal waited for the grace");
    assert!(!dir.path().join("report.json").exists(), "a second signal exits before the reports");
}

/// Report fragments wait in a temporary file; when none can be created, the run still runs and
/// prints every case, then says why the reports are missing and exits 2.
#[test]
fn no_temporary_file_for_the_reports_is_a_clear_error_after_the_run() {
    let (mock, url) = start_mock(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(run_args(&url, dir.path(), &[]))
        .env("CSE_AUTH_TOKEN", SECRET)
        .env("TMPDIR", dir.path().join("does-not-exist"))
        .output()
        .unwrap();
    stop(mock);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("cse-contract: 46 passed, 0 failed"), "{stdout}");
    assert!(stderr.contains("cannot create a temporary file for the report fragments"), "{stderr}");
    assert!(!dir.path().join("report.json").exists(), "no half-written report");
}

/// Secrets are masked in the data, before any report is rendered: a token of one letter, a
/// quote, a backslash or markup leaves the JSON, the JUnit XML and the HTML well-formed, with the
/// counts of a run with a long token; a long token appears in none of them.
#[test]
fn any_token_leaves_every_report_well_formed() {
    let mut expected = None;
    for token in ["a-long-distinctive-token-4711", "t", "e", "s", "\"", "\\", "<", "&", "'", "]]>", "{"] {
        let mock = MockProcess::start(&["--token", token, "--fault", "accept_bad_action"], &[]);
        let url = mock.url.clone();
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(BIN)
            .args(run_args(&url, dir.path(), &["--cases", "tests/report-cases"]))
            .env("CSE_AUTH_TOKEN", token)
            .output()
            .unwrap();
        stop(mock);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "token {token:?}: {stdout}");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        let (json, junit, html) = (read("report.json"), read("junit.xml"), read("index.html"));
        let report: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("token {token:?}: report.json: {e}\n{json}"));
        let document =
            roxmltree::Document::parse(&junit).unwrap_or_else(|e| panic!("token {token:?}: junit.xml: {e}\n{junit}"));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "testsuites", "token {token:?}");
        assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</body></html>"), "{html}");
        assert_eq!(html.matches("<details ").count(), html.matches("</details>").count(), "token {token:?}");
        let counts = (
            report["summary"].clone(),
            root.attribute("tests").map(str::to_owned),
            root.attribute("failures").map(str::to_owned),
            root.attribute("errors").map(str::to_owned),
            report["cases"].as_array().map(|c| c.iter().map(|c| c["name"].clone()).collect::<Vec<_>>()),
        );
        let counts = (counts.0["total"].clone(), counts.0["failed"].clone(), counts.1, counts.2, counts.3, counts.4);
        match &expected {
            None => {
                // stdout and the reports tell the failing cases' requests, the token's header
                // included (masked: with `Secrets::mask_outcome` a no-op, each holds the token);
                // stderr is the run's other output. The mock's log is not among them: it logs
                // request lines, and no case of this run puts the token in one (the standalone
                // mock test in `cli.rs` does).
                let outputs = [
                    ("stdout", &*stdout),
                    ("stderr", &*stderr),
                    ("json", &*json),
                    ("junit", &*junit),
                    ("html", &*html),
                ];
                for (what, text) in outputs {
                    assert!(!text.contains(token), "the token leaked into {what}");
                }
                expected = Some(counts);
            }
            Some(expected) => assert_eq!(&counts, expected, "token {token:?}"),
        }
    }
}

/// A dry run of millions of cases takes minutes to print: one SIGTERM stops it, with 143, as it
/// stops a run (it used to go on to the end and exit 0; only a second signal stopped it).
#[test]
fn one_signal_stops_a_dry_run() {
    let mut run = Command::new(BIN)
        .args(["run", "--dry-run", "-q", "--generated", "5000000", "--seed", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(Command::new("kill").args(["-TERM", run.id().to_string().as_str()]).status().unwrap().success());
    let interrupted = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(interrupted.elapsed() < Duration::from_secs(10), "a dry run still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = run.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.code(), Some(143), "{stdout}");
    assert!(stdout.contains("dry run interrupted after"), "{stdout}");
}
