//! `cse-contract proxy`, the validation proxy, as its own process between a client and a server:
//! the suite run through it passes as it does directly while the proxy finds only the suite's
//! deliberately bad requests; each fault of the mock a single request shows is named by the proxy;
//! a client's bad request is `request_conforms`; what passes through is not altered (header case
//! and order, streamed bodies, bodies over the judging cap); upstream failures are answered 502 and
//! 504; secrets are masked; clients beyond the bound wait; reports are written while it runs.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cse_contract::check::CheckKind;
use cse_contract::client::{Client, ClientConfig, Request};
use cse_contract::mock::Fault;
use serde_json::Value;

use crate::support::{ALWAYS_RETRYABLE, BIN, ENGINE, PROJECT, TOKEN, start_mock};

/// The checks no fault of the mock can fail: they judge the client. A bad request through the
/// proxy proves each (`a_fault_or_a_bad_request_is_named_by_its_check`); `faults.rs` counts them
/// among the proven.
pub(crate) const CLIENT_SIDE: [CheckKind; 1] = [CheckKind::RequestConforms];

/// `cse-contract proxy` as its own process, its reports in a folder of its own.
struct ProxyProcess {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// A test that fails before stopping its proxy leaves no process behind.
impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a stopped proxy left: its exit code, its stderr, and its three reports.
struct Stopped {
    code: Option<i32>,
    stderr: String,
    report: Value,
    texts: Vec<String>,
}

impl ProxyProcess {
    fn start(upstream: &str, args: &[&str]) -> ProxyProcess {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut child = Command::new(BIN)
            .args(["proxy", "--upstream", upstream, "--listen", "127.0.0.1:0"])
            .args(["--json", &path("report.json"), "--junit", &path("junit.xml"), "--html", &path("index.html")])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        assert!(line.starts_with("http://127.0.0.1:"), "first line: {line:?}");
        ProxyProcess { child, url: line.trim().to_owned(), dir, stderr: Some(stderr) }
    }

    fn report_path(&self) -> std::path::PathBuf {
        self.dir.path().join("report.json")
    }

