//! `run`, `list` and `validate`: load, plan, run, report.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::args::{ListArgs, RunArgs, SourceArgs};
use super::error::{CliError, CliResult, with_causes};
use super::exit;
use super::session::{Executed, RunPlan, Session};
use super::settings::{Action, Amounts, RunSettings};
use super::state;
use super::target::{ask_proxy, embedded_target, probe, signer, target};
use crate::case::vars::Unset;
use crate::case::vars::Variables;
use crate::case::{CaseError, CaseFile, load_cases};

/// The most case-file problems printed (every file's first ones, in file order); the rest are counted.
const ERRORS_SHOWN: usize = 100;
use crate::client::{Client, ClientConfig};
use crate::contract::Contract;
use crate::files::FileSource;
use crate::generate::{self, GenConfig, Generated, Selection, save_failure};
use crate::outcome::Outcome;
use crate::plan::{Filter, Origin};
use crate::report::reporter::ReportPaths;
use crate::report::{self, console};
use crate::runner::libtest::{self, Printer};
use crate::runner::shrink::{ShrinkConfig, shrink};
use crate::runner::{self, CaseSource, RunConfig};

fn source(dir: Option<&Path>) -> FileSource {
    dir.map_or(FileSource::Embedded, |d| FileSource::Dir(d.to_path_buf()))
}

/// Loads the contract and every case file; the error holds every problem (the first
/// [`ERRORS_SHOWN`] of the case files, the rest counted).
fn load(args: &SourceArgs) -> Result<(Contract, Vec<CaseFile>), CliError> {
    let contract = Contract::load(&source(args.schemas.as_deref())).map_err(|e| CliError::from_error(&e))?;
    let files = load_cases(&source(args.cases.as_deref()), &contract).map_err(|errors| {
        let total: usize = errors.iter().map(|e| if let CaseError::More { count, .. } = e { *count } else { 1 }).sum();
        let mut problems = Vec::new();
        let mut shown = 0;
        for e in &errors {
            if shown >= ERRORS_SHOWN {
                problems.push(format!("{} more problems not shown", total - shown));
                break;
            }
            problems.push(with_causes(e));
            shown += if let CaseError::More { count, .. } = e { *count } else { 1 };
        }
        problems.push(format!("{total} problem(s) in the case files; nothing was sent"));
        CliError::Config(problems)
    })?;
    Ok((contract, files))
}

/// `validate`: everything loads.
pub(crate) fn validate(args: &SourceArgs) -> CliResult {
    let (contract, files) = load(args)?;
    {
        {
            let cases: usize = files.iter().map(|f| f.cases.len()).sum();
            let schemas = contract.schema_names().count();
            let operations = contract.operation_names().join(", ");
            let state = if contract.state_model.is_some() { " and the state model" } else { "" };
            println!(
                "ok: {schemas} schemas, the operations {operations}{state} from {}; {cases} cases in {} files",
                contract.source,
                files.len()
            );
            Ok(exit::SUCCESS)
        }
    }
}

/// `list`: the case names.
pub(crate) fn list(args: &ListArgs) -> CliResult {
    let (contract, files) = load(&args.source)?;
    let filter = Filter { include: args.filter.clone(), skip: args.skip.clone(), exact: args.exact };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for name in run_names(
        &contract,
        &files,
        Amounts { generated: args.generated, stateful: args.stateful, mode: args.mode.into() },
    ) {
        if filter.matches(&name) {
            let _ = writeln!(out, "{name}");
        }
    }
    let _ = out.flush();
    Ok(exit::SUCCESS)
}

/// The names of the hand-written cases, `file::case`, in file order.
fn hand_names(files: &[CaseFile]) -> Vec<String> {
    files.iter().flat_map(|f| f.cases.iter().map(move |c| format!("{}::{}", f.stem, c.name))).collect()
}

/// The names of every case of a run with `generated` random cases, `stateful` sequences and
/// `mode`, in the order `run --list` prints them: hand-written, stateful, generated.
fn run_names(contract: &Contract, files: &[CaseFile], Amounts { generated, stateful, mode }: Amounts) -> Vec<String> {
    let mut names = hand_names(files);
    names.extend(runner::stateful::names(stateful));
    if generated > 0 || mode == crate::generate::Mode::Coverage {
        // Names do not depend on the seed, nor on state-awareness or --strict-auth.
        let config = GenConfig { count: generated, seed: 0, mode, state_aware: false, strict_auth: false };
        names.extend(generate::names(contract, config));
    }
    names
}

