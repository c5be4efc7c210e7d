//! Hostile targets: a fixture server that misbehaves in each way a broken build or a
//! half-started mock can, and the verdict the suite gives each one — its own transport message,
//! within the timeout plus one second, with bounded memory. Also the real-endpoint guard,
//! `--dry-run` and `--deadline`.

use crate::support::BIN;
use crate::support::{MockProcess, run_measured};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use cse_contract::client::{Client, ClientConfig, Request, TransportError};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Never accepts: the kernel completes the handshake, nothing more happens.
    Silent,
    /// Accepts, reads, never answers.
    Hang,
    /// Closes without answering.
    Close,
    /// Sends part of the body, then resets.
    ResetMidBody,
    /// One byte a second.
    Drip,
    /// A 50 MB body.
    Huge,
    /// Bytes that are not HTTP.
    Garbage,
    /// Content-Length says more than is sent.
    WrongLength,
}

async fn read_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
}

async fn serve(mut stream: TcpStream, how: Misbehaviour) {
    read_head(&mut stream).await;
    match how {
        Misbehaviour::Silent | Misbehaviour::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
        Misbehaviour::Close => {}
        Misbehaviour::ResetMidBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":")
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        Misbehaviour::Drip => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n").await;
            for _ in 0..100 {
                if stream.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Misbehaviour::Huge => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\n\r\n")
                .await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..800 {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        Misbehaviour::Garbage => {
            let _ = stream.write_all(b"\x00\x01\x02 this is not HTTP at all\r\n\r\n").await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Misbehaviour::WrongLength => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":\"x\"}").await;
        }
    }
}

async fn start(how: Misbehaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if matches!(how, Misbehaviour::Silent) {
            let _keep = listener;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, how));
        }
    });
    addr
}

