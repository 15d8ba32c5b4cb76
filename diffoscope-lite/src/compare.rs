//! The recursive differ: pairs entries, skips identical content by hash,
//! recurses into differing containers and emits a [`Difference`] tree.
//!
//! It never prints: printers turn the tree into text or JSON. Both sides
//! have their own budget (see [`crate::limits`]). Members of random-access
//! formats are compared on rayon's pool; tar streams are read once per side
//! (their members spooled as they pass) and then compared the same way.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use rayon::prelude::*;

use crate::difference::{Difference, ListedMember, MetadataDifference};
use crate::formats::{detect, format_of, Kind, Parsed, HEAD_LEN};
use crate::hash::Digest;
use crate::leaf::{hex_diff, text_diff};
use crate::limits::Budget;
use crate::model::{Container, Content, Cx, Entry, EntryKind, MetaField, MetaValue};
use crate::{Error, Options, Result};

/// Largest archives whose file lists are diffed in archive order; longer
/// lists are diffed sorted by name, in linear time (a longest-common-
/// subsequence search over two long, very different lists takes seconds).
const FILE_LIST_IN_ORDER: usize = 2_000;

/// Most names shown per side in an entry-order difference.
const ORDER_SHOWN: usize = 20;

/// Compares two artifacts (files or directories) on disk.
///
/// Returns `None` when they are identical, else the tree of differences.
/// A damaged member inside an archive is reported on that member ("could
/// not be compared: …") and the rest is still compared; the tree stays
/// honest because the damage is in it. Unreadable top-level inputs,
/// exceeded safety limits and local I/O failures abort the whole
/// comparison: a partial tree would read as "these are the only
/// differences", which would be a lie.
pub fn compare(a: &Path, b: &Path, opts: &Options) -> Result<Option<Difference>> {
    let (budget_a, budget_b) = (
        Budget::new(opts.limits.clone()),
        Budget::new(opts.limits.clone()),
    );
    let differ = Differ {
        a: Cx {
            budget: &budget_a,
            opts,
        },
        b: Cx {
            budget: &budget_b,
            opts,
        },
    };
    let (na, nb) = (a.display().to_string(), b.display().to_string());
    let stat = |p: &Path| {
        fs::metadata(p).map_err(|source| Error::Read {
            path: p.to_owned(),
            source,
        })
    };
    let (ma, mb) = (stat(a)?, stat(b)?);
    let mut root = Difference::new(na.clone(), nb.clone());
    let (ca, cb) = (Content::path(a.to_owned()), Content::path(b.to_owned()));
    let body = match (ma.is_dir(), mb.is_dir()) {
        (true, true) => {
            // Two image layouts pair their blobs by role, not by digest.
            let kind = if crate::formats::oci::is_layout(a) && crate::formats::oci::is_layout(b) {
                Kind::OciLayout
            } else {
                Kind::Directory
            };
            differ.containers(kind, (&ca, &na), (&cb, &nb), 1)?
        }
        (false, false) => differ.content((&ca, &na, None), (&cb, &nb, None), 0, true)?,
        (true, false) | (false, true) => {
            let kind = |d: bool| if d { "a directory" } else { "a file" };
            let mut d = Difference::default();
            d.comments.push(format!(
                "{na} is {}, {nb} is {}",
                kind(ma.is_dir()),
                kind(mb.is_dir())
            ));
            d
        }
    };
    absorb(&mut root, body);
    Ok((!root.is_empty()).then_some(root))
}

/// Moves everything but the names from `body` into `node`.
fn absorb(node: &mut Difference, body: Difference) {
    node.unified_diff = body.unified_diff;
    node.hexdump = body.hexdump;
    node.decoded = body.decoded;
    node.comments.extend(body.comments);
    node.details.extend(body.details);
    node.metadata.extend(body.metadata);
}

struct Differ<'a> {
    a: Cx<'a>,
    b: Cx<'a>,
}

type Side<'s> = (&'s Content, &'s str, Option<Digest>);

/// What a second format reads in the one stream of a compressor's
/// container `x` (named `name`), as a comment on the container.
fn stream_polyglot(x: &Container, name: &str, cx: &Cx<'_>) -> Result<Option<String>> {
    let [only] = x.entries.as_slice() else {
        return Ok(None);
    };
    if !x.single_stream {
        return Ok(None);
    }
    let inner = format!("{name}::{}", only.path);
    let found = crate::formats::stream_also_reads_as(&only.content, &inner, cx)?;
    Ok(found.map(|detail| format!("{}: {detail}", only.path)))
}

