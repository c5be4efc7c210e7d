//! The stateful phase: cases that send several requests and are judged on all of them together.
//!
//! - **The properties** (`stateful::PROPERTY`): one scenario, run once for all of them and judged
//!   by each: the foreign engine is read and retried through this project's path; the
//!   not-retryable engine is read, retried and read again; the engine is retried once when it is
//!   retryable, read while its job runs, followed until the job ends and read again; then, once
//!   it is retryable again, a burst of [`BURST`] concurrent Retries, each accepted job read and
//!   followed to its end. A real service's job takes minutes: the scenario starts two.
//! - **The sequences** (`stateful::sequence::NNNN`): random sequences drawn from the reference
//!   model ([`crate::stateful::model`]) with `proptest-state-machine`, from the run's seed; a
//!   failing one is shrunk to the shortest that still fails the same check.
//!
//! Every case holds its engine's lane while it runs, as side-effecting cases do, so nothing else
//! of the run retries the engine meanwhile. Every answer is judged by the checks of a single
//! exchange (against the schemas of its operation); a refused Retry of the engine by
//! `state_justified`, from readings before and after; and the whole by the stateful properties
//! (`check`, [`judge_trace`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use proptest::strategy::{Strategy as _, ValueTree as _};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::ReferenceStateMachine as _;
use serde_json::{Map, Value};

use super::lane::{Before, StateLanes, now_ms, send as read_send};
use super::throttle::{self, RateLimiter};
use crate::check::{self, CheckKind, CheckResult, StateEvidence, TraceInput, Verdict, judge_trace};
use crate::client::{Exchange, Request};
use crate::contract::{Contract, OpId};
use crate::outcome::{CaseOutcome, StepRecord};
use crate::plan::{Origin, PlannedCase, PlannedExpect, StatefulOrigin, classify};
use crate::stateful::model::{JobRef, Model, Transition};
use crate::stateful::{Act, Role, Snapshot, Step, Trace, justify};

/// Retries sent at once by the scenario's burst.
pub const BURST: usize = 8;

/// The most transitions of a sequence.
pub const MAX_SEQUENCE: usize = 12;

/// The least the stateful phase waits for an engine to become retryable, or for a job to end,
/// whatever `--wait-retryable` says: it needs both to judge anything.
pub const MIN_WAIT: Duration = Duration::from_secs(30);

/// Shrinking one failing sequence stops after this long, or this many runs of it.
const SHRINK_TIME: Duration = Duration::from_secs(30);
const SHRINK_RUNS: usize = 64;

/// An id no job has (2^53 - 1: the largest every JSON client reads exactly).
const UNKNOWN_JOB: &str = "9007199254740991";

/// The longest answer body a step keeps for the reports, in characters.
const BODY_KEPT: usize = 400;

/// How the stateful phase runs.
#[derive(Debug)]
pub struct Phase {
    lanes: Arc<StateLanes>,
    contract: Arc<Contract>,
    /// The engines the run names, by role.
    engines: Vec<(Role, String)>,
    /// How long to wait for a retryable engine, or for a job to end.
    wait: Duration,
    strict_statuses: bool,
    /// The run has property cases: their scenario runs before any sequence.
    properties: bool,
    /// The scenario the property cases judge, run by the first stateful case.
    scenario: tokio::sync::OnceCell<Arc<Recorded>>,
}

/// Why a stateful case cannot run at all in this run (no state can be read).
pub const UNAVAILABLE: &str = "the stateful phase reads the engines' state through the read operations, and this \
     run does not (--no-state, no state model, or the reads are not offered)";

impl Phase {
    /// The phase of a run that reads state through `lanes`, with the engines `engines` (by role);
    /// `properties`: the run has property cases.
    pub fn new(
        lanes: Arc<StateLanes>,
        engines: Vec<(Role, String)>,
        wait: Duration,
        (strict_statuses, properties): (bool, bool),
    ) -> Phase {
        let contract = lanes.reads().contract().clone();
        Phase {
            lanes,
            contract,
            engines,
            wait: wait.max(MIN_WAIT),
            strict_statuses,
            properties,
            scenario: tokio::sync::OnceCell::new(),
        }
    }

    fn engine(&self, role: Role) -> Option<&str> {
        self.engines.iter().find(|(r, _)| *r == role).map(|(_, id)| id.as_str())
    }

    /// Runs stateful case `case` (holding the engine's lane) and judges it.
    pub async fn run(self: &Arc<Self>, case: PlannedCase, rate: Option<Arc<RateLimiter>>) -> CaseOutcome {
        let Origin::Stateful(origin) = case.origin.clone() else {
            return CaseOutcome::skipped(&case, "not a stateful case");
        };
        let lane = self.lanes.lane_of(&case.path_parameters);
        let mut turn = lane.lock_owned().await;
        // The scenario runs first, whichever stateful case gets the lane first: a sequence run
        // before it could use up an engine that can be retried once (jobs that succeed).
        let scenario = if self.properties {
            let phase = self.clone();
            let (accepted, rate) = (*turn, rate.clone());
            let recorded = self
                .scenario
                .get_or_init(|| async move { Arc::new(phase.scenario(rate.as_deref(), accepted).await) })
                .await
                .clone();
            if let Some(job) = recorded.newest_job {
                *turn = Some(turn.map_or(job, |j| j.max(job)));
            }
            Some(recorded)
        } else {
            None
        };
        let recorded = match (origin, scenario) {
            (StatefulOrigin::Property(_), Some(recorded)) => recorded,
            (StatefulOrigin::Property(_), None) => {
                return CaseOutcome::skipped(&case, "the properties' scenario was not planned");
            }
            (StatefulOrigin::Sequence { seed, index }, _) => {
                Arc::new(self.sequence(rate.as_deref(), (seed, index), *turn).await)
            }
        };
        if let Some(job) = recorded.newest_job {
            *turn = Some(turn.map_or(job, |j| j.max(job)));
        }
        drop(turn);
        self.outcome(&case, &recorded)
    }

