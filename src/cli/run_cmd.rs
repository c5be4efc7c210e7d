//! `run`, `list` and `validate`: load, plan, run, report.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::args::{ListArgs, RunArgs, SourceArgs};
use super::{exit, report_error};
use crate::case::vars::Unset;
use crate::case::vars::Variables;
use crate::case::{CaseFile, load_cases};
use crate::client::{Client, ClientConfig, TlsOptions};
use crate::contract::Contract;
use crate::files::FileSource;
use crate::generate::{self, GenConfig, Generated, ShrinkConfig, save_failure, shrink};
use crate::mock::{self, MockConfig, MockHandle};
use crate::outcome::{CaseOutcome, Outcome, RunSummary};
use crate::plan::{Filter, Origin, PlanConfig, PlannedCase, plan};
use crate::report::{self, RunInfo, Secrets, console};
use crate::runner::{self, RunConfig, libtest, run_cases};

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
        eprintln!("error: {} problem(s) in the case files; nothing was sent", errors.len());
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
    let filter = Filter { include: args.filter.iter().cloned().collect(), ..Filter::default() };
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
            Ok(text) => Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()).filter(|t| !t.is_empty())),
            Err(e) => {
                eprintln!("error: failed to read token file `{}`: {e}", path.display());
                Err(exit::USAGE)
            }
        };
    }
    Ok(std::env::var("CSE_AUTH_TOKEN").ok().filter(|t| !t.is_empty()))
}

/// A token for the embedded mock that no one else knows.
fn fresh_token() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("mock-{nanos:x}-{:x}", std::process::id())
}

/// The target and the variables: the user's, or the embedded mock's where the user gave none.
struct Target {
    url: String,
    note: Option<String>,
    variables: Variables,
    token: Option<String>,
    /// Secrets besides the token: the SK and security token of AK/SK credentials.
    secrets: Vec<String>,
    mock: Option<MockHandle>,
}

fn aksk_secrets(aksk: Option<&crate::sign::Credentials>) -> Vec<String> {
    aksk.map(|c| std::iter::once(c.sk.clone()).chain(c.security_token.clone()).collect()).unwrap_or_default()
}

/// The embedded mock as the target, with its project, engine and a token.
async fn embedded_target(
    contract: &Arc<Contract>,
    mut variables: Variables,
    token: Option<String>,
    aksk: Option<crate::sign::Credentials>,
) -> Result<Target, u8> {
    let token = token.unwrap_or_else(fresh_token);
    let secrets = aksk_secrets(aksk.as_ref());
    let config = MockConfig { token: Some(token.clone()), aksk, ..MockConfig::local() };
    for (name, value) in [
        ("project_id", Some(config.fixture.project_id.clone())),
        ("engine_id", config.fixture.always_retryable().map(|e| e.id.clone())),
        ("unknown_engine_id", Some("00000000-0000-0000-0000-000000000000".to_owned())),
        ("enterprise_project_id", Some("0".to_owned())),
    ] {
        if let (None, Some(value)) = (variables.get(name), value) {
            variables.set(name, value);
        }
    }
    variables.set("token", &token);
    let handle = mock::spawn(contract.clone(), config).await.map_err(|e| {
        eprintln!("error: failed to start the embedded mock: {e}");
        exit::USAGE
    })?;
    Ok(Target {
        url: handle.base_url.clone(),
        note: Some("embedded mock".to_owned()),
        variables,
        token: Some(token),
        secrets,
        mock: Some(handle),
    })
}

async fn target(
    args: &RunArgs,
    contract: &Arc<Contract>,
    token: Option<String>,
    aksk: Option<crate::sign::Credentials>,
) -> Result<Target, u8> {
    let mut variables = Variables::default();
    variables.set("unknown_engine_id", &args.unknown_engine_id);
    variables.set("enterprise_project_id", &args.enterprise_project_id);
    if let Some(p) = &args.project_id {
        variables.set("project_id", p);
    }
    if let Some(e) = &args.engine_id {
        variables.set("engine_id", e);
    }
    let Some(url) = &args.target else {
        return embedded_target(contract, variables, token, aksk).await;
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        eprintln!("error: --target `{}` is not an http:// or https:// URL", report::mask_url(url));
        return Err(exit::USAGE);
    }
    if let Some(t) = &token {
        variables.set("token", t);
    }
    let secrets = aksk_secrets(aksk.as_ref());
    Ok(Target { url: url.clone(), note: None, variables, token, secrets, mock: None })
}