/// Makes an I/O error met while reading `entry`'s own bytes an [`Error`].
fn reading(entry: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        entry: entry.to_owned(),
        action: "reading",
        source,
    }
}

impl Differ<'_> {
    /// Compares two contents; `check` first skips identical ones by hash.
    fn content(&self, a: Side<'_>, b: Side<'_>, depth: u32, check: bool) -> Result<Difference> {
        let ((ca, na, da), (cb, nb, db)) = (a, b);
        if check {
            // Same compressed bytes in two zips: same content, no inflating.
            if da.is_none() && db.is_none() && ca.same_zip_data(cb) {
                return Ok(Difference::default());
            }
            let same = match (da, db) {
                (Some(da), Some(db)) => da == db,
                // Compared side by side rather than hashed: the first
                // differing byte ends it, instead of a full pass per side
                // that the container comparison would then repeat.
                _ => ca.same_bytes(&self.a, na, cb, &self.b, nb)?,
            };
            if same {
                return Ok(Difference::default());
            }
        }
        let (ha, hb) = rayon::join(
            || ca.head(&self.a, na, HEAD_LEN),
            || cb.head(&self.b, nb, HEAD_LEN),
        );
        let (ka, kb) = (detect(&ha?), detect(&hb?));
        if ka == kb && ka.is_container() {
            return self.containers(ka, (ca, na), (cb, nb), depth + 1);
        }
        if let Some(d) = self.self_extractor((ka, ca, na), (kb, cb, nb), depth)? {
            return Ok(d);
        }
        // Two archives of different formats: what they hold may still be
        // the same (foo.gz vs foo.xz, a .deb's data.tar.xz vs
        // data.tar.zst, a gzip and a zip of one file each): compared as
        // diffoscope does (see `cross_format`).
        let archive = |k: Kind| k.is_compressor() || matches!(k, Kind::Zip | Kind::Tar | Kind::Ar);
        if ka != kb && archive(ka) && archive(kb) {
            return self.cross_format((ka, ca, na), (kb, cb, nb), depth + 1);
        }
        self.leaf(ka, kb, (ca, na), (cb, nb))
    }

    /// A plain zip beside a zip behind a stub (an ELF or PE
    /// self-extractor, which detection calls by its stub): both are read as
    /// zips, as zip tools and diffoscope read them. `None` for other pairs.
    fn self_extractor(
        &self,
        (ka, ca, na): (Kind, &Content, &str),
        (kb, cb, nb): (Kind, &Content, &str),
        depth: u32,
    ) -> Result<Option<Difference>> {
        let (other, content, name) = match (ka, kb) {
            (Kind::Zip, k) if k != Kind::Zip => (k, cb, nb),
            (k, Kind::Zip) if k != Kind::Zip => (k, ca, na),
            _ => return Ok(None),
        };
        let Some(blob) = content.cheap_blob() else {
            return Ok(None);
        };
        if crate::formats::zip_at_end(&blob)
            .map_err(reading(name))?
            .is_none()
        {
            return Ok(None);
        }
        let mut d = self.containers(Kind::Zip, (ca, na), (cb, nb), depth + 1)?;
        d.comments.insert(
            0,
            format!("format: {ka} vs {kb}; {name} is read as the zip behind its {other} stub"),
        );
        Ok(Some(d))
    }

    /// Reads both sides as `kind` containers at `depth` and compares them.
    fn containers(
        &self,
        kind: Kind,
        (ca, na): (&Content, &str),
        (cb, nb): (&Content, &str),
        depth: u32,
    ) -> Result<Difference> {
        if let Some(d) = self.too_deep(kind, (ca, na), (cb, nb), depth)? {
            return Ok(d);
        }
        let format = format_of(kind);
        let (pa, pb) = format.read_pair((ca, na, &self.a), (cb, nb, &self.b));
        match (pa?, pb?) {
            (Parsed::Container(mut xa), Parsed::Container(mut xb)) => {
                // A file another format reads too is a finding; only
                // content at hand is looked at (not a decompressed stream).
                for (x, c, n) in [(&mut xa, ca, na), (&mut xb, cb, nb)] {
                    if let Some(blob) = c.cheap_blob() {
                        let other =
                            crate::formats::also_reads_as(kind, &blob).map_err(reading(n))?;
                        x.comments.extend(other);
                    }
                }
                let lens = (ca.known_len(), cb.known_len());
                let mut d = self.compare_containers(&xa, &xb, (na, nb), lens, depth)?;
                // The decompressed stream of a compressor is asked the
                // same, after the comparison: comparing read it through
                // (a tarball inside always is) and kept its ends, so it is
                // not decompressed once more unless that read stopped
                // early (both sides at once).
                let (sa, sb) = rayon::join(
                    || stream_polyglot(&xa, na, &self.a),
                    || stream_polyglot(&xb, nb, &self.b),
                );
                let (sa, sb) = (sa?, sb?);
                // Notes both sides' readers made alike (the same polyglot
                // finding, the same archive note) are said, but they are
                // not where the two sides differ.
                let same_stream_note = sa.clone().filter(|a| sb.as_ref() == Some(a));
                let alike = |c: &String| {
                    (xa.comments.contains(c) && xb.comments.contains(c))
                        || same_stream_note.as_ref() == Some(c)
                };
                let mut found = Vec::new();
                match (sa, sb) {
                    (Some(a), Some(b)) if a == b => found.push(a),
                    (a, b) => {
                        found.extend(a.map(|c| format!("{na}: {c}")));
                        found.extend(b.map(|c| format!("{nb}: {c}")));
                    }
                }
                d.comments.splice(0..0, found);
                // Directories are equal when their entries are, and so
                // are image layouts (blobs no index reaches are not part
                // of the image, and a layout has no bytes of its own to
                // compare). Another
                // container with equal entries either has other bytes
                // (headers, padding) or is itself equal: the decompressed
                // stream of a compressor, which is compared unchecked
                // (checking first would decompress both sides twice
                // whenever they differ, which is nearly always), is equal
                // when only the compression around it changed.
                // A listing's header or footer (zipinfo's archive size and
                // totals) differing is no member's difference: the bytes
                // that differ are still elsewhere.
                let only_headers = d.comments.iter().all(alike)
                    && d.metadata.is_empty()
                    && d.details
                        .iter()
                        .all(|c| c.view && c.listed.is_empty() && c.comments.is_empty());
                if only_headers && !matches!(kind, Kind::Directory | Kind::OciLayout) {
                    if ca.same_bytes(&self.a, na, cb, &self.b, nb)? {
                        return Ok(d);
                    }
                    // A compressor's header fields are its metadata, so
                    // what is left is the compressed data of an identical
                    // stream: its hexdump says nothing a reader can use.
                    if xa.single_stream && xb.single_stream {
                        d.comments.push(format!(
                            "the decompressed contents are identical; only the {kind} \
                             compressed data differ (compression level, settings or \
                             compressor implementation)"
                        ));
                        return Ok(d);
                    }
                    d.comments.push(format!(
                        "the {kind} containers have the same entries and metadata; \
                         their bytes differ elsewhere (headers, padding or compression)"
                    ));
                    d.unified_diff = self.hex(ca, na, cb, nb)?;
                    d.hexdump = d.unified_diff.is_some();
                }
                Ok(d)
            }
            _ => self.leaf(Kind::Binary, Kind::Binary, (ca, na), (cb, nb)),
        }
    }

    /// At the nesting limit (an archive quine, a bomb of nested
    /// archives): that branch is compared as bytes and says so, and the
    /// rest of the report goes on, as diffoscope's "Reached max container
    /// depth" does. `None` below the limit.
    fn too_deep(
        &self,
        kind: Kind,
        (ca, na): (&Content, &str),
        (cb, nb): (&Content, &str),
        depth: u32,
    ) -> Result<Option<Difference>> {
        let max = self.a.opts.limits.max_depth;
        if depth <= max {
            return Ok(None);
        }
        let mut d = if matches!(kind, Kind::Directory | Kind::OciLayout) {
            Difference::default()
        } else {
            self.leaf(kind, kind, (ca, na), (cb, nb))?
        };
        d.comments.insert(
            0,
            format!(
                "maximum depth reached: the {kind} at nesting depth {depth} is not \
                 looked into (--max-depth is {max})"
            ),
        );
        Ok(Some(d))
    }

    /// Two archives of different formats, each read by its own format.
    /// Two compressors compare their streams, the wrapper a metadata line;
    /// other pairs compare their members only if each holds exactly one
    /// (as diffoscope pairs the one member of each side, whatever the
    /// formats: a gzip beside a zip of one file), else they are bytes
    /// that differ.
    fn cross_format(
        &self,
        (ka, ca, na): (Kind, &Content, &str),
        (kb, cb, nb): (Kind, &Content, &str),
        depth: u32,
    ) -> Result<Difference> {
        if let Some(mut d) = self.too_deep(ka, (ca, na), (cb, nb), depth)? {
            d.comments.push(format!("format: {ka} vs {kb}"));
            return Ok(d);
        }
        let (pa, pb) = rayon::join(
            || format_of(ka).read(ca, na, &self.a),
            || format_of(kb).read(cb, nb, &self.b),
        );
        let (Parsed::Container(xa), Parsed::Container(xb)) = (pa?, pb?) else {
            return self.leaf(ka, kb, (ca, na), (cb, nb));
        };
        let compressors = ka.is_compressor() && kb.is_compressor();
        if !compressors && (xa.entries.len() != 1 || xb.entries.len() != 1) {
            return self.leaf(ka, kb, (ca, na), (cb, nb));
        }
        let mut d = self.compare_containers(&xa, &xb, (na, nb), (None, None), depth)?;
        if compressors {
            // The streams hold the same bytes: say so, as diffoscope says
            // "Files identical despite different names" (the files are
            // not identical; what they decompress to is).
            if d.details.is_empty() && d.comments.is_empty() && d.unified_diff.is_none() {
                d.comments.push(format!(
                    "the decompressed contents are identical; only the compression \
                     differs ({ka} vs {kb})"
                ));
            }
            d.metadata.insert(
                0,
                MetadataDifference {
                    field: MetaField::Compression,
                    source1: MetaValue::Text(ka.to_string()),
                    source2: MetaValue::Text(kb.to_string()),
                    hints: Vec::new(),
                },
            );
        } else {
            d.comments.insert(0, format!("format: {ka} vs {kb}"));
        }
        Ok(d)
    }

    /// Compares two containers named `na` and `nb`, `lens` bytes long
    /// when known (for the listings' headers).
    fn compare_containers(
        &self,
        xa: &Container,
        xb: &Container,
        (na, nb): (&str, &str),
        lens: (Option<u64>, Option<u64>),
        depth: u32,
    ) -> Result<Difference> {
        let mut d = Difference {
            metadata: diff_fields(&xa.meta, &xb.meta),
            ..Difference::default()
        };
        for c in &xa.comments {
            if xb.comments.contains(c) {
                d.comments.push(c.clone());
            } else {
                d.comments.push(format!("{na}: {c}"));
            }
        }
        for c in xb.comments.iter().filter(|c| !xa.comments.contains(c)) {
            d.comments.push(format!("{nb}: {c}"));
        }

        let (pairs, only_a, only_b) = pair_entries(xa, xb);
        if xa.ordered && xb.ordered {
            // `pairs` is in first-side order; the second side's indices
            // must then be increasing too.
            if pairs.windows(2).any(|w| w[0].1 > w[1].1) {
                let names = |idx: &mut dyn Iterator<Item = usize>, x: &Container| -> String {
                    let mut names: Vec<&str> = Vec::new();
                    let mut more = 0usize;
                    for i in idx {
                        if names.len() < ORDER_SHOWN {
                            names.push(&x.entries[i].path);
                        } else {
                            more += 1;
                        }
                    }
                    let mut s = names.join(", ");
                    if more > 0 {
                        s.push_str(&format!(", … ({more} more)"));
                    }
                    s
                };
                let mut in_b: Vec<usize> = pairs.iter().map(|p| p.1).collect();
                in_b.sort_unstable();
                d.metadata.push(MetadataDifference {
                    field: MetaField::EntryOrder,
                    source1: MetaValue::Text(names(&mut pairs.iter().map(|p| p.0), xa)),
                    source2: MetaValue::Text(names(&mut in_b.into_iter(), xb)),
                    hints: Vec::new(),
                });
            }
        }

        let single = xa.single_stream && xb.single_stream;
        // Only the differing pairs are kept: a slot per pair would cost
        // a `Difference` for every equal member of a large archive.
        // Each with the name of the view it is shown as, for members that
        // are views of their container (see `views::of_member`).
        let mut children: Vec<(Option<&'static str>, Difference)> = pairs
            .par_iter()
            .map(|&(i, j)| {
                let (ea, eb) = (&xa.entries[i], &xb.entries[j]);
                let shown_as = crate::views::of_member(xa.format, ea)
                    .filter(|&v| crate::views::of_member(xb.format, eb) == Some(v));
                let d = self.entry(ea, eb, na, nb, depth, !single)?;
                Ok(d.map(|d| (shown_as, d)))
            })
            .filter_map(Result::transpose)
            .collect::<Result<_>>()?;

        let views = if xa.format == xb.format {
            crate::views::of(xa.format)
        } else {
            &[]
        };
        let mut listings = if views.is_empty() {
            // No listing of its own (a directory, ELF sections): the
            // names alone, when some member is on one side only.
            let mut files = Difference::new("file list", "file list");
            files.view = true;
            if !only_a.is_empty() || !only_b.is_empty() {
                files.unified_diff = self.names_diff(xa, xb, &mut files.comments);
            }
            vec![files]
        } else {
            views
                .iter()
                .map(|v| self.listing(v, (xa, lens.0), (xb, lens.1)))
                .collect()
        };
        self.only_in(&mut listings[0], (xa, na, &only_a), (xb, nb, &only_b));
        // Metadata a listing shows moves from the members into it; a
        // member left with nothing of its own is not a node.
        for (_, c) in &mut children {
            let mut kept = Vec::new();
            for m in c.metadata.drain(..) {
                match views.iter().position(|v| (v.shows)(&m.field)) {
                    Some(k) => {
                        let listing = &mut listings[k];
                        match listing.listed.last_mut() {
                            Some(l) if l.source1 == c.source1 && l.source2 == c.source2 => {
                                l.metadata.push(m);
                            }
                            _ => listing.listed.push(ListedMember {
                                source1: c.source1.clone(),
                                source2: c.source2.clone(),
                                metadata: vec![m],
                                has_node: false,
                            }),
                        }
                    }
                    None => kept.push(m),
                }
            }
            c.metadata = kept;
            let has_node = !c.is_empty();
            for listing in &mut listings {
                if let Some(l) = listing
                    .listed
                    .last_mut()
                    .filter(|l| l.source1 == c.source1 && l.source2 == c.source2)
                {
                    l.has_node = has_node;
                }
            }
        }
        children.retain(|(_, c)| !c.is_empty());
        // Views of the container first, then its listings, then its
        // members: the order of diffoscope's report.
        if xa.format == Kind::Zip && xb.format == Kind::Zip {
            d.details.extend(self.document_text((xa, na), (xb, nb))?);
        }
        let mut members = Vec::new();
        for (shown_as, mut c) in children {
            match shown_as {
                Some(name) => {
                    (c.source1, c.source2) = (name.to_owned(), name.to_owned());
                    d.details.push(c);
                }
                None => members.push(c),
            }
        }
        d.details
            .extend(listings.into_iter().filter(|l| !l.is_empty()));
        d.details.extend(members);
        Ok(d)
    }

    /// One listing view of both sides, diffed; in archive order unless the
    /// archives are too long for that (see [`FILE_LIST_IN_ORDER`]).
    fn listing(
        &self,
        view: &crate::views::View,
        (xa, la): (&Container, Option<u64>),
        (xb, lb): (&Container, Option<u64>),
    ) -> Difference {
        let max = self.a.opts.max_diff_lines;
        let mut d = Difference::new(view.name, view.name);
        d.view = true;
        let diff = if xa.entries.len().max(xb.entries.len()) <= FILE_LIST_IN_ORDER {
            let (la, lb) = (view.render(xa, la), view.render(xb, lb));
            // Equal listings are the common case: no diff to search for.
            if la == lb {
                return d;
            }
            text_diff(&la, &lb, max)
        } else {
            d.comments
                .push("listing sorted by name (too long to diff in archive order)".into());
            let (la, lb) = (view.render_sorted(xa, la), view.render_sorted(xb, lb));
            fn refs(l: &[String]) -> Vec<&str> {
                l.iter().map(String::as_str).collect()
            }
            crate::textdiff::sorted_list_diff(&refs(&la), &refs(&lb), max)
        };
        d.unified_diff = Some(diff).filter(|u| !u.is_empty());
        if d.unified_diff.is_none() {
            d.comments.clear();
        }
        d
    }

    /// The text of two office documents (`docx2txt`, `odt2txt`), diffed:
    /// a view of the file, as diffoscope shows it. `None` when they are
    /// not documents of one kind, their text is equal, or it cannot be
    /// read (a damaged member is reported on its own node).
    fn document_text(
        &self,
        (xa, na): (&Container, &str),
        (xb, nb): (&Container, &str),
    ) -> Result<Option<Difference>> {
        use crate::formats::zip::document;
        let cap = self.a.opts.max_text_bytes;
        let read = |x: &Container, n: &str, cx: &Cx<'_>| -> Result<Option<_>> {
            match document::detect(x, n, cx) {
                Ok(Some(doc)) => Ok(document::text(doc, x, n, cx, cap)?.map(|t| (doc, t))),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let tolerant = |r: Result<Option<_>>| match r {
            Err(Error::Malformed { .. } | Error::Io { .. }) => Ok(None),
            other => other,
        };
        let (ta, tb) = (
            tolerant(read(xa, na, &self.a))?,
            tolerant(read(xb, nb, &self.b))?,
        );
        let (Some((da, ta)), Some((db, tb))) = (ta, tb) else {
            return Ok(None);
        };
        if da != db || ta == tb {
            return Ok(None);
        }
        let mut d = Difference::new(da.view(), db.view());
        d.unified_diff =
            Some(text_diff(&ta, &tb, self.a.opts.max_diff_lines)).filter(|u| !u.is_empty());
        Ok(Some(d).filter(|d| !d.is_empty()))
    }

    /// The member names of both sides, diffed: the listing of containers
    /// that have no listing view.
    fn names_diff(
        &self,
        xa: &Container,
        xb: &Container,
        comments: &mut Vec<String>,
    ) -> Option<String> {
        let max = self.a.opts.max_diff_lines;
        let diff = if xa.entries.len().max(xb.entries.len()) <= FILE_LIST_IN_ORDER {
            let list = |x: &Container| -> String {
                x.entries.iter().map(|e| format!("{}\n", e.path)).collect()
            };
            text_diff(&list(xa), &list(xb), max)
        } else {
            fn sorted(x: &Container) -> Vec<&str> {
                let mut names: Vec<&str> = x.entries.iter().map(|e| e.path.as_str()).collect();
                names.sort_unstable();
                names
            }
            comments.push("file lists sorted by name (too long to diff in archive order)".into());
            crate::textdiff::sorted_list_diff(&sorted(xa), &sorted(xb), max)
        };
        Some(diff).filter(|d| !d.is_empty())
    }

    /// Remarks naming the members present on one side only (at most
    /// `--max-diff-lines` a side).
    fn only_in(
        &self,
        files: &mut Difference,
        a: (&Container, &str, &[usize]),
        b: (&Container, &str, &[usize]),
    ) {
        let max = self.a.opts.max_diff_lines;
        for (first, (x, n, only)) in [(true, a), (false, b)] {
            files
                .only_in
                .extend(only.iter().map(|&i| crate::difference::OnlyIn {
                    first,
                    path: x.entries[i].path.clone(),
                }));
            for &i in only.iter().take(max) {
                files
                    .comments
                    .push(format!("only in {n}: {}", x.entries[i].path));
            }
            if only.len() > max {
                files.comments.push(format!(
                    "… and {} more only in {n} (--max-diff-lines is {max})",
                    only.len() - max
                ));
            }
        }
    }

    fn entry(
        &self,
        ea: &Entry,
        eb: &Entry,
        na: &str,
        nb: &str,
        depth: u32,
        check: bool,
    ) -> Result<Option<Difference>> {
        let (pa, pb) = (format!("{na}::{}", ea.path), format!("{nb}::{}", eb.path));
        let mut d = Difference::new(ea.path.clone(), eb.path.clone());
        d.metadata = diff_fields(&ea.meta.fields(), &eb.meta.fields());
        let text = |s: &str| MetaValue::Text(s.to_owned());
        let push = |d: &mut Difference, field, source1, source2| {
            d.metadata.push(MetadataDifference {
                field,
                source1,
                source2,
                hints: Vec::new(),
            });
        };
        match (&ea.kind, &eb.kind) {
            (EntryKind::Symlink { target: x }, EntryKind::Symlink { target: y })
            | (EntryKind::Hardlink { target: x }, EntryKind::Hardlink { target: y })
                if x != y =>
            {
                push(&mut d, MetaField::LinkTarget, text(x), text(y));
            }
            (
                EntryKind::Device {
                    major: a1,
                    minor: a2,
                    ..
                },
                EntryKind::Device {
                    major: b1,
                    minor: b2,
                    ..
                },
            ) if ea.kind != eb.kind => {
                push(
                    &mut d,
                    MetaField::Device,
                    text(&format!("{a1}:{a2}")),
                    text(&format!("{b1}:{b2}")),
                );
            }
            (x, y) if x != y => push(&mut d, MetaField::EntryType, text(x.name()), text(y.name())),
            _ => {}
        }
        let has_content = |e: &Entry| matches!(e.kind, EntryKind::File | EntryKind::Other(_));
        if has_content(ea) && has_content(eb) {
            // Sizes the reader measured (tar spools) that differ prove a
            // difference without hashing.
            let known_different = matches!((ea.digest, eb.digest), (Some(x), Some(y)) if x != y);
            let body = self.content(
                (&ea.content, &pa, ea.digest),
                (&eb.content, &pb, eb.digest),
                depth,
                check && !known_different,
            );
            match body {
                Ok(body) => absorb(&mut d, body),
                // A damaged member (bad CRC, truncated stream, a container
                // that does not parse) is itself a finding about the
                // artifact: report it there and go on with the others.
                // Safety limits and local I/O failures still stop everything.
                Err(e @ Error::Malformed { .. }) => {
                    d.comments.push(format!("could not be compared: {e}"));
                }
                // Errors of the local machine (spool files) are Error::Spool
                // and stop the comparison below.
                Err(Error::Io {
                    entry,
                    action,
                    source,
                }) => {
                    d.comments.push(format!(
                        "could not be compared: {entry}: {action} failed: {source}"
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((!d.is_empty()).then_some(d))
    }

    /// Compares non-container content: as text if both sides are text,
    /// else as a hexdump.
    fn leaf(
        &self,
        ka: Kind,
        kb: Kind,
        (ca, na): (&Content, &str),
        (cb, nb): (&Content, &str),
    ) -> Result<Difference> {
        let mut d = Difference::default();
        if ka != kb {
            d.comments.push(format!("format: {ka} vs {kb}"));
        }
        let max = self.a.opts.max_diff_lines;
        if ka == Kind::Json && kb == Kind::Json {
            // Pretty-printed with sorted keys, in memory: JSON reads that
            // way only up to JSON_PRETTY_MAX; larger falls through to
            // plain text.
            let (ta, tb) = rayon::join(
                || format_of(ka).read(ca, na, &self.a),
                || format_of(kb).read(cb, nb, &self.b),
            );
            if let (Parsed::Text(ta), Parsed::Text(tb)) = (ta?, tb?) {
                if ta == tb {
                    // Same data, different bytes: show the raw text.
                    if let Some(diff) = self.text(ca, na, cb, nb)? {
                        if !diff.is_empty() {
                            d.comments.push(
                                "the JSON data are equal; only formatting or key order differs"
                                    .into(),
                            );
                            d.unified_diff = Some(diff);
                        }
                        return Ok(d);
                    }
                }
                let diff = text_diff(&ta, &tb, max);
                d.unified_diff = Some(diff).filter(|s| !s.is_empty());
                return Ok(d);
            }
        }
        if ka.is_text() && kb.is_text() {
            if let Some(diff) = self.text(ca, na, cb, nb)? {
                d.unified_diff = Some(diff).filter(|s| !s.is_empty());
                d.decoded = ca.is_decoded_view() || cb.is_decoded_view();
                return Ok(d);
            }
        }
        d.unified_diff = self.hex(ca, na, cb, nb)?;
        d.hexdump = d.unified_diff.is_some();
        if d.hexdump {
            d.details.extend(self.strings(ca, na, cb, nb)?);
        }
        Ok(d)
    }

    /// The strings view next to a hexdump: printable runs diffed as text,
    /// so build paths and host names inside a binary of any format are
    /// found (and hinted, which a hexdump never is). `None` when the runs
    /// are equal or too long to diff as text.
    fn strings(
        &self,
        ca: &Content,
        na: &str,
        cb: &Content,
        nb: &str,
    ) -> Result<Option<Difference>> {
        let cap = self.a.opts.max_text_bytes;
        let runs = |c: &Content, n: &str, cx: &Cx<'_>| {
            c.with_reader(cx, n, |r| {
                crate::leaf::strings(r, cap).map_err(|e| cx.io(e, n, "reading"))
            })
        };
        let (sa, sb) = rayon::join(|| runs(ca, na, &self.a), || runs(cb, nb, &self.b));
        let (Some(sa), Some(sb)) = (sa?, sb?) else {
            return Ok(None);
        };
        let diff = text_diff(&sa, &sb, self.a.opts.max_diff_lines);
        if diff.is_empty() {
            return Ok(None);
        }
        let name = format!(
            "strings (printable runs of {}+ bytes)",
            crate::leaf::STRINGS_MIN
        );
        let mut d = Difference::new(name.clone(), name);
        d.unified_diff = Some(diff);
        Ok(Some(d))
    }

    /// Unified diff of two texts, streamed (memory bounded by the line
    /// count, not the size); `None` if either is not text after all.
    fn text(&self, ca: &Content, na: &str, cb: &Content, nb: &str) -> Result<Option<String>> {
        // A decoded view is in memory already and bounded by its reader
        // (a view over --max-text-bytes must not turn into a hexdump of
        // its own text).
        let max_bytes = if ca.is_decoded_view() || cb.is_decoded_view() {
            let view_max = crate::formats::dwarf::VIEW_MAX as u64 + 4096;
            self.a.opts.max_text_bytes.max(view_max)
        } else {
            self.a.opts.max_text_bytes
        };
        crate::textdiff::streamed_text_diff(
            (ca, na, &self.a),
            (cb, nb, &self.b),
            self.a.opts.max_diff_lines,
            max_bytes,
        )
    }

    fn hex(&self, ca: &Content, na: &str, cb: &Content, nb: &str) -> Result<Option<String>> {
        let max = self.a.opts.max_diff_lines;
        let hex = ca.with_reader(&self.a, na, |ra| {
            cb.with_reader(&self.b, nb, |rb| {
                hex_diff(ra, rb, max).map_err(|(side, e)| match side {
                    0 => self.a.io(e, na, "reading"),
                    _ => self.b.io(e, nb, "reading"),
                })
            })
        })?;
        Ok(Some(hex).filter(|h| !h.is_empty()))
    }
}

/// Pairs entries by path (the n-th occurrence of a name with the n-th on
/// the other side); single-stream containers pair their only entries.
/// Returns the pairs in first-side order and the unpaired indices.
pub(crate) fn pair_entries(
    xa: &Container,
    xb: &Container,
) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    // One member on each side: those two are compared whatever their
    // names, as diffoscope does (a tarball of `foo-1.0/` vs `foo-1.1/`).
    // Not for directories: two trees of one file each are still trees.
    let listed = |x: &Container| x.format != Kind::Directory;
    if xa.entries.len() == 1 && xb.entries.len() == 1 && listed(xa) && listed(xb) {
        return (vec![(0, 0)], Vec::new(), Vec::new());
    }
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, e) in xb.entries.iter().enumerate().rev() {
        by_name.entry(&e.path).or_default().push(j);
    }
    let mut pairs = Vec::new();
    let mut only_a = Vec::new();
    for (i, e) in xa.entries.iter().enumerate() {
        match by_name.get_mut(e.path.as_str()).and_then(Vec::pop) {
            Some(j) => pairs.push((i, j)),
            None => only_a.push(i),
        }
    }
    let mut only_b: Vec<usize> = by_name.into_values().flatten().collect();
    only_b.sort_unstable();
    if xa.format == Kind::Ar && xb.format == Kind::Ar {
        pair_deb_members(xa, xb, &mut pairs, &mut only_a, &mut only_b);
    }
    (pairs, only_a, only_b)
}

/// A `.deb`'s `control.tar.*` and `data.tar.*` pair across compression
/// suffixes (`data.tar.xz` with `data.tar.zst`), as diffoscope's deb
/// comparator does; each name pairs at most once.
///
/// The members of a `data.tar` are then compared like any tar's, even
/// when the `data.tar` is stored uncompressed. diffoscope 332 does not:
/// its `DebDataTarFile.recognizes` (meant for the decompressed stream of
/// `data.tar.xz`) also matches every member of an uncompressed `data.tar`,
/// reads each as a tar, finds nothing and falls back to a hexdump, so a
/// `changelog.gz` there is never looked into (its bug903401 fixtures);
/// repro's recursion is the correct one (bench/PARITY.md).
fn pair_deb_members(
    xa: &Container,
    xb: &Container,
    pairs: &mut Vec<(usize, usize)>,
    only_a: &mut Vec<usize>,
    only_b: &mut Vec<usize>,
) {
    fn stem(path: &str) -> Option<&'static str> {
        ["control.tar", "data.tar"].into_iter().find(|s| {
            path.strip_prefix(s)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
    }
    let mut paired = false;
    only_a.retain(|&i| {
        let Some(s) = stem(&xa.entries[i].path) else {
            return true;
        };
        let found = only_b
            .iter()
            .position(|&j| stem(&xb.entries[j].path) == Some(s));
        match found {
            Some(k) => {
                pairs.push((i, only_b.remove(k)));
                paired = true;
                false
            }
            None => true,
        }
    });
    if paired {
        pairs.sort_unstable();
    }
}

/// Field-by-field differences; a field recorded on one side only differs
/// from [`MetaValue::Absent`].
fn diff_fields(
    a: &[(MetaField, MetaValue)],
    b: &[(MetaField, MetaValue)],
) -> Vec<MetadataDifference> {
    let mut out = Vec::new();
    let diff = |field: &MetaField, source1: MetaValue, source2: MetaValue| MetadataDifference {
        field: field.clone(),
        source1,
        source2,
        hints: Vec::new(),
    };
    for (field, va) in a {
        match b.iter().find(|(f, _)| f == field) {
            Some((_, vb)) if vb == va => {}
            Some((_, vb)) => out.push(diff(field, va.clone(), vb.clone())),
            None => out.push(diff(field, va.clone(), MetaValue::Absent)),
        }
    }
    for (field, vb) in b {
        if !a.iter().any(|(f, _)| f == field) {
            out.push(diff(field, MetaValue::Absent, vb.clone()));
        }
    }
    out
}
