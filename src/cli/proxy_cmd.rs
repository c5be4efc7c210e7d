//! `proxy`: the validation proxy as a process. The first line on stdout is its base URL, printed
//! once it accepts connections; each exchange is recorded as a run records a case (a line on
//! stderr, report fragments spooled), and the reports are written every `--report-every` and
//! when a signal stops it: it then accepts no new client, lets the exchanges in flight finish
//! (at most [`GRACE`]) and records them first.

use std::io::Write as _;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::args::ProxyArgs;
use super::error::{CliError, CliResult};
use super::exit;
use super::signals::Signals;
use crate::client::ClientConfig;
use crate::contract::Contract;
use crate::files::FileSource;
use crate::outcome::RunSummary;
use crate::proxy::{self, ExchangeLog, Judging, ProxyConfig, Recording, Upstream};
use crate::report::RunInfo;
use crate::report::reporter::{Done, Recorder, ReportPaths, Reports, file_reports};

/// How long the exchanges in flight may take to finish once a signal came.
const GRACE: Duration = Duration::from_secs(5);

pub(crate) async fn proxy(args: ProxyArgs) -> CliResult {
    let (contract, config) = configure(&args)?;
    let info = run_info(&contract, &config.upstream);
    let paths =
        ReportPaths { json: Some(args.json.clone()), junit: Some(args.junit.clone()), html: Some(args.html.clone()) };
    let reports = (!args.no_reports).then(|| Arc::new(Reports { formats: file_reports(&paths), info: info.clone() }));
    let (recording, mut finished) = Recording::new(&contract, reports.clone(), args.max_connections);
    let mut recorder = Recorder::new(0, (Box::new(ExchangeLog { quiet: args.quiet }), info), reports, None);
    // Listening before the URL is printed: a client may stop the proxy as soon as it has it.
    let signals = Signals::listen_saying(
        "no new client is accepted; the exchanges in flight finish, then the reports are written",
    );
    let handle = proxy::spawn(contract, config, recording)
        .await
        .map_err(|e| CliError::config(format!("failed to listen on {}: {e}", args.listen)))?;
    println!("{}", handle.base_url);
    let _ = std::io::stdout().flush();
    if let Some(via) = &handle.via {
        eprintln!(
            "proxy: the upstream is reached through {via} (the environment's HTTPS_PROXY, HTTP_PROXY or ALL_PROXY)"
        );
    }
    let started = SystemTime::now();
    record_until(&mut recorder, &mut finished, signals.wait(), args.report_every, started).await;
    // The exchanges still in flight are recorded while the proxy winds down.
    record_until(&mut recorder, &mut finished, handle.shutdown(GRACE), None, started).await;
    while let Ok(done) = finished.try_recv() {
        recorder.record(done);
    }
    let summary = write(&mut recorder, started, false, args.no_reports)?;
    eprintln!("{}", summary_line(&summary, &recorder, &args, args.no_reports));
    let violated = summary.failed + summary.errored > 0;
    Ok(if args.fail_on_violation && violated { exit::FAILURES } else { exit::SUCCESS })
}

/// The contract and the proxy's configuration; every problem of the flags at once.
fn configure(args: &ProxyArgs) -> Result<(Arc<Contract>, ProxyConfig), CliError> {
    let mut problems = Vec::new();
    let upstream = Upstream::parse(&args.upstream).map_err(|e| problems.push(format!("--upstream: {e}"))).ok();
    let tls = super::target::tls_options(&args.ca_cert, args.insecure).map_err(|e| problems.push(e)).ok();
    let source = args.schemas.clone().map_or(FileSource::Embedded, FileSource::Dir);
    let contract =
        Contract::load(&source).map_err(|e| CliError::Config(problems.clone()).and(CliError::from_error(&e)))?;
    let (Some(upstream), Some(tls)) = (upstream, tls) else { return Err(CliError::Config(problems)) };
    let config = ProxyConfig {
        listen: args.listen,
        upstream,
        client: ClientConfig {
            timeout: args.timeout,
            connect_timeout: args.connect_timeout,
            tls,
            ..ClientConfig::default()
        },
        max_connections: args.max_connections,
        idle_timeout: args.idle_timeout,
        judging: Judging {
            strict_statuses: args.strict_statuses,
            strict_auth: args.strict_auth,
            max_body: args.max_judged_body,
        },
    };
    Ok((Arc::new(contract), config))
}

/// What the reports say of the proxy's "run": the upstream is the target.
fn run_info(contract: &Contract, upstream: &Upstream) -> RunInfo {
    RunInfo {
        target: crate::report::mask_url(upstream.as_str()),
        target_note: Some("exchanges observed by the validation proxy (cse-contract proxy)".to_owned()),
        contract_hash: contract.hash.clone(),
        version: env!("CARGO_PKG_VERSION"),
        seed: None,
        credential_headers: proxy::secret_headers(contract),
        token_header: contract.token_header().to_owned(),
        bodies: None,
        signed: false,
        partition: None,
    }
}

/// Records each finished exchange until `until` resolves; writes the reports (marked partial)
/// every `every`.
async fn record_until(
    recorder: &mut Recorder,
    finished: &mut mpsc::Receiver<Done>,
    until: impl std::future::Future<Output = ()>,
    every: Option<Duration>,
    started: SystemTime,
) {
    let mut until = pin!(until);
    let mut ticks = every.map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    loop {
        let tick = async {
            match &mut ticks {
                Some(ticks) => ticks.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut until => return,
            Some(done) = finished.recv() => recorder.record(done),
            _ = tick => {
                if let Err(e) = write(recorder, started, true, false) {
                    eprint!("{}", e.render());
                }
            }
        }
    }
}

/// Writes the reports (unless `none`); the counts so far.
fn write(recorder: &mut Recorder, started: SystemTime, partial: bool, none: bool) -> Result<RunSummary, CliError> {
    let summary = recorder.tally.summary(started, partial);
    if !none {
        recorder.write_reports(&summary, None, "").map_err(CliError::Reports)?;
    }
    Ok(summary)
}

/// The last line: the counts, the unknown paths among those not judged, where the reports are.
fn summary_line(summary: &RunSummary, recorder: &Recorder, args: &ProxyArgs, no_reports: bool) -> String {
    let unknown = recorder.tally.suites().iter().find(|s| s.name == proxy::UNKNOWN_SUITE).map_or(0, |s| s.tests);
    let reports = if no_reports {
        String::new()
    } else {
        format!("; reports: {}, {}, {}", args.json.display(), args.junit.display(), args.html.display())
    };
    format!(
        "proxy: {} exchanges: {} passed, {} failed, {} errored, {} not judged ({unknown} on paths of no operation){reports}",
        summary.total, summary.passed, summary.failed, summary.errored, summary.skipped
    )
}
