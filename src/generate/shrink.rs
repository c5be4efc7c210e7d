//! Shrinking a failing generated case: walk its proptest value tree, sending one request per
//! step, keeping a simpler input whenever it still fails the same check, until the tree has
//! nothing simpler or the step or time budget runs out.

use std::time::{Duration, Instant};

use super::Generated;
use crate::check::{self, CheckKind};
use crate::client::Client;
use crate::contract::Contract;
use crate::plan::PlannedCase;

/// Bounds on one shrink.
#[derive(Debug, Clone, Copy)]
pub struct ShrinkConfig {
    /// Most requests sent.
    pub max_steps: usize,
    /// Most time spent.
    pub max_time: Duration,
    /// Only the API page's statuses count as documented.
    pub strict_statuses: bool,
}

impl Default for ShrinkConfig {
    fn default() -> Self {
        ShrinkConfig { max_steps: 500, max_time: Duration::from_secs(10), strict_statuses: false }
    }
}

/// The smallest input found that still fails the same check.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The minimal case: its request, path parameters and mutation in words.
    pub case: PlannedCase,
    /// Requests sent while shrinking.
    pub steps: usize,
    /// The check it still fails.
    pub check: CheckKind,
}

/// Shrinks case `index`, which failed `failing`; `None` if it cannot be rebuilt.
pub async fn shrink(
    contract: &Contract,
    client: &Client,
    generated: &Generated,
    index: usize,
    failing: CheckKind,
    config: ShrinkConfig,
) -> Option<Shrunk> {
    let mut tree = generated.tree(index)?;
    let started = Instant::now();
    let mut best = generated.planned(index, tree.current());
    let mut steps = 0;
    let mut more = tree.simplify();
    while more && steps < config.max_steps && started.elapsed() < config.max_time {
        steps += 1;
        let candidate = generated.planned(index, tree.current());
        let exchange = client.send(candidate.request.clone()).await;
        let results = check::judge(contract, &candidate, &exchange, config.strict_statuses);
        let still_fails = results.iter().any(|r| r.check == failing && r.failed());
        if still_fails {
            best = candidate;
            more = tree.simplify();
        } else {
            more = tree.complicate();
        }
    }
    Some(Shrunk { case: best, steps, check: failing })
}
