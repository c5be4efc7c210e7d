//! The clap structs. The token is deliberately not a flag: it comes from `CSE_AUTH_TOKEN` or
//! `--token-file`, so it cannot leak through the process list or shell history.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cse-contract",
    version,
    about = "Contract tests for the Huawei Cloud CSE API 'Retry an exclusive ServiceComb engine job', with a reference mock",
    long_about = None
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the cases against a target (default: the embedded mock).
    #[command(after_help = RUN_ENVIRONMENT)]
    Run(Box<RunArgs>),
    /// Print the name of every case a run with the same flags has (hand-written, stateful,
    /// generated), one per line: `run --list` without libtest's `: test` suffix.
    List(ListArgs),
    /// Load and check the schemas and every case file; send nothing.
    Validate(SourceArgs),
    /// Run the reference mock server.
    Mock(MockArgs),
    /// Forward every request to --upstream and every answer back untouched, judging each
    /// exchange of the contract's operations with the suite's checks (the client's request
    /// included: request_conforms); a line per exchange on stderr, the reports on SIGINT/SIGTERM
    /// and every --report-every.
    #[command(after_help = PROXY_AFTER_HELP)]
    Proxy(Box<ProxyArgs>),
    /// Print the contract as an OpenAPI 3.1 document (JSON).
    Openapi(OpenapiArgs),
    /// Re-send one request of a JSON report (the token restored, an AK/SK request signed
    /// afresh); exit 0 when the status is the one the report recorded.
    #[command(after_help = CREDENTIALS_ENVIRONMENT)]
    Replay(ReplayArgs),
    /// Combine the JSON reports of a partitioned run's shards (`run --partition`) into one
    /// report: JSON, JUnit and HTML. Refuses reports of different contracts, seeds, targets or
    /// partitionings, a shard twice or missing (unless --allow-partial); exit 0 when every
    /// merged case passed, 1 when one did not, 2 when the reports are refused.
    Merge(MergeArgs),
    /// Print a shell completion script, e.g. `cse-contract completions bash >
    /// ~/.local/share/bash-completion/completions/cse-contract`.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The shards' JSON reports (`run --partition K/N --json PATH`).
    #[arg(value_name = "REPORT.json", required = true)]
    pub(crate) reports: Vec<PathBuf>,
    /// Write the merged JSON report here.
    #[arg(long, value_name = "PATH")]
    pub(crate) json: Option<PathBuf>,
    /// Write the merged JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    pub(crate) junit: Option<PathBuf>,
    /// Write the merged HTML page here.
    #[arg(long, value_name = "PATH")]
    pub(crate) html: Option<PathBuf>,
    /// Merge the shards given even when some are missing; the report is marked partial.
    #[arg(long)]
    pub(crate) allow_partial: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

/// The credentials read from the environment only (never flags: a flag's value shows in `ps`).
macro_rules! credentials_help {
    () => {
        "\
Credentials, from the environment only (a flag's value would show in `ps`):
  CSE_AUTH_TOKEN       the IAM token (${token}); or --token-file
  CSE_AK, CSE_SK       sign every request with AK/SK (SDK-HMAC-SHA256) instead of the token;
                       both or neither (half a pair is an error)
  CSE_SECURITY_TOKEN   with CSE_AK/CSE_SK: the security token of temporary credentials"
    };
}

/// `replay --help`'s closing section.
const CREDENTIALS_ENVIRONMENT: &str = credentials_help!();

