//! diffoscope-lite: the artifact side of repro.
//!
//! This crate owns everything repro knows about *artifacts*: the files a build
//! produces. Today it hashes them ([`hash`]): SHA-256 of whole files, computed
//! in parallel across files with rayon and streamed through a fixed-size
//! buffer so memory stays bounded whatever the artifact size.
//!
//! Later it grows the artifact model, the format readers, the normalizers and
//! the recursive differ (see the project's issues); the rule that already
//! holds is that this crate never prints, never exits, and reports every
//! failure as a typed [`Error`] that names the file.

mod error;
pub mod hash;

pub use error::{Error, Result};
pub use hash::{sha256_file, sha256_files, Digest};
