//! Tiny archives the SBOM's unit tests write (the end-to-end tests in
//! tests/sbom.rs, a crate of their own, have theirs).

use std::io::Write as _;
use std::path::Path;

/// A gzipped tarball of `files` at `path`; a name ending in `/` is a
/// directory.
pub(crate) fn tar_gz(path: &Path, files: &[(&str, &str)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    let mut t = tar::Builder::new(gz);
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
}

/// A zip (a wheel) of `files` at `path`, in the order given.
pub(crate) fn zip(path: &Path, files: &[(&str, &str)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data.as_bytes()).unwrap();
    }
    z.finish().unwrap();
}