/// libtest's `--list`: `name: test` lines, for the cases the filter selects.
fn list_libtest(names: &[String], filter: &Filter, args: &libtest_mimic::Arguments) {
    let names: Vec<&String> = names.iter().filter(|name| filter.matches(name)).collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let _ = libtest::list(&mut out, args, names.iter().map(|n| n.as_str()));
    let _ = out.flush();
}

/// How many of the run's cases the filters left out (libtest's "filtered out"); an error (exit
/// 4) when they left out every one.
fn filtered_out(
    settings: &RunSettings,
    files: &[CaseFile],
    generated: Option<&Generated>,
    plan: &RunPlan,
    shard_of: Option<usize>,
) -> Result<usize, CliError> {
    let all = files.iter().map(|f| f.cases.len()).sum::<usize>()
        + runner::stateful::names(settings.amounts.stateful).len()
        + generated.map_or(0, Generated::len);
    // A shard may get none of the cases the filters selected: the other shards run them.
    if plan.len() == 0 && all > 0 && shard_of.is_none_or(|selected| selected == 0) {
        return Err(CliError::NoCases(format!(
            "the filters select none of the run's {all} cases ({}); `cse-contract run --list` lists their names",
            filter_words(&settings.filter)
        )));
    }
    Ok(all.saturating_sub(plan.len()))
}

/// Whether the filters select any of the run's cases, known from their names before anything is
/// sent (the engine's state is read before the generated cases are built).
fn selects_any(settings: &RunSettings, contract: &Contract, files: &[CaseFile]) -> Result<(), CliError> {
    let filter = &settings.filter;
    if filter.include.is_empty() && filter.skip.is_empty() {
        return Ok(());
    }
    let names = run_names(contract, files, settings.amounts);
    if names.is_empty() || names.iter().any(|name| filter.matches(name)) {
        return Ok(());
    }
    Err(CliError::NoCases(format!(
        "the filters select none of the run's {} cases ({}); `cse-contract run --list` lists their names",
        names.len(),
        filter_words(filter)
    )))
}

/// The filters of a run, in words.
fn filter_words(filter: &Filter) -> String {
    let mut words = Vec::new();
    if !filter.include.is_empty() {
        words.push(format!("matching {}", filter.include.join(" or ")));
    }
    if !filter.skip.is_empty() {
        words.push(format!("skipping {}", filter.skip.join(", ")));
    }
    if filter.exact {
        words.push("exact names".to_owned());
    }
    words.join("; ")
}

/// The lines printed before a run that generates: its seed, and the size of the coverage phase.
fn generation_lines(seed: Option<u64>, generated: Option<&Selection>, count: usize) -> String {
    let mut out = String::new();
    if let Some(seed) = seed {
        let _ = writeln!(out, "seed: {seed} (replay with --seed {seed} --generated {count})");
    }
    if let Some((probes, constraints)) = generated.map(Selection::coverage).filter(|(probes, _)| *probes > 0) {
        let _ = writeln!(
            out,
            "coverage: {} of {}, sent before the random cases",
            console::plural(probes, "boundary value", "boundary values"),
            console::plural(constraints, "constraint", "constraints")
        );
    }
    out
}

/// Shrinking across a run is bounded as a whole, so many failures cannot stall it.
const SHRINK_BUDGET: Duration = Duration::from_secs(60);

/// The run's generated cases ([`generator`]), with `${job_id}` defaulted to the engine's latest
/// job as the run first read it (the job details API's coverage cases read one), and the seed
/// recorded.
fn generated_cases(
    settings: &RunSettings,
    session: &mut Session,
    state: Option<&runner::lane::StateLanes>,
    state_aware: bool,
) -> Result<Option<Generated>, CliError> {
    if let (None, Some(job)) = (session.target.variables.get("job_id"), state.and_then(|s| s.first_job())) {
        session.target.variables.set("job_id", job);
    }
    let generated = generator(settings, session, state_aware)?;
    if let Some(g) = &generated {
        session.info.seed = Some(g.seed());
    }
    Ok(generated)
}

