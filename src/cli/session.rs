//! A run once everything is loaded: the [`Session`] (contract, target, what reports say) runs the
//! planned cases, and [`Executed`] holds what came of them until it is printed and written.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::target::Target;
use super::{exit, report_error};
use crate::case::CaseFile;
use crate::client::Client;
use crate::contract::Contract;
use crate::generate::Selection;
use crate::outcome::{CaseOutcome, Outcome, RunSummary, SuiteTally, Tally};
use crate::plan::{Filter, PlanConfig, PlannedCase, plan};
use crate::report::spool::Spool;
use crate::report::{self, RunInfo, Secrets, console, json, junit};
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
}

impl Session {
    pub(super) fn new(contract: Arc<Contract>, target: Target) -> Session {
        let mut secrets = Secrets::default();
        for secret in target.token.iter().chain(target.secrets.iter()) {
            secrets.add(secret);
            report::register_secret(secret);
        }
        // A test hook: proves that a panic message carrying the token is masked.
        assert!(std::env::var_os("CSE_CONTRACT_TEST_PANIC").is_none(), "test panic, token {:?}", target.token);
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
                .collect(),
        };
        Session { contract, target, info, secrets, interrupted: false }
    }

    /// Plans the cases `filter` selects; `Err` is the exit code after the messages.
    pub(super) fn plan(&self, files: &[CaseFile], filter: Filter, strict_auth: bool) -> Result<Vec<PlannedCase>, u8> {
        let config = PlanConfig {
            target: self.target.url.clone(),
            variables: self.target.variables.clone(),
            filter,
            strict_auth,
        };
        plan(&self.contract, files, &config).map_err(|errors| {
            for e in &errors {
                report_error(e);
            }
            eprintln!("error: {} case(s) need variables that are not set; nothing was sent", errors.len());
            exit::USAGE
        })
    }

    /// Runs every case of `plan`, stopping early on Ctrl-C; past `deadline`, cases not finished
    /// are errored. Each case is printed as it finishes; with `reports`, its report fragments
    /// are spooled; only cases that failed or errored are kept whole.
    pub(super) async fn execute(
        &self,
        plan: Arc<dyn CaseSource>,
        client: &Client,
        mut config: RunConfig,
        deadline: Option<Duration>,
        printer: Printer,
        reports: bool,
    ) -> Executed {
        let (stop, interrupt) = watch::channel(self.interrupted);
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
        let mut recorder = Recorder::new(plan.len(), printer, reports);
        let (info, secrets) = (self.info.clone(), self.secrets.clone());
        // The driver runs on a worker, not on the thread that called: it then wakes the tasks
        // it waits for on the same threads instead of across them (fewer context switches).
        let (contract, source, client) = (self.contract.clone(), plan.clone(), client.clone());
        let driver = tokio::spawn(async move {
            let finish = move |seq, outcome| Done::new(seq, outcome, &secrets, reports.then_some(&info));
            let ran = run_cases(contract, source, &client, config, finish, |done| recorder.record(done)).await;
            (ran, recorder)
        });
        let (ran, mut recorder) = match driver.await {
            Ok(done) => done,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        listener.abort();
        let deadline_hit = timer.is_some_and(|t| t.is_finished());
        let mut partial = ran.partial;
        if let (true, Some(after)) = (deadline_hit && partial, deadline) {
            let render = reports.then_some(&self.info);
            for seq in 0..plan.len() {
                if recorder.finished(seq) {
                    continue;
                }
                let Some(case) = plan.case(seq) else { continue };
                let outcome = errored_by_deadline(&self.contract, &case, after);
                recorder.record(Done::new(seq, outcome, &self.secrets, render));
            }
            partial = false;
            eprintln!("deadline of {after:?} reached: cases not finished are reported errored");
        }
        recorder.kept.sort_by_key(|(seq, _)| *seq);
        let summary = recorder.tally.summary(ran.started, partial);
        Executed { recorder, summary, info: self.info.clone(), planned: plan.len() }
    }

    /// Stops the embedded mock, if there is one.
    pub(super) async fn close(self) {
        if let Some(mock) = self.target.mock {
            mock.shutdown().await;
        }
    }
}

/// The outcome of a case the run's --deadline stopped.
fn errored_by_deadline(contract: &Contract, case: &PlannedCase, after: Duration) -> CaseOutcome {
    let error = crate::client::TransportError::Timeout { phase: "before the run's --deadline", after };
    let exchange =
        crate::client::Exchange { request: case.request.clone(), result: Err(error), elapsed: Duration::ZERO };
    let checks = crate::check::judge(contract, case, &exchange, false);
    CaseOutcome::decide(case, exchange, checks)
}

