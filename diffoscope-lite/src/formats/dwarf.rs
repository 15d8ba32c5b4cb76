//! DWARF debug information decoded as text, for the ELF reader (and any
//! other object format that carries `.debug_*` sections).
//!
//! `.debug_info` is shown as its compile units and their entries, one
//! attribute per line with strings resolved (producer, name, comp_dir), and
//! `.debug_line` as each line program's header, directory and file tables
//! and rows. Build paths and compiler versions then read as text in a diff
//! and get hints, where a hexdump would show a string offset.
//!
//! A view is not reversible: each comes with the SHA-256 of the section's
//! bytes, so that the reader can fall back to the bytes when two views are
//! equal but the sections are not (what the decoding does not show must
//! still show). Views are capped at [`VIEW_MAX`] bytes (strings are shared, so a small section
//! can name a long string many times); decoding reads only the sections
//! handed in, never allocates by a length the data declares, and a
//! decoding error leaves the section to be compared as bytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use gimli::{AttributeValue, Dwarf, EndianSlice, Reader, RelocateReader, RunTimeEndian, SectionId};
use sha2::{Digest as _, Sha256};

use super::Parsed;
use crate::model::{Container, Content, Cx, Entry, Source};
use crate::Result;
use std::sync::Arc;

/// Largest DWARF section (or relocatable object) decoded; larger ones are
/// compared as bytes.
pub(crate) const SECTION_MAX: u64 = 256 << 20;

/// Largest decoded view of one section; the rest is cut with a marker
/// (the trailing digest still tells differing sections apart).
pub(crate) const VIEW_MAX: usize = 64 << 20;

/// The bytes of each DWARF section of one object (decompressed), with the
/// relocations of a relocatable object (`.o`), whose string and line
/// offsets are only in its relocations.
#[derive(Default)]
pub(crate) struct Sections {
    /// Section bytes by canonical name (`.debug_info`).
    pub(crate) bytes: HashMap<&'static str, Vec<u8>>,
    /// Relocations by canonical section name, for relocatable objects.
    pub(crate) relocations: HashMap<&'static str, object::RelocationMap>,
}

/// The canonical name of a DWARF section this module reads, from the name
/// an object file gives it (`.debug_info`, `.zdebug_info`, `__debug_info`).
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    let rest = name
        .strip_prefix(".debug_")
        .or_else(|| name.strip_prefix(".zdebug_"))
        .or_else(|| name.strip_prefix("__debug_"))
        .or_else(|| name.strip_prefix("__zdebug_"))?;
    ALL.iter()
        .copied()
        .find(|id| id.name().strip_prefix(".debug_").is_some_and(|n| n == rest))
        .map(SectionId::name)
}

/// The sections decoding may read.
const ALL: &[SectionId] = &[
    SectionId::DebugAbbrev,
    SectionId::DebugAddr,
    SectionId::DebugInfo,
    SectionId::DebugLine,
    SectionId::DebugLineStr,
    SectionId::DebugStr,
    SectionId::DebugStrOffsets,
];

/// The sections shown as decoded views.
pub(crate) const VIEWED: &[&str] = &[".debug_info", ".debug_line"];

/// Relocations of one section, applied as gimli reads offsets and addresses.
#[derive(Clone, Copy, Debug)]
struct Relocs<'a>(Option<&'a object::RelocationMap>);

impl gimli::read::Relocate for Relocs<'_> {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        Ok(self.0.map_or(value, |m| m.relocate(offset as u64, value)))
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        let Some(m) = self.0 else { return Ok(value) };
        <usize as gimli::ReaderOffset>::from_u64(m.relocate(offset as u64, value as u64))
    }
}

type R<'a> = RelocateReader<EndianSlice<'a, RunTimeEndian>, Relocs<'a>>;