/// The generator for this run, if `--generated` is not 0.
fn generator(settings: &RunSettings, session: &Session, state_aware: bool) -> Result<Option<Generated>, CliError> {
    let amounts = settings.amounts;
    // `--generated 0` turns generation off, unless the coverage phase alone is asked for.
    if amounts.generated == 0 && amounts.mode != crate::generate::Mode::Coverage {
        return Ok(None);
    }
    let config = GenConfig {
        count: amounts.generated,
        seed: settings.seed,
        mode: amounts.mode,
        state_aware,
        strict_auth: settings.strict_auth,
    };
    Generated::new(&session.contract, &session.target.url, &session.target.variables, config).map(Some).map_err(
        |Unset(variable)| {
            CliError::config(format!(
                "generated cases use ${{{variable}}}, which is not set{}",
                crate::plan::hint(&variable)
            ))
        },
    )
}

/// Shrinks each failing generated case (bounded), attaching the minimal input to its outcome,
/// and saves it as a case file when asked. Its requests go through the run's `rate`.
async fn shrink_failures(
    executed: &mut Executed,
    session: &Session,
    generated: &Generated,
    (client, rate): (&Client, Option<&Arc<runner::throttle::RateLimiter>>),
    (settings, state_aware): (&RunSettings, bool),
) {
    let started = std::time::Instant::now();
    let mut saved: Vec<crate::client::Request> = Vec::new();
    for (_, outcome) in executed.recorder.kept.iter_mut().filter(|(_, o)| o.outcome == Outcome::Failed) {
        let Origin::Generated { index, .. } = outcome.origin else {
            continue;
        };
        // Shrinking replays candidates one exchange at a time, outside the lanes: a valid Retry
        // would start real jobs, and a failure that depends on the engine's state cannot be
        // reproduced by one exchange. Such a case is reported as it failed.
        if state_aware && generated.side_effecting(index) {
            outcome.note.get_or_insert_with(|| {
                "not shrunk: side-effecting, judged by the engine's state (a replay would start jobs)".to_owned()
            });
            // An armed case that failed was accepted though invalid: saved as it was sent.
            if let (Some(dir), Ok(case)) = (&settings.save_failures, generated.case(index)) {
                if generated.armed(index) && !saved.contains(&case.request) {
                    saved.push(case.request.clone());
                    save(dir, &outcome.name, &case, session);
                }
            }
            continue;
        }
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
            strict_statuses: settings.strict_statuses,
            rate: rate.cloned(),
            ..ShrinkConfig::default()
        };
        // A signal stops shrinking at once: the failures are reported as they failed.
        let shrunk = tokio::select! {
            shrunk = shrink(&session.contract, client, generated, index, failing, config) => shrunk,
            () = session.signals.wait() => None,
        };
        if session.signals.received().is_some() {
            eprintln!("note: shrinking stopped by the signal; failures are reported as they failed");
            executed.interrupted = true;
            executed.summary.partial = true;
            break;
        }
        let Some(shrunk) = shrunk else {
            continue;
        };
        if shrunk.throttled {
            eprintln!(
                "note: shrinking {} stopped early: the target still answered 429 after every retry",
                outcome.name
            );
        }
        let duplicate = saved.contains(&shrunk.case.request);
        if let (Some(dir), false) = (&settings.save_failures, duplicate) {
            saved.push(shrunk.case.request.clone());
            save(dir, &outcome.name, &shrunk.case, session);
        }
        outcome.minimal = Some(shrunk);
        // The minimal request joins an outcome that was masked when it finished.
        session.secrets.mask_outcome(outcome);
    }
}

/// Saves the failing request of case `name` in `dir` as a case file, saying where.
fn save(dir: &Path, name: &str, case: &crate::plan::PlannedCase, session: &Session) {
    match save_failure(dir, case, &session.contract, &session.target.variables) {
        Ok(path) => eprintln!("saved {name} as {}", path.display()),
        Err(e) => eprintln!("error: failed to save {name} in `{}`: {e}", dir.display()),
    }
}

