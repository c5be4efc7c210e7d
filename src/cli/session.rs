//! A run once everything is loaded: the [`Session`] (contract, target, what reports say) runs the
//! planned cases, and [`Executed`] holds what came of them until it is printed and written.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::error::CliError;
use super::exit;
use super::settings::ExtraHeader;
use super::signals::Signals;
use super::target::Target;
use crate::case::CaseFile;
use crate::client::Client;
use crate::contract::Contract;
use crate::generate::Selection;
use crate::outcome::{CaseOutcome, RunSummary};
use crate::plan::{Filter, PlanConfig, PlannedCase, Unbuilt, plan};
use crate::report::reporter::{Done, FailureLimit, Recorder, ReportPaths, Reports};
use crate::report::{self, RunInfo, Secrets};
use crate::runner::libtest::Printer;
use crate::runner::{self, CaseSource, RunConfig, run_cases};

/// What a run needs once everything is loaded and the target is known.
pub(super) struct Session {
    pub(super) contract: Arc<Contract>,
    pub(super) target: Target,
    pub(super) info: RunInfo,
    pub(super) secrets: Secrets,
    /// Ctrl-C came before the cases started (while the engine's state was read): the run
    /// starts interrupted, sends no case, and writes partial reports.
    pub(super) interrupted: bool,
    /// SIGINT, SIGTERM, SIGHUP.
    pub(super) signals: Signals,
    /// `-v`'s count: each case's exchanges are logged on stderr.
    pub(super) verbose: u8,
}

/// What a plan that met unset variables says: every variable the selected cases need and the run
/// does not set, at once (a case is planned up to its first unset variable, so the plan is
/// retried with each one found given a stand-in until no case needs another), each with how many
/// cases need it, an example, and how to set it.
fn missing_variables(
    contract: &Contract,
    files: &[CaseFile],
    mut config: PlanConfig,
    first: &[crate::plan::PlanError],
) -> String {
    // Every variable missing: each round finds the next unset one of each case.
    let mut missing: Vec<String> = Vec::new();
    let mut errors = first.to_vec();
    while !errors.is_empty() {
        for error in &errors {
            if !missing.contains(&error.variable) {
                missing.push(error.variable.clone());
            }
            config.variables.set(&error.variable, "stand-in");
        }
        errors = plan(contract, files, &config).err().unwrap_or_default();
    }
    // How many cases need each: planned with every other one given a stand-in.
    let needs = |variable: &str| {
        let mut only = config.clone();
        only.variables.unset(variable);
        plan(contract, files, &only).err().unwrap_or_default()
    };
    let missing: Vec<(usize, crate::plan::PlanError)> = missing
        .iter()
        .filter_map(|variable| {
            let errors = needs(variable);
            Some((errors.len(), errors.into_iter().next()?))
        })
        .collect();
    let mut out = String::from("the selected cases need values this run does not set; nothing was sent:");
    for (count, example) in &missing {
        let _ = write!(
            out,
            "\n  ${{{}}}{}: needed by {count} case(s), e.g. {} `{}`",
            example.variable, example.hint, example.path, example.case
        );
    }
    out
}

impl Session {
    /// The session of `target`; the values of the secret `-H` headers of `headers` are masked
    /// in every output, as the credentials are.
    pub(super) fn new(contract: Arc<Contract>, target: Target, headers: &[ExtraHeader]) -> Session {
        let mut secrets = Secrets::default();
        let secret_headers = headers.iter().filter(|h| h.secret).map(|h| &h.value);
        for secret in target.token.iter().chain(target.secrets.iter()).chain(secret_headers) {
            secrets.add(secret);
            report::register_secret(secret);
        }
        let info = RunInfo {
            target: secrets.mask(&report::mask_url(&target.url)),
            target_note: target.note.as_deref().map(|n| secrets.mask(n)),
            contract_hash: contract.hash.clone(),
            version: env!("CARGO_PKG_VERSION"),
            seed: None,
            credential_headers: contract
                .operations
                .iter()
                .flat_map(|op| op.manifest.request.credential_headers.iter().cloned())
                .chain(["Authorization".to_owned(), "X-Security-Token".to_owned()])
                .chain(headers.iter().filter(|h| h.secret).map(|h| h.name.clone()))
                .collect(),
            token_header: contract.token_header().to_owned(),
            bodies: None,
            signed: target.token.as_deref() == Some(super::target::AKSK_MARKER),
            partition: None,
        };
        Session { contract, target, info, secrets, interrupted: false, signals: Signals::listen(), verbose: 0 }
    }

