//! An archive's members for callers outside this crate: what a rebuilder
//! reads from an upstream wheel (its `WHEEL` file, member times) or sdist
//! (its `pyproject.toml`) — through the same readers, limits and checks as
//! the differ and the normalizer, never a parser of its own.

use std::io::Read as _;
use std::path::Path;

use crate::formats::{self, Kind, Parsed};
use crate::limits::Budget;
use crate::model::{Content, Cx, Entry, EntryKind, MetaField, MetaValue};
use crate::{Error, Options, Result};

/// The members of one archive, opened with [`Listing::open`].
pub struct Listing {
    budget: Budget,
    opts: Options,
    format: Kind,
    entries: Vec<Entry>,
    comments: Vec<String>,
    headers: Vec<(MetaField, MetaValue)>,
    name: String,
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Listing {
    /// Reads the archive at `path`. A compressed stream holding an archive
    /// (`.tar.gz`, `.tar.xz`, …) lists the inner archive's members.
    pub fn open(path: &Path, opts: &Options) -> Result<Listing> {
        Listing::open_content(
            Content::path(path.to_owned()),
            path.display().to_string(),
            opts,
        )
    }

    /// Reads an archive that is a member of this one (a `.deb`'s
    /// `data.tar.xz`), named `<this>/<member>` in errors, with limits of
    /// its own.
    pub fn open_member(&self, entry: &Entry) -> Result<Listing> {
        Listing::open_content(
            entry.content.clone(),
            format!("{}/{}", self.name, entry.path),
            &self.opts,
        )
    }

    fn open_content(mut content: Content, name: String, opts: &Options) -> Result<Listing> {
        let mut listing = Listing {
            budget: Budget::new(opts.limits.clone()),
            opts: opts.clone(),
            format: Kind::Binary,
            entries: Vec::new(),
            comments: Vec::new(),
            headers: Vec::new(),
            name,
        };
        let mut name = listing.name.clone();
        // Two levels are enough for a compressed tarball; a limit still
        // applies to anything deeper.
        for depth in 0..4 {
            let (parsed, kind) = {
                let cx = listing.cx();
                cx.budget.check_depth(depth, &name)?;
                let head = content.head(&cx, &name, formats::HEAD_LEN)?;
                let kind = formats::detect(&head);
                (formats::format_of(kind).read(&content, &name, &cx)?, kind)
            };
            let Parsed::Container(c) = parsed else {
                return Err(Error::Malformed {
                    entry: name,
                    format: kind,
                    detail: "not an archive".into(),
                });
            };
            listing.headers.extend(c.meta.iter().cloned());
            if c.single_stream {
                if let [only] = c.entries.as_slice() {
                    name = format!("{name}/{}", only.path);
                    content = only.content.clone();
                    continue;
                }
            }
            listing.format = c.format;
            listing.entries = c.entries;
            listing.comments = c.comments;
            return Ok(listing);
        }
        Err(Error::Malformed {
            entry: name,
            format: Kind::Binary,
            detail: "compressed more than three times over".into(),
        })
    }

    fn cx(&self) -> Cx<'_> {
        Cx {
            budget: &self.budget,
            opts: &self.opts,
        }
    }

    /// The archive's format.
    pub fn format(&self) -> Kind {
        self.format
    }

    /// Its members in archive order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What the reader found suspicious (duplicate names, conflicting
    /// headers), as the differ reports it.
    pub fn comments(&self) -> &[String] {
        &self.comments
    }

    /// Header fields of the archive and of the compressed streams around
    /// it (gzip time and name, zip comment), outermost first.
    pub fn headers(&self) -> &[(MetaField, MetaValue)] {
        &self.headers
    }

