//! The mock on its own: concurrent retries, malformed input, the sibling read APIs, limits.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use cse_contract::client::{Client, ClientConfig, Request};
use cse_contract::mock::Fault;
use cse_contract::mock::fixture::{EngineStatus, JobStatus};
use serde_json::{Value, json};

use crate::support::{ALWAYS_RETRYABLE, ENGINE, PROJECT, SLOW_RETRY, TOKEN, start_mock};

/// The default fixture's engine of another project (`other-project`), retryable there.
const FOREIGN: &str = "f0e1d2c3-b4a5-4968-8776-655443322110";
/// The default fixture's Available engine.
const AVAILABLE: &str = "891bf21a-4024-4f47-b38c-bd259ca8f10a";

fn retry_request(base: &str, engine: &str) -> Request {
    retry_request_in(base, PROJECT, engine)
}

fn retry_request_in(base: &str, project: &str, engine: &str) -> Request {
    Request {
        method: "PUT".into(),
        url: format!("{base}/v2/{project}/enginemgr/engines/{engine}/actions"),
        headers: vec![
            ("X-Auth-Token".into(), TOKEN.into()),
            ("Content-Type".into(), "application/json;charset=UTF-8".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: bytes::Bytes::from_static(br#"{"action":"Retry"}"#),
    }
}

fn get_request(url: String) -> Request {
    Request {
        method: "GET".into(),
        url,
        headers: vec![("X-Auth-Token".into(), TOKEN.into())],
        body: bytes::Bytes::new(),
    }
}

async fn fire(client: &Client, requests: Vec<Request>) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|r| {
            let client = client.clone();
            tokio::spawn(async move { client.send(r).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        let exchange = task.await.unwrap();
        let response = exchange.result.expect("transport");
        answers.push((response.status, serde_json::from_slice(&response.body).unwrap_or(Value::Null)));
    }
    answers
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_retries_of_a_slow_engine_accept_exactly_one() {
    let mock = start_mock(&[]).await;
    let client = Client::new(ClientConfig::default());
    let answers = fire(&client, (0..64).map(|_| retry_request(&mock.base_url, SLOW_RETRY)).collect()).await;
    let ok: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 400), "{answers:?}");
    let refused = answers.iter().filter(|(s, b)| *s == 400 && b["error_code"] == "SVCSTG.00501118").count();
    assert_eq!(refused, 63);
    let engine = mock.engine(SLOW_RETRY).unwrap();
    assert_eq!(engine.status, EngineStatus::Upgrading);
    let running: Vec<_> = engine.jobs.iter().filter(|j| j.status == JobStatus::Executing).collect();
    assert_eq!(running.len(), 1);
    assert_eq!(Some(running[0].id), ok[0].1["jobId"].as_u64());
    assert_eq!(engine.jobs.len(), 3, "two fixture jobs and the one retry");
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_retries_of_the_always_retryable_engine_get_unique_job_ids() {
    let mock = start_mock(&[]).await;
    let client = Client::new(ClientConfig::default());
    let answers = fire(&client, (0..64).map(|_| retry_request(&mock.base_url, ALWAYS_RETRYABLE)).collect()).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let ids: BTreeSet<u64> = answers.iter().filter_map(|(_, b)| b["jobId"].as_u64()).collect();
    assert_eq!(ids.len(), 64);
    let engine = mock.engine(ALWAYS_RETRYABLE).unwrap();
    assert_eq!(engine.status, EngineStatus::CreateFailed);
    assert_eq!(engine.jobs.len(), 65);
    assert!(engine.jobs.iter().all(|j| j.status == JobStatus::Error));
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sibling_apis_show_engine_and_jobs() {
    let mock = start_mock(&[]).await;
    let client = Client::new(ClientConfig::default());
    let base = format!("{}/v2/{PROJECT}/enginemgr/engines", mock.base_url);
    let (status, retried) = fire(&client, vec![retry_request(&mock.base_url, SLOW_RETRY)]).await.remove(0);
    assert_eq!(status, 200);
    let job = retried["jobId"].as_u64().unwrap();
    let answers = fire(
        &client,
        vec![
            get_request(format!("{base}/{SLOW_RETRY}")),
            get_request(format!("{base}/{SLOW_RETRY}/jobs/{job}")),
            get_request(format!("{base}/{SLOW_RETRY}/jobs/not-a-number")),
            get_request(format!("{base}/{SLOW_RETRY}/jobs/1")),
            get_request(format!("{base}/{ALWAYS_RETRYABLE}")),
            get_request(format!("{base}/nope")),
        ],
    )
    .await;
    assert_eq!(answers[0].1["status"], "Upgrading");
    assert_eq!(answers[0].1["latestJobId"], job);
    assert_eq!(answers[0].1["engineAdditionalActions"], serde_json::json!([]));
    assert_eq!((answers[1].1["status"].as_str(), answers[1].1["scheduling"].as_i64()), (Some("Executing"), Some(1)));
    assert_eq!(answers[1].1["type"], "Upgrade");
    assert_eq!((answers[2].0, answers[2].1["error_code"].as_str()), (400, Some("SVCSTG.00501152")));
    assert_eq!((answers[3].0, answers[3].1["error_code"].as_str()), (400, Some("SVCSTG.00501153")));
    assert_eq!(answers[4].1["engineAdditionalActions"], serde_json::json!(["Retry"]));
    assert_eq!((answers[5].0, answers[5].1["error_code"].as_str()), (400, Some("SVCSTG.00501116")));
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_unknown_paths_wrong_token_and_response_headers() {
    let mock = start_mock(&[]).await;
    let client = Client::new(ClientConfig { max_body: 1 << 20, ..ClientConfig::default() });
    let mut big = retry_request(&mock.base_url, ALWAYS_RETRYABLE);
    big.body = bytes::Bytes::from(vec![b' '; 12 * 1024 * 1024 + 1]);
    let mut wrong_token = retry_request(&mock.base_url, ALWAYS_RETRYABLE);
    wrong_token.headers[0].1 = "someone-elses".into();
    let unknown = get_request(format!("{}/v3/whatever", mock.base_url));
    let exchanges = [big, wrong_token, unknown];
    let mut seen = Vec::new();
    for request in exchanges {
        let response = client.send(request).await.result.unwrap();
        assert_eq!(response.header("content-type"), Some("application/json;charset=UTF-8"));
        assert_eq!(response.header("x-request-id").map(str::len), Some(32));
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        seen.push((response.status, body["error_code"].as_str().unwrap().to_owned()));
    }
    assert_eq!(seen, [(413, "APIGW.0201".into()), (401, "APIGW.0301".into()), (404, "APIGW.0101".into())]);
    mock.shutdown().await;
}

/// A small deterministic generator, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

/// One malformed or odd request as raw bytes.
fn odd_request(rng: &mut XorShift) -> Vec<u8> {
    let paths: [&[u8]; 8] = [
        b"/v2/demo-project/enginemgr/engines/4a1bc63d-4719-4bd3-b1ad-5ee590b05e87/actions",
        b"/v2/%FF%FE/enginemgr/engines/x/actions",
        b"/v2/demo-project/enginemgr/engines/%2F..%2F/actions",
        b"/v2/p/enginemgr/engines/e/jobs/%00",
        b"/v2//enginemgr/engines//actions",
        b"/../../etc/passwd",
        b"/v2/demo-project/enginemgr/engines/e/actions?x=%zz",
        b"*",
    ];
    let methods: [&[u8]; 6] = [b"PUT", b"GET", b"POST", b"DELETE", b"PATCH", b"BREW"];
    let mut req = Vec::new();
    req.extend_from_slice(methods[rng.below(methods.len())]);
    req.push(b' ');
    req.extend_from_slice(paths[rng.below(paths.len())]);
    if rng.below(10) == 0 {
        req.extend(rng.bytes(8).into_iter().map(|b| b | 0x80));
    }
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if rng.below(2) == 0 {
        req.extend_from_slice(format!("X-Auth-Token: {TOKEN}\r\n").as_bytes());
    }
    match rng.below(5) {
        0 => req.extend_from_slice(b"Content-Type: application/json\r\nAccept: */*\r\n"),
        1 => req.extend_from_slice(format!("X-Big: {}\r\n", "a".repeat(rng.below(200_000))).as_bytes()),
        2 => {
            req.extend_from_slice(b"X-Odd: ");
            req.extend(rng.bytes(20).into_iter().map(|b| if b == b'\r' || b == b'\n' { b'x' } else { b }));
            req.extend_from_slice(b"\r\n");
        }
        _ => {}
    }
    let body = match rng.below(3) {
        0 => {
            let n = rng.below(2000);
            rng.bytes(n)
        }
        1 => br#"{"action":"Retry"}"#.to_vec(),
        _ => b"{\"action\":\"\xff\xfe\"}".to_vec(),
    };
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(&body);
    req
}

fn status_of(addr: std::net::SocketAddr, request: &[u8]) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let line = String::from_utf8_lossy(&answer[..answer.len().min(32)]).into_owned();
    line.split(' ').nth(1).and_then(|s| s.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_malformed_requests_get_no_5xx() {
    let mock = start_mock(&[]).await;
    let addr = mock.addr;
    let statuses = tokio::task::spawn_blocking(move || {
        let mut rng = XorShift(0x5eed_1234_abcd_ef01);
        (0..3000).map(|_| status_of(addr, &odd_request(&mut rng))).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let server_errors: Vec<_> = statuses.iter().flatten().filter(|s| **s >= 500).collect();
    assert!(server_errors.is_empty(), "5xx answers: {server_errors:?}");
    let answered = statuses.iter().flatten().count();
    assert!(answered > 2900, "only {answered} of 3000 answered");
    let client = Client::new(ClientConfig::default());
    let after = client.send(retry_request(&mock.base_url, ALWAYS_RETRYABLE)).await;
    assert_eq!(after.result.unwrap().status, 200, "the mock still serves after the barrage");
    mock.shutdown().await;
}

/// The job history of an engine keeps its newest 100 jobs (README): 150 Retries leave 100, the
/// engine's latestJobId is the newest, which the job API still shows, and the oldest are gone.
#[tokio::test(flavor = "multi_thread")]
async fn the_job_history_keeps_the_newest_jobs_of_each_engine() {
    let mock = start_mock(&[]).await;
    let client = Client::new(ClientConfig::default());
    let mut ids = Vec::new();
    for _ in 0..150 {
        let (status, body) = fire(&client, vec![retry_request(&mock.base_url, ALWAYS_RETRYABLE)]).await.remove(0);
        assert_eq!(status, 200, "{body}");
        ids.push(body["jobId"].as_u64().unwrap());
    }
    let engine = mock.engine(ALWAYS_RETRYABLE).unwrap();
    assert_eq!(engine.jobs.len(), 100);
    assert_eq!(engine.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), ids[50..]);
    let base = format!("{}/v2/{PROJECT}/enginemgr/engines/{ALWAYS_RETRYABLE}", mock.base_url);
    let (newest, oldest_kept, dropped) = (ids[149], ids[50], ids[49]);
    let answers = fire(
        &client,
        vec![
            get_request(base.clone()),
            get_request(format!("{base}/jobs/{newest}")),
            get_request(format!("{base}/jobs/{oldest_kept}")),
            get_request(format!("{base}/jobs/{dropped}")),
        ],
    )
    .await;
    assert_eq!(answers[0].1["latestJobId"], newest);
    assert_eq!((answers[1].0, answers[1].1["id"].as_u64()), (200, Some(newest)));
    assert_eq!((answers[2].0, answers[2].1["id"].as_u64()), (200, Some(oldest_kept)));
    assert_eq!((answers[3].0, answers[3].1["error_code"].as_str()), (400, Some("SVCSTG.00501153")));
    // Other engines keep their own history.
    assert_eq!(mock.engine(SLOW_RETRY).unwrap().jobs.len(), 2);
    mock.shutdown().await;
}

/// `.../engines/{engine}` in `project`, and `.../jobs/{job}` under it.
fn engine_url(base: &str, project: &str, engine: &str) -> String {
    format!("{base}/v2/{project}/enginemgr/engines/{engine}")
}

/// One request, its status and body.
async fn send(client: &Client, request: Request) -> (u16, Value) {
    fire(client, vec![request]).await.remove(0)
}

/// A Retry of the default engine, then its job as show_job gives it, while the job runs (it
/// runs 300 ms; the reads come within a few ms).
async fn retried_job(fault: Fault) -> (Value, Value) {
    let mock = start_mock(&[fault]).await;
    let client = Client::new(ClientConfig::default());
    let (status, retried) = send(&client, retry_request(&mock.base_url, ENGINE)).await;
    assert_eq!(status, 200, "{}: {retried}", fault.name());
    let job = retried["jobId"].as_u64().unwrap();
    let (_, shown) =
        send(&client, get_request(format!("{}/jobs/{job}", engine_url(&mock.base_url, PROJECT, ENGINE)))).await;
    let (_, fixture_job) =
        send(&client, get_request(format!("{}/jobs/18638", engine_url(&mock.base_url, PROJECT, ENGINE)))).await;
    mock.shutdown().await;
    (shown, fixture_job)
}

#[tokio::test(flavor = "multi_thread")]
async fn another_projects_engine_is_unknown_here_and_retryable_there() {
    let mock = start_mock(&[]).await;
    let client = Client::new(ClientConfig::default());
    let here = engine_url(&mock.base_url, PROJECT, FOREIGN);
    let answers = fire(
        &client,
        vec![
            retry_request(&mock.base_url, FOREIGN),
            get_request(here.clone()),
            get_request(format!("{here}/jobs/18640")),
        ],
    )
    .await;
    for (status, body) in &answers {
        assert_eq!((*status, body["error_code"].as_str()), (400, Some("SVCSTG.00501116")), "{answers:?}");
    }
    let there = engine_url(&mock.base_url, "other-project", FOREIGN);
    let (status, retried) = send(&client, retry_request_in(&mock.base_url, "other-project", FOREIGN)).await;
    assert_eq!((status, retried["name"].as_str()), (200, Some("cse-foreign")));
    let (status, engine) = send(&client, get_request(there)).await;
    assert_eq!((status, engine["projectId"].as_str()), (200, Some("other-project")));
    // And this project's engines are not reached through the other one.
    let (status, _) = send(&client, retry_request_in(&mock.base_url, "other-project", ALWAYS_RETRYABLE)).await;
    assert_eq!(status, 400);
    mock.shutdown().await;

    let leaky = start_mock(&[Fault::ForeignEngineReachable]).await;
    let here = engine_url(&leaky.base_url, PROJECT, FOREIGN);
    let answers = fire(
        &client,
        vec![
            retry_request(&leaky.base_url, FOREIGN),
            get_request(here.clone()),
            get_request(format!("{here}/jobs/18640")),
        ],
    )
    .await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    leaky.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn job_faults_bend_show_job_for_a_retrys_job_only() {
    let (shown, fixture_job) = retried_job(Fault::JobUnknownToShowJob).await;
    assert_eq!(shown["error_code"], "SVCSTG.00501153");
    assert_eq!(fixture_job["id"], 18638);
    let (shown, fixture_job) = retried_job(Fault::JobOfAnotherEngine).await;
    assert_eq!(shown["engineId"], ALWAYS_RETRYABLE);
    assert_eq!(fixture_job["engineId"], ENGINE);
    let (shown, fixture_job) = retried_job(Fault::JobStatusOutsideEnum).await;
    assert_eq!(shown["status"], "Running");
    assert_eq!(fixture_job["status"], "Error");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_engine_reads_as_before_its_retry() {
    let mock = start_mock(&[Fault::EngineStateFrozen]).await;
    let client = Client::new(ClientConfig::default());
    let (_, retried) = send(&client, retry_request(&mock.base_url, ENGINE)).await;
    let (_, engine) = send(&client, get_request(engine_url(&mock.base_url, PROJECT, ENGINE))).await;
    assert_eq!(engine["status"], "CreateFailed");
    assert_eq!(engine["engineAdditionalActions"], json!(["Retry"]));
    assert_eq!(engine["latestJobId"], retried["jobId"]);
    // The state itself moved: a second Retry is refused.
    let (status, refused) = send(&client, retry_request(&mock.base_url, ENGINE)).await;
    assert_eq!((status, refused["error_code"].as_str()), (400, Some("SVCSTG.00501118")));
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_name_bends_the_retry_answer_only() {
    let mock = start_mock(&[Fault::WrongName]).await;
    let client = Client::new(ClientConfig::default());
    let (_, retried) = send(&client, retry_request(&mock.base_url, ALWAYS_RETRYABLE)).await;
    let (_, engine) = send(&client, get_request(engine_url(&mock.base_url, PROJECT, ALWAYS_RETRYABLE))).await;
    assert_eq!(
        (retried["name"].as_str(), engine["name"].as_str()),
        (Some("cse-always-retryable-x"), Some("cse-always-retryable"))
    );
    assert_eq!(retried["id"], ALWAYS_RETRYABLE);
    mock.shutdown().await;
}

/// Eight Retries of the default engine at once: how many are accepted, and their job ids.
async fn concurrent_retries_of_the_default_engine(faults: &[Fault]) -> (usize, BTreeSet<u64>) {
    let mock = start_mock(faults).await;
    let client = Client::new(ClientConfig::default());
    let answers = fire(&client, (0..8).map(|_| retry_request(&mock.base_url, ENGINE)).collect()).await;
    mock.shutdown().await;
    let accepted = answers.iter().filter(|(s, _)| *s == 200).count();
    (accepted, answers.iter().filter_map(|(_, b)| b["jobId"].as_u64()).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn racy_retry_accepts_every_concurrent_retry() {
    assert_eq!(concurrent_retries_of_the_default_engine(&[]).await.0, 1);
    let (accepted, ids) = concurrent_retries_of_the_default_engine(&[Fault::RacyRetry]).await;
    assert_eq!((accepted, ids.len()), (8, 8), "{ids:?}");
    // Alone, a Retry under the fault is accepted, then the engine is busy as ever.
    let mock = start_mock(&[Fault::RacyRetry]).await;
    let client = Client::new(ClientConfig::default());
    assert_eq!(send(&client, retry_request(&mock.base_url, ENGINE)).await.0, 200);
    assert_eq!(send(&client, retry_request(&mock.base_url, ENGINE)).await.0, 400);
    let engine = mock.engine(ENGINE).unwrap();
    assert_eq!(engine.jobs.iter().filter(|j| j.status == JobStatus::Executing).count(), 1);
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_job_at_a_time_faults_start_a_second_job() {
    // accept_retry_while_running: a second Retry while the first's job runs; an Available
    // engine is still refused.
    let mock = start_mock(&[Fault::AcceptRetryWhileRunning]).await;
    let client = Client::new(ClientConfig::default());
    let (_, first) = send(&client, retry_request(&mock.base_url, ENGINE)).await;
    let (status, second) = send(&client, retry_request(&mock.base_url, ENGINE)).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(first["jobId"], second["jobId"]);
    let running = mock.engine(ENGINE).unwrap().jobs.iter().filter(|j| j.status == JobStatus::Executing).count();
    assert_eq!(running, 2);
    assert_eq!(send(&client, retry_request(&mock.base_url, AVAILABLE)).await.0, 400);
    mock.shutdown().await;
    // same_job_id: two jobs, one id.
    let mock = start_mock(&[Fault::SameJobId]).await;
    let (_, first) = send(&client, retry_request(&mock.base_url, ALWAYS_RETRYABLE)).await;
    let (_, second) = send(&client, retry_request(&mock.base_url, ALWAYS_RETRYABLE)).await;
    assert_eq!(first["jobId"], second["jobId"]);
    assert_eq!(mock.engine(ALWAYS_RETRYABLE).unwrap().jobs.len(), 3);
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_not_retryable_upgrades_an_available_engine() {
    let mock = start_mock(&[Fault::AcceptNotRetryable]).await;
    let client = Client::new(ClientConfig::default());
    let (status, retried) = send(&client, retry_request(&mock.base_url, AVAILABLE)).await;
    assert_eq!((status, retried["name"].as_str()), (200, Some("cse-available")));
    let url = engine_url(&mock.base_url, PROJECT, AVAILABLE);
    let (_, engine) = send(&client, get_request(url.clone())).await;
    let (_, job) = send(&client, get_request(format!("{url}/jobs/{}", retried["jobId"]))).await;
    assert_eq!((engine["status"].as_str(), job["type"].as_str()), (Some("Upgrading"), Some("Upgrade")));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (_, engine) = send(&client, get_request(url)).await;
    assert_eq!(engine["status"], "Available");
    assert_eq!(mock.engine(AVAILABLE).unwrap().jobs.back().unwrap().status, JobStatus::Finished);
    mock.shutdown().await;
}