    /// The stateful phase's scenario, judged by every property.
    async fn scenario(&self, rate: Option<&RateLimiter>, accepted: Option<i64>) -> Recorded {
        let mut rec = Recorded::default();
        let model = self.lanes.reads().model();
        // Another project's engine, through this project's path.
        if self.engine(Role::Foreign).is_some() {
            self.step(&mut rec, rate, Role::Foreign, Act::ShowEngine, None).await;
            self.step(&mut rec, rate, Role::Foreign, Act::Retry, None).await;
            // Its jobs are out of reach too: whatever the id, the engine is unknown here.
            let job = Act::ShowJob { id: UNKNOWN_JOB.to_owned(), unknown: true };
            self.step(&mut rec, rate, Role::Foreign, job, None).await;
        } else {
            rec.unjudged.push((CheckKind::TenantIsolated, needs(Role::Foreign)));
        }
        // An engine with nothing to retry: read, retried, read again.
        if self.engine(Role::NotRetryable).is_some() {
            let read = self.step(&mut rec, rate, Role::NotRetryable, Act::ShowEngine, None).await;
            match read.map(|i| &rec.trace.steps[i]) {
                Some(step) if step.status == Some(200) => {
                    let status = step.field(&model.engine.status).and_then(Value::as_str).unwrap_or_default();
                    if settled(model, status) {
                        self.step(&mut rec, rate, Role::NotRetryable, Act::Retry, None).await;
                        self.step(&mut rec, rate, Role::NotRetryable, Act::ShowEngine, None).await;
                    } else {
                        rec.unjudged.push((
                            CheckKind::NotRetryableRefused,
                            format!(
                                "precondition not met: the engine {} names is {status}, not settled; name one that is \
                                 neither in a failed state nor in progress (e.g. Available)",
                                Role::NotRetryable.flag()
                            ),
                        ));
                    }
                }
                other => rec.unjudged.push((
                    CheckKind::NotRetryableRefused,
                    format!(
                        "precondition not met: the engine {} names could not be read ({})",
                        Role::NotRetryable.flag(),
                        other
                            .and_then(|s| s.status)
                            .map_or_else(|| "no answer".to_owned(), |s| format!("answered {s}"))
                    ),
                )),
            }
        } else {
            rec.unjudged.push((CheckKind::NotRetryableRefused, needs(Role::NotRetryable)));
        }
        let Some(engine) = self.engine(Role::Target) else {
            rec.unjudge_engine(&needs(Role::Target));
            return rec;
        };
        let Some(params) = self.lanes.reads().engine_params(engine) else {
            rec.unjudge_engine("the engine's path parameters are not all set");
            return rec;
        };
        // One Retry, watched while its job runs and after it ends.
        let Some(pre) = self.retryable(&mut rec, rate, &params, accepted).await else { return rec };
        let Some(first) = self.retry(&mut rec, rate, &params, pre).await else { return rec };
        // A service whose reads lag behind its writes is given the state model's lag first.
        tokio::time::sleep(Duration::from_millis(model.read_lag_ms)).await;
        self.step(&mut rec, rate, Role::Target, Act::ShowEngine, None).await;
        self.step(&mut rec, rate, Role::Target, job(&first), None).await;
        self.follow(&mut rec, rate, &params, std::slice::from_ref(&first)).await;
        // A burst, once the engine is retryable again. The first job was followed to its end
        // above: nothing of this run is pending.
        if self.retryable(&mut rec, rate, &params, None).await.is_none() {
            // `one_job_at_a_time` has nothing to judge on one job: it says why.
            let reason = rec.unjudged.iter().find(|(k, _)| *k == CheckKind::OneJobAtATime).map(|(_, r)| r.clone());
            rec.no_burst = Some(format!(
                "the burst of {BURST} Retries was not sent ({}); one job alone cannot run beside another",
                reason.unwrap_or_default()
            ));
            return rec;
        }
        let burst = self.burst(&mut rec, rate, BURST).await;
        let jobs = rec.jobs_of(&burst, model);
        if jobs.is_empty() {
            let post = self.lanes.read(rate, &params).await;
            if let (Some(&first), Ok(post)) = (burst.first(), post) {
                let sent = rec.trace.steps[first].sent_ms;
                rec.evidence[first] = Some(justify(None, &post, sent, model));
            }
            return rec;
        }
        self.step(&mut rec, rate, Role::Target, Act::ShowEngine, None).await;
        for id in &jobs {
            self.step(&mut rec, rate, Role::Target, job(id), None).await;
        }
        self.follow(&mut rec, rate, &params, &jobs).await;
        rec
    }

