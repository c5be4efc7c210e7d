//! TLS: an https target with a certificate no public root signs is refused (a TLS verdict),
//! accepted with `--ca-cert` naming it, and accepted with `--insecure` (after a warning).

use crate::support::BIN;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use cse_contract::client::{Client, ClientConfig, Request, TlsOptions, TransportError};
use rcgen::CertifiedKey;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// An https server on 127.0.0.1 with a fresh self-signed certificate; answers every request
/// with 200 `{}`. Returns its address and the certificate as PEM.
async fn https_server() -> (SocketAddr, String) {
    let CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert.der().clone()], key).unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
                let _ = tls.write_all(answer).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, cert.pem())
}

fn request(addr: SocketAddr) -> Request {
    Request { method: "GET".into(), url: format!("https://{addr}/"), headers: Vec::new(), body: bytes::Bytes::new() }
}

fn client(tls: TlsOptions) -> Client {
    Client::new(ClientConfig { timeout: Duration::from_secs(5), tls, ..ClientConfig::default() })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_certificate_is_refused_then_trusted_with_ca_cert_or_insecure() {
    let (addr, pem) = https_server().await;
    let refused = client(TlsOptions::default()).send(request(addr)).await;
    let error = refused.result.expect_err("an unknown issuer is refused");
    assert!(matches!(error, TransportError::Tls(_)), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let mut trusted = TlsOptions::default();
    assert_eq!(trusted.add_ca_file(&ca), Ok(1));
    assert_eq!(client(trusted).send(request(addr)).await.result.map(|r| r.status), Ok(200));

    let insecure = TlsOptions { insecure: true, ..TlsOptions::default() };
    assert_eq!(client(insecure).send(request(addr)).await.result.map(|r| r.status), Ok(200));
}

#[test]
fn insecure_warns_and_a_bad_ca_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--target", "https://127.0.0.1:9", "--project-id", "p", "--engine-id", "e"])
        .args(["--ca-cert", bad.to_str().unwrap()])
        .env("CSE_AUTH_TOKEN", "tls-test-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no PEM certificate"));
    let out = Command::new(BIN)
        .args(["run", "--target", "https://127.0.0.1:9", "--project-id", "p", "--engine-id", "e", "--insecure"])
        .env("CSE_AUTH_TOKEN", "tls-test-token")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: --insecure: TLS certificates are NOT verified"), "{stderr}");
}

/// The validation proxy's https upstream is verified as `run`'s target is: a private
/// certificate is refused (the client gets 502, the exchange is errored with the TLS error), and
/// trusted with `--ca-cert` or `--insecure`.
#[tokio::test(flavor = "multi_thread")]
async fn the_validation_proxys_https_upstream_takes_the_same_tls_options() {
    use std::io::BufRead as _;
    let (addr, pem) = https_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    for (options, status) in [(vec![], 502), (vec!["--ca-cert", ca.to_str().unwrap()], 200), (vec!["--insecure"], 200)]
    {
        let mut proxy = Command::new(BIN)
            .args(["proxy", "--upstream", &format!("https://{addr}"), "--listen", "127.0.0.1:0", "--no-reports"])
            .args(&options)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut url = String::new();
        std::io::BufReader::new(proxy.stdout.take().unwrap()).read_line(&mut url).unwrap();
        let request = Request { url: format!("{}/", url.trim()), ..request(addr) };
        let answer = Client::new(ClientConfig::default()).send(request).await.result.map(|r| (r.status, r.body));
        let _ = Command::new("kill").args(["-TERM", &proxy.id().to_string()]).status();
        let out = proxy.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let (got, body) = answer.unwrap();
        assert_eq!(got, status, "{options:?}: {stderr}");
        if status == 200 {
            assert_eq!(&body[..], b"{}", "{options:?}");
        } else {
            assert!(stderr.contains("ERRORED") && stderr.contains("TLS"), "{stderr}");
        }
    }
}
