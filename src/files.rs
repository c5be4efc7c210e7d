//! Where the contract and the cases come from: a folder on disk, or the copies embedded in the
//! binary at build time (see `build.rs`). Both yield the same `SourceFile`s, so the loaders do not
//! care which one they read.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest contract or case file read (a schema, a manifest, a case file): 16 MiB.
pub const CONTRACT_FILE_LIMIT: u64 = 16 << 20;
/// The largest small input read (a token file, an engines file, a CA certificate file): 1 MiB.
pub const SMALL_FILE_LIMIT: u64 = 1 << 20;
/// The largest report `replay` reads, and the largest body file it sends: 1 GiB.
pub const REPORT_LIMIT: u64 = 1 << 30;
/// The most `*.json` files read from one folder.
pub const FOLDER_FILE_LIMIT: usize = 10_000;

/// Reads the regular file at `path`, at most `limit` bytes: a FIFO, a device, a folder or a larger
/// file is an error that says which, so no input can hang the tool or grow it without bound.
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a regular file ({})", file_type(&meta))));
    }
    if meta.len() > limit {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// [`read_bounded`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    let mut bytes = read_bounded(path, limit)?;
    // A byte-order mark, as some editors write, is not part of the text (RFC 8259 section 8.1).
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
    })
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("larger than the limit of {limit} bytes"))
}

#[cfg(not(unix))]
fn file_type(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() { "a folder" } else { "not a file" }
}

#[cfg(unix)]
fn file_type(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

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

/// The embedded copy of `schemas/NAME`, as built into the binary.
pub(crate) fn embedded_schema(name: &str) -> Option<&'static str> {
    embedded::SCHEMAS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
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
    if paths.len() > FOLDER_FILE_LIMIT {
        let message = format!("holds {} *.json files, more than the limit of {FOLDER_FILE_LIMIT}", paths.len());
        return Err(err(dir)(io::Error::new(io::ErrorKind::InvalidInput, message)));
    }
    paths
        .into_iter()
        .map(|path| {
            let text = read_text(&path, CONTRACT_FILE_LIMIT).map_err(err(&path))?;
            Ok(SourceFile {
                name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                display: path.display().to_string(),
                text,
            })
        })
        .collect()
}
