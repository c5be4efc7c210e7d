//! Shared fixtures: the contract, a mock with faults, and an in-process run of the suite.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use cse_contract::case::load_cases;
use cse_contract::case::vars::Variables;
use cse_contract::client::{Client, ClientConfig};
use cse_contract::contract::Contract;
use cse_contract::files::FileSource;
use cse_contract::mock::{self, Fault, Faults, MockConfig, MockHandle};
use cse_contract::outcome::CaseOutcome;
use cse_contract::plan::{Filter, PlanConfig, plan};
use cse_contract::runner::lane::StateLanes;
use cse_contract::runner::{RunConfig, run_all};
use cse_contract::stateful::Reads;

pub(crate) const TOKEN: &str = "test-token-0123";
pub(crate) const PROJECT: &str = "demo-project";
/// The mock's default engine: a Retry's job runs a little while, then fails.
pub(crate) const ENGINE: &str = "4a1bc63d-4719-4bd3-b1ad-5ee590b05e87";
/// An engine whose Retry jobs fail at once, so it is always retryable (load tests).
pub(crate) const ALWAYS_RETRYABLE: &str = "a1a1a1a1-0000-4000-8000-000000000001";
pub(crate) const SLOW_RETRY: &str = "c0ffee00-1234-4abc-9def-0123456789ab";

pub(crate) fn contract() -> Arc<Contract> {
    Arc::new(Contract::load(&FileSource::Embedded).expect("embedded contract"))
}

pub(crate) async fn start_mock(faults: &[Fault]) -> MockHandle {
    let config =
        MockConfig { token: Some(TOKEN.into()), faults: Faults::new(faults.iter().copied()), ..MockConfig::local() };
    mock::spawn(contract(), config).await.expect("mock starts")
}

pub(crate) fn variables() -> Variables {
    let mut v = Variables::default();
    v.set("project_id", PROJECT);
    v.set("engine_id", ENGINE);
    v.set("token", TOKEN);
    v.set("enterprise_project_id", "0");
    v.set("unknown_engine_id", "00000000-0000-0000-0000-000000000000");
    v
}

/// Runs the hand-written cases matching `include` (all if empty) against `base_url`, judged by
/// the state of the mock's default engine.
pub(crate) async fn run_suite(base_url: &str, include: &[&str], timeout: Duration) -> Vec<CaseOutcome> {
    run_suite_on(base_url, include, timeout, ENGINE).await
}

/// [`run_suite`] against `engine`.
pub(crate) async fn run_suite_on(
    base_url: &str,
    include: &[&str],
    timeout: Duration,
    engine: &str,
) -> Vec<CaseOutcome> {
    let contract = contract();
    let files = load_cases(&FileSource::Embedded, &contract).expect("embedded cases");
    let filter = Filter { include: include.iter().map(ToString::to_string).collect(), ..Filter::default() };
    let mut variables = variables();
    variables.set("engine_id", engine);
    let config = PlanConfig { target: base_url.into(), variables, filter, strict_auth: false };
    let cases = plan(&contract, &files, &config).expect("plan");
    let client = Client::new(ClientConfig { timeout, ..ClientConfig::default() });
    run_all(contract.clone(), cases, &client, state_aware(&contract, base_url, timeout)).await.0
}

/// The mock fixture's engine that is not in a failed state, and its engine of another project.
/// The first job of the mock's default engine (`${job_id}` of the embedded run).
pub(crate) const ENGINE_JOB: &str = "18638";
pub(crate) const NOT_RETRYABLE: &str = "891bf21a-4024-4f47-b38c-bd259ca8f10a";
pub(crate) const FOREIGN: &str = "f0e1d2c3-b4a5-4968-8776-655443322110";

/// Runs the stateful phase (the properties and `sequences` sequences of `seed`) against
/// `base_url`, on the mock's default engine, as `run` does.
pub(crate) async fn run_stateful(base_url: &str, sequences: usize, seed: u64) -> Vec<CaseOutcome> {
    use cse_contract::runner::stateful::{Phase, plan};
    use cse_contract::stateful::Role;
    let contract = contract();
    let mut variables = variables();
    variables.set("not_retryable_engine_id", NOT_RETRYABLE);
    variables.set("foreign_engine_id", FOREIGN);
    let cases = plan(&contract, base_url, &variables, (sequences, seed), &Filter::default());
    let mut config = state_aware(&contract, base_url, Duration::from_secs(10));
    let lanes = config.state.clone().expect("state-aware");
    let engines = vec![
        (Role::Target, ENGINE.into()),
        (Role::NotRetryable, NOT_RETRYABLE.into()),
        (Role::Foreign, FOREIGN.into()),
    ];
    config.stateful = Some(Arc::new(Phase::new(lanes, engines, Duration::ZERO, (false, true))));
    let client = Client::new(ClientConfig::default());
    run_all(contract, cases, &client, config).await.0
}

