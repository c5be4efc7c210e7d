//! The reference model the random sequences are drawn from (`proptest-state-machine`): what a
//! client of the service may do next, given what it did so far. It is written from the API's
//! documented engine and job states, for the harness alone: it shares nothing with the mock, so a
//! bug in one is not hidden by the other.
//!
//! The model knows what it sent, not what the service answered: how long a job runs is the
//! service's business. So a transition refers to a job by the order of the Retries that were
//! sent (`JobRef::Started(k)`: the job of the k-th accepted one, resolved when the sequence
//! runs), and preconditions keep every drawn or shrunk sequence meaningful: no read of a job
//! before a Retry could have started one, no more waiting than [`MAX_WAIT_MS`] in all. What the
//! service may answer to each step — given the documented states (`state-model.json`: which
//! engine statuses accept a Retry, which are in progress, which job statuses still run) — is
//! judged on the steps by the stateful properties (`check`), every answer of the sequence by the
//! checks of a single exchange, and each refused Retry of the engine by `state_justified`.

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

use super::Role;

/// The most a sequence waits in all, ms: sequences stay quick against a mock, and waits give a
/// service's jobs time to end between steps.
pub const MAX_WAIT_MS: u32 = 1_000;

/// The most Retries a burst sends at once.
pub const MAX_BURST: u8 = 8;

/// Which job a read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRef {
    /// The job of the k-th accepted Retry of the engine in this sequence (counted from 0; the
    /// newest one when fewer were accepted).
    Started(usize),
    /// The engine's `latestJobId`, as its newest read showed it.
    Latest,
    /// An id no job has.
    Unknown,
}

/// One step of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A valid Retry of an engine.
    Retry(Role),
    /// That many valid Retries of the engine (`${engine_id}`) at once.
    Burst(u8),
    /// An engine's details.
    ShowEngine(Role),
    /// A job's details, of the engine.
    ShowJob(JobRef),
    /// A pause, ms.
    Wait(u16),
}

impl Transition {
    /// In a few words, for the reports.
    pub fn describe(&self) -> String {
        match self {
            Transition::Retry(role) => format!("retry {}", role.describe()),
            Transition::Burst(n) => format!("{n} concurrent retries of the engine"),
            Transition::ShowEngine(role) => format!("show_engine of {}", role.describe()),
            Transition::ShowJob(JobRef::Started(k)) => format!("show_job of the job of accepted retry #{}", k + 1),
            Transition::ShowJob(JobRef::Latest) => "show_job of the engine's latest job".to_owned(),
            Transition::ShowJob(JobRef::Unknown) => "show_job of a job that does not exist".to_owned(),
            Transition::Wait(ms) => format!("wait {ms} ms"),
        }
    }
}

/// What the model knows after some transitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelState {
    /// Retries of the engine sent so far (a burst counts each): an upper bound on the jobs that
    /// can have been started.
    pub retries: usize,
    /// Time waited so far, ms.
    pub waited_ms: u32,
}

/// The reference state machine.
#[derive(Debug, Clone, Copy)]
pub struct Model;

impl ReferenceStateMachine for Model {
    type State = ModelState;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<ModelState> {
        Just(ModelState::default()).boxed()
    }

    fn transitions(state: &ModelState) -> BoxedStrategy<Transition> {
        let role = prop_oneof![4 => Just(Role::Target), 1 => Just(Role::NotRetryable), 1 => Just(Role::Foreign)];
        let started = state.retries.max(1);
        prop_oneof![
            4 => role.clone().prop_map(Transition::Retry),
            1 => (2..=MAX_BURST).prop_map(Transition::Burst),
            3 => role.prop_map(Transition::ShowEngine),
            2 => (0..started).prop_map(|k| Transition::ShowJob(JobRef::Started(k))),
            1 => Just(Transition::ShowJob(JobRef::Latest)),
            1 => Just(Transition::ShowJob(JobRef::Unknown)),
            2 => prop_oneof![Just(20u16), Just(50), Just(100), Just(300)].prop_map(Transition::Wait),
        ]
        .boxed()
    }

    fn apply(mut state: ModelState, transition: &Transition) -> ModelState {
        match transition {
            Transition::Retry(Role::Target) => state.retries += 1,
            Transition::Burst(n) => state.retries += usize::from(*n),
            Transition::Wait(ms) => state.waited_ms += u32::from(*ms),
            Transition::Retry(Role::NotRetryable | Role::Foreign)
            | Transition::ShowEngine(_)
            | Transition::ShowJob(_) => {}
        }
        state
    }

    fn preconditions(state: &ModelState, transition: &Transition) -> bool {
        match transition {
            // No job can be read before a Retry could have started it.
            Transition::ShowJob(JobRef::Started(k)) => *k < state.retries,
            Transition::Wait(ms) => state.waited_ms + u32::from(*ms) <= MAX_WAIT_MS,
            Transition::Burst(n) => (2..=MAX_BURST).contains(n),
            Transition::Retry(_) | Transition::ShowEngine(_) | Transition::ShowJob(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree as _;
    use proptest::test_runner::TestRunner;

    use super::*;

    /// Every drawn sequence, and every one shrinking reaches, keeps the preconditions: a job is
    /// read only after a Retry could have started it, and the waits stay bounded.
    #[test]
    fn drawn_and_shrunk_sequences_keep_the_preconditions() {
        let mut runner = TestRunner::deterministic();
        let valid = |transitions: &[Transition]| {
            let mut state = ModelState::default();
            for t in transitions {
                if !Model::preconditions(&state, t) {
                    return false;
                }
                state = Model::apply(state, t);
            }
            true
        };
        for _ in 0..200 {
            let mut tree = Model::sequential_strategy(1..=20).new_tree(&mut runner).unwrap();
            let (_, transitions, _) = tree.current();
            assert!(valid(&transitions), "{transitions:?}");
            for _ in 0..20 {
                if !tree.simplify() {
                    break;
                }
                let (_, shrunk, _) = tree.current();
                assert!(valid(&shrunk), "{shrunk:?}");
            }
        }
    }
}