    /// The first regular file whose path `matches`.
    pub fn find(&self, matches: impl Fn(&str) -> bool) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.kind == EntryKind::File && matches(&e.path))
    }

    /// What a member's content is, detected from its head as the differ
    /// detects it.
    pub fn kind(&self, entry: &Entry) -> Result<Kind> {
        let name = format!("{}/{}", self.name, entry.path);
        let head = entry.content.head(&self.cx(), &name, formats::HEAD_LEN)?;
        Ok(formats::detect(&head))
    }

    /// SHA-256 of a member's content, streamed.
    pub fn digest(&self, entry: &Entry) -> Result<crate::Digest> {
        self.digest_and_kind(entry).map(|(d, _)| d)
    }

    /// SHA-256 of a member's content and what it is ([`Listing::kind`]),
    /// in one read.
    pub fn digest_and_kind(&self, entry: &Entry) -> Result<(crate::Digest, Kind)> {
        let name = format!("{}/{}", self.name, entry.path);
        let cx = self.cx();
        // Reads of up to 256 KiB: a decompressor copies each read into its
        // 32 KiB window, so io::copy's 8 KiB reads made inflating a big
        // member a tenth slower. Small members get a buffer their size.
        let want = entry.meta.size.unwrap_or(0).saturating_add(1);
        let mut buf = vec![0u8; want.clamp(8 << 10, 256 << 10) as usize];
        let head_len = formats::HEAD_LEN;
        entry.content.with_reader(&cx, &name, |r| {
            let mut h = <sha2::Sha256 as sha2::Digest>::new();
            let mut size = 0u64;
            let mut head = Vec::new();
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(cx.io(e, &name, "reading")),
                };
                if head.len() < head_len {
                    let take = n.min(head_len - head.len());
                    head.extend_from_slice(&buf[..take]);
                }
                sha2::Digest::update(&mut h, &buf[..n]);
                size += n as u64;
            }
            let digest = crate::Digest {
                sha256: sha2::Digest::finalize(h).into(),
                size,
            };
            Ok((digest, formats::detect(&head)))
        })
    }

    /// Reads a member's content whole, refusing one over `max` bytes.
    pub fn read(&self, entry: &Entry, max: u64) -> Result<Vec<u8>> {
        let name = format!("{}/{}", self.name, entry.path);
        let cx = self.cx();
        let bytes = entry.content.with_reader(&cx, &name, |r| {
            let mut buf = Vec::new();
            r.take(max + 1)
                .read_to_end(&mut buf)
                .map_err(|e| cx.io(e, &name, "reading"))?;
            Ok(buf)
        })?;
        if bytes.len() as u64 > max {
            return Err(Error::Malformed {
                entry: name,
                format: self.format,
                detail: format!("member larger than {max} bytes"),
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn lists_a_tar_gz_and_reads_a_member() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p-1.0.tar.gz");
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_mtime(42);
        h.set_cksum();
        tar.append_data(&mut h, "p-1.0/pyproject.toml", &b"hello"[..])
            .unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();

        let l = Listing::open(&path, &Options::default()).unwrap();
        assert_eq!(l.format(), Kind::Tar);
        let e = l.find(|p| p.ends_with("/pyproject.toml")).unwrap();
        assert_eq!(e.meta.mtime, Some(42));
        assert_eq!(l.read(e, 5).unwrap(), b"hello");
        let err = l.read(e, 4).unwrap_err().to_string();
        assert!(err.contains("larger than 4 bytes"), "{err}");
    }

    #[test]
    fn lists_a_member_that_is_itself_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let mut inner = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        inner
            .append_data(&mut h, "./usr/bin/x", &b"abc"[..])
            .unwrap();
        let inner = inner.into_inner().unwrap();
        let mut outer = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(inner.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        outer.append_data(&mut h, "data.tar", &inner[..]).unwrap();
        let path = dir.path().join("outer.tar");
        std::fs::write(&path, outer.into_inner().unwrap()).unwrap();

        let l = Listing::open(&path, &Options::default()).unwrap();
        let member = l.find(|p| p == "data.tar").unwrap();
        let m = l.open_member(member).unwrap();
        let e = m.find(|p| p.ends_with("usr/bin/x")).unwrap();
        assert_eq!(m.read(e, 3).unwrap(), b"abc");
        // A member that is no archive is an error naming the whole path.
        let err = m.open_member(e).unwrap_err().to_string();
        assert!(
            err.contains("outer.tar/data.tar/") && err.contains("not an archive"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_no_archive_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.whl");
        std::fs::write(&path, "just text\n").unwrap();
        let err = Listing::open(&path, &Options::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.whl") && err.contains("not an archive"),
            "{err}"
        );
    }
}
