//! Side-effecting cases against a target that keeps state. A valid Retry starts a job, and
//! whether a conformant server accepts the next one depends on the engine's state at that
//! moment, so such cases go through a *lane* per engine: one at a time, each read before (and,
//! when refused, after) through the sibling read operations, while every other case stays
//! concurrent. The reading before decides whether to send at all (an engine that can never be
//! retried again: the case is skipped with that reason) or to wait (`--wait-retryable`); the
//! reading after decides whether a refusal was the state's doing (`state_justified`).
//!
//! An *armed* case is an invalid request that a defective server would act on (a Retry whose
//! action is padded with a tab): it expects a refusal, and it is a test only while the engine is
//! retryable, since a busy engine refuses it for its state whatever the server thinks of the
//! request, and the defect hides. It takes the lane like a valid Retry, and waits for the engine
//! to be retryable, from a budget of [`ARMED_WAIT`] for the whole run (a real job takes minutes);
//! one sent to a busy engine says so in its note.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::throttle::{self, RateLimiter};
use crate::check::{CheckKind, StateEvidence};
use crate::client::{Client, Request};
use crate::plan::PlannedCase;
use crate::stateful::{ReadError, Reads, Snapshot, justify};

/// The longest pause between two readings while waiting for a retryable engine.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The first pause.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// What the reading before a side-effecting case decided.
#[derive(Debug)]
pub enum Before {
    /// Send it; the reading, if the state could be read.
    Send(Option<Snapshot>),
    /// Do not: the precondition will not come back. The reason.
    Skip(String),
}

/// What the lanes did over a run, for the closing note.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LaneCounts {
    /// Side-effecting cases sent.
    pub sent: usize,
    /// Of those, sent while the engine read as retryable.
    pub sent_retryable: usize,
    /// Accepted (2xx).
    pub accepted: usize,
    /// Refused, and the state explained it.
    pub justified: usize,
    /// Refused, and the state did not explain it.
    pub unjustified: usize,
    /// Skipped: the engine could not become retryable again.
    pub skipped: usize,
    /// Armed cases sent while the engine was not retryable: a wrongful acceptance could not show.
    pub unarmed: usize,
}

/// The lanes of a run: one per engine, and the reads that judge by state.
#[derive(Debug)]
pub struct StateLanes {
    reads: Reads,
    /// The client of the reads: the run's, with a small body cap (an engine or a job is a few
    /// hundred bytes; a target that answers the reads with megabytes costs no memory).
    client: Client,
    wait: Duration,
    /// Per engine: the lane, holding the id of the last job this run started on the engine.
    lanes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<i64>>>>>,
    counts: [AtomicUsize; 7],
    /// What is left of the time armed cases may wait for a retryable engine.
    armed_wait: Mutex<Duration>,
    /// The engine's latest job when the run first read it.
    first_job: std::sync::OnceLock<String>,
}

/// How long the armed cases of a run may wait for a retryable engine, in all (at least
/// `--wait-retryable` each).
pub const ARMED_WAIT: Duration = Duration::from_secs(60);

/// Whether `case` is armed (see the module's documentation): sent in its engine's lane though
/// it expects a refusal.
pub fn is_armed(case: &PlannedCase) -> bool {
    case.side_effecting && !case.expect.statuses.iter().any(|s| (200..300).contains(s))
}

/// What [`StateLanes`] counts, as indexes of its counters (in [`LaneCounts`]' order).
#[derive(Debug, Clone, Copy)]
enum Count {
    Sent,
    SentRetryable,
    Accepted,
    Justified,
    Unjustified,
    Skipped,
    Unarmed,
}

impl StateLanes {
    /// Lanes reading state with `reads` through `client`, waiting up to `wait` for a retryable
    /// engine.
    pub fn new(reads: Reads, wait: Duration, client: Client) -> StateLanes {
        StateLanes {
            reads,
            client,
            wait,
            lanes: Mutex::new(HashMap::new()),
            counts: Default::default(),
            armed_wait: Mutex::new(ARMED_WAIT),
            first_job: std::sync::OnceLock::new(),
        }
    }

    /// Records the engine's latest job as first read (the first call wins).
    pub fn saw_job(&self, id: &str) {
        let _ = self.first_job.set(id.to_owned());
    }

    /// The engine's latest job when the run first read it: a job a read may name (`${job_id}`).
    pub fn first_job(&self) -> Option<&str> {
        self.first_job.get().map(String::as_str)
    }

