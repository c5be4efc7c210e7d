//! One step from the parsed arguments to a run's settings (ripgrep's `LowArgs` → `HiArgs`): the
//! flags and the environment are read here and nowhere else, every value is checked, and every
//! problem is collected, so a run starts with settings that hold together or prints everything
//! that is wrong at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::RunArgs;
use super::error::CliError;
use crate::case::vars::{self, Variables};
use crate::check::CheckKind;
use crate::client::TlsOptions;
use crate::contract::Contract;
use crate::plan::Filter;
use crate::report::SECRET_HEADERS;
use crate::report::console::plural;
use crate::report::reporter::ReportPaths;

/// Where a run is aimed.
#[derive(Debug, Clone)]
pub(super) enum Aim {
    /// The embedded mock, broken in these ways.
    Embedded(Vec<crate::mock::Fault>),
    /// A base URL, checked.
    Url(String),
}

/// What a run does with its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Send and judge.
    Run,
    /// `--list`: print the names.
    List,
    /// `--dry-run`: print the requests.
    DryRun,
}

/// A header `-H` adds to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtraHeader {
    pub(crate) name: String,
    pub(crate) value: String,
    /// Masked in every output: a credential header's name, or named by `--secret-header`.
    pub(crate) secret: bool,
}

/// How many of each kind of case a run has.
#[derive(Debug, Clone, Copy)]
pub(super) struct Amounts {
    pub(super) generated: usize,
    pub(super) stateful: usize,
    pub(super) mode: crate::generate::Mode,
}

/// What a run needs, from its flags and its environment.
#[derive(Debug)]
#[expect(clippy::struct_excessive_bools, reason = "each bool is a switch of the command line")]
pub(super) struct RunSettings {
    pub(super) filter: Filter,
    pub(super) libtest: libtest_mimic::Arguments,
    pub(super) action: Action,
    pub(super) seed: u64,
    pub(super) aim: Aim,
    /// The variables the user set (flags, `--var`); the embedded mock fills in the rest.
    pub(super) variables: Variables,
    /// The token, or the marker standing for "sign with AK/SK".
    pub(super) token: Option<String>,
    pub(super) aksk: Option<crate::sign::Credentials>,
    pub(super) tls: TlsOptions,
    pub(super) headers: Vec<ExtraHeader>,
    pub(super) timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) max_body: usize,
    pub(super) concurrency: usize,
    pub(super) rate: Option<f64>,
    /// `None`: `--no-reports`.
    pub(super) reports: Option<ReportPaths>,
    pub(super) save_failures: Option<PathBuf>,
    pub(super) deadline: Option<Duration>,
    pub(super) max_failures: Option<usize>,
    pub(super) amounts: Amounts,
    /// `--partition`: the shard this run is.
    pub(super) partition: Option<crate::plan::Partition>,
    pub(super) strict_statuses: bool,
    pub(super) strict_auth: bool,
    /// The checks `--checks`/`--exclude-checks` leave out.
    pub(super) deselected: Vec<CheckKind>,
    pub(super) no_state: bool,
    pub(super) wait_retryable: Duration,
    pub(super) allow_side_effects: bool,
    pub(super) treat_as_remote: bool,
    pub(super) quiet: bool,
    /// `-v`: each case's exchanges on stderr; `-vv`: whole bodies.
    pub(super) verbose: u8,
}