    /// Waits for the engine to be retryable and reads it (a step); `None`, with the reason noted
    /// for the engine's properties, when it does not become so.
    async fn retryable(
        &self,
        rec: &mut Recorded,
        rate: Option<&RateLimiter>,
        params: &Map<String, Value>,
        accepted: Option<i64>,
    ) -> Option<Snapshot> {
        let model = self.lanes.reads().model();
        match self.lanes.wait_retryable(rate, params, accepted, self.wait).await {
            Before::Skip(reason) => rec.unjudge_engine(&reason),
            Before::Send(None) => rec.unjudge_engine("the engine's state could not be read"),
            Before::Send(Some(snapshot)) if !snapshot.retryable(model) => rec.unjudge_engine(&format!(
                "precondition not met: the engine was still {} after waiting {} (raise --wait-retryable)",
                snapshot.describe(),
                humantime::format_duration(self.wait)
            )),
            Before::Send(Some(snapshot)) => {
                self.step(rec, rate, Role::Target, Act::ShowEngine, None).await;
                return Some(snapshot);
            }
        }
        None
    }

    /// A Retry of the engine; the job it started, or `None` when it was refused (judged by the
    /// engine's state, read after it) or not answered.
    async fn retry(
        &self,
        rec: &mut Recorded,
        rate: Option<&RateLimiter>,
        params: &Map<String, Value>,
        pre: Snapshot,
    ) -> Option<String> {
        let model = self.lanes.reads().model();
        let index = self.step(rec, rate, Role::Target, Act::Retry, None).await?;
        if let Some(id) = rec.job_at(index, model) {
            return Some(id);
        }
        let step = &rec.trace.steps[index];
        let Some(status) = step.status.filter(|s| model.refusal_statuses.contains(s)) else {
            let answer = match step.status {
                Some(status) if step.accepted() => {
                    format!("was answered {status} without a job id at {}", model.accepted_job_id)
                }
                Some(status) => format!("was answered {status}"),
                None => "was not answered".to_owned(),
            };
            rec.unjudge_engine(&format!("the engine's Retry ({}) {answer}", rec.trace.name(index)));
            return None;
        };
        let sent = step.sent_ms;
        let evidence = match self.lanes.read(rate, params).await {
            Ok(post) => justify(Some(&pre), &post, sent, model),
            Err(e) => StateEvidence {
                justified: false,
                reason: format!("the engine's state could not be read after the refusal: {e}"),
            },
        };
        rec.unjudge_engine(&format!(
            "the engine's Retry ({}) was refused with {status}: {}",
            rec.trace.name(index),
            evidence.reason
        ));
        rec.evidence[index] = Some(evidence);
        None
    }

    /// `n` Retries of the engine at once; their step indexes.
    async fn burst(&self, rec: &mut Recorded, rate: Option<&RateLimiter>, n: usize) -> Vec<usize> {
        let Some(engine) = self.engine(Role::Target) else { return Vec::new() };
        let Some(params) = self.lanes.reads().engine_params(engine) else { return Vec::new() };
        let Ok(request) = self.lanes.reads().retry_request(&params) else { return Vec::new() };
        let model = self.lanes.reads().model();
        let burst = rec.bursts;
        rec.bursts += 1;
        let client = self.lanes.client();
        let sends = (0..n).map(|_| {
            let request = request.clone();
            async move {
                let sent = now_ms();
                let (exchange, _) = throttle::send(client, request, rate).await;
                (sent, now_ms(), exchange)
            }
        });
        let mut indexes = Vec::new();
        for (sent, received, exchange) in join_all(sends).await {
            let op = self.contract.default_operation().id;
            let step = (Role::Target, Act::Retry, engine.to_owned(), Some(burst));
            let call = (op, params.clone(), request.clone());
            indexes.push(rec.push(step, (sent, received), exchange, (call, &model.accepted_job_id)));
        }
        indexes
    }

