//! What a server can stream (docs/stream.md §6): files of a content
//! directory, and `gen:<size>`, a generated source whose every octet is a
//! pure function of its offset, so that any server produces the same
//! stream and a test can check what arrived without storing it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

/// A content id resolved to something that can be read at any offset.
#[derive(Debug)]
pub enum Content {
    File { file: File, len: u64 },
    Generated { len: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("no such content")]
    NotFound,
    #[error("bad content id {0:?}: {1}")]
    BadId(String, &'static str),
}

/// Parses a size with an optional k/M/G suffix (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// The octet at `offset` of every generated content.
pub fn generated_byte(offset: u64) -> u8 {
    let mut z = (offset / 8).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z.to_le_bytes()[(offset % 8) as usize]
}

pub fn fill_generated(buf: &mut [u8], offset: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = generated_byte(offset + i as u64);
    }
}

impl Content {
    /// Resolves `id` against `dir` (files) or as `gen:<size>`.
    pub fn open(dir: Option<&Path>, id: &str) -> Result<Content, ContentError> {
        if let Some(size) = id.strip_prefix("gen:") {
            let len = parse_size(size)
                .ok_or_else(|| ContentError::BadId(id.into(), "gen:<size> wants a size like 8M"))?;
            return Ok(Content::Generated { len });
        }
        let dir = dir.ok_or(ContentError::NotFound)?;
        let path = file_path(dir, id)?;
        let file = File::open(&path).map_err(|_| ContentError::NotFound)?;
        let meta = file.metadata().map_err(|_| ContentError::NotFound)?;
        if !meta.is_file() {
            return Err(ContentError::NotFound);
        }
        Ok(Content::File {
            len: meta.len(),
            file,
        })
    }

    pub fn len(&self) -> u64 {
        match self {
            Content::File { len, .. } | Content::Generated { len } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the block at `offset` into `buf` (which is cut to what is
    /// there); an I/O error reads as an empty block.
    pub fn read_at(&self, offset: u64, buf: &mut Vec<u8>, size: usize) {
        let n = self.len().saturating_sub(offset).min(size as u64) as usize;
        buf.resize(n, 0);
        match self {
            Content::Generated { .. } => fill_generated(buf, offset),
            Content::File { file, .. } => {
                if file.read_exact_at(buf, offset).is_err() {
                    buf.clear();
                }
            }
        }
    }
}

/// `dir/id`, refusing anything that would leave `dir`.
fn file_path(dir: &Path, id: &str) -> Result<PathBuf, ContentError> {
    let rel = Path::new(id);
    for c in rel.components() {
        match c {
            Component::Normal(_) => {}
            Component::ParentDir => {
                return Err(ContentError::BadId(id.into(), "'..' is not allowed"))
            }
            _ => return Err(ContentError::BadId(id.into(), "must be a relative path")),
        }
    }
    Ok(dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ids() {
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("3k"), Some(3072));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
        assert_eq!(Content::open(None, "gen:1k").unwrap().len(), 1024);
        assert!(matches!(
            Content::open(Some(Path::new("/tmp")), "../etc/passwd"),
            Err(ContentError::BadId(..))
        ));
        assert!(matches!(
            Content::open(Some(Path::new("/tmp")), "/etc/passwd"),
            Err(ContentError::BadId(..))
        ));
        assert!(matches!(
            Content::open(None, "file"),
            Err(ContentError::NotFound)
        ));
    }

    #[test]
    fn generated_blocks_are_a_function_of_the_offset() {
        let c = Content::open(None, "gen:2500").unwrap();
        let mut a = Vec::new();
        c.read_at(1200, &mut a, 1200);
        assert_eq!(a.len(), 1200);
        assert_eq!(a[0], generated_byte(1200));
        c.read_at(2400, &mut a, 1200);
        assert_eq!(a.len(), 100);
    }
}
