//! The runner: sends every planned case concurrently (at most `concurrency` in flight), judges
//! each exchange, and returns the outcomes in plan order, whatever order they finished in.

use std::time::Instant;

use futures_util::stream::{self, StreamExt as _};

use crate::check;
use crate::client::Client;
use crate::contract::Contract;
use crate::outcome::{CaseOutcome, RunSummary};
use crate::plan::PlannedCase;

/// How cases are run.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Only the API page's statuses count as documented.
    pub strict_statuses: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            concurrency: 16,
            strict_statuses: false,
        }
    }
}

/// Runs `cases` against their URLs; every case ends in exactly one outcome.
pub async fn run_cases(
    contract: &Contract,
    cases: &[PlannedCase],
    client: &Client,
    config: RunConfig,
) -> (Vec<CaseOutcome>, RunSummary) {
    let started = Instant::now();
    let mut indexed: Vec<(usize, CaseOutcome)> = stream::iter(cases.iter().enumerate())
        .map(|(i, case)| async move {
            let exchange = client.send(case.request.clone()).await;
            let checks = check::judge(contract, case, &exchange, config.strict_statuses);
            (i, CaseOutcome::decide(case, exchange, checks))
        })
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    indexed.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<CaseOutcome> = indexed.into_iter().map(|(_, o)| o).collect();
    let summary = RunSummary::of(&outcomes, started.elapsed());
    (outcomes, summary)
}