    /// Reads `jobs` of the engine (unrecorded) until none runs or the wait is over, then records
    /// a read of each and of the engine.
    async fn follow(
        &self,
        rec: &mut Recorded,
        rate: Option<&RateLimiter>,
        params: &Map<String, Value>,
        jobs: &[String],
    ) {
        let reads = self.lanes.reads();
        let model = reads.model();
        let started = Instant::now();
        let mut backoff = Duration::from_millis(50);
        let mut left: Vec<&String> = jobs.iter().collect();
        while !left.is_empty() && started.elapsed() < self.wait {
            let mut still = Vec::new();
            for id in left {
                let Ok(request) = reads.job_request(params, id) else { continue };
                // A job that cannot be read is not followed: its recorded read says why.
                let Ok(response) = read_send(self.lanes.client(), rate, request).await else { continue };
                if let Ok(view) = reads.parse_job(id, &response) {
                    if model.running_job_statuses.contains(&view.status) {
                        still.push(id);
                    }
                }
            }
            left = still;
            if !left.is_empty() {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
        for id in jobs {
            self.step(rec, rate, Role::Target, job(id), None).await;
        }
        self.step(rec, rate, Role::Target, Act::ShowEngine, None).await;
    }

    /// Sends one step and records it; its index, or `None` when it could not be built (an
    /// engine the run does not name, a variable not set).
    async fn step(
        &self,
        rec: &mut Recorded,
        rate: Option<&RateLimiter>,
        role: Role,
        act: Act,
        burst: Option<usize>,
    ) -> Option<usize> {
        let reads = self.lanes.reads();
        let engine = self.engine(role)?;
        let params = reads.engine_params(engine)?;
        let model = reads.model();
        let (request, op) = match &act {
            Act::Retry => (reads.retry_request(&params), self.contract.default_operation().id),
            Act::ShowEngine => (reads.engine_request(&params), self.contract.by_name(&model.engine_operation)?.id),
            Act::ShowJob { id, .. } => {
                (reads.job_request(&params, id), self.contract.by_name(&model.job_operation)?.id)
            }
        };
        let request = request.ok()?;
        let built = request.clone();
        let sent = now_ms();
        let (exchange, _) = throttle::send(self.lanes.client(), request, rate).await;
        let mut params = params;
        if let Act::ShowJob { id, .. } = &act {
            params.insert(model.job_path_parameter.clone(), Value::String(id.clone()));
        }
        let call = ((op, params, built), model.accepted_job_id.as_str());
        Some(rec.push((role, act, engine.to_owned(), burst), (sent, now_ms()), exchange, call))
    }

    /// Runs sequence `index` of `seed`, shrinking it when it fails. Proptest's value trees are
    /// not `Send`: the tree lives on a blocking thread that hands each candidate sequence over a
    /// channel and is told whether it still fails; the requests are sent here. When this future
    /// is dropped (a signal, the deadline), the channels close and the thread ends: it never
    /// blocks on the runtime.
    async fn sequence(
        &self,
        rate: Option<&RateLimiter>,
        (seed, index): (u64, usize),
        accepted: Option<i64>,
    ) -> Recorded {
        let (candidates_tx, mut candidates) = tokio::sync::mpsc::channel::<Vec<Transition>>(1);
        let (verdicts, verdicts_rx) = std::sync::mpsc::channel::<bool>();
        let shrinker = tokio::task::spawn_blocking(move || shrink_tree(seed, index, &candidates_tx, &verdicts_rx));
        let Some(transitions) = candidates.recv().await else {
            let reason = shrinker.await.ok().and_then(Result::err).unwrap_or_else(|| "no sequence came".into());
            return Recorded {
                note: Some(format!("the sequence could not be drawn: {reason}")),
                ..Recorded::default()
            };
        };
        let drawn = transitions.len();
        let mut best = self.run_sequence(rate, &transitions, accepted).await;
        let failing = self.first_failure(&best);
        // A sequence that failed for want of answers (a hanging or resetting target), or met the
        // gateway's throttling (429 after every retry), is not shrunk: every rerun would wait as
        // long again, or be throttled again.
        let throttled = best.trace.steps.iter().any(|s| s.status == Some(429));
        let shrink = failing.filter(|f| *f != CheckKind::Transport && !throttled);
        if verdicts.send(shrink.is_some()).is_err() {
            return best;
        }
        let Some(failing) = failing else { return best };
        let started = Instant::now();
        let mut runs = 0;
        while shrink.is_some() && runs < SHRINK_RUNS && started.elapsed() < SHRINK_TIME {
            let Some(candidate) = candidates.recv().await else { break };
            runs += 1;
            let tried = self.run_sequence(rate, &candidate, best.newest_job.or(accepted)).await;
            let still = self.first_failure(&tried) == Some(failing);
            if still {
                best = tried;
            }
            if verdicts.send(still).is_err() {
                break;
            }
        }
        drop(verdicts);
        let kept = best.transitions.len();
        best.note = Some(if throttled {
            format!("{drawn} transitions; not shrunk: it failed {failing}, and the target throttled it (429)")
        } else if shrink.is_none() {
            format!("{drawn} transitions; not shrunk: it failed {failing} (a rerun would wait as long again)")
        } else if kept < drawn {
            format!("shrunk from {drawn} to {kept} transitions ({runs} runs), still failing {failing}")
        } else {
            format!("{drawn} transitions; no shorter sequence failed {failing} ({runs} runs)")
        });
        best
    }

    /// The check a recorded sequence fails first, in reporting order.
    fn first_failure(&self, rec: &Recorded) -> Option<CheckKind> {
        let per_step = self.step_checks(rec);
        self.judge(rec, None, &per_step).into_iter().find(CheckResult::failed).map(|c| c.check)
    }

    /// Sends `transitions`, after reading the engines, and follows the jobs they started.
    async fn run_sequence(
        &self,
        rate: Option<&RateLimiter>,
        transitions: &[Transition],
        accepted: Option<i64>,
    ) -> Recorded {
        let mut rec =
            Recorded { transitions: transitions.iter().map(Transition::describe).collect(), ..Recorded::default() };
        let model = self.lanes.reads().model();
        // Where the engines stand: the baseline of what follows.
        for role in Role::ALL {
            self.step(&mut rec, rate, role, Act::ShowEngine, None).await;
        }
        // A not-retryable engine that reads as retryable is not retried: the run named it wrongly.
        let not_retryable_ok = rec.trace.engine_reads(Role::NotRetryable).next().is_some_and(|(_, s)| {
            s.status == Some(200)
                && s.field(&model.engine.status).and_then(Value::as_str).is_some_and(|st| settled(model, st))
        });
        let params = self.engine(Role::Target).and_then(|e| self.lanes.reads().engine_params(e));
        let mut newest = accepted;
        for transition in transitions {
            match *transition {
                Transition::Retry(Role::Target) => {
                    let Some(params) = &params else { continue };
                    // Read before, so a refusal is judged by the state around it.
                    let pre = self.lanes.read(rate, params).await.ok().map(|mut s| {
                        s.note_accepted(newest);
                        s
                    });
                    let Some(index) = self.step(&mut rec, rate, Role::Target, Act::Retry, None).await else { continue };
                    if rec.job_at(index, model).is_some() {
                        newest = rec.newest_job.or(newest);
                        continue;
                    }
                    if rec.trace.steps[index].status.is_some_and(|s| model.refusal_statuses.contains(&s)) {
                        let sent = rec.trace.steps[index].sent_ms;
                        if let Ok(mut post) = self.lanes.read(rate, params).await {
                            post.note_accepted(newest);
                            rec.evidence[index] = Some(justify(pre.as_ref(), &post, sent, model));
                        }
                    }
                }
                Transition::Retry(Role::NotRetryable) if !not_retryable_ok => {}
                Transition::Retry(role) => {
                    self.step(&mut rec, rate, role, Act::Retry, None).await;
                }
                Transition::Burst(n) => {
                    self.burst(&mut rec, rate, usize::from(n)).await;
                    newest = rec.newest_job.or(newest);
                }
                Transition::ShowEngine(role) => {
                    self.step(&mut rec, rate, role, Act::ShowEngine, None).await;
                }
                Transition::ShowJob(reference) => {
                    let id = match reference {
                        JobRef::Started(k) => {
                            let jobs = rec.started(model);
                            jobs.get(k).or(jobs.last()).cloned()
                        }
                        JobRef::Latest => rec.latest_shown(model),
                        JobRef::Unknown => Some(UNKNOWN_JOB.to_owned()),
                    };
                    if let Some(id) = id {
                        let unknown = reference == JobRef::Unknown;
                        self.step(&mut rec, rate, Role::Target, Act::ShowJob { id, unknown }, None).await;
                    }
                }
                Transition::Wait(ms) => tokio::time::sleep(Duration::from_millis(u64::from(ms))).await,
            }
        }
        // Every job started, read to its end; the not-retryable engine read once more.
        let jobs = rec.started(model);
        if let (Some(params), false) = (&params, jobs.is_empty()) {
            self.follow(&mut rec, rate, params, &jobs).await;
        }
        if not_retryable_ok {
            self.step(&mut rec, rate, Role::NotRetryable, Act::ShowEngine, None).await;
        }
        rec
    }

    /// Every check's verdict on a recorded case: those of a single exchange over its answers
    /// (`per_step`; the steps of `only`'s engines, when given), then the stateful properties
    /// (`only`, or all).
    fn judge(&self, rec: &Recorded, only: Option<CheckKind>, per_step: &[Vec<CheckResult>]) -> Vec<CheckResult> {
        let model = self.lanes.reads().model();
        let mut results = aggregate(rec, roles(only), per_step);
        let input = TraceInput { contract: &self.contract, model, trace: &rec.trace, unjudged: &rec.unjudged };
        results.extend(check::properties().filter(|p| only.is_none_or(|o| o == *p)).map(|p| {
            let mut result = judge_trace(p, &input);
            if let (CheckKind::OneJobAtATime, Verdict::Passed, Some(why)) = (p, &result.verdict, &rec.no_burst) {
                result.verdict = Verdict::Skipped(why.clone());
            }
            result
        }));
        results
    }

    /// The outcome of `case` from what it recorded.
    fn outcome(&self, case: &PlannedCase, rec: &Recorded) -> CaseOutcome {
        let only = match &case.origin {
            Origin::Stateful(StatefulOrigin::Property(kind)) => Some(*kind),
            _ => None,
        };
        let mut per_step = self.step_checks(rec);
        // The checks the case opts out of (the run's --exclude-checks) judge no step either.
        for results in &mut per_step {
            opt_out(results, &case.skip_checks);
        }
        let mut checks = self.judge(rec, only, &per_step);
        opt_out(&mut checks, &case.skip_checks);
        // The steps about the engines the case judges (all, for a sequence).
        let relevant: Vec<usize> =
            rec.trace.indexed().filter(|(_, s)| roles(only).contains(&s.role)).map(|(i, _)| i).collect();
        if relevant.is_empty() {
            let reason = rec.note.clone().unwrap_or_else(|| "nothing was sent".to_owned());
            let mut outcome = CaseOutcome::skipped(case, &skip_reason(&checks).unwrap_or(reason));
            outcome.checks.clear();
            return outcome;
        }
        checks.retain(|c| !matches!(&c.verdict, Verdict::Skipped(_)) || c.check.is_property());
        let steps = rec.records(&per_step, &checks);
        // The request a failure points at: the first of the case's steps a failed check names,
        // else its first.
        let pointed = relevant.iter().copied().find(|&i| !steps[i].failed.is_empty()).unwrap_or(relevant[0]);
        let exchange = rec.exchanges[pointed].1.clone();
        let mut outcome = CaseOutcome::decide(case, exchange, checks);
        outcome.steps = steps;
        if !rec.transitions.is_empty() {
            let listed: Vec<String> =
                rec.transitions.iter().enumerate().map(|(i, t)| format!("{}. {t}", i + 1)).collect();
            outcome.description = format!("{}: {}", outcome.description, listed.join("; "));
        }
        if outcome.outcome == crate::outcome::Outcome::Errored
            && outcome.failed_checks().any(|c| c.check != CheckKind::Transport)
        {
            outcome.outcome = crate::outcome::Outcome::Failed;
        }
        outcome.note = match (outcome.note.take(), &rec.note, skip_reason(&outcome.checks)) {
            (Some(note), _, _) => Some(note),
            (None, Some(note), _) => Some(note.clone()),
            (None, None, Some(reason)) if only.is_some() && outcome.outcome == crate::outcome::Outcome::Passed => {
                outcome.outcome = crate::outcome::Outcome::Skipped;
                Some(reason)
            }
            _ => None,
        };
        outcome
    }
}

/// The reason a property case's property gives for judging nothing, if it is skipped.
fn skip_reason(checks: &[CheckResult]) -> Option<String> {
    checks.iter().find(|c| c.check.is_property()).and_then(|c| match &c.verdict {
        Verdict::Skipped(reason) => Some(reason.clone()),
        _ => None,
    })
}

/// The engines whose steps a case judges with the checks of a single exchange: the property's
/// engine, or all of them for a sequence (`only` is `None`).
fn roles(only: Option<CheckKind>) -> &'static [Role] {
    match only {
        Some(CheckKind::TenantIsolated) => &[Role::Foreign],
        Some(CheckKind::NotRetryableRefused) => &[Role::NotRetryable],
        Some(_) => &[Role::Target],
        None => &Role::ALL,
    }
}

/// Whether an engine in `status` is settled: neither failed (a Retry would be accepted) nor in
/// progress (its own job could change it while it is watched).
fn settled(model: &crate::contract::StateModel, status: &str) -> bool {
    !model.retryable_statuses.iter().chain(&model.in_progress_statuses).any(|s| s == status)
}

/// `needs --foreign-engine-id (CSE_FOREIGN_ENGINE_ID)`.
fn needs(role: Role) -> String {
    format!("needs {}, which this run does not set", role.flag())
}

fn job(id: &str) -> Act {
    Act::ShowJob { id: id.to_owned(), unknown: false }
}

/// The operation a step called, its path parameters, and its request as built (before the
/// client signs it: what the contract classifies).
type Call = (OpId, Map<String, Value>, Request);

/// What a stateful case sent and saw.
#[derive(Debug, Default)]
struct Recorded {
    trace: Trace,
    /// Per step: its operation and path parameters, and the exchange.
    exchanges: Vec<(Call, Exchange)>,
    /// Per step: what the engine's state says of its refusal, when it was judged by it.
    evidence: Vec<Option<StateEvidence>>,
    /// Properties that cannot judge this case, and why.
    unjudged: Vec<(CheckKind, String)>,
    /// Bursts sent.
    bursts: usize,
    /// The newest job a Retry of the engine was accepted with.
    newest_job: Option<i64>,
    /// For a sequence: its transitions, in words.
    transitions: Vec<String>,
    /// Why the scenario's burst was not sent, when it was not.
    no_burst: Option<String>,
    /// A note for the outcome.
    note: Option<String>,
}

impl Recorded {
    /// Records a step; `job_pointer` is where an accepted Retry's answer names its job (the state
    /// model's `accepted_job_id`).
    fn push(
        &mut self,
        (role, act, engine, burst): (Role, Act, String, Option<usize>),
        (sent_ms, received_ms): (i64, i64),
        exchange: Exchange,
        (call, job_pointer): (Call, &str),
    ) -> usize {
        let (status, body) = match &exchange.result {
            Ok(r) => (Some(r.status), serde_json::from_slice(&r.body).ok()),
            Err(_) => (None, None),
        };
        let step = Step { act, role, engine, burst, sent_ms, received_ms, status, body };
        let accepted_job = (step.act == Act::Retry && step.accepted() && role == Role::Target)
            .then(|| step.id_at(job_pointer)?.parse::<i64>().ok())
            .flatten();
        if let Some(job) = accepted_job {
            self.newest_job = Some(self.newest_job.map_or(job, |j| j.max(job)));
        }
        self.trace.steps.push(step);
        self.exchanges.push((call, exchange));
        self.evidence.push(None);
        self.trace.steps.len() - 1
    }

