//! The runner: sends every case of a [`CaseSource`] concurrently (at most `concurrency` in
//! flight), judges each exchange, and hands each outcome to a sink as it finishes.
//!
//! Cases are built on demand, one per task, so a run of a million generated cases never holds
//! them all; each case is built, sent, judged and rendered on tokio's worker threads, and only
//! what the sink keeps stays in memory. An interruption stops new cases at once and gives those
//! in flight a short grace period; the run then says it was partial. [`libtest`] prints outcomes
//! the way libtest does; [`shrink`] shrinks a failing generated case after the run, sending as
//! the run sends ([`throttle`]).

pub mod lane;
pub mod libtest;
pub mod shrink;
pub mod stateful;
pub mod throttle;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt as _};
use tokio::sync::watch;

use crate::check;
use crate::client::Client;
use crate::contract::Contract;
use crate::outcome::CaseOutcome;
use crate::plan::{PlannedCase, Unbuilt};

/// Side-effecting cases queued for their lanes at once, at most: beyond it, a case waits for a
/// place holding its concurrency slot (bounds the memory of a long run of side-effecting cases).
const LANE_QUEUE: usize = 256;

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
    pub rate: Option<Arc<throttle::RateLimiter>>,
    /// Side-effecting cases go through per-engine lanes and are judged by the engine's state;
    /// `None` judges them without state, concurrently like the rest.
    pub state: Option<Arc<lane::StateLanes>>,
    /// The stateful phase; without it, stateful cases are skipped, saying why.
    pub stateful: Option<Arc<stateful::Phase>>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            concurrency: 16,
            strict_statuses: false,
            interrupt: None,
            progress: None,
            rate: None,
            state: None,
            stateful: None,
        }
    }
}

/// The cases of a run, by position: built when their turn comes, not before.
pub trait CaseSource: Send + Sync {
    /// How many cases.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Case `seq` (`seq < len()`); `Err` if it cannot be built, and why: the run reports it
    /// errored.
    fn case(&self, seq: usize) -> Result<PlannedCase, Box<Unbuilt>>;
}

impl CaseSource for Vec<PlannedCase> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn case(&self, seq: usize) -> Result<PlannedCase, Box<Unbuilt>> {
        Ok(self[seq].clone())
    }
}

/// What the runner says of a run besides the outcomes it handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ran {
    /// When the run started.
    pub started: SystemTime,
    /// Outcomes handed to the sink.
    pub finished: usize,
    /// The run was told to stop (a signal, the deadline, the failure limit) and some case did
    /// not finish because of it. Nothing else makes a run partial: every case started ends in
    /// an outcome, a case that cannot be built included.
    pub partial: bool,
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

/// Sends, judges and decides one case. The request is moved into the exchange and on into the
/// outcome, and the case's names into the outcome: nothing is copied but the method. `None`
/// only when the run's stop kept it from finishing.
async fn run_one(
    contract: &Contract,
    mut case: PlannedCase,
    client: &Client,
    config: &RunConfig,
) -> Option<CaseOutcome> {
    if let Some(reason) = &case.skip {
        return Some(CaseOutcome::skipped(&case, reason));
    }
    if let crate::plan::Origin::Stateful(_) = case.origin {
        let Some(phase) = &config.stateful else {
            return Some(CaseOutcome::skipped(&case, stateful::UNAVAILABLE));
        };
        return tokio::select! {
            outcome = phase.run(case, config.rate.clone()) => Some(outcome),
            () = stopped(config.interrupt.clone()) => None,
        };
    }
    if let (true, Some(lanes)) = (case.side_effecting, &config.state) {
        return lane::run(lanes, contract, case, client, config).await;
    }
    let request = std::mem::take(&mut case.request);
    case.request.method.clone_from(&request.method);
    let (exchange, throttled) = tokio::select! {
        sent = throttle::send(client, request, config.rate.as_deref()) => sent,
        () = stopped(config.interrupt.clone()) => return None,
    };
    // The checks read the request from the exchange: whole, as it was sent.
    let checks = check::judge(contract, &case, &exchange, config.strict_statuses);
    let mut outcome = CaseOutcome::decide_owned(case, exchange, checks);
    if throttled > 0 && outcome.note.is_none() {
        outcome.note = Some(format!("judged on the answer after {throttled} throttled attempt(s) (429)"));
    }
    Some(outcome)
}

/// What the tasks of a run's cases share.
struct Shared<T, F> {
    contract: Arc<Contract>,
    source: Arc<dyn CaseSource>,
    client: Client,
    config: RunConfig,
    finish: F,
    /// Outcomes of the cases run in their engine's lane (the lane's tasks end after the case's
    /// own task): the channel ends when the last holder of this is gone.
    lane_tx: tokio::sync::mpsc::UnboundedSender<T>,
    /// Side-effecting cases queued for their lanes.
    queue: Arc<tokio::sync::Semaphore>,
    /// Set when the run's stop keeps a case from starting or finishing: what makes a run partial.
    cut_short: Arc<AtomicBool>,
}

