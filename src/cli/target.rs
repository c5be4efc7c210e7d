//! Where a run is aimed and with what credentials: the target (a URL, or the embedded mock), the
//! token or AK/SK credentials, TLS options, and the reachability probe.

use std::sync::Arc;

use super::error::CliError;
use super::session::Session;
use super::settings::{Aim, RunSettings};
use crate::case::vars::Variables;
use crate::client::TlsOptions;
use crate::contract::Contract;
use crate::mock::{self, MockConfig, MockHandle};

/// The token: `--token-file`, else `CSE_AUTH_TOKEN`; empty counts as unset (a token file
/// that is empty is a problem: it was named on purpose).
pub(super) fn token(file: Option<&std::path::Path>) -> Result<Option<String>, String> {
    let (token, source) = if let Some(path) = file {
        match crate::files::read_text(path, crate::files::SMALL_FILE_LIMIT) {
            Ok(text) if text.trim_end_matches(['\r', '\n']).is_empty() => {
                return Err(format!("the token file `{}` is empty", path.display()));
            }
            Ok(text) => {
                (text.trim_end_matches(['\r', '\n']).to_owned(), format!("the token file `{}`", path.display()))
            }
            Err(e) => return Err(format!("failed to read token file `{}`: {e}", path.display())),
        }
    } else {
        (std::env::var("CSE_AUTH_TOKEN").unwrap_or_default(), "CSE_AUTH_TOKEN".to_owned())
    };
    // Said here, once, rather than as an errored transport verdict on every case.
    if http::HeaderValue::from_str(&token).is_err() {
        return Err(format!(
            "the token in {source} holds a control character (a line break inside it?): a header value cannot carry it"
        ));
    }
    Ok(Some(token).filter(|t| !t.is_empty()))
}

/// A token for the embedded mock that no one else knows.
pub(super) fn fresh_token() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("mock-{nanos:x}-{:x}", std::process::id())
}

/// The target and the variables: the user's, or the embedded mock's where the user gave none.
pub(super) struct Target {
    pub(super) url: String,
    pub(super) note: Option<String>,
    pub(super) variables: Variables,
    pub(super) token: Option<String>,
    /// Secrets besides the token: the SK and security token of AK/SK credentials.
    pub(super) secrets: Vec<String>,
    pub(super) mock: Option<MockHandle>,
    /// What a target on loopback said when asked whether it is a validation proxy
    /// ([`ask_proxy`]); `None` when it was not asked or is not one.
    pub(super) behind: Option<Behind>,
}

pub(super) fn aksk_secrets(aksk: Option<&crate::sign::Credentials>) -> Vec<String> {
    aksk.map(|c| std::iter::once(c.sk.clone()).chain(c.security_token.clone()).collect()).unwrap_or_default()
}

/// What is wrong with a base URL, if anything: not `http://` or `https://`, no host, or a port
/// out of range (the URL parser would read `:99999` as no port at all, and send to port 80). The
/// reason never repeats the URL, which may hold credentials.
pub(super) fn check_target(url: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("is not an http:// or https:// URL".to_owned());
    }
    let uri: http::Uri = url.parse().map_err(|e| format!("is not a URL ({e})"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err("names no host".to_owned());
    }
    match crate::client::bad_port(&uri) {
        None => Ok(()),
        Some(port) => Err(format!("has the port `{port}`, not one of 1 to 65535")),
    }
}

/// The embedded mock as the target, with its project, engine and a token.
pub(super) async fn embedded_target(
    contract: &Arc<Contract>,
    mut variables: Variables,
    (token, aksk): (Option<String>, Option<crate::sign::Credentials>),
    faults: &[crate::mock::Fault],
) -> Result<Target, CliError> {
    let token = token.unwrap_or_else(fresh_token);
    let secrets = aksk_secrets(aksk.as_ref());
    let note = match faults {
        [] => "embedded mock".to_owned(),
        _ => format!("embedded mock with --fault {}", faults.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")),
    };
    let faults = crate::mock::Faults::new(faults.iter().copied());
    let config = MockConfig { token: Some(token.clone()), aksk, faults, ..MockConfig::local() };
    for (name, value) in [
        ("project_id", Some(config.fixture.project_id.clone())),
        ("engine_id", config.fixture.default_engine().map(|e| e.id.clone())),
        ("not_retryable_engine_id", config.fixture.not_retryable_engine().map(|e| e.id.clone())),
        ("foreign_engine_id", config.fixture.foreign_engine().map(|e| e.id.clone())),
        ("job_id", config.fixture.default_engine().and_then(|e| e.jobs.first()).map(|j| j.id.to_string())),
        ("unknown_engine_id", Some("00000000-0000-0000-0000-000000000000".to_owned())),
        ("enterprise_project_id", Some("0".to_owned())),
    ] {
        if let (None, Some(value)) = (variables.get(name), value) {
            variables.set(name, value);
        }
    }
    variables.set("token", &token);
    let handle = mock::spawn(contract.clone(), config)
        .await
        .map_err(|e| CliError::config(format!("failed to start the embedded mock: {e}")))?;
    Ok(Target {
        url: handle.base_url.clone(),
        note: Some(note),
        variables,
        token: Some(token),
        secrets,
        mock: Some(handle),
        behind: None,
    })
}

/// The run's target: the embedded mock (started here) or the URL of the settings.
pub(super) async fn target(settings: &RunSettings, contract: &Arc<Contract>) -> Result<Target, CliError> {
    let mut variables = settings.variables.clone();
    let (token, aksk) = (settings.token.clone(), settings.aksk.clone());
    let url = match &settings.aim {
        Aim::Embedded(faults) => return embedded_target(contract, variables, (token, aksk), faults).await,
        Aim::Url(url) => url,
    };
    if let Some(t) = &token {
        variables.set("token", t);
    }
    let secrets = aksk_secrets(aksk.as_ref());
    Ok(Target { url: url.clone(), note: None, variables, token, secrets, mock: None, behind: None })
}

/// Before sending anything to a target that is not the embedded mock: can it be reached? One
/// clear message beats a hundred identical transport failures. Skipped when a proxy may carry
/// the traffic, since then only the proxy knows.
pub(super) async fn probe(session: &Session, connect_timeout: std::time::Duration) -> Result<(), CliError> {
    if session.target.mock.is_some() {
        return Ok(());
    }
    let url = &session.target.url;
    let proxied = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if proxied && !crate::client::is_loopback_url(url) {
        return Ok(());
    }
    let Ok(uri) = url.parse::<http::Uri>() else { return Ok(()) };
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let connect = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect((host.as_str(), port)));
    let problem = match connect.await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no connection within {connect_timeout:?}"),
    };
    Err(CliError::config(format!(
        "target {} is unreachable ({host}:{port}: {problem}); nothing was sent",
        session.info.target
    )))
}