fn say(json_format: bool, text: &str) {
    if json_format {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// A progress bar on stderr for runs longer than a second: count, rate, elapsed time, ETA and
/// failures so far. Never in CI logs (indicatif hides it when stderr is not a terminal, and it
/// is not shown when `CI` is set), never with `-q` (its dots are the progress, and a bar would
/// be drawn in the middle of their line). The printer hides it while it writes, so it stays
/// below the scrolling lines.
fn progress(total: usize, shown: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::hidden());
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} cases, {rate} cases/s, ETA {eta}{msg}",
    );
    if let Ok(style) = style {
        let rate = |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}", state.per_sec());
        };
        bar.set_style(style.progress_chars("=> ").with_key("rate", rate));
    }
    if !shown || std::env::var_os("CI").is_some() {
        return bar;
    }
    let delayed = bar.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !delayed.is_finished() {
            delayed.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    });
    bar
}

/// `run`: the settings, every problem of them and of the files said at once; then the target.
pub(crate) async fn run(args: RunArgs) -> CliResult {
    let loaded = load(&args.source);
    let settings = RunSettings::new(args, loaded.as_ref().ok().map(|(contract, _)| contract));
    let ((contract, files), settings) = match (loaded, settings) {
        (Ok(loaded), Ok(settings)) => (loaded, settings),
        (Err(first), Err(second)) => return Err(first.and(second)),
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => return Err(error),
    };
    if settings.action == Action::List {
        let names = run_names(&contract, &files, settings.amounts);
        list_libtest(&names, &settings.filter, &settings.libtest);
        return Ok(exit::SUCCESS);
    }
    let contract = Arc::new(contract);
    let target = target(&settings, &contract).await?;
    let mut session = Session::new(contract, target, &settings.headers);
    session.verbose = settings.verbose;
    let result = run_session(&settings, &mut session, &files).await;
    session.close().await;
    result
}

/// A run once its target is known: plan, read the state, then send (or print) every case.
async fn run_session(settings: &RunSettings, session: &mut Session, files: &[CaseFile]) -> CliResult {
    let hand = session.plan(files, settings.filter.clone(), settings.strict_auth)?;
    selects_any(settings, &session.contract, files)?;
    let dry_run = settings.action == Action::DryRun;
    // The deadline bounds the whole run, from here: the probes and the reading of the state too.
    let started = std::time::Instant::now();
    let left = || settings.deadline.map(|d| d.saturating_sub(started.elapsed()));
    if !dry_run {
        probe(session, settings.connect_timeout).await?;
    }
    let (client, read_client) = clients(settings, session);
    // Only a target on loopback with nothing else guarding it needs to say whether it is a proxy.
    let unguarded = !settings.allow_side_effects && settings.guard(&session.target).is_none();
    if !dry_run && unguarded && session.target.mock.is_none() {
        ask_proxy(session, &read_client, left()).await;
    }
    let rate = settings.rate.map(|r| Arc::new(runner::throttle::RateLimiter::per_second(r)));
    // A dry run sends nothing, not even the reads; it plans as a run judged by state would.
    let state = if dry_run || settings.guard(&session.target).is_some() {
        None
    } else {
        let side_effecting = hand.iter().filter(|c| c.side_effecting).count();
        state::read_state(settings, session, &read_client, rate.as_deref(), (side_effecting, left())).await
    };
    let deadline = left();
    let state_aware = state.is_some() || (dry_run && !settings.no_state && session.contract.state_model.is_some());
    let generated = generated_cases(settings, session, state.as_deref(), state_aware)?;
    let (stateful, phase) = stateful_phase(settings, session, state.as_ref());
    let plan = run_plan(settings, session, (hand, stateful), generated.clone());
    let selected = session.info.partition.as_ref().map(|p| p.selected);
    let filtered_out = filtered_out(settings, files, generated.as_ref(), &plan, selected)?;
    if dry_run {
        return dry_run_print(&plan, session, (settings.quiet, &client_headers(settings)));
    }
    let json_format = settings.json_format();
    say(json_format, &console::header(&session.info, plan.len()));
    if let Some(partition) = &session.info.partition {
        let line = format!(
            "partition {}: {} of the {} selected (the cases bound to the engine all run in shard 1)\n",
            partition.label(),
            console::plural(plan.len(), "case", "cases"),
            partition.selected
        );
        say(json_format, &line);
    }
    say(json_format, &generation_lines(session.info.seed, plan.generated.as_ref(), settings.amounts.generated));
    let (printer, bar) = printer_and_bar(settings, &plan, filtered_out);
    let config = RunConfig {
        concurrency: settings.concurrency,
        strict_statuses: settings.strict_statuses,
        interrupt: None,
        progress: Some(bar.clone()),
        rate: rate.clone(),
        state: state.clone(),
        stateful: phase,
    };
    let paths = report_paths(settings, session);
    let limits = (deadline, settings.max_failures);
    let mut executed = session.execute(plan, &client, config, limits, printer, paths.as_ref()).await;
    bar.finish_and_clear();
    if let Some(g) = &generated {
        if !executed.interrupted {
            shrink_failures(&mut executed, session, g, (&client, rate.as_ref()), (settings, state.is_some())).await;
        }
    }
    finish(&mut executed, state.as_deref(), json_format)
}

