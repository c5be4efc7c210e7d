//! The mock on the wire, spoken to over raw sockets: malformed and oversized request heads,
//! transfer codings, half-closing and pipelining clients, and the connection timeouts. Every
//! answer the mock gives, whoever in it decides to give it, carries the JSON error body,
//! `Content-Type` and `X-Request-Id` the README promises.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use cse_contract::mock::{self, ConnectionLimits, MockConfig};
use serde_json::Value;

use crate::support::{ALWAYS_RETRYABLE, MockProcess, PROJECT, TOKEN, contract, start_mock};

/// One answer read off the wire.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The answers in `bytes`, each delimited by its Content-Length; panics on anything left over,
/// so a cut answer cannot pass for a missing one.
pub(crate) fn parse_answers(mut bytes: &[u8]) -> Vec<Answer> {
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("an incomplete answer: {:?}", String::from_utf8_lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> =
            lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let body_start = end + 4;
        assert!(bytes.len() >= body_start + length, "an answer cut short: {head}");
        answers.push(Answer { status, headers, body: bytes[body_start..body_start + length].to_vec() });
        bytes = &bytes[body_start + length..];
    }
    answers
}

/// Sends `request` on a fresh connection, half-closes it if asked, and reads until the mock
/// closes; the answers, and whether the mock closed within `patience`.
pub(crate) fn converse(addr: SocketAddr, request: &[u8], half_close: bool, patience: Duration) -> (Vec<Answer>, bool) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(patience)).unwrap();
    // The mock may refuse a head before the rest is sent: a failed write is part of the test.
    let _ = stream.write_all(request);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut received = Vec::new();
    let closed = stream.read_to_end(&mut received).is_ok();
    (parse_answers(&received), closed)
}

pub(crate) fn retry_bytes(engine: &str) -> Vec<u8> {
    format!(
        "PUT /v2/{PROJECT}/enginemgr/engines/{engine}/actions HTTP/1.1\r\nHost: mock\r\nX-Auth-Token: {TOKEN}\r\n\
         Content-Type: application/json;charset=UTF-8\r\nAccept: application/json\r\nContent-Length: 18\r\n\r\n\
         {{\"action\":\"Retry\"}}"
    )
    .into_bytes()
}

/// The mock's promise for every answer: its JSON media type, a 32-hex-digit request id, and a
/// JSON error body with a code and a message (for the gateway's errors, the request id again).
pub(crate) fn assert_json_error(answer: &Answer, what: &str) {
    assert_eq!(answer.header("content-type"), Some("application/json;charset=UTF-8"), "{what}: {answer:?}");
    let id = answer.header("x-request-id").unwrap_or_else(|| panic!("{what}: no X-Request-Id: {answer:?}"));
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{what}: {id}");
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("{what}: {e}: {answer:?}"));
    assert!(body["error_code"].is_string() && body["error_msg"].is_string(), "{what}: {body}");
    assert_eq!(body["request_id"].as_str(), Some(id), "{what}: {body}");
}

