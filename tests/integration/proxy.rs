//! Proxies: a remote target goes through the proxy of the environment (a CONNECT tunnel), a
//! loopback target never does.

use std::process::Command;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::support::BIN;
use crate::support::{ALWAYS_RETRYABLE, PROJECT, TOKEN, start_mock};

/// A CONNECT proxy that records each request line and tunnels every connection to `upstream`,
/// whatever host was asked for.
async fn tunnelling_proxy(upstream: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && client.read_exact(&mut byte).await.is_ok() {
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
                log.lock().unwrap().push(line);
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (addr, seen)
}

fn run_with_proxy(target: &str, proxy: &str, filter: &str) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["run", "--target", target, "--project-id", PROJECT, "--engine-id", ALWAYS_RETRYABLE, filter])
        .args(["--no-reports", "--generated", "0", "--allow-side-effects"])
        .env("CSE_AUTH_TOKEN", TOKEN)
        .env("HTTP_PROXY", proxy)
        .env("HTTPS_PROXY", proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_targets_go_through_the_proxy() {
    let mock = start_mock(&[]).await;
    let (proxy, seen) = tunnelling_proxy(mock.addr).await;
    let proxy_url = format!("http://{proxy}");
    let (code, stdout) =
        tokio::task::spawn_blocking(move || run_with_proxy("http://cse.example.invalid", &proxy_url, "retry::"))
            .await
            .unwrap();
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("cse-contract: 8 passed, 0 failed"), "{stdout}");
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty() && seen.iter().all(|l| l == "CONNECT cse.example.invalid:80 HTTP/1.1"), "{seen:?}");
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_targets_bypass_the_proxy() {
    let mock = start_mock(&[]).await;
    let url = mock.base_url.clone();
    // Nothing listens on port 9: a request sent to this proxy would error.
    let (code, stdout) =
        tokio::task::spawn_blocking(move || run_with_proxy(&url, "http://127.0.0.1:9", "retry::")).await.unwrap();
    assert_eq!(code, 0, "{stdout}");
    mock.shutdown().await;
}