    /// Notes `reason` for the properties judged on the engine.
    fn unjudge_engine(&mut self, reason: &str) {
        for kind in
            [CheckKind::JobRecorded, CheckKind::EngineInProgress, CheckKind::NameConsistent, CheckKind::OneJobAtATime]
        {
            if !self.unjudged.iter().any(|(k, _)| *k == kind) {
                self.unjudged.push((kind, reason.to_owned()));
            }
        }
    }

    /// The job an accepted Retry at `index` was answered with.
    fn job_at(&self, index: usize, model: &crate::contract::StateModel) -> Option<String> {
        let step = &self.trace.steps[index];
        (step.act == Act::Retry && step.accepted()).then(|| step.id_at(&model.accepted_job_id)).flatten()
    }

    /// The distinct jobs the steps at `indexes` were accepted with, in order.
    fn jobs_of(&self, indexes: &[usize], model: &crate::contract::StateModel) -> Vec<String> {
        let mut jobs: Vec<String> = Vec::new();
        for id in indexes.iter().filter_map(|&i| self.job_at(i, model)) {
            if !jobs.contains(&id) {
                jobs.push(id);
            }
        }
        jobs
    }

    /// The distinct jobs Retries of the engine were accepted with, in order.
    fn started(&self, model: &crate::contract::StateModel) -> Vec<String> {
        let indexes: Vec<usize> =
            self.trace.indexed().filter(|(_, s)| s.role == Role::Target).map(|(i, _)| i).collect();
        self.jobs_of(&indexes, model)
    }