/// What a run needs once everything is loaded and the target is known.
struct Session {
    contract: Arc<Contract>,
    target: Target,
    info: RunInfo,
    secrets: Secrets,
}

impl Session {
    fn new(contract: Arc<Contract>, target: Target) -> Session {
        let mut secrets = Secrets::default();
        for secret in target.token.iter().chain(target.secrets.iter()) {
            secrets.add(secret);
            report::register_secret(secret);
        }
        // A test hook: proves that a panic message carrying the token is masked.
        assert!(std::env::var_os("CSE_CONTRACT_TEST_PANIC").is_none(), "test panic, token {:?}", target.token);
        let info = RunInfo {
            target: report::mask_url(&target.url),
            target_note: target.note.clone(),
            contract_hash: contract.hash.clone(),
            version: env!("CARGO_PKG_VERSION"),
            seed: None,
            credential_headers: contract
                .manifest
                .request
                .credential_headers
                .iter()
                .cloned()
                .chain(["Authorization".to_owned(), "X-Security-Token".to_owned()])
                .collect(),
        };
        Session { contract, target, info, secrets }
    }

    /// Plans the cases `filter` selects; `Err` is the exit code after the messages.
    fn plan(&self, files: &[CaseFile], filter: Filter) -> Result<Vec<PlannedCase>, u8> {
        let config = PlanConfig { target: self.target.url.clone(), variables: self.target.variables.clone(), filter };
        plan(&self.contract, files, &config).map_err(|errors| {
            for e in &errors {
                report_error(e);
            }
            eprintln!("error: {} case(s) need variables that are not set; nothing was sent", errors.len());
            exit::USAGE
        })
    }

    /// Runs `cases`, stopping early on Ctrl-C; past `deadline`, cases not finished are errored.
    async fn execute(
        &self,
        cases: &[PlannedCase],
        client: &Client,
        mut config: RunConfig,
        deadline: Option<Duration>,
    ) -> Executed {
        let (stop, interrupt) = watch::channel(false);
        let stop = std::sync::Arc::new(stop);
        let on_signal = stop.clone();
        let listener = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: no new cases; waiting up to {:?} for those in flight", runner::GRACE);
                let _ = on_signal.send(true);
            }
        });
        let timer = deadline.map(|after| {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after.saturating_sub(runner::GRACE)).await;
                let _ = stop.send(true);
            })
        });
        config.interrupt = Some(interrupt);
        let started = std::time::SystemTime::now();
        let (mut outcomes, mut summary) = run_cases(&self.contract, cases, client, config).await;
        listener.abort();
        let deadline_hit = timer.is_some_and(|t| t.is_finished());
        if let (true, Some(after)) = (deadline_hit && summary.partial, deadline) {
            outcomes = past_deadline(&self.contract, cases, outcomes, after);
            summary = RunSummary::of(&outcomes, started, false);
            eprintln!("deadline of {after:?} reached: cases not finished are reported errored");
        }
        Executed { outcomes, summary, info: self.info.clone(), secrets: self.secrets.clone(), planned: cases.len() }
    }

    /// Stops the embedded mock, if there is one.
    async fn close(self) {
        if let Some(mock) = self.target.mock {
            mock.shutdown().await;
        }
    }
}

/// Every case in plan order: those that ran as they ran, the others errored by the deadline.
fn past_deadline(
    contract: &Contract,
    cases: &[PlannedCase],
    outcomes: Vec<CaseOutcome>,
    after: Duration,
) -> Vec<CaseOutcome> {
    let mut finished: std::collections::HashMap<String, CaseOutcome> =
        outcomes.into_iter().map(|o| (o.name.clone(), o)).collect();
    cases
        .iter()
        .map(|case| {
            finished.remove(&case.name).unwrap_or_else(|| {
                let error = crate::client::TransportError::Timeout { phase: "before the run's --deadline", after };
                let exchange = crate::client::Exchange {
                    request: case.request.clone(),
                    result: Err(error),
                    elapsed: Duration::ZERO,
                };
                let checks = crate::check::judge(contract, case, &exchange, false);
                CaseOutcome::decide(case, exchange, checks)
            })
        })
        .collect()
}