impl<T, F> Shared<T, F>
where
    T: Send + 'static,
    F: Fn(usize, CaseOutcome) -> T + Send + Sync + 'static,
{
    /// The case was not run to its end: the run was told to stop.
    fn stopped(&self) -> Option<T> {
        self.cut_short.store(true, Ordering::Relaxed);
        None
    }

    /// What the sink receives of case `seq`'s outcome.
    fn done(&self, seq: usize, outcome: CaseOutcome) -> T {
        if let Some(bar) = &self.config.progress {
            bar.inc(1);
        }
        (self.finish)(seq, outcome)
    }

    /// Builds, runs and decides case `seq`. `None`: it was stopped, or went to its engine's
    /// lane, which sends its outcome through `lane_tx`. A case that cannot be built is errored.
    async fn run(self: Arc<Self>, seq: usize) -> Option<T> {
        if interrupted(self.config.interrupt.as_ref()) {
            return self.stopped();
        }
        let case = match self.source.case(seq) {
            Ok(case) => case,
            Err(unbuilt) => return Some(self.done(seq, CaseOutcome::unbuilt(*unbuilt))),
        };
        let stateful = matches!(case.origin, crate::plan::Origin::Stateful(_));
        let laned = (case.side_effecting && self.config.state.is_some() || stateful) && case.skip.is_none();
        if !laned {
            return match run_one(&self.contract, case, &self.client, &self.config).await {
                Some(outcome) => Some(self.done(seq, outcome)),
                None => self.stopped(),
            };
        }
        let Ok(permit) = self.queue.clone().acquire_owned().await else { return self.stopped() };
        tokio::spawn(async move {
            let _permit = permit;
            match run_one(&self.contract, case, &self.client, &self.config).await {
                Some(outcome) => {
                    let _ = self.lane_tx.send(self.done(seq, outcome));
                }
                None => {
                    self.stopped();
                }
            }
        });
        None
    }
}

/// Runs every case of `source`; each that runs ends in exactly one outcome. `finish` turns an
/// outcome into what the sink receives and runs on the worker that judged the case (so costly
/// work such as rendering happens in parallel); `sink` receives them in the order they finish.
pub async fn run_cases<T, F, S>(
    contract: Arc<Contract>,
    source: Arc<dyn CaseSource>,
    client: &Client,
    config: RunConfig,
    finish: F,
    mut sink: S,
) -> Ran
where
    T: Send + 'static,
    F: Fn(usize, CaseOutcome) -> T + Send + Sync + 'static,
    S: FnMut(T),
{
    let started = SystemTime::now();
    let mut finished = 0;
    let (len, concurrency) = (source.len(), config.concurrency.max(1));
    let stop = config.interrupt.clone();
    let cut_short = Arc::new(AtomicBool::new(false));
    // Side-effecting cases judged by state wait for their engine's lane on tasks of their own
    // (at most LANE_QUEUE at once), so a case waiting for its turn holds no concurrency slot.
    let (lane_tx, mut lane_rx) = tokio::sync::mpsc::unbounded_channel::<T>();
    let queue = Arc::new(tokio::sync::Semaphore::new(LANE_QUEUE));
    let shared = Arc::new(Shared {
        contract,
        source,
        client: client.clone(),
        config,
        finish,
        lane_tx,
        queue,
        cut_short: cut_short.clone(),
    });
    let main = stream::iter(0..len)
        .take_while({
            let cut_short = cut_short.clone();
            move |_| {
                let stopped = interrupted(stop.as_ref());
                if stopped {
                    cut_short.store(true, Ordering::Relaxed);
                }
                std::future::ready(!stopped)
            }
        })
        .map(move |seq| tokio::spawn(shared.clone().run(seq)))
        .buffer_unordered(concurrency);
    let mut main = Some(Box::pin(main));
    loop {
        tokio::select! {
            joined = async { main.as_mut()?.next().await }, if main.is_some() => match joined {
                Some(Ok(Some(item))) => {
                    finished += 1;
                    sink(item);
                }
                Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Some(_) => {}
                // Every case has been started: dropping the stream drops its senders, so the
                // lane channel ends once the last laned case is done.
                None => main = None,
            },
            item = lane_rx.recv() => match item {
                Some(item) => {
                    finished += 1;
                    sink(item);
                }
                None if main.is_none() => break,
                None => {}
            },
        }
    }
    Ran { started, finished, partial: cut_short.load(Ordering::Relaxed) }
}

/// Runs `cases` and returns their outcomes in plan order (for small runs and tests).
pub async fn run_all(
    contract: Arc<Contract>,
    cases: Vec<PlannedCase>,
    client: &Client,
    config: RunConfig,
) -> (Vec<CaseOutcome>, Ran) {
    let mut indexed = Vec::with_capacity(cases.len());
    let ran = run_cases(contract, Arc::new(cases), client, config, |seq, o| (seq, o), |item| indexed.push(item)).await;
    indexed.sort_by_key(|(seq, _)| *seq);
    (indexed.into_iter().map(|(_, o)| o).collect(), ran)
}