/// Whether an outcome is kept whole until the end: a case that failed or errored is printed in
/// full, shrunk, and listed in the HTML report; any other is done with once recorded.
fn kept(outcome: &CaseOutcome) -> bool {
    matches!(outcome.outcome, Outcome::Failed | Outcome::Errored)
}

/// A finished case, with its report fragments rendered on the worker that judged it.
pub(super) struct Done {
    seq: usize,
    outcome: CaseOutcome,
    fragments: Option<(String, String)>,
}

impl Done {
    /// The outcome is masked here, on the worker that judged it, before anything renders it:
    /// the console, the spooled fragments, and (for a case kept whole) every later report.
    fn new(seq: usize, mut outcome: CaseOutcome, secrets: &Secrets, render: Option<&RunInfo>) -> Done {
        secrets.mask_outcome(&mut outcome);
        let fragments = render
            .filter(|_| !kept(&outcome))
            .map(|info| (json::case_line(&outcome, info), junit::case_xml(&outcome, info)));
        Done { seq, outcome, fragments }
    }
}

/// What a run keeps, case by case: counts, the suite of each case (4 bytes), the fragments of
/// passing cases in the spool, and whole outcomes only for cases that failed or errored.
pub(super) struct Recorder {
    pub(super) tally: Tally,
    /// (plan position, outcome) of each case kept whole; in plan order once the run is over.
    pub(super) kept: Vec<(usize, CaseOutcome)>,
    /// The suite (index into the tally) of each case, or `UNFINISHED`.
    suite_of: Vec<u32>,
    spool: Option<Spool>,
    spool_error: Option<String>,
    printer: Printer,
}

const UNFINISHED: u32 = u32::MAX;

impl Recorder {
    fn new(len: usize, printer: Printer, reports: bool) -> Recorder {
        let (spool, spool_error) = match reports.then(Spool::new) {
            None => (None, None),
            Some(Ok(spool)) => (Some(spool), None),
            Some(Err(e)) => (None, Some(format!("cannot create a temporary file for the report fragments: {e}"))),
        };
        Recorder {
            tally: Tally::default(),
            kept: Vec::new(),
            suite_of: vec![UNFINISHED; len],
            spool,
            spool_error,
            printer,
        }
    }

    fn finished(&self, seq: usize) -> bool {
        self.suite_of[seq] != UNFINISHED
    }

    fn record(&mut self, done: Done) {
        let Done { seq, outcome, fragments } = done;
        let suite = self.tally.add(seq, &outcome);
        self.suite_of[seq] = u32::try_from(suite).unwrap_or(UNFINISHED - 1);
        self.printer.case(&outcome.name, outcome.outcome);
        if let (Some(spool), Some((json, xml))) = (&mut self.spool, &fragments) {
            if let Err(e) = spool.put(seq, json.as_bytes(), xml.as_bytes()) {
                self.spool_error = Some(format!("cannot write report fragments to a temporary file: {e}"));
                self.spool = None;
            }
        }
        if kept(&outcome) {
            self.kept.push((seq, outcome));
        }
    }
}

/// What a run produced.
pub(super) struct Executed {
    pub(super) recorder: Recorder,
    pub(super) summary: RunSummary,
    pub(super) info: RunInfo,
    pub(super) planned: usize,
}

impl Executed {
    /// The cases that failed or errored, in plan order.
    pub(super) fn problems(&self) -> impl Iterator<Item = &CaseOutcome> {
        self.recorder.kept.iter().map(|(_, o)| o)
    }

    /// Prints the end of the libtest output: every failure's full story, and the result line.
    pub(super) fn print(&mut self) {
        let failures: Vec<(String, String)> = self
            .problems()
            .map(|o| (o.name.clone(), console::failure_detail(o, &self.info).trim().to_owned()))
            .collect();
        self.recorder.printer.finish(&failures);
    }

    /// The closing lines: counts with errored apart, partial runs said.
    pub(super) fn closing(&self) -> String {
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

    /// Writes the JSON, JUnit and HTML reports, assembling the spooled fragments in plan order.
    pub(super) fn write_reports(&mut self, json_path: &Path, junit_path: &Path, html_path: &Path) -> Result<(), u8> {
        let fail = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
            eprintln!("error: failed to write the {what} report `{}`: {e}", path.display());
            exit::USAGE
        };
        if let Some(e) = &self.recorder.spool_error {
            return Err(fail("JSON and JUnit", json_path, e));
        }
        if let Some(spool) = &mut self.recorder.spool {
            if let Err(e) = spool.finish() {
                return Err(fail("JSON and JUnit", json_path, &e));
            }
        }
        create(json_path, |out| self.write_json(out)).map_err(|e| fail("JSON", json_path, &e))?;
        create(junit_path, |out| self.write_junit(out)).map_err(|e| fail("JUnit", junit_path, &e))?;
        let problems: Vec<&CaseOutcome> = self.problems().collect();
        let html = report::html::render(&problems, &self.recorder.tally, &self.summary, &self.info);
        create(html_path, |out| out.write_all(html.as_bytes())).map_err(|e| fail("HTML", html_path, &e))
    }