impl RunSettings {
    /// The settings of `args`, with the environment; `contract` (when it loaded) tells which
    /// headers `-H` may not name. Every problem found is in the error.
    pub(super) fn new(args: RunArgs, contract: Option<&Contract>) -> Result<RunSettings, CliError> {
        let mut problems = Vec::new();
        let mut keep = |result: Result<(), String>| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        };
        let action = if args.list {
            Action::List
        } else if args.dry_run {
            Action::DryRun
        } else {
            Action::Run
        };
        let aim = match &args.target {
            Some(url) => {
                keep(
                    super::target::check_target(url)
                        .map_err(|why| format!("--target `{}` {why}", crate::report::mask_url(url))),
                );
                Aim::Url(url.clone())
            }
            None => Aim::Embedded(args.faults.clone()),
        };
        let mut token = super::target::token(args.token_file.as_deref()).unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        let aksk = super::target::aksk_from_env().unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        if aksk.is_some() {
            // With AK/SK the credential header carries a marker the signer replaces.
            token = Some(super::target::AKSK_MARKER.to_owned());
        }
        let tls = super::target::tls_options(&args.ca_cert, args.insecure).unwrap_or_else(|p| {
            problems.push(p);
            TlsOptions::default()
        });
        let headers = extra_headers(&args.headers, &args.secret_header, contract).unwrap_or_else(|mut p| {
            problems.append(&mut p);
            Vec::new()
        });
        problems.extend(signing_conflicts(&headers, aksk.is_some()));
        let variables = variables(&args);
        if action == Action::Run {
            problems.extend(check_outputs(&args));
        }
        if !problems.is_empty() {
            problems.push(format!(
                "{} in the run's settings; nothing was sent",
                plural(problems.len(), "problem", "problems")
            ));
            return Err(CliError::Config(problems));
        }
        let reports = (!args.no_reports).then(|| ReportPaths {
            json: Some(args.json.clone()),
            junit: Some(args.junit.clone()),
            html: Some(args.html.clone()),
        });
        let max_failures =
            if args.fail_fast { Some(1) } else { args.max_failures.map(|n| usize::try_from(n).unwrap_or(usize::MAX)) };
        Ok(RunSettings {
            filter: Filter { include: args.filter.clone(), skip: args.skip.clone(), exact: args.exact },
            libtest: libtest_arguments(&args),
            action,
            seed: args.seed.unwrap_or_else(fresh_seed),
            aim,
            variables,
            token,
            aksk,
            tls,
            headers,
            timeout: args.timeout,
            connect_timeout: args.connect_timeout,
            max_body: args.max_body,
            concurrency: usize::from(args.concurrency),
            rate: args.rate,
            reports,
            save_failures: args.save_failures,
            deadline: args.deadline,
            max_failures,
            partition: args.partition,
            amounts: Amounts { generated: args.generated, stateful: args.stateful, mode: args.mode.into() },
            strict_statuses: args.strict_statuses,
            strict_auth: args.strict_auth,
            deselected: deselected(&args.checks, &args.exclude_checks),
            no_state: args.no_state,
            wait_retryable: args.wait_retryable,
            allow_side_effects: args.allow_side_effects,
            treat_as_remote: args.treat_as_remote,
            quiet: args.quiet,
            verbose: args.verbose,
        })
    }

    /// Whether the console is libtest's JSON events (the run's own lines then go to stderr).
    pub(super) fn json_format(&self) -> bool {
        self.libtest.format == Some(libtest_mimic::FormatSetting::Json)
    }

    /// The real-endpoint guard: against a target not on loopback, or a validation proxy that
    /// forwards to one, cases a conforming server may accept are not sent unless
    /// `--allow-side-effects` says so. The reason they are skipped.
    pub(super) fn guard(&self, target: &super::target::Target) -> Option<&'static str> {
        if self.allow_side_effects {
            return None;
        }
        match &target.behind {
            Some(super::target::Behind::Proxy(proxy)) if proxy.remote => return Some(SIDE_EFFECT_PROXIED),
            Some(super::target::Behind::Silent) => return Some(SIDE_EFFECT_SILENT),
            _ => {}
        }
        (self.treat_as_remote || !crate::client::is_loopback_url(&target.url)).then_some(SIDE_EFFECT_REASON)
    }
}

/// The libtest options of `run`.
fn libtest_arguments(args: &RunArgs) -> libtest_mimic::Arguments {
    libtest_mimic::Arguments {
        list: args.list,
        quiet: args.quiet,
        format: args.format,
        color: args.color,
        ..libtest_mimic::Arguments::default()
    }
}

/// Why the guard skips a case.
const SIDE_EFFECT_SILENT: &str = "side-effecting (a conforming server may accept it) and the target, on loopback, did not say in time whether it is a validation proxy forwarding to an endpoint not on loopback; pass --allow-side-effects to send it";

/// Why the guard skips a case.
const SIDE_EFFECT_PROXIED: &str = "side-effecting (a conforming server may accept it) and the target is a validation proxy forwarding to an endpoint not on loopback; pass --allow-side-effects to send it";

/// Why the guard skips a case.
const SIDE_EFFECT_REASON: &str = "side-effecting (a conforming server may accept it) and the target is not on loopback; pass --allow-side-effects to send it";

