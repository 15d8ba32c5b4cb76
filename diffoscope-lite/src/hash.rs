//! SHA-256 of files, streamed and in parallel.
//!
//! Files are read through a fixed 256 KiB buffer (large enough that the
//! read syscalls cost nothing next to the hashing, small enough to keep
//! memory bounded), and independent files are hashed on rayon's pool so a
//! multi-core machine hashes at its summed SHA-256 speed.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

const BUF_SIZE: usize = 256 * 1024;

/// A SHA-256 digest together with the number of bytes it covers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    /// The raw 32-byte SHA-256 value.
    pub sha256: [u8; 32],
    /// How many bytes were hashed.
    pub size: u64,
}

impl Digest {
    /// Lowercase hex of the SHA-256 value, as `sha256sum` prints it.
    pub fn hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{} ({} bytes)", self.hex(), self.size)
    }
}

/// Hashes everything `reader` yields; `path` only names the source in errors.
pub fn sha256_reader(mut reader: impl Read, path: &Path) -> Result<Digest> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Digest {
        sha256: hasher.finalize().into(),
        size,
    })
}

/// SHA-256 of one file, streamed.
pub fn sha256_file(path: &Path) -> Result<Digest> {
    let file = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    sha256_reader(file, path)
}

/// SHA-256 of many files in parallel; results come back in input order.
pub fn sha256_files(paths: &[PathBuf]) -> Vec<Result<Digest>> {
    paths.par_iter().map(|p| sha256_file(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn known_vectors() {
        let empty = sha256_reader(&b""[..], Path::new("-")).unwrap();
        assert_eq!(
            empty.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(empty.size, 0);
        let abc = sha256_reader(&b"abc"[..], Path::new("-")).unwrap();
        assert_eq!(
            abc.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn files_larger_than_the_buffer_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (i, len) in [0usize, 1, BUF_SIZE - 1, BUF_SIZE, 3 * BUF_SIZE + 7]
            .into_iter()
            .enumerate()
        {
            let p = dir.path().join(format!("f{i}"));
            let data: Vec<u8> = (0..len).map(|j| (j % 251) as u8).collect();
            File::create(&p).unwrap().write_all(&data).unwrap();
            paths.push((p, data));
        }
        let just_paths: Vec<PathBuf> = paths.iter().map(|(p, _)| p.clone()).collect();
        let got = sha256_files(&just_paths);
        for ((_, data), d) in paths.iter().zip(got) {
            let d = d.unwrap();
            let want: [u8; 32] = Sha256::digest(data).into();
            assert_eq!(d.sha256, want);
            assert_eq!(d.size, data.len() as u64);
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = sha256_file(Path::new("/nonexistent/repro-test")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/repro-test"), "{err}");
    }
}

/// CRC-32 (the gzip/zip polynomial) and the byte count mod 2^32, as the
/// gzip trailer and the zip directory declare them.
///
/// crc32fast folds with the carry-less multiply instructions where the CPU
/// has them; flate2's `Crc` on the zlib-rs backend takes the table path,
/// which was an eighth of an SBOM's CPU time.
#[derive(Clone, Default)]
pub(crate) struct Crc32 {
    hasher: crc32fast::Hasher,
    amount: u32,
}

impl Crc32 {
    /// An empty checksum.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Counts `data` in.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.amount = self.amount.wrapping_add(data.len() as u32);
    }

    /// The CRC-32 of everything counted so far.
    pub(crate) fn sum(&self) -> u32 {
        self.hasher.clone().finalize()
    }

    /// How many bytes were counted, mod 2^32.
    pub(crate) fn amount(&self) -> u32 {
        self.amount
    }
}