    /// Stops it with SIGTERM, as CI cancels a job.
    fn stop(mut self) -> Stopped {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let code = self.child.wait().unwrap().code();
        let stderr = self.stderr.take().map(|s| s.join().unwrap()).unwrap_or_default();
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let texts = vec![read("report.json"), read("junit.xml"), read("index.html")];
        let report = serde_json::from_str(&texts[0]).unwrap_or(Value::Null);
        Stopped { code, stderr, report, texts }
    }
}

impl Stopped {
    /// (name, outcome, failed checks) of every exchange in the JSON report.
    fn exchanges(&self) -> Vec<(String, String, BTreeSet<String>)> {
        let cases = self.report["cases"].as_array().unwrap_or_else(|| panic!("no cases in {}", self.report));
        cases
            .iter()
            .map(|c| {
                let failed = c["failed_checks"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned());
                (c["name"].as_str().unwrap().to_owned(), c["outcome"].as_str().unwrap().to_owned(), failed.collect())
            })
            .collect()
    }
}

fn retry_request(base: &str, engine: &str, body: &str, token: &str) -> Request {
    Request {
        method: "PUT".into(),
        url: format!("{base}/v2/{PROJECT}/enginemgr/engines/{engine}/actions"),
        headers: vec![
            ("X-Auth-Token".into(), token.into()),
            ("Content-Type".into(), "application/json;charset=UTF-8".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Bytes::from(body.to_owned()),
    }
}

/// The whole suite (hand-written, stateful, coverage and 100 generated cases) run through the
/// proxy passes as it does against the mock directly, so the proxy altered nothing it sent; and
/// the proxy judges every exchange, finding only the suite's deliberately bad requests, each
/// `request_conforms` alone: its judgement and the run's agree on the mock.
#[tokio::test(flavor = "multi_thread")]
async fn the_suite_through_the_proxy_passes_and_only_its_bad_requests_are_findings() {
    let mock = start_mock(&[]).await;
    let proxy = ProxyProcess::start(&mock.base_url, &["-q"]);
    let run = Command::new(BIN)
        .args(["run", "--target", &proxy.url, "--project-id", PROJECT, "--engine-id", ENGINE])
        .args(["--generated", "100", "--seed", "19", "--no-reports", "-q"])
        .env("CSE_AUTH_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stopped = proxy.stop();
    mock.shutdown().await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "the run through the proxy:\n{stdout}");
    assert_eq!(stopped.code, Some(0), "without --fail-on-violation, findings do not fail the proxy");
    let violations = crate::support::contract().schema("report.schema.json").unwrap().violations(&stopped.report);
    assert!(violations.is_empty(), "the proxy's report against report.schema.json: {violations:?}");
    let exchanges = stopped.exchanges();
    assert!(exchanges.len() > 300, "{} exchanges", exchanges.len());
    let mut findings = 0;
    for (name, outcome, failed) in &exchanges {
        match outcome.as_str() {
            "passed" => assert!(failed.is_empty()),
            "failed" => {
                assert_eq!(failed, &BTreeSet::from(["request_conforms".to_owned()]), "{name}");
                findings += 1;
            }
            other => panic!("{name} {other}: {failed:?}"),
        }
    }
    assert!(findings > 50 && findings < exchanges.len() / 2, "{findings} of {}", exchanges.len());
    for text in stopped.texts.iter().chain([&stopped.stderr]) {
        assert!(!text.contains(TOKEN), "the token in an output");
    }
}

/// Through the proxy: the plain mock answers a valid Retry and a bad action conformantly (the bad
/// action is the client's finding, `request_conforms` alone); each fault a single request shows
/// fails the checks listed.
#[tokio::test(flavor = "multi_thread")]
async fn a_fault_or_a_bad_request_is_named_by_its_check() {
    use CheckKind::{BodySchema, ContentType, Identity, NegativeRejected, StatusExpected};
    let cases: [(Option<Fault>, &str, &[CheckKind]); 6] = [
        (None, r#"{"action":"Retry"}"#, &[]),
        (None, r#"{"action":"Bogus"}"#, &CLIENT_SIDE),
        (Some(Fault::SuccessMissingJobId), r#"{"action":"Retry"}"#, &[BodySchema]),
        (Some(Fault::WrongId), r#"{"action":"Retry"}"#, &[Identity]),
        (Some(Fault::HtmlContentType), r#"{"action":"Retry"}"#, &[ContentType]),
        (
            Some(Fault::AcceptBadAction),
            r#"{"action":"Bogus"}"#,
            &[CheckKind::RequestConforms, StatusExpected, NegativeRejected],
        ),
    ];
    let client = Client::new(ClientConfig::default());
    for (fault, body, expected) in cases {
        let mock = start_mock(fault.as_slice()).await;
        let proxy = ProxyProcess::start(&mock.base_url, &["-q"]);
        let exchange = client.send(retry_request(&proxy.url, ALWAYS_RETRYABLE, body, TOKEN)).await;
        assert!(exchange.result.is_ok(), "{exchange:?}");
        let stopped = proxy.stop();
        mock.shutdown().await;
        let named = fault.map_or("the plain mock", Fault::name);
        let expected: BTreeSet<String> = expected.iter().map(|c| c.name().to_owned()).collect();
        let exchanges = stopped.exchanges();
        assert_eq!(exchanges.len(), 1, "{named} {body}");
        assert_eq!(exchanges[0].2, expected, "{named} {body}");
        if let Some(fault) = fault {
            assert!(expected.contains(fault.proves()), "{}", fault.name());
        }
    }
}

/// A hand-written upstream for what the proxy must not alter: it records each request's raw
/// head and body and answers with `answer(head)`'s parts, sending the second only once `go` says.
struct Upstream {
    url: String,
    seen: std::sync::mpsc::Receiver<(String, Vec<u8>)>,
}

type Parts = Vec<Vec<u8>>;

fn upstream(answer: fn(&str) -> Parts, go: Option<std::sync::mpsc::Receiver<()>>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, seen) = std::sync::mpsc::channel();
    let go = std::sync::Arc::new(std::sync::Mutex::new(go));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (tx, go) = (tx.clone(), go.clone());
            std::thread::spawn(move || {
                let mut stream = stream.unwrap();
                while let Some((head, body)) = read_raw_request(&mut stream) {
                    let parts = answer(&head);
                    let _ = tx.send((head, body));
                    for (i, part) in parts.iter().enumerate() {
                        // Without the go, the rest never comes: a proxy that waits for the
                        // whole body before answering gets none.
                        let held = go.lock().unwrap();
                        if i == 1 && held.as_ref().is_some_and(|go| go.recv_timeout(Duration::from_secs(5)).is_err()) {
                            return;
                        }
                        let _ = stream.write_all(part);
                        let _ = stream.flush();
                    }
                }
            });
        }
    });
    Upstream { url, seen }
}

/// One request off `stream`: its head as text (up to the blank line) and its Content-Length body.
fn read_raw_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).ok()?;
    Some((head, body))
}

const STREAMED_BODY: &str = r#"{"id":"e-1","name":"cse-x","jobId":7}"#;

/// A 200 with mixed-case, repeated and hop-by-hop fields, its body in two parts.
fn streamed(head: &str) -> Parts {
    if head.contains("?big=1") || head.contains("?huge=1") {
        let size = if head.contains("?huge=1") { 32 << 20 } else { 100_000 };
        let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(size));
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        return vec![answer.into_bytes()];
    }
    let (first, rest) = STREAMED_BODY.split_at(12);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nX-Mixed-Case: One\r\nSet-Cookie: a=1\r\n\
         X-Request-Id: r-1\r\nSet-Cookie: b=2\r\nConnection: keep-alive, X-Hop\r\nX-Hop: dropped\r\nKeep-Alive: timeout=5\r\n\
         Content-Length: {}\r\n\r\n{first}",
        STREAMED_BODY.len()
    );
    vec![head.into_bytes(), rest.as_bytes().to_vec()]
}

/// The request as the client sends it: mixed case, a hop-by-hop field Connection names.
const CLIENT_REQUEST: &str = "PUT /v2/p/enginemgr/engines/e-1/actions?trace=1 HTTP/1.1\r\nHost: proxy.example\r\n\
    X-Auth-Token: tok-0123456789\r\nContent-Type: application/json;charset=UTF-8\r\nAccept: application/json\r\n\
    X-Custom-CASE: Value\r\nConnection: keep-alive, X-Client-Hop\r\nX-Client-Hop: 1\r\nContent-Length: 18\r\n\r\n\
    {\"action\":\"Retry\"}";