    /// The engine's `latestJobId`, as its newest read showed it.
    fn latest_shown(&self, model: &crate::contract::StateModel) -> Option<String> {
        self.trace
            .engine_reads(Role::Target)
            .filter(|(_, s)| s.status == Some(200))
            .last()
            .and_then(|(_, s)| s.id_at(&model.engine.latest_job_id))
    }

    /// The steps as the reports tell them, each with the checks of a single exchange that
    /// failed on it.
    fn records(&self, per_step: &[Vec<CheckResult>], checks: &[CheckResult]) -> Vec<StepRecord> {
        let failed: Vec<CheckKind> = checks.iter().filter(|c| c.failed()).map(|c| c.check).collect();
        (0..self.trace.steps.len())
            .map(|i| {
                let (_, exchange) = &self.exchanges[i];
                let body = exchange.result.as_ref().ok().filter(|r| !r.body.is_empty()).map(|r| {
                    let text = String::from_utf8_lossy(&r.body);
                    crate::contract::truncate(&text, BODY_KEPT)
                });
                StepRecord {
                    label: self.trace.name(i),
                    request: exchange.request.clone(),
                    status: self.trace.steps[i].status,
                    note: exchange.result.as_ref().err().map(ToString::to_string),
                    body,
                    duration: exchange.elapsed,
                    failed: per_step[i]
                        .iter()
                        .filter(|c| c.failed() && failed.contains(&c.check))
                        .map(|c| c.check)
                        .collect(),
                }
            })
            .collect()
    }
}

impl Phase {
    /// The checks of a single exchange on each step's answer, in step order (computed once per
    /// judgement: the case's results and its steps' failures both come from them).
    fn step_checks(&self, rec: &Recorded) -> Vec<Vec<CheckResult>> {
        (0..rec.trace.steps.len()).map(|index| self.checks_of_step(rec, index)).collect()
    }

