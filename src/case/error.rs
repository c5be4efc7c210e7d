//! Why a case file could not be loaded. Every variant names the file and the JSON pointer (or
//! line:column) inside it.

use crate::files::ReadError;

/// A case file is unusable: the run stops before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The file or the folder could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The file is not JSON.
    #[error("{path}:{line}:{column}: not valid JSON: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The file breaks `case.schema.json`.
    #[error("{path}: at `{pointer}`: {message}")]
    Schema {
        /// The file.
        path: String,
        /// Where in the file.
        pointer: String,
        /// The schema's message.
        message: String,
    },
    /// Two cases of one file share a name.
    #[error("{path}: at `{pointer}`: duplicate case name `{name}` (first at `{first}`)")]
    DuplicateName {
        /// The file.
        path: String,
        /// The second case.
        pointer: String,
        /// The name.
        name: String,
        /// The first case.
        first: String,
    },
    /// A string uses a variable that does not exist, or malformed `${...}` syntax.
    #[error("{path}: at `{pointer}`: {message}")]
    Variable {
        /// The file.
        path: String,
        /// The string's pointer.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// `expect.schema` names a schema the contract does not have.
    #[error("{path}: at `{pointer}`: unknown schema `{name}` (the contract has: {known})")]
    UnknownSchema {
        /// The file.
        path: String,
        /// The pointer of `expect/schema`.
        pointer: String,
        /// The name given.
        name: String,
        /// The schema names the contract has.
        known: String,
    },
    /// The file names an operation the contract does not have.
    #[error("{path}: at `/operation`: unknown operation `{name}` (known: {known})")]
    UnknownOperation {
        /// The file.
        path: String,
        /// The name given.
        name: String,
        /// The operation names the contract has.
        known: String,
    },
    /// A base64 body does not decode.
    #[error("{path}: at `{pointer}`: invalid base64: {message}")]
    Base64 {
        /// The file.
        path: String,
        /// The pointer of the base64 string.
        pointer: String,
        /// The decoder's message.
        message: String,
    },
    /// A header of a case could never be sent: its name is not an HTTP token, or its value holds
    /// a control character.
    #[error("{path}: at `{pointer}`: {message}")]
    Header {
        /// The file.
        path: String,
        /// The header's pointer.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// More problems were found in a file than are shown.
    #[error("{path}: {count} more problems not shown")]
    More {
        /// The file.
        path: String,
        /// How many.
        count: usize,
    },
    /// The folder holds no case file.
    #[error("no case file (*.json) in `{0}`")]
    Empty(String),
}
