//! `run`, `list` and `validate`: load, plan, run, report.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use super::args::{ListArgs, RunArgs, SourceArgs};
use super::{exit, report_error};
use crate::case::vars::Variables;
use crate::case::{CaseFile, load_cases};
use crate::client::{Client, ClientConfig};
use crate::contract::Contract;
use crate::files::FileSource;
use crate::mock::{self, MockConfig, MockHandle};
use crate::outcome::Outcome;
use crate::plan::{Filter, PlanConfig, plan};
use crate::report::{self, RunInfo, Secrets, console};
use crate::runner::{RunConfig, run_cases};

fn source(dir: Option<&Path>) -> FileSource {
    dir.map_or(FileSource::Embedded, |d| FileSource::Dir(d.to_path_buf()))
}

/// Loads the contract and every case file, printing every error; `Err` is the exit code.
fn load(args: &SourceArgs) -> Result<(Contract, Vec<CaseFile>), u8> {
    let contract = Contract::load(&source(args.schemas.as_deref())).map_err(|e| {
        report_error(&e);
        exit::USAGE
    })?;
    let files = load_cases(&source(args.cases.as_deref()), &contract).map_err(|errors| {
        for e in &errors {
            report_error(e);
        }
        eprintln!(
            "error: {} problem(s) in the case files; nothing was sent",
            errors.len()
        );
        exit::USAGE
    })?;
    Ok((contract, files))
}

/// `validate`: everything loads.
pub(crate) fn validate(args: &SourceArgs) -> u8 {
    match load(args) {
        Ok((contract, files)) => {
            let cases: usize = files.iter().map(|f| f.cases.len()).sum();
            let schemas = contract.schema_names().count();
            println!(
                "ok: {schemas} schemas and the manifest from {}; {cases} cases in {} files",
                contract.source,
                files.len()
            );
            exit::SUCCESS
        }
        Err(code) => code,
    }
}

/// `list`: the case names.
pub(crate) fn list(args: &ListArgs) -> u8 {
    let (_, files) = match load(&args.source) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let filter = Filter {
        include: args.filter.iter().cloned().collect(),
        ..Filter::default()
    };
    let mut out = std::io::stdout().lock();
    for file in &files {
        for case in &file.cases {
            let name = format!("{}::{}", file.stem, case.name);
            if filter.matches(&name) {
                let _ = writeln!(out, "{name}");
            }
        }
    }
    exit::SUCCESS
}

/// The token: `--token-file`, else `CSE_AUTH_TOKEN`; empty counts as unset.
fn token(args: &RunArgs) -> Result<Option<String>, u8> {
    if let Some(path) = &args.token_file {
        return match std::fs::read_to_string(path) {
            Ok(text) => {
                Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()).filter(|t| !t.is_empty()))
            }
            Err(e) => {
                eprintln!("error: failed to read token file `{}`: {e}", path.display());
                Err(exit::USAGE)
            }
        };
    }
    Ok(std::env::var("CSE_AUTH_TOKEN")
        .ok()
        .filter(|t| !t.is_empty()))
}

/// A token for the embedded mock that no one else knows.
fn fresh_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("mock-{nanos:x}-{:x}", std::process::id())
}

/// The target and the variables: the user's, or the embedded mock's where the user gave none.
struct Target {
    url: String,
    note: Option<String>,
    variables: Variables,
    token: Option<String>,
    mock: Option<MockHandle>,
}

async fn target(
    args: &RunArgs,
    contract: &Arc<Contract>,
    token: Option<String>,
) -> Result<Target, u8> {
    let mut variables = Variables::default();
    variables.set("unknown_engine_id", &args.unknown_engine_id);
    variables.set("enterprise_project_id", &args.enterprise_project_id);
    let (url, note, mock, token, defaults) = match &args.target {
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                eprintln!(
                    "error: --target `{}` is not an http:// or https:// URL",
                    report::mask_url(url)
                );
                return Err(exit::USAGE);
            }
            (url.clone(), None, None, token, None)
        }
        None => {
            let token = token.unwrap_or_else(fresh_token);
            let config = MockConfig {
                token: Some(token.clone()),
                ..MockConfig::local()
            };
            let defaults = (
                config.fixture.project_id.clone(),
                config.fixture.always_retryable().map(|e| e.id.clone()),
            );
            let handle = mock::spawn(contract.clone(), config).await.map_err(|e| {
                eprintln!("error: failed to start the embedded mock: {e}");
                exit::USAGE
            })?;
            (
                handle.base_url.clone(),
                Some("embedded mock".to_owned()),
                Some(handle),
                Some(token),
                Some(defaults),
            )
        }
    };
    let (default_project, default_engine) = defaults.unwrap_or_default();
    if let Some(p) = args
        .project_id
        .clone()
        .or(Some(default_project).filter(|p| !p.is_empty()))
    {
        variables.set("project_id", p);
    }
    if let Some(e) = args.engine_id.clone().or(default_engine) {
        variables.set("engine_id", e);
    }
    if let Some(t) = &token {
        variables.set("token", t);
    }
    Ok(Target {
        url,
        note,
        variables,
        token,
        mock,
    })
}

/// `run`.
pub(crate) async fn run(args: RunArgs) -> u8 {
    let (contract, files) = match load(&args.source) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let contract = Arc::new(contract);
    let token = match token(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let target = match target(&args, &contract, token).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let filter = Filter {
        include: args.filter.clone(),
        skip: args.skip.clone(),
        exact: args.exact,
    };
    let config = PlanConfig {
        target: target.url.clone(),
        variables: target.variables.clone(),
        filter,
    };
    let cases = match plan(&contract, &files, &config) {
        Ok(cases) => cases,
        Err(errors) => {
            for e in &errors {
                report_error(e);
            }
            eprintln!(
                "error: {} case(s) need variables that are not set; nothing was sent",
                errors.len()
            );
            return exit::USAGE;
        }
    };
    let mut secrets = Secrets::default();
    if let Some(t) = &target.token {
        secrets.add(t);
    }
    let info = RunInfo {
        target: report::mask_url(&target.url),
        target_note: target.note.clone(),
        contract_hash: contract.hash.clone(),
        version: env!("CARGO_PKG_VERSION"),
        credential_headers: contract.manifest.request.credential_headers.clone(),
    };
    let client = Client::new(ClientConfig {
        timeout: args.timeout,
        ..ClientConfig::default()
    });
    let run_config = RunConfig {
        concurrency: usize::from(args.concurrency),
        strict_statuses: args.strict_statuses,
    };
    print!("{}", console::header(&info, cases.len()));
    let (outcomes, summary) = run_cases(&contract, &cases, &client, run_config).await;
    if let Some(mock) = target.mock {
        mock.shutdown().await;
    }
    let mut lines = String::new();
    for outcome in outcomes
        .iter()
        .filter(|o| !args.quiet || o.outcome != Outcome::Passed)
    {
        lines.push_str(&console::line(outcome));
    }
    print!("{}", secrets.mask(&lines));
    print!("{}", console::footer(&outcomes, &summary, &info, &secrets));
    if let Some(path) = &args.json {
        let text = report::json::render(&outcomes, &summary, &info, &secrets);
        if let Err(e) = write_file(path, &text) {
            eprintln!(
                "error: failed to write the JSON report `{}`: {e}",
                path.display()
            );
            return exit::USAGE;
        }
    }
    if summary.success() {
        exit::SUCCESS
    } else {
        exit::FAILURES
    }
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}
