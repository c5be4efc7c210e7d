//! The reports as reporters of a run's events, as cargo-nextest's reporter receives them: a case
//! finished ([`Recorder::record`]), the run finished ([`Recorder::write_reports`]).
//!
//! A file format is a [`FileReport`]: it renders each finished case to its own fragment (on the
//! worker that judged the case, so rendering runs in parallel), and at the end writes its file
//! from the fragments in plan order, which the [`Spool`] keeps on disk meanwhile. Adding a format
//! is one file implementing [`FileReport`] and one line in [`file_reports`]. The console is the
//! libtest printer, which receives the same events through [`Console`].
//!
//! The recorder keeps whole only the cases printed in full at the end: every hand-written case
//! that did not pass (a case file is written by hand, so each is its own story), and the example
//! of each [`FailureGroups`] group of generated cases. Every other case is counted and spooled
//! when it finishes, so a run where 50 000 cases fail holds about as much as one where all pass.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::spool::Spool;
use super::{RunInfo, Secrets};
use crate::outcome::{CaseKind, CaseOutcome, FailureGroups, Membership, Outcome, RunSummary, SuiteTally, Tally};

/// One report file format.
pub trait FileReport: Send + Sync {
    /// Its name in messages, e.g. `JSON`.
    fn name(&self) -> &'static str;
    /// Where it is written.
    fn path(&self) -> &Path;
    /// The fragment of one finished case (its outcome already masked). `whole`: the case is
    /// printed in full (a hand-written failure, a group's example), so the fragment may tell its
    /// whole story; other cases get a bounded one.
    fn case(&self, outcome: &CaseOutcome, info: &RunInfo, whole: bool) -> Vec<u8>;
    /// Writes the file: `fragment(seq)` is the fragment of case `seq` (every case in
    /// [`RunEnd::finished`] has one).
    fn write(&self, out: &mut dyn Write, end: &RunEnd<'_>, fragment: &mut Fragments<'_>) -> io::Result<()>;
}

/// The fragments of finished cases, by plan position, for one format.
pub type Fragments<'a> = dyn FnMut(usize) -> io::Result<Vec<u8>> + 'a;

/// Where each report goes (`None`: not written).
#[derive(Debug, Clone, Default)]
pub struct ReportPaths {
    /// The JSON report.
    pub json: Option<PathBuf>,
    /// The JUnit XML report.
    pub junit: Option<PathBuf>,
    /// The HTML page.
    pub html: Option<PathBuf>,
}

/// The registered formats, for the paths given.
pub fn file_reports(paths: &ReportPaths) -> Vec<Box<dyn FileReport>> {
    let mut reports: Vec<Box<dyn FileReport>> = Vec::new();
    if let Some(path) = &paths.json {
        reports.push(Box::new(super::json::JsonReport { path: path.clone() }));
    }
    if let Some(path) = &paths.junit {
        reports.push(Box::new(super::junit::JunitReport { path: path.clone() }));
    }
    if let Some(path) = &paths.html {
        reports.push(Box::new(super::html::HtmlReport::new(path.clone(), paths)));
    }
    reports
}

/// What every format knows when the run is over.
pub struct RunEnd<'a> {
    /// The counts.
    pub summary: &'a RunSummary,
    /// The run's facts (target, seed, …).
    pub info: &'a RunInfo,
    /// Counts per suite, check and answer.
    pub tally: &'a Tally,
    /// The failures, grouped.
    pub groups: &'a FailureGroups,
    /// Why the run stopped before its end, when it did (`--max-failures`).
    pub stopped: Option<&'a str>,
    /// The coverage table of generated cases, as printed.
    pub coverage: &'a str,
    /// Plan positions of the finished cases, in plan order.
    pub finished: &'a [usize],
    /// The suites in plan order, each with the plan positions of its finished cases.
    pub suites: &'a [(&'a SuiteTally, Vec<usize>)],
    /// The outcome of each finished case, in plan order.
    pub outcomes: &'a [Outcome],
    /// Plan positions of the cases kept whole (told in full), in plan order.
    pub whole: &'a [usize],
}