/// The libtest printer of a run, told how many cases the filters left out, and its progress bar
/// (which the printer hides while it writes, and tells the failures).
fn printer_and_bar(settings: &RunSettings, plan: &RunPlan, filtered_out: usize) -> (Printer, indicatif::ProgressBar) {
    let mut printer = Printer::stdout(&settings.libtest, plan.name_width());
    printer.filtered_out(filtered_out);
    let bar = progress(plan.len(), !printer.terse());
    let shown = bar.clone();
    printer.flush_around(move |flush| shown.suspend(flush));
    let counted = bar.clone();
    printer.on_failure(move |n| counted.set_message(format!(", {n} failed")));
    printer.title(plan.len());
    (printer, bar)
}

/// Where the reports go (`None`: `--no-reports`), with large request bodies beside them.
fn report_paths(settings: &RunSettings, session: &mut Session) -> Option<ReportPaths> {
    let paths = settings.reports.clone()?;
    session.info.bodies = paths.json.as_ref().and_then(|json| json.parent()).map(|dir| dir.join("bodies"));
    Some(paths)
}

/// The end of a run: the failures' stories, the groups, the closing lines, coverage, the
/// reports; the exit code.
fn finish(executed: &mut Executed, state: Option<&runner::lane::StateLanes>, json_format: bool) -> CliResult {
    executed.print();
    say(json_format, &executed.groups());
    say(json_format, &format!("{}\n", executed.closing()));
    if let Some(line) = state.and_then(|lanes| state::closing(lanes.counts())) {
        eprintln!("{line}");
    }
    say(json_format, &report::coverage::render(&executed.recorder.tally));
    executed.write_reports()?;
    Ok(executed.exit_code())
}

/// The most a state read (an engine, a job) takes of a body.
const READ_MAX_BODY: usize = 64 * 1024;

/// The HTTP clients of a run: the cases', and the state reads' (the same, with a small body cap).
fn clients(settings: &RunSettings, session: &Session) -> (Client, Client) {
    let config = ClientConfig {
        timeout: settings.timeout,
        connect_timeout: settings.connect_timeout,
        max_body: settings.max_body,
        tls: settings.tls.clone(),
        signer: signer(settings.aksk.as_ref(), session),
        headers: client_headers(settings),
    };
    let reads = ClientConfig { max_body: settings.max_body.min(READ_MAX_BODY), ..config.clone() };
    (Client::new(config), Client::new(reads))
}

/// The `-H` headers, as the client adds them.
fn client_headers(settings: &RunSettings) -> Vec<(String, String)> {
    settings.headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect()
}