/// Reads from `stream` until `bytes` holds `want`; what was read.
fn read_until(stream: &mut TcpStream, bytes: &mut Vec<u8>, want: &str) {
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(bytes).contains(want) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before {want:?}: {}", String::from_utf8_lossy(bytes));
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// The header lines of a raw head, after its first line.
fn fields(head: &str) -> Vec<&str> {
    head.split("\r\n").skip(1).filter(|l| !l.is_empty()).collect()
}

/// Header names keep their case and order both ways, only hop-by-hop fields are dropped, Host is
/// the upstream's, and a body streams: the client reads the answer's first part while the
/// upstream still holds the rest (the upstream waits for that before sending it). A body over
/// the judging cap is forwarded whole, and the exchange reported not judged, saying why.
#[tokio::test(flavor = "multi_thread")]
async fn what_passes_through_is_not_altered() {
    let (go, wait) = std::sync::mpsc::channel();
    let upstream = upstream(streamed, Some(wait));
    let proxy = ProxyProcess::start(&upstream.url, &["-q", "--max-judged-body", "64KiB"]);
    let address = proxy.url.trim_start_matches("http://").to_owned();
    let mut client = TcpStream::connect(&address).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    client.write_all(CLIENT_REQUEST.as_bytes()).unwrap();
    let mut answer = Vec::new();
    read_until(&mut client, &mut answer, &STREAMED_BODY[..12]);
    go.send(()).unwrap();
    read_until(&mut client, &mut answer, STREAMED_BODY);
    let (head, body) = upstream.seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(head.lines().next(), Some("PUT /v2/p/enginemgr/engines/e-1/actions?trace=1 HTTP/1.1"));
    let host = format!("Host: {}", upstream.url.trim_start_matches("http://"));
    let mut sent: Vec<&str> = fields(&head);
    assert!(sent.iter().any(|l| l.eq_ignore_ascii_case(&host)), "{head}");
    sent.retain(|l| !l.to_ascii_lowercase().starts_with("host:"));
    let expected = [
        "X-Auth-Token: tok-0123456789",
        "Content-Type: application/json;charset=UTF-8",
        "Accept: application/json",
        "X-Custom-CASE: Value",
        "Content-Length: 18",
    ];
    assert_eq!(sent, expected, "{head}");
    assert_eq!(body, b"{\"action\":\"Retry\"}");
    let answer = String::from_utf8(answer).unwrap();
    let (answer_head, answer_body) = answer.split_once("\r\n\r\n").unwrap();
    assert_eq!(answer_head.lines().next(), Some("HTTP/1.1 200 OK"));
    // Nothing added either: no Date of the proxy's own.
    let received: Vec<&str> = fields(answer_head);
    let content_length = format!("Content-Length: {}", STREAMED_BODY.len());
    let expected = [
        "Content-Type: application/json;charset=UTF-8",
        "X-Mixed-Case: One",
        "Set-Cookie: a=1",
        "X-Request-Id: r-1",
        "Set-Cookie: b=2",
        &content_length,
    ];
    // Repeated fields stay in their order; hyper writes a name's values together.
    let mut received_sorted = received.clone();
    received_sorted.sort_unstable();
    let mut expected_sorted = expected.to_vec();
    expected_sorted.sort_unstable();
    assert_eq!(received_sorted, expected_sorted, "{answer_head}");
    assert!(
        received.iter().position(|l| *l == "Set-Cookie: a=1") < received.iter().position(|l| *l == "Set-Cookie: b=2")
    );
    assert_eq!(answer_body, STREAMED_BODY);
    drop(client);
    let big = raw_get(&address, "/v2/p/enginemgr/engines/e-1?big=1");
    assert!(big.ends_with(&format!("{}\"}}", "x".repeat(50))) && big.len() > 100_000, "{}", big.len());
    let stopped = proxy.stop();
    let exchanges = stopped.exchanges();
    assert_eq!(exchanges[0].1, "passed", "{:?}", stopped.report["cases"][0]);
    let note = stopped.report["cases"][1]["note"].as_str().unwrap_or_default().to_owned();
    assert_eq!(exchanges[1].1, "skipped", "{:?}", stopped.report["cases"][1]);
    assert!(note.contains("response body (100010 bytes) is over --max-judged-body (65536 bytes)"), "{note}");
}

/// A GET with `Connection: close` over a raw socket; the whole answer as text.
fn raw_get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A valid show_engine body, chunked, with a trailer.
fn with_trailers(_head: &str) -> Parts {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nTrailer: X-Checksum\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    let body = format!("{:x}\r\n{STREAMED_BODY}\r\n0\r\nX-Checksum: c0ffee\r\n\r\n", STREAMED_BODY.len());
    vec![format!("{head}{body}").into_bytes()]
}

/// An answer ending with trailers: the client that accepts them gets them, and the exchange is
/// judged (a body that ends with trailers had been taken for one the client gave up on).
#[test]
fn trailers_pass_and_a_body_ending_with_them_is_judged() {
    let upstream = upstream(with_trailers, None);
    let proxy = ProxyProcess::start(&upstream.url, &["-q"]);
    let mut client = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let request = "GET /v2/p/enginemgr/engines/e-1 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: t\r\nAccept: application/json\r\n\
                   TE: trailers\r\nConnection: close\r\n\r\n";
    client.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("x-checksum: c0ffee") || answer.contains("X-Checksum: c0ffee"), "{answer}");
    let (head, _) = upstream.seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(head.to_ascii_lowercase().contains("te: trailers"), "the upstream is told trailers are taken: {head}");
    let stopped = proxy.stop();
    // Judged: its body (no status) fails the schema, as it would without trailers.
    let (_, outcome, failed) = &stopped.exchanges()[0];
    assert_eq!((outcome.as_str(), failed), ("failed", &BTreeSet::from(["body_schema".to_owned()])));
}

