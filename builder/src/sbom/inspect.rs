//! One artifact read for the SBOM: its digest, its package identity and
//! the files inside it with theirs, hashed in parallel. Only the artifact
//! file itself being unreadable is an error; anything wrong inside it
//! (not an archive, a corrupt member, malformed metadata) becomes a note
//! the SBOM carries and a warning, so a release is never left without its
//! bill of materials over one odd file.

use std::path::Path;

use diffoscope_lite::formats::Kind;
use diffoscope_lite::listing::Listing;
use diffoscope_lite::model::{Entry, EntryKind};
use rayon::prelude::*;

use super::package::{self, Ecosystem, Package};
use super::Error;

/// A file inside an artifact.
#[derive(Debug)]
pub(crate) struct Member {
    /// Its path in the archive.
    pub path: String,
    /// Lowercase hex SHA-256; None when it could not be read (see notes).
    pub sha256: Option<String>,
}

/// An artifact as the SBOM lists it.
#[derive(Debug)]
pub(crate) struct Inspected {
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// The archive format read, None when it is no archive repro reads.
    pub format: Option<Kind>,
    /// What its metadata says it is.
    pub package: Option<Package>,
    /// Its regular files, in archive order.
    pub members: Vec<Member>,
    /// What the SBOM should say about it (and the user is warned of).
    pub notes: Vec<String>,
}

/// Reads `file` (called `name` in notes) for the SBOM.
pub(crate) fn inspect(
    file: &Path,
    name: &str,
    opts: &diffoscope_lite::Options,
) -> Result<Inspected, Error> {
    // The whole file's digest and the archive's listing read it
    // independently; on two cores doing both at once halves the wait.
    let (digest, listed) = rayon::join(
        || diffoscope_lite::sha256_file(file),
        || read_members(file, name, opts),
    );
    let digest = digest.map_err(|source| Error::Read {
        path: file.to_owned(),
        source,
    })?;
    let (format, package, members, notes) = listed;
    Ok(Inspected {
        sha256: digest.hex(),
        size: digest.size,
        format,
        package,
        members,
        notes,
    })
}

type Listed = (Option<Kind>, Option<Package>, Vec<Member>, Vec<String>);

fn read_members(file: &Path, name: &str, opts: &diffoscope_lite::Options) -> Listed {
    let mut notes = Vec::new();
    let listing = match Listing::open(file, opts) {
        Ok(l) => l,
        Err(diffoscope_lite::Error::Malformed { detail, .. }) if detail == "not an archive" => {
            notes.push(format!(
                "{name}: not an archive format repro reads; listed by name, size and digest only"
            ));
            return (None, None, Vec::new(), notes);
        }
        Err(e) => {
            notes.push(format!(
                "{name}: its contents could not be listed ({e}); listed by name, size and digest only"
            ));
            return (None, None, Vec::new(), notes);
        }
    };
    let format = listing.format();
    let eco = package::ecosystem(name, format);
    let (package, members) = match eco {
        Some(Ecosystem::Deb) => deb(&listing, name, &mut notes),
        Some(eco) => {
            let package = package::read(eco, name, &listing, &mut notes);
            (package, hash_members(&listing, name, &mut notes))
        }
        None => (None, hash_members(&listing, name, &mut notes)),
    };
    (Some(format), package, members, notes)
}

/// A `.deb` ships what its data tarball holds; its identity is in the
/// control tarball. Either one unreadable leaves what the other gives.
fn deb(listing: &Listing, name: &str, notes: &mut Vec<String>) -> (Option<Package>, Vec<Member>) {
    let inner = |prefix: &str, notes: &mut Vec<String>| -> Option<Listing> {
        let member = listing.find(|p| p.starts_with(prefix))?;
        match listing.open_member(member) {
            Ok(l) => Some(l),
            Err(e) => {
                notes.push(format!("{name}: {}: unreadable ({e})", member.path));
                None
            }
        }
    };
    let package = match inner("control.tar", notes) {
        Some(control) => package::read(Ecosystem::Deb, name, &control, notes),
        None => {
            notes.push(format!(
                "{name}: no readable control.tar member; no name or version"
            ));
            None
        }
    };
    let members = match inner("data.tar", notes) {
        Some(data) => hash_members(&data, name, notes),
        None => hash_members(listing, name, notes),
    };
    (package, members)
}

/// Every regular file's digest, computed in parallel (the reader's own
/// when it computed one while streaming).
fn hash_members(listing: &Listing, name: &str, notes: &mut Vec<String>) -> Vec<Member> {
    let files: Vec<&Entry> = listing
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .collect();
    let hashed: Vec<(Member, Option<String>)> = files
        .par_iter()
        .map(|e| {
            let digest = match &e.digest {
                Some(d) => Ok(d.hex()),
                None => listing.digest(e).map(|d| d.hex()),
            };
            let (sha256, note) = match digest {
                Ok(h) => (Some(h), None),
                Err(err) => (
                    None,
                    Some(format!("{name}: member {} unreadable ({err})", e.path)),
                ),
            };
            let path = e.path.clone();
            (Member { path, sha256 }, note)
        })
        .collect();
    for c in listing.comments() {
        notes.push(format!("{name}: {c}"));
    }
    hashed
        .into_iter()
        .map(|(m, note)| {
            notes.extend(note);
            m
        })
        .collect()
}
