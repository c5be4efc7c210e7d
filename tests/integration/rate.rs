//! Rate: `--rate` spaces requests across all workers, and 429s (the mock's `--rate-limit`) are
//! retried after Retry-After and judged on the final answer; a request still throttled at the
//! end is errored as throttled, never a contract failure. Shrinking sends the same way.

use std::io::{BufReader, Write as _};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cse_contract::case::load_cases;
use cse_contract::check::CheckKind;
use cse_contract::client::{Client, ClientConfig};
use cse_contract::files::FileSource;
use cse_contract::generate::{self, GenConfig, Generated, Mode};
use cse_contract::mock::{self, MockConfig, MockHandle};
use cse_contract::outcome::{CaseOutcome, Outcome};
use cse_contract::plan::{Filter, Origin, PlanConfig, PlannedCase, plan};
use cse_contract::runner::shrink::{ShrinkConfig, shrink};
use cse_contract::runner::throttle::{MAX_RETRIES, RateLimiter};
use cse_contract::runner::{RunConfig, run_all};

use crate::support::{ALWAYS_RETRYABLE, BIN, TOKEN, contract, variables};

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

/// One request the throttling server saw: when it came, its `X-Enterprise-Project-ID`, and the
/// status it was answered.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    project: Option<String>,
    status: u16,
}

/// How the server answers request `n` (from 0) with this `X-Enterprise-Project-ID`.
type Rule = fn(usize, Option<&str>) -> u16;

/// Every other request 429, the rest by one rule: 500 when `X-Enterprise-Project-ID` is longer
/// than 10 characters (a fault), else 400.
fn every_other_throttled(n: usize, project: Option<&str>) -> u16 {
    match (n % 2, project) {
        (0, _) => 429,
        (_, Some(p)) if p.len() > 10 => 500,
        _ => 400,
    }
}

/// A server written for the test (no code shared with the mock) that answers by `rule`, a 429
/// with `Retry-After: 0`, and logs every request.
fn start_throttling_server(rule: Rule) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = seen.clone();
            std::thread::spawn(move || answer_one(stream, &log, rule));
        }
    });
    (url, log)
}

fn answer_one(stream: std::net::TcpStream, log: &Mutex<Vec<Seen>>, rule: Rule) {
    let mut reader = BufReader::new(stream);
    let Some((fields, _)) = crate::support::read_request(&mut reader) else { return };
    let project = fields.into_iter().find(|(n, _)| n == "x-enterprise-project-id").map(|(_, v)| v);
    let status = {
        let mut log = log.lock().unwrap();
        let status = rule(log.len(), project.as_deref());
        log.push(Seen { at: Instant::now(), project, status });
        status
    };
    let json = format!(r#"{{"error_code":"TEST.{status}","error_msg":"answered {status}"}}"#);
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nRetry-After: 0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    let _ = reader.into_inner().write_all(response.as_bytes());
}

/// The generator of `--generated 400 --seed 1 --no-state` against `url`, and its first positive
/// case whose enterprise project id is longer than 10 characters.
fn long_project_case(url: &str) -> (Generated, PlannedCase) {
    let config = GenConfig { count: 400, seed: 1, mode: Mode::All, state_aware: false, strict_auth: false };
    let generated = Generated::new(&contract(), url, &variables(), config).unwrap();
    let case = generate::generate(&generated, &Filter::default())
        .unwrap()
        .into_iter()
        .find(|c| {
            c.name.contains("::x_enterprise_project_id_present::")
                && c.request.header("X-Enterprise-Project-ID").is_some_and(|p| p.len() > 10)
        })
        .expect("a generated case with a long enterprise project id");
    (generated, case)
}

/// Shrinking sends its candidates as the run sends its cases: within `--rate`, and a candidate
/// answered 429 is retried after Retry-After and judged on its real answer. Against a server
/// that throttles every other request, a positive case whose enterprise project id is too long
/// (500) shrinks to an id still too long, one the server answered 500, never to one whose only
/// answer was a 429 (which fails `status_expected` too); and no two requests, shrinking
/// included, come closer than the rate allows.
#[test]
fn shrinking_keeps_the_rate_and_never_takes_a_429_for_an_answer() {
    let (url, log) = start_throttling_server(every_other_throttled);
    let (_, case) = long_project_case(&url);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(BIN)
        .args(["run", "--target", &url, "--project-id", "demo-project", "--engine-id", ALWAYS_RETRYABLE])
        .args(["--generated", "400", "--seed", "1", "--no-state", "--rate", "40", "--exact", &case.name])
        .args(["--json", json.to_str().unwrap(), "--junit", dir.path().join("j.xml").to_str().unwrap()])
        .args(["--html", dir.path().join("i.html").to_str().unwrap()])
        .env("CSE_AUTH_TOKEN", TOKEN)
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{output}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let minimal = &report["cases"][0]["minimal"];
    assert_eq!(minimal["check"], "status_expected", "{output}");
    let header = minimal["sent"]["headers"].as_array().unwrap().iter().find(|h| h[0] == "X-Enterprise-Project-ID");
    let project = header.and_then(|h| h[1].as_str()).unwrap().to_owned();
    let seen = log.lock().unwrap().clone();
    let answers: Vec<u16> = seen.iter().filter(|s| s.project.as_ref() == Some(&project)).map(|s| s.status).collect();
    assert!(
        project.len() > 10 && answers.contains(&500),
        "minimal enterprise project id {project:?}, answered {answers:?} (a 429 taken for its answer)\n{output}"
    );
    // --rate 40: a request every 25 ms at most, the retries of a 429 and shrinking included.
    // Sending slots are exact, but arrivals jitter on a loaded machine (two may come 2 ms apart
    // when the first was late), so every 10 intervals are measured: at least 250 ms less 50 ms
    // of jitter. Without the rate, shrinking sends 10 requests in about 15 ms.
    let tightest = seen.windows(11).map(|w| w[10].at - w[0].at).min().unwrap();
    assert!(
        tightest >= Duration::from_millis(200),
        "{} requests; the quickest 11 came within {tightest:?} (--rate 40: 250 ms)",
        seen.len()
    );
}

/// A target that answers 429 to everything, retries included, stops shrinking at its first
/// candidate: no candidate is judged on a 429, and the original input stands.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_keeps_throttling_stops_shrinking() {
    let (url, log) = start_throttling_server(|_, _| 429);
    let (generated, case) = long_project_case(&url);
    let Origin::Generated { index, .. } = case.origin else { unreachable!() };
    let client = Client::new(ClientConfig::default());
    let shrunk = shrink(&contract(), &client, &generated, index, CheckKind::StatusExpected, ShrinkConfig::default())
        .await
        .unwrap();
    assert!(shrunk.throttled);
    assert_eq!((shrunk.steps, log.lock().unwrap().len()), (1, 1 + MAX_RETRIES as usize));
    assert_eq!(shrunk.case.request, case.request);
}
