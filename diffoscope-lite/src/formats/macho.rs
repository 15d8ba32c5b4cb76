//! Mach-O files, thin and fat (universal), read with the `object` crate.
//!
//! A Mach-O file, fat or thin, is a container of its architecture slices,
//! each named after its CPU (`x86_64`), as diffoscope names them; a fat
//! file's slices carry their offset and alignment as metadata. A slice's
//! content is marked ([`Content::slice`]) so that it is read as its
//! sections rather than as a file of one slice again: the CPU type, file
//! type and flags are its metadata; its load commands are one entry shown
//! as text, one command per line (segments with their fields and sections,
//! dylib and rpath names, UUID, build version; other commands as hex), and
//! each section is an entry named `segment,section` whose bytes are a range
//! of the file (C-string and `__debug_str` sections as printable strings,
//! `__DWARF,__debug_info` and `__debug_line` decoded as ELF's are, see
//! [`super::dwarf`]).
//!
//! Only the header and the load commands are read into memory, after
//! checking that they lie inside the file; section ranges are checked the
//! same way. Bytes outside every section (symbol tables, code signature)
//! fall back to the container's whole-file comparison.

use object::macho;
use object::read::macho::{FatArch, LoadCommandVariant, MachHeader, Section, Segment};
use object::{Endian as _, Endianness};

use super::dwarf::Decoded;
use super::{Format, Kind, Parsed};
use crate::model::{
    Container, Content, Cx, Entry, EntryKind, FormatMetadata, MetaField, MetaValue, Metadata,
};
use crate::Result;

/// Mach-O files.
pub struct MachO;

/// More architectures than this in a fat header is not a fat file: Java
/// class files share the magic, with their version (45 and up) where the
/// count would be.
const MAX_FAT_ARCHES: u32 = 20;