/// A target on loopback that may forward elsewhere.
#[derive(Debug)]
pub(super) enum Behind {
    /// A validation proxy, and what it said.
    Proxy(crate::proxy::ProxyInfo),
    /// It did not say in time whether it is one (a busy proxy, maybe).
    Silent,
}

impl Behind {
    /// Whether the guard must take it as remote.
    pub(super) fn remote(&self) -> bool {
        match self {
            Behind::Proxy(info) => info.remote,
            Behind::Silent => true,
        }
    }
}

/// How long a target on loopback has to say whether it is a validation proxy.
const ASK_PROXY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Asks a target on loopback whether it is a validation proxy (`cse-contract proxy`), when
/// nothing else holds the side-effecting cases back: the guard needs to know whether they end up
/// at a real endpoint. If it is, keeps its answer and says where the run's requests end up (on
/// the console and in the reports' target note). One `GET`, with the `-H` headers, answered
/// within [`ASK_PROXY_WITHIN`] (and what is `left` of the run's deadline): no answer by then is
/// taken as a busy proxy, and the target guarded as remote (the guard fails closed).
pub(super) async fn ask_proxy(
    session: &mut Session,
    client: &crate::client::Client,
    left: Option<std::time::Duration>,
) {
    let asked = crate::proxy::ask(client, &session.target.url, 0);
    let within = left.map_or(ASK_PROXY_WITHIN, |left| left.min(ASK_PROXY_WITHIN));
    let info = match tokio::time::timeout(within, asked).await.unwrap_or(crate::proxy::Asked::NoAnswer) {
        crate::proxy::Asked::Proxy(info) => info,
        crate::proxy::Asked::NotProxy => return,
        crate::proxy::Asked::NoAnswer => {
            eprintln!(
                "note: the target did not say within {within:?} whether it is a validation proxy (GET {}): \
                 it is guarded as a remote one",
                crate::proxy::INFO_PATH
            );
            session.target.behind = Some(Behind::Silent);
            return;
        }
    };
    let upstream = session.secrets.mask(&info.upstream);
    let ends = if info.remote { "reaches an endpoint not on loopback" } else { "stays on loopback" };
    let note = format!("through the validation proxy to {upstream}, which {ends}");
    eprintln!("note: the target is a validation proxy (cse-contract proxy) forwarding to {upstream}, which {ends}");
    session.info.target_note = Some(note);
    session.target.behind = Some(Behind::Proxy(info));
}

/// The token value that means "sign this request with AK/SK instead".
pub(super) const AKSK_MARKER: &str = "aksk-signed";

/// AK/SK credentials from `CSE_AK`, `CSE_SK` and `CSE_SECURITY_TOKEN`; both AK and SK or none
/// (half a pair would be ignored, and the run would go on with the token, or none).
pub(super) fn aksk_from_env() -> Result<Option<crate::sign::Credentials>, String> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (var("CSE_AK"), var("CSE_SK")) {
        (Some(ak), Some(sk)) => {
            Ok(Some(crate::sign::Credentials { ak, sk, security_token: var("CSE_SECURITY_TOKEN") }))
        }
        (None, None) => Ok(None),
        (Some(_), None) => {
            Err("CSE_AK is set but CSE_SK is not: AK/SK signing needs both (or unset CSE_AK)".to_owned())
        }
        (None, Some(_)) => {
            Err("CSE_SK is set but CSE_AK is not: AK/SK signing needs both (or unset CSE_SK)".to_owned())
        }
    }
}

/// The signer of a run with AK/SK credentials.
pub(super) fn signer(aksk: Option<&crate::sign::Credentials>, session: &Session) -> Option<crate::client::Signer> {
    let credentials = aksk?.clone();
    Some(crate::client::Signer {
        credentials,
        project_id: session.target.variables.get("project_id").map(str::to_owned),
        token_header: session.contract.token_header().to_owned(),
        marker: AKSK_MARKER.to_owned(),
    })
}

/// `--ca-cert` and `--insecure`.
pub(super) fn tls_options(ca_certs: &[std::path::PathBuf], insecure: bool) -> Result<TlsOptions, String> {
    let mut tls = TlsOptions { insecure, ..TlsOptions::default() };
    for path in ca_certs {
        tls.add_ca_file(path).map_err(|e| format!("--ca-cert: {e}"))?;
    }
    if insecure {
        eprintln!(
            "warning: --insecure: TLS certificates are NOT verified. Anyone on the path can read the \
             token and forge the answers this run judges. Use --ca-cert for a private CA instead."
        );
    }
    Ok(tls)
}