/// `--timeout` bounds the upstream's answer, counted once the request is sent: a client that
/// takes longer than that to upload its body gets the upstream's answer, not a 504.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_upload_is_not_the_upstreams_timeout() {
    let mock = start_mock(&[]).await;
    let proxy = ProxyProcess::start(&mock.base_url, &["-q", "--timeout", "600ms"]);
    let address = proxy.url.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut client = TcpStream::connect(&address).unwrap();
        let head = format!(
            "PUT /v2/{PROJECT}/enginemgr/engines/{ALWAYS_RETRYABLE}/actions HTTP/1.1\r\nHost: x\r\n\
             X-Auth-Token: {TOKEN}\r\nContent-Type: application/json\r\nAccept: application/json\r\n\
             Content-Length: 18\r\nConnection: close\r\n\r\n"
        );
        client.write_all(head.as_bytes()).unwrap();
        for part in ["{\"action\"", ":\"Re", "try\"}"] {
            std::thread::sleep(Duration::from_millis(400));
            client.write_all(part.as_bytes()).unwrap();
        }
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    let stopped = proxy.stop();
    mock.shutdown().await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(stopped.exchanges()[0].1, "passed", "{}", stopped.report["cases"][0]);
}

/// A client that stops reading a large answer does not hold the proxy: after --timeout the
/// exchange is recorded (not judged, saying why), and its connection, idle then, makes room for
/// the next client.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_does_not_hold_the_proxy() {
    let upstream = upstream(streamed, None);
    let proxy = ProxyProcess::start(
        &upstream.url,
        &["-q", "--max-connections", "1", "--timeout", "500ms", "--idle-timeout", "300ms"],
    );
    let address = proxy.url.trim_start_matches("http://").to_owned();
    let mut stalled = TcpStream::connect(&address).unwrap();
    // 32 MiB: more than the socket buffers take while the client reads nothing.
    let request = "GET /v2/p/enginemgr/engines/e-1?huge=1 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: t\r\n\r\n";
    stalled.write_all(request.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let answer = raw_get(&address, "/v2/p/enginemgr/engines/e-1");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    drop(stalled);
    let stopped = proxy.stop();
    let case = &stopped.report["cases"][0];
    assert_eq!(case["outcome"].as_str(), Some("skipped"), "{case}");
    let note = case["note"].as_str().unwrap_or_default();
    assert!(note.starts_with("the client stopped taking the answer: none of it was taken for 500ms"), "{note}");
}

/// A valid show_engine answer (the engine of the path, as a conforming upstream gives it).
const SHOWN_ENGINE: &str = r#"{"id":"4a1bc63d-4719-4bd3-b1ad-5ee590b05e87","name":"cse-gve7lg","status":"Available","type":"CSE","authType":"RBAC","flavor":"cse.s1.small2","payment":"1","projectId":"demo-project","enterpriseProjectId":"0","latestJobId":18702,"engineAdditionalActions":[]}"#;
const SHOWN_ENGINE_PATH: &str = "/v2/demo-project/enginemgr/engines/4a1bc63d-4719-4bd3-b1ad-5ee590b05e87";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An upstream that compresses: SHOWN_ENGINE gzipped when the request accepts gzip, plain
/// otherwise; `?bomb`: a megabyte of blanks gzipped (1 KiB on the wire); `?corrupt`: the gzipped
/// engine with its checksum broken; `?br`: br, whatever the request accepts.
fn compressing(head: &str) -> Parts {
    let accepts_gzip = head.to_ascii_lowercase().contains("accept-encoding: gzip");
    let (coding, body) = if head.contains("?bomb") {
        ("gzip", gzip(&vec![b' '; 1 << 20]))
    } else if head.contains("?corrupt") {
        let mut body = gzip(SHOWN_ENGINE.as_bytes());
        let crc = body.len() - 8;
        body[crc] ^= 0xff;
        ("gzip", body)
    } else if head.contains("?br") {
        // `{"br":true}` as node's zlib.brotliCompressSync writes it.
        ("br", vec![11, 5, 128, 123, 34, 98, 114, 34, 58, 116, 114, 117, 101, 125, 3])
    } else if accepts_gzip {
        ("gzip", gzip(SHOWN_ENGINE.as_bytes()))
    } else {
        ("identity", SHOWN_ENGINE.as_bytes().to_vec())
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Encoding: {coding}\r\n\
         Vary: Accept-Encoding\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    vec![[head.into_bytes(), body].concat()]
}

/// A GET of show_engine as python-requests sends it (`Accept-Encoding: gzip, deflate`, or
/// `accept` instead) with `Connection: close` over a raw socket; the answer's head and body bytes.
fn requests_get(address: &str, query: &str, accept: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!(
        "GET {SHOWN_ENGINE_PATH}{query} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: tok-abcdefghijklmnop\r\n\
         Accept: application/json\r\n{accept}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (String::from_utf8_lossy(&answer[..at]).into_owned(), answer[at + 4..].to_vec())
}

/// A client that accepts gzip may get its answer compressed: the proxy forwards the compressed
/// bytes untouched and judges what they encode, so a valid body passes as it does plain. Decoding
/// stops at --max-judged-body (a small body that decodes to a megabyte is not judged, saying
/// why); a broken gzip stream is the upstream's fault, `body_schema`'s finding, saying why; a
/// coding the request did not accept is not judged, saying so.
#[test]
fn a_compressed_answer_is_judged_decoded_and_forwarded_untouched() {
    const PYTHON: &str = "Accept-Encoding: gzip, deflate\r\n";
    let upstream = upstream(compressing, None);
    let proxy = ProxyProcess::start(&upstream.url, &["--max-judged-body", "64KiB"]);
    let address = proxy.url.trim_start_matches("http://").to_owned();
    let (head, body) = requests_get(&address, "", PYTHON);
    assert!(head.to_ascii_lowercase().contains("content-encoding: gzip"), "{head}");
    assert_eq!(body, gzip(SHOWN_ENGINE.as_bytes()), "the client gets the upstream's bytes");
    let (_, plain) = requests_get(&address, "", "");
    assert_eq!(plain, SHOWN_ENGINE.as_bytes());
    let (_, bomb) = requests_get(&address, "?bomb", PYTHON);
    assert_eq!(bomb, gzip(&vec![b' '; 1 << 20]));
    requests_get(&address, "?corrupt", PYTHON);
    requests_get(&address, "?br", PYTHON);
    let stopped = proxy.stop();
    let exchanges = stopped.exchanges();
    let cases = &stopped.report["cases"];
    let note = |i: usize| cases[i]["note"].as_str().unwrap_or_default().to_owned();
    let verdicts: Vec<(&str, Vec<&str>)> = exchanges
        .iter()
        .map(|(_, outcome, failed)| (outcome.as_str(), failed.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("passed", vec![]),
            ("passed", vec![]),
            ("skipped", vec![]),
            ("failed", vec!["body_schema"]),
            ("skipped", vec![])
        ],
        "{}",
        stopped.stderr
    );
    assert!(note(0).starts_with("the answer came with Content-Encoding: gzip ("), "{}", note(0));
    assert!(
        note(2).contains("is over --max-judged-body (65536 bytes) once decoded from Content-Encoding: gzip"),
        "{}",
        note(2)
    );
    let corrupt = cases[3].to_string();
    assert!(corrupt.contains("got a body that is not a valid gzip stream, which its Content-Encoding"), "{corrupt}");
    assert!(!corrupt.contains("asked for none"), "{corrupt}");
    assert!(
        note(4).contains("Content-Encoding: br, which the request's Accept-Encoding (gzip, deflate) does not accept"),
        "{}",
        note(4)
    );
}

/// An answer that streams slowly, each pause within --timeout, is judged whole (a client taking it
/// all is not blamed for the upstream's pace), and its client gets it all.
#[test]
fn a_slowly_streamed_answer_is_judged() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = read_raw_request(&mut stream);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            STREAMED_BODY.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        for part in STREAMED_BODY.as_bytes().chunks(12) {
            std::thread::sleep(Duration::from_millis(400));
            stream.write_all(part).unwrap();
        }
        std::thread::sleep(Duration::from_secs(2));
    });
    let proxy = ProxyProcess::start(&url, &["-q", "--timeout", "700ms"]);
    let answer = raw_get(proxy.url.trim_start_matches("http://"), "/v2/p/enginemgr/engines/e-1");
    assert!(answer.ends_with(STREAMED_BODY), "{answer}");
    let stopped = proxy.stop();
    let (_, outcome, failed) = &stopped.exchanges()[0];
    assert_eq!((outcome.as_str(), failed), ("failed", &BTreeSet::from(["body_schema".to_owned()])), "judged whole");
}

