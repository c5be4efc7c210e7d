//! The command line: clap structs ([`args`]) turned into validated configurations, wired to the
//! library. This is the only module where errors become exit codes ([`exit`]).

mod args;
pub mod exit;
mod mock_cmd;
mod profile;
mod replay_cmd;
mod run_cmd;
mod session;
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
        Err(problems) => {
            for problem in &problems {
                eprintln!("error: {problem}");
            }
            let plural = if problems.len() == 1 { "" } else { "s" };
            eprintln!("error: {} problem{plural} in the configuration; nothing was sent", problems.len());
            return Err(exit::USAGE);
        }
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