    /// The fragment of case `seq`: spooled, or rendered now from the kept outcome.
    fn fragment(&self, seq: usize, xml: bool) -> std::io::Result<Vec<u8>> {
        let spool = self.recorder.spool.as_ref();
        let spooled = match spool {
            Some(spool) if xml => spool.xml(seq)?,
            Some(spool) => spool.json(seq)?,
            None => None,
        };
        if let Some(bytes) = spooled {
            return Ok(bytes);
        }
        let kept = &self.recorder.kept;
        let outcome = kept
            .binary_search_by_key(&seq, |(s, _)| *s)
            .map(|at| &kept[at].1)
            .map_err(|_| std::io::Error::other(format!("case {seq} finished but has no report fragment")))?;
        Ok(if xml {
            junit::case_xml(outcome, &self.info).into_bytes()
        } else {
            json::case_line(outcome, &self.info).into_bytes()
        })
    }

    fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        let finished = (0..self.planned).filter(|&seq| self.recorder.finished(seq));
        let cases = finished.map(|seq| self.fragment(seq, false));
        json::write(out, &self.summary, &self.info, cases)
    }

    fn write_junit(&self, out: &mut impl Write) -> std::io::Result<()> {
        let suites = self.recorder.tally.suites();
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); suites.len()];
        for (seq, &suite) in self.recorder.suite_of.iter().enumerate() {
            if let Some(list) = members.get_mut(suite as usize) {
                list.push(u32::try_from(seq).unwrap_or(u32::MAX));
            }
        }
        let mut order: Vec<usize> = (0..suites.len()).collect();
        order.sort_by_key(|&i| suites[i].first);
        let sorted: Vec<&SuiteTally> = order.iter().map(|&i| &suites[i]).collect();
        junit::write(out, &self.summary, &self.info, &sorted, |n, out| {
            for &seq in &members[order[n]] {
                out.write_all(&self.fragment(seq as usize, true)?)?;
            }
            Ok(())
        })
    }

    pub(super) fn exit_code(&self) -> u8 {
        if self.summary.partial {
            exit::INTERRUPTED
        } else if self.summary.success() {
            exit::SUCCESS
        } else {
            exit::FAILURES
        }
    }
}

/// Creates `path` (and its directory) and writes it through a buffer with `write`.
fn create(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
    write(&mut out)?;
    out.flush()
}

/// The cases of a run: the hand-written ones, planned up front, then the generated ones, built
/// when their turn comes; against a remote target, side-effecting cases are marked skipped.
pub(super) struct RunPlan {
    pub(super) hand: Vec<PlannedCase>,
    pub(super) generated: Option<Selection>,
    /// Why side-effecting cases are skipped, when they are.
    pub(super) guard: Option<&'static str>,
}

impl CaseSource for RunPlan {
    fn len(&self) -> usize {
        self.hand.len() + self.generated.as_ref().map_or(0, Selection::len)
    }

    fn case(&self, seq: usize) -> Option<PlannedCase> {
        let mut case = match seq.checked_sub(self.hand.len()) {
            None => self.hand.get(seq).cloned(),
            Some(n) => self.generated.as_ref().and_then(|g| g.case(n)),
        }?;
        if let (Some(reason), true) = (self.guard, case.side_effecting) {
            case.skip = Some(reason.to_owned());
        }
        Some(case)
    }
}

impl RunPlan {
    /// The longest case name (libtest pads names to it).
    pub(super) fn name_width(&self) -> usize {
        let hand = self.hand.iter().map(|c| c.name.len()).max().unwrap_or(0);
        hand.max(self.generated.as_ref().map_or(0, Selection::name_width))
    }

    /// How many cases are side-effecting.
    pub(super) fn side_effecting(&self) -> usize {
        let hand = self.hand.iter().filter(|c| c.side_effecting).count();
        let generated =
            self.generated.as_ref().map_or(0, |g| g.indexes().filter(|&i| g.generated().side_effecting(i)).count());
        hand + generated
    }
}