/// The console's side of the events.
pub trait Console: Send {
    /// A case finished. `whole`: it will be printed in full at the end.
    fn case_finished(&mut self, outcome: &CaseOutcome, whole: bool, info: &RunInfo);
    /// A case that was to be printed in full will not be after all (a case of its group that
    /// comes before it in the plan finished later): the console may say it now, briefly.
    fn demoted(&mut self, outcome: &CaseOutcome, info: &RunInfo);
    /// `-v`: the exchanges of a case that just finished ([`console::exchange_log`]), said
    /// before its line.
    fn exchange_log(&mut self, _text: &str) {}
    /// The run finished: `stories` are the cases kept whole (name, full story), in plan order;
    /// `more` cases did not pass either and were not kept whole.
    fn run_finished(&mut self, stories: &[(String, String)], more: usize);
}

/// A finished case, masked, with its fragments rendered on the worker that judged it.
pub struct Done {
    seq: usize,
    outcome: CaseOutcome,
    fragments: Option<Vec<Vec<u8>>>,
    /// `-v`'s exchange log of the case.
    log: Option<String>,
}

impl Done {
    /// The outcome is masked here, on the worker that judged it, before anything renders it:
    /// the console, the fragments, and (for a case kept whole) every later report.
    /// `verbose` (the number of `-v`) asks for the exchange log; a passing case's answer is
    /// dropped here, after the log (if any) was rendered from it, and before it is masked if no
    /// log needs it: a passing run pays nothing for it, and reports only hold what did not pass.
    pub fn new(
        seq: usize,
        mut outcome: CaseOutcome,
        secrets: &Secrets,
        reports: Option<&Reports>,
        verbose: u8,
    ) -> Done {
        let passed = outcome.outcome == crate::outcome::Outcome::Passed;
        if passed && verbose == 0 {
            outcome.response = None;
        }
        secrets.mask_outcome(&mut outcome);
        let log = (verbose > 0).then(|| super::console::exchange_log(&outcome, verbose > 1));
        if passed {
            outcome.response = None;
        }
        // A case always told in full is rendered at the end instead.
        let fragments = reports
            .filter(|_| !always_told_in_full(&outcome))
            .map(|r| r.formats.iter().map(|f| f.case(&outcome, &r.info, false)).collect());
        Done { seq, outcome, fragments, log }
    }
}

/// A hand-written case that did not pass: each case file entry is its own story, kept whole.
fn always_told_in_full(outcome: &CaseOutcome) -> bool {
    outcome.kind() == CaseKind::HandWritten && matches!(outcome.outcome, Outcome::Failed | Outcome::Errored)
}

/// The formats of a run, and what their fragments say of it.
pub struct Reports {
    /// The formats.
    pub formats: Vec<Box<dyn FileReport>>,
    /// The run's facts.
    pub info: RunInfo,
}

/// Stops the run once `limit` cases did not pass (`--max-failures`, `--fail-fast`).
pub struct FailureLimit {
    /// How many.
    pub limit: usize,
    /// What stops new cases.
    pub stop: Box<dyn Fn() + Send>,
}

const UNFINISHED: u32 = u32::MAX;

/// What a run keeps, case by case: counts, groups, the suite of each case (4 bytes), the
/// fragments in the spool, and whole outcomes only for the cases printed in full.
pub struct Recorder {
    /// The counts.
    pub tally: Tally,
    /// The failures, grouped.
    pub groups: FailureGroups,
    /// (plan position, outcome) of each case kept whole; in plan order once the run is over.
    pub kept: Vec<(usize, CaseOutcome)>,
    /// The suite (index into the tally) of each case, or `UNFINISHED`.
    suite_of: Vec<u32>,
    /// The outcome of each finished case (one byte a case: the HTML page lists passing cases
    /// only up to a bound, and must know which they are without reading their fragments).
    outcome_of: Vec<Outcome>,
    info: RunInfo,
    spool: Option<Spool>,
    spool_error: Option<String>,
    reports: Option<Arc<Reports>>,
    console: Box<dyn Console>,
    limit: Option<FailureLimit>,
    /// The failure limit was reached.
    pub limit_reached: bool,
}

