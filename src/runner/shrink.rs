//! Shrinking a failing generated case: walk its proptest value tree, sending one request per
//! step, keeping a simpler input whenever it still fails the same check, until the tree has
//! nothing simpler or the step or time budget runs out.
//!
//! Candidates are sent as the run sends its cases ([`throttle::send`]): within `--rate`, and a
//! candidate answered 429 is retried after Retry-After and judged on its real answer. A 429 is
//! never the candidate's answer: it fails `status_expected` like the fault being shrunk, and
//! would be taken for it. A candidate still throttled after every retry stops the shrink; the
//! smallest input found so far stands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::throttle::{self, RateLimiter};
use crate::check::{self, CheckKind};
use crate::client::{Client, TransportError};
use crate::contract::Contract;
use crate::generate::Generated;
use crate::outcome::Shrunk;

/// Bounds on one shrink, and how its requests are spaced.
#[derive(Debug, Clone)]
pub struct ShrinkConfig {
    /// Most requests sent.
    pub max_steps: usize,
    /// Most time spent.
    pub max_time: Duration,
    /// Only the API page's statuses count as documented.
    pub strict_statuses: bool,
    /// The run's rate limiter (`--rate`), shared with everything else the run sends.
    pub rate: Option<Arc<RateLimiter>>,
}

impl Default for ShrinkConfig {
    fn default() -> Self {
        ShrinkConfig { max_steps: 500, max_time: Duration::from_secs(10), strict_statuses: false, rate: None }
    }
}

/// Shrinks case `index` of `generated`, which failed `failing`; `None` if it cannot be rebuilt.
pub async fn shrink(
    contract: &Contract,
    client: &Client,
    generated: &Generated,
    index: usize,
    failing: CheckKind,
    config: ShrinkConfig,
) -> Option<Shrunk> {
    let mut tree = generated.tree(index).ok()?;
    let started = Instant::now();
    let mut best = generated.planned(index, tree.current());
    let (mut steps, mut throttled) = (0, false);
    let mut more = tree.simplify();
    while more && steps < config.max_steps {
        let Some(left) = config.max_time.checked_sub(started.elapsed()).filter(|left| !left.is_zero()) else {
            break;
        };
        steps += 1;
        let candidate = generated.planned(index, tree.current());
        // Waiting out a Retry-After counts against the time budget too.
        let sent = throttle::send(client, candidate.request.clone(), config.rate.as_deref());
        let Ok((exchange, _)) = tokio::time::timeout(left, sent).await else { break };
        if let Err(TransportError::Throttled(_)) = exchange.result {
            throttled = true;
            break;
        }
        let results = check::judge(contract, &candidate, &exchange, config.strict_statuses);
        let still_fails = results.iter().any(|r| r.check == failing && r.failed());
        if still_fails {
            best = candidate;
            more = tree.simplify();
        } else {
            more = tree.complicate();
        }
    }
    Some(Shrunk { case: best, steps, check: failing, throttled })
}