fn with_headers(count: usize) -> Vec<u8> {
    let mut head = String::from("GET /v2/demo-project/nothing HTTP/1.1\r\nHost: mock\r\n");
    for i in 1..count {
        let _ = write!(head, "X-Filler-{i}: {i}\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Heads that hyper would refuse on its own (with an empty 400, 414 or 431), heads past the
/// mock's documented limits, and framings the mock refuses: each gets the mock's JSON answer
/// with the gateway's code, and the connection is closed after it.
#[tokio::test(flavor = "multi_thread")]
async fn every_malformed_or_oversized_head_gets_a_json_answer() {
    let mock = start_mock(&[]).await;
    let addr = mock.addr;
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: mock\r\n\r\n", "a".repeat(8 * 1024));
    let big_head = format!("GET / HTTP/1.1\r\nHost: mock\r\nX-Big: {}\r\n\r\n", "b".repeat(128 * 1024));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("bytes that are not HTTP", b"\x00\x01\x02 this is not HTTP at all\r\n\r\n".to_vec(), 400),
        ("a method with a parenthesis", b"GE(T / HTTP/1.1\r\nHost: mock\r\n\r\n".to_vec(), 400),
        ("HTTP/1.7", b"GET / HTTP/1.7\r\nHost: mock\r\n\r\n".to_vec(), 400),
        ("a space in a header name", b"GET / HTTP/1.1\r\nHost: mock\r\nBad Name: x\r\n\r\n".to_vec(), 400),
        ("a target with bytes over 0x7f", b"GET /\xff\xfe HTTP/1.1\r\nHost: mock\r\n\r\n".to_vec(), 400),
        ("a header line without a colon", b"GET / HTTP/1.1\r\nHost: mock\r\nNoColon\r\n\r\n".to_vec(), 400),
        ("a request line over 8 KiB", long_target.into_bytes(), 414),
        ("a head over 128 KiB", big_head.into_bytes(), 431),
        ("101 header fields", with_headers(101), 431),
        (
            "two different Content-Lengths",
            b"PUT /x HTTP/1.1\r\nHost: mock\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            400,
        ),
        (
            "a Content-Length that is not a number",
            b"PUT /x HTTP/1.1\r\nHost: m\r\nContent-Length: 1x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "Transfer-Encoding beside Content-Length",
            b"PUT /x HTTP/1.1\r\nHost: m\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            b"PUT /x HTTP/1.0\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
        ),
    ];
    let answers = tokio::task::spawn_blocking(move || {
        cases
            .into_iter()
            .map(|(what, request, status)| (what, status, converse(addr, &request, false, Duration::from_secs(10))))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (what, status, (answers, closed)) in answers {
        assert_eq!(answers.len(), 1, "{what}: {answers:?}");
        assert_eq!(answers[0].status, status, "{what}: {answers:?}");
        assert_json_error(&answers[0], what);
        assert!(closed, "{what}: the connection stays open after a refused head");
    }
    // 100 header fields are within the limit: an ordinary answer, the connection kept.
    let (answers, _) =
        tokio::task::spawn_blocking(move || converse(addr, &with_headers(100), false, Duration::from_millis(300)))
            .await
            .unwrap();
    assert_eq!(answers.iter().map(|a| a.status).collect::<Vec<_>>(), [404], "{answers:?}");
    mock.shutdown().await;
}

/// Pipelined behind good requests, a refused head is answered after their answers, in order,
/// and nothing after it is served: the stream is not trusted past a head it cannot frame.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_head_is_answered_after_the_requests_before_it() {
    let mock = start_mock(&[]).await;
    let addr = mock.addr;
    let good = retry_bytes(ALWAYS_RETRYABLE);
    let stream = [&good.repeat(3)[..], b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", &good].concat();
    let (answers, closed) =
        tokio::task::spawn_blocking(move || converse(addr, &stream, true, Duration::from_secs(10))).await.unwrap();
    assert_eq!(answers.iter().map(|a| a.status).collect::<Vec<_>>(), [200, 200, 200, 400], "{answers:?}");
    assert_json_error(&answers[3], "a bad head after three Retries");
    assert!(closed);
    mock.shutdown().await;
}

fn chunked_retry(coding: &[&str]) -> Vec<u8> {
    let mut head = format!(
        "PUT /v2/{PROJECT}/enginemgr/engines/{ALWAYS_RETRYABLE}/actions HTTP/1.1\r\nHost: mock\r\n\
         X-Auth-Token: {TOKEN}\r\nContent-Type: application/json;charset=UTF-8\r\nAccept: application/json\r\n\
         Connection: close\r\n"
    );
    for line in coding {
        let _ = write!(head, "Transfer-Encoding: {line}\r\n");
    }
    head.push_str("\r\n12\r\n{\"action\":\"Retry\"}\r\n0\r\n\r\n");
    head.into_bytes()
}

/// RFC 9112 §6.1 and §6.3: a coding the server does not implement is 501; chunked that is not
/// the final coding, or applied twice, leaves the length unknown: 400. Plain chunked is served.
#[tokio::test(flavor = "multi_thread")]
async fn transfer_codings_other_than_chunked_are_refused() {
    let mock = start_mock(&[]).await;
    let addr = mock.addr;
    let cases: Vec<(&[&str], u16)> = vec![
        (&["chunked"], 200),
        (&["Chunked"], 200),
        (&["gzip, chunked"], 501),
        (&["identity, chunked"], 501),
        (&["gzip", "chunked"], 501),
        (&["gzip"], 400),
        (&["chunked, gzip"], 400),
        (&["chunked, chunked"], 400),
        (&["chunked", "chunked"], 400),
        (&[", chunked"], 400),
    ];
    let results = tokio::task::spawn_blocking(move || {
        cases
            .into_iter()
            .map(|(coding, status)| {
                let (answers, _) = converse(addr, &chunked_retry(coding), false, Duration::from_secs(10));
                (coding, status, answers)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (coding, status, answers) in results {
        assert_eq!(answers.len(), 1, "{coding:?}: {answers:?}");
        assert_eq!(answers[0].status, status, "{coding:?}: {answers:?}");
        if status != 200 {
            assert_json_error(&answers[0], &format!("Transfer-Encoding {coding:?}"));
        }
    }
    mock.shutdown().await;
}

/// A client that sends its request and shuts its side down (as `curl -T`, `nc -N` and many
/// scripts do) still gets its answer, every time.
#[tokio::test(flavor = "multi_thread")]
async fn half_closed_clients_get_every_answer() {
    let mock = start_mock(&[]).await;
    let addr = mock.addr;
    let lost = tokio::task::spawn_blocking(move || {
        let request = retry_bytes(ALWAYS_RETRYABLE);
        (0..2000)
            .filter(|_| {
                let (answers, closed) = converse(addr, &request, true, Duration::from_secs(10));
                !(closed && answers.len() == 1 && answers[0].status == 200)
            })
            .count()
    })
    .await
    .unwrap();
    assert_eq!(lost, 0, "{lost} of 2000 half-closed requests got no complete answer");
    mock.shutdown().await;
}

/// 200 Retries in one write, then the write side shut: 200 answers in order, then EOF; a
/// hundred times over.
#[tokio::test(flavor = "multi_thread")]
async fn pipelined_batches_are_answered_in_full() {
    let mock = start_mock(&[]).await;
    let addr = mock.addr;
    let short = tokio::task::spawn_blocking(move || {
        let batch = retry_bytes(ALWAYS_RETRYABLE).repeat(200);
        let mut short = Vec::new();
        for round in 0..100 {
            let (answers, closed) = converse(addr, &batch, true, Duration::from_secs(10));
            let ids: Vec<u64> = answers
                .iter()
                .filter(|a| a.status == 200)
                .filter_map(|a| serde_json::from_slice::<Value>(&a.body).ok()?["jobId"].as_u64())
                .collect();
            let identified = answers.iter().all(|a| a.header("x-request-id").is_some());
            if !closed || ids.len() != 200 || !ids.windows(2).all(|w| w[0] < w[1]) || !identified {
                short.push((round, answers.len()));
            }
        }
        short
    })
    .await
    .unwrap();
    assert!(short.is_empty(), "batches answered short (round, answers): {short:?}");
    mock.shutdown().await;
}

/// Reads until the mock closes the connection: what came, and when the end came.
fn until_closed(stream: &mut TcpStream, started: Instant) -> (Vec<Answer>, Duration) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut received = Vec::new();
    let ended = stream.read_to_end(&mut received);
    assert!(ended.is_ok() || !received.is_empty(), "no end within 20 s: {ended:?}");
    (parse_answers(&received), started.elapsed())
}

/// With `--idle-timeout 600ms --body-timeout 600ms`: a connection that sends nothing, one idle
/// between requests, a head that trickles in byte by byte, a body that stops half-way and an
/// HTTP/2 connection that falls silent are each closed after their timeout (a begun head with a
/// 408, a cut body with the handler's 400, both in JSON); a client that reads no answers is
/// dropped once the mock cannot write.
#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_are_closed_after_their_timeouts() {
    let bound = Duration::from_millis(600);
    let connections = ConnectionLimits { idle_timeout: bound, body_timeout: bound, ..ConnectionLimits::default() };
    let config = MockConfig { token: Some(TOKEN.into()), connections, ..MockConfig::local() };
    let mock = mock::spawn(contract(), config).await.unwrap();
    let addr = mock.addr;
    let checks = tokio::task::spawn_blocking(move || {
        let silent = || -> (Vec<Answer>, Duration) {
            let mut stream = TcpStream::connect(addr).unwrap();
            until_closed(&mut stream, Instant::now())
        };
        let keep_alive = || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(&retry_bytes(ALWAYS_RETRYABLE)).unwrap();
            let mut first = [0u8; 12];
            stream.read_exact(&mut first).unwrap();
            let (mut answers, elapsed) = until_closed(&mut stream, Instant::now());
            answers.clear();
            (answers, elapsed)
        };
        let trickle = || {
            // A byte every 50 ms, reading between them: the answer must come at the timeout
            // counted from the first byte, not from the last.
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let started = Instant::now();
            let mut received = Vec::new();
            let mut buf = [0u8; 4096];
            for byte in b"GET /v2/demo-project/enginemgr/engines HTTP/1.1\r\nHost: mock\r\n" {
                let _ = stream.write_all(&[*byte]);
                match stream.read(&mut buf) {
                    Ok(n) => {
                        received.extend_from_slice(&buf[..n]);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            let elapsed = started.elapsed();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let _ = stream.read_to_end(&mut received);
            (parse_answers(&received), elapsed)
        };
        let half_body = || {
            let mut stream = TcpStream::connect(addr).unwrap();
            let request = retry_bytes(ALWAYS_RETRYABLE);
            stream.write_all(&request[..request.len() - 10]).unwrap();
            until_closed(&mut stream, Instant::now())
        };
        let http2 = || {
            let mut stream = TcpStream::connect(addr).unwrap();
            // The preface and an empty SETTINGS frame, then silence.
            stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").unwrap();
            let started = Instant::now();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
            (Vec::new(), started.elapsed())
        };
        [
            ("silent", silent()),
            ("keep-alive", keep_alive()),
            ("trickle", trickle()),
            ("half body", half_body()),
            ("http2", http2()),
        ]
    })
    .await
    .unwrap();
    for (what, (answers, elapsed)) in &checks {
        eprintln!("{what}: closed after {elapsed:?}, {} answers", answers.len());
        assert!(*elapsed >= Duration::from_millis(550), "{what}: closed after {elapsed:?}");
        assert!(*elapsed < bound + Duration::from_secs(2), "{what}: closed after {elapsed:?}");
    }
    let statuses: Vec<Vec<u16>> = checks.iter().map(|(_, (a, _))| a.iter().map(|a| a.status).collect()).collect();
    assert_eq!(statuses, [vec![], vec![], vec![408], vec![400], vec![]]);
    assert_json_error(&checks[2].1.0[0], "a head that trickled in");
    let cut: Value = serde_json::from_slice(&checks[3].1.0[0].body).unwrap();
    assert_eq!(cut["error_code"], "SVCSTG.00500400", "{cut}");
    let (sent, answered, elapsed) = tokio::task::spawn_blocking(move || never_reading(addr)).await.unwrap();
    assert!(answered < sent, "{answered} of {sent} answered: the mock never stopped writing");
    assert!(elapsed < bound * 2 + Duration::from_secs(3), "dropped after {elapsed:?}");
    mock.shutdown().await;
}

/// A client that sends many requests and reads nothing until the mock gives up writing: how
/// many it sent, how many answers it then found, and when the mock closed.
fn never_reading(addr: SocketAddr) -> (usize, usize, Duration) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    let request = b"GET /v2/demo-project/elsewhere HTTP/1.1\r\nHost: mock\r\n\r\n";
    let sent = 20_000;
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let written = stream.write_all(&request.repeat(sent));
    let started = Instant::now();
    // Both sides' buffers are full: wait past the idle timeout before reading anything.
    std::thread::sleep(Duration::from_secs(2));
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let answered = String::from_utf8_lossy(&received).matches("HTTP/1.1 404").count();
    eprintln!("never reading: wrote all: {}, {answered} answers", written.is_ok());
    (sent, answered, started.elapsed())
}

/// More idle sockets than the mock may hold, first past `--max-connections`, then past its open
/// files (`prlimit`, the cap left at its default): a client with a request is still served at
/// once, and every idle socket is closed by the idle timeout.
#[test]
fn a_flood_of_idle_connections_locks_no_client_out() {
    let idle = Duration::from_secs(4);
    for (limit, files) in [("32 connections", None), ("64 open files", Some(64))] {
        let mock = match files {
            None => MockProcess::start(&["-q", "--idle-timeout", "4s", "--max-connections", "32"], &[]),
            Some(files) => MockProcess::start_limited(files, &["-q", "--idle-timeout", "4s"]),
        };
        let addr: SocketAddr = mock.url.trim_start_matches("http://").parse().unwrap();
        let opened = Instant::now();
        let flood: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let mut request = retry_bytes(ALWAYS_RETRYABLE);
        request.splice(request.len() - 20..request.len() - 20, b"Connection: close\r\n".iter().copied());
        let (answers, closed) = converse(addr, &request, false, Duration::from_secs(10));
        let served = started.elapsed();
        eprintln!("{limit}: a client among 200 idle sockets served in {served:?}");
        assert_eq!(answers.iter().map(|a| a.status).collect::<Vec<_>>(), [200], "{limit}");
        assert!(closed && served < Duration::from_secs(2), "{limit}: served after {served:?}");
        let still_open = flood
            .iter()
            .filter(|&socket| {
                let left = (opened + idle + Duration::from_secs(2)).saturating_duration_since(Instant::now());
                socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
                let (mut byte, mut reader) = ([0u8; 1], socket);
                matches!(reader.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            })
            .count();
        eprintln!("{limit}: all closed {:?} after they were opened", opened.elapsed());
        assert_eq!(still_open, 0, "{limit}: {still_open} idle sockets still open after the idle timeout");
        let (code, _) = mock.stop();
        assert_eq!(code, Some(0), "{limit}");
    }
}
