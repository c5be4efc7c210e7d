//! The run's settings from the command line: every configuration problem told at once, `-H`
//! headers on every request (secret ones masked everywhere), `--var` user variables in case
//! files, and `-v`'s exchange log.

use std::io::{BufReader, Write as _};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use crate::support::{BIN, ENGINE};

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_configuration_problem_is_told_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("token");
    std::fs::write(&empty, "").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--target", "http://127.0.0.1:99999", "--token-file", empty.to_str().unwrap()])
        .args(["-H", "X-Auth-Token: from-a-flag", "-H", "@/nonexistent/headers", "--secret-header", "X-Api-Key"])
        .args(["--json", dir.path().to_str().unwrap()])
        .env("CSE_AK", "AK-ONLY")
        .env_remove("CSE_SK")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "nothing runs: {stdout}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    for expected in [
        "error: --target `http://127.0.0.1:99999` has the port `99999`",
        &format!("error: the token file `{}` is empty", empty.display()),
        "error: CSE_AK is set but CSE_SK is not",
        "error: -H: `X-Auth-Token` is a header of the contract",
        "error: -H @/nonexistent/headers: failed to read the header file",
        "error: --secret-header `X-Api-Key` names no -H header",
        &format!("error: --json `{}` cannot be written: it is a directory", dir.path().display()),
        "error: 7 problems in the run's settings; nothing was sent",
    ] {
        assert!(errors.iter().any(|e| e.starts_with(expected)), "missing {expected:?} in:\n{stderr}");
    }
    assert_eq!(errors.len(), 8, "{stderr}");
    // A header's value may be a secret: no message quotes it.
    assert!(!stderr.contains("from-a-flag"), "{stderr}");

    // Broken case files and a bad flag: both told, in one go.
    let broken = dir.path().join("cases");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("bad.json"), "{ not json").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--cases", broken.to_str().unwrap(), "--target", "ftp://x"])
        .env_remove("CSE_AK")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.json") && stderr.contains("problem(s) in the case files"), "{stderr}");
    assert!(stderr.contains("error: --target `ftp://x` is not an http:// or https:// URL"), "{stderr}");
}

/// The header fields of each request a server received.
type Seen = Arc<Mutex<Vec<crate::support::Fields>>>;

/// A server written for this test: answers every request 200 `{}` and records its header fields.
fn recording_server() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = record.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                while let Some((fields, _)) = crate::support::read_request(&mut reader) {
                    record.lock().unwrap().push(fields);
                    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                    if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[test]
fn extra_headers_reach_every_request_and_secret_ones_are_masked_everywhere() {
    let (url, seen) = recording_server();
    let dir = tempfile::tempdir().unwrap();
    let header_file = dir.path().join("headers");
    std::fs::write(&header_file, "# the gateway's credential\nAuthorization: Bearer GATEWAY-SECRET-7f3a\n").unwrap();
    let reports = dir.path().join("reports");
    let out = Command::new(BIN)
        .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--no-state", "-v"])
        .args(["--generated", "5", "--stateful", "0", "--mode", "random", "--seed", "1"])
        .args(["-H", "X-Trace: trace-1", "-H", &format!("@{}", header_file.display())])
        .args(["-H", "X-Api-Key: API-KEY-SECRET-9c2e", "--secret-header", "x-api-key"])
        .args(["--json", reports.join("r.json").to_str().unwrap(), "--junit", reports.join("j.xml").to_str().unwrap()])
        .args(["--html", reports.join("i.html").to_str().unwrap()])
        .env("CSE_AUTH_TOKEN", "tok")
        .env_remove("CSE_AK")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "every negative case fails against an always-200 server:\n{stderr}");
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 40, "{} requests", seen.len());
    for fields in seen.iter() {
        let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("x-trace"), Some("trace-1"), "{fields:?}");
        assert_eq!(get("authorization"), Some("Bearer GATEWAY-SECRET-7f3a"), "{fields:?}");
        assert_eq!(get("x-api-key"), Some("API-KEY-SECRET-9c2e"), "{fields:?}");
    }
    // The exchange log shows the headers, the secret ones masked.
    assert!(stderr.contains("> X-Trace: trace-1\n"), "{stderr}");
    assert!(stderr.contains("> Authorization: ***\n") && stderr.contains("> X-Api-Key: ***\n"), "{stderr}");
    let mut artefacts = vec![("stdout".to_owned(), stdout), ("stderr".to_owned(), stderr)];
    for file in crate::support::files_under(&reports) {
        artefacts.push((file.display().to_string(), String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into()));
    }
    assert!(artefacts.iter().any(|(name, text)| name.ends_with("r.json") && text.contains("X-Trace")));
    for (name, text) in &artefacts {
        for secret in ["GATEWAY-SECRET", "API-KEY-SECRET"] {
            assert!(!text.contains(secret), "{secret} in {name}");
        }
    }
}

