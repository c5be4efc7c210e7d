//! Why a contract could not be loaded. Each variant names the file, and the JSON pointer or
//! line:column inside it.

use crate::files::ReadError;

/// The contract could not be loaded: the run stops before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// A file or the folder could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A file is not JSON.
    #[error("`{path}` is not valid JSON at line {line}, column {column}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        #[source]
        source: serde_json::Error,
    },
    /// A schema does not compile (or does not satisfy its meta-schema).
    #[error("schema `{path}` does not compile at `{pointer}`: {message}")]
    Compile {
        /// The file.
        path: String,
        /// Where in the schema.
        pointer: String,
        /// The compiler's message.
        message: String,
    },
    /// The manifest is malformed.
    #[error("`{path}` is invalid at line {line}, column {column}: {message}")]
    Manifest {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Manifests break `manifest.schema.json` or the rules a schema cannot express: every problem
    /// of every manifest, each with its file and pointer.
    #[error("{} problem(s) in the operation manifests:{}", problems.len(), listed(problems))]
    Manifests {
        /// (file, pointer, what is wrong).
        problems: Vec<(String, String, String)>,
    },
    /// The manifest names a schema file the contract does not have.
    #[error("manifest `{path}` names schema `{name}` at `{pointer}`, which is not in the contract")]
    UnknownSchema {
        /// The manifest file.
        path: String,
        /// Where in the manifest.
        pointer: String,
        /// The missing schema's file name.
        name: String,
    },
    /// A manifest or the state model is well-formed but does not fit the rest of the contract.
    #[error("`{path}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A required file is missing.
    #[error("the contract in `{source_dir}` has no `{name}`")]
    Missing {
        /// The folder.
        source_dir: String,
        /// The missing file name.
        name: &'static str,
    },
}

fn listed(problems: &[(String, String, String)]) -> String {
    use std::fmt::Write as _;
    problems.iter().fold(String::new(), |mut out, (path, pointer, message)| {
        let _ = write!(out, "\n  {path}: at `{pointer}`: {message}");
        out
    })
}