/// Before sending anything to a target that is not the embedded mock: can it be reached? One
/// clear message beats a hundred identical transport failures. Skipped when a proxy may carry
/// the traffic, since then only the proxy knows.
async fn probe(session: &Session, args: &RunArgs) -> Result<(), u8> {
    if session.target.mock.is_some() {
        return Ok(());
    }
    let url = &session.target.url;
    let proxied = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if proxied && !crate::client::is_loopback_url(url) {
        return Ok(());
    }
    let Ok(uri) = url.parse::<http::Uri>() else { return Ok(()) };
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let connect = tokio::time::timeout(args.connect_timeout, tokio::net::TcpStream::connect((host.as_str(), port)));
    let problem = match connect.await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no connection within {:?}", args.connect_timeout),
    };
    eprintln!("error: target {} is unreachable ({host}:{port}: {problem}); nothing was sent", session.info.target);
    Err(exit::USAGE)
}

/// What a run produced.
struct Executed {
    outcomes: Vec<CaseOutcome>,
    summary: RunSummary,
    info: RunInfo,
    secrets: Secrets,
    planned: usize,
}

impl Executed {
    /// Prints the outcomes through libtest-mimic, in `args`' format.
    fn print(&self, args: &libtest_mimic::Arguments) {
        let trials = self.outcomes.iter().map(|o| libtest::trial(o, &self.info, &self.secrets)).collect();
        let _ = libtest_mimic::run(&libtest::for_printing(args), trials);
    }

    /// The closing lines: counts with errored apart, partial runs said.
    fn closing(&self) -> String {
        let s = &self.summary;
        let mut out = format!("cse-contract: {} passed, {} failed", s.passed, s.failed + s.errored);
        if s.skipped > 0 {
            let _ = write!(out, ", {} skipped", s.skipped);
        }
        if s.errored > 0 {
            let _ = write!(out, "\n({} of the failed cases errored: the exchange did not complete)", s.errored);
        }
        if s.partial {
            let _ = write!(
                out,
                "\nrun interrupted: {} of {} cases finished; the reports hold those",
                s.total, self.planned
            );
        }
        out
    }

    fn write_reports(&self, json: &Path, junit: &Path) -> Result<(), u8> {
        let json_text = report::json::render(&self.outcomes, &self.summary, &self.info, &self.secrets);
        let junit_text = report::junit::render(&self.outcomes, &self.summary, &self.info, &self.secrets);
        for (path, text, what) in [(json, json_text, "JSON"), (junit, junit_text, "JUnit")] {
            if let Err(e) = write_file(path, &text) {
                eprintln!("error: failed to write the {what} report `{}`: {e}", path.display());
                return Err(exit::USAGE);
            }
        }
        Ok(())
    }

    fn exit_code(&self) -> u8 {
        if self.summary.partial {
            exit::INTERRUPTED
        } else if self.summary.success() {
            exit::SUCCESS
        } else {
            exit::FAILURES
        }
    }
}

/// libtest's `--list`: `name: test` lines and a count, for the cases the filter selects,
/// hand-written then generated.
fn list_libtest(files: &[CaseFile], generated: &[String], filter: &Filter, args: &libtest_mimic::Arguments) {
    let trials = files
        .iter()
        .flat_map(|f| f.cases.iter().map(move |c| format!("{}::{}", f.stem, c.name)))
        .chain(generated.iter().cloned())
        .filter(|name| filter.matches(name))
        .map(|name| libtest::listed(&name))
        .collect();
    let _ = libtest_mimic::run(&libtest::for_printing(args), trials);
}

/// Shrinking across a run is bounded as a whole, so many failures cannot stall it.
const SHRINK_BUDGET: Duration = Duration::from_secs(60);

/// The generator for this run, if `--generated` is not 0; prints the seed.
fn generator(args: &RunArgs, session: &Session, seed: u64) -> Result<Option<Generated>, u8> {
    if args.generated == 0 {
        return Ok(None);
    }
    let config = GenConfig { count: args.generated, seed, mode: args.mode };
    Generated::new(&session.contract, &session.target.url, &session.target.variables, config).map(Some).map_err(
        |Unset(variable)| {
            eprintln!("error: generated cases use ${{{variable}}}, which is not set");
            exit::USAGE
        },
    )
}