    /// Plans the cases `filter` selects.
    pub(super) fn plan(
        &self,
        files: &[CaseFile],
        filter: Filter,
        strict_auth: bool,
    ) -> Result<Vec<PlannedCase>, CliError> {
        let config = PlanConfig {
            target: self.target.url.clone(),
            variables: self.target.variables.clone(),
            filter,
            strict_auth,
        };
        plan(&self.contract, files, &config)
            .map_err(|errors| CliError::config(missing_variables(&self.contract, files, config, &errors)))
    }

    /// Runs every case of `plan`, stopping early on Ctrl-C or once `max_failures` cases did not
    /// pass; past `deadline`, cases not finished are errored. Each case is printed as it
    /// finishes; with `reports`, its report fragments are spooled; only the cases told in full
    /// at the end are kept whole.
    pub(super) async fn execute(
        &self,
        plan: Arc<dyn CaseSource>,
        client: &Client,
        mut config: RunConfig,
        (deadline, max_failures): (Option<Duration>, Option<usize>),
        printer: Printer,
        reports: Option<&ReportPaths>,
    ) -> Executed {
        let (stop, interrupt) = watch::channel(self.interrupted);
        let stop = Arc::new(stop);
        // What stopped the run first: a signal, the deadline, or the failure limit.
        let first = Arc::new(AtomicU8::new(if self.interrupted { SIGNAL } else { RUNNING }));
        let stopper = |why: u8| {
            let (stop, first) = (stop.clone(), first.clone());
            move || {
                let _ = first.compare_exchange(RUNNING, why, Ordering::SeqCst, Ordering::SeqCst);
                let _ = stop.send(true);
            }
        };
        let on_signal = stopper(SIGNAL);
        let signals = self.signals.clone();
        let listener = tokio::spawn(async move {
            signals.wait().await;
            on_signal();
        });
        let timer = deadline.map(|after| {
            let on_deadline = stopper(DEADLINE);
            tokio::spawn(async move {
                tokio::time::sleep(after.saturating_sub(runner::GRACE)).await;
                on_deadline();
            })
        });
        config.interrupt = Some(interrupt);
        let formats = reports
            .map(|paths| Arc::new(Reports { formats: report::reporter::file_reports(paths), info: self.info.clone() }));
        let limit = max_failures.map(|limit| FailureLimit { limit, stop: Box::new(stopper(LIMIT)) });
        let mut recorder = Recorder::new(plan.len(), (Box::new(printer), self.info.clone()), formats.clone(), limit);
        let secrets = self.secrets.clone();
        // The driver runs on a worker, not on the thread that called: it then wakes the tasks
        // it waits for on the same threads instead of across them (fewer context switches).
        let (contract, source, client, verbose) = (self.contract.clone(), plan.clone(), client.clone(), self.verbose);
        let driver = tokio::spawn(async move {
            let finish = move |seq, outcome| Done::new(seq, outcome, &secrets, formats.as_deref(), verbose);
            let ran = run_cases(contract, source, &client, config, finish, |done| recorder.record(done)).await;
            (ran, recorder)
        });
        let (ran, mut recorder) = match driver.await {
            Ok(done) => done,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        listener.abort();
        if let Some(timer) = timer {
            timer.abort();
        }
        let first = first.load(Ordering::SeqCst);
        let signalled = self.interrupted || self.signals.received().is_some();
        let mut partial = ran.partial;
        let mut limit_note = None;
        if let (true, Some(after)) = (first == DEADLINE && partial && !signalled, deadline) {
            self.error_unfinished(&plan, &mut recorder, after);
            partial = false;
            eprintln!("deadline of {after:?} reached: cases not finished are reported errored");
        } else if first == LIMIT && !signalled && partial {
            let limit = max_failures.unwrap_or_default();
            limit_note = Some(format!(
                "stopped after {limit} case(s) did not pass (--max-failures {limit}): {} of {} cases finished, the others were not run",
                recorder.tally.total(),
                plan.len()
            ));
        }
        recorder.sort_kept();
        let summary = recorder.tally.summary(ran.started, partial);
        let signal = self.signals.received().or(self.interrupted.then_some(super::signals::SIGINT));
        Executed {
            recorder,
            summary,
            planned: plan.len(),
            stopped: limit_note,
            interrupted: signalled && partial,
            signal,
        }
    }

    /// Records every case the deadline stopped as errored.
    fn error_unfinished(&self, plan: &Arc<dyn CaseSource>, recorder: &mut Recorder, after: Duration) {
        for seq in 0..plan.len() {
            if recorder.finished(seq) {
                continue;
            }
            let outcome = match plan.case(seq) {
                Ok(case) => errored_by_deadline(&self.contract, &case, after),
                Err(unbuilt) => CaseOutcome::unbuilt(*unbuilt),
            };
            recorder.record(Done::new(seq, outcome, &self.secrets, None, self.verbose));
        }
    }

    /// Stops the embedded mock, if there is one.
    pub(super) async fn close(self) {
        if let Some(mock) = self.target.mock {
            mock.shutdown().await;
        }
    }
}

/// What stopped a run first ([`Session::execute`]).
const RUNNING: u8 = 0;
const SIGNAL: u8 = 1;
const DEADLINE: u8 = 2;
const LIMIT: u8 = 3;

/// The outcome of a case the run's --deadline stopped.
fn errored_by_deadline(contract: &Contract, case: &PlannedCase, after: Duration) -> CaseOutcome {
    let error = crate::client::TransportError::Timeout { phase: "before the run's --deadline", after };
    let exchange =
        crate::client::Exchange { request: case.request.clone(), result: Err(error), elapsed: Duration::ZERO };
    let checks = crate::check::judge(contract, case, &exchange, false);
    CaseOutcome::decide(case, exchange, checks)
}

/// What a run produced.
pub(super) struct Executed {
    pub(super) recorder: Recorder,
    pub(super) summary: RunSummary,
    pub(super) planned: usize,
    /// Why the run stopped before its end (`--max-failures`).
    pub(super) stopped: Option<String>,
    /// A signal stopped it.
    pub(super) interrupted: bool,
    /// The first signal received, if any (its number).
    pub(super) signal: Option<u8>,
}

impl Executed {
    /// Prints the end of the libtest output: the full story of each case kept whole, and the
    /// result line.
    pub(super) fn print(&mut self) {
        self.recorder.print_end();
    }

