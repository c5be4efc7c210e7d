//! Proxies: a remote target goes through the proxy of the environment (a CONNECT tunnel), a
//! loopback target never does; the validation proxy's upstream is reached the same way.

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

/// `cse-contract proxy` reaches an upstream not on loopback through the environment's proxy, as
/// `run` reaches a target: the exchange goes through the tunnel and is judged, and the proxy
/// says on stderr which proxy it goes through.
#[tokio::test(flavor = "multi_thread")]
async fn the_validation_proxy_reaches_its_upstream_through_the_environments_proxy() {
    use std::io::{BufRead as _, BufReader, Read as _};
    let mock = start_mock(&[]).await;
    let (tunnel, seen) = tunnelling_proxy(mock.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["proxy", "--upstream", "http://cse.example.invalid", "--listen", "127.0.0.1:0", "--no-reports"])
        .env("HTTP_PROXY", format!("http://{tunnel}"))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut url).unwrap();
    let target = format!("{}/v2/{PROJECT}/enginemgr/engines/{ALWAYS_RETRYABLE}/actions", url.trim());
    let request = cse_contract::client::Request {
        method: "PUT".into(),
        url: target,
        headers: vec![
            ("X-Auth-Token".into(), TOKEN.into()),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: r#"{"action":"Retry"}"#.into(),
    };
    // A loopback target: this client goes direct, whatever the environment says.
    let client = cse_contract::client::Client::new(cse_contract::client::ClientConfig::default());
    let answer = client.send(request).await.result.map_or_else(|e| e.to_string(), |r| r.status.to_string());
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    mock.shutdown().await;
    assert_eq!(answer, "200", "{stderr}");
    assert!(stderr.contains(&format!("the upstream is reached through http://{tunnel}/")), "{stderr}");
    assert!(stderr.contains("retry::exchange_1 PUT 200 passed"), "{stderr}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, ["CONNECT cse.example.invalid:80 HTTP/1.1"], "one tunnel, pooled");
}
