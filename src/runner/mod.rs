//! The runner: sends every planned case concurrently (at most `concurrency` in flight), judges
//! each exchange, and returns the outcomes in plan order, whatever order they finished in.
//! An interruption stops new cases at once and gives those in flight a short grace period;
//! the summary then says the run was partial. [`libtest`] turns outcomes into libtest trials.

pub mod libtest;
pub mod throttle;

use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt as _};
use tokio::sync::watch;

use crate::check;
use crate::client::Client;
use crate::contract::Contract;
use crate::outcome::{CaseOutcome, RunSummary};
use crate::plan::PlannedCase;

/// How long requests in flight may still finish after an interruption.
pub const GRACE: Duration = Duration::from_secs(2);

/// How cases are run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Only the API page's statuses count as documented.
    pub strict_statuses: bool,
    /// Becomes `true` when the run is to stop (Ctrl-C).
    pub interrupt: Option<watch::Receiver<bool>>,
    /// Advanced once per finished case.
    pub progress: Option<indicatif::ProgressBar>,
    /// Spaces requests across all workers (`--rate`).
    pub rate: Option<std::sync::Arc<throttle::RateLimiter>>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig { concurrency: 16, strict_statuses: false, interrupt: None, progress: None, rate: None }
    }
}

/// Resolves once `interrupt` has been set and the grace period has passed; never without one.
async fn stopped(interrupt: Option<watch::Receiver<bool>>) {
    match interrupt {
        Some(mut rx) => {
            if rx.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(GRACE).await;
        }
        None => std::future::pending().await,
    }
}

fn interrupted(interrupt: Option<&watch::Receiver<bool>>) -> bool {
    interrupt.is_some_and(|rx| *rx.borrow())
}

/// Runs `cases` against their URLs; every case that runs ends in exactly one outcome.
pub async fn run_cases(
    contract: &Contract,
    cases: &[PlannedCase],
    client: &Client,
    config: RunConfig,
) -> (Vec<CaseOutcome>, RunSummary) {
    let started = SystemTime::now();
    let interrupt = config.interrupt.clone();
    let progress = config.progress.clone();
    let mut indexed: Vec<(usize, Option<CaseOutcome>)> = stream::iter(cases.iter().enumerate())
        .map(|(i, case)| {
            let interrupt = interrupt.clone();
            let progress = progress.clone();
            let rate = config.rate.clone();
            async move {
                if interrupted(interrupt.as_ref()) {
                    return (i, None);
                }
                if let Some(reason) = &case.skip {
                    return (i, Some(CaseOutcome::skipped(case, reason)));
                }
                let (exchange, throttled) = tokio::select! {
                    sent = throttle::send(client, &case.request, rate.as_deref()) => sent,
                    () = stopped(interrupt) => return (i, None),
                };
                let checks = check::judge(contract, case, &exchange, config.strict_statuses);
                if let Some(bar) = &progress {
                    bar.inc(1);
                }
                let mut outcome = CaseOutcome::decide(case, exchange, checks);
                if throttled > 0 && outcome.note.is_none() {
                    outcome.note = Some(format!("judged on the answer after {throttled} throttled attempt(s) (429)"));
                }
                (i, Some(outcome))
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    indexed.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<CaseOutcome> = indexed.into_iter().filter_map(|(_, o)| o).collect();
    let partial = outcomes.len() < cases.len();
    let summary = RunSummary::of(&outcomes, started, partial);
    (outcomes, summary)
}
