//! Where the report fragments of finished cases wait for the end of the run: an unnamed
//! temporary file, appended to in the order cases finish, and a small index (16 bytes a case)
//! that finds each case's fragments again. The reports are then assembled in plan order by
//! reading fragments back, so a run's memory does not grow with its passing cases.

use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Where one case's fragments are.
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: u64,
    json: u32,
    xml: u32,
}

impl Entry {
    const NONE: Entry = Entry { offset: u64::MAX, json: 0, xml: 0 };
}

/// The JSON line and the `<testcase>` element of each case written so far.
#[derive(Debug)]
pub struct Spool {
    file: BufWriter<File>,
    end: u64,
    index: Vec<Entry>,
}

impl Spool {
    /// A new, empty spool in the system's temporary directory; the file is gone when the spool is.
    pub fn new() -> io::Result<Spool> {
        Ok(Spool { file: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?), end: 0, index: Vec::new() })
    }

    /// Stores the fragments of case `seq`.
    pub fn put(&mut self, seq: usize, json: &[u8], xml: &[u8]) -> io::Result<()> {
        let too_long = || io::Error::other("a report fragment over 4 GiB");
        let entry = Entry {
            offset: self.end,
            json: u32::try_from(json.len()).map_err(|_| too_long())?,
            xml: u32::try_from(xml.len()).map_err(|_| too_long())?,
        };
        self.file.write_all(json)?;
        self.file.write_all(xml)?;
        self.end += json.len() as u64 + xml.len() as u64;
        if self.index.len() <= seq {
            self.index.resize(seq + 1, Entry::NONE);
        }
        self.index[seq] = entry;
        Ok(())
    }

    /// Whether case `seq` has fragments here.
    pub fn has(&self, seq: usize) -> bool {
        self.index.get(seq).is_some_and(|e| e.offset != u64::MAX)
    }

    /// Makes everything written readable; call once, before [`Spool::json`] and [`Spool::xml`].
    pub fn finish(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// The JSON line of case `seq`, if it was stored.
    pub fn json(&self, seq: usize) -> io::Result<Option<Vec<u8>>> {
        self.read(seq, |e| (e.offset, e.json))
    }

    /// The `<testcase>` element of case `seq`, if it was stored.
    pub fn xml(&self, seq: usize) -> io::Result<Option<Vec<u8>>> {
        self.read(seq, |e| (e.offset + u64::from(e.json), e.xml))
    }

    fn read(&self, seq: usize, at: impl Fn(&Entry) -> (u64, u32)) -> io::Result<Option<Vec<u8>>> {
        if !self.has(seq) {
            return Ok(None);
        }
        let (offset, len) = at(&self.index[seq]);
        let mut buf = vec![0; len as usize];
        read_at(self.file.get_ref(), &mut buf, offset)?;
        Ok(Some(buf))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fragments_come_back_by_position_whatever_order_they_went_in() {
        let mut spool = super::Spool::new().unwrap();
        spool.put(2, b"{\"c\":2}", b"<c/>").unwrap();
        spool.put(0, b"{\"a\":0}", b"<a/>").unwrap();
        spool.put(5, b"", b"<f/>").unwrap();
        spool.finish().unwrap();
        assert_eq!(spool.json(0).unwrap().unwrap(), b"{\"a\":0}");
        assert_eq!(spool.xml(2).unwrap().unwrap(), b"<c/>");
        assert_eq!(spool.json(5).unwrap().unwrap(), b"");
        assert_eq!(spool.xml(5).unwrap().unwrap(), b"<f/>");
        assert!(spool.json(1).unwrap().is_none() && spool.xml(9).unwrap().is_none());
        assert!(spool.has(2) && !spool.has(3));
    }
}