impl Recorder {
    /// A recorder for a plan of `len` cases (it grows when a case past them finishes: the
    /// validation proxy's exchanges are numbered as they come, not planned); `reports` `None`
    /// writes no file.
    pub fn new(
        len: usize,
        (console, info): (Box<dyn Console>, RunInfo),
        reports: Option<Arc<Reports>>,
        limit: Option<FailureLimit>,
    ) -> Self {
        let parts = reports.as_ref().map(|r| r.formats.len());
        let (spool, spool_error) = match parts.map(Spool::new) {
            None => (None, None),
            Some(Ok(spool)) => (Some(spool), None),
            Some(Err(e)) => (None, Some(format!("cannot create a temporary file for the report fragments: {e}"))),
        };
        Recorder {
            tally: Tally::default(),
            groups: FailureGroups::default(),
            kept: Vec::new(),
            suite_of: vec![UNFINISHED; len],
            outcome_of: vec![Outcome::Skipped; len],
            info,
            spool,
            spool_error,
            reports,
            console,
            limit,
            limit_reached: false,
        }
    }

    /// Whether case `seq` finished.
    pub fn finished(&self, seq: usize) -> bool {
        self.suite_of.get(seq).is_some_and(|&s| s != UNFINISHED)
    }

    /// Event: a case finished.
    pub fn record(&mut self, done: Done) {
        let Done { seq, outcome, fragments, log } = done;
        if let Some(log) = log {
            self.console.exchange_log(&log);
        }
        if seq >= self.suite_of.len() {
            self.suite_of.resize(seq + 1, UNFINISHED);
            self.outcome_of.resize(seq + 1, Outcome::Skipped);
        }
        let suite = self.tally.add(seq, &outcome);
        self.suite_of[seq] = u32::try_from(suite).unwrap_or(UNFINISHED - 1);
        self.outcome_of[seq] = outcome.outcome;
        let whole = match self.groups.add(seq, &outcome) {
            Some(_) if always_told_in_full(&outcome) => true,
            None | Some(Membership::Member) => false,
            Some(Membership::Example { displaced }) => {
                if let Some(former) = displaced {
                    self.demote(former);
                }
                true
            }
        };
        self.console.case_finished(&outcome, whole, &self.info);
        if whole {
            self.kept.push((seq, outcome));
        } else {
            self.spool_fragments(seq, fragments, &outcome);
        }
        self.check_limit();
    }

    fn check_limit(&mut self) {
        let Some(limit) = &self.limit else { return };
        if !self.limit_reached && self.tally.failed + self.tally.errored >= limit.limit {
            self.limit_reached = true;
            (limit.stop)();
        }
    }

    /// A kept case stops being kept: its fragments are rendered now.
    fn demote(&mut self, seq: usize) {
        let Some(at) = self.kept.iter().position(|(s, _)| *s == seq) else { return };
        let (_, outcome) = self.kept.swap_remove(at);
        self.console.demoted(&outcome, &self.info);
        self.spool_fragments(seq, None, &outcome);
    }

    fn spool_fragments(&mut self, seq: usize, fragments: Option<Vec<Vec<u8>>>, outcome: &CaseOutcome) {
        let (Some(spool), Some(reports)) = (&mut self.spool, &self.reports) else { return };
        let fragments = fragments
            .unwrap_or_else(|| reports.formats.iter().map(|f| f.case(outcome, &reports.info, false)).collect());
        if let Err(e) = spool.put(seq, &fragments) {
            self.spool_error = Some(format!("cannot write report fragments to a temporary file: {e}"));
            self.spool = None;
        }
    }

