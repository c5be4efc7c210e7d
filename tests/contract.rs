//! The contract's hand-written cases as ordinary tests, against the embedded mock:
//! `cargo test -- valid_retry` runs one, `cargo nextest run` lists and runs them all.

fn main() -> std::process::ExitCode {
    cse_contract::cli::contract_tests()
}