/// A seed no one chose: the clock's nanoseconds mixed with the process id.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (u64::from(nanos) << 20) ^ u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15
}

/// The checks left out of a run: those not in `checks` (when it names any) and those in
/// `excluded`; never `transport`, without which nothing else can be judged.
fn deselected(checks: &[CheckKind], excluded: &[CheckKind]) -> Vec<CheckKind> {
    CheckKind::ALL
        .into_iter()
        .filter(|k| *k != CheckKind::Transport)
        .filter(|k| (!checks.is_empty() && !checks.contains(k)) || excluded.contains(k))
        .collect()
}

/// The `-H` headers that AK/SK signing sets itself.
fn signing_conflicts(headers: &[ExtraHeader], signing: bool) -> Vec<String> {
    let signed = |h: &&ExtraHeader| signing && SIGNING_HEADERS.contains(&h.name.to_ascii_lowercase().as_str());
    headers
        .iter()
        .filter(signed)
        .map(|h| {
            format!("-H: `{}` is set by AK/SK signing (CSE_AK and CSE_SK are set): a request cannot carry both", h.name)
        })
        .collect()
}

/// The variables of the flags and of `--var`.
fn variables(args: &RunArgs) -> Variables {
    let mut variables = Variables::default();
    variables.set("unknown_engine_id", &args.unknown_engine_id);
    variables.set("enterprise_project_id", &args.enterprise_project_id);
    for (name, value) in [
        ("project_id", &args.project_id),
        ("engine_id", &args.engine_id),
        ("not_retryable_engine_id", &args.not_retryable_engine_id),
        ("foreign_engine_id", &args.foreign_engine_id),
        ("job_id", &args.job_id),
    ] {
        // An empty value (`CSE_ENGINE_ID=` left in a CI file) is no value: the embedded mock's
        // stands, and against a target the variable is said to be missing.
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            variables.set(name, value);
        }
    }
    // A later --var of a name replaces an earlier one: the command line's replaces the profile's.
    for (name, value) in &args.vars {
        variables.set(&format!("{}{name}", vars::USER_PREFIX), value);
    }
    variables
}

