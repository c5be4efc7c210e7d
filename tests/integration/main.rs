//! Integration tests, one binary (as ripgrep and nextest lay theirs out).
//!
//! - `faults`: each fault of the mock makes exactly the check meant to catch it fail, and the
//!   conforming mock passes every case.
//! - `generated`: generated cases: thousands pass, faults only they reach are found and shrunk.
//! - `hostile`: misbehaving servers, the real-endpoint guard, --dry-run, --deadline.
//! - `loaders`: mutated manifests, schemas and case files (proptest): exit 0 or 2, never a panic;
//!   devices, FIFOs and oversized files refused at once.
//! - `masking`: hard secrets in every place, against an echoing server and the mock: no artefact
//!   holds any form or 8-byte part of them, every report parses, the counts do not change.
//! - `mock`: the mock's state under concurrency, its robustness against malformed input, its
//!   sibling APIs.
//! - `tls`: private CAs with --ca-cert, --insecure.
//! - `aksk`: AK/SK signing against the mock's verification.
//! - `cli`: the binary end to end: exit codes, broken case files, the standalone mock.
//! - `shards`: `run --partition` in four processes at once against one mock, merged, equals the
//!   unpartitioned run; `merge` refuses reports that do not belong together.
//! - `settings`: configuration problems told at once, `-H` headers (secret ones masked), `--var`
//!   user variables, `-v`'s exchange log.
//! - `profile`: `cse-contract.toml`: precedence, inheritance, refused keys and values with their
//!   file and line, missing profiles, `list` honouring the profile.
//! - `rate`: --rate holds, 429s are retried and judged on the final answer.
//! - `reports`: JUnit and JSON snapshots, secrets in no output, --list, interrupted runs.
//! - `reproduce`: curl reproducers run by the real curl, `replay`, `--max-failures`.
//! - `proxy`: remote targets through the environment's proxy, loopback ones never.
//! - `validation_proxy`: `cse-contract proxy` between clients and servers: the suite through it
//!   passes and only its bad requests are findings, faults and bad requests named by their check,
//!   nothing altered on the way (header case and order, streamed and oversized bodies), 502/504,
//!   secrets masked, the connection bound, reports while it runs.
//! - `wire`: the mock over raw sockets: malformed and oversized heads, transfer codings, half-closing
//!   and pipelining clients, connection timeouts; every answer in JSON.
//! - `soak`: the mock's resident memory stays flat over a long run of Retries (`CSE_SOAK_RETRIES`,
//!   `CSE_SOAK_BIN`).
//! - `stateful`: the suite against independent stateful servers (`tests/servers/stateful_cse.py`,
//!   no code shared with the mock): the conformant ones pass, the always-refusing one fails
//!   `state_justified`, reads that are not published fall back to judging without state.

mod aksk;
mod cli;
mod faults;
mod generated;
mod hostile;
mod loaders;
mod masking;
mod mock;
mod profile;
mod proxy;
mod rate;
mod reports;
mod reproduce;
mod settings;
mod shards;
mod soak;
mod stateful;
mod support;
mod tls;
mod validation_proxy;
mod wire;