/// Shrinks each failing generated case (bounded), attaching the minimal input to its outcome,
/// and saves it as a case file when asked.
async fn shrink_failures(
    executed: &mut Executed,
    session: &Session,
    generated: &Generated,
    client: &Client,
    args: &RunArgs,
) {
    let started = std::time::Instant::now();
    let mut saved: Vec<crate::client::Request> = Vec::new();
    for outcome in executed.outcomes.iter_mut().filter(|o| o.outcome == Outcome::Failed) {
        let Origin::Generated { index, .. } = outcome.origin else {
            continue;
        };
        let Some(failing) = outcome.failed_checks().next().map(|c| c.check) else {
            continue;
        };
        let left = SHRINK_BUDGET.saturating_sub(started.elapsed());
        if left.is_zero() {
            eprintln!("note: shrink budget of {SHRINK_BUDGET:?} spent; later failures are reported unshrunk");
            break;
        }
        let config = ShrinkConfig {
            max_time: left.min(ShrinkConfig::default().max_time),
            strict_statuses: args.strict_statuses,
            ..ShrinkConfig::default()
        };
        let Some(shrunk) = shrink(&session.contract, client, generated, index, failing, config).await else {
            continue;
        };
        let duplicate = saved.contains(&shrunk.case.request);
        if let (Some(dir), false) = (&args.save_failures, duplicate) {
            saved.push(shrunk.case.request.clone());
            match save_failure(dir, &shrunk.case, &session.contract, &session.target.variables) {
                Ok(path) => eprintln!("saved {} as {}", outcome.name, path.display()),
                Err(e) => eprintln!("error: failed to save {} in `{}`: {e}", outcome.name, dir.display()),
            }
        }
        outcome.minimal = Some(shrunk);
    }
}

fn say(json_format: bool, text: &str) {
    if json_format {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// A progress bar on stderr for runs longer than a second; indicatif hides it when stderr is
/// not a terminal, so CI logs stay clean.
fn progress(total: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::hidden());
    let shown = bar.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !shown.is_finished() {
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    });
    bar
}

/// `run`.
pub(crate) async fn run(args: RunArgs) -> u8 {
    let (contract, files) = match load(&args.source) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let filter = Filter { include: args.filter.clone(), skip: args.skip.clone(), exact: args.exact };
    let libtest_args = libtest_mimic::Arguments {
        list: args.list,
        quiet: args.quiet,
        format: args.format,
        color: args.color,
        ..libtest_mimic::Arguments::default()
    };
    let seed = args.seed.unwrap_or_else(fresh_seed);
    if args.list {
        let config = GenConfig { count: args.generated, seed, mode: args.mode };
        let generated = if args.generated == 0 { Vec::new() } else { generate::names(&contract, config) };
        list_libtest(&files, &generated, &filter, &libtest_args);
        return exit::SUCCESS;
    }
    let contract = Arc::new(contract);
    let token = match token(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let tls = match tls_options(&args) {
        Ok(tls) => tls,
        Err(code) => return code,
    };
    let aksk = aksk_from_env();
    let token = if aksk.is_some() { Some(AKSK_MARKER.to_owned()) } else { token };
    let target = match target(&args, &contract, token, aksk.clone()).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut session = Session::new(contract, target);
    let mut cases = match session.plan(&files, filter.clone()) {
        Ok(cases) => cases,
        Err(code) => return code,
    };
    let generated = match generator(&args, &session, seed) {
        Ok(g) => g,
        Err(code) => return code,
    };
    if let Some(g) = &generated {
        session.info.seed = Some(g.seed());
        cases.extend(generate::generate(g, &filter));
    }
    guard(&args, &session.target.url, &mut cases);
    if args.dry_run {
        dry_run(&cases, &session);
        session.close().await;
        return exit::SUCCESS;
    }
    if let Err(code) = probe(&session, &args).await {
        session.close().await;
        return code;
    }
    let json_format = args.format == Some(libtest_mimic::FormatSetting::Json);
    say(json_format, &console::header(&session.info, cases.len()));
    if let Some(seed) = session.info.seed {
        say(json_format, &format!("seed: {seed} (replay with --seed {seed} --generated {})\n", args.generated));
    }
    let client = Client::new(ClientConfig {
        timeout: args.timeout,
        connect_timeout: args.connect_timeout,
        max_body: args.max_body,
        tls,
        signer: signer(aksk.as_ref(), &session),
    });
    let bar = progress(cases.len());
    let config = RunConfig {
        concurrency: usize::from(args.concurrency),
        strict_statuses: args.strict_statuses,
        interrupt: None,
        progress: Some(bar.clone()),
        rate: args.rate.map(|r| Arc::new(runner::throttle::RateLimiter::per_second(r))),
    };
    let mut executed = session.execute(&cases, &client, config, args.deadline).await;
    bar.finish_and_clear();
    if let Some(g) = &generated {
        if !executed.summary.partial {
            shrink_failures(&mut executed, &session, g, &client, &args).await;
        }
    }
    session.close().await;
    executed.print(&libtest_args);
    say(json_format, &format!("{}\n", executed.closing()));
    say(json_format, &report::coverage::render(&executed.outcomes));
    if !args.no_reports {
        if let Err(code) = executed.write_reports(&args.json, &args.junit) {
            return code;
        }
    }
    executed.exit_code()
}

/// Why the guard skips a case.
const SIDE_EFFECT_REASON: &str = "side-effecting (a conforming server may accept it) and the target is not on loopback; pass --allow-side-effects to send it";

/// The real-endpoint guard: against a target not on loopback, cases a conforming server may
/// accept are not sent unless `--allow-side-effects` says so.
fn guard(args: &RunArgs, url: &str, cases: &mut [PlannedCase]) {
    let remote = args.treat_as_remote || !crate::client::is_loopback_url(url);
    if !remote || args.allow_side_effects {
        return;
    }
    let mut skipped = 0;
    for case in cases.iter_mut().filter(|c| c.side_effecting()) {
        case.skip = Some(SIDE_EFFECT_REASON.to_owned());
        skipped += 1;
    }
    if skipped > 0 {
        eprintln!(
            "note: {skipped} side-effecting cases will be skipped: the target is not on loopback (--allow-side-effects sends them)"
        );
    }
}

/// `--dry-run`: every request as curl, masked; nothing is sent.
fn dry_run(cases: &[PlannedCase], session: &Session) {
    let mut out = String::new();
    for case in cases {
        let note = case.skip.as_ref().map(|_| " (would be skipped: side-effecting)").unwrap_or_default();
        let _ = writeln!(
            out,
            "# {}{note}\n{}\n",
            case.name,
            report::curl(&case.request, |n| session.info.is_credential(n))
        );
    }
    print!("{}", session.secrets.mask(&out));
    println!("dry run: {} requests printed, none sent", cases.len());
}

/// The token value that means "sign this request with AK/SK instead".
const AKSK_MARKER: &str = "aksk-signed";

/// AK/SK credentials from `CSE_AK`, `CSE_SK` and `CSE_SECURITY_TOKEN`; both AK and SK or none.
fn aksk_from_env() -> Option<crate::sign::Credentials> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    Some(crate::sign::Credentials { ak: var("CSE_AK")?, sk: var("CSE_SK")?, security_token: var("CSE_SECURITY_TOKEN") })
}