/// `--var NAME=VALUE`, checked where clap parses it: a user variable, not a built-in one (those
/// have their own flags).
pub(super) fn parse_var(text: &str) -> Result<(String, String), String> {
    let (name, value) =
        text.split_once('=').ok_or_else(|| format!("`{text}` is not NAME=VALUE (e.g. --var tenant=acme)"))?;
    let name = name.trim();
    if vars::KNOWN.contains(&name) {
        let how = match name {
            "token" => "CSE_AUTH_TOKEN or --token-file".to_owned(),
            other => format!("--{}", other.replace('_', "-")),
        };
        return Err(format!("`{name}` is a built-in variable: set it with {how}, not --var"));
    }
    if !vars::is_user_name(name) {
        return Err(format!(
            "`{name}` is not a variable name (a letter or _, then letters, digits, _ or -); case files use it as ${{var.NAME}}"
        ));
    }
    // A line break would end a header early, or smuggle in another: a value is one line.
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of `{name}` holds a control character (a line break?); a value is one line"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// `-H`, checked where clap parses it (so a profile's value is refused with its file and line):
/// `@FILE`, or `Name: value` with a header name, a value a header can carry, and not a header
/// the run computes. Whether it is a header of the contract is known once the contract loads.
pub(super) fn parse_header(text: &str) -> Result<String, String> {
    if text.starts_with('@') {
        return Ok(text.to_owned());
    }
    header(text, &[]).map(|_| text.to_owned())
}

/// Headers a run computes itself: `-H` may not set them.
const COMPUTED_HEADERS: [&str; 5] = ["host", "content-length", "transfer-encoding", "connection", "x-sdk-date"];

/// Headers that AK/SK signing sets: with `CSE_AK`/`CSE_SK`, `-H` may not.
const SIGNING_HEADERS: [&str; 4] = ["authorization", "x-sdk-date", "x-project-id", "x-security-token"];

/// The `-H` headers: `Name: value`, or `@FILE` with one such line per line (blank lines and `#`
/// comments skipped), curl's form. Each must be a header the contract does not define (the
/// cases test those) and a run does not compute.
pub(super) fn extra_headers(
    given: &[String],
    secret_names: &[String],
    contract: Option<&Contract>,
) -> Result<Vec<ExtraHeader>, Vec<String>> {
    let contract_headers: Vec<String> = contract.map_or_else(Vec::new, |c| {
        c.operations
            .iter()
            .flat_map(|op| {
                let schema = op.request_headers().property_names().map(str::to_owned);
                let template = op.manifest.request.template.headers.keys().cloned();
                let credential = op.manifest.request.credential_headers.iter().cloned();
                schema.chain(template).chain(credential).collect::<Vec<_>>()
            })
            .collect()
    });
    let mut problems = Vec::new();
    let mut lines: Vec<(String, String)> = Vec::new();
    for item in given {
        match item.strip_prefix('@') {
            Some(path) => match read_header_file(path) {
                Ok(text) => {
                    for (number, line) in text.lines().enumerate() {
                        let line = line.trim_end_matches('\r');
                        if !(line.trim().is_empty() || line.trim_start().starts_with('#')) {
                            lines.push((line.to_owned(), format!("-H @{path}, line {}", number + 1)));
                        }
                    }
                }
                Err(e) => problems.push(format!("-H @{path}: failed to read the header file: {e}")),
            },
            // The value may be a secret: the message quotes the name only.
            None => lines.push((item.clone(), "-H".to_owned())),
        }
    }
    let mut headers: Vec<ExtraHeader> = Vec::new();
    for (line, origin) in lines {
        match header(&line, &contract_headers) {
            Ok((name, value)) => {
                // A later -H of a name replaces an earlier one (the command line's, a profile's).
                headers.retain(|h| !h.name.eq_ignore_ascii_case(&name));
                let secret = SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str())
                    || secret_names.iter().any(|s| s.eq_ignore_ascii_case(&name));
                headers.push(ExtraHeader { name, value, secret });
            }
            Err(why) => problems.push(format!("{origin}: {why}")),
        }
    }
    for name in secret_names {
        if !headers.iter().any(|h| h.name.eq_ignore_ascii_case(name)) {
            problems.push(format!("--secret-header `{name}` names no -H header"));
        }
    }
    if problems.is_empty() { Ok(headers) } else { Err(problems) }
}

/// The text of `-H @FILE`; `@-` reads standard input (curl's), which keeps a secret out of
/// files as well as the process list.
fn read_header_file(path: &str) -> std::io::Result<String> {
    if path != "-" {
        return crate::files::read_text(Path::new(path), crate::files::SMALL_FILE_LIMIT);
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(std::io::stdin(), crate::files::SMALL_FILE_LIMIT),
        &mut text,
    )?;
    Ok(text)
}

/// One `Name: value`.
fn header(line: &str, contract_headers: &[String]) -> Result<(String, String), String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err("is not `Name: value`".to_owned());
    };
    let (name, value) = (name.trim(), value.trim());
    // Not quoted: a line that is not a header may be a secret (`TOKEN=…:`).
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err("the text before the first `:` is not a header name".to_owned());
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(format!("the value of `{name}` holds a control character; a header cannot carry it"));
    }
    if COMPUTED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("`{name}` is set by the run itself"));
    }
    if contract_headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "`{name}` is a header of the contract, which the cases send, leave out and break on purpose; \
             its value comes from the cases (the token from CSE_AUTH_TOKEN or --token-file, the enterprise \
             project from --enterprise-project-id)"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Checks, before anything is sent, that the report paths are distinct and writable and that
/// `--save-failures` is a directory that can be written: a run of 200 000 cases must not end
/// with "cannot write the report", nor one report overwrite another.
fn check_outputs(args: &RunArgs) -> Vec<String> {
    let mut problems = Vec::new();
    if !args.no_reports {
        let reports = [("--json", &args.json), ("--junit", &args.junit), ("--html", &args.html)];
        for (i, (flag, path)) in reports.iter().enumerate() {
            for (other, other_path) in &reports[i + 1..] {
                if std::path::absolute(path).ok() == std::path::absolute(other_path).ok() {
                    problems.push(format!(
                        "{flag} and {other} both write `{}`: give each report its own path",
                        path.display()
                    ));
                }
            }
            if let Err(e) = writable_file(path) {
                problems.push(format!("{flag} `{}` cannot be written: {e}", path.display()));
            }
        }
    }
    if let Some(dir) = &args.save_failures {
        if let Err(e) = writable_dir(dir) {
            problems.push(format!("--save-failures `{}` cannot hold case files: {e}", dir.display()));
        }
    }
    problems
}