fn be32(head: &[u8], at: usize) -> Option<u32> {
    let b = head.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl Format for MachO {
    fn kind(&self) -> Kind {
        Kind::MachO
    }

    fn detect(&self, head: &[u8]) -> bool {
        match be32(head, 0) {
            Some(macho::FAT_MAGIC | macho::FAT_MAGIC_64) => {
                be32(head, 4).is_some_and(|n| (1..MAX_FAT_ARCHES).contains(&n))
            }
            Some(m) => [macho::MH_MAGIC, macho::MH_MAGIC_64]
                .iter()
                .any(|&magic| m == magic || m == magic.swap_bytes()),
            None => false,
        }
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        read_decoded(content, name, cx).map(|(c, _)| Parsed::Container(c))
    }

    /// Both sides, then a DWARF section whose decoded views are equal but
    /// whose bytes are not goes back to its bytes, as ELF's do.
    fn read_pair(
        &self,
        a: (&Content, &str, &Cx<'_>),
        b: (&Content, &str, &Cx<'_>),
    ) -> (Result<Parsed>, Result<Parsed>) {
        super::dwarf::read_pair(read_decoded, a, b)
    }
}

/// Reads a Mach-O file as its architecture slices, or a slice (see
/// [`Content::slice`]) as its sections, with the DWARF sections decoded.
fn read_decoded(content: &Content, name: &str, cx: &Cx<'_>) -> Result<(Container, Vec<Decoded>)> {
    match content.as_slice() {
        Some(slice) => Reader::open(slice, name, cx, Kind::MachO, read_slice),
        None => Reader::open(content, name, cx, Kind::MachO, |r| {
            read_mach_o(r).map(|c| (c, Vec::new()))
        }),
    }
}

/// Reads the Mach-O file `r`, thin or fat, as its architecture slices.
fn read_mach_o(r: &Reader<'_>) -> Result<Container> {
    let head = r.read_vec("header", 0, r.len.min(32))?;
    match be32(&head, 0) {
        Some(macho::FAT_MAGIC) => r.fat::<macho::FatArch32>(8, 20),
        Some(macho::FAT_MAGIC_64) => r.fat::<macho::FatArch64>(8, 32),
        Some(macho::MH_MAGIC_64 | macho::MH_CIGAM_64) => {
            r.thin_file::<macho::MachHeader64<Endianness>>()
        }
        _ => r.thin_file::<macho::MachHeader32<Endianness>>(),
    }
}

/// Reads the architecture slice `r` as its load commands and sections.
fn read_slice(r: &Reader<'_>) -> Result<(Container, Vec<Decoded>)> {
    let head = r.read_vec("header", 0, r.len.min(32))?;
    match be32(&head, 0) {
        Some(macho::FAT_MAGIC | macho::FAT_MAGIC_64) => {
            Err(r.bad("an architecture slice is itself a fat file".into()))
        }
        Some(macho::MH_MAGIC_64 | macho::MH_CIGAM_64) => {
            r.thin::<macho::MachHeader64<Endianness>>()
        }
        _ => r.thin::<macho::MachHeader32<Endianness>>(),
    }
}

use super::ranged::Ranged as Reader;

impl Reader<'_> {
    fn entry(
        &self,
        path: String,
        order: usize,
        size: u64,
        attributes: Attributes,
    ) -> Result<Entry> {
        self.cx
            .budget
            .add_entry(&format!("{}::{path}", self.name))?;
        Ok(Entry {
            path,
            kind: EntryKind::File,
            meta: Metadata {
                size: Some(size),
                order,
                format: FormatMetadata {
                    attributes,
                    ..FormatMetadata::default()
                }
                .boxed(),
                ..Metadata::default()
            },
            content: Content::empty(),
            digest: None,
        })
    }

    /// A fat file: one entry per architecture slice.
    fn fat<A: FatArch>(&self, header_len: u64, arch_len: u64) -> Result<Container> {
        let head = self.read_vec("fat header", 0, header_len)?;
        let count = u64::from(be32(&head, 4).unwrap_or(0));
        let table = self.read_vec("fat architecture table", header_len, count * arch_len)?;
        let arches = object::pod::slice_from_all_bytes::<A>(&table)
            .map_err(|()| self.bad("fat architecture table is cut off".into()))?;
        let mut entries = Vec::new();
        for arch in arches {
            let (offset, size) = arch.file_range();
            self.check_range("architecture slice", offset, size)?;
            let attributes = vec![
                ("CPU subtype", MetaValue::Hex(arch.cpusubtype().into())),
                ("slice offset", MetaValue::Number(offset)),
                (
                    "slice alignment",
                    MetaValue::Number(1u64 << arch.align().min(63)),
                ),
            ];
            let path = cpu_name(arch.cputype());
            let mut e = self.entry(path, entries.len(), size, attributes)?;
            e.content = self.range(offset, size).slice();
            entries.push(e);
        }
        let comments = super::duplicate_comments(&entries);
        Ok(Container {
            format: Kind::MachO,
            entries,
            meta: vec![(
                MetaField::Header("Mach-O fat magic"),
                MetaValue::Hex(be32(&head, 0).map_or(0, u64::from)),
            )],
            comments,
            single_stream: false,
            ordered: true,
        })
    }

    /// A thin file: its one slice, named after its CPU (as diffoscope
    /// names the architectures of any Mach-O file, fat or thin).
    fn thin_file<H: MachHeader<Endian = Endianness>>(&self) -> Result<Container> {
        let header_len = std::mem::size_of::<H>() as u64;
        let raw = self.read_vec("Mach-O header", 0, header_len)?;
        let header = H::parse(&raw[..], 0).map_err(|e| self.bad(e.to_string()))?;
        let endian = header.endian().map_err(|e| self.bad(e.to_string()))?;
        // A thin file whose load commands lie beyond it is malformed as
        // a whole, not only as its slice.
        let commands_len = u64::from(header.sizeofcmds(endian));
        self.check_range("load commands", 0, header_len + commands_len)?;
        let attributes = vec![(
            "CPU subtype",
            MetaValue::Hex(header.cpusubtype(endian).into()),
        )];
        let path = cpu_name(header.cputype(endian));
        let mut e = self.entry(path, 0, self.len, attributes)?;
        e.content = self.range(0, self.len).slice();
        Ok(Container {
            format: Kind::MachO,
            entries: vec![e],
            meta: Vec::new(),
            comments: Vec::new(),
            single_stream: false,
            ordered: true,
        })
    }

    /// A slice: load commands as text, then one entry per section, the
    /// DWARF ones decoded.
    fn thin<H: MachHeader<Endian = Endianness>>(&self) -> Result<(Container, Vec<Decoded>)> {
        let header_len = std::mem::size_of::<H>() as u64;
        let raw = self.read_vec("Mach-O header", 0, header_len)?;
        let header = H::parse(&raw[..], 0).map_err(|e| self.bad(e.to_string()))?;
        let endian = header.endian().map_err(|e| self.bad(e.to_string()))?;
        let commands_len = u64::from(header.sizeofcmds(endian));
        let all = self.read_vec("load commands", 0, header_len + commands_len)?;
        let mut commands = header
            .load_commands(endian, &all[..], 0)
            .map_err(|e| self.bad(e.to_string()))?;
        let mut text = String::new();
        let mut sections = Vec::new();
        let mut index = 0usize;
        while let Some(lc) = commands.next().map_err(|e| self.bad(e.to_string()))? {
            let variant = lc.variant().map_err(|e| self.bad(e.to_string()))?;
            text.push_str(&format!(
                "{index}: {} ({} bytes)",
                command_name(lc.cmd()),
                lc.cmdsize()
            ));
            let string = |s| lossy(lc.string(endian, s).unwrap_or(b"<bad string>"));
            match variant {
                LoadCommandVariant::Segment32(seg, data) => {
                    text.push_str(&self.segment(seg, data, endian, &mut sections)?);
                }
                LoadCommandVariant::Segment64(seg, data) => {
                    text.push_str(&self.segment(seg, data, endian, &mut sections)?);
                }
                LoadCommandVariant::Dylib(d) | LoadCommandVariant::IdDylib(d) => {
                    let v = |n: u32| format!("{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff);
                    text.push_str(&format!(
                        " {} (current {}, compatibility {})",
                        string(d.dylib.name),
                        v(d.dylib.current_version.get(endian)),
                        v(d.dylib.compatibility_version.get(endian)),
                    ));
                }
                LoadCommandVariant::LoadDylinker(d) | LoadCommandVariant::IdDylinker(d) => {
                    text.push_str(&format!(" {}", string(d.name)));
                }
                LoadCommandVariant::Rpath(r) => text.push_str(&format!(" {}", string(r.path))),
                LoadCommandVariant::Uuid(u) => text.push_str(&format!(" {}", uuid(&u.uuid))),
                _ => {
                    let payload = lc.raw_data().get(8..).unwrap_or(&[]);
                    text.push_str(&format!(" {}", crate::leaf::hex_words(payload)));
                }
            }
            text.push('\n');
            index += 1;
        }
        let mut entries = vec![self.entry("load commands".into(), 0, commands_len, Vec::new())?];
        entries[0].content = Content::decoded_view(text);
        // DWARF sections as stored, by entry index.
        let mut dwarf = Vec::new();
        for (path, offset, size, attributes, strings) in sections {
            let mut e = self.entry(path, entries.len(), size, attributes)?;
            if let Some(offset) = offset {
                self.check_range(&format!("section {}", e.path), offset, size)?;
                let body = self.range(offset, size);
                let sectname = e.path.strip_prefix("__DWARF,");
                if let Some(id) = sectname.and_then(super::dwarf::canonical) {
                    dwarf.push((entries.len(), id, e.path.clone(), body.clone()));
                }
                e.content = if strings { body.printable() } else { body };
            }
            entries.push(e);
        }
        let (comments, decoded) = self.decode_macho_dwarf(&mut entries, dwarf, endian)?;
        let field = |name, value| (MetaField::Header(name), value);
        let container = Container {
            format: Kind::MachO,
            entries,
            meta: vec![
                field(
                    "Mach-O class",
                    MetaValue::Text(
                        if header.is_type_64() {
                            "64-bit"
                        } else {
                            "32-bit"
                        }
                        .into(),
                    ),
                ),
                field(
                    "Mach-O CPU",
                    MetaValue::Text(cpu_name(header.cputype(endian))),
                ),
                field(
                    "Mach-O file type",
                    MetaValue::Text(file_type(header.filetype(endian))),
                ),
                field("Mach-O flags", MetaValue::Hex(header.flags(endian).into())),
            ],
            comments,
            single_stream: false,
            ordered: true,
        };
        Ok((container, decoded))
    }

    /// Gives `__debug_info` and `__debug_line` their decoded views (see
    /// [`super::dwarf`]), as ELF's; what could not be decoded stays bytes,
    /// with a comment saying why. Relocations are not applied: a linked
    /// file's DWARF has none, and in an object file they hold addresses
    /// (its strings and line tables are in sections of its own).
    fn decode_macho_dwarf(
        &self,
        entries: &mut [Entry],
        found: Vec<(usize, &'static str, String, Content)>,
        endian: Endianness,
    ) -> Result<(Vec<String>, Vec<Decoded>)> {
        if !found
            .iter()
            .any(|(_, id, ..)| super::dwarf::VIEWED.contains(id))
        {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut sections = super::dwarf::Sections::default();
        let bodies: Vec<_> = found
            .iter()
            .map(|(_, id, name, body)| (*id, name.as_str(), body))
            .collect();
        if let Some(comment) =
            super::dwarf::read_sections(&bodies, self.name, self.cx, &mut sections)?
        {
            return Ok((vec![comment], Vec::new()));
        }
        let found: Vec<_> = found
            .into_iter()
            .map(|(index, id, _, raw)| (index, id, raw))
            .collect();
        Ok(super::dwarf::decode_into(
            entries,
            &found,
            &sections,
            endian.is_little_endian(),
        ))
    }

    /// A segment command's fields as text; its sections are added to
    /// `sections` as (name, file offset, size, attributes, holds strings).
    fn segment<S: Segment<Endian = Endianness>>(
        &self,
        seg: &S,
        data: &[u8],
        endian: Endianness,
        sections: &mut Vec<SectionEntry>,
    ) -> Result<String> {
        let (fileoff, filesize) = seg.file_range(endian);
        let mut text = format!(
            " {} fileoff {fileoff} filesize {filesize} maxprot {:#x} initprot {:#x} flags {:#x}",
            lossy(seg.name()),
            seg.maxprot(endian),
            seg.initprot(endian),
            seg.flags(endian),
        );
        for s in seg
            .sections(endian, data)
            .map_err(|e| self.bad(e.to_string()))?
        {
            let name = format!("{},{}", lossy(s.segment_name()), lossy(s.name()));
            let flags = s.flags(endian);
            let size: u64 = s.size(endian).into();
            text.push_str(&format!(" [{name} size {size} flags {flags:#x}]"));
            let strings = flags & macho::SECTION_TYPE == macho::S_CSTRING_LITERALS
                || matches!(s.name(), b"__debug_str" | b"__debug_line_str");
            let attributes = vec![
                ("section address", MetaValue::Hex(s.addr(endian).into())),
                ("section flags", MetaValue::Hex(flags.into())),
                ("section size", MetaValue::Number(size)),
            ];
            let offset = s.file_range(endian).map(|(offset, _)| offset);
            sections.push((name, offset, size, attributes, strings));
        }
        Ok(text)
    }
}

type Attributes = Vec<(&'static str, MetaValue)>;
type SectionEntry = (String, Option<u64>, u64, Attributes, bool);

/// A UUID as `dwarfdump --uuid` prints it; its dashes keep any run of
/// digits short of what hints read as a number.
fn uuid(u: &[u8; 16]) -> String {
    let h = hex::encode_upper(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The name `lipo` and `otool` give a CPU type.
fn cpu_name(cpu: u32) -> String {
    match cpu {
        macho::CPU_TYPE_X86 => "i386".into(),
        macho::CPU_TYPE_X86_64 => "x86_64".into(),
        macho::CPU_TYPE_ARM => "arm".into(),
        macho::CPU_TYPE_ARM64 => "arm64".into(),
        macho::CPU_TYPE_ARM64_32 => "arm64_32".into(),
        macho::CPU_TYPE_POWERPC => "ppc".into(),
        macho::CPU_TYPE_POWERPC64 => "ppc64".into(),
        n => format!("cpu {n:#x}"),
    }
}

fn file_type(t: u32) -> String {
    match t {
        macho::MH_OBJECT => "object".into(),
        macho::MH_EXECUTE => "executable".into(),
        macho::MH_DYLIB => "dynamic library".into(),
        macho::MH_BUNDLE => "bundle".into(),
        macho::MH_DYLINKER => "dynamic linker".into(),
        macho::MH_DSYM => "debug symbols (dSYM)".into(),
        macho::MH_CORE => "core".into(),
        n => format!("type {n:#x}"),
    }
}

fn command_name(cmd: u32) -> String {
    let name = match cmd {
        macho::LC_SEGMENT => "LC_SEGMENT",
        macho::LC_SEGMENT_64 => "LC_SEGMENT_64",
        macho::LC_SYMTAB => "LC_SYMTAB",
        macho::LC_DYSYMTAB => "LC_DYSYMTAB",
        macho::LC_LOAD_DYLIB => "LC_LOAD_DYLIB",
        macho::LC_LOAD_WEAK_DYLIB => "LC_LOAD_WEAK_DYLIB",
        macho::LC_REEXPORT_DYLIB => "LC_REEXPORT_DYLIB",
        macho::LC_ID_DYLIB => "LC_ID_DYLIB",
        macho::LC_LOAD_DYLINKER => "LC_LOAD_DYLINKER",
        macho::LC_ID_DYLINKER => "LC_ID_DYLINKER",
        macho::LC_UUID => "LC_UUID",
        macho::LC_RPATH => "LC_RPATH",
        macho::LC_CODE_SIGNATURE => "LC_CODE_SIGNATURE",
        macho::LC_FUNCTION_STARTS => "LC_FUNCTION_STARTS",
        macho::LC_DATA_IN_CODE => "LC_DATA_IN_CODE",
        macho::LC_DYLD_INFO => "LC_DYLD_INFO",
        macho::LC_DYLD_INFO_ONLY => "LC_DYLD_INFO_ONLY",
        macho::LC_DYLD_CHAINED_FIXUPS => "LC_DYLD_CHAINED_FIXUPS",
        macho::LC_DYLD_EXPORTS_TRIE => "LC_DYLD_EXPORTS_TRIE",
        macho::LC_VERSION_MIN_MACOSX => "LC_VERSION_MIN_MACOSX",
        macho::LC_BUILD_VERSION => "LC_BUILD_VERSION",
        macho::LC_SOURCE_VERSION => "LC_SOURCE_VERSION",
        macho::LC_MAIN => "LC_MAIN",
        macho::LC_UNIXTHREAD => "LC_UNIXTHREAD",
        macho::LC_LINKER_OPTION => "LC_LINKER_OPTION",
        _ => return format!("load command {cmd:#x}"),
    };
    name.to_owned()
}
