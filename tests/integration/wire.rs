//! The mock on the wire, spoken to over raw sockets: malformed and oversized request heads,
//! transfer codings, half-closing and pipelining clients, and the connection timeouts. Every
//! answer the mock gives, whoever in it decides to give it, carries the JSON error body,
//! `Content-Type` and `X-Request-Id` the README promises.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use crate::support::{ALWAYS_RETRYABLE, PROJECT, TOKEN, start_mock};

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
