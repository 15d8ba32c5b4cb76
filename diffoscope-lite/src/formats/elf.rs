//! ELF objects, executables and shared libraries, read as a container of
//! sections: the differ then says *which* sections differ instead of
//! showing one hexdump of the whole file.
//!
//! The file header's class, byte order, OS/ABI, type, machine, entry point
//! and flags are the container's own metadata; each section is an entry
//! named after it, with its type, flags, address and size as metadata and
//! its bytes as content (a byte range of the file, never loaded whole).
//! Sections that hold strings (`.comment`, `.rodata`, string tables,
//! `.debug_str`, `.interp`, …) are compared through a reversible printable
//! rendering, one string per line, so build paths and versions read as text
//! in the diff; notes (`.note.gnu.build-id`) are shown as owner, type and
//! hex descriptor. `.debug_info` and `.debug_line` are decoded as text
//! ([`super::dwarf`]), symbol tables as `readelf --symbols` lines
//! ([`super::elf_symbols`]) and x86 machine code as `objdump -d` lines
//! ([`super::disassembly`]). Everything else is compared as bytes.
//!
//! Compressed sections (`SHF_COMPRESSED` with a zlib or zstd compression
//! header, as `-gz` and `--compress-debug-sections` make them, and the
//! older `.zdebug_*` sections with their `ZLIB` header) are compared by
//! their decompressed bytes, under the same limits as any other stream:
//! compressed bytes differ wholesale when a single byte inside changes.
//!
//! Only the header, the section header table, the section name table and
//! symbol tables with their string tables (each under its cap) are read
//! into memory, each after checking that it lies inside the file. Program
//! headers and relocations are not interpreted: bytes they change show up
//! in the sections that hold them, and bytes outside every section fall
//! back to the container's whole-file hexdump.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use object::elf;
use object::read::elf::{CompressionHeader, FileHeader, NoteIterator, SectionHeader};
use object::read::StringTable;
use object::{Endian, Endianness};

use super::dwarf::Decoded;
use super::{Format, Kind, Parsed};
use crate::model::{
    Container, Content, Cx, Entry, EntryKind, FormatMetadata, MetaField, MetaValue, Metadata,
    Source, INLINE_MAX,
};
use crate::Result;

/// ELF files.
pub struct Elf;

impl Format for Elf {
    fn kind(&self) -> Kind {
        Kind::Elf
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(&elf::ELFMAG)
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        read_decoded(content, name, cx).map(|(c, _)| Parsed::Container(c))
    }

