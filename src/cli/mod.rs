//! The command line: clap structs ([`args`]) turned into a run's settings in one step
//! ([`settings`]), wired to the library. Commands return the one error type ([`error`]), which
//! becomes its message and exit code ([`exit`]) in `dispatch` alone.

mod args;
mod error;
pub mod exit;
mod merge_cmd;
mod mock_cmd;
mod profile;
mod proxy_cmd;
mod replay_cmd;
mod run_cmd;
mod session;
mod settings;
mod signals;
mod state;
mod target;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser as _};

use args::{Cli, Command};

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    crate::report::install_panic_hook();
    ExitCode::from(run_with(std::env::args_os()))
}

/// Runs the command line `args` (the program name first) in this process, as the binary would,
/// and returns its exit code; the panic hook is not installed, so a panic reaches the caller.
/// For tests that drive the binary's code many times over (the loader fuzz test).
pub fn run_with<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match parse(&args) {
        Ok(cli) => dispatch(cli),
        Err(code) => code,
    }
}

/// The command line as clap parses it, with the flags that it and the environment leave unset
/// filled in from the configuration file's profile (`run` and `list`; precedence: flags >
/// environment > profile > defaults). `Err`: the exit code, the reason printed.
fn parse(args: &[OsString]) -> Result<Cli, u8> {
    let matches = Cli::command().try_get_matches_from(args).map_err(|e| clap_exit(&e))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| clap_exit(&e))?;
    let chosen = match &cli.command {
        Command::Run(run) => &run.profile,
        Command::List(list) => &list.profile,
        _ => return Ok(cli),
    };
    let chosen = match profile::load(chosen.config.as_deref(), chosen.profile.as_deref()) {
        Ok(Some(chosen)) => chosen,
        Ok(None) => return Ok(cli),
        Err(problems) => return Err(error::CliError::Config(problems.into_lines()).report()),
    };
    let Some((name, sub_matches)) = matches.subcommand() else { return Ok(cli) };
    let command = Cli::command();
    let subcommand = command.find_subcommand(name).expect("clap matched this subcommand");
    let (expanded, added) = profile::to_argv(&chosen.settings, subcommand, sub_matches, name, args);
    match Cli::try_parse_from(&expanded) {
        Ok(cli) => {
            eprintln!("profile: {} (from {})", chosen.name, chosen.path);
            Ok(cli)
        }
        Err(e) => {
            let code = clap_exit(&e);
            let added: Vec<_> = added.iter().map(|a| a.to_string_lossy()).collect();
            eprintln!("note: profile `{}` of {} added: {}", chosen.name, chosen.path, added.join(" "));
            Err(code)
        }
    }
}

/// Prints clap's error (or help, or version) and returns its exit code.
fn clap_exit(error: &clap::Error) -> u8 {
    let _ = error.print();
    if error.use_stderr() { exit::USAGE } else { exit::SUCCESS }
}

fn dispatch(cli: Cli) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return error::CliError::from_error(&e).report(),
    };
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run_cmd::run(*args)),
        Command::List(args) => run_cmd::list(&args),
        Command::Validate(args) => run_cmd::validate(&args),
        Command::Merge(args) => merge_cmd::merge(&args),
        Command::Mock(args) => runtime.block_on(mock_cmd::mock(args)),
        Command::Proxy(args) => runtime.block_on(proxy_cmd::proxy(*args)),
        Command::Openapi(args) => openapi(&args),
        Command::Replay(args) => runtime.block_on(replay_cmd::replay(args)),
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            // Written into memory first: clap_complete panics on a closed pipe (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "cse-contract", &mut script);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Ok(exit::SUCCESS)
        }
    };
    // The one place an error becomes its message and its exit code.
    result.unwrap_or_else(|error| error.report())
}

/// `openapi`: the contract as OpenAPI 3.1 on stdout.
fn openapi(args: &args::OpenapiArgs) -> error::CliResult {
    let source = args.schemas.clone().map_or(crate::files::FileSource::Embedded, crate::files::FileSource::Dir);
    let contract = crate::contract::Contract::load(&source).map_err(|e| error::CliError::from_error(&e))?;
    let doc = crate::contract::openapi(&contract, &args.server);
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(exit::SUCCESS)
}

/// Runs the conformance suite as a libtest binary: the entry point of `tests/contract.rs`.
pub fn contract_tests() -> ExitCode {
    crate::report::install_panic_hook();
    let args = libtest_mimic::Arguments::from_args();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return ExitCode::from(error::CliError::from_error(&e).report()),
    };
    ExitCode::from(runtime.block_on(run_cmd::contract_tests(args)).unwrap_or_else(|error| error.report()))
}