/// An upstream that stops reading a large request body gets no more time than one that does not
/// answer: the client gets 504 after --timeout, and the exchange is recorded.
#[test]
fn an_upstream_that_stops_reading_is_timed_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Holds the connection, reads nothing.
        std::thread::sleep(Duration::from_secs(30));
        drop(stream);
    });
    let proxy = ProxyProcess::start(&url, &["-q", "--timeout", "700ms", "--max-judged-body", "64KiB"]);
    let mut client = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
    let size = 64 << 20;
    let head = format!(
        "PUT /v2/p/enginemgr/engines/e/actions HTTP/1.1\r\nHost: x\r\nX-Auth-Token: t\r\nContent-Length: {size}\r\n\r\n"
    );
    client.write_all(head.as_bytes()).unwrap();
    let mut writer = client.try_clone().unwrap();
    std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    read_until(&mut client, &mut answer, "cse-contract.proxy.504");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    drop(client);
    let stopped = proxy.stop();
    let case = &stopped.report["cases"][0];
    assert_eq!(case["outcome"].as_str(), Some("errored"), "{case}");
}

/// An upstream that refuses connections is answered 502, one that never answers 504 after
/// --timeout, each with the proxy's JSON error; both exchanges are reported errored, and
/// --fail-on-violation exits 1.
#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_are_answered_as_a_gateway() {
    let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = Client::new(ClientConfig::default());
    let mut stopped = Vec::new();
    for (upstream, status) in
        [(format!("http://{refused}"), 502), (format!("http://{}", silent.local_addr().unwrap()), 504)]
    {
        let proxy = ProxyProcess::start(&upstream, &["--timeout", "300ms", "--fail-on-violation"]);
        let started = Instant::now();
        let exchange = client.send(retry_request(&proxy.url, ENGINE, r#"{"action":"Retry"}"#, TOKEN)).await;
        let response = exchange.result.unwrap();
        assert_eq!(response.status, status);
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["error_code"], format!("cse-contract.proxy.{status}"));
        assert!(body["error_msg"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        stopped.push((status, proxy.stop()));
    }
    for (status, stopped) in stopped {
        assert_eq!(stopped.code, Some(1), "{status}: {}", stopped.stderr);
        let case = &stopped.report["cases"][0];
        assert_eq!(
            (case["outcome"].as_str(), &case["failed_checks"]),
            (Some("errored"), &serde_json::json!(["transport"]))
        );
        let note = case["note"].as_str().unwrap_or_default();
        assert!(note.contains(&format!("answered the client {status}")), "{note}");
        assert!(stopped.stderr.contains("retry::exchange_1 PUT - ERRORED"), "{}", stopped.stderr);
    }
    drop(silent);
}

/// The proxy is a reverse proxy: a client that takes it for its HTTP proxy (CONNECT) is answered
/// 501 with the proxy's JSON error, nothing reaches the upstream, and the exchange is counted
/// not judged, saying why.
#[test]
fn a_connect_is_refused_and_nothing_is_forwarded() {
    let upstream = upstream(streamed, None);
    let proxy = ProxyProcess::start(&upstream.url, &[]);
    let mut stream = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"CONNECT cse.example:443 HTTP/1.1\r\nHost: cse.example:443\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    read_until(&mut stream, &mut answer, "}");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 501 "), "{answer}");
    assert!(
        answer.contains(r#""error_code":"cse-contract.proxy.501""#) && answer.contains("reverse proxy"),
        "{answer}"
    );
    drop(stream);
    let stopped = proxy.stop();
    assert!(upstream.seen.try_recv().is_err(), "nothing reached the upstream");
    let case = &stopped.report["cases"][0];
    assert_eq!((case["outcome"].as_str(), case["status"].as_u64()), (Some("skipped"), Some(501)), "{}", stopped.report);
    let note = case["note"].as_str().unwrap_or_default();
    assert!(note.starts_with("the proxy answered 501 itself and forwarded nothing: CONNECT"), "{note}");
}

