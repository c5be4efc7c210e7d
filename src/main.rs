//! The `cse-contract` binary: everything lives in the library; this parses and exits.

// mimalloc rather than glibc's malloc: a run allocates and frees many small objects per case on
// two worker threads, and glibc's allocator took about 17 % of the harness's CPU (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cse_contract::cli::main()
}