    /// Both sides, then a DWARF section whose decoded views are equal but
    /// whose bytes are not goes back to its bytes (a view does not show
    /// everything; equal views must never hide a difference).
    fn read_pair(
        &self,
        a: (&Content, &str, &Cx<'_>),
        b: (&Content, &str, &Cx<'_>),
    ) -> (Result<Parsed>, Result<Parsed>) {
        super::dwarf::read_pair(read_decoded, a, b)
    }
}

/// Reads an ELF file, with the DWARF sections it decoded.
fn read_decoded(content: &Content, name: &str, cx: &Cx<'_>) -> Result<(Container, Vec<Decoded>)> {
    Reader::open(content, name, cx, Kind::Elf, read_elf)
}

/// Reads the ELF file `r`, with the DWARF sections it decoded.
fn read_elf(r: &Reader<'_>) -> Result<(Container, Vec<Decoded>)> {
    let len = r.len;
    let mut ident = [0u8; 64];
    let n = usize::try_from(len).unwrap_or(usize::MAX).min(ident.len());
    r.read_at(&mut ident[..n], 0)?;
    let head = &ident[..n];
    // e_ident[EI_CLASS]: 32 or 64 bits, which decides the header layout.
    let container = match head.get(4) {
        Some(&elf::ELFCLASS64) => r.container::<elf::FileHeader64<Endianness>>(head),
        Some(&elf::ELFCLASS32) => r.container::<elf::FileHeader32<Endianness>>(head),
        Some(other) => Err(r.bad(format!("unknown ELF class {other}"))),
        None => Err(r.bad(format!("{len} bytes are too short for an ELF header"))),
    }?;
    Ok(container)
}

use super::ranged::Ranged as Reader;

impl Reader<'_> {
    fn container<H: FileHeader<Endian = Endianness>>(
        &self,
        head: &[u8],
    ) -> Result<(Container, Vec<Decoded>)> {
        let header = H::parse(head).map_err(|e| self.bad(e.to_string()))?;
        let endian = header.endian().map_err(|e| self.bad(e.to_string()))?;
        let meta = header_fields(header, endian);

        let shoff: u64 = header.e_shoff(endian).into();
        let entsize = std::mem::size_of::<H::SectionHeader>();
        if shoff == 0 {
            return Ok((container(meta, Vec::new()), Vec::new()));
        }
        if usize::from(header.e_shentsize(endian)) != entsize {
            return Err(self.bad(format!(
                "section header size {} (expected {entsize})",
                header.e_shentsize(endian)
            )));
        }
        // Section 0 holds the real count and name-table index when they do
        // not fit the file header (extended numbering).
        let first = self.read_vec("section header 0", shoff, entsize as u64)?;
        let section_0 = object::pod::from_bytes::<H::SectionHeader>(&first)
            .map_err(|()| self.bad("section header 0 is cut off".into()))?
            .0;
        let count: u64 = match header.e_shnum(endian) {
            0 => section_0.sh_size(endian).into(),
            n => n.into(),
        };
        let table_size = count
            .checked_mul(entsize as u64)
            .ok_or_else(|| self.bad(format!("{count} section headers")))?;
        let table = self.read_vec("section header table", shoff, table_size)?;
        let sections = object::pod::slice_from_all_bytes::<H::SectionHeader>(&table)
            .map_err(|()| self.bad("section header table is cut off".into()))?;
        let names_index = match header.e_shstrndx(endian) {
            elf::SHN_XINDEX => section_0.sh_link(endian),
            n => u32::from(n),
        };
        let names = match usize::try_from(names_index)
            .ok()
            .and_then(|i| sections.get(i))
        {
            Some(s) if names_index != 0 => {
                let (offset, size) = s.file_range(endian).unwrap_or((0, 0));
                self.read_vec("section name table", offset, size)?
            }
            _ => Vec::new(),
        };
        let strings = StringTable::new(&names[..], 0, names.len() as u64);

        let mut entries = Vec::new();
        // DWARF sections as stored (decompressed), by entry index.
        let mut dwarf = Vec::new();
        // Sections some REL/RELA section applies to.
        let mut relocated = std::collections::HashSet::new();
        // Symbol tables: (entry index, type, string table's section index,
        // bytes).
        let mut symbol_tables = Vec::new();
        // Machine code this reader disassembles: (entry index, section
        // index, address, bytes).
        let bitness = super::disassembly::bitness(header.e_machine(endian));
        let mut code = Vec::new();
        for (index, s) in sections.iter().enumerate().skip(1) {
            let section_name = match s.name(endian, strings) {
                Ok(n) if !n.is_empty() => String::from_utf8_lossy(n).into_owned(),
                _ => format!("(section {index})"),
            };
            let nested = format!("{}::{section_name}", self.name);
            self.cx.budget.add_entry(&nested)?;
            let sh_type = s.sh_type(endian);
            if matches!(sh_type, elf::SHT_REL | elf::SHT_RELA) {
                relocated.insert(s.sh_info(endian) as usize);
            }
            let flags: u64 = s.sh_flags(endian).into();
            let size: u64 = s.sh_size(endian).into();
            let mut attributes = vec![
                ("section type", MetaValue::Text(section_type(sh_type))),
                ("section flags", MetaValue::Text(section_flags(flags))),
                ("section address", MetaValue::Hex(s.sh_addr(endian).into())),
                ("section size", MetaValue::Number(size)),
            ];
            let body = match s.file_range(endian) {
                Some((offset, size)) => {
                    self.check_range(&format!("section {section_name}"), offset, size)?;
                    let compressed = flags & u64::from(elf::SHF_COMPRESSED) != 0;
                    let legacy = section_name.starts_with(".zdebug");
                    match self.decompressed::<H>(offset, size, endian, compressed, legacy)? {
                        Some((body, method, full_size)) => {
                            attributes.push(("compression", MetaValue::Text(method)));
                            attributes.push(("uncompressed size", MetaValue::Number(full_size)));
                            body
                        }
                        None => self.range(offset, size),
                    }
                }
                // SHT_NOBITS (.bss): only the size, compared as metadata.
                None => Content::empty(),
            };
            if let Some(id) = super::dwarf::canonical(&section_name) {
                dwarf.push((entries.len(), index, id, section_name.clone(), body.clone()));
            }
            if matches!(sh_type, elf::SHT_SYMTAB | elf::SHT_DYNSYM) {
                symbol_tables.push((entries.len(), sh_type, s.sh_link(endian), body.clone()));
            }
            if bitness.is_some()
                && flags & u64::from(elf::SHF_EXECINSTR) != 0
                && sh_type != elf::SHT_NOBITS
            {
                code.push((entries.len(), index, s.sh_addr(endian).into(), body.clone()));
            }
            let body = if sh_type == elf::SHT_NOTE {
                self.notes::<H>(body, &nested, endian, s.sh_addralign(endian))?
            } else if holds_strings(&section_name, sh_type, flags) {
                body.printable()
            } else {
                body
            };
            entries.push(Entry {
                path: section_name,
                kind: EntryKind::File,
                meta: Metadata {
                    size: Some(size),
                    order: entries.len(),
                    format: FormatMetadata {
                        attributes,
                        ..FormatMetadata::default()
                    }
                    .boxed(),
                    ..Metadata::default()
                },
                content: body,
                digest: None,
            });
        }
        // Only a relocatable object's DWARF has relocations, and then its
        // string and line offsets are in them (zeros in the section).
        let relocatable = header.e_type(endian) == elf::ET_REL
            && dwarf.iter().any(|(_, index, ..)| relocated.contains(index));
        let (mut comments, mut decoded) =
            self.decode_dwarf::<H>(&mut entries, dwarf, relocatable, header.is_little_endian())?;
        // Function names for the disassembly: .symtab's, else (a stripped
        // file) .dynsym's.
        let (mut labels, mut dynamic_labels) = (None, None);
        // Views of this file so far: many section headers can name the same
        // large table or code, and each would be a view of its own.
        let mut shown = 0usize;
        let over_budget = |name: &str| {
            format!(
                "{name}: the decoded views of this file reached {VIEWS_MAX} bytes; \
                 compared as bytes"
            )
        };
        for (entry, sh_type, link, raw) in symbol_tables {
            if shown >= VIEWS_MAX {
                comments.push(over_budget(&entries[entry].path));
                continue;
            }
            let strings = usize::try_from(link).ok().and_then(|i| sections.get(i));
            match self.symbols::<H>(&entries[entry].path, &raw, strings, endian)? {
                Ok(read) => {
                    shown += read.view.len();
                    entries[entry].content = Content::decoded_view(read.view);
                    decoded.push(Decoded::new(entry, raw, &read.bytes, "symbol table"));
                    let slot = if sh_type == elf::SHT_SYMTAB {
                        &mut labels
                    } else {
                        &mut dynamic_labels
                    };
                    slot.get_or_insert(read.labels);
                }
                Err(why) => comments.push(why),
            }
        }
        let labels = labels.or(dynamic_labels).unwrap_or_default();
        for (entry, index, address, raw) in code {
            let Some(bitness) = bitness else { break };
            if shown >= VIEWS_MAX {
                comments.push(over_budget(&entries[entry].path));
                continue;
            }
            let names = u16::try_from(index)
                .ok()
                .and_then(|i| labels.get(&i))
                .cloned()
                .unwrap_or_default();
            let name = entries[entry].path.clone();
            match self.disassemble(&name, &raw, address, bitness, names)? {
                Ok((view, bytes)) => {
                    shown += view.len();
                    entries[entry].content = Content::decoded_view(view);
                    decoded.push(Decoded::new(entry, raw, &bytes, "machine code"));
                }
                Err(why) => comments.push(why),
            }
        }
        let mut c = container(meta, entries);
        c.comments = comments;
        Ok((c, decoded))
    }

    /// Replaces the content of `.debug_info` and `.debug_line` with their
    /// decoded views (see [`super::dwarf`]); what could not be decoded
    /// stays bytes, with a comment saying why.
    fn decode_dwarf<H: FileHeader<Endian = Endianness>>(
        &self,
        entries: &mut [Entry],
        found: Vec<(usize, usize, &'static str, String, Content)>,
        relocatable: bool,
        little_endian: bool,
    ) -> Result<(Vec<String>, Vec<Decoded>)> {
        use object::{Object as _, ObjectSection as _};
        let mut comments = Vec::new();
        let mut decoded = Vec::new();
        if !found
            .iter()
            .any(|(_, _, id, ..)| super::dwarf::VIEWED.contains(id))
        {
            return Ok((comments, decoded));
        }
        let too_large = |what: &str| {
            format!(
                "{what} is larger than {} bytes: DWARF compared as bytes",
                super::dwarf::SECTION_MAX
            )
        };
        let mut sections = super::dwarf::Sections::default();
        let bodies: Vec<_> = found
            .iter()
            .map(|(_, _, id, name, body)| (*id, name.as_str(), body))
            .collect();
        if let Some(comment) =
            super::dwarf::read_sections(&bodies, self.name, self.cx, &mut sections)?
        {
            comments.push(comment);
            return Ok((comments, decoded));
        }
        // A relocatable object's string and line offsets are in its
        // relocations (the section holds zeros where they go).
        if relocatable {
            if self.len > super::dwarf::SECTION_MAX {
                comments.push(too_large("the object"));
                return Ok((comments, decoded));
            }
            let data = self.read_vec("object", 0, self.len)?;
            let file = match object::read::elf::ElfFile::<H>::parse(&data[..]) {
                Ok(file) => file,
                Err(e) => {
                    comments.push(format!(
                        "relocations not read ({e}): DWARF compared as bytes"
                    ));
                    return Ok((comments, decoded));
                }
            };
            for (_, _, id, name, _) in &found {
                let Some(section) = file.section_by_name(name) else {
                    continue;
                };
                match section.relocation_map() {
                    Ok(map) => {
                        sections.relocations.insert(id, map);
                    }
                    Err(e) => {
                        comments.push(format!(
                            "relocations of {name} not understood ({e}): DWARF compared as bytes"
                        ));
                        return Ok((comments, decoded));
                    }
                }
            }
        }
        let found: Vec<_> = found
            .into_iter()
            .map(|(entry, _, id, _, raw)| (entry, id, raw))
            .collect();
        let (errors, views) = super::dwarf::decode_into(entries, &found, &sections, little_endian);
        comments.extend(errors);
        decoded.extend(views);
        Ok((comments, decoded))
    }

    /// The disassembly of the code section `name` (content `raw`, loaded
    /// at `address`) with its bytes, or why it stays bytes (too large).
    fn disassemble(
        &self,
        name: &str,
        raw: &Content,
        address: u64,
        bitness: u32,
        labels: super::disassembly::Labels,
    ) -> Result<std::result::Result<(String, Vec<u8>), String>> {
        use super::disassembly::{render, CODE_MAX};
        let nested = format!("{}::{name}", self.name);
        Ok(match raw.read_capped(self.cx, &nested, CODE_MAX)? {
            Some(code) => Ok((render(&code, address, bitness, labels), code)),
            None => Err(format!(
                "{name} is larger than {CODE_MAX} bytes: its machine code is compared as bytes"
            )),
        })
    }

    /// The `readelf --symbols` view of the symbol table `name` (content
    /// `raw`) with its bytes and function labels, or why it stays bytes
    /// (too large).
    fn symbols<H: FileHeader<Endian = Endianness>>(
        &self,
        name: &str,
        raw: &Content,
        strings: Option<&H::SectionHeader>,
        endian: Endianness,
    ) -> Result<std::result::Result<SymbolTable, String>> {
        use super::elf_symbols::{labels, render, STRINGS_MAX, TABLE_MAX};
        let nested = format!("{}::{name}", self.name);
        let Some(table) = raw.read_capped(self.cx, &nested, TABLE_MAX)? else {
            return Ok(Err(format!(
                "{name} is larger than {TABLE_MAX} bytes: compared as bytes"
            )));
        };
        let strings = match strings.and_then(|s| s.file_range(endian)) {
            Some((_, size)) if size > STRINGS_MAX => {
                return Ok(Err(format!(
                    "the string table of {name} is larger than {STRINGS_MAX} bytes: \
                     {name} compared as bytes"
                )))
            }
            Some((offset, size)) => {
                // A string table outside the file (a crafted sh_link to a
                // bogus header) costs the names, not the whole file.
                if self
                    .check_range(&format!("string table of {name}"), offset, size)
                    .is_err()
                {
                    return Ok(Err(format!(
                        "the string table of {name} lies outside the file: \
                         {name} compared as bytes"
                    )));
                }
                self.read_vec("string table", offset, size)?
            }
            // No string table (or SHT_NOBITS): every name is out of range.
            None => Vec::new(),
        };
        Ok(Ok(SymbolTable {
            view: render::<H>(name, &table, &strings, endian),
            labels: labels::<H>(&table, &strings, endian),
            bytes: table,
        }))
    }

    /// For a compressed section: its decompressed content, the method and
    /// the uncompressed size its header declares (shown, never used to
    /// allocate). `None` for an uncompressed section; a compression type
    /// this reader does not know is compared as stored.
    fn decompressed<H: FileHeader<Endian = Endianness>>(
        &self,
        offset: u64,
        size: u64,
        endian: Endianness,
        compressed: bool,
        legacy: bool,
    ) -> Result<Option<(Content, String, u64)>> {
        if compressed {
            let header_len = std::mem::size_of::<H::CompressionHeader>() as u64;
            if size < header_len {
                return Err(self.bad(format!(
                    "compressed section at offset {offset} has {size} bytes, \
                     less than its {header_len}-byte compression header"
                )));
            }
            let raw = self.read_vec("compression header", offset, header_len)?;
            let header = object::pod::from_bytes::<H::CompressionHeader>(&raw)
                .map_err(|()| self.bad("compression header is cut off".into()))?
                .0;
            let full_size: u64 = header.ch_size(endian).into();
            let inner = Arc::new(self.range(offset + header_len, size - header_len));
            return Ok(match header.ch_type(endian) {
                elf::ELFCOMPRESS_ZLIB => (Content(Source::Zlib(inner)), "zlib".into(), full_size),
                elf::ELFCOMPRESS_ZSTD => (
                    Content::decompressed(Kind::Zstd, super::decode, inner),
                    "zstd".into(),
                    full_size,
                ),
                other => (
                    self.range(offset, size),
                    format!("unknown type {other}, compared as stored"),
                    full_size,
                ),
            }
            .into());
        }
        // GNU's older scheme: "ZLIB", the size as 8 big-endian bytes, a
        // zlib stream.
        if legacy && size >= 12 {
            let raw = self.read_vec("zdebug header", offset, 12)?;
            if let (Some(b"ZLIB"), Some(len)) = (raw.get(..4), raw.get(4..12)) {
                let mut be = [0u8; 8];
                be.copy_from_slice(len);
                let inner = Arc::new(self.range(offset + 12, size - 12));
                return Ok(Some((
                    Content(Source::Zlib(inner)),
                    "zlib (.zdebug)".into(),
                    u64::from_be_bytes(be),
                )));
            }
        }
        Ok(None)
    }

    /// A note section rendered as one line per note, or, if it is large or
    /// the rendering would lose bytes (odd padding, trailing junk), the
    /// plain printable view.
    fn notes<H: FileHeader<Endian = Endianness>>(
        &self,
        body: Content,
        entry: &str,
        endian: Endianness,
        align: H::Word,
    ) -> Result<Content> {
        let Source::Range { offset, len, .. } = &body.0 else {
            return Ok(body);
        };
        if *len > INLINE_MAX {
            return Ok(body.printable());
        }
        let mut bytes = vec![0u8; usize::try_from(*len).unwrap_or(0)];
        self.file
            .read_exact_at(&mut bytes, *offset)
            .map_err(|e| self.cx.io(e, entry, "reading"))?;
        Ok(match render_notes::<H>(&bytes, endian, align) {
            Some(text) => Content::memory(text.into_bytes()),
            None => body.printable(),
        })
    }
}

/// Most bytes of symbol-table and disassembly views of one file; the
/// sections beyond are compared as bytes.
const VIEWS_MAX: usize = 64 << 20;

/// A symbol table read for its view.
struct SymbolTable {
    /// The `readelf --symbols` view.
    view: String,
    /// Its bytes (as stored, decompressed).
    bytes: Vec<u8>,
    /// Its function symbols by section index, for the disassembly.
    labels: std::collections::HashMap<u16, super::disassembly::Labels>,
}

fn container(meta: Vec<(MetaField, MetaValue)>, entries: Vec<Entry>) -> Container {
    Container {
        format: Kind::Elf,
        entries,
        meta,
        // Repeated section names (`.group`, `.text` in relocatable objects)
        // are normal ELF, not an anomaly: they pair by occurrence.
        comments: Vec::new(),
        single_stream: false,
        ordered: true,
    }
}

/// Whether a section is compared as printable strings rather than bytes.
fn holds_strings(name: &str, sh_type: u32, flags: u64) -> bool {
    const NAMES: &[&str] = &[
        ".comment",
        ".interp",
        ".gnu_debuglink",
        ".gnu_debugaltlink",
        ".debug_str",
        ".debug_line_str",
    ];
    sh_type == elf::SHT_STRTAB
        || flags & u64::from(elf::SHF_STRINGS) != 0
        || NAMES.contains(&name)
        || name == ".rodata"
        || name.starts_with(".rodata.")
}

/// One line per note: owner, type and the descriptor in hex (the GNU build
/// id reads as the id `file` and `readelf -n` print). `None` unless
/// re-encoding the notes gives back exactly `bytes`, so that equal
/// renderings always mean equal sections.
fn render_notes<H: FileHeader<Endian = Endianness>>(
    bytes: &[u8],
    endian: Endianness,
    align: H::Word,
) -> Option<String> {
    let align_to = if align.into() == 8 { 8 } else { 4 };
    let mut notes = NoteIterator::<H>::new(endian, align, bytes).ok()?;
    let (mut text, mut again) = (String::new(), Vec::new());
    let pad = |v: &mut Vec<u8>| v.resize(v.len().next_multiple_of(align_to), 0);
    while let Some(note) = notes.next().ok()? {
        let raw_name = note.name_bytes();
        let owner = raw_name.strip_suffix(&[0])?;
        if owner.contains(&0) {
            return None;
        }
        let n_type = note.n_type(endian);
        for field in [raw_name.len(), note.desc().len()] {
            again.extend_from_slice(&endian.write_u32_bytes(u32::try_from(field).ok()?));
        }
        again.extend_from_slice(&endian.write_u32_bytes(n_type));
        again.extend_from_slice(raw_name);
        pad(&mut again);
        again.extend_from_slice(note.desc());
        pad(&mut again);
        let mut line = Vec::new();
        crate::leaf::render_printable(owner, &mut line);
        text.push_str(&String::from_utf8_lossy(&line));
        match (owner, n_type) {
            (b"GNU", elf::NT_GNU_BUILD_ID) => text.push_str(" build-id"),
            (b"GNU", elf::NT_GNU_ABI_TAG) => text.push_str(" ABI tag"),
            (b"GNU", elf::NT_GNU_PROPERTY_TYPE_0) => text.push_str(" property"),
            _ => {}
        }
        text.push_str(&format!(" (type {n_type}): {}\n", hex::encode(note.desc())));
    }
    (again == bytes).then_some(text)
}

fn header_fields<H: FileHeader<Endian = Endianness>>(
    header: &H,
    endian: Endianness,
) -> Vec<(MetaField, MetaValue)> {
    let ident = header.e_ident();
    let class = if header.is_class_64() {
        "ELF64"
    } else {
        "ELF32"
    };
    let data = if header.is_little_endian() {
        "little-endian"
    } else {
        "big-endian"
    };
    let os_abi = match ident.os_abi {
        elf::ELFOSABI_SYSV => "System V".to_owned(),
        elf::ELFOSABI_GNU => "GNU/Linux".to_owned(),
        elf::ELFOSABI_FREEBSD => "FreeBSD".to_owned(),
        elf::ELFOSABI_NETBSD => "NetBSD".to_owned(),
        elf::ELFOSABI_OPENBSD => "OpenBSD".to_owned(),
        n => format!("OS/ABI {n}"),
    };
    let e_type = match header.e_type(endian) {
        elf::ET_NONE => "NONE (no file type)".to_owned(),
        elf::ET_REL => "REL (relocatable object)".to_owned(),
        elf::ET_EXEC => "EXEC (executable)".to_owned(),
        elf::ET_DYN => "DYN (shared object or position-independent executable)".to_owned(),
        elf::ET_CORE => "CORE (core dump)".to_owned(),
        n => format!("type {n:#x}"),
    };
    let machine = match header.e_machine(endian) {
        elf::EM_386 => "Intel 80386".to_owned(),
        elf::EM_X86_64 => "x86-64".to_owned(),
        elf::EM_ARM => "ARM".to_owned(),
        elf::EM_AARCH64 => "AArch64".to_owned(),
        elf::EM_RISCV => "RISC-V".to_owned(),
        elf::EM_MIPS => "MIPS".to_owned(),
        elf::EM_PPC => "PowerPC".to_owned(),
        elf::EM_PPC64 => "PowerPC64".to_owned(),
        elf::EM_S390 => "IBM S/390".to_owned(),
        elf::EM_SPARCV9 => "SPARC v9".to_owned(),
        elf::EM_LOONGARCH => "LoongArch".to_owned(),
        n => format!("machine {n}"),
    };
    let field = |name, value| (MetaField::Header(name), value);
    vec![
        field("ELF class", MetaValue::Text(class.into())),
        field("ELF byte order", MetaValue::Text(data.into())),
        field("ELF OS/ABI", MetaValue::Text(os_abi)),
        field("ELF type", MetaValue::Text(e_type)),
        field("ELF machine", MetaValue::Text(machine)),
        field(
            "ELF entry point",
            MetaValue::Hex(header.e_entry(endian).into()),
        ),
        field("ELF flags", MetaValue::Hex(header.e_flags(endian).into())),
    ]
}

/// `readelf`'s name of a section type.
fn section_type(t: u32) -> String {
    let name = match t {
        elf::SHT_NULL => "NULL",
        elf::SHT_PROGBITS => "PROGBITS",
        elf::SHT_SYMTAB => "SYMTAB",
        elf::SHT_STRTAB => "STRTAB",
        elf::SHT_RELA => "RELA",
        elf::SHT_HASH => "HASH",
        elf::SHT_DYNAMIC => "DYNAMIC",
        elf::SHT_NOTE => "NOTE",
        elf::SHT_NOBITS => "NOBITS",
        elf::SHT_REL => "REL",
        elf::SHT_DYNSYM => "DYNSYM",
        elf::SHT_INIT_ARRAY => "INIT_ARRAY",
        elf::SHT_FINI_ARRAY => "FINI_ARRAY",
        elf::SHT_PREINIT_ARRAY => "PREINIT_ARRAY",
        elf::SHT_GROUP => "GROUP",
        elf::SHT_SYMTAB_SHNDX => "SYMTAB_SHNDX",
        elf::SHT_RELR => "RELR",
        elf::SHT_GNU_ATTRIBUTES => "GNU_ATTRIBUTES",
        elf::SHT_GNU_HASH => "GNU_HASH",
        elf::SHT_GNU_VERDEF => "VERDEF",
        elf::SHT_GNU_VERNEED => "VERNEED",
        elf::SHT_GNU_VERSYM => "VERSYM",
        _ => return format!("{t:#x}"),
    };
    name.to_owned()
}

/// Section flags by name, `|`-separated, unknown bits in hex.
fn section_flags(flags: u64) -> String {
    const NAMES: &[(u32, &str)] = &[
        (elf::SHF_WRITE, "WRITE"),
        (elf::SHF_ALLOC, "ALLOC"),
        (elf::SHF_EXECINSTR, "EXECINSTR"),
        (elf::SHF_MERGE, "MERGE"),
        (elf::SHF_STRINGS, "STRINGS"),
        (elf::SHF_INFO_LINK, "INFO_LINK"),
        (elf::SHF_LINK_ORDER, "LINK_ORDER"),
        (elf::SHF_OS_NONCONFORMING, "OS_NONCONFORMING"),
        (elf::SHF_GROUP, "GROUP"),
        (elf::SHF_TLS, "TLS"),
        (elf::SHF_COMPRESSED, "COMPRESSED"),
    ];
    let mut rest = flags;
    let mut parts: Vec<String> = Vec::new();
    for &(bit, name) in NAMES {
        if flags & u64::from(bit) != 0 {
            parts.push(name.to_owned());
            rest &= !u64::from(bit);
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "(none)".to_owned()
    } else {
        parts.join("|")
    }
}
