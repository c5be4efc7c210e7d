//! Where the report fragments of finished cases wait for the end of the run: an unnamed
//! temporary file, appended to in the order cases finish, and a small index (an offset, and a
//! length per report format: 20 bytes a case for three formats) that finds each case's
//! fragments again. The reports are then assembled in plan order by reading fragments back, so
//! a run's memory does not grow with its cases.

use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Where one case's fragments are: their start, then the length of each part.
const NONE: u64 = u64::MAX;

/// The fragments of each case written so far, one part per report format.
#[derive(Debug)]
pub struct Spool {
    file: BufWriter<File>,
    end: u64,
    parts: usize,
    offsets: Vec<u64>,
    /// `parts` lengths per case, case by case.
    lengths: Vec<u32>,
}

impl Spool {
    /// A new, empty spool of `parts` fragments a case, in the system's temporary directory; the
    /// file is gone when the spool is.
    pub fn new(parts: usize) -> io::Result<Spool> {
        Ok(Spool {
            file: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            end: 0,
            parts,
            offsets: Vec::new(),
            lengths: Vec::new(),
        })
    }

    /// Stores the fragments of case `seq`, one per part.
    pub fn put(&mut self, seq: usize, fragments: &[Vec<u8>]) -> io::Result<()> {
        if fragments.len() != self.parts {
            return Err(io::Error::other(format!("{} report fragments for {} formats", fragments.len(), self.parts)));
        }
        let offset = self.end;
        let mut lengths = Vec::with_capacity(self.parts);
        for fragment in fragments {
            lengths.push(u32::try_from(fragment.len()).map_err(|_| io::Error::other("a report fragment over 4 GiB"))?);
            self.file.write_all(fragment)?;
            self.end += fragment.len() as u64;
        }
        if self.offsets.len() <= seq {
            self.offsets.resize(seq + 1, NONE);
            self.lengths.resize((seq + 1) * self.parts, 0);
        }
        self.offsets[seq] = offset;
        self.lengths[seq * self.parts..(seq + 1) * self.parts].copy_from_slice(&lengths);
        Ok(())
    }

    /// Whether case `seq` has fragments here.
    pub fn has(&self, seq: usize) -> bool {
        self.offsets.get(seq).is_some_and(|&o| o != NONE)
    }

    /// Makes everything written readable; call once, before [`Spool::get`].
    pub fn finish(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// Part `part` of case `seq`'s fragments, if they were stored.
    pub fn get(&self, seq: usize, part: usize) -> io::Result<Option<Vec<u8>>> {
        if !self.has(seq) || part >= self.parts {
            return Ok(None);
        }
        let lengths = &self.lengths[seq * self.parts..(seq + 1) * self.parts];
        let offset = self.offsets[seq] + lengths[..part].iter().map(|&l| u64::from(l)).sum::<u64>();
        let mut buf = vec![0; lengths[part] as usize];
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
        let mut spool = super::Spool::new(2).unwrap();
        spool.put(2, &[b"{\"c\":2}".to_vec(), b"<c/>".to_vec()]).unwrap();
        spool.put(0, &[b"{\"a\":0}".to_vec(), b"<a/>".to_vec()]).unwrap();
        spool.put(5, &[Vec::new(), b"<f/>".to_vec()]).unwrap();
        assert!(spool.put(6, &[Vec::new()]).is_err());
        spool.finish().unwrap();
        assert_eq!(spool.get(0, 0).unwrap().unwrap(), b"{\"a\":0}");
        assert_eq!(spool.get(2, 1).unwrap().unwrap(), b"<c/>");
        assert_eq!(spool.get(5, 0).unwrap().unwrap(), b"");
        assert_eq!(spool.get(5, 1).unwrap().unwrap(), b"<f/>");
        assert!(
            spool.get(1, 0).unwrap().is_none()
                && spool.get(9, 1).unwrap().is_none()
                && spool.get(0, 2).unwrap().is_none()
        );
        assert!(spool.has(2) && !spool.has(3));
    }
}