    /// The failure groups, largest first; empty when every case passed.
    pub(super) fn groups(&self) -> String {
        let groups = self.recorder.groups.sorted();
        if groups.is_empty() {
            return String::new();
        }
        let cases: usize = groups.iter().map(|g| g.count).sum();
        let mut out = format!(
            "\nfailure groups: {cases} case(s) did not pass, in {} group(s) (a group: the same failed checks):\n",
            groups.len()
        );
        for group in groups {
            let _ = writeln!(out, "  {}", group.describe());
        }
        out
    }

    /// The closing lines: counts with errored apart, partial and stopped runs said.
    pub(super) fn closing(&self) -> String {
        let s = &self.summary;
        let mut out = format!("cse-contract: {} passed, {} failed", s.passed, s.failed + s.errored);
        if s.skipped > 0 {
            let _ = write!(out, ", {} skipped", s.skipped);
        }
        if s.errored > 0 {
            let _ = write!(out, "\n({} of the failed cases errored: the exchange did not complete)", s.errored);
        }
        if let Some(stopped) = &self.stopped {
            let _ = write!(out, "\n{stopped}");
        } else if s.partial {
            let _ = write!(
                out,
                "\nrun interrupted: {} of {} cases finished; the reports hold those",
                s.total, self.planned
            );
        }
        out
    }