/// `run --help`'s closing section: every environment variable it reads, and the exit codes.
const RUN_ENVIRONMENT: &str = concat!(
    credentials_help!(),
    "
The other variables stand for flags, shown with each flag above ([env: ...]): CSE_TARGET,
CSE_PROJECT_ID, CSE_ENGINE_ID, CSE_JOB_ID, CSE_UNKNOWN_ENGINE_ID, CSE_NOT_RETRYABLE_ENGINE_ID,
CSE_FOREIGN_ENGINE_ID, CSE_ENTERPRISE_PROJECT_ID, CSE_CASES, CSE_SCHEMAS, CSE_CONFIG,
CSE_PROFILE.
Configuration file: --config FILE (CSE_CONFIG), else ./cse-contract.toml if there is one. Its
[profile.NAME] tables set flags by their long names (generated = 500, skip = [\"slow\"]);
--profile NAME (CSE_PROFILE) picks one, by default `default`, whose keys the others inherit.
Precedence: flags > environment > profile > defaults.
Exit codes: 0 every case passed; 1 a case failed or errored; 2 usage or configuration error
(nothing sent); 4 the filters selected no case; 130/143/129 stopped by SIGINT/SIGTERM/SIGHUP."
);

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The JSON report (`run --json`, default reports/report.json).
    #[arg(value_name = "REPORT")]
    pub(crate) report: PathBuf,
    /// The case's name, as the report has it.
    #[arg(value_name = "CASE")]
    pub(crate) case: String,
    /// Send to this base URL instead of the report's (e.g. a mock started again on another port).
    #[arg(long, value_name = "URL")]
    pub(crate) target: Option<String>,
    /// Re-send the case's minimal (shrunk) request instead.
    #[arg(long)]
    pub(crate) minimal: bool,
    /// Read the token from this file instead of CSE_AUTH_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// The header that carries the token.
    #[arg(long, value_name = "NAME", default_value = "X-Auth-Token")]
    pub(crate) token_header: String,
    /// Set this header on the request, replacing the report's (repeatable; `@FILE` reads one a
    /// line): gives back the value of a secret `run -H` header, which the report masked.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = super::settings::parse_header)]
    pub(crate) headers: Vec<String>,
    /// Bound on the exchange.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_positive_duration)]
    pub(crate) timeout: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct OpenapiArgs {
    /// Folder of schemas (default: those built into this binary).
    #[arg(long, value_name = "DIR", env = "CSE_SCHEMAS")]
    pub(crate) schemas: Option<PathBuf>,
    /// The server URL the document names.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
}

/// Where the contract and the cases are read from.
#[derive(Debug, Args, Clone)]
pub(crate) struct SourceArgs {
    /// Folder of case files (default: the cases built into this binary).
    #[arg(long, value_name = "DIR", env = "CSE_CASES")]
    pub(crate) cases: Option<PathBuf>,
    /// Folder of schemas and the operation manifest (default: those built into this binary).
    #[arg(long, value_name = "DIR", env = "CSE_SCHEMAS")]
    pub(crate) schemas: Option<PathBuf>,
}

/// Which profile of which configuration file (`profile.rs`) fills in the flags not given.
#[derive(Debug, Args, Clone)]
pub(crate) struct ProfileArgs {
    /// Read the profiles of this file (default: ./cse-contract.toml, if there is one).
    #[arg(long, value_name = "FILE", env = "CSE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The profile of the configuration file to use; it inherits [profile.default]'s keys.
    #[arg(long, value_name = "NAME", env = "CSE_PROFILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) profile: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) profile: ProfileArgs,
    /// Only names containing one of these.
    pub(crate) filter: Vec<String>,
    /// Match FILTER (and --skip) against whole names.
    #[arg(long)]
    pub(crate) exact: bool,
    /// Leave out names containing this (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub(crate) skip: Vec<String>,
    /// As `run --generated`: how many random generated cases a run has.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = parse_generated)]
    pub(crate) generated: usize,
    /// As `run --stateful`: how many stateful sequences a run has.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_sequences)]
    pub(crate) stateful: usize,
    /// As `run --mode`: which generated cases.
    #[arg(long, value_enum, default_value = "all")]
    pub(crate) mode: ModeArg,
}

#[derive(Debug, Args)]
#[expect(clippy::struct_excessive_bools, reason = "each bool is a command-line switch")]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) profile: ProfileArgs,
    /// Base URL of the API, e.g. https://cse.ap-southeast-1.myhuaweicloud.com. Without it, the
    /// embedded mock is started on 127.0.0.1 and everything runs against it.
    #[arg(long, value_name = "URL", env = "CSE_TARGET")]
    pub(crate) target: Option<String>,
    /// Project ID (${project_id}).
    #[arg(long, value_name = "ID", env = "CSE_PROJECT_ID")]
    pub(crate) project_id: Option<String>,
    /// ID of an engine whose failed job may be retried (${engine_id}).
    #[arg(long, value_name = "ID", env = "CSE_ENGINE_ID")]
    pub(crate) engine_id: Option<String>,
    /// An engine ID that does not exist (${unknown_engine_id}).
    #[arg(
        long,
        value_name = "ID",
        env = "CSE_UNKNOWN_ENGINE_ID",
        default_value = "00000000-0000-0000-0000-000000000000"
    )]
    pub(crate) unknown_engine_id: String,
    /// An engine of the project that is settled, neither in a failed state nor in progress (e.g.
    /// Available), so a Retry of it must be refused and change nothing
    /// (${not_retryable_engine_id}; the stateful property not_retryable_refused).
    #[arg(long, value_name = "ID", env = "CSE_NOT_RETRYABLE_ENGINE_ID")]
    pub(crate) not_retryable_engine_id: Option<String>,
    /// Judge with these checks only (comma-separated names, as reports name them; `transport`
    /// is always judged). A stateful property left out is not run.
    #[arg(long, value_name = "CHECK,...", value_delimiter = ',', value_parser = parse_check)]
    pub(crate) checks: Vec<crate::check::CheckKind>,
    /// Judge without these checks (comma-separated names).
    #[arg(long, value_name = "CHECK,...", value_delimiter = ',', value_parser = parse_check)]
    pub(crate) exclude_checks: Vec<crate::check::CheckKind>,
    /// Break the embedded mock in this named way (repeatable; `cse-contract mock --list-faults`
    /// lists them): see what a failing check looks like without starting a mock of your own.
    #[arg(long = "fault", value_name = "NAME", value_parser = parse_fault, conflicts_with = "target")]
    pub(crate) faults: Vec<crate::mock::Fault>,
    /// An engine that exists in another project than --project-id, so this project's path must
    /// not reach it (${foreign_engine_id}; the stateful property tenant_isolated).
    #[arg(long, value_name = "ID", env = "CSE_FOREIGN_ENGINE_ID")]
    pub(crate) foreign_engine_id: Option<String>,
    /// A job of --engine-id (${job_id}): the coverage phase reads it through the job details API
    /// (show_job). Without it, those coverage cases are skipped, saying so.
    #[arg(long, value_name = "ID", env = "CSE_JOB_ID")]
    pub(crate) job_id: Option<String>,
    /// Enterprise project ID (${enterprise_project_id}).
    #[arg(long, value_name = "ID", env = "CSE_ENTERPRISE_PROJECT_ID", default_value = "0")]
    pub(crate) enterprise_project_id: String,
    /// File holding the IAM token (${token}); or set CSE_AUTH_TOKEN.
    #[arg(long, value_name = "PATH")]
    pub(crate) token_file: Option<PathBuf>,
    /// Send this header with every request, `Name: value` (repeatable; curl's and Schemathesis'
    /// -H), e.g. for a gateway in front of the API. `@FILE` reads one header a line from FILE,
    /// which keeps a secret value out of the process list. Not a header of the contract (the
    /// cases send, omit and break those on purpose). The value is masked in every output when
    /// the name is Authorization, Proxy-Authorization, Cookie or X-Security-Token, or given to
    /// --secret-header.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = super::settings::parse_header)]
    pub(crate) headers: Vec<String>,
    /// Mask the value of this -H header in every output, report and reproducer (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) secret_header: Vec<String>,
    /// A user variable: case files write `${var.NAME}` for VALUE (repeatable; Hurl's --variable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::settings::parse_var)]
    pub(crate) vars: Vec<(String, String)>,
    /// Print each case's exchanges on stderr as it finishes: the request and the answer, with
    /// credentials masked, bodies cut at 2 KiB (-vv: whole bodies).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Most requests in flight at once.
    #[arg(long, visible_alias = "test-threads", value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
    /// Bound on each exchange, e.g. 10s, 500ms.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_positive_duration)]
    pub(crate) timeout: Duration,
    /// Most requests per second across all workers, e.g. 50/s or 3000/min. A 429 is retried
    /// after its Retry-After (at most 3 times) whatever the rate.
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub(crate) rate: Option<f64>,
    /// Also trust the CA certificates of this PEM file for https targets (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_cert: Vec<PathBuf>,
    /// Verify no TLS certificate at all (a loud warning is printed).
    #[arg(long)]
    pub(crate) insecure: bool,
    /// Bound on establishing a connection.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_positive_duration)]
    pub(crate) connect_timeout: Duration,
    /// Largest response body read; past it the case fails with "body exceeds N bytes" (e.g. 1MiB, 64KiB, 5000; at most 1GiB).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_body_limit)]
    pub(crate) max_body: usize,
    /// Bound on the whole run: cases not finished by then are reported errored.
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub(crate) deadline: Option<Duration>,
    /// Count only the API page's statuses (200, 400, 500) as documented, not the gateway's.
    #[arg(long)]
    pub(crate) strict_statuses: bool,
    /// Demand the API gateway's 401 for missing or invalid credentials (by default 400, 401 and
    /// 403 all count as a conformant rejection).
    #[arg(long)]
    pub(crate) strict_auth: bool,
    /// Judge side-effecting cases without reading the engine's state: a refused valid Retry then
    /// fails status_expected, whatever the engine was doing.
    #[arg(long)]
    pub(crate) no_state: bool,
    /// Before each side-effecting case, wait up to DUR for the engine to become retryable again
    /// (polling the read APIs with backoff); 0 sends at once and judges a refusal by the state.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration, default_value = "0s")]
    pub(crate) wait_retryable: Duration,
    /// Stop starting cases once N cases failed or errored (those in flight finish); the run
    /// says so, its reports are marked partial, and it exits 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_failures: Option<u64>,
    /// Stop at the first case that fails or errors (`--max-failures 1`).
    #[arg(long, conflicts_with = "max_failures")]
    pub(crate) fail_fast: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH", default_value = "reports/report.json")]
    pub(crate) json: PathBuf,
    /// Write the JUnit XML report here.
    #[arg(long, value_name = "PATH", default_value = "reports/junit.xml")]
    pub(crate) junit: PathBuf,
    /// The self-contained HTML report.
    #[arg(long, value_name = "PATH", default_value = "reports/index.html")]
    pub(crate) html: PathBuf,
    /// Write no report files (so not with --json, --junit or --html).
    #[arg(long, conflicts_with_all = ["json", "junit", "html"])]
    pub(crate) no_reports: bool,
    /// How many random generated cases to add, after the coverage phase's boundary values (0: no
    /// generated cases at all unless --mode coverage; at most 10 000 000 in one run).
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = parse_generated)]
    pub(crate) generated: usize,
    /// How many random sequences of the stateful phase to run, drawn from the reference model
    /// (0: none; the stateful properties run whatever this is). Reproducible with --seed.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_sequences)]
    pub(crate) stateful: usize,
    /// Seed of the generated cases and sequences (default: drawn at random and printed).
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// Run shard K of N: `hash:K/N` (by a stable hash of each case's name) or `count:K/N` (in
    /// turn), cargo-nextest's syntax. N runs with the same seed and flags together run each case
    /// once; the cases bound to the engine (side-effecting, armed, stateful) all run in shard 1.
    /// Needs --seed, so every shard draws the same generated cases; `cse-contract merge`
    /// combines the shards' JSON reports.
    #[arg(long, value_name = "STRATEGY:K/N", requires = "seed", conflicts_with = "list")]
    pub(crate) partition: Option<crate::plan::Partition>,
    /// Which generated cases: the coverage phase (boundary values of every constraint), random
    /// cases of one family or of all three, or both phases.
    #[arg(long, value_enum, default_value = "all")]
    pub(crate) mode: ModeArg,
    /// Write each shrunk failing generated request here as a case file.
    #[arg(long, value_name = "DIR")]
    pub(crate) save_failures: Option<PathBuf>,
    /// Send side-effecting requests (those a conforming server may accept: a valid Retry starts a
    /// real job) to a target that is not on loopback. Without it they are reported as skipped.
    #[arg(long)]
    pub(crate) allow_side_effects: bool,
    /// Treat the target as not on loopback, for the real-endpoint guard: a loopback address that
    /// reaches a real endpoint (an SSH tunnel, a local gateway).
    #[arg(long)]
    pub(crate) treat_as_remote: bool,
    /// Print every request that would be sent, as curl with credentials masked, and send nothing
    /// (with -q: build them all, print only how many).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// List the cases (libtest's `name: test` lines) and send nothing.
    #[arg(long)]
    pub(crate) list: bool,
    /// Console format: pretty (a line per case), terse (a character per case), json (libtest events).
    #[arg(long, value_enum, value_name = "pretty|terse|json")]
    pub(crate) format: Option<libtest_mimic::FormatSetting>,
    /// Colour: auto, always or never.
    #[arg(long, value_enum, value_name = "auto|always|never")]
    pub(crate) color: Option<libtest_mimic::ColorSetting>,
    /// Terse output (as --format terse).
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Run only cases whose name contains one of these.
    pub(crate) filter: Vec<String>,
    /// Match FILTER (and --skip) against whole names.
    #[arg(long)]
    pub(crate) exact: bool,
    /// Skip cases whose name contains this (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub(crate) skip: Vec<String>,
}

