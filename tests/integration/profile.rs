//! `cse-contract.toml` end to end: the binary run in a folder holding the file (or given it with
//! `--config`), with nothing sent: precedence (flag > environment > profile > default), a named
//! profile inheriting `default`, refused keys and values told with file and line, missing
//! profiles, `list` honouring the profile. Headers and secret headers that add up rather than
//! replace are seen in `-v`'s log of one Retry sent to the embedded mock.

use crate::support::BIN;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// The variables that would change what these tests observe; each test sets its own.
const CLEARED: [&str; 10] = [
    "CSE_CONFIG",
    "CSE_PROFILE",
    "CSE_TARGET",
    "CSE_PROJECT_ID",
    "CSE_ENGINE_ID",
    "CSE_CASES",
    "CSE_SCHEMAS",
    "CSE_AUTH_TOKEN",
    "CSE_AK",
    "CSE_SK",
];

/// Runs the binary in `dir` with `envs`: exit code, stdout, stderr.
fn run_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.current_dir(dir).args(args);
    for var in CLEARED {
        command.env_remove(var);
    }
    command.envs(envs.iter().copied());
    let out = command.output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A folder holding `cse-contract.toml` with `text`.
fn folder_with(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cse-contract.toml"), text).unwrap();
    dir
}

/// How many requests `run --dry-run -q` planned.
fn planned(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> usize {
    let mut all = vec!["run", "--dry-run", "-q"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_in(dir, &all, envs);
    assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    let line = stdout.lines().find(|l| l.starts_with("dry run: ")).unwrap_or_else(|| panic!("{stdout}"));
    line["dry run: ".len()..].split(' ').next().unwrap().parse().unwrap()
}

/// The names `list` prints.
fn listed(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_in(dir, &all, envs);
    assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    stdout.lines().map(str::to_owned).collect()
}

/// A listener that counts connections: "nothing sent" is observed.
fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_profile_which_beats_the_default() {
    let (listener, target) = listener();
    let dir = folder_with(&format!(
        "[profile.default]\ngenerated = 5\ntarget = \"{target}\"\nproject-id = \"from-profile\"\nengine-id = \"e1\"\n"
    ));
    let token = [("CSE_AUTH_TOKEN", "t")];
    let retry = |envs: &[(&str, &str)], flags: &[&str]| {
        let mut args = vec!["run", "--dry-run", "--exact", "retry::valid_retry"];
        args.extend_from_slice(flags);
        let (code, stdout, stderr) = run_in(dir.path(), &args, envs);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stderr.starts_with("profile: default (from cse-contract.toml)\n"), "{stderr}");
        stdout
    };
    // the profile's target, project ID and engine ID
    let url = format!("'{target}/v2/from-profile/enginemgr/engines/e1/actions'");
    assert!(retry(&token, &[]).contains(&url), "{url}");
    // the environment beats the profile
    let envs = [token[0], ("CSE_PROJECT_ID", "from-env")];
    assert!(retry(&envs, &[]).contains("/v2/from-env/enginemgr/engines/e1/"));
    // a flag beats both
    assert!(retry(&envs, &["--project-id", "from-flag"]).contains("/v2/from-flag/enginemgr/engines/e1/"));
    // generated: the profile's 5 beat the default 200, a flag beats the profile
    let empty = tempfile::tempdir().unwrap();
    let default = planned(empty.path(), &[], &[]);
    let profile = planned(dir.path(), &[], &token);
    assert_eq!(default - profile, 200 - 5, "{default} {profile}");
    assert_eq!(planned(dir.path(), &["--generated", "7"], &token), profile + 2);
    assert!(listener.accept().is_err(), "a connection reached the target");
    // without a file: no profile line, nothing changed
    let (code, _, stderr) = run_in(empty.path(), &["list", "--exact", "retry::valid_retry"], &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn a_named_profile_inherits_default_and_its_own_keys_win() {
    let dir = folder_with(
        "[profile.default]\ngenerated = 5\nstateful = 0\nskip = [\"show_job::\"]\n\n\
         [profile.ci]\ngenerated = 7\nmode = \"random\"\n",
    );
    let default = listed(dir.path(), &[], &[]);
    assert_eq!(default, listed(dir.path(), &["--generated", "5", "--stateful", "0", "--skip", "show_job::"], &[]));
    let ci = listed(dir.path(), &["--profile", "ci"], &[]);
    // ci's generated and mode, default's stateful and skip
    let expected = listed(
        dir.path(),
        &["--profile", "ci", "--generated", "7", "--mode", "random", "--stateful", "0", "--skip", "show_job::"],
        &[],
    );
    assert_eq!(ci, expected);
    assert_ne!(ci, default);
    assert_eq!(ci.iter().filter(|n| n.starts_with("generated::")).count(), 7, "{ci:#?}");
    assert!(!ci.iter().any(|n| n.starts_with("stateful::sequence") || n.contains("show_job::")), "{ci:#?}");
    // CSE_PROFILE chooses as --profile does, and says which
    assert_eq!(listed(dir.path(), &[], &[("CSE_PROFILE", "ci")]), ci);
    let (_, _, stderr) = run_in(dir.path(), &["list"], &[("CSE_PROFILE", "ci")]);
    assert_eq!(stderr, "profile: ci (from cse-contract.toml)\n");
}

#[test]
fn list_honours_the_profile_and_leaves_the_keys_of_run_it_lacks() {
    let dir = folder_with(
        "[profile.default]\nfilter = [\"retry::\", \"show_engine::\"]\nskip = [\"valid\"]\ngenerated = 0\n\
         stateful = 0\ntarget = \"http://127.0.0.1:9\"\nfail-fast = true\nmax-body = \"64KiB\"\n",
    );
    let names = listed(dir.path(), &[], &[]);
    assert_eq!(
        names,
        listed(
            dir.path(),
            &["--generated", "0", "--stateful", "0", "--skip", "valid", "retry::", "show_engine::"],
            &[]
        )
    );
    assert!(names.len() > 5, "{names:?}");
    assert!(
        names.iter().all(|n| (n.starts_with("retry::") || n.starts_with("show_engine::")) && !n.contains("valid")),
        "{names:?}"
    );
    // filters on the command line replace the profile's
    let (_, stdout, _) = run_in(dir.path(), &["list", "--exact", "show_engine::engine"], &[]);
    assert_eq!(stdout, "show_engine::engine\n");
    // `run --list` lists the same
    let (code, stdout, stderr) = run_in(dir.path(), &["run", "--list"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let run_names: Vec<&str> = stdout.lines().filter_map(|l| l.strip_suffix(": test")).collect();
    assert_eq!(run_names, names);
}

#[test]
fn unknown_keys_are_told_with_file_and_line_all_at_once_and_nothing_is_sent() {
    let (listener, target) = listener();
    let dir = folder_with(
        "# CI\n[profile.default]\ngenerated = 5\n\n[profile.ci]\nfail-fast = true\ngenrated = 500\nconcurency = 4\n\
         token = \"secret-value\"\ndry-run = true\n\n[report]\njunit = \"x.xml\"\n",
    );
    let (code, stdout, stderr) = run_in(dir.path(), &["run", "--profile", "ci", "--target", &target], &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: cse-contract.toml:7:1: unknown key `genrated` in [profile.ci] (did you mean `generated`?)",
            "error: cse-contract.toml:8:1: unknown key `concurency` in [profile.ci] (did you mean `concurrency`?)",
            "error: cse-contract.toml:9:1: `token` in [profile.ci]: credentials are never read from a configuration \
             file; they come from CSE_AUTH_TOKEN or --token-file (`token-file = PATH` may be set here), or CSE_AK \
             and CSE_SK",
            "error: cse-contract.toml:10:1: `dry-run` in [profile.ci] cannot be set in a configuration file: give \
             --dry-run on the command line",
            "error: cse-contract.toml:12:2: unknown key `report`: the file holds only profiles, as [profile.NAME] tables",
            "error: 5 problems in the configuration; nothing was sent",
        ]
    );
    assert!(!stderr.contains("secret-value"));
    // a problem in any profile refuses the file, whichever profile is used, and `list` too
    for args in [&["run", "--target", &target][..], &["list"][..]] {
        let (code, _, stderr) = run_in(dir.path(), args, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("cse-contract.toml:7:1: unknown key `genrated`"), "{stderr}");
    }
    assert!(listener.accept().is_err(), "a connection reached the target");
}

/// A file of many problems tells the first 100 and counts the others, as case files do.
#[test]
fn the_first_hundred_problems_are_told_and_the_others_counted() {
    let keys: Vec<String> = (0..250).map(|i| format!("key-{i} = 1")).collect();
    let dir = folder_with(&format!("[profile.default]\n{}\n", keys.join("\n")));
    let (code, stdout, stderr) = run_in(dir.path(), &["list"], &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 102, "{stderr}");
    assert_eq!(lines[0], "error: cse-contract.toml:2:1: unknown key `key-0` in [profile.default]");
    assert_eq!(lines[99], "error: cse-contract.toml:101:1: unknown key `key-99` in [profile.default]");
    assert_eq!(
        lines[100..],
        ["error: 150 more problems not shown", "error: 250 problems in the configuration; nothing was sent"]
    );
}

#[test]
fn values_of_the_wrong_type_or_that_clap_refuses_are_told_with_file_and_line() {
    let (listener, target) = listener();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("team.toml");
    std::fs::write(
        &config,
        format!(
            "[profile.default]\ntarget = \"{target}\"\ntimeout = \"0s\"\nmode = \"everything\"\nfail-fast = \"yes\"\n\
             skip = [\"slow\", 3.5, false]\nseed = [1, 2]\nmax-failures = 2\nchecks = \"status_expected,nope\"\n"
        ),
    )
    .unwrap();
    let shown = config.display().to_string();
    let (code, stdout, stderr) = run_in(dir.path(), &["run", "--config", &shown], &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let expected = [
        format!(
            "error: {shown}:3:11: invalid value `0s` for `timeout` in [profile.default]: `0s` is zero; give a duration above zero, e.g. 10s"
        ),
        format!(
            "error: {shown}:4:8: invalid value `everything` for `mode` in [profile.default]: the values are positive, negative, robustness, coverage, random, all"
        ),
        format!("error: {shown}:5:13: `fail-fast` in [profile.default] is a switch: true or false, not a string"),
        format!("error: {shown}:6:22: `skip` in [profile.default] takes strings or numbers, not a boolean"),
        format!("error: {shown}:7:8: `seed` in [profile.default] takes one value (a string or a number), not an array"),
        format!(
            "error: {shown}:9:10: invalid value `status_expected,nope` for `checks` in [profile.default]: `nope` is not a check; the checks are "
        ),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{stderr}");
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(line.starts_with(expected.as_str()), "{line}\n  is not\n{expected}");
    }
    assert_eq!(lines[expected.len()], "error: 6 problems in the configuration; nothing was sent");
    // CSE_CONFIG names the file as --config does
    let (code, _, stderr) = run_in(dir.path(), &["list"], &[("CSE_CONFIG", &shown)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with(&expected[0]), "{stderr}");
    // a syntax error has its place too
    std::fs::write(&config, "[profile.default]\ngenerated = = 5\n").unwrap();
    let (code, _, stderr) = run_in(dir.path(), &["run", "--config", &shown], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with(&format!("error: {shown}:2:")), "{stderr}");
    assert!(listener.accept().is_err(), "a connection reached the target");
}

#[test]
fn a_profile_the_file_lacks_or_no_file_at_all_is_an_error() {
    let dir = folder_with("[profile.default]\ngenerated = 5\n[profile.ci]\n[profile.nightly]\ngenerated = 5000\n");
    let (code, _, stderr) = run_in(dir.path(), &["run", "--profile", "cj"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: cse-contract.toml has no profile `cj`; its profiles: ci, default, nightly\n\
             error: 1 problem in the configuration; nothing was sent\n"
        ),
        "{stderr}"
    );
    let empty = tempfile::tempdir().unwrap();
    for (args, envs) in [
        (&["run", "--profile", "ci"][..], &[][..]),
        (&["list"][..], &[("CSE_PROFILE", "ci")][..]),
        (&["run", "--profile", "default"][..], &[][..]),
    ] {
        let (code, _, stderr) = run_in(empty.path(), args, envs);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("but there is no configuration file"), "{stderr}");
    }
    // an empty CSE_PROFILE (a CI template's unset input) is refused as an empty --profile
    let (code, _, stderr) = run_in(dir.path(), &["list"], &[("CSE_PROFILE", "")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: a value is required for '--profile <NAME>'"), "{stderr}");
    let (code, _, stderr) = run_in(empty.path(), &["list", "--config", "nowhere.toml"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: cannot read the configuration file `nowhere.toml`"), "{stderr}");
    // --config beats ./cse-contract.toml
    std::fs::write(empty.path().join("other.toml"), "[profile.default]\ngenerated = 1\n").unwrap();
    let other = empty.path().join("other.toml");
    let names = listed(dir.path(), &["--config", other.to_str().unwrap()], &[]);
    assert_eq!(names, listed(dir.path(), &["--generated", "1"], &[]));
}

/// `run -v` of one valid Retry against the embedded mock, in `dir`: stdout and stderr (where
/// `-v` shows each header sent, as `> Name: value`), after every file the run wrote.
fn one_retry(dir: &Path, args: &[&str]) -> (String, String) {
    let mut all = vec!["run", "-v", "--generated", "0", "--stateful", "0", "--exact", "retry::valid_retry"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_in(dir, &all, &[]);
    assert_eq!(code, 0, "{args:?}: {stdout}{stderr}");
    let mut written = String::new();
    // Every file the run wrote: all but the configuration file, which holds the secret.
    for entry in crate::support::files_under(dir).into_iter().filter(|p| !p.ends_with("cse-contract.toml")) {
        written.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    (stdout, format!("{stderr}{written}"))
}

/// The profile's gateway credential and its secret header.
const GATEWAY: &str = "[profile.default]\nheader = [\"X-Api-Key: API-KEY-SECRET-51c0\", \"X-Trace: trace-1\"]\n\
                       secret-header = [\"X-Api-Key\"]\n";

/// `--secret-header` on the command line adds to the profile's list: both headers stay masked
/// (it replaced the list, and the profile's X-Api-Key was printed in clear).
#[test]
fn a_secret_header_on_the_command_line_adds_to_the_profiles() {
    let dir = folder_with(GATEWAY);
    let (stdout, stderr) = one_retry(dir.path(), &["--secret-header", "X-Trace"]);
    assert!(stderr.contains("> X-Api-Key: ***\n") && stderr.contains("> X-Trace: ***\n"), "{stderr}");
    assert!(!stdout.contains("API-KEY-SECRET") && !stderr.contains("API-KEY-SECRET"), "{stdout}{stderr}");
}

/// `-H` on the command line adds to the profile's headers: the profile's are still sent (they
/// were dropped, and the profile's secret-header named a header no longer there: an error).
#[test]
fn a_header_on_the_command_line_adds_to_the_profiles() {
    let dir = folder_with(GATEWAY);
    let (stdout, stderr) = one_retry(dir.path(), &["-H", "X-Debug: 1"]);
    for sent in ["> X-Api-Key: ***\n", "> X-Trace: trace-1\n", "> X-Debug: 1\n"] {
        assert!(stderr.contains(sent), "{sent}: {stderr}");
    }
    assert!(!stdout.contains("API-KEY-SECRET") && !stderr.contains("API-KEY-SECRET"), "{stdout}{stderr}");
}

/// A named profile's secret headers and headers add to `default`'s: `[profile.ci]
/// secret-header` replaced `default`'s list, and `default`'s X-Api-Key was printed in clear.
#[test]
fn a_profiles_secret_headers_and_headers_add_to_defaults() {
    let dir = folder_with(&format!(
        "{GATEWAY}\n[profile.ci]\nsecret-header = [\"X-Trace\"]\n[profile.debug]\nheader = [\"X-Debug: 1\"]\n"
    ));
    let (stdout, stderr) = one_retry(dir.path(), &["--profile", "ci"]);
    assert!(stderr.contains("> X-Api-Key: ***\n") && stderr.contains("> X-Trace: ***\n"), "{stderr}");
    assert!(!stdout.contains("API-KEY-SECRET") && !stderr.contains("API-KEY-SECRET"), "{stdout}{stderr}");
    let (stdout, stderr) = one_retry(dir.path(), &["--profile", "debug"]);
    for sent in ["> X-Api-Key: ***\n", "> X-Trace: trace-1\n", "> X-Debug: 1\n"] {
        assert!(stderr.contains(sent), "{sent}: {stderr}");
    }
    assert!(!stdout.contains("API-KEY-SECRET") && !stderr.contains("API-KEY-SECRET"), "{stdout}{stderr}");
}

/// A key clap refuses beside a flag given is left out, so the flag wins instead of an error.
#[test]
fn a_flag_beats_a_profile_key_it_cannot_be_used_with() {
    let dir = folder_with("[profile.default]\nmax-failures = 3\njunit = \"reports/ci.xml\"\ngenerated = 0\n");
    assert!(planned(dir.path(), &["--fail-fast", "--no-reports"], &[]) > 0);
    // and the profile is not silently bypassed: its generated = 0 still holds beside them
    assert_eq!(
        planned(dir.path(), &["--fail-fast", "--no-reports"], &[]),
        planned(dir.path(), &["--generated", "0"], &[])
    );
}

#[test]
fn run_help_tells_the_file_and_the_precedence() {
    let empty = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run_in(empty.path(), &["run", "--help"], &[]);
    assert_eq!(code, 0);
    for needle in [
        "--config <FILE>",
        "--profile <NAME>",
        "CSE_CONFIG",
        "CSE_PROFILE",
        "./cse-contract.toml",
        "Precedence: flags > environment > profile > defaults.",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
}