    /// The kept cases in plan order (call once the run is over).
    pub fn sort_kept(&mut self) {
        self.kept.sort_by_key(|(seq, _)| *seq);
    }

    /// Event for the console: the run finished. Prints the full story of each case kept whole.
    pub fn print_end(&mut self) {
        self.sort_kept();
        let stories: Vec<(String, String)> = self
            .kept
            .iter()
            .map(|(_, o)| (o.name.clone(), super::console::failure_detail(o, &self.info).trim().to_owned()))
            .collect();
        let more = (self.tally.failed + self.tally.errored).saturating_sub(stories.len());
        self.console.run_finished(&stories, more);
    }

    /// The run's facts.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// Event: the run finished. Writes every report; `Err` holds one message per report that
    /// could not be written (the others are written still).
    pub fn write_reports(
        &mut self,
        summary: &RunSummary,
        stopped: Option<&str>,
        coverage: &str,
    ) -> Result<(), Vec<String>> {
        let Some(reports) = self.reports.clone() else { return Ok(()) };
        let fail = |report: &dyn FileReport, e: &dyn std::fmt::Display| {
            format!("failed to write the {} report `{}`: {e}", report.name(), report.path().display())
        };
        if let Some(e) = &self.spool_error {
            return Err(reports.formats.iter().map(|r| fail(r.as_ref(), e)).collect());
        }
        if let Some(spool) = &mut self.spool {
            if let Err(e) = spool.finish() {
                return Err(reports.formats.iter().map(|r| fail(r.as_ref(), &e)).collect());
            }
        }
        self.sort_kept();
        let finished: Vec<usize> = (0..self.suite_of.len()).filter(|&seq| self.finished(seq)).collect();
        let suites = self.suites();
        let outcomes = self.outcomes(&finished);
        let whole: Vec<usize> = self.kept.iter().map(|(seq, _)| *seq).collect();
        let end = RunEnd {
            whole: &whole,
            summary,
            info: &reports.info,
            tally: &self.tally,
            groups: &self.groups,
            stopped,
            coverage,
            finished: &finished,
            suites: &suites,
            outcomes: &outcomes,
        };
        let mut errors = Vec::new();
        for (part, report) in reports.formats.iter().enumerate() {
            let mut fragment = |seq: usize| self.fragment(report.as_ref(), &reports.info, part, seq);
            if let Err(e) = super::atomic::replace_file(report.path(), |out| report.write(out, &end, &mut fragment)) {
                errors.push(fail(report.as_ref(), &e));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn outcomes(&self, finished: &[usize]) -> Vec<Outcome> {
        finished.iter().map(|&seq| self.outcome_of[seq]).collect()
    }

    fn suites(&self) -> Vec<(&SuiteTally, Vec<usize>)> {
        let all = self.tally.suites();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); all.len()];
        for (seq, &suite) in self.suite_of.iter().enumerate() {
            if let Some(list) = members.get_mut(suite as usize) {
                list.push(seq);
            }
        }
        let mut suites: Vec<(&SuiteTally, Vec<usize>)> = all.iter().zip(members).collect();
        suites.sort_by_key(|(s, _)| s.first);
        suites
    }

    /// The fragment of case `seq`: spooled, or rendered now from the kept outcome.
    fn fragment(&self, report: &dyn FileReport, info: &RunInfo, part: usize, seq: usize) -> io::Result<Vec<u8>> {
        if let Some(bytes) = self.spool.as_ref().map(|s| s.get(seq, part)).transpose()?.flatten() {
            return Ok(bytes);
        }
        let at = self
            .kept
            .binary_search_by_key(&seq, |(s, _)| *s)
            .map_err(|_| io::Error::other(format!("case {seq} finished but has no report fragment")))?;
        Ok(report.case(&self.kept[at].1, info, true))
    }
}