/// A run configuration that judges side-effecting cases by the engine's state, as `run` does.
/// The reads get the cases' `timeout`, so a target that hangs costs no more.
pub(crate) fn state_aware(contract: &Arc<Contract>, base_url: &str, timeout: Duration) -> RunConfig {
    let reads = Reads::new(contract, base_url, &variables()).expect("the embedded contract has a state model");
    let lanes =
        StateLanes::new(reads, Duration::ZERO, Client::new(ClientConfig { timeout, ..ClientConfig::default() }));
    RunConfig { state: Some(Arc::new(lanes)), ..RunConfig::default() }
}

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_cse-contract");

/// `cse-contract mock` as its own process, as CI runs it.
pub(crate) struct MockProcess {
    child: Child,
    /// Its base URL, from the first line it prints.
    pub(crate) url: String,
    /// Reads its stderr (the request log) as it is written: a pipe left unread fills at 64 KiB
    /// and the mock blocks on its next log line, which a long run reaches.
    log: std::thread::JoinHandle<String>,
}

impl MockProcess {
    /// Starts `cse-contract mock --listen 127.0.0.1:0 ARGS` with `envs` and waits for its URL.
    pub(crate) fn start(args: &[&str], envs: &[(&str, &str)]) -> MockProcess {
        let mut command = Command::new(BIN);
        command.args(["mock", "--listen", "127.0.0.1:0"]).args(args).envs(envs.iter().copied());
        MockProcess::spawn(command)
    }

    /// [`MockProcess::start`] of another build of the binary (the release one, say).
    pub(crate) fn start_binary(bin: &str, args: &[&str]) -> MockProcess {
        let mut command = Command::new(bin);
        command.args(["mock", "--listen", "127.0.0.1:0"]).args(args);
        MockProcess::spawn(command)
    }

    /// [`MockProcess::start`] with at most `files` open files (util-linux `prlimit`, which sets
    /// the limit and then runs the mock in its own process).
    pub(crate) fn start_limited(files: u32, args: &[&str]) -> MockProcess {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={files}:{files}"))
            .args(["--", BIN, "mock", "--listen", "127.0.0.1:0"])
            .args(args);
        MockProcess::spawn(command)
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn spawn(mut command: Command) -> MockProcess {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        MockProcess { child, url: line.trim().to_owned(), log }
    }

    /// Stops it with SIGTERM; its exit code and its stderr (the request log).
    pub(crate) fn stop(mut self) -> (Option<i32>, String) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let status = self.child.wait().unwrap();
        (status.code(), self.log.join().unwrap_or_default())
    }
}

/// Runs `command` to its end; its exit code, stdout and its own peak resident memory in KiB.
///
/// The peak is the child's `VmHWM` from /proc, polled while it runs: `ru_maxrss` from wait4 would
/// also count this test binary's own high-water mark, which a vfork-style spawn carries across
/// exec.
pub(crate) fn run_measured(mut command: Command) -> (Option<i32>, String, u64) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let reader = std::thread::spawn({
        let mut out = child.stdout.take().unwrap();
        move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut out, &mut text).unwrap();
            text
        }
    });
    let mut peak = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            let hwm = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches(" kB"));
            peak = peak.max(hwm.and_then(|v| v.trim().parse().ok()).unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    (status.code(), reader.join().unwrap(), peak)
}

/// Header fields as read: (lower-cased name, trimmed value).
pub(crate) type Fields = Vec<(String, String)>;

/// For the servers written for a test (no code shared with the mock): one request read from
/// `reader`, its header fields (names lower-cased, values trimmed) and its Content-Length body;
/// `None` when the client closed first.
pub(crate) fn read_request<R: std::io::Read>(reader: &mut BufReader<R>) -> Option<(Fields, Vec<u8>)> {
    let mut fields = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return None;
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = fields.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    let _ = std::io::Read::read_exact(reader, &mut body);
    Some((fields, body))
}

/// Every file under `dir`, its subdirectories' included.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(files_under(&path)) } else { files.push(path) }
    }
    files
}