    /// The checks of a single exchange on step `index`'s answer.
    fn checks_of_step(&self, rec: &Recorded, index: usize) -> Vec<CheckResult> {
        let ((op_id, params, built), exchange) = &rec.exchanges[index];
        let op = self.contract.operation(*op_id);
        let method = op.manifest.method.clone();
        // Any documented answer is as expected: what the state makes of it, the properties judge.
        let statuses: Vec<u16> =
            op.manifest.documented_for(&method, self.strict_statuses).map(|spec| spec.status).collect();
        let request = Request { method, ..Request::default() };
        let class = classify(op, built, params, &statuses);
        let case = PlannedCase {
            name: String::new(),
            operation: *op_id,
            side_effecting: false,
            source: String::new(),
            suite: String::new(),
            description: String::new(),
            request,
            path_parameters: params.clone(),
            class,
            expect: PlannedExpect { statuses, schema: None, assertions: Vec::new() },
            skip_checks: std::collections::BTreeMap::new(),
            expected_failure: None,
            origin: Origin::HandWritten,
            skip: None,
        };
        let evidence = rec.evidence[index].as_ref();
        check::judge_with_state(&self.contract, &case, exchange, self.strict_statuses, evidence)
    }
}

/// `results` with each check `skip` names skipped, for the reason it gives.
fn opt_out(results: &mut [CheckResult], skip: &std::collections::BTreeMap<String, String>) {
    for result in results {
        if let Some(reason) = skip.get(result.check.name()) {
            result.verdict = Verdict::Skipped(format!("opted out: {reason}"));
        }
    }
}

/// One result per check of a single exchange, over the answers of `roles`' steps (`per_step`):
/// failed when it failed on any (naming each such step), passed when it passed on any, else
/// skipped.
fn aggregate(rec: &Recorded, roles: &[Role], per_step: &[Vec<CheckResult>]) -> Vec<CheckResult> {
    let mut per: std::collections::BTreeMap<CheckKind, Vec<(usize, &Verdict)>> = std::collections::BTreeMap::new();
    for (index, _) in rec.trace.indexed().filter(|(_, s)| roles.contains(&s.role)) {
        for result in &per_step[index] {
            per.entry(result.check).or_default().push((index, &result.verdict));
        }
    }
    per.into_iter()
        .map(|(check, verdicts)| {
            let failures: Vec<&(usize, &Verdict)> =
                verdicts.iter().filter(|(_, v)| matches!(v, Verdict::Failed { .. })).collect();
            let verdict = match failures.first() {
                Some((first, Verdict::Failed { expected, actual, .. })) => {
                    let mut details = Vec::new();
                    for (index, verdict) in &failures {
                        if let Verdict::Failed { expected, actual, details: more } = verdict {
                            details.push(format!("{}: expected {expected}, got {actual}", rec.trace.name(*index)));
                            details.extend(more.iter().map(|d| format!("  {d}")));
                        }
                    }
                    Verdict::Failed {
                        expected: expected.clone(),
                        actual: format!("{}: {actual}", rec.trace.name(*first)),
                        details,
                    }
                }
                _ if verdicts.iter().any(|(_, v)| **v == Verdict::Passed) => Verdict::Passed,
                _ => verdicts.first().map_or(Verdict::Passed, |(_, v)| (*v).clone()),
            };
            CheckResult { check, verdict }
        })
        .collect()
}

/// A drawn sequence: the model's initial state, the transitions, proptest's counter of those
/// applied.
type Drawn = (crate::stateful::model::ModelState, Vec<Transition>, Option<Arc<std::sync::atomic::AtomicUsize>>);

/// The shrinking side of [`Phase::sequence`], on a blocking thread: draws sequence `index` of
/// `seed`, sends it, and while told it still fails, simplifies (or, when a candidate passed,
/// complicates) and sends the next candidate, as proptest's own runner does. Ends when the tree
/// can shrink no further or the other side hangs up.
fn shrink_tree(
    seed: u64,
    index: usize,
    candidates: &tokio::sync::mpsc::Sender<Vec<Transition>>,
    verdicts: &std::sync::mpsc::Receiver<bool>,
) -> Result<(), String> {
    let mut tree = draw_tree(seed, index)?;
    let (_, transitions, applied) = tree.current();
    // Every transition is sent before the sequence is judged: shrinking may drop any of them
    // (proptest-state-machine drops those past the count as never run).
    if let Some(applied) = applied {
        applied.store(transitions.len(), std::sync::atomic::Ordering::SeqCst);
    }
    if candidates.blocking_send(transitions).is_err() || verdicts.recv() != Ok(true) || !tree.simplify() {
        return Ok(());
    }
    loop {
        if candidates.blocking_send(tree.current().1).is_err() {
            return Ok(());
        }
        let next = match verdicts.recv() {
            Ok(true) => tree.simplify(),
            Ok(false) => tree.complicate(),
            Err(_) => false,
        };
        if !next {
            return Ok(());
        }
    }
}

/// Draws the value tree of sequence `index` of `seed`.
fn draw_tree(seed: u64, index: usize) -> Result<impl proptest::strategy::ValueTree<Value = Drawn>, String> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    bytes[16..24].copy_from_slice(b"stateful");
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let config = Config { failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, rng);
    Model::sequential_strategy(1..=MAX_SEQUENCE).new_tree(&mut runner).map_err(|e| e.to_string())
}