/// The signer of a run with AK/SK credentials.
fn signer(aksk: Option<&crate::sign::Credentials>, session: &Session) -> Option<crate::client::Signer> {
    let credentials = aksk?.clone();
    Some(crate::client::Signer {
        credentials,
        project_id: session.target.variables.get("project_id").map(str::to_owned),
        token_header: session.contract.manifest.request.credential_headers.first().cloned().unwrap_or_default(),
        marker: AKSK_MARKER.to_owned(),
    })
}

/// `--ca-cert` and `--insecure`.
fn tls_options(args: &RunArgs) -> Result<TlsOptions, u8> {
    let mut tls = TlsOptions { insecure: args.insecure, ..TlsOptions::default() };
    for path in &args.ca_cert {
        if let Err(e) = tls.add_ca_file(path) {
            eprintln!("error: --ca-cert: {e}");
            return Err(exit::USAGE);
        }
    }
    if args.insecure {
        eprintln!(
            "warning: --insecure: TLS certificates are NOT verified. Anyone on the path can read the \
             token and forge the answers this run judges. Use --ca-cert for a private CA instead."
        );
    }
    Ok(tls)
}

/// A seed no one chose: the clock's nanoseconds mixed with the process id.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (u64::from(nanos) << 20) ^ u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15
}

/// The conformance suite as a libtest binary (`tests/contract.rs`, `harness = false`): every
/// hand-written case against the embedded mock, listed and filtered as ordinary tests.
pub(crate) async fn contract_tests(args: libtest_mimic::Arguments) -> u8 {
    let source = SourceArgs { cases: None, schemas: None };
    let (contract, files) = match load(&source) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let filter = libtest::filter(&args);
    if args.list {
        list_libtest(&files, &[], &filter, &args);
        return exit::SUCCESS;
    }
    let contract = Arc::new(contract);
    let target = match embedded_target(&contract, Variables::default(), None, None).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let session = Session::new(contract, target);
    let cases = match session.plan(&files, filter) {
        Ok(cases) => cases,
        Err(code) => return code,
    };
    let client = Client::new(ClientConfig::default());
    let executed = session.execute(&cases, &client, RunConfig::default(), None).await;
    session.close().await;
    executed.print(&args);
    executed.exit_code()
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}