    /// Writes every report.
    pub(super) fn write_reports(&mut self) -> Result<(), CliError> {
        let coverage = report::coverage::render(&self.recorder.tally);
        self.recorder
            .write_reports(&self.summary, self.stopped.as_deref(), &coverage)
            .map_err(|errors| CliError::Reports(errors.iter().map(ToString::to_string).collect()))
    }

    pub(super) fn exit_code(&self) -> u8 {
        if self.interrupted || (self.summary.partial && self.stopped.is_none()) {
            self.signal.map_or(exit::INTERRUPTED, super::signals::exit_code)
        } else if self.summary.success() {
            exit::SUCCESS
        } else {
            exit::FAILURES
        }
    }
}

/// The cases of a run: the hand-written ones, planned up front, then the generated ones, built
/// when their turn comes; against a remote target, side-effecting cases are marked skipped.
pub(super) struct RunPlan {
    pub(super) hand: Vec<PlannedCase>,
    /// The stateful phase's cases: the properties, then the sequences.
    pub(super) stateful: Vec<PlannedCase>,
    pub(super) generated: Option<Selection>,
    /// Why side-effecting cases are skipped, when they are.
    pub(super) guard: Option<&'static str>,
    /// The checks `--checks`/`--exclude-checks` leave out of the run.
    pub(super) deselected: Vec<crate::check::CheckKind>,
}

/// Why a check left out by `--checks`/`--exclude-checks` was not judged.
const DESELECTED: &str = "left out of the run by --checks/--exclude-checks";

impl CaseSource for RunPlan {
    fn len(&self) -> usize {
        self.hand.len() + self.stateful.len() + self.generated.as_ref().map_or(0, Selection::len)
    }

    fn case(&self, seq: usize) -> Result<PlannedCase, Box<Unbuilt>> {
        let stateful = seq.checked_sub(self.hand.len()).filter(|&n| n < self.stateful.len());
        let generated = seq.checked_sub(self.hand.len() + self.stateful.len());
        let mut case = match (stateful, generated, &self.generated) {
            (Some(n), _, _) => self.stateful[n].clone(),
            (None, Some(n), Some(generated)) => generated.case(n)?,
            _ => self.hand[seq].clone(),
        };
        if let (Some(reason), true) = (self.guard, case.side_effecting) {
            case.skip = Some(reason.to_owned());
        }
        for check in &self.deselected {
            if case.origin == crate::plan::Origin::Stateful(crate::plan::StatefulOrigin::Property(*check)) {
                case.skip.get_or_insert_with(|| format!("its property, {}, is {DESELECTED}", check.name()));
            }
            case.skip_checks.entry(check.name().to_owned()).or_insert_with(|| DESELECTED.to_owned());
        }
        Ok(case)
    }
}

impl RunPlan {
    /// The longest case name (libtest pads names to it).
    pub(super) fn name_width(&self) -> usize {
        let hand = self.hand.iter().chain(&self.stateful).map(|c| c.name.len()).max().unwrap_or(0);
        hand.max(self.generated.as_ref().map_or(0, Selection::name_width))
    }

    /// How many cases are side-effecting.
    pub(super) fn side_effecting(&self) -> usize {
        let hand = self.hand.iter().chain(&self.stateful).filter(|c| c.side_effecting).count();
        let generated =
            self.generated.as_ref().map_or(0, |g| g.indexes().filter(|&i| g.generated().side_effecting(i)).count());
        hand + generated
    }
}
