//! Where the contract and the cases come from: a folder on disk, or the copies embedded in the
//! binary at build time (see `build.rs`). Both yield the same `SourceFile`s, so the loaders do not
//! care which one they read.

use std::fmt;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Where a set of JSON files is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// The copies of `schemas/` or `cases/` built into the binary.
    Embedded,
    /// A folder on disk: every `*.json` file directly inside it.
    Dir(PathBuf),
}

impl fmt::Display for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileSource::Embedded => f.write_str("(embedded)"),
            FileSource::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// One JSON file: its file name, the path shown in messages, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// File name, e.g. `action.json`.
    pub name: String,
    /// Path as messages show it, e.g. `cases/action.json`.
    pub display: String,
    /// The file's text.
    pub text: String,
}

/// A file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("failed to read `{path}`")]
pub struct ReadError {
    /// The file or folder.
    pub path: String,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Which embedded folder to use for `FileSource::Embedded`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Schemas,
    Cases,
}

impl FileSource {
    /// Reads every `*.json` file of this source, sorted by name.
    pub(crate) fn read(&self, kind: Kind) -> Result<Vec<SourceFile>, ReadError> {
        match self {
            FileSource::Embedded => {
                let (folder, files) = match kind {
                    Kind::Schemas => ("schemas", embedded::SCHEMAS),
                    Kind::Cases => ("cases", embedded::CASES),
                };
                Ok(files
                    .iter()
                    .map(|(name, text)| SourceFile {
                        name: (*name).to_owned(),
                        display: format!("{folder}/{name}"),
                        text: (*text).to_owned(),
                    })
                    .collect())
            }
            FileSource::Dir(dir) => read_dir(dir),
        }
    }
}

fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, ReadError> {
    let err = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReadError { path, source }
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err(dir))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(err(&path))?;
            Ok(SourceFile {
                name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                display: path.display().to_string(),
                text,
            })
        })
        .collect()
}