fn request(addr: SocketAddr) -> Request {
    Request {
        method: "PUT".into(),
        url: format!("http://{addr}/v2/p/enginemgr/engines/e/actions"),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: bytes::Bytes::from_static(br#"{"action":"Retry"}"#),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_misbehaviour_gets_its_own_verdict_within_the_timeout() {
    let timeout = Duration::from_secs(2);
    let client = Client::new(ClientConfig { timeout, connect_timeout: timeout, ..ClientConfig::default() });
    for how in [
        Misbehaviour::Silent,
        Misbehaviour::Hang,
        Misbehaviour::Close,
        Misbehaviour::ResetMidBody,
        Misbehaviour::Drip,
        Misbehaviour::Huge,
        Misbehaviour::Garbage,
        Misbehaviour::WrongLength,
    ] {
        let addr = start(how).await;
        let started = Instant::now();
        let exchange = client.send(request(addr)).await;
        let elapsed = started.elapsed();
        assert!(elapsed < timeout + Duration::from_secs(1), "{how:?} took {elapsed:?}");
        let error = exchange.result.expect_err("a misbehaving server gives no response");
        let message = error.to_string();
        let right = match how {
            Misbehaviour::Silent | Misbehaviour::Hang => {
                matches!(error, TransportError::Timeout { phase: "waiting for the response headers", .. })
            }
            Misbehaviour::Drip => matches!(error, TransportError::Timeout { phase: "reading the response body", .. }),
            Misbehaviour::Close | Misbehaviour::ResetMidBody | Misbehaviour::WrongLength => {
                matches!(error, TransportError::Closed(_))
            }
            Misbehaviour::Huge => error == TransportError::BodyTooLarge(1024 * 1024),
            Misbehaviour::Garbage => matches!(error, TransportError::Protocol(_)),
        };
        assert!(right, "{how:?}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_50_mb_answer_is_cut_at_the_cap_and_memory_stays_bounded() {
    let addr = start(Misbehaviour::Huge).await;
    let url = format!("http://{addr}");
    let mut command = Command::new(BIN);
    command
        .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--generated", "0"])
        .args(["--no-reports", "--timeout", "5s", "retry::valid_retry"])
        .env("CSE_AUTH_TOKEN", "hostile-test-token-1234");
    let (code, stdout, peak_kib) = tokio::task::spawn_blocking(move || run_measured(command)).await.unwrap();
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("transport: expected a complete HTTP response, got body exceeds 1048576 bytes"),
        "{stdout}"
    );
    eprintln!("peak RSS against the 50 MB server: {} MiB", peak_kib / 1024);
    assert!(peak_kib < 64 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}

/// A standalone mock with its request log; the number of requests it logged, once stopped.
fn logged_requests(args: &[&str]) -> (Option<i32>, String, usize) {
    let mock = MockProcess::start(&[], &[]);
    let url = mock.url.clone();
    let out = Command::new(BIN)
        .args(["run", "--target", url.trim(), "--project-id", "demo-project"])
        // The always-retryable engine, judged without state reads: every request logged is a
        // case's own, so the counts below count cases.
        .args([
            "--engine-id",
            "a1a1a1a1-0000-4000-8000-000000000001",
            "--no-state",
            "--no-reports",
            "--generated",
            "20",
            // Random cases only: the counts below are of 46 hand-written and 20 generated cases.
            "--mode",
            "random",
            "--seed",
            "5",
            // The stateful phase is judged by state (skipped with --no-state): its guard is
            // tested in tests/integration/stateful.rs.
            "--skip",
            "stateful::",
        ])
        .args(args)
        .env("CSE_AUTH_TOKEN", "hostile-test-token-1234")
        .output()
        .unwrap();
    let (_, log) = mock.stop();
    let requests = log.lines().filter(|l| l.contains(" -> ")).count();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), requests)
}

#[test]
fn a_remote_target_gets_no_side_effecting_request_without_permission() {
    let (code, stdout, sent) = logged_requests(&["--treat-as-remote"]);
    assert_eq!(code, Some(0), "{stdout}");
    let skipped: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("cse-contract: ").and_then(|r| r.split(", ").nth(2)))
        .and_then(|s| s.strip_suffix(" skipped"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no skipped count: {stdout}"));
    assert!(skipped >= 8, "{stdout}");
    assert_eq!(sent, 66 - skipped, "{stdout}");
    let (code, stdout, sent) = logged_requests(&["--treat-as-remote", "--allow-side-effects"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("cse-contract: 66 passed, 0 failed\n"), "{stdout}");
    assert_eq!(sent, 66);
}

#[test]
fn dry_run_sends_nothing() {
    let (code, stdout, sent) = logged_requests(&["--dry-run"]);
    assert_eq!(code, Some(0));
    assert_eq!(sent, 0, "{stdout}");
    assert!(stdout.contains("dry run: 66 requests printed, none sent"), "{stdout}");
    assert!(
        stdout.contains(r#"-H "X-Auth-Token: ${CSE_AUTH_TOKEN}""#) && !stdout.contains("hostile-test-token-1234"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_bounds_the_run_and_reports_every_case() {
    let addr = start(Misbehaviour::Hang).await;
    let url = format!("http://{addr}");
    let started = Instant::now();
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        let out = Command::new(BIN)
            .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--generated", "0"])
            .args(["--no-reports", "--timeout", "60s", "--deadline", "3s"])
            .env("CSE_AUTH_TOKEN", "hostile-test-token-1234")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    assert_eq!(code, Some(1), "{stdout}");
    // The 9 stateful cases too: none finished by the deadline.
    assert!(stdout.contains("cse-contract: 0 passed, 55 failed\n(55 of the failed cases errored"), "{stdout}");
}

/// A listener whose accept queue is full: further SYNs are dropped, so a connect times out —
/// the one way to make a connection hang on loopback alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_never_completes_is_a_connect_timeout() {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    // Fill the queue; these are never accepted.
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let filler = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        filler.set_nonblocking(true).unwrap();
        let _ = filler.connect(&addr.into());
        fillers.push(filler);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_millis(500),
        ..ClientConfig::default()
    });
    let started = Instant::now();
    let error = client.send(request(addr)).await.result.expect_err("no connection");
    assert!(matches!(error, TransportError::Timeout { phase: "connecting", .. }), "{error}");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    drop((socket, fillers));
}

/// A target that answers every request 400 with a body holding terminal control sequences (a
/// window title, a screen clear, a carriage return and a fake result line, NUL) and U+FFFE, which
/// XML forbids: the console shows them escaped, and the JUnit XML still parses.
#[test]
fn what_a_target_sends_cannot_drive_the_terminal_or_break_the_xml() {
    let evil = "{\"error_code\":\"\u{1b}]0;pwned\u{7}\u{1b}[2J\r\ntest result: ok. 99 passed; 0 failed\u{0}\u{fffe}\"}";
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        evil.len()
    );
    let url = answering([head.as_bytes(), evil.as_bytes()].concat());
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--generated", "0", "--no-state"])
        .args([
            "--json",
            dir.path().join("r.json").to_str().unwrap(),
            "--junit",
            dir.path().join("j.xml").to_str().unwrap(),
        ])
        .args(["--html", dir.path().join("i.html").to_str().unwrap()])
        .env("CSE_AUTH_TOKEN", "hostile-test-token-1234")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for byte in [0x1b_u8, 0x07, 0x00, b'\r'] {
        assert!(!out.stdout.contains(&byte), "the console holds byte {byte:#04x}");
    }
    assert!(stdout.contains(r"\u{1b}]0;pwned\u{7}"), "the sequence is shown escaped: {stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("test result: ok. 99")), "a target printed a result line");
    let junit = std::fs::read_to_string(dir.path().join("j.xml")).unwrap();
    roxmltree::Document::parse(&junit).unwrap_or_else(|e| panic!("junit.xml: {e}"));
    assert!(!junit.contains('\u{fffe}'));
}

/// A target that gzips its answers though no Accept-Encoding was sent: the verdict names the
/// Content-Encoding, so the user sees why the body "is not JSON".
#[test]
fn an_encoded_body_is_named_by_its_content_encoding() {
    // `{}` gzipped: a valid gzip member, not JSON
    let gzip = [31u8, 139, 8, 0, 0, 0, 0, 0, 0, 3, 171, 174, 5, 0, 67, 191, 166, 163, 2, 0, 0, 0];
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        gzip.len()
    );
    let url = answering([head.as_bytes(), &gzip].concat());
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let out = std::process::Command::new(BIN)
        .args(["run", "--target", &url, "--project-id", "p", "--engine-id", "e", "--generated", "0", "--no-state"])
        .args(["--exact", "action::action_lower_case", "--json", report.to_str().unwrap(), "--junit"])
        .arg(dir.path().join("j.xml"))
        .arg("--html")
        .arg(dir.path().join("i.html"))
        .env("CSE_AUTH_TOKEN", "hostile-test-token-1234")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let said = "Content-Encoding: gzip, which `run` does not decode (the request sent no Accept-Encoding)";
    assert!(stdout.contains(said), "{stdout}");
    assert!(std::fs::read_to_string(report).unwrap().contains(said));
}

/// A server written for the test: reads each request (head and Content-Length body) and sends
/// `answer`, byte for byte, then closes. Its base URL.
fn answering(answer: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                use std::io::Write as _;
                let mut reader = std::io::BufReader::new(stream);
                if crate::support::read_request(&mut reader).is_none() {
                    return;
                }
                let _ = reader.into_inner().write_all(&answer);
            });
        }
    });
    url
}