/// An exchange cut short before its answer came (the upstream is silent) is reported not judged,
/// saying why, not left out of the report: when the client gives up, and when the proxy is
/// stopped and its grace (5 s) runs out; the client's connection is then closed.
#[test]
fn an_exchange_cut_short_is_recorded() {
    for client_goes in [true, false] {
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = ProxyProcess::start(&format!("http://{}", silent.local_addr().unwrap()), &["--timeout", "30s"]);
        let mut stream = TcpStream::connect(proxy.url.trim_start_matches("http://")).unwrap();
        stream.write_all(CLIENT_REQUEST.as_bytes()).unwrap();
        // The upstream has the request once the proxy forwarded it.
        let (mut upstream, _) = silent.accept().unwrap();
        let mut head = Vec::new();
        read_until(&mut upstream, &mut head, "Retry");
        if client_goes {
            drop(stream.try_clone().unwrap());
            stream.shutdown(std::net::Shutdown::Both).unwrap();
            // Time for the proxy to see the client go; stopping waits for what it then records.
            std::thread::sleep(Duration::from_millis(300));
        }
        let started = Instant::now();
        let stopped = proxy.stop();
        if !client_goes {
            assert!(started.elapsed() >= Duration::from_secs(4), "the grace: {:?}", started.elapsed());
            let mut rest = Vec::new();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(stream.read_to_end(&mut rest).ok(), Some(0), "the client's connection is closed, unanswered");
        }
        drop(upstream);
        let case = &stopped.report["cases"][0];
        assert_eq!(case["outcome"].as_str(), Some("skipped"), "{}", stopped.report);
        let who = if client_goes { "the client closed the connection" } else { "the proxy stopped" };
        let note = case["note"].as_str().unwrap_or_default();
        assert!(note.starts_with(&format!("{who} ")) && note.contains("before the answer came"), "{note}");
        let line = format!("retry::exchange_1 PUT - not judged: {who}");
        assert!(stopped.stderr.contains(&line), "{}", stopped.stderr);
    }
}

