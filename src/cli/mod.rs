//! The command line: clap structs ([`args`]) turned into validated configurations, wired to the
//! library. This is the only module where errors become exit codes ([`exit`]).

mod args;
pub mod exit;
mod mock_cmd;
mod replay_cmd;
mod run_cmd;
mod session;
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
        Err(e) => {
            report_error(&e);
            return exit::USAGE;
        }
    };
    match cli.command {
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
            exit::SUCCESS
        }
    }
}

/// `openapi`: the contract as OpenAPI 3.1 on stdout.
fn openapi(args: &args::OpenapiArgs) -> u8 {
    let source = args.schemas.clone().map_or(crate::files::FileSource::Embedded, crate::files::FileSource::Dir);
    match crate::contract::Contract::load(&source) {
        Ok(contract) => {
            let doc = crate::contract::openapi(&contract, &args.server);
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            exit::SUCCESS
        }
        Err(e) => {
            report_error(&e);
            exit::USAGE
        }
    }
}

/// Runs the conformance suite as a libtest binary: the entry point of `tests/contract.rs`.
pub fn contract_tests() -> ExitCode {
    crate::report::install_panic_hook();
    let args = libtest_mimic::Arguments::from_args();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(exit::USAGE, &e),
    };
    ExitCode::from(runtime.block_on(run_cmd::contract_tests(args)))
}

/// Prints `error: …` with the cause chain and returns `code`.
pub(crate) fn fail(code: u8, error: &dyn std::error::Error) -> ExitCode {
    report_error(error);
    ExitCode::from(code)
}

/// Prints `error: …` and each cause on its own line.
pub(crate) fn report_error(error: &dyn std::error::Error) {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
}