#[test]
fn user_variables_fill_case_files() {
    let dir = tempfile::tempdir().unwrap();
    let case = serde_json::json!({
        "description": "A Retry of the engine a user variable names.",
        "cases": [{
            "name": "by_user_variable",
            "description": "The engine comes from --var engine.",
            "request": {"path_parameters": {"engine_id": "${var.engine}"}},
            "expect": {"status": [200], "assertions": [{"pointer": "/id", "equals": "${var.engine}"}]}
        }]
    });
    std::fs::write(dir.path().join("mine.json"), case.to_string()).unwrap();
    let cases = dir.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["run", "--cases", cases, "--generated", "0", "--stateful", "0", "--no-reports", "-v"])
            .args(["--skip", "stateful::"])
            .args(extra)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout, stderr)
    };
    let (code, stdout, stderr) = run(&["--var", &format!("engine={ENGINE}")]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains(&format!("/engines/{ENGINE}/actions")), "{stderr}");
    // Unset: said with how to set it, nothing sent.
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("${var.engine} (set --var engine=VALUE): needed by 1 case(s)"), "{stderr}");
    // A built-in variable has its own flag.
    let (code, _, stderr) = run(&["--var", "engine_id=x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`engine_id` is a built-in variable: set it with --engine-id"), "{stderr}");
    // A name outside both namespaces is still a load error, naming the file.
    std::fs::write(dir.path().join("mine.json"), case.to_string().replace("${var.engine}", "${engine}")).unwrap();
    let (code, _, stderr) = run(&["--var", "engine=x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("mine.json") && stderr.contains("unknown variable `${engine}`"), "{stderr}");
}

#[test]
fn verbose_logs_each_exchange_and_leaves_stdout_to_the_format() {
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["run", "--no-reports", "--generated", "0", "--stateful", "0"])
            .args(args)
            .env("CSE_AUTH_TOKEN", "VERBOSE-TOKEN-41")
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        (stdout, stderr)
    };
    let (stdout, stderr) = run(&["-v", "retry::valid_retry", "stateful::"]);
    assert!(stderr.contains("--- retry::valid_retry (ok, "), "{stderr}");
    assert!(stderr.contains("\n> PUT http://127.0.0.1:") && stderr.contains("\n> X-Auth-Token: ***\n"), "{stderr}");
    assert!(stderr.contains("\n> {\"action\":\"Retry\"}\n") && stderr.contains("\n< 200\n"), "{stderr}");
    // A stateful case logs each of its steps.
    assert!(stderr.contains("--- stateful::tenant_isolated (ok") && stderr.contains("  step 1 ("), "{stderr}");
    assert!(!stderr.contains("VERBOSE-TOKEN-41") && !stdout.contains("VERBOSE-TOKEN-41"));
    assert!(!stdout.contains("\n> "), "the log is on stderr: {stdout}");
    // Without -v, no log; with the JSON format, stdout stays JSON lines.
    let (_, stderr) = run(&["retry::valid_retry"]);
    assert!(!stderr.contains("--- retry::valid_retry"), "{stderr}");
    let (stdout, stderr) = run(&["-v", "--format", "json", "retry::valid_retry"]);
    assert!(stderr.contains("--- retry::valid_retry"), "{stderr}");
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