/// Tokens, AK/SK signatures and cookies the clients send, and the cookie the upstream sets, are
/// masked in every report and line, in the headers that carry them and where the upstream echoes
/// them.
#[tokio::test(flavor = "multi_thread")]
async fn what_clients_send_as_secrets_is_masked_everywhere() {
    const SET_COOKIE: &str = "sid-7fQz9Kx2Lm4Wp8RtVb";
    fn echo(head: &str) -> Parts {
        let body = serde_json::json!({ "echo": head, "session": SET_COOKIE }).to_string();
        vec![
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: SID={SET_COOKIE}; Path=/; HttpOnly\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        ]
    }
    let upstream = upstream(echo, None);
    let proxy = ProxyProcess::start(&upstream.url, &[]);
    let client = Client::new(ClientConfig::default());
    let token = "proxy-secret-token-0123456789";
    let signature = "5ec2e75e1a7e0123456789abcdef";
    let cookie = "session=cookie-secret-0123456789";
    let mut signed = retry_request(&proxy.url, ENGINE, r#"{"action":"Retry"}"#, "");
    signed.headers.retain(|(n, _)| n != "X-Auth-Token");
    let authorization = format!("SDK-HMAC-SHA256 Access=AKID, SignedHeaders=content-type;host, Signature={signature}");
    signed.headers.extend([("Authorization".to_owned(), authorization), ("Cookie".to_owned(), cookie.to_owned())]);
    // Sent percent-encoded in lower case (`+` and `/`): neither form may show.
    let query_token = "q-secret-5tGh8Kp2WzR7";
    let mut in_query = retry_request(&proxy.url, ENGINE, r#"{"action":"Retry"}"#, token);
    in_query.url = format!("{}?x-auth-token={query_token}%2b%2fZq", in_query.url);
    for request in [retry_request(&proxy.url, ENGINE, r#"{"action":"Retry"}"#, token), signed, in_query] {
        assert_eq!(client.send(request).await.result.unwrap().status, 200);
    }
    let stopped = proxy.stop();
    let exchanges = stopped.exchanges();
    assert!(exchanges.iter().all(|(_, outcome, failed)| outcome == "failed" && failed.contains("body_schema")));
    for (what, text) in
        ["report.json", "junit.xml", "index.html", "stderr"].iter().zip(stopped.texts.iter().chain([&stopped.stderr]))
    {
        for secret in [token, signature, cookie, &token[..12], &signature[6..18], SET_COOKIE, query_token] {
            assert!(!text.contains(secret), "{what} holds {secret:?}");
        }
    }
    assert!(stopped.texts[0].contains("Access=AKID"), "the access key id is not a secret");
    assert!(stopped.texts[0].contains("SID=***; Path=/; HttpOnly"), "the cookie's name and attributes stay");
}

/// Credentials in --upstream's URL, an IAM token an answer hands out (`X-Subject-Token`), and
/// the echo of it, reach no report: the token is learnt from the answer's head, before the
/// exchange that carries it is recorded.
#[test]
fn upstream_credentials_and_tokens_handed_out_are_masked() {
    const ISSUED: &str = "MIIissued-7Qx2Lk9Vb3Np5Rw";
    fn issue(_head: &str) -> Parts {
        let body = serde_json::json!({ "token": { "issued": ISSUED } }).to_string();
        let head = format!(
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Subject-Token: {ISSUED}\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        vec![format!("{head}{body}").into_bytes()]
    }
    let upstream = upstream(issue, None);
    let with_password = upstream.url.replace("http://", "http://admin:Pw-9dK2mQ7xZ4@");
    let proxy = ProxyProcess::start(&with_password, &[]);
    let answer = raw_get(proxy.url.trim_start_matches("http://"), "/v2/p/enginemgr/engines/e-1");
    assert!(answer.contains(ISSUED), "the client gets the token: {answer}");
    let stopped = proxy.stop();
    assert_eq!(stopped.exchanges()[0].1, "failed", "a 201 is no answer of show_engine");
    for (what, text) in
        ["report.json", "junit.xml", "index.html", "stderr"].iter().zip(stopped.texts.iter().chain([&stopped.stderr]))
    {
        for secret in [ISSUED, "Pw-9dK2mQ7xZ4"] {
            assert!(!text.contains(secret), "{what} holds {secret}");
        }
    }
    assert!(stopped.texts[0].contains("http://***@127.0.0.1:"), "{}", stopped.texts[0]);
}

/// With --max-connections 1, a second client waits while the first has an exchange in flight
/// (its answer still coming), and is served once that ended: the first, idle then, is closed to
/// make room at once. A client that sends nothing, or part of a head, is closed after
/// --idle-timeout.
#[test]
fn connections_are_bounded_and_idle_ones_make_room() {
    let (go, held) = std::sync::mpsc::channel();
    let upstream = upstream(streamed, Some(held));
    let proxy = ProxyProcess::start(&upstream.url, &["-q", "--max-connections", "1", "--idle-timeout", "60s"]);
    let address = proxy.url.trim_start_matches("http://").to_owned();
    let mut first = TcpStream::connect(&address).unwrap();
    first.write_all(CLIENT_REQUEST.as_bytes()).unwrap();
    let mut answer = Vec::new();
    read_until(&mut first, &mut answer, "\r\n\r\n");
    let mut second = TcpStream::connect(&address).unwrap();
    second.write_all(b"GET /v2/p/enginemgr/engines/e HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    second.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut buf = [0u8; 64];
    assert!(second.read(&mut buf).is_err(), "answered while the only connection had an exchange in flight");
    // The first exchange ends (and the second's answer will not be held); the first connection
    // stays open, idle, and makes room.
    go.send(()).unwrap();
    go.send(()).unwrap();
    read_until(&mut first, &mut answer, STREAMED_BODY);
    let started = Instant::now();
    second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut second_answer = Vec::new();
    read_until(&mut second, &mut second_answer, "\r\n\r\n");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    first.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(first.read(&mut buf).ok(), Some(0), "the idle first connection was closed");
    let stopped = proxy.stop();
    assert_eq!(stopped.exchanges().len(), 2);

    let proxy = ProxyProcess::start(&upstream.url, &["-q", "--idle-timeout", "300ms"]);
    let address = proxy.url.trim_start_matches("http://").to_owned();
    let mut silent = TcpStream::connect(&address).unwrap();
    let mut partial = TcpStream::connect(&address).unwrap();
    partial.write_all(b"GET /v2/p/enginemgr/engi").unwrap();
    for client in [&mut silent, &mut partial] {
        let started = Instant::now();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let closed = matches!(client.read(&mut buf), Ok(0) | Err(_)) && started.elapsed() < Duration::from_secs(3);
        assert!(closed, "closed after the idle timeout: {:?}", started.elapsed());
    }
    drop(proxy.stop());
}

/// --report-every writes the reports while the proxy runs, marked partial.
#[tokio::test(flavor = "multi_thread")]
async fn reports_are_written_while_the_proxy_runs() {
    let mock = start_mock(&[]).await;
    let proxy = ProxyProcess::start(&mock.base_url, &["-q", "--report-every", "200ms"]);
    let client = Client::new(ClientConfig::default());
    client.send(retry_request(&proxy.url, ALWAYS_RETRYABLE, r#"{"action":"Retry"}"#, TOKEN)).await.result.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = loop {
        let report: Option<Value> =
            std::fs::read_to_string(proxy.report_path()).ok().and_then(|t| serde_json::from_str(&t).ok());
        match report {
            Some(report) if report["summary"]["total"] == 1 => break report,
            _ if Instant::now() > deadline => panic!("no report with the exchange: {report:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(report["partial"], true, "{}", report["summary"]);
    let stopped = proxy.stop();
    mock.shutdown().await;
    assert_eq!(
        (stopped.report["partial"].as_bool(), stopped.report["summary"]["passed"].as_u64()),
        (Some(false), Some(1))
    );
}

/// A reader polling the reports while --report-every rewrites them under load (a dashboard, a
/// CI step) only ever sees whole files: every read of report.json parses, every junit.xml is
/// well-formed XML, every index.html ends. Each report is written beside its path and renamed
/// over it; written in place, a read between the truncation and the last write sees an empty or
/// cut file.
#[tokio::test(flavor = "multi_thread")]
async fn reports_read_while_they_are_rewritten_are_whole() {
    let mock = start_mock(&[]).await;
    let proxy = ProxyProcess::start(&mock.base_url, &["-q", "--report-every", "100ms"]);
    let load = Duration::from_secs(4);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let url = proxy.url.clone();
            tokio::spawn(async move {
                let client = Client::new(ClientConfig::default());
                let started = Instant::now();
                while started.elapsed() < load {
                    // A bad action: a failed exchange, told in full, so the reports grow fast.
                    let request = retry_request(&url, ALWAYS_RETRYABLE, r#"{"action":"Bogus"}"#, TOKEN);
                    client.send(request).await.result.unwrap();
                }
            })
        })
        .collect();
    let dir = proxy.report_path().parent().unwrap().to_owned();
    let (reads, versions, largest) = tokio::task::spawn_blocking(move || {
        let (mut reads, mut versions, mut largest, mut last) = (0, 0, 0, 0);
        let started = Instant::now();
        while started.elapsed() < load {
            let Ok(json) = std::fs::read_to_string(dir.join("report.json")) else { continue };
            let report: Value = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("read {reads}: report.json ({} bytes): {e}", json.len()));
            let total = report["summary"]["total"].as_u64().unwrap();
            versions += usize::from(total != last);
            (last, largest) = (total, largest.max(json.len()));
            let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
            roxmltree::Document::parse(&junit)
                .unwrap_or_else(|e| panic!("read {reads}: junit.xml ({} bytes): {e}", junit.len()));
            let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
            assert!(html.trim_end().ends_with("</html>"), "read {reads}: index.html cut at {} bytes", html.len());
            reads += 1;
        }
        (reads, versions, largest)
    })
    .await
    .unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let stopped = proxy.stop();
    mock.shutdown().await;
    // The reads raced many rewrites of reports larger than one write's buffer (64 KiB).
    assert!(reads > 20 && versions > 10 && largest > 1 << 17, "{reads} reads, {versions} versions, {largest} bytes");
    assert_eq!(stopped.report["partial"], false, "{}", stopped.stderr);
}

/// Stopped as soon as it printed its URL, the proxy still writes its (empty) reports and exits 0:
/// it listens for signals before it tells where it is.
#[test]
fn a_proxy_stopped_at_once_writes_its_reports() {
    let proxy = ProxyProcess::start("http://127.0.0.1:9", &[]);
    let stopped = proxy.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert_eq!(stopped.report["summary"]["total"], 0, "{}", stopped.stderr);
    assert!(stopped.stderr.contains("proxy: 0 exchanges"), "{}", stopped.stderr);
}

/// `run` aimed at a proxy, which listens on loopback, keeps the real-endpoint guard when the
/// proxy's traffic reaches an endpoint that is not on loopback: the proxy says where it forwards
/// (`/.well-known/cse-contract-proxy`), through a chain of proxies too, and a loop of proxies is
/// taken to be remote. A proxy to a mock on loopback changes nothing: the Retry is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_through_a_proxy_to_a_remote_endpoint_keeps_the_guard() {
    // TEST-NET-1 (RFC 5737): not on loopback, and nothing there answers.
    let far = ProxyProcess::start("http://192.0.2.1:9", &["-q", "--connect-timeout", "300ms"]);
    let near = ProxyProcess::start(&far.url, &["-q"]);
    let run = |target: &str, more: &[&str]| {
        let out = Command::new(BIN)
            .args(["run", "--target", target, "--project-id", PROJECT, "--engine-id", ALWAYS_RETRYABLE])
            .args(["--no-reports", "--no-state", "retry::valid_retry"])
            .args(more)
            .env("CSE_AUTH_TOKEN", TOKEN)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let (code, text) = run(&near.url, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cse-contract: 0 passed, 0 failed, 1 skipped"), "{text}");
    assert!(text.contains(&format!("forwarding to {}, which reaches an endpoint not on loopback", far.url)), "{text}");
    // Sent when allowed: the far proxy answers 502, so the run fails; nothing else differs.
    let (code, text) = run(&near.url, &["--allow-side-effects"]);
    assert_eq!(code, Some(1), "{text}");
    let (near, far) = (near.stop(), far.stop());
    assert_eq!((near.exchanges().len(), far.exchanges().len()), (1, 1), "only the allowed Retry went through");

    // A loop of proxies: one forwarding to itself.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let looped = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["proxy", "--upstream", &looped, "--listen", &format!("127.0.0.1:{port}"), "-q", "--no-reports"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let (code, text) = run(&looped, &[]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cse-contract: 0 passed, 0 failed, 1 skipped"), "a loop of proxies is remote: {text}");

    // A loopback target that does not say in time whether it is a proxy (a busy proxy, maybe):
    // guarded as remote. The listener never accepts; the kernel's backlog takes the connection.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let (code, text) = run(&format!("http://{}", silent.local_addr().unwrap()), &["--timeout", "2s"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cse-contract: 0 passed, 0 failed, 1 skipped"), "a silent target is guarded: {text}");
    assert!(text.contains("did not say within 1s whether it is a validation proxy"), "{text}");
    drop(silent);

    let mock = start_mock(&[]).await;
    let local = ProxyProcess::start(&mock.base_url, &["-q"]);
    let (code, text) = run(&local.url, &[]);
    mock.shutdown().await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("cse-contract: 1 passed, 0 failed"), "{text}");
    assert!(text.contains("which stays on loopback"), "{text}");
}
