//! Reproducers reproduce: every curl line of a failing report, run by the real curl against the
//! mock that failed, gets the status the report recorded (the token from `$CSE_AUTH_TOKEN`, a
//! large body from its file, an empty header sent empty); `replay` re-sends a report's request,
//! signing an AK/SK request afresh; `--max-failures` and `--fail-fast` stop the run.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{ALWAYS_RETRYABLE, BIN, MockProcess};

const TOKEN: &str = "reproducer-token-'$(quoted)\"-4711";

/// Runs the suite (hand-written cases and one generated case of each mutation kind, so each
/// is its group's example, told in full) against `url`; the JSON report.
fn run_suite(url: &str, dir: &Path, envs: &[(&str, &str)], extra: &[&str]) -> (Option<i32>, Value, String) {
    let generated = if extra.contains(&"--generated") { &[][..] } else { &["--generated", "28"][..] };
    let out = Command::new(BIN)
        .args(["run", "--target", url, "--project-id", "demo-project", "--engine-id", ALWAYS_RETRYABLE])
        .args(generated)
        .args(["--seed", "5"])
        .args(["--json", dir.join("report.json").to_str().unwrap()])
        .args(["--junit", dir.join("junit.xml").to_str().unwrap(), "--html", dir.join("index.html").to_str().unwrap()])
        .args(extra)
        .env_remove("CSE_AUTH_TOKEN")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let report = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let output = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), serde_json::from_str(&report).unwrap(), output)
}

fn failed(report: &Value) -> Vec<&Value> {
    report["cases"].as_array().unwrap().iter().filter(|c| c["outcome"] == "failed").collect()
}

#[test]
fn every_curl_line_of_a_failing_report_reproduces_its_status() {
    assert!(Command::new("curl").arg("--version").output().is_ok(), "this test needs curl on PATH");
    let mock = MockProcess::start(&["--token", TOKEN, "--fault", "error_missing_code"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let (code, report, output) = run_suite(&mock.url, dir.path(), &[("CSE_AUTH_TOKEN", TOKEN)], &[]);
    assert_eq!(code, Some(1), "{output}");
    let cases = failed(&report);
    assert!(cases.len() > 30, "the fault fails every error answer: {}", cases.len());
    let (mut from_file, mut empty_header) = (0, 0);
    for case in &cases {
        let line = case["request"].as_str().unwrap();
        assert!(!line.contains(TOKEN) && !line.contains("body cut"), "{line}");
        from_file += usize::from(line.contains("--data-binary '@"));
        empty_header += usize::from(line.contains(";' "));
        let out = Command::new("sh").args(["-c", line]).env("CSE_AUTH_TOKEN", TOKEN).output().unwrap();
        let answer = String::from_utf8_lossy(&out.stdout);
        let status: Option<u64> = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok());
        assert_eq!(status, case["status"].as_u64(), "{}: {line}\n{answer}", case["name"]);
    }
    // What the reproducers had to get right was there to get right.
    assert!(from_file >= 2, "large bodies sent from files: {from_file}");
    assert!(empty_header >= 2, "empty headers sent empty: {empty_header}");
    // `replay` re-sends a request of the report: the same status, exit 0.
    let name = cases[0]["name"].as_str().unwrap();
    let replay = Command::new(BIN)
        .args(["replay", dir.path().join("report.json").to_str().unwrap(), name])
        .env("CSE_AUTH_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert_eq!(replay.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("as the report recorded"), "{stderr}");
    mock.stop();
}

#[test]
fn replay_signs_an_aksk_request_afresh_and_says_when_the_status_differs() {
    let sk = "replay-secret-key-0042";
    let mock = MockProcess::start(&["--ak", "TESTAK", "--fault", "error_missing_code"], &[("CSE_MOCK_SK", sk)]);
    let dir = tempfile::tempdir().unwrap();
    let envs = [("CSE_AK", "TESTAK"), ("CSE_SK", sk)];
    let (code, report, output) = run_suite(&mock.url, dir.path(), &envs, &["--generated", "0"]);
    assert_eq!(code, Some(1), "{output}");
    let case = failed(&report).into_iter().find(|c| c["status"] == 400).expect("a failed 400");
    let line = case["request"].as_str().unwrap();
    assert!(line.contains("Signature=***") && line.contains("cse-contract replay"), "{line}");
    let name = case["name"].as_str().unwrap();
    let json = dir.path().join("report.json");
    let replay = |envs: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .args(["replay", json.to_str().unwrap(), name])
            .env_remove("CSE_AK")
            .env_remove("CSE_SK")
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let (code, text) = replay(&envs);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains(sk), "{text}");
    // Without the keys it cannot sign, and says so; with a wrong key the gateway refuses (401),
    // which is not the status the report recorded: exit 1.
    let (code, text) = replay(&[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("set CSE_AK and CSE_SK"), "{text}");
    let (code, text) = replay(&[("CSE_AK", "TESTAK"), ("CSE_SK", "wrong-key")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("status 401, the report recorded 400"), "{text}");
    mock.stop();
}

#[test]
fn max_failures_stops_starting_cases_and_says_so() {
    let mock = MockProcess::start(&["--token", TOKEN, "--fault", "error_missing_code"], &[]);
    for (flags, limit) in [(&["--max-failures", "3"][..], 3), (&["--fail-fast"][..], 1)] {
        let dir = tempfile::tempdir().unwrap();
        let mut extra = vec!["--generated", "2000", "--concurrency", "1"];
        extra.extend_from_slice(flags);
        let (code, report, output) = run_suite(&mock.url, dir.path(), &[("CSE_AUTH_TOKEN", TOKEN)], &extra);
        assert_eq!(code, Some(1), "{flags:?}: {output}");
        let summary = &report["summary"];
        let not_passed = summary["failed"].as_u64().unwrap() + summary["errored"].as_u64().unwrap();
        // One at a time: the run stops at the limit exactly.
        assert_eq!(not_passed, limit, "{flags:?}: {summary}");
        assert!(summary["total"].as_u64().unwrap() < 2000, "{summary}");
        assert_eq!(report["partial"], true);
        let stopped = report["stopped"].as_str().unwrap();
        assert!(stopped.contains(&format!("stopped after {limit} case(s) did not pass")), "{stopped}");
        assert!(output.contains(stopped), "{output}");
        let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        assert!(html.contains("<title>cse-contract: stopped early</title>"), "{flags:?}");
    }
    mock.stop();
}
