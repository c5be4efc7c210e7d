//! cse-contract: a contract-test and conformance suite for the Huawei Cloud CSE API
//! *Retrying an Exclusive ServiceComb Engine Job*
//! (`PUT /v2/{project_id}/enginemgr/engines/{engine_id}/actions`, body `{"action":"Retry"}`),
//! with a reference mock of the API.
//!
//! Data flows one way: [`contract`] and [`case`] are loaded, [`plan`] joins them into concrete
//! requests, [`runner`] sends them through [`client`] and judges each exchange with the pure
//! oracles of [`check`], producing [`outcome`]s that [`report`] writes. [`cli`] wires it all and
//! is the only place errors become exit codes. [`mock`] is the reference server; it uses the
//! contract but never the checks, so that a bug in one cannot hide the same bug in the other.

pub mod case;
pub mod check;
pub mod cli;
pub mod client;
pub mod contract;
pub mod files;
pub mod generate;
pub mod mock;
pub mod outcome;
pub mod plan;
pub mod proxy;
pub mod report;
pub mod runner;
pub mod sign;
pub mod stateful;
