//! The mock under a long run: its resident memory stays flat over a great many Retries.
//!
//! The Retries go over 8 keep-alive connections, pipelined 64 at a time, to the always-retryable
//! engine of a mock process; the test reads the process's `VmRSS` from /proc after a warm-up of a
//! tenth of the run and at its end. The debug mock serves about 4 000 Retries a second on a
//! busy 2-core machine, so `cargo test` sends 200 000 (enough to see the job history's old leak,
//! 89 bytes a Retry, four times over the allowance); CI runs it again with a million against
//! the release binary: `CSE_SOAK_RETRIES=1000000 CSE_SOAK_BIN=target/release/cse-contract`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{ALWAYS_RETRYABLE, MockProcess};
use crate::wire::retry_bytes;

/// Connections driving the mock at once.
const CONNECTIONS: usize = 8;
/// Requests written at once on each connection before its answers are read.
const PIPELINE: usize = 64;
/// Growth of the mock's resident memory allowed between the warm-up and the end. The job history
/// held 89 bytes per Retry before it was bounded: 80 MB over a million.
const ALLOWED_GROWTH_KIB: u64 = 4 * 1024;

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).expect("VmRSS in /proc/PID/status");
    line.trim().trim_end_matches(" kB").trim().parse().unwrap()
}

/// Sends `count` Retries on one connection, `PIPELINE` at a time; panics on any answer but 200.
fn drive(addr: SocketAddr, count: usize) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let batch = retry_bytes(ALWAYS_RETRYABLE).repeat(PIPELINE);
    let mut left = count;
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 32 * 1024];
    while left > 0 {
        let n = left.min(PIPELINE);
        stream.write_all(&batch[..batch.len() / PIPELINE * n]).unwrap();
        let mut answered = 0;
        while answered < n {
            let read = stream.read(&mut chunk).unwrap();
            assert!(read > 0, "the mock closed the connection");
            buffer.extend_from_slice(&chunk[..read]);
            answered += take_answers(&mut buffer);
        }
        left -= n;
    }
}

/// Removes the complete answers at the start of `buffer`; how many. Each must be a 200.
fn take_answers(buffer: &mut Vec<u8>) -> usize {
    let mut taken = 0;
    let mut at = 0;
    loop {
        let rest = &buffer[at..];
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else { break };
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.parse().ok())
            .expect("content-length");
        if rest.len() < end + 4 + length {
            break;
        }
        at += end + 4 + length;
        taken += 1;
    }
    buffer.drain(..at);
    taken
}

/// Sends `total` Retries over `CONNECTIONS` connections at once.
fn drive_all(addr: SocketAddr, total: usize) {
    let each = total.div_ceil(CONNECTIONS);
    std::thread::scope(|scope| {
        for _ in 0..CONNECTIONS {
            scope.spawn(move || drive(addr, each));
        }
    });
}

#[test]
fn the_mock_holds_its_memory_flat_over_a_long_run() {
    let total: usize = std::env::var("CSE_SOAK_RETRIES").ok().and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let mock = match std::env::var("CSE_SOAK_BIN") {
        Ok(bin) => MockProcess::start_binary(&bin, &["-q"]),
        Err(_) => MockProcess::start(&["-q"], &[]),
    };
    let addr: SocketAddr = mock.url.trim_start_matches("http://").parse().unwrap();
    let started = Instant::now();
    let before = resident_kib(mock.pid());
    drive_all(addr, total / 10);
    let warm = resident_kib(mock.pid());
    drive_all(addr, total - total / 10);
    let end = resident_kib(mock.pid());
    let elapsed = started.elapsed();
    eprintln!(
        "soak: {total} Retries in {elapsed:.1?} ({:.0}/s); mock RSS {} KiB at start, {warm} KiB after {}, {end} KiB at the end",
        f64::from(u32::try_from(total).unwrap_or(u32::MAX)) / elapsed.as_secs_f64(),
        before,
        total / 10
    );
    let (code, _) = mock.stop();
    assert_eq!(code, Some(0));
    assert!(end <= warm + ALLOWED_GROWTH_KIB, "RSS grew from {warm} KiB to {end} KiB over {total} Retries");
}
