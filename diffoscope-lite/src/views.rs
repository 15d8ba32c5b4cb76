//! Listing views: a container's members as the lines of a listing, the way
//! diffoscope shows an archive's metadata (`file list` for tar and ar,
//! `zipinfo {}` and `zipnote {}` for zip).
//!
//! A member whose content is equal but whose mtime, mode, owner, comment
//! or extra field differs is shown as a changed line of its container's
//! listing, not as a node of its own; the differ renders the listings of
//! both sides from the entries the format's one reader yielded (no second
//! parser) and diffs them. Which metadata field a view shows is decided
//! here, so the differ can move exactly those fields into the view and
//! keep any other on the member.
//!
//! Formats are matched here rather than in their own files: a view is a
//! way of printing entries every reader already yields, and one `match`
//! over the closed [`Kind`] shows which formats have which views.

use std::fmt::Write as _;

use crate::formats::zip;
use crate::kind::Kind;
use crate::model::{Container, Entry, EntryKind, MetaField, MetaValue};
use crate::timefmt::format_utc;

/// One listing view of a container.
pub(crate) struct View {
    /// The node's name, as diffoscope names the command it runs.
    pub(crate) name: &'static str,
    /// Whether a difference of this field shows in this view's lines.
    pub(crate) shows: fn(&MetaField) -> bool,
    /// Appends what precedes the members' lines, from the container and
    /// its length in bytes when known.
    header: fn(&Container, Option<u64>, &mut String),
    /// Appends the member's lines (each ending in `\n`); none for a member
    /// this view does not list.
    line: fn(&Entry, &mut String),
    /// Appends what follows the members' lines, from the container's own
    /// header fields.
    footer: fn(&Container, &mut String),
}

/// No footer.
fn none(_: &Container, _: &mut String) {}

/// No header.
fn no_header(_: &Container, _: Option<u64>, _: &mut String) {}

/// The listing views of `kind`, the first of which also lists members
/// present on one side only; empty for containers without a listing of
/// their own (directories, ELF sections, compressed streams, pyc), whose
/// metadata stays on their members.
pub(crate) fn of(kind: Kind) -> &'static [View] {
    match kind {
        Kind::Tar | Kind::Ar | Kind::Cpio | Kind::Squashfs | Kind::Iso9660 => &[View {
            name: "file list",
            shows: shown_by_file_list,
            header: no_header,
            line: file_list_line,
            footer: none,
        }],
        Kind::Zip => &[
            View {
                name: "zipinfo {}",
                shows: shown_by_zipinfo,
                header: zipinfo_header,
                line: zipinfo_line,
                footer: zipinfo_footer,
            },
            View {
                name: "zipnote {}",
                shows: |f| *f == MetaField::Comment,
                header: no_header,
                line: zipnote_lines,
                footer: zipnote_footer,
            },
            // diffoscope shows extra fields in `zipdetails --redact --utc
            // {}`, a dump of every header; this view, named alike so the
            // two reports put it in the same place, lists just the extra
            // fields, one member a line.
            View {
                name: "zipdetails --redact --utc {}",
                shows: |f| *f == MetaField::ExtraField,
                header: no_header,
                line: zip_extra_line,
                footer: none,
            },
        ],
        Kind::Directory
        | Kind::OciLayout
        | Kind::Gzip
        | Kind::Xz
        | Kind::Zstd
        | Kind::Bzip2
        | Kind::Lz4
        | Kind::Lzma
        | Kind::Lzip
        | Kind::AndroidBoot
        | Kind::Pgp
        | Kind::RustObject
        | Kind::Elf
        | Kind::MachO
        | Kind::Pyc
        | Kind::Json
        | Kind::Text
        | Kind::Binary => &[],
    }
}

