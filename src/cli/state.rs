//! Reading the engine before the run: whether side-effecting cases are judged by the engine's
//! state, and what the run will and will not be able to test with the engine as it is. Said
//! once, on stderr, before anything else is sent.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Map;

use super::session::Session;
use super::settings::RunSettings;
use crate::case::vars;
use crate::client::Client;
use crate::report::console::printable;
use crate::runner::lane::{LaneCounts, StateLanes};
use crate::runner::throttle::RateLimiter;
use crate::stateful::{ReadError, Reads};

/// [`preflight`], bounded by the run's `--deadline` and stopped by Ctrl-C like the cases
/// themselves (the session is then marked interrupted: no case is sent, reports are partial).
pub(super) async fn read_state(
    settings: &RunSettings,
    session: &mut Session,
    client: &Client,
    rate: Option<&RateLimiter>,
    (side_effecting, left): (usize, Option<std::time::Duration>),
) -> Option<Arc<StateLanes>> {
    // `left`: what the run's deadline leaves.
    let deadline = async {
        match left {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    let interrupted = tokio::select! {
        state = preflight(settings, session, client, rate, side_effecting) => return state,
        () = session.signals.wait() => true,
        () = deadline => false,
    };
    if interrupted {
        eprintln!("interrupted while reading the engine's state: no case is sent");
        session.interrupted = true;
    } else {
        eprintln!(
            "note: reading the engine's state did not finish within --deadline; side-effecting cases are judged without it"
        );
    }
    None
}

/// The lanes of a run judged by state, or `None` (with a note saying why) to judge without it.
async fn preflight(
    settings: &RunSettings,
    session: &Session,
    client: &Client,
    rate: Option<&RateLimiter>,
    side_effecting: usize,
) -> Option<Arc<StateLanes>> {
    let without = "side-effecting cases are judged without it, as before: a refused valid Retry fails status_expected";
    if settings.no_state {
        eprintln!("note: --no-state: the engine's state is not read; {without}");
        return None;
    }
    let target = &session.target;
    let Some(reads) = Reads::new(&session.contract, &target.url, &target.variables) else {
        eprintln!("note: the contract has no state model (state-model.json); {without}");
        return None;
    };
    let model = reads.model().clone();
    let lanes = StateLanes::new(reads, settings.wait_retryable, client.clone());
    let mut params = Map::new();
    for (key, value) in &session.contract.default_operation().manifest.request.template.path_parameters {
        params.insert(key.clone(), vars::expand_value(value, &target.variables).ok()?);
    }
    let engine = params.get(&model.engine_path_parameter).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let snapshot = match lanes.read(rate, &params).await {
        Ok(snapshot) => snapshot,
        Err(ReadError::Unavailable(why)) => {
            eprintln!(
                "note: the engine's state cannot be read ({}); {without}",
                printable(&session.secrets.mask_echo(&why))
            );
            return None;
        }
        Err(ReadError::Failed(why)) => {
            eprintln!(
                "warning: the engine's state could not be read ({}); {without}",
                printable(&session.secrets.mask_echo(&why))
            );
            return None;
        }
    };
    if let Some(job) = &snapshot.latest_job_id {
        lanes.saw_job(job);
    }
    let wait = humantime::format_duration(settings.wait_retryable);
    match snapshot.why_not_retryable(&model) {
        None => eprintln!(
            "state: engine {engine} is {} (retryable); side-effecting cases go one at a time, each judged by \
             the engine's state (wait for a retryable engine: {wait})",
            printable(&session.secrets.mask_echo(&snapshot.describe()))
        ),
        Some(why) if snapshot.settled(&model) => eprintln!(
            "note: engine {engine} is {} and cannot be retried ({}), and nothing will make it retryable again. \
             No valid Retry can be accepted: the side-effecting cases will be skipped ({side_effecting} \
             hand-written, and the generated positive ones); every other case runs. To test acceptance, point --engine-id at an engine in one of the states {}.",
            printable(&session.secrets.mask_echo(&snapshot.describe())),
            printable(&session.secrets.mask_echo(&why)),
            model.retryable_statuses.join(", ")
        ),
        Some(why) => eprintln!(
            "note: engine {engine} is busy ({}; {}). Side-effecting cases go one at a time, and a refusal passes \
             only if the state justifies it (state_justified); acceptance is tested only once the job has ended \
             (--wait-retryable DUR waits for it; now {wait}).",
            printable(&session.secrets.mask_echo(&snapshot.describe())),
            printable(&session.secrets.mask_echo(&why))
        ),
    }
    Some(Arc::new(lanes))
}

/// The closing line of a run judged by state: what the lanes did, and whether acceptance was
/// tested at all.
pub(super) fn closing(counts: LaneCounts) -> Option<String> {
    if counts.sent == 0 && counts.skipped == 0 {
        return None;
    }
    let mut line = format!(
        "state: {} side-effecting case(s) sent one at a time ({} while the engine was retryable): {} accepted, \
         {} refusal(s) justified by state, {} not; {} skipped (engine not retryable again)",
        counts.sent, counts.sent_retryable, counts.accepted, counts.justified, counts.unjustified, counts.skipped
    );
    if counts.sent_retryable == 0 {
        line.push_str("\nnote: no valid Retry was sent while the engine was retryable: acceptance was not tested");
    }
    if counts.unarmed > 0 {
        let _ = write!(
            line,
            "\nwarning: {} invalid Retry case(s) of the coverage phase met a busy engine: had the server wrongly \
             accepted them, the engine's state would have refused them anyway, so that was not tested (raise \
             --wait-retryable to the length of a job)",
            counts.unarmed
        );
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Armed cases that met a busy engine are told at the end of the run: the run may be green
    /// while a wrongful acceptance of an invalid Retry could not show.
    #[test]
    fn armed_cases_sent_to_a_busy_engine_are_told() {
        let counts = LaneCounts { sent: 10, sent_retryable: 1, accepted: 1, unarmed: 7, ..LaneCounts::default() };
        let line = closing(counts).unwrap();
        assert!(line.contains("warning: 7 invalid Retry case(s) of the coverage phase met a busy engine"), "{line}");
        let quiet = closing(LaneCounts { sent: 10, sent_retryable: 10, ..LaneCounts::default() }).unwrap();
        assert!(!quiet.contains("warning"), "{quiet}");
    }
}
