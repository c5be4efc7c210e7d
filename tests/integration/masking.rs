//! Secrets never reach an artefact, and masking never breaks one: secrets drawn to be hard (one
//! character, `"`, `\`, `'`, `<`, `&`, `]]>`, unicode, 4 KB) are placed where a run puts them
//! (a header, a path parameter, a request body, another header's value) and where a target sends
//! them back (a body that echoes them across the console's 4 KB cut and the JSON's 16 KB cut, a
//! response header, an `id` that the identity check quotes cut short). For every secret the
//! JSON, the JUnit XML and the HTML parse, and the counts are those of every other secret; for
//! every secret of 8 characters or more, no artefact (console, curl lines, reports, request
//! bodies beside them, saved regression cases, the mock's log) holds it raw, JSON-, XML-, HTML-,
//! shell- or percent-encoded, or any 8-character part of it.
//!
//! The echoing target is written here, on std alone: it shares no code with the mock.

use std::collections::HashSet;
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{ALWAYS_RETRYABLE, BIN, MockProcess};

/// A 4 KB secret with every character a renderer escapes somewhere in it.
fn long_secret() -> String {
    let alphabet: Vec<char> =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!*'\"\\<>&;ü✓".chars().collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            alphabet[usize::try_from(state % alphabet.len() as u64).unwrap()]
        })
        .collect()
}

/// Answers every request 200 with a JSON body that echoes the X-Auth-Token: once so that it
/// straddles byte 4096 (the console's cut), once straddling 16 384 (the JSON report's), and as
/// the engine `id`; and in an `X-Echo` header.
fn start_echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let Some((fields, _)) = crate::support::read_request(&mut reader) else { return };
                let token = fields.into_iter().find(|(n, _)| n == "x-auth-token").map(|(_, v)| v).unwrap_or_default();
                let quoted = serde_json::to_string(&token).unwrap();
                let head = r#"{"pad":""#;
                let pad = |before: usize, cut: usize| "a".repeat(cut.saturating_sub(before + 4));
                let mut json = format!("{head}{}\",\"echo\":{quoted}", pad(head.len() + 10, 4096));
                json = format!("{json},\"pad2\":\"{}\",\"echo2\":{quoted}", pad(json.len() + 10, 16_384));
                json = format!("{json},\"id\":{quoted},\"name\":\"x\",\"jobId\":\"j\"}}");
                let echo = if token.is_ascii() { token.as_str() } else { "non-ascii" };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Echo: {echo}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
                let _ = reader.into_inner().write_all(response.as_bytes());
            });
        }
    });
    url
}