/// The name of the view that shows member `e` of a `kind` container, for
/// members that are views of their container rather than members of it:
/// an ar symbol table is the archive's index, shown by diffoscope as
/// `nm --print-armap {}` before the `file list`. `None` for a member.
pub(crate) fn of_member(kind: Kind, e: &Entry) -> Option<&'static str> {
    match (kind, &e.kind) {
        (Kind::Ar, EntryKind::Other(k)) if k == crate::formats::ar::SYMBOL_TABLE => {
            Some("nm --print-armap {}")
        }
        _ => None,
    }
}

impl View {
    /// The whole listing of `x` (`len` bytes long, when known), one
    /// member after another, in archive order.
    pub(crate) fn render(&self, x: &Container, len: Option<u64>) -> String {
        let mut out = String::new();
        (self.header)(x, len, &mut out);
        for e in &x.entries {
            (self.line)(e, &mut out);
        }
        (self.footer)(x, &mut out);
        out
    }

    /// The listing's lines sorted, for archives too long to diff in
    /// archive order (see the differ): each line then starts with the
    /// member's name, so that the sorted lines read in name order.
    /// The header and footer lines stay first and last.
    pub(crate) fn render_sorted(&self, x: &Container, len: Option<u64>) -> Vec<String> {
        let mut lines: Vec<String> = x
            .entries
            .iter()
            .flat_map(|e| {
                let mut s = String::new();
                (self.line)(e, &mut s);
                s.lines()
                    .map(|l| format!("{}\t{l}", e.path))
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort_unstable();
        let (mut header, mut footer) = (String::new(), String::new());
        (self.header)(x, len, &mut header);
        (self.footer)(x, &mut footer);
        header
            .lines()
            .map(str::to_owned)
            .chain(lines)
            .chain(footer.lines().map(str::to_owned))
            .collect()
    }
}

/// The fields that move from a member into the `file list`. A link target
/// or device numbers show in the listing's line too, but stay on the
/// member as well: diffoscope gives such a member a node of its own.
fn shown_by_file_list(f: &MetaField) -> bool {
    matches!(
        f,
        MetaField::Mode
            | MetaField::Uid
            | MetaField::Gid
            | MetaField::User
            | MetaField::Group
            | MetaField::Mtime
            | MetaField::EntryType
    )
}

fn shown_by_zipinfo(f: &MetaField) -> bool {
    matches!(
        f,
        MetaField::Mode
            | MetaField::Mtime
            | MetaField::Compression
            | MetaField::EntryType
            | MetaField::Attribute(zip::INTERNAL_ATTRIBUTES)
    )
}

/// `ls -l`'s ten characters: the type, then `rwx` three times with the
/// set-id and sticky bits; `?` where the format records no mode.
fn strmode(e: &Entry) -> String {
    let kind = match &e.kind {
        EntryKind::File | EntryKind::Other(_) => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink { .. } => 'l',
        EntryKind::Hardlink { .. } => 'h',
        EntryKind::Device { block: true, .. } => 'b',
        EntryKind::Device { block: false, .. } => 'c',
        EntryKind::Fifo => 'p',
    };
    let Some(m) = e.meta.mode else {
        return format!("{kind}?????????");
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    for (shift, special, set, unset) in [(6, 0o4000, 's', 'S'), (3, 0o2000, 's', 'S')] {
        let bits = (m >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(match (bits & 1 != 0, m & special != 0) {
            (true, true) => set,
            (false, true) => unset,
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    s.push(if m & 4 != 0 { 'r' } else { '-' });
    s.push(if m & 2 != 0 { 'w' } else { '-' });
    s.push(match (m & 1 != 0, m & 0o1000 != 0) {
        (true, true) => 't',
        (false, true) => 'T',
        (true, false) => 'x',
        (false, false) => '-',
    });
    s
}

/// An owner as libarchive's listing shows it: `name (id)` when the name
/// is recorded, else the id.
fn owner(name: Option<&str>, id: Option<u64>) -> String {
    let id = id.map_or_else(|| "-".to_owned(), |i| i.to_string());
    match name.filter(|n| !n.is_empty()) {
        Some(n) => format!("{n:<8} {:>7}", format!("({id})")),
        None => id,
    }
}

/// diffoscope's `file list` line (its `list_libarchive`):
/// `-rw-r--r--   0 user (1000) group (1000)   123 2020-01-01 00:00:00.000000 path`.
/// The link count is always 0 (neither tar nor ar records one, and
/// libarchive says 0); times are whole seconds, as repro reads them. A
/// hard link's target is shown (`path link to target`), which libarchive's
/// listing leaves out, so that a changed target shows.
fn file_list_line(e: &Entry, out: &mut String) {
    let m = &e.meta;
    let size = match &e.kind {
        EntryKind::Device { major, minor, .. } => format!("{major:>3},{minor:>3}"),
        _ => m.size.map_or_else(|| "-".to_owned(), |s| s.to_string()),
    };
    let mtime = m
        .mtime
        .map_or_else(|| "-".to_owned(), |t| format!("{}.000000", format_utc(t)));
    let name = match &e.kind {
        EntryKind::Symlink { target } => format!("{} -> {target}", e.path),
        EntryKind::Hardlink { target } => format!("{} link to {target}", e.path),
        _ => e.path.clone(),
    };
    let _ = writeln!(
        out,
        "{} {:>3} {:>8} {:>8} {size:>8} {mtime} {name}",
        strmode(e),
        0,
        owner(m.user.as_deref(), m.uid),
        owner(m.group.as_deref(), m.gid),
    );
}

/// A `zipinfo` line, shortened to what the zip reader records: mode, size,
/// text flag (`t` or `b`, as zipinfo's first flag letter), method, time
/// and name. zipinfo's version and host system are left out, and the time
/// has seconds (zipinfo shows minutes only, so a change of seconds would
/// not show).
fn zipinfo_line(e: &Entry, out: &mut String) {
    let m = &e.meta;
    let text = m.format.as_ref().is_some_and(|f| {
        f.attributes.iter().any(|(k, v)| {
            *k == zip::INTERNAL_ATTRIBUTES && matches!(v, MetaValue::Text(t) if t == zip::TEXT_FLAG)
        })
    });
    let flag = if text { 't' } else { 'b' };
    let method = m
        .format
        .as_ref()
        .and_then(|f| f.compression.as_deref())
        .unwrap_or("-");
    let mtime = m.mtime.map_or_else(|| "-".to_owned(), format_utc);
    let name = match &e.kind {
        EntryKind::Symlink { target } => format!("{} -> {target}", e.path),
        _ => e.path.clone(),
    };
    let size = m.size.map_or_else(|| "-".to_owned(), |s| s.to_string());
    let _ = writeln!(
        out,
        "{} {size:>8} {flag} {method} {mtime} {name}",
        strmode(e)
    );
}

/// zipinfo's first line (after `Archive:`, which diffoscope drops so
/// that the two files' names are no difference): the archive's size and
/// entry count.
fn zipinfo_header(x: &Container, len: Option<u64>, out: &mut String) {
    let len = len.map_or_else(|| "-".to_owned(), |l| l.to_string());
    let _ = writeln!(
        out,
        "Zip file size: {len} bytes, number of entries: {}",
        x.entries.len()
    );
}

/// zipinfo's last line: entries, bytes before and after compression and
/// the space saved, rounded to a tenth of a percent as zipinfo rounds it.
fn zipinfo_footer(x: &Container, out: &mut String) {
    let n = x.entries.len();
    let (mut plain, mut packed) = (0u64, 0u64);
    for e in &x.entries {
        plain = plain.saturating_add(e.meta.size.unwrap_or(0));
        let c = e.meta.format.as_ref().and_then(|f| f.compressed_size);
        packed = packed.saturating_add(c.unwrap_or(0));
    }
    let files = if n == 1 { "file" } else { "files" };
    let _ = writeln!(
        out,
        "{n} {files}, {plain} bytes uncompressed, {packed} bytes compressed:  {}",
        saved(plain, packed)
    );
}

/// The space compression saved, in zipinfo's words (its `ratio()`: per
/// mille, rounded half up, negative when the data grew).
fn saved(plain: u64, packed: u64) -> String {
    if plain == 0 {
        return "0.0%".into();
    }
    let (diff, sign) = if plain >= packed {
        (plain - packed, "")
    } else {
        (packed - plain, "-")
    };
    // Above 2 MB zipinfo divides first, so that 1000 × diff cannot
    // overflow its integers; u128 here never does, and rounds the same
    // within a tenth of a percent only below that: follow zipinfo.
    let permille = if plain > 2_000_000 {
        let denom = plain / 1000;
        (u128::from(diff) + u128::from(denom >> 1)) / u128::from(denom)
    } else {
        (1000 * u128::from(diff) + u128::from(plain >> 1)) / u128::from(plain)
    };
    format!("{sign}{}.{}%", permille / 10, permille % 10)
}

/// `zipnote`'s lines for one member: its name, its comment, a blank line.
fn zipnote_lines(e: &Entry, out: &mut String) {
    let comment = e
        .meta
        .format
        .as_ref()
        .and_then(|f| f.comment.as_deref())
        .unwrap_or("");
    let _ = write!(out, "Filename: {}\nComment: {comment}\n\n", e.path);
}

/// `zipnote`'s last line: the archive's comment.
fn zipnote_footer(x: &Container, out: &mut String) {
    let comment = x.meta.iter().find_map(|(f, v)| match (f, v) {
        (MetaField::Header("zip comment"), MetaValue::Text(c)) => Some(c.as_str()),
        _ => None,
    });
    let _ = writeln!(out, "Zip file comment: {}", comment.unwrap_or(""));
}

/// One line per member with extra fields: its name and the fields in hex.
fn zip_extra_line(e: &Entry, out: &mut String) {
    let extra = e.meta.format.as_ref().and_then(|f| f.extra.as_ref());
    if let Some(extra) = extra.filter(|x| !x.is_empty()) {
        let _ = writeln!(out, "{}: extra fields {}", e.path, hex::encode(extra));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Content, Metadata};

    fn entry(path: &str, kind: EntryKind, mode: u32) -> Entry {
        Entry {
            path: path.into(),
            kind,
            meta: Metadata {
                mode: Some(mode),
                uid: Some(1000),
                gid: Some(0),
                user: Some("me".into()),
                mtime: Some(1_577_836_800),
                size: Some(5),
                ..Metadata::default()
            },
            content: Content::empty(),
            digest: None,
        }
    }

    #[test]
    fn file_list_lines_read_like_libarchives() {
        let mut out = String::new();
        file_list_line(&entry("a.txt", EntryKind::File, 0o644), &mut out);
        file_list_line(
            &entry(
                "l",
                EntryKind::Symlink {
                    target: "a.txt".into(),
                },
                0o777,
            ),
            &mut out,
        );
        file_list_line(&entry("bin/su", EntryKind::File, 0o4755), &mut out);
        file_list_line(&entry("tmp", EntryKind::Dir, 0o1777), &mut out);
        assert_eq!(
            out,
            "-rw-r--r--   0 me        (1000)        0        5 2020-01-01 00:00:00.000000 a.txt\n\
             lrwxrwxrwx   0 me        (1000)        0        5 2020-01-01 00:00:00.000000 l -> a.txt\n\
             -rwsr-xr-x   0 me        (1000)        0        5 2020-01-01 00:00:00.000000 bin/su\n\
             drwxrwxrwt   0 me        (1000)        0        5 2020-01-01 00:00:00.000000 tmp\n"
        );
    }

    #[test]
    fn zipinfo_header_and_footer_read_like_zipinfos() {
        // Figures from Info-ZIP zipinfo 3.0 on diffoscope's test1.zip and
        // test2.zip, and the rounding of its ratio() at the edges.
        assert_eq!(saved(446, 269), "39.7%");
        assert_eq!(saved(671, 412), "38.6%");
        assert_eq!(saved(0, 0), "0.0%");
        assert_eq!(saved(10, 20), "-100.0%");
        assert_eq!(saved(3_000_000, 1_000_000), "66.7%");
        let mut dir = entry("dir/", EntryKind::Dir, 0o755);
        dir.meta.size = Some(0);
        let mut text = entry("dir/text", EntryKind::File, 0o644);
        text.meta.size = Some(446);
        text.meta.format = crate::model::FormatMetadata {
            compressed_size: Some(269),
            ..Default::default()
        }
        .boxed();
        let x = Container {
            format: Kind::Zip,
            entries: vec![dir, text],
            meta: Vec::new(),
            comments: Vec::new(),
            single_stream: false,
            ordered: true,
        };
        let zipinfo = &of(Kind::Zip)[0];
        let out = zipinfo.render(&x, Some(571));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Zip file size: 571 bytes, number of entries: 2");
        assert_eq!(
            lines[3],
            "2 files, 446 bytes uncompressed, 269 bytes compressed:  39.7%"
        );
        // Sorted (long archives): the same lines, header and footer kept
        // in place.
        let sorted = zipinfo.render_sorted(&x, None);
        assert_eq!(sorted[0], "Zip file size: - bytes, number of entries: 2");
        assert_eq!(sorted[3], lines[3]);
    }

    #[test]
    fn every_field_a_view_shows_changes_its_lines() {
        // The differ moves a field into a view only if the view shows it:
        // a change of each such field must change the rendered line.
        let base = entry("a", EntryKind::File, 0o644);
        let changes: Vec<(MetaField, Entry)> = vec![
            (MetaField::Mode, {
                let mut e = base.clone();
                e.meta.mode = Some(0o664);
                e
            }),
            (MetaField::Uid, {
                let mut e = base.clone();
                e.meta.uid = Some(1);
                e
            }),
            (MetaField::Gid, {
                let mut e = base.clone();
                e.meta.gid = Some(1);
                e
            }),
            (MetaField::User, {
                let mut e = base.clone();
                e.meta.user = Some("you".into());
                e
            }),
            (MetaField::Group, {
                let mut e = base.clone();
                e.meta.group = Some("wheel".into());
                e
            }),
            (MetaField::Mtime, {
                let mut e = base.clone();
                e.meta.mtime = Some(1);
                e
            }),
            (MetaField::EntryType, {
                let mut e = base.clone();
                e.kind = EntryKind::Fifo;
                e
            }),
            (MetaField::Compression, {
                let mut e = base.clone();
                e.meta.format = crate::model::FormatMetadata {
                    compression: Some("deflate".into()),
                    ..Default::default()
                }
                .boxed();
                e
            }),
            (MetaField::Comment, {
                let mut e = base.clone();
                e.meta.format = crate::model::FormatMetadata {
                    comment: Some("c".into()),
                    ..Default::default()
                }
                .boxed();
                e
            }),
            (MetaField::ExtraField, {
                let mut e = base.clone();
                e.meta.format = crate::model::FormatMetadata {
                    extra: Some(vec![1]),
                    ..Default::default()
                }
                .boxed();
                e
            }),
        ];
        for kind in [Kind::Tar, Kind::Zip] {
            for (field, changed) in &changes {
                for v in of(kind).iter().filter(|v| (v.shows)(field)) {
                    let (mut a, mut b) = (String::new(), String::new());
                    (v.line)(&base, &mut a);
                    (v.line)(changed, &mut b);
                    assert_ne!(a, b, "{kind} {} does not show {field}", v.name);
                }
            }
        }
    }
}
