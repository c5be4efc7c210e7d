//! Rate: `--rate` spaces requests across all workers, and 429s (the mock's `--rate-limit`) are
//! retried after Retry-After and judged on the final answer; a request still throttled at the
//! end is errored as throttled, never a contract failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cse_contract::case::load_cases;
use cse_contract::client::{Client, ClientConfig};
use cse_contract::files::FileSource;
use cse_contract::mock::{self, MockConfig, MockHandle};
use cse_contract::outcome::{CaseOutcome, Outcome};
use cse_contract::plan::{Filter, PlanConfig, plan};
use cse_contract::runner::throttle::RateLimiter;
use cse_contract::runner::{RunConfig, run_all};

use crate::support::{ALWAYS_RETRYABLE, TOKEN, contract, variables};

async fn mock_limited(rate_limit: Option<f64>) -> MockHandle {
    let config = MockConfig { token: Some(TOKEN.into()), rate_limit, ..MockConfig::local() };
    mock::spawn(contract(), config).await.unwrap()
}

async fn run(url: &str, rate: Option<f64>) -> (Vec<CaseOutcome>, Duration) {
    let contract = contract();
    let files = load_cases(&FileSource::Embedded, &contract).unwrap();
    // The always-retryable engine and no state reads: every request a case sends is one the
    // rate limiter spaces, so the timing below counts cases.
    let mut variables = variables();
    variables.set("engine_id", ALWAYS_RETRYABLE);
    let config = PlanConfig { target: url.into(), variables, filter: Filter::default(), strict_auth: false };
    let cases = plan(&contract, &files, &config).unwrap();
    let client = Client::new(ClientConfig::default());
    let run_config = RunConfig { rate: rate.map(|r| Arc::new(RateLimiter::per_second(r))), ..RunConfig::default() };
    let started = Instant::now();
    let (outcomes, _) = run_all(contract, cases, &client, run_config).await;
    (outcomes, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_holds_within_ten_percent() {
    let mock = mock_limited(None).await;
    // N cases at 20/s: N - 1 intervals of 50 ms after the first.
    let (outcomes, elapsed) = run(&mock.base_url, Some(20.0)).await;
    mock.shutdown().await;
    assert!(outcomes.iter().all(|o| o.outcome == Outcome::Passed));
    let ideal = Duration::from_millis(50) * u32::try_from(outcomes.len() - 1).unwrap();
    assert!(elapsed >= ideal.mul_f64(0.9) && elapsed <= ideal.mul_f64(1.1), "{elapsed:?} for an ideal {ideal:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_requests_are_retried_and_judged_on_the_final_answer() {
    let mock = mock_limited(Some(20.0)).await;
    let (outcomes, _) = run(&mock.base_url, None).await;
    mock.shutdown().await;
    let bad: Vec<_> = outcomes.iter().filter(|o| o.outcome != Outcome::Passed).map(|o| &o.name).collect();
    assert!(bad.is_empty(), "{bad:?}");
    let throttled = outcomes.iter().filter(|o| o.note.as_deref().is_some_and(|n| n.contains("throttled"))).count();
    assert!(throttled >= 10, "only {throttled} of the cases met a 429");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_still_throttled_at_the_end_are_errored_not_failed() {
    let mock = mock_limited(Some(1.0)).await;
    let (outcomes, _) = run(&mock.base_url, None).await;
    mock.shutdown().await;
    let failed = outcomes.iter().filter(|o| o.outcome == Outcome::Failed).count();
    let errored: Vec<_> = outcomes.iter().filter(|o| o.outcome == Outcome::Errored).collect();
    assert_eq!(failed, 0);
    assert!(!errored.is_empty());
    for outcome in errored {
        let message = outcome.checks[0].message();
        assert!(message.contains("throttled: still 429 after 4 attempts"), "{message}");
    }
}
