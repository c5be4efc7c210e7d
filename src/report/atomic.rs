//! Writing a report file whole or not at all. A report is read while it may be rewritten: the
//! proxy rewrites its reports every `--report-every`, and a dashboard or a CI step polls them.
//! Written in place (create, then write), a reader would see an empty or cut file between the
//! two; so each report is written to a temporary file beside it and renamed over it once
//! complete. A rename within one folder is atomic on POSIX file systems: a reader sees the old
//! file or the new one, never part of either.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `path` (creating its folder) through a buffer with `write`, then puts it in place at
/// once. When `write` or anything after it fails, the file at `path` is left as it was and the
/// temporary file is removed (`NamedTempFile` removes itself when dropped).
///
/// The file is flushed to the kernel but not synced to the disk: readers see the whole file
/// either way, and a sync per report would cost every `--report-every` a disk round trip for a
/// guarantee (the report survives a power loss) the reports do not need.
pub(crate) fn replace_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir
        }
        None => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A dot first: a glob such as `reports/*.json` does not pick the temporary file up.
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // As `File::create` makes a file (the umask applies), not the temporary file's 0600: the
        // report is for whoever reads the folder.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let temp = builder.tempfile_in(dir)?;
    let mut out = BufWriter::with_capacity(1 << 16, temp);
    write(&mut out)?;
    let temp = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    temp.persist(path).map(|_: File| ()).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_report_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("report.json");
        replace_file(&path, |out| out.write_all(b"{\"old\":1}")).unwrap();
        replace_file(&path, |out| out.write_all(b"{\"new\":2}")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"new\":2}");
        assert_eq!(names(&dir.path().join("sub")), ["report.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_ne!(mode & 0o044, 0, "readable by others as File::create makes it (umask 022): {mode:o}");
        }
    }

    /// A write that fails midway (a fragment could not be read back, the disk filled) leaves
    /// the previous report as it was, and no temporary file behind.
    #[test]
    fn a_write_failing_midway_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "{\"old\":1}").unwrap();
        let error = replace_file(&path, |out| {
            // More than the buffer holds, so part of it reached the file before the failure.
            out.write_all(&vec![b' '; 1 << 17])?;
            Err(io::Error::other("the disk is full"))
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "the disk is full");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"old\":1}");
        assert_eq!(names(dir.path()), ["report.json"]);
    }

    #[test]
    fn a_path_that_cannot_be_written_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: the rename fails.
        let path = dir.path().join("report.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), "x").unwrap();
        assert!(replace_file(&path, |out| out.write_all(b"{}")).is_err());
        assert!(path.is_dir());
        assert_eq!(names(dir.path()), ["report.json"]);
    }
}
