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
        Err(e @ diffoscope_lite::Error::LimitExceeded { flag, .. }) if flag == ENTRY_LIMIT_FLAG => {
            return identity_only(file, name, opts, &e);
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
    let package = eco.and_then(|eco| identity(eco, &listing, name, &mut notes));
    let members = match eco {
        Some(Ecosystem::Deb) => deb_members(&listing, name, &mut notes),
        _ => hash_members(&listing, name, &mut notes, 1),
    };
    (Some(format), package, members, notes)
}

/// The flag of the limit on how many entries a listing reads.
const ENTRY_LIMIT_FLAG: &str = "--max-entries";

/// An archive with more entries than `--max-entries`: its files are not
/// listed, but its identity is still read. The reader refuses such an
/// archive whole (a zip by the count its central directory declares,
/// before reading one record; a tar on the entry past the limit) and
/// keeps none of what it read, so a wheel whose METADATA is its last
/// member, as wheel builders write it, would otherwise lose its name and
/// version — which `--max-decompressed` leaves alone, since it trips
/// only on the members hashed after the identity is read. So the archive
/// is opened again with the entry limit at its default, for the one
/// metadata member; every other limit holds as given, and the entries
/// are only counted and kept in memory, never hashed. An entry limit at
/// or above the default has nothing to raise: the note says what the
/// first error said, as before.
fn identity_only(
    file: &Path,
    name: &str,
    opts: &diffoscope_lite::Options,
    cut: &diffoscope_lite::Error,
) -> Listed {
    let mut notes = Vec::new();
    let mut raised = opts.clone();
    raised.limits.max_entries = diffoscope_lite::Limits::default().max_entries;
    let reopened = if raised.limits.max_entries > opts.limits.max_entries {
        Listing::open(file, &raised).ok()
    } else {
        None
    };
    let found = reopened.and_then(|listing| {
        let eco = package::ecosystem(name, listing.format())?;
        let package = identity(eco, &listing, name, &mut notes)?;
        Some((listing.format(), package))
    });
    let (format, package, cut) = match found {
        Some((format, package)) => (
            Some(format),
            Some(package),
            format!("{name}: its files are not listed ({cut}); only its identity was read"),
        ),
        None => (
            None,
            None,
            format!(
                "{name}: its contents could not be listed ({cut}); \
                 listed by name, size and digest only"
            ),
        ),
    };
    notes.insert(0, cut);
    (format, package, Vec::new(), notes)
}

/// What the artifact's metadata says it is; for a `.deb`, read from its
/// control tarball.
fn identity(
    eco: Ecosystem,
    listing: &Listing,
    name: &str,
    notes: &mut Vec<String>,
) -> Option<Package> {
    if eco != Ecosystem::Deb {
        return package::read(eco, name, listing, notes);
    }
    match deb_member(listing, "control.tar", name, notes) {
        Some(control) => package::read(Ecosystem::Deb, name, &control, notes),
        None => {
            notes.push(format!(
                "{name}: no readable control.tar member; no name or version"
            ));
            None
        }
    }
}

/// A `.deb` ships what its data tarball holds (its identity is in the
/// control tarball): its files, or the `.deb`'s own members when that is
/// unreadable.
fn deb_members(listing: &Listing, name: &str, notes: &mut Vec<String>) -> Vec<Member> {
    match deb_member(listing, "data.tar", name, notes) {
        Some(data) => hash_members(&data, name, notes, 1),
        None => hash_members(listing, name, notes, 1),
    }
}

/// The `.deb` member tarball whose name starts with `prefix`, opened;
/// None when there is none, or with a note when it is unreadable.
fn deb_member(
    listing: &Listing,
    prefix: &str,
    name: &str,
    notes: &mut Vec<String>,
) -> Option<Listing> {
    let member = listing.find(|p| p.starts_with(prefix))?;
    match listing.open_member(member) {
        Ok(l) => Some(l),
        Err(e) => {
            notes.push(format!("{name}: {}: unreadable ({e})", member.path));
            None
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::fixtures;

    fn with_max_entries(max_entries: u64) -> diffoscope_lite::Options {
        let mut opts = diffoscope_lite::Options::default();
        opts.limits.max_entries = max_entries;
        opts
    }

    #[test]
    fn the_entry_limit_cuts_the_files_but_not_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        // A wheel, METADATA last as wheel builders write it, and an sdist,
        // whose tar is read entry by entry up to its PKG-INFO.
        let whl = dir.path().join("demo-1.0-py3-none-any.whl");
        fixtures::zip(
            &whl,
            &[
                ("demo/a.py", "a = 1\n"),
                ("demo/b.py", "b = 2\n"),
                ("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n"),
                (
                    "demo-1.0.dist-info/METADATA",
                    "Name: demo\nVersion: 1.0\nRequires-Dist: idna\n",
                ),
            ],
        );
        let sdist = dir.path().join("demo-1.0.tar.gz");
        fixtures::tar_gz(
            &sdist,
            &[
                ("demo-1.0/a.py", "a = 1\n"),
                ("demo-1.0/b.py", "b = 2\n"),
                ("demo-1.0/PKG-INFO", "Name: demo\nVersion: 1.0\n"),
            ],
        );

        for file in [&whl, &sdist] {
            let name = file.file_name().unwrap().to_str().unwrap();
            let whole = inspect(file, name, &with_max_entries(100)).unwrap();
            let cut = inspect(file, name, &with_max_entries(2)).unwrap();
            assert!(whole.package.is_some(), "{name}: {:?}", whole.notes);
            // The same identity, dependencies included, and no files.
            assert_eq!(cut.package, whole.package, "{name}: {:?}", cut.notes);
            assert_eq!(cut.format, whole.format, "{name}");
            assert!(cut.members.is_empty(), "{name}");
            // The note says the listing was cut, by which limit.
            assert_eq!(cut.notes.len(), 1, "{name}: {:?}", cut.notes);
            assert!(
                cut.notes[0].starts_with(&format!("{name}: its files are not listed"))
                    && cut.notes[0].contains("entry count limit exceeded")
                    && cut.notes[0].contains("--max-entries"),
                "{:?}",
                cut.notes
            );
        }
    }
}