/// The stateful phase's cases and, when the state can be read, the phase that runs them.
fn stateful_phase(
    settings: &RunSettings,
    session: &mut Session,
    state: Option<&Arc<runner::lane::StateLanes>>,
) -> (Vec<crate::plan::PlannedCase>, Option<Arc<runner::stateful::Phase>>) {
    let target = &session.target;
    let (count, seed, filter) = (settings.amounts.stateful, settings.seed, &settings.filter);
    let cases = runner::stateful::plan(&session.contract, &target.url, &target.variables, (count, seed), filter);
    if session.info.seed.is_none() && cases.iter().any(|c| c.name.starts_with("stateful::sequence::")) {
        session.info.seed = Some(seed);
    }
    let properties =
        cases.iter().any(|c| matches!(c.origin, Origin::Stateful(crate::plan::StatefulOrigin::Property(_))));
    let phase = state.map(|lanes| {
        let engines = stateful_engines(&session.target.variables);
        let flags = (settings.strict_statuses, properties);
        Arc::new(runner::stateful::Phase::new(lanes.clone(), engines, settings.wait_retryable, flags))
    });
    (cases, phase)
}

/// The engines the run names for the stateful phase, by role.
fn stateful_engines(variables: &Variables) -> Vec<(crate::stateful::Role, String)> {
    crate::stateful::Role::ALL
        .into_iter()
        .filter_map(|role| Some((role, variables.get(role.variable())?.to_owned())))
        .collect()
}

/// The cases of the run, with the guard's note when it skips some.
fn run_plan(
    settings: &RunSettings,
    session: &mut Session,
    (mut hand, mut stateful): (Vec<crate::plan::PlannedCase>, Vec<crate::plan::PlannedCase>),
    generated: Option<Generated>,
) -> Arc<RunPlan> {
    let generated = match settings.partition {
        None => generated.map(|g| Selection::new(g, &settings.filter)),
        Some(partition) => {
            // Every case the filters selected is dealt, in the run's order, so that the
            // shards agree on who runs what.
            let census = generated.as_ref().map_or((0, 0), |g| Selection::census(g, &settings.filter));
            let engine = hand.iter().filter(|c| c.side_effecting).count() + stateful.len() + census.1;
            let mut selected = hand.len() + stateful.len();
            let mut dealer = crate::plan::Dealer::new(partition, (selected + census.0, engine));
            hand.retain(|c| dealer.keeps(&c.name, c.side_effecting));
            stateful.retain(|c| dealer.keeps(&c.name, true));
            let generated = generated.map(|g| {
                let (selection, matched) = Selection::dealt(g, &settings.filter, &mut dealer);
                selected += matched;
                selection
            });
            session.info.partition = Some(crate::report::ShardOf {
                strategy: partition.strategy.name().to_owned(),
                shards: vec![partition.index],
                total: partition.total,
                selected,
            });
            generated
        }
    };
    let plan = RunPlan {
        hand,
        stateful,
        generated,
        guard: settings.guard(&session.target),
        deselected: settings.deselected.clone(),
    };
    if plan.guard.is_some() {
        let skipped = plan.side_effecting();
        if skipped > 0 {
            let why = if session.target.behind.as_ref().is_some_and(super::target::Behind::remote) {
                "the target may forward to an endpoint not on loopback"
            } else {
                "the target is not on loopback"
            };
            eprintln!("note: {skipped} side-effecting cases will be skipped: {why} (--allow-side-effects sends them)");
        }
    }
    Arc::new(plan)
}

/// `--dry-run`: prints every planned request as curl; with `quiet`, builds and masks each the same way but
/// prints only the count (a check that the whole plan can be built, for scripts and tests).
fn dry_run_print(plan: &RunPlan, session: &Session, (quiet, headers): (bool, &[(String, String)])) -> CliResult {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut unbuilt = 0;
    let mut scenario_told = false;
    if let Some(seed) = session.info.seed {
        let _ = write!(out, "# seed: {seed} (--seed {seed} draws these generated cases and sequences again)\n\n");
    }
    for seq in 0..plan.len() {
        // a signal stops a dry run as it stops a run (a plan of millions takes minutes to print)
        if let Some(signo) = session.signals.received() {
            let _ = writeln!(out, "dry run interrupted after {seq} of {} requests", plan.len());
            let _ = out.flush();
            return Err(CliError::Signal(signo));
        }
        let mut case = match plan.case(seq) {
            Ok(case) => case,
            Err(e) => {
                unbuilt += 1;
                let _ = write!(out, "# {} (could not be built: {})\n\n", e.name, e.reason);
                continue;
            }
        };
        let note = case.skip.as_ref().map(|_| " (would be skipped: side-effecting)").unwrap_or_default();
        // As the client adds them on its way out.
        crate::client::add_headers(&mut case.request, headers);
        session.secrets.mask_request(&mut case.request);
        let name = &case.name;
        let curl = report::curl(&case.request, &session.info);
        if !quiet {
            let steps = stateful_outline(&case.origin, &mut scenario_told);
            let _ = write!(out, "# {name}{note}\n{steps}{curl}\n\n");
        }
    }
    let built = plan.len() - unbuilt;
    let printed = if quiet { "planned" } else { "printed" };
    let plural = console::plural;
    let unbuilt =
        if unbuilt > 0 { format!(" ({} could not be built)", plural(unbuilt, "case", "cases")) } else { String::new() };
    let _ = writeln!(out, "dry run: {} {printed}{unbuilt}, none sent", plural(built, "request", "requests"));
    let _ = out.flush();
    Ok(exit::SUCCESS)
}