/// Whether a report can be written at `path` (its directory is created; the file is not).
fn writable_file(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    if path.exists() {
        return std::fs::OpenOptions::new().write(true).open(path).map(drop);
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    writable_dir(parent)
}

/// Whether `dir` is (or can be made) a directory a file can be created in.
fn writable_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(std::io::Error::other("it is a file, not a directory"));
    }
    std::fs::create_dir_all(dir)?;
    tempfile::tempfile_in(dir).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        Contract::load(&crate::files::FileSource::Embedded).unwrap()
    }

    #[test]
    fn extra_headers_are_checked_and_secret_ones_marked() {
        let contract = contract();
        let given = ["X-Trace: abc".to_owned(), "Authorization: Bearer s3cret".to_owned(), "X-Key: k".to_owned()];
        let headers = extra_headers(&given, &["x-key".to_owned()], Some(&contract)).unwrap();
        let secret: Vec<(&str, bool)> = headers.iter().map(|h| (h.name.as_str(), h.secret)).collect();
        assert_eq!(secret, [("X-Trace", false), ("Authorization", true), ("X-Key", true)]);

        // A later header of a name replaces an earlier one (the command line's, a profile's).
        let given = ["X-Trace: a".to_owned(), "x-trace: b".to_owned()];
        let headers = extra_headers(&given, &[], Some(&contract)).unwrap();
        assert_eq!(headers, [ExtraHeader { name: "x-trace".into(), value: "b".into(), secret: false }]);

        let bad = [
            "X-Auth-Token: tok-VALUE".to_owned(),
            "no colon".to_owned(),
            "Content-Length: 5".to_owned(),
            "TOKEN=s3cret-value: x".to_owned(),
        ];
        let problems = extra_headers(&bad, &["X-Missing".to_owned()], Some(&contract)).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[0].contains("`X-Auth-Token` is a header of the contract"), "{problems:#?}");
        assert!(problems[4].contains("--secret-header `X-Missing`"), "{problems:#?}");
        // The message never quotes a value, nor a line that is not a header: either may be a secret.
        assert!(problems.iter().all(|p| !p.contains("tok-VALUE") && !p.contains(": 5") && !p.contains("s3cret")));
        // The syntax is checked where clap parses the flag, so a profile's value gets its line.
        assert!(parse_header("Host: x").is_err() && parse_header("X-Ok: y").is_ok() && parse_header("@f").is_ok());
    }

    #[test]
    fn header_files_hold_one_header_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("headers");
        std::fs::write(&path, "# for the gateway\nAuthorization: Bearer x\r\n\nX-Trace: 1\nbroken\n").unwrap();
        let given = [format!("@{}", path.display())];
        let problems = extra_headers(&given, &[], None).unwrap_err();
        assert_eq!(problems, [format!("-H @{}, line 5: is not `Name: value`", path.display())]);
        std::fs::write(&path, "Authorization: Bearer x\r\nX-Trace: 1\n").unwrap();
        let headers = extra_headers(&given, &[], None).unwrap();
        assert_eq!(headers[0], ExtraHeader { name: "Authorization".into(), value: "Bearer x".into(), secret: true });
        assert!(extra_headers(&["@/nonexistent/h".to_owned()], &[], None).is_err());
    }

    #[test]
    fn user_variables_are_checked_where_parsed() {
        assert_eq!(parse_var("tenant=a=b"), Ok(("tenant".into(), "a=b".into())));
        assert_eq!(parse_var("t="), Ok(("t".into(), String::new())));
        assert!(parse_var("engine_id=x").unwrap_err().contains("--engine-id"));
        assert!(parse_var("token=x").unwrap_err().contains("CSE_AUTH_TOKEN"));
        assert!(parse_var("9lives=x").is_err() && parse_var("novalue").is_err() && parse_var("var.x=1").is_err());
        assert!(parse_var("t=a\r\nX-Injected: 1").unwrap_err().contains("control character"));
        assert_eq!(parse_var("t=a\tb"), Ok(("t".into(), "a\tb".into())));
    }
}
