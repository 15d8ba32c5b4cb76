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

/// How deep archives inside archives are listed: a jar in a tarball in a
/// `.deb` is three levels, deeper nesting is listed by digest only.
const MAX_NESTING: usize = 3;

/// A file inside an artifact.
#[derive(Debug)]
pub(crate) struct Member {
    /// Its path in the archive.
    pub path: String,
    /// Lowercase hex SHA-256; None when it could not be read (see notes)
    /// and for links.
    pub sha256: Option<String>,
    /// Where a symbolic or hard link points, as stored.
    pub link: Option<Link>,
    /// The files of an archive this member is (a jar in a tarball).
    pub nested: Vec<Member>,
}

/// A link member's target.
#[derive(Debug)]
pub(crate) enum Link {
    /// A symbolic link to this path.
    Symbolic(String),
    /// A hard link to this member of the same archive.
    Hard(String),
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
            (package, hash_members(&listing, name, &mut notes, 1))
        }
        None => (None, hash_members(&listing, name, &mut notes, 1)),
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
        Some(data) => hash_members(&data, name, notes, 1),
        None => hash_members(listing, name, notes, 1),
    };
    (package, members)
}

/// Every regular file's digest, computed in parallel (the reader's own
/// when it computed one while streaming), links with their targets, and
/// the files of archives inside, `depth` levels down.
fn hash_members(
    listing: &Listing,
    name: &str,
    notes: &mut Vec<String>,
    depth: usize,
) -> Vec<Member> {
    let files: Vec<&Entry> = listing
        .entries()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EntryKind::File | EntryKind::Symlink { .. } | EntryKind::Hardlink { .. }
            )
        })
        .collect();
    // Largest first: a wheel keeps its biggest library last (numpy's
    // 22 MB OpenBLAS is its last member), and a thread that takes it last
    // leaves the other idle for its whole inflate. Started first, it
    // overlaps with everything else. The sizes are only a schedule (a
    // false one costs time, not correctness); the output keeps archive
    // order.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files[i].meta.size.unwrap_or(0)));
    let mut hashed: Vec<(usize, Member, Vec<String>)> = order
        .par_iter()
        .with_max_len(1)
        .map(|&i| {
            let (member, notes) = member(listing, files[i], name, depth);
            (i, member, notes)
        })
        .collect();
    hashed.sort_unstable_by_key(|(i, ..)| *i);
    for c in listing.comments() {
        notes.push(format!("{name}: {c}"));
    }
    hashed
        .into_iter()
        .map(|(_, m, note)| {
            notes.extend(note);
            m
        })
        .collect()
}

/// One member: its digest, or its link target; if it is an archive, its
/// own files (within [`MAX_NESTING`]). The notes say what could not be read.
fn member(listing: &Listing, e: &Entry, name: &str, depth: usize) -> (Member, Vec<String>) {
    let mut notes = Vec::new();
    let mut m = Member {
        path: e.path.clone(),
        sha256: None,
        link: None,
        nested: Vec::new(),
    };
    match &e.kind {
        EntryKind::Symlink { target } => m.link = Some(Link::Symbolic(target.clone())),
        EntryKind::Hardlink { target } => m.link = Some(Link::Hard(target.clone())),
        _ => {}
    }
    if m.link.is_some() {
        return (m, notes);
    }
    let found = match &e.digest {
        Some(d) => listing.kind(e).map(|k| (*d, k)),
        None => listing.digest_and_kind(e),
    };
    let kind = match found {
        Ok((d, kind)) => {
            m.sha256 = Some(d.hex());
            kind
        }
        Err(err) => {
            notes.push(format!("{name}: member {} unreadable ({err})", e.path));
            return (m, notes);
        }
    };
    // Archives, and compressed streams that may hold one (a plain
    // `changelog.gz` is not one and is left alone).
    let archive = matches!(kind, Kind::Zip | Kind::Tar | Kind::Ar) || kind.is_compressor();
    if archive && depth < MAX_NESTING {
        match listing.open_member(e) {
            Ok(inner) => {
                let label = format!("{name}/{}", e.path);
                m.nested = hash_members(&inner, &label, &mut notes, depth + 1);
            }
            Err(diffoscope_lite::Error::Malformed { detail, .. }) if detail == "not an archive" => {
            }
            Err(err) => notes.push(format!(
                "{name}: member {} looks like an archive but could not be listed ({err}); \
                 listed by digest only",
                e.path
            )),
        }
    }
    (m, notes)
}
