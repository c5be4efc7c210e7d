//! AK/SK: the harness signs with CSE_AK/CSE_SK, the mock verifies with --ak/--sk; a wrong SK is
//! 401 APIGW.0301; the SK appears in no output.

use std::process::Command;

use crate::support::{BIN, MockProcess};
const SK: &str = "distinctive-secret-key-4242";

fn run_against_signing_mock(sk: &str, generated: &str) -> (Option<i32>, String, String, String) {
    let mock = MockProcess::start(&["--ak", "TESTAK"], &[("CSE_MOCK_SK", SK)]);
    let url = mock.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = Command::new(BIN)
        .args(["run", "--target", url.trim(), "--project-id", "demo-project", "--generated", generated, "--seed", "9"])
        .args(["--engine-id", "4a1bc63d-4719-4bd3-b1ad-5ee590b05e87", "--json", json.to_str().unwrap()])
        .args(["--junit", dir.path().join("j.xml").to_str().unwrap()])
        .env("CSE_AK", "TESTAK")
        .env("CSE_SK", sk)
        .env_remove("CSE_AUTH_TOKEN")
        .output()
        .unwrap();
    let (_, log) = mock.stop();
    let reports = std::fs::read_to_string(json).unwrap() + &std::fs::read_to_string(dir.path().join("j.xml")).unwrap();
    let output = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), output, log, reports)
}

#[test]
fn signed_requests_pass_and_the_secret_key_stays_secret() {
    let (code, output, log, reports) = run_against_signing_mock(SK, "60");
    assert_eq!(code, Some(0), "{output}");
    for (what, text) in [("output", &output), ("mock log", &log), ("reports", &reports)] {
        assert!(!text.contains(SK), "the SK leaked into the {what}");
    }
}

#[test]
fn a_wrong_secret_key_is_401_apigw_0301() {
    let (code, output, _, reports) = run_against_signing_mock("not-the-right-secret-key", "0");
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("retry::valid_retry"), "{output}");
    assert!(reports.contains("verify aksk signature fail"), "the mock's reason reaches the report");
    // The signature is masked in the data (it would be valid for minutes); `replay` signs afresh.
    assert!(output.contains("Signature=***") && output.contains("cse-contract replay"), "{output}");
    assert!(!output.contains("not-the-right-secret-key"));
}