/// A server written for this test: answers every request 400 with a JSON body that echoes the
/// request's Authorization header, and counts the connections it accepted.
fn echoing_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                while let Some((fields, _)) = crate::support::read_request(&mut reader) {
                    let auth = fields.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.clone());
                    let body = serde_json::json!({"error_code": "X", "error_msg": format!("you sent {}", auth.unwrap_or_default())});
                    let body = body.to_string();
                    let answer = format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

#[test]
fn nothing_is_sent_when_the_filters_select_nothing() {
    let (url, connections) = echoing_server();
    let out = Command::new(BIN)
        .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--no-reports", "zzz-no-such-case"])
        .env("CSE_AUTH_TOKEN", "tok")
        .env_remove("CSE_AK")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("the filters select none of the run's"), "{stderr}");
    // Not even the engine's state was read.
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn a_secret_header_echoed_by_a_failing_state_read_is_masked() {
    let (url, _) = echoing_server();
    let secret = format!("Bearer {}", "S3CR3T".repeat(60));
    let out = Command::new(BIN)
        .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--no-reports", "-v"])
        .args(["--generated", "0", "--stateful", "0", "-H", &format!("Authorization: {secret}"), "retry::"])
        .env("CSE_AUTH_TOKEN", "tok")
        .env_remove("CSE_AK")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("the engine's state could not be read"), "{stderr}");
    // No 8 bytes of it, though the server echoed it and the message cut it.
    assert!(!stdout.contains("S3CR3TS3") && !stderr.contains("S3CR3TS3"), "{stderr}");
}

#[test]
fn dry_runs_show_the_extra_headers_and_replay_gives_a_masked_one_back() {
    let (url, seen) = recording_server();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--no-state"])
            .args([
                "--generated",
                "0",
                "--stateful",
                "0",
                "-H",
                "X-Trace: t-9",
                "-H",
                "Authorization: Bearer OLD-SECRET",
            ])
            .args(extra)
            .env("CSE_AUTH_TOKEN", "tok")
            .env_remove("CSE_AK")
            .output()
            .unwrap()
    };
    let out = run(&["--dry-run", "resource::method_get"]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("-H 'X-Trace: t-9'") && stdout.contains("-H 'Authorization: ***'"), "{stdout}");
    assert!(!stdout.contains("OLD-SECRET"), "{stdout}");
    // A failing case's report, then replay with the secret given back.
    let report = dir.path().join("r.json");
    let out = run(&["--json", report.to_str().unwrap(), "--junit", dir.path().join("j.xml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    seen.lock().unwrap().clear();
    let out = Command::new(BIN)
        .args(["replay", report.to_str().unwrap(), "resource::method_get", "-H", "Authorization: Bearer NEW-SECRET"])
        .env("CSE_AUTH_TOKEN", "tok")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(!stdout.contains("NEW-SECRET") && !stderr.contains("still hold"), "{stdout}{stderr}");
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains(&("authorization".to_owned(), "Bearer NEW-SECRET".to_owned())), "{sent:?}");
    // Without it, replay says the header still holds the mask.
    let out = Command::new(BIN)
        .args(["replay", report.to_str().unwrap(), "resource::method_get"])
        .env("CSE_AUTH_TOKEN", "tok")
        .output()
        .unwrap();
    assert!(text(&out).1.contains("Authorization still hold ***"), "{}", text(&out).1);
    // With AK/SK signing, a header the signature sets is refused.
    let out = Command::new(BIN)
        .args(["run", "--no-reports", "-H", "Authorization: Bearer x"])
        .env("CSE_AK", "AK")
        .env("CSE_SK", "SK")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("`Authorization` is set by AK/SK signing"), "{}", text(&out).1);
}

#[test]
fn an_empty_variable_in_the_environment_is_no_value() {
    // `CSE_ENGINE_ID=` left in a CI file: the embedded mock's engine stands.
    let out = Command::new(BIN)
        .args(["run", "--no-reports", "--generated", "0", "--stateful", "0", "retry::valid_retry"])
        .env("CSE_ENGINE_ID", "")
        .env("CSE_PROJECT_ID", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}
