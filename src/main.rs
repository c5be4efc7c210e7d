//! The `cse-contract` binary: everything lives in the library; this parses and exits.

fn main() -> std::process::ExitCode {
    cse_contract::cli::main()
}