/// The transitions of sequence `index` of `seed`, as they would be sent (for `--dry-run`).
pub fn draw(seed: u64, index: usize) -> Vec<Transition> {
    draw_tree(seed, index).map(|tree| tree.current().1).unwrap_or_default()
}

/// The stateful cases of a run: one per stateful property, then `sequences` sequences drawn from
/// `seed`; those `filter` selects. Each names the engine (`${engine_id}`) in its path parameters,
/// so it runs in that engine's lane, and is side-effecting (the real-endpoint guard skips it).
pub fn plan(
    contract: &Arc<Contract>,
    target: &str,
    variables: &crate::case::vars::Variables,
    (sequences, seed): (usize, u64),
    filter: &crate::plan::Filter,
) -> Vec<PlannedCase> {
    let reads = crate::stateful::Reads::new(contract, target, variables);
    let params = reads.as_ref().and_then(|r| r.engine_params(variables.get("engine_id")?));
    let request = reads.as_ref().zip(params.as_ref()).and_then(|(r, p)| r.retry_request(p).ok()).unwrap_or_default();
    let params = params.unwrap_or_default();
    let op = contract.default_operation();
    let case = |name: String, description: String, origin: StatefulOrigin| PlannedCase {
        name,
        operation: op.id,
        side_effecting: true,
        source: "stateful phase".to_owned(),
        suite: "stateful".to_owned(),
        description,
        request: request.clone(),
        class: classify(op, &request, &params, &[]),
        path_parameters: params.clone(),
        expect: PlannedExpect { statuses: Vec::new(), schema: None, assertions: Vec::new() },
        skip_checks: std::collections::BTreeMap::new(),
        expected_failure: None,
        origin: Origin::Stateful(origin),
        skip: None,
    };
    let properties = check::properties()
        .map(|kind| case(format!("stateful::{kind}"), kind.summary().to_owned(), StatefulOrigin::Property(kind)));
    let drawn = (0..sequences).map(|index| {
        let description = format!("a sequence drawn from the reference model (seed {seed}, #{})", index + 1);
        case(format!("stateful::sequence::{:04}", index + 1), description, StatefulOrigin::Sequence { seed, index })
    });
    properties.chain(drawn).filter(|c| filter.matches(&c.name)).collect()
}

/// The names of the stateful cases of a run (for `--list`).
pub fn names(sequences: usize) -> Vec<String> {
    check::properties()
        .map(|kind| format!("stateful::{kind}"))
        .chain((0..sequences).map(|i| format!("stateful::sequence::{:04}", i + 1)))
        .collect()
}