/// `proxy --help`'s closing section.
const PROXY_AFTER_HELP: &str = "\
The first line on stdout is the proxy's base URL: point a client (an SDK, curl, `cse-contract run
--target URL`) at it. The tokens and signatures clients send are masked in every output.
Exit codes: 0 when stopped by SIGINT/SIGTERM/SIGHUP (with --fail-on-violation: 1 if an exchange
failed or errored); 2 usage or configuration error, or reports not written.";

#[derive(Debug, Args)]
#[expect(clippy::struct_excessive_bools, reason = "each bool is a command-line switch")]
pub(crate) struct ProxyArgs {
    /// Base URL of the API to forward to (http or https), e.g.
    /// https://cse.ap-southeast-1.myhuaweicloud.com, or a mock's URL.
    #[arg(long, value_name = "URL")]
    pub(crate) upstream: String,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081")]
    pub(crate) listen: SocketAddr,
    /// Folder of schemas (default: those built into this binary).
    #[arg(long, value_name = "DIR", env = "CSE_SCHEMAS")]
    pub(crate) schemas: Option<PathBuf>,
    /// Bound on waiting for the upstream's answer (then the client gets 504), and between two
    /// parts of its body.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_positive_duration)]
    pub(crate) timeout: Duration,
    /// Bound on establishing a connection to the upstream.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_positive_duration)]
    pub(crate) connect_timeout: Duration,
    /// Also trust the CA certificates of this PEM file for an https upstream (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_cert: Vec<PathBuf>,
    /// Verify no TLS certificate of the upstream at all (a loud warning is printed).
    #[arg(long)]
    pub(crate) insecure: bool,
    /// Most clients served at once, and most exchanges in flight; when a new client waits for
    /// room, the connection idle longest is closed to make it.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = parse_positive)]
    pub(crate) max_connections: usize,
    /// A connection with no exchange in flight for this long (one that sends nothing, part of a
    /// head, or keeps an HTTP/2 connection unused) is closed.
    #[arg(long, value_name = "DUR", default_value = "15s", value_parser = parse_positive_duration)]
    pub(crate) idle_timeout: Duration,
    /// Largest request or response body judged; a larger one is forwarded whole and its exchange
    /// reported as not judged (e.g. 1MiB, 64KiB; at most 1GiB).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_body_limit)]
    pub(crate) max_judged_body: usize,
    /// Count only the API page's statuses (200, 400, 500) as documented, not the gateway's.
    #[arg(long)]
    pub(crate) strict_statuses: bool,
    /// Demand the API gateway's 401 for missing or invalid credentials.
    #[arg(long)]
    pub(crate) strict_auth: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH", default_value = "reports/proxy/report.json")]
    pub(crate) json: PathBuf,
    /// Write the JUnit XML report here.
    #[arg(long, value_name = "PATH", default_value = "reports/proxy/junit.xml")]
    pub(crate) junit: PathBuf,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "PATH", default_value = "reports/proxy/index.html")]
    pub(crate) html: PathBuf,
    /// Write no report files (so not with --json, --junit or --html).
    #[arg(long, conflicts_with_all = ["json", "junit", "html"])]
    pub(crate) no_reports: bool,
    /// Also write the reports every DUR while running (e.g. 30s), marked partial.
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub(crate) report_every: Option<Duration>,
    /// Exit 1 when an exchange failed a check or errored.
    #[arg(long)]
    pub(crate) fail_on_violation: bool,
    /// No line per exchange on stderr.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MockArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Engines fixture (default: the built-in set).
    #[arg(long, value_name = "FILE")]
    pub(crate) engines: Option<PathBuf>,
    /// Accept only this X-Auth-Token (default: any non-empty one).
    #[arg(long, value_name = "VALUE", env = "CSE_MOCK_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Verify AK/SK-signed requests (SDK-HMAC-SHA256) with this access key; needs --sk.
    #[arg(long, value_name = "AK", env = "CSE_MOCK_AK", requires = "sk")]
    pub(crate) ak: Option<String>,
    /// The secret key for --ak (better given as CSE_MOCK_SK, out of the process list).
    #[arg(long, value_name = "SK", env = "CSE_MOCK_SK", hide_env_values = true, requires = "ak")]
    pub(crate) sk: Option<String>,
    /// Answer 429 APIGW.0308 (with Retry-After) beyond this many requests per second.
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub(crate) rate_limit: Option<f64>,
    /// Jobs each engine keeps: older ones are forgotten (the job API answers them 400
    /// SVCSTG.00501153); the newest and a running one are always kept.
    #[arg(long, value_name = "N", default_value_t = crate::mock::state::DEFAULT_JOB_HISTORY, value_parser = parse_positive)]
    pub(crate) job_history: usize,
    /// How long a connection may take to send a request head, counted from when the mock waits
    /// for it (a new connection, or after the previous request); also how long a client may take
    /// to read an answer. An idle connection is then closed.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_positive_duration)]
    pub(crate) idle_timeout: Duration,
    /// How long a request body may take to arrive once its head is in.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_positive_duration)]
    pub(crate) body_timeout: Duration,
    /// Most connections served at once; past it, the one idle longest is closed to make room.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = parse_positive)]
    pub(crate) max_connections: usize,
    /// Break the contract in this named way (repeatable; see --list-faults).
    #[arg(long = "fault", value_name = "NAME")]
    pub(crate) faults: Vec<String>,
    /// List the fault names and what each does.
    #[arg(long)]
    pub(crate) list_faults: bool,
    /// No request log on stderr.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Folder of schemas (default: those built into this binary).
    #[arg(long, value_name = "DIR", env = "CSE_SCHEMAS")]
    pub(crate) schemas: Option<PathBuf>,
}

/// `--mode`: clap's side of [`crate::generate::Mode`], so the library's enums know nothing of
/// clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ModeArg {
    /// Random positive cases only, no coverage phase.
    Positive,
    /// Random negative cases only, no coverage phase.
    Negative,
    /// Random robustness probes only, no coverage phase.
    Robustness,
    /// The coverage phase only: boundary values of every constraint, no random cases.
    Coverage,
    /// The random cases only (positive, negative and robustness), no coverage phase.
    Random,
    /// The coverage phase, then random cases of the three families.
    All,
}

impl From<ModeArg> for crate::generate::Mode {
    fn from(mode: ModeArg) -> Self {
        use crate::generate::Mode;
        match mode {
            ModeArg::Positive => Mode::Positive,
            ModeArg::Negative => Mode::Negative,
            ModeArg::Robustness => Mode::Robustness,
            ModeArg::Coverage => Mode::Coverage,
            ModeArg::Random => Mode::Random,
            ModeArg::All => Mode::All,
        }
    }
}

/// A rate: `N`, `N/s` or `N/min`, N positive.
pub(crate) fn parse_rate(text: &str) -> Result<f64, String> {
    let (number, per) = text.trim().split_once('/').unwrap_or((text.trim(), "s"));
    let n: f64 = number.trim().parse().map_err(|_| format!("`{text}` is not a rate such as 50/s"))?;
    let seconds = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "min" | "m" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => return Err(format!("unknown rate unit `/{other}` (use /s, /min or /h)")),
    };
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("`{text}`: the rate must be positive"));
    }
    let per_second = n / seconds;
    if per_second < MIN_RATE {
        return Err(format!("`{text}` is slower than the slowest rate taken, 1/h"));
    }
    Ok(per_second)
}

/// The slowest `--rate`: one request an hour.
const MIN_RATE: f64 = 1.0 / 3600.0;
/// The most generated cases one run takes (memory grows by about 100 bytes a case listed).
pub(crate) const MAX_GENERATED: usize = 10_000_000;
/// The largest `--max-body`.
const MAX_BODY_LIMIT: usize = 1 << 30;

/// The most sequences one run may ask for: each holds the engine's lane for a while.
pub(crate) const MAX_SEQUENCES: usize = 100_000;

fn parse_sequences(text: &str) -> Result<usize, String> {
    let n: usize = text.trim().parse().map_err(|e| format!("`{text}`: {e}"))?;
    if n > MAX_SEQUENCES {
        return Err(format!("{n} is more than {MAX_SEQUENCES} sequences in one run"));
    }
    Ok(n)
}

fn parse_generated(text: &str) -> Result<usize, String> {
    let n: usize = text.trim().parse().map_err(|_| format!("`{text}` is not a number of cases"))?;
    if n > MAX_GENERATED {
        return Err(format!("{n} is more than the {MAX_GENERATED} generated cases one run takes"));
    }
    Ok(n)
}

fn parse_body_limit(text: &str) -> Result<usize, String> {
    let size = parse_size(text)?;
    if size > MAX_BODY_LIMIT {
        return Err(format!("`{text}` is larger than the largest body limit, 1GiB"));
    }
    Ok(size)
}

/// A whole number of at least 1.
/// A check, by its name.
fn parse_check(text: &str) -> Result<crate::check::CheckKind, String> {
    let text = text.trim();
    crate::check::CheckKind::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = crate::check::CheckKind::ALL.iter().map(|k| k.name()).collect();
        format!("`{text}` is not a check; the checks are {}", names.join(", "))
    })
}

/// A fault of the mock, by its name.
fn parse_fault(text: &str) -> Result<crate::mock::Fault, String> {
    crate::mock::Fault::from_name(text.trim())
        .ok_or_else(|| format!("`{text}` is not a fault of the mock (`cse-contract mock --list-faults` lists them)"))
}

/// A duration above zero (`0s` would time out every exchange at once).
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("`{text}` is zero; give a duration above zero, e.g. 10s")),
        Err(e) => Err(format!("`{text}` is not a duration such as 10s, 500ms or 2m: {e}")),
    }
}

fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

/// A byte size: a number with an optional KiB, MiB or GiB (or K, M, G) suffix.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| format!("`{text}` is not a size such as 1MiB or 65536"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1024,
        "m" | "mib" | "mb" => 1024 * 1024,
        "g" | "gib" | "gb" => 1024 * 1024 * 1024,
        other => return Err(format!("unknown size unit `{other}` (use KiB, MiB or GiB)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(super::parse_size("64k"), Ok(65536));
        assert_eq!(super::parse_size("5000"), Ok(5000));
        assert!(super::parse_size("1 parsec").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(super::parse_rate("50/s"), Ok(50.0));
        assert_eq!(super::parse_rate("120/min"), Ok(2.0));
        assert_eq!(super::parse_rate("7"), Ok(7.0));
        assert!(super::parse_rate("0/s").is_err() && super::parse_rate("5/d").is_err());
        assert_eq!(super::parse_rate("1/h"), Ok(1.0 / 3600.0));
        assert!(super::parse_rate("0.5/h").is_err());
    }
}