    /// The reads.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The client of the reads.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// What the lanes did so far.
    pub fn counts(&self) -> LaneCounts {
        let n = |c: Count| self.counts[c as usize].load(Ordering::Relaxed);
        LaneCounts {
            sent: n(Count::Sent),
            sent_retryable: n(Count::SentRetryable),
            accepted: n(Count::Accepted),
            justified: n(Count::Justified),
            unjustified: n(Count::Unjustified),
            skipped: n(Count::Skipped),
            unarmed: n(Count::Unarmed),
        }
    }

    fn count(&self, c: Count) {
        self.counts[c as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The lane of the engine `case` acts on: by its path parameters (project and engine), in
    /// name order, so a case that overrides one of them lands in the same lane.
    fn lane(&self, case: &PlannedCase) -> Arc<tokio::sync::Mutex<Option<i64>>> {
        self.lane_of(&case.path_parameters)
    }

    /// The lane of the engine `params` name. It holds the id of the last job this run started
    /// on the engine.
    pub(crate) fn lane_of(&self, params: &Map<String, Value>) -> Arc<tokio::sync::Mutex<Option<i64>>> {
        let mut pairs: Vec<(&String, String)> = params.iter().map(|(k, v)| (k, v.to_string())).collect();
        pairs.sort();
        let key = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let mut lanes = self.lanes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        lanes.entry(key).or_default().clone()
    }

    /// Reads the engine named by `params`, and its newest job when it names one (a job that
    /// cannot be read leaves the job unknown, not the engine).
    pub async fn read(&self, rate: Option<&RateLimiter>, params: &Map<String, Value>) -> Result<Snapshot, ReadError> {
        let client = &self.client;
        let request = self.reads.engine_request(params)?;
        let response = send(client, rate, request).await?;
        let mut snapshot = self.reads.parse_engine(&response)?;
        if let Some(id) = snapshot.latest_job_id.clone() {
            let request = self.reads.job_request(params, &id)?;
            if let Ok(response) = send(client, rate, request).await {
                snapshot.job = self.reads.parse_job(&id, &response).ok();
            }
        }
        Ok(snapshot)
    }

    /// Reads the engine before a side-effecting case; waits (with backoff, up to `wait`) while
    /// it is busy. Sends when it is retryable, or still busy at the end of the wait (a refusal
    /// is then the state's doing); skips when nothing can make it retryable again.
    async fn before(&self, rate: Option<&RateLimiter>, case: &PlannedCase, accepted: Option<i64>) -> Before {
        if !is_armed(case) {
            return self.wait_retryable(rate, &case.path_parameters, accepted, self.wait).await;
        }
        let left = *self.armed_wait.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let started = Instant::now();
        let before = self.wait_retryable(rate, &case.path_parameters, accepted, left.max(self.wait)).await;
        let mut budget = self.armed_wait.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *budget = budget.saturating_sub(started.elapsed());
        match before {
            // An engine that will never be retryable again cannot show a wrongful acceptance,
            // but the request is still judged as any invalid one.
            Before::Skip(_) => Before::Send(None),
            send @ Before::Send(_) => send,
        }
    }

    /// Reads the engine `params` name until it is retryable, waiting (with backoff) up to `wait`
    /// while it is busy; `accepted` is the last job this run started on it.
    pub(crate) async fn wait_retryable(
        &self,
        rate: Option<&RateLimiter>,
        params: &Map<String, Value>,
        accepted: Option<i64>,
        wait: Duration,
    ) -> Before {
        let model = self.reads.model();
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let Ok(mut snapshot) = self.read(rate, params).await else {
                return Before::Send(None);
            };
            snapshot.note_accepted(accepted);
            if snapshot.retryable(model) {
                return Before::Send(Some(snapshot));
            }
            if snapshot.settled(model) {
                let why = snapshot.why_not_retryable(model).unwrap_or_default();
                return Before::Skip(format!(
                    "precondition not met: the engine is {} ({why}) and nothing will make it retryable again, \
                     so a valid request cannot be accepted",
                    snapshot.describe()
                ));
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Before::Send(Some(snapshot));
            }
            tokio::time::sleep(backoff.min(wait.saturating_sub(waited))).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

pub(crate) async fn send(
    client: &Client,
    rate: Option<&RateLimiter>,
    request: Request,
) -> Result<crate::client::Response, ReadError> {
    let what = format!("{} {}", request.method, request.url);
    let (exchange, _) = throttle::send(client, request, rate).await;
    exchange.result.map_err(|e| ReadError::Failed(format!("{what}: {e}")))
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The note of an armed case sent to an engine that was not retryable.
fn unarmed(case: &PlannedCase, pre: Option<&Snapshot>, retryable: bool) -> Option<String> {
    (is_armed(case) && !retryable).then(|| {
        let state = pre.map_or_else(|| "of unknown state".to_owned(), Snapshot::describe);
        format!(
            "sent while the engine was not retryable ({state}): a server that wrongly accepted this request \
             would have refused it for the engine's state, so the acceptance could not show"
        )
    })
}

/// A side-effecting case, sent in its engine's lane and judged by the engine's state.
pub(super) async fn run(
    lanes: &StateLanes,
    contract: &crate::contract::Contract,
    mut case: PlannedCase,
    client: &Client,
    config: &super::RunConfig,
) -> Option<crate::outcome::CaseOutcome> {
    let rate = config.rate.as_deref();
    let lane = lanes.lane(&case);
    let stop = || super::stopped(config.interrupt.clone());
    let mut turn = tokio::select! {
        turn = lane.lock_owned() => turn,
        () = stop() => return None,
    };
    // A case queued for its lane when the run was told to stop (Ctrl-C, --max-failures) is not
    // sent: the grace period is for requests in flight, not for real Retries still waiting.
    if super::interrupted(config.interrupt.as_ref()) {
        return None;
    }
    let accepted = *turn;
    let pre = tokio::select! {
        before = lanes.before(rate, &case, accepted) => before,
        () = stop() => return None,
    };
    let pre = match pre {
        Before::Skip(reason) => {
            lanes.count(Count::Skipped);
            return Some(crate::outcome::CaseOutcome::skipped(&case, &reason));
        }
        Before::Send(pre) => pre,
    };
    let model = lanes.reads.model();
    let retryable = pre.as_ref().is_some_and(|p| p.retryable(model));
    let unarmed = unarmed(&case, pre.as_ref(), retryable);
    if unarmed.is_some() {
        lanes.count(Count::Unarmed);
    }
    lanes.count(Count::Sent);
    if retryable {
        lanes.count(Count::SentRetryable);
    }
    let sent_ms = now_ms();
    let request = std::mem::take(&mut case.request);
    case.request.method.clone_from(&request.method);
    let (exchange, throttled) = tokio::select! {
        sent = throttle::send(client, request, rate) => sent,
        () = stop() => return None,
    };
    let status = exchange.result.as_ref().ok().map(|r| r.status);
    if let Some(response) = exchange.result.as_ref().ok().filter(|r| (200..300).contains(&r.status)) {
        lanes.count(Count::Accepted);
        if let Some(job) = lanes.reads.accepted_job(response) {
            *turn = Some(job);
        }
    }
    let refused = status.filter(|s| model.refusal_statuses.contains(s) && !case.expect.statuses.contains(s));
    let evidence = match refused {
        None => None,
        Some(status) => {
            // One read may fail for a passing reason (a timeout, a 5xx): it is tried twice
            // before the refusal is reported as not shown to be justified.
            let read_after = async {
                match lanes.read(rate, &case.path_parameters).await {
                    Err(_) => {
                        tokio::time::sleep(FIRST_BACKOFF).await;
                        lanes.read(rate, &case.path_parameters).await
                    }
                    ok => ok,
                }
            };
            let post = tokio::select! {
                post = read_after => post,
                () = stop() => return None,
            };
            let post = post.map(|mut post| {
                post.note_accepted(accepted);
                post
            });
            let evidence = match post {
                Ok(post) => justify(pre.as_ref(), &post, sent_ms, model),
                Err(e) => StateEvidence {
                    justified: false,
                    reason: format!("the engine's state could not be read after the refusal: {e}"),
                },
            };
            lanes.count(if evidence.justified { Count::Justified } else { Count::Unjustified });
            // The refusal is judged by state_justified alone; the body still by the error schema.
            case.expect.statuses.push(status);
            case.expect.schema = None;
            if !case.expect.assertions.is_empty() {
                let reason = "the assertions describe an acceptance; a refusal is judged by state_justified";
                case.skip_checks.entry(CheckKind::Assertion.name().to_owned()).or_insert_with(|| reason.to_owned());
            }
            Some(evidence)
        }
    };
    let checks = crate::check::judge_with_state(contract, &case, &exchange, config.strict_statuses, evidence.as_ref());
    let mut outcome = crate::outcome::CaseOutcome::decide_owned(case, exchange, checks);
    // An unjustified refusal is told by the failed check; a justified one by this note.
    if let (Some(evidence @ StateEvidence { justified: true, .. }), None) = (&evidence, &outcome.note) {
        let status = status.unwrap_or_default();
        outcome.note = Some(format!("refused with {status}, justified by the engine's state: {}", evidence.reason));
    } else if throttled > 0 && outcome.note.is_none() {
        outcome.note = Some(format!("judged on the answer after {throttled} throttled attempt(s) (429)"));
    }
    if outcome.note.is_none() {
        outcome.note = unarmed;
    }
    Some(outcome)
}