/// Runs the secret-placing cases (and six generated ones, shrunk and saved) against `url`;
/// every artefact as (name, text), the parsed JSON report, and the counts.
fn run(url: &str, secret: &str, dir: &Path) -> (Vec<(String, String)>, Value) {
    let out = Command::new(BIN)
        .args(["run", "--target", url, "--project-id", "demo-project", "--engine-id", ALWAYS_RETRYABLE])
        // Random cases only: the coverage phase sends a body `"Retry"` (a string), which the
        // JUnit writes as `&apos;&quot;Retry`, and 8 bytes of that are also 8 bytes of the long
        // secret's XML form wherever it holds `'"`: a false alarm of the gram search, not a leak.
        // What reaches a report is masked in the values, whatever case it comes from.
        .args(["--cases", "tests/secret-cases", "--generated", "6", "--mode", "random", "--seed", "3", "--no-state"])
        .args(["--save-failures", dir.join("saved").to_str().unwrap()])
        .args(["--json", dir.join("report.json").to_str().unwrap(), "--junit", dir.join("junit.xml").to_str().unwrap()])
        .args(["--html", dir.join("index.html").to_str().unwrap()])
        .env("CSE_AUTH_TOKEN", secret)
        .output()
        .unwrap();
    let mut artefacts = vec![
        ("stdout".to_owned(), String::from_utf8_lossy(&out.stdout).into_owned()),
        ("stderr".to_owned(), String::from_utf8_lossy(&out.stderr).into_owned()),
    ];
    for entry in crate::support::files_under(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        artefacts.push((entry.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let report = serde_json::from_str(&json).unwrap_or_else(|e| panic!("secret {secret:.20?}: report.json: {e}"));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let document = roxmltree::Document::parse(&junit).unwrap_or_else(|e| panic!("secret {secret:.20?}: junit: {e}"));
    assert_eq!(document.root_element().tag_name().name(), "testsuites");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</body></html>"), "{secret:.20?}");
    assert_eq!(html.matches("<details ").count(), html.matches("</details>").count(), "{secret:.20?}");
    assert_eq!(html.matches("<script>").count(), 1, "{secret:.20?}: the page has its one script, no other");
    (artefacts, report)
}

/// What a report says of each case: the counts must not depend on the secret.
fn counts(report: &Value) -> (Value, Vec<(Value, Value, Value)>) {
    let cases = report["cases"].as_array().unwrap();
    let cases = cases.iter().map(|c| (c["name"].clone(), c["outcome"].clone(), c["failed_checks"].clone())).collect();
    (report["summary"]["total"].clone(), cases)
}

/// Every form in which a secret could be written.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap();
    let xml = secret.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    vec![
        secret.to_owned(),
        json.trim_matches('"').to_owned(),
        xml.replace('\'', "&apos;"),
        xml.replace('\'', "&#39;"),
        secret.replace('\'', r"'\''"),
        cse_contract::plan::encode_segment(secret),
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string(),
    ]
}

fn assert_absent(secret: &str, artefacts: &[(String, String)]) {
    let grams: HashSet<&[u8]> = forms(secret)
        .iter()
        .flat_map(|f| f.as_bytes().windows(8).collect::<Vec<_>>())
        .map(|g| {
            // Leak the forms' bytes for the set's lifetime: a test's few kilobytes.
            &*Box::leak(g.to_vec().into_boxed_slice())
        })
        .collect();
    for (name, text) in artefacts {
        for form in forms(secret) {
            assert!(!text.contains(&form), "{name} holds the secret (a form of {} bytes)", form.len());
        }
        if let Some(at) = text.as_bytes().windows(8).position(|w| grams.contains(w)) {
            let around = String::from_utf8_lossy(&text.as_bytes()[at.saturating_sub(40)..(at + 48).min(text.len())]);
            panic!("{name} holds an 8-byte part of the secret ({} bytes) at {at}: {around:?}", secret.len());
        }
    }
}

#[test]
fn no_secret_in_any_artefact_and_every_artefact_well_formed() {
    let echo = start_echo_server();
    let long = long_secret();
    let secrets = ["t", "\"", "\\", "'", "<", "&", "]]>", "ünïcødé-tøkën-✓-12345", long.as_str()];
    let (mut echoed, mut mocked) = (None, None);
    for secret in secrets {
        // Against the echoing server.
        let dir = tempfile::tempdir().unwrap();
        let (artefacts, report) = run(&echo, secret, dir.path());
        assert!(report["summary"]["failed"].as_u64().unwrap() > 5, "the echo fails cases: {}", report["summary"]);
        match &echoed {
            None => echoed = Some(counts(&report)),
            Some(expected) => assert_eq!(&counts(&report), expected, "secret {secret:.20?} against the echo"),
        }
        // Against the mock, which checks the token and logs every request.
        let mock = MockProcess::start(&["--token", secret], &[]);
        let dir_mock = tempfile::tempdir().unwrap();
        let (mut mock_artefacts, report) = run(&mock.url, secret, dir_mock.path());
        let (_, mock_log) = mock.stop();
        assert!(mock_log.lines().count() >= 10, "the mock logged the requests: {mock_log}");
        mock_artefacts.push(("mock log".to_owned(), mock_log));
        match &mocked {
            None => mocked = Some(counts(&report)),
            Some(expected) => assert_eq!(&counts(&report), expected, "secret {secret:.20?} against the mock"),
        }
        if secret.len() >= 8 {
            assert_absent(secret, &artefacts);
            assert_absent(secret, &mock_artefacts);
        }
    }
}
