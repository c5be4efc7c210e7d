//! A run once everything is loaded: the [`Session`] (contract, target, what reports say) runs the
//! planned cases, and [`Executed`] holds what came of them until it is printed and written.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::target::Target;
use super::{exit, report_error};
use crate::case::CaseFile;
use crate::client::Client;
use crate::contract::Contract;
use crate::outcome::{CaseOutcome, RunSummary};
use crate::plan::{Filter, PlanConfig, PlannedCase, plan};
use crate::report::{self, RunInfo, Secrets};
use crate::runner::{self, RunConfig, libtest, run_cases};

/// What a run needs once everything is loaded and the target is known.
pub(super) struct Session {
    pub(super) contract: Arc<Contract>,
    pub(super) target: Target,
    pub(super) info: RunInfo,
    pub(super) secrets: Secrets,
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
    pub(super) fn plan(&self, files: &[CaseFile], filter: Filter) -> Result<Vec<PlannedCase>, u8> {
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
    pub(super) async fn execute(
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
    pub(super) async fn close(self) {
        if let Some(mock) = self.target.mock {
            mock.shutdown().await;
        }
    }
}

/// Every case in plan order: those that ran as they ran, the others errored by the deadline.
pub(super) fn past_deadline(
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

/// What a run produced.
pub(super) struct Executed {
    pub(super) outcomes: Vec<CaseOutcome>,
    pub(super) summary: RunSummary,
    pub(super) info: RunInfo,
    pub(super) secrets: Secrets,
    pub(super) planned: usize,
}

impl Executed {
    /// Prints the outcomes through libtest-mimic, in `args`' format.
    pub(super) fn print(&self, args: &libtest_mimic::Arguments) {
        let trials = self.outcomes.iter().map(|o| libtest::trial(o, &self.info, &self.secrets)).collect();
        let _ = libtest_mimic::run(&libtest::for_printing(args), trials);
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

    /// Writes the JSON, JUnit and HTML reports.
    pub(super) fn write_reports(&self, json: &Path, junit: &Path, html: &Path) -> Result<(), u8> {
        let json_text = report::json::render(&self.outcomes, &self.summary, &self.info, &self.secrets);
        let junit_text = report::junit::render(&self.outcomes, &self.summary, &self.info, &self.secrets);
        let html_text = report::html::render(&self.outcomes, &self.summary, &self.info, &self.secrets);
        for (path, text, what) in [(json, json_text, "JSON"), (junit, junit_text, "JUnit"), (html, html_text, "HTML")] {
            if let Err(e) = write_file(path, &text) {
                eprintln!("error: failed to write the {what} report `{}`: {e}", path.display());
                return Err(exit::USAGE);
            }
        }
        Ok(())
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

pub(super) fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}
