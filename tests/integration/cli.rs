//! The binary end to end: exit codes, messages for broken case files (pinned as a snapshot),
//! and a standalone mock driven as CI would drive it.

use crate::support::BIN;
use crate::support::MockProcess;
use cse_contract::mock::Fault;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env_remove("CSE_AUTH_TOKEN").output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn embedded_run_passes_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let (code, stdout, stderr) = run(&["run", "--json", json.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The README's first command: 46 hand-written cases, 6 stateful properties, 3 sequences, the
    // coverage phase's 151 boundary values and 200 random generated cases.
    assert!(stdout.contains("test result: ok. 406 passed; 0 failed"), "{stdout}");
    assert!(stdout.contains("cse-contract: 406 passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("seed: "), "{stdout}");
    assert!(stdout.contains("coverage: 151 boundary values of 35 constraints"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["summary"]["total"], 406);
    let stateful = report["cases"].as_array().unwrap().iter().filter(|c| c["kind"] == "stateful").count();
    assert_eq!(stateful, 9);
    assert!(report["seed"].is_u64());
    let generated: Vec<_> = report["cases"].as_array().unwrap().iter().filter(|c| c["kind"] == "generated").collect();
    assert_eq!(generated.len(), 351);
    let coverage = generated.iter().filter(|c| c["mutation"]["family"] == "coverage").count();
    assert_eq!(coverage, 151);
    assert_eq!(report["cases"][0]["kind"], "hand-written");
    assert!(report["cases"].as_array().unwrap().iter().all(|c| c["outcome"] == "passed"));
}

/// libtest's counts are honest: the cases the filters left out are counted, in the text and in
/// libtest's JSON; and filters that select nothing are an error with their own exit code (4, as
/// cargo-nextest's "no tests to run"), so a typo in a CI filter is not a green build.
#[test]
fn filtered_cases_are_counted_and_a_filter_that_selects_nothing_exits_4() {
    // 46 hand-written cases and 9 stateful ones; `retry::` selects 8 hand-written cases.
    let (code, stdout, stderr) = run(&["run", "--generated", "0", "--no-reports", "retry::"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("test result: ok. 8 passed; 0 failed; 0 ignored; 0 measured; 47 filtered out;"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["run", "--generated", "0", "--no-reports", "--format", "json", "retry::"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains(r#""filtered_out": 47"#), "{stdout}");
    // `-q`, end to end: what libtest-mimic prints for 8 passing tests and 47 filtered out.
    let (code, stdout, _) = run(&["run", "--generated", "0", "--no-reports", "-q", "--color", "never", "retry::"]);
    assert_eq!(code, 0, "{stdout}");
    let expected = libtest_mimic_quiet(8, 47);
    assert!(without_time(&stdout).contains(&without_time(&expected)), "expected\n{expected}\nin\n{stdout}");
    let (code, stdout, stderr) = run(&["run", "--no-reports", "retyr::"]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stderr.contains("error: the filters select none of the run's 406 cases (matching retyr::)"), "{stderr}");
    assert!(!stdout.contains("test result"), "{stdout}");
}

/// What a libtest-mimic harness prints with `-q` when `passed` tests pass and a filter leaves
/// `filtered_out` out.
fn libtest_mimic_quiet(passed: usize, filtered_out: usize) -> String {
    use libtest_mimic::{Arguments, ColorSetting, Trial};
    let dir = tempfile::tempdir().unwrap();
    let logfile = dir.path().join("log");
    let trials = (0..passed)
        .map(|i| Trial::test(format!("in::{i}"), || Ok(())))
        .chain((0..filtered_out).map(|i| Trial::test(format!("out::{i}"), || Ok(()))))
        .collect();
    let args = Arguments {
        quiet: true,
        filter: Some("in::".to_owned()),
        color: Some(ColorSetting::Never),
        test_threads: Some(1),
        logfile: Some(logfile.display().to_string()),
        ..Arguments::default()
    };
    let _ = libtest_mimic::run(&args, trials);
    std::fs::read_to_string(logfile).unwrap()
}

/// `text` with libtest's `finished in 0.04s` made `finished in [t]`.
fn without_time(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("finished in ") {
            Some(at) => format!("{}finished in [t]", &line[..at]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn validate_accepts_the_shipped_files() {
    let (code, stdout, _) = run(&["validate"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("46 cases in 7 files"), "{stdout}");
    let (code, stdout, _) = run(&["validate", "--cases", "cases", "--schemas", "schemas"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn list_prints_every_case_name() {
    // What `run --list` lists, without libtest's suffix: every case of a default run.
    let (code, stdout, _) = run(&["list"]);
    assert_eq!(code, 0);
    let names: Vec<&str> = stdout.lines().collect();
    let (_, run_list, _) = run(&["run", "--list"]);
    let listed: Vec<&str> = run_list.lines().filter_map(|l| l.strip_suffix(": test")).collect();
    assert_eq!(names, listed);
    assert_eq!(names.len(), 406);
    assert!(names.contains(&"retry::valid_retry") && names.contains(&"stateful::tenant_isolated"));
    // Several filters, --skip and --exact, and the budget flags, as `run` takes them.
    let (_, stdout, _) =
        run(&["list", "retry::", "show_job::", "--skip", "valid", "--generated", "0", "--stateful", "0"]);
    let names: Vec<&str> = stdout.lines().collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(names.iter().all(|n| (n.starts_with("retry::") || n.starts_with("show_job::")) && !n.contains("valid")));
    let (_, stdout, _) = run(&["list", "--exact", "retry::valid_retry"]);
    assert_eq!(stdout, "retry::valid_retry\n");
}

#[test]
fn broken_case_files_exit_2_naming_file_and_pointer() {
    let (code, stdout, stderr) = run(&["validate", "--cases", "tests/broken-cases"]);
    assert_eq!(code, 2, "{stdout}");
    insta::assert_snapshot!("broken_case_files", stderr);
}

#[test]
fn each_broken_file_alone_exits_2() {
    for entry in std::fs::read_dir("tests/broken-cases").unwrap() {
        let path = entry.unwrap().path();
        let dir = tempfile::tempdir().unwrap();
        let name = path.file_name().unwrap();
        std::fs::copy(&path, dir.path().join(name)).unwrap();
        let (code, _, stderr) = run(&["validate", "--cases", dir.path().to_str().unwrap()]);
        assert_eq!(code, 2, "{}", path.display());
        assert!(stderr.contains(name.to_str().unwrap()), "{}: {stderr}", path.display());
    }
}

#[test]
fn broken_cases_send_nothing_and_missing_variables_exit_2() {
    // A listener that counts connections: "sent nothing" is observed, not inferred from the
    // exit code (which is 2 before anything could be sent, whatever the target).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    for args in [
        &["run", "--cases", "tests/broken-cases", "--target", &target][..],
        &["run", "--target", &target][..],
        &["run", "--target", &target, "--project-id", "p", "--engine-id", "e"][..],
    ] {
        let (code, _, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    assert!(listener.accept().is_err(), "a connection reached the target");
    let (code, _, stderr) = run(&["run", "--target", "ftp://x"]);
    assert_eq!(code, 2, "{stderr}");
}

/// Every value the selected cases need and the run does not set is told at once, one line each
/// with how to set it and how many cases need it (before: 41 lines about `${project_id}`, then,
/// once set, 41 about `${engine_id}`, then about the token: three round trips for three facts).
#[test]
fn every_missing_value_is_told_at_once_with_how_to_set_it() {
    let (code, _, stderr) = run(&["run", "--target", "http://127.0.0.1:9"]);
    assert_eq!(code, 2, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("  ${")).collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with("  ${project_id} (set --project-id or CSE_PROJECT_ID): needed by 45 case(s)"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("  ${engine_id} (set --engine-id or CSE_ENGINE_ID): needed by 44 case(s)"),
        "{stderr}"
    );
    assert!(lines[2].starts_with("  ${token} (set CSE_AUTH_TOKEN or --token-file): needed by 41 case(s)"), "{stderr}");
    assert!(stderr.lines().count() < 10, "{stderr}");
    // One filter: one case, its three values.
    let (code, _, stderr) = run(&["run", "--target", "http://127.0.0.1:9", "valid_retry"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("${project_id} (set --project-id or CSE_PROJECT_ID): needed by 1 case(s), e.g. cases/retry.json `valid_retry`"), "{stderr}");
    // An empty token file is said to be empty, not "not set".
    let empty = tempfile::NamedTempFile::new().unwrap();
    let (code, _, stderr) =
        run(&["run", "--target", "http://127.0.0.1:9", "--token-file", empty.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("error: the token file `{}` is empty", empty.path().display())), "{stderr}");
    // Half an AK/SK pair is an error, not ignored.
    let out = Command::new(BIN)
        .args(["run", "--target", "http://127.0.0.1:9", "--project-id", "p", "--engine-id", "e"])
        .env_remove("CSE_AUTH_TOKEN")
        .env_remove("CSE_SK")
        .env("CSE_AK", "AKONLY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: CSE_AK is set but CSE_SK is not"), "{stderr}");
}

#[test]
fn an_unreachable_target_is_one_message_and_exit_2() {
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "tok\n").unwrap();
    let path = token.path().to_str().unwrap();
    let (code, stdout, stderr) =
        run(&["run", "--target", "http://127.0.0.1:9", "--project-id", "p", "--engine-id", "e", "--token-file", path]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("target http://127.0.0.1:9 is unreachable (127.0.0.1:9: Connection refused"), "{stderr}");
}

/// Starts `cse-contract mock`, reads its first line, runs the suite against it as CI would.
#[test]
fn standalone_mock_gives_the_same_results() {
    const TOKEN: &str = "standalone-secret-token";
    let mock = MockProcess::start(&["--token", TOKEN], &[]);
    let url = mock.url.clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let out = Command::new(BIN)
        .args([
            "run",
            "--no-reports",
            "--generated",
            "0",
            "--target",
            &url,
            "--project-id",
            "demo-project",
            "--engine-id",
            "4a1bc63d-4719-4bd3-b1ad-5ee590b05e87",
            // The token as the unknown engine's id: two cases send it in a request's path, the
            // part of a request the mock logs (it logs no header), so the log below could hold it.
            "--unknown-engine-id",
            TOKEN,
            // the request log below counts the hand-written cases' requests
            "--skip",
            "stateful::",
        ])
        .env("CSE_AUTH_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("cse-contract: 46 passed, 0 failed"), "{stdout}");
    // SIGTERM: a clean exit, and a request log of a line per request: one per case, and the
    // reads of the engine's state around the side-effecting ones.
    let (code, log) = mock.stop();
    assert_eq!(code, Some(0));
    let logged = log.lines().filter(|l| l.contains(" -> ")).count();
    let reads = log.lines().filter(|l| l.starts_with("GET ") && !l.contains("/actions")).count();
    assert!(reads > 8 && logged == 46 + reads - 6, "{logged} requests, {reads} reads: {log}");
    // No output holds the token, though two request lines of the log carried it: the mock's
    // `mask_token` masks it there (logged as it was sent, the log fails the loop's assertion), and
    // the count says the token did reach the log, so the assertion had something to find.
    for (what, text) in [("the mock's log", &log[..]), ("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!text.contains(TOKEN), "the token in {what}: {text}");
    }
    let masked = log.lines().filter(|l| l.contains("/engines/*** -> ") || l.contains("/engines/***/actions -> "));
    assert_eq!(masked.count(), 2, "{log}");
}

#[test]
fn mock_lists_faults_and_rejects_unknown_ones() {
    let (code, stdout, _) = run(&["mock", "--list-faults"]);
    assert_eq!(code, 0);
    // A header, then each fault: its name, the check it proves and what it does, in columns that
    // start where the header's do.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), Fault::ALL.len() + 1, "{stdout}");
    let (proves, effect) = (lines[0].find("PROVES").unwrap(), lines[0].find("EFFECT").unwrap());
    for (line, fault) in lines[1..].iter().zip(Fault::ALL) {
        let columns = (line[..proves].trim_end(), line[proves..effect].trim_end(), &line[effect..]);
        assert_eq!(columns, (fault.name(), fault.proves(), fault.description()), "{stdout}");
    }
    let (code, _, stderr) = run(&["mock", "--fault", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown fault `nope`"));
}

/// Report paths are checked before anything is sent: two reports on one path, a report under a
/// file, and `--save-failures` onto a file are each one clear error, all said at once, exit 2.
#[test]
fn report_paths_are_checked_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let same = dir.path().join("same.xml");
    let under_file = file.join("index.html");
    let (code, stdout, stderr) = run(&[
        "run",
        "--json",
        same.to_str().unwrap(),
        "--junit",
        same.to_str().unwrap(),
        "--html",
        under_file.to_str().unwrap(),
        "--save-failures",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("--json and --junit both write"), "{stderr}");
    assert!(stderr.contains("--html") && stderr.contains("cannot be written"), "{stderr}");
    assert!(stderr.contains("--save-failures") && stderr.contains("it is a file, not a directory"), "{stderr}");
    assert!(stderr.contains("nothing was sent") && !stdout.contains("running"), "{stdout}");
    assert!(!same.exists(), "no report was written");
}

/// Copies the shipped `schemas/` into `dir` with the request-headers schema's Content-Type
/// pattern replaced by `pattern`.
fn schemas_with_content_type_pattern(dir: &std::path::Path, pattern: &str) -> std::path::PathBuf {
    let schemas = dir.join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, schemas.join(path.file_name().unwrap())).unwrap();
    }
    let headers = schemas.join("request-headers.schema.json");
    let mut schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&headers).unwrap()).unwrap();
    schema["properties"]["Content-Type"]["pattern"] = pattern.into();
    std::fs::write(&headers, serde_json::to_vec_pretty(&schema).unwrap()).unwrap();
    schemas
}

/// A case the generator cannot build (here: a Content-Type pattern no positive Content-Type
/// variant satisfies, so every value it draws is filtered out) is an errored case, named, with
/// the reason, in the console, the JSON and the JUnit report; the run is complete, not
/// partial, and exits 1 — not 130 as if it had been interrupted.
#[test]
fn a_case_the_generator_cannot_build_is_errored_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let schemas = schemas_with_content_type_pattern(dir.path(), "^never$");
    let mock = MockProcess::start(&["-q", "--token", crate::support::TOKEN], &[]);
    let (json, junit) = (dir.path().join("report.json"), dir.path().join("junit.xml"));
    let out = Command::new(BIN)
        .args(["run", "--target", &mock.url, "--schemas", schemas.to_str().unwrap(), "--no-state"])
        .args(["--project-id", "demo-project", "--engine-id", crate::support::ALWAYS_RETRYABLE])
        .args(["--generated", "100", "--seed", "1", "generated::positive::content_type_variant::"])
        .args(["--json", json.to_str().unwrap(), "--junit", junit.to_str().unwrap()])
        .args(["--html", dir.path().join("index.html").to_str().unwrap()])
        .env("CSE_AUTH_TOKEN", crate::support::TOKEN)
        .output()
        .unwrap();
    mock.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let output = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{output}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["partial"], false, "{output}");
    let cases = report["cases"].as_array().unwrap();
    let planned = stdout.lines().find_map(|l| l.strip_prefix("running ")?.split(' ').next()?.parse::<usize>().ok());
    assert!(
        !cases.is_empty() && Some(cases.len()) == planned,
        "{} cases reported of {planned:?}\n{output}",
        cases.len()
    );
    assert_eq!(report["summary"]["errored"], cases.len(), "{output}");
    let reason = "could not be built";
    for case in cases {
        let name = case["name"].as_str().unwrap();
        assert!(name.starts_with("generated::positive::content_type_variant::"), "{name}");
        assert_eq!(case["outcome"], "errored", "{name}");
        let message = case["checks"][0]["message"].as_str().unwrap();
        assert!(message.contains(reason) && message.contains("content_type_variant"), "{name}: {message}");
        assert!(stdout.contains(&format!("test {name} ... FAILED")), "{name}\n{output}");
    }
    assert!(stdout.contains(reason), "{output}");
    assert!(!output.contains("interrupted"), "{output}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<error ").count(), cases.len(), "{xml}");
    assert!(xml.contains(r#"<property name="partial" value="false"/>"#), "{xml}");
}

/// Flag values that used to panic ("capacity overflow" for `--generated 18446744073709551615`),
/// grow without bound (`--generated 4294967296`: 5.8 GB in 20 s) or wait forever (a rate of one
/// request in 10^300 s) are refused where clap parses them: exit 2 at once, naming the flag.
#[test]
fn unbounded_flag_values_are_refused_by_clap() {
    for (flag, value) in [
        ("--generated", "18446744073709551615"),
        ("--generated", "4294967296"),
        ("--rate", "1e-300/s"),
        ("--max-body", "2GiB"),
    ] {
        let started = std::time::Instant::now();
        let (code, _, stderr) = run(&["run", "--list", flag, value]);
        assert_eq!(code, 2, "{flag} {value}: {stderr}");
        assert!(stderr.contains(&format!("invalid value '{value}' for '{flag}")), "{stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{flag} {value} took {:?}", started.elapsed());
    }
    let (code, stdout, stderr) = run(&["run", "--list", "--generated", "10000", "--rate", "1/h", "--max-body", "1GiB"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.lines().count() > 10_000);
}

/// `run --fault NAME` breaks the embedded mock, without a second process: the fault's check
/// fails, the target line says so; an unknown name or a --target beside it is refused by clap.
#[test]
fn run_fault_breaks_the_embedded_mock() {
    let (code, stdout, stderr) = run(&[
        "run",
        "--fault",
        "accept_tab_padded_retry",
        "--mode",
        "coverage",
        "--stateful",
        "0",
        "--no-reports",
        "generated::coverage::retry::action_enum",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("(embedded mock with --fault accept_tab_padded_retry)"), "{stdout}");
    assert!(stdout.contains("negative_rejected"), "{stdout}");
    let (code, _, stderr) = run(&["run", "--fault", "no_such_fault"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`no_such_fault` is not a fault of the mock"), "{stderr}");
    let (code, _, stderr) = run(&["run", "--fault", "accept_tab_padded_retry", "--target", "http://127.0.0.1:9"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

/// `--checks`/`--exclude-checks` choose what a run judges: a fault that breaks one check is not
/// reported once that check is left out, everything else still is; a property left out is not
/// run; a name that is no check is refused, listing the checks.
#[test]
fn checks_can_be_chosen_for_the_whole_run() {
    let failed_checks = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let mut args = vec!["run", "--fault", "error_missing_code", "--generated", "0", "--stateful", "0", "-q"];
        args.extend_from_slice(extra);
        args.extend(["--json", json.to_str().unwrap()]);
        let (code, stdout, stderr) = run(&args);
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let failed: std::collections::BTreeSet<String> = report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["failed_checks"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()))
            .collect();
        (code, failed, format!("{stdout}{stderr}"))
    };
    let (code, all, output) = failed_checks(&[]);
    assert_eq!(code, 1, "{output}");
    assert!(all.contains("body_schema"), "{all:?}");
    let (_, without, output) = failed_checks(&["--exclude-checks", "body_schema"]);
    assert!(!without.contains("body_schema") && !without.is_empty(), "{without:?} {output}");
    let (code, only, output) = failed_checks(&["--checks", "status_expected,content_type"]);
    assert_eq!(code, 0, "{only:?} {output}");
    let (code, _, stderr) = run(&["run", "--checks", "status_expected,no_such_check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`no_such_check` is not a check; the checks are transport,"), "{stderr}");
    let (code, stdout, _) =
        run(&["run", "--generated", "0", "--no-reports", "--checks", "status_expected", "stateful::"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("test result: ok. 3 passed; 0 failed; 6 ignored;"), "{stdout}");
}

/// `completions SHELL` prints a script the shell accepts, naming the subcommands and flags.
#[test]
fn completions_are_scripts_the_shell_loads() {
    let (code, script, stderr) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(script.contains("--generated") && script.contains("replay"), "{script}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &script).unwrap();
    let loaded = Command::new("bash")
        .args(["-c", &format!("source {} && complete -p cse-contract", file.path().display())])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("cse-contract"), "{loaded:?}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, script, _) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(script.contains("cse-contract"), "{shell}");
    }
    let (code, _, stderr) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{stderr}");
}

/// Every environment variable the program reads is in the `--help` of the command that reads
/// it: those standing for a flag beside it, the credentials (read from the environment only) in
/// the closing section. The names come from the source, so a new one cannot be left out.
#[test]
fn help_documents_every_environment_variable() {
    let mut names = std::collections::BTreeSet::new();
    for entry in crate::support::files_under(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (at, _) in text.match_indices("\"CSE_") {
            let name: String = text[at + 1..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
            names.insert(name);
        }
    }
    assert!(names.len() > 15, "{names:?}");
    let (_, run_help, _) = run(&["run", "--help"]);
    let (_, mock_help, _) = run(&["mock", "--help"]);
    for name in &names {
        let help = if name.starts_with("CSE_MOCK_") { &mock_help } else { &run_help };
        assert!(help.contains(name.as_str()), "{name} is read but not in the --help of its command");
    }
}

/// Values that used to be taken and then misbehave are refused where they are given, before
/// anything is sent: a zero timeout (every case errored), a port out of range (read as none, so
/// port 80), reports asked for and switched off together (nothing written, silently). A URL's
/// password is not repeated in the message.
#[test]
fn values_that_would_misbehave_are_refused_with_the_reason() {
    for (args, expected) in [
        (&["--timeout", "0s"][..], "invalid value '0s' for '--timeout <DUR>': `0s` is zero"),
        (&["--connect-timeout", "0ms"][..], "`0ms` is zero"),
        (&["--deadline", "0s"][..], "`0s` is zero"),
        (&["--no-reports", "--json", "x.json"][..], "the argument '--no-reports' cannot be used with '--json <PATH>'"),
        (&["--target", "http://127.0.0.1:99999"][..], "has the port `99999`, not one of 1 to 65535"),
        (&["--target", "http://127.0.0.1:0"][..], "has the port `0`, not one of 1 to 65535"),
        (&["--target", "http://:8080"][..], "names no host"),
        (&["--target", "ftp://x"][..], "is not an http:// or https:// URL"),
    ] {
        let mut all = vec!["run", "--project-id", "p", "--engine-id", "e"];
        all.extend_from_slice(args);
        let (code, stdout, stderr) = run(&all);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = run(&["run", "--target", "http://user:hunter2pw@127.0.0.1:70000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("http://***@127.0.0.1:70000") && !stderr.contains("hunter2pw"), "{stderr}");
}