/// One decoded section: its name, view and the SHA-256 of its bytes.
pub(crate) type DecodedView = (&'static str, String, [u8; 32]);

/// The decoded views of `.debug_info` and `.debug_line`; a section that
/// does not decode is left out, with why in the errors.
pub(crate) fn views(sections: &Sections, little_endian: bool) -> (Vec<DecodedView>, Vec<String>) {
    let endian = if little_endian {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let dwarf = Dwarf::load(|id| -> gimli::Result<R<'_>> {
        let bytes = sections.bytes.get(id.name()).map_or(&[][..], Vec::as_slice);
        Ok(RelocateReader::new(
            EndianSlice::new(bytes, endian),
            Relocs(sections.relocations.get(id.name())),
        ))
    });
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let Ok(dwarf) = dwarf else {
        return (out, errors);
    };
    for name in VIEWED {
        let Some(raw) = sections.bytes.get(name) else {
            continue;
        };
        let mut view = View::default();
        let decoded = match *name {
            ".debug_info" => info(&dwarf, &mut view),
            _ => lines(&dwarf, &mut view),
        };
        match decoded {
            Ok(()) => out.push((*name, view.finish(), Sha256::digest(raw).into())),
            Err(e) => errors.push(format!("{name} does not decode ({e}); compared as bytes")),
        }
    }
    (out, errors)
}

/// A section entry shown as a decoded view: its index, its bytes and their
/// SHA-256, and what the view decodes (named when equal views fall back).
pub(crate) struct Decoded {
    index: usize,
    raw: Content,
    digest: [u8; 32],
    what: &'static str,
}

impl Decoded {
    /// Entry `index`, now a view of `what` decoded from `bytes`, the
    /// content `raw`.
    pub(crate) fn new(index: usize, raw: Content, bytes: &[u8], what: &'static str) -> Self {
        Decoded {
            index,
            raw,
            digest: Sha256::digest(bytes).into(),
            what,
        }
    }
}

/// For each pair of decoded sections (paired by name and occurrence, as
/// the differ pairs entries) with equal views and different bytes: both
/// back to bytes, with a comment saying so.
fn undecode_equal_views(
    (xa, da): (&mut Container, &[Decoded]),
    (xb, db): (&mut Container, &[Decoded]),
) {
    // Paired as the differ will pair them, once: an object of thousands of
    // sections (a Rust object's .text.* per function) must not be a search
    // per section.
    let (pairs, _, _) = crate::compare::pair_entries(xa, xb);
    let partner: HashMap<usize, usize> = pairs.into_iter().collect();
    let in_b: HashMap<usize, &Decoded> = db.iter().map(|d| (d.index, d)).collect();
    let view = |x: &Container, index: usize| match x.entries.get(index).map(|e| &e.content.0) {
        Some(Source::Decoded(m)) => Some(Arc::clone(m)),
        _ => None,
    };
    for a in da {
        let Some(b) = partner.get(&a.index).and_then(|j| in_b.get(j)) else {
            continue;
        };
        if a.digest == b.digest || view(xa, a.index) != view(xb, b.index) {
            continue;
        }
        let name = xa.entries.get(a.index).map_or("", |e| e.path.as_str());
        let comment = format!(
            "{name}: the decoded {} is the same on both sides but the bytes differ; \
             compared as bytes",
            a.what
        );
        for (x, d) in [(&mut *xa, a), (&mut *xb, *b)] {
            if let Some(e) = x.entries.get_mut(d.index) {
                e.content = d.raw.clone();
            }
            x.comments.push(comment.clone());
        }
    }
}

/// An object reader that decodes DWARF: the container and what it decoded.
pub(crate) type ReadDecoded = fn(&Content, &str, &Cx<'_>) -> Result<(Container, Vec<Decoded>)>;

/// Both sides of a pair read with `read`, then a DWARF section whose
/// decoded views are equal but whose bytes are not goes back to its bytes
/// (a view does not show everything; equal views must never hide a
/// difference): the `read_pair` of object formats that decode DWARF.
pub(crate) fn read_pair(
    read: ReadDecoded,
    (ca, na, cxa): (&Content, &str, &Cx<'_>),
    (cb, nb, cxb): (&Content, &str, &Cx<'_>),
) -> (Result<Parsed>, Result<Parsed>) {
    let (a, b) = rayon::join(|| read(ca, na, cxa), || read(cb, nb, cxb));
    match (a, b) {
        (Ok((mut xa, da)), Ok((mut xb, db))) => {
            undecode_equal_views((&mut xa, &da), (&mut xb, &db));
            (Ok(Parsed::Container(xa)), Ok(Parsed::Container(xb)))
        }
        (a, b) => (
            a.map(|(c, _)| Parsed::Container(c)),
            b.map(|(c, _)| Parsed::Container(c)),
        ),
    }
}

/// Reads the bytes of the DWARF sections an object reader found, each
/// `(canonical name, name in the file, content)`, into `sections`; a
/// section larger than [`SECTION_MAX`] stops it, with the comment saying
/// so (the DWARF is then compared as bytes).
pub(crate) fn read_sections(
    found: &[(&'static str, &str, &Content)],
    object: &str,
    cx: &Cx<'_>,
    sections: &mut Sections,
) -> Result<Option<String>> {
    for (id, name, body) in found {
        let nested = format!("{object}::{name}");
        let Some(bytes) = body.read_capped(cx, &nested, SECTION_MAX)? else {
            return Ok(Some(format!(
                "{name} is larger than {SECTION_MAX} bytes: DWARF compared as bytes"
            )));
        };
        sections.bytes.insert(id, bytes);
    }
    Ok(None)
}

/// Decodes `sections` and gives each found entry `(index in entries,
/// canonical name, its bytes)` of a viewed section its decoded view:
/// the errors (sections that do not decode), and what was decoded.
pub(crate) fn decode_into(
    entries: &mut [Entry],
    found: &[(usize, &'static str, Content)],
    sections: &Sections,
    little_endian: bool,
) -> (Vec<String>, Vec<Decoded>) {
    let (views, errors) = views(sections, little_endian);
    let mut decoded = Vec::new();
    for (id, view, digest) in views {
        for (index, _, raw) in found.iter().filter(|f| f.1 == id) {
            if let Some(e) = entries.get_mut(*index) {
                e.content = Content::decoded_view(view.clone());
                decoded.push(Decoded {
                    index: *index,
                    raw: raw.clone(),
                    digest,
                    what: "DWARF",
                });
            }
        }
    }
    (errors, decoded)
}

/// A view being written, cut at [`VIEW_MAX`].
#[derive(Default)]
pub(crate) struct View {
    text: String,
    cut: bool,
}

impl View {
    /// Adds a line, unless the view was cut.
    pub(crate) fn line(&mut self, line: std::fmt::Arguments<'_>) {
        if self.cut {
            return;
        }
        let _ = writeln!(self.text, "{line}");
        if self.text.len() > VIEW_MAX {
            self.cut = true;
        }
    }

    /// Whether the view was cut: what is left to render is not shown.
    pub(crate) fn is_cut(&self) -> bool {
        self.cut
    }

    /// The text, with a marker if it was cut.
    pub(crate) fn finish(mut self) -> String {
        if self.cut {
            let _ = writeln!(self.text, "[ view cut at {VIEW_MAX} bytes ]");
        }
        self.text
    }
}

fn lossy(r: &R<'_>) -> String {
    match r.to_slice() {
        Ok(Cow::Borrowed(b)) => String::from_utf8_lossy(b).into_owned(),
        Ok(Cow::Owned(b)) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => format!("<{e}>"),
    }
}

/// Every unit, then every entry with its attributes, indented by depth.
fn info(dwarf: &Dwarf<R<'_>>, out: &mut View) -> gimli::Result<()> {
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let offset = header.offset().as_debug_info_offset().map_or(0, |o| o.0);
        out.line(format_args!(
            "unit at {offset:#x}: DWARF {}, {:?}, address size {}",
            header.version(),
            header.type_(),
            header.address_size()
        ));
        let unit = dwarf.unit(header)?;
        let mut entries = unit.entries();
        let mut depth = 0isize;
        while let Some((delta, entry)) = entries.next_dfs()? {
            depth += delta;
            let indent = "  ".repeat(usize::try_from(depth).unwrap_or(0) + 1);
            out.line(format_args!("{indent}<{depth}> {}", entry.tag()));
            let mut attrs = entry.attrs();
            while let Some(attr) = attrs.next()? {
                let value = value(dwarf, &unit, attr.value());
                out.line(format_args!("{indent}  {}: {value}", attr.name()));
            }
            if out.cut {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// An attribute's value: strings resolved, references as offsets.
fn value(dwarf: &Dwarf<R<'_>>, unit: &gimli::Unit<R<'_>>, v: AttributeValue<R<'_>>) -> String {
    if let Ok(s) = dwarf.attr_string(unit, v.clone()) {
        return lossy(&s);
    }
    match v {
        AttributeValue::Addr(a) => format!("{a:#x}"),
        AttributeValue::Data1(n) => n.to_string(),
        AttributeValue::Data2(n) => n.to_string(),
        AttributeValue::Data4(n) => n.to_string(),
        AttributeValue::Data8(n) => n.to_string(),
        AttributeValue::Udata(n) => n.to_string(),
        AttributeValue::Sdata(n) => n.to_string(),
        AttributeValue::Flag(f) => f.to_string(),
        AttributeValue::UnitRef(o) => format!("<{:#x}>", o.0),
        AttributeValue::DebugInfoRef(o) => format!("<.debug_info+{:#x}>", o.0),
        AttributeValue::DebugLineRef(o) => format!(".debug_line+{:#x}", o.0),
        AttributeValue::SecOffset(o) => format!("{o:#x}"),
        AttributeValue::Exprloc(e) => format!("expression {}", hex_of(&e.0)),
        AttributeValue::Block(b) => format!("block {}", hex_of(&b)),
        AttributeValue::Language(l) => l.to_string(),
        AttributeValue::Encoding(e) => e.to_string(),
        AttributeValue::FileIndex(i) => match file_path(dwarf, unit, i) {
            Some(path) => format!("{i} ({path})"),
            None => i.to_string(),
        },
        other => format!("{other:?}"),
    }
}

fn hex_of(r: &R<'_>) -> String {
    r.to_slice()
        .map_or_else(|e| format!("<{e}>"), |b| crate::leaf::hex_words(&b))
}

/// The path of file `index` of the unit's line program, with its directory.
fn file_path(dwarf: &Dwarf<R<'_>>, unit: &gimli::Unit<R<'_>>, index: u64) -> Option<String> {
    let header = unit.line_program.as_ref()?.header();
    let file = header.file(index)?;
    let name = dwarf.attr_string(unit, file.path_name()).ok()?;
    let dir = file
        .directory(header)
        .and_then(|d| dwarf.attr_string(unit, d).ok());
    Some(match dir {
        Some(dir) => format!("{}/{}", lossy(&dir), lossy(&name)),
        None => lossy(&name),
    })
}

/// Each unit's line program: header, directories, files and rows. Rows
/// name files by index, so a changed directory shows in the tables only.
fn lines(dwarf: &Dwarf<R<'_>>, out: &mut View) -> gimli::Result<()> {
    let mut units = dwarf.units();
    let mut seen = std::collections::HashSet::new();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let Some(program) = unit.line_program.clone() else {
            continue;
        };
        let offset = program.header().offset().0;
        if !seen.insert(offset) {
            continue;
        }
        let h = program.header();
        out.line(format_args!(
            "line program at {offset:#x}: DWARF {}, minimum instruction length {}, \
             default is_stmt {}, line base {}, line range {}, opcode base {}",
            h.version(),
            h.minimum_instruction_length(),
            h.default_is_stmt(),
            h.line_base(),
            h.line_range(),
            h.opcode_base()
        ));
        // DWARF 5 counts directories and files from 0, earlier versions
        // from 1 (0 being the unit's own directory and name).
        let first = u64::from(h.version() < 5);
        for (i, dir) in (first..).zip(h.include_directories()) {
            let dir = value(dwarf, &unit, dir.clone());
            out.line(format_args!("  directory {i}: {dir}"));
        }
        for (i, file) in (first..).zip(h.file_names()) {
            let name = value(dwarf, &unit, file.path_name());
            let md5 = if h.file_has_md5() {
                format!(", md5 {}", hex::encode(file.md5()))
            } else {
                String::new()
            };
            out.line(format_args!(
                "  file {i}: {name} (directory {}){md5}",
                file.directory_index()
            ));
        }
        let mut rows = program.rows();
        while let Some((_, row)) = rows.next_row()? {
            let column = match row.column() {
                gimli::ColumnType::LeftEdge => 0,
                gimli::ColumnType::Column(c) => c.get(),
            };
            let line = row.line().map_or(0, |l| l.get());
            let mut flags = String::new();
            for (set, name) in [
                (row.is_stmt(), " stmt"),
                (row.prologue_end(), " prologue_end"),
                (row.end_sequence(), " end_sequence"),
            ] {
                if set {
                    flags.push_str(name);
                }
            }
            out.line(format_args!(
                "  {:#x} file {} line {line} column {column}{flags}",
                row.address(),
                row.file_index()
            ));
            if out.cut {
                return Ok(());
            }
        }
    }
    Ok(())
}