/// For a stateful case of a dry run: what it would send, as `#` lines (its first request, the
/// engine's Retry, follows as curl). The properties share one scenario: told once.
fn stateful_outline(origin: &Origin, scenario_told: &mut bool) -> String {
    use crate::plan::StatefulOrigin;
    match origin {
        Origin::Stateful(StatefulOrigin::Property(_)) if *scenario_told => {
            "# judged on the properties' scenario, printed above\n".to_owned()
        }
        Origin::Stateful(StatefulOrigin::Property(_)) => {
            *scenario_told = true;
            format!(
                "# the properties' scenario, run once and judged by each property: show_engine, retry and show_job of the \
                 foreign engine; show_engine, retry, show_engine of the not-retryable engine; once the engine is \
                 retryable: show_engine, retry, show_engine and show_job while its job runs, both again once it \
                 ended; then a burst of {} retries, each accepted job read and followed to its end\n",
                runner::stateful::BURST
            )
        }
        Origin::Stateful(StatefulOrigin::Sequence { seed, index }) => {
            let mut text = "# show_engine of each engine, then:\n".to_owned();
            for (i, transition) in runner::stateful::draw(*seed, *index).iter().enumerate() {
                let _ = writeln!(text, "#   {}. {}", i + 1, transition.describe());
            }
            text.push_str("# then every job started is followed to its end\n");
            text
        }
        Origin::HandWritten | Origin::Generated { .. } | Origin::Observed => String::new(),
    }
}

/// The conformance suite as a libtest binary (`tests/contract.rs`, `harness = false`): every
/// hand-written case against the embedded mock, listed and filtered as ordinary tests.
pub(crate) async fn contract_tests(args: libtest_mimic::Arguments) -> CliResult {
    let source = SourceArgs { cases: None, schemas: None };
    let (contract, files) = load(&source)?;
    let filter = libtest::filter(&args);
    if args.list {
        // The hand-written cases only: the harness runs nothing else.
        list_libtest(&hand_names(&files), &filter, &args);
        return Ok(exit::SUCCESS);
    }
    let contract = Arc::new(contract);
    let target = embedded_target(&contract, Variables::default(), (None, None), &[]).await?;
    let session = Session::new(contract, target, &[]);
    let hand = session.plan(&files, filter, false)?;
    let plan = Arc::new(RunPlan { hand, stateful: Vec::new(), generated: None, guard: None, deselected: Vec::new() });
    let client = Client::new(ClientConfig::default());
    let mut printer = Printer::stdout(&args, plan.name_width());
    printer.filtered_out(files.iter().map(|f| f.cases.len()).sum::<usize>().saturating_sub(plan.len()));
    printer.title(plan.len());
    // The embedded mock keeps state like the real service: side-effecting cases go through
    // their engine's lane and are judged by the engine's state, as `run` does.
    let reads = crate::stateful::Reads::new(&session.contract, &session.target.url, &session.target.variables);
    let lanes = reads.map(|r| Arc::new(runner::lane::StateLanes::new(r, Duration::ZERO, client.clone())));
    let config = RunConfig { state: lanes, ..RunConfig::default() };
    let mut executed = session.execute(plan, &client, config, (None, None), printer, None).await;
    session.close().await;
    executed.print();
    Ok(executed.exit_code())
}
