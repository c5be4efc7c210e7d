//! The command line: clap structs ([`args`]) turned into a run's settings in one step
//! ([`settings`]), wired to the library. Commands return the one error type ([`error`]), which
//! becomes its message and exit code ([`exit`]) in `dispatch` alone.

mod args;
mod error;
pub mod exit;
mod mock_cmd;
mod replay_cmd;
mod run_cmd;
mod session;
mod settings;
mod signals;
mod state;
mod target;

use std::process::ExitCode;

use clap::Parser as _;

use args::{Cli, Command};

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    crate::report::install_panic_hook();
    ExitCode::from(dispatch(Cli::parse()))
}

/// Runs the command line `args` (the program name first) in this process, as the binary would,
/// and returns its exit code; the panic hook is not installed, so a panic reaches the caller.
/// For tests that drive the binary's code many times over (the loader fuzz test).
pub fn run_with<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => dispatch(cli),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() { exit::USAGE } else { exit::SUCCESS }
        }
    }
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
        Command::Mock(args) => runtime.block_on(mock_cmd::mock(args)),
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
