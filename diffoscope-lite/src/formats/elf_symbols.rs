//! ELF symbol tables (`.symtab`, `.dynsym`) shown as `readelf --wide
//! --symbols` shows them, one symbol per line with its name resolved.
//!
//! As bytes, a symbol table is a hexdump of name offsets and addresses: a
//! function that grew moves every later symbol, and the hexdump says only
//! that many words changed. As lines, the diff names the function whose
//! size changed and the symbols it moved, and a build path in an `STT_FILE`
//! symbol reads as text and gets a hint.
//!
//! The view shows every field of an entry but the offset of its name (the
//! name itself is shown), so two views can be equal while the bytes are
//! not (names laid out in another order): the ELF reader then compares the
//! bytes, as for DWARF (see [`super::dwarf::Decoded`]). A table larger than
//! [`TABLE_MAX`] or whose string table is larger than [`STRINGS_MAX`] is
//! compared as bytes.

use std::collections::HashMap;

use std::sync::Arc;

use object::elf;
use object::read::elf::{FileHeader, Sym as _};
use object::Endianness;

use super::disassembly::Labels;
use super::dwarf::View;

/// Largest symbol table decoded (about 1.4 million 64-bit symbols).
pub(crate) const TABLE_MAX: u64 = 32 << 20;

/// Largest string table a symbol table's names are looked up in.
pub(crate) const STRINGS_MAX: u64 = 64 << 20;

/// Longest name shown whole: a crafted table can point a million symbols
/// at one megabyte-long string (the table's digest and the string table's
/// own entry still cover every byte).
const NAME_MAX: usize = 1024;

/// Most bytes of function names kept as the disassembly's labels.
const LABELS_MAX: usize = 16 << 20;

/// The view of the symbol table `section` (its bytes `table`), whose names
/// are in `strings`.
pub(crate) fn render<H: FileHeader<Endian = Endianness>>(
    section: &str,
    table: &[u8],
    strings: &[u8],
    endian: Endianness,
) -> String {
    let size = std::mem::size_of::<H::Sym>();
    let syms = entries::<H>(table);
    // Addresses as wide as the class: 16 hex digits for ELF64, 8 for ELF32;
    // the heading as readelf spaces it.
    let (width, heading) = if H::is_type_64_sized() {
        (
            16,
            "   Num:    Value          Size Type    Bind   Vis      Ndx Name",
        )
    } else {
        (8, "   Num:    Value  Size Type    Bind   Vis      Ndx Name")
    };
    let mut view = View::default();
    view.line(format_args!(
        "Symbol table '{section}' contains {} entries:",
        syms.len()
    ));
    view.line(format_args!("{heading}"));
    for (num, sym) in syms.iter().enumerate() {
        if view.is_cut() {
            break;
        }
        let value: u64 = sym.st_value(endian).into();
        let bytes: u64 = sym.st_size(endian).into();
        let name = match name_at(strings, sym.st_name(endian)) {
            Some(n) => n,
            None => format!(
                "<name at {:#x} is outside the string table>",
                sym.st_name(endian)
            ),
        };
        view.line(format_args!(
            "{num:6}: {value:0width$x} {bytes:5} {:<7} {:<6} {:<7} {:>4} {name}",
            symbol_type(sym.st_type()),
            binding(sym.st_bind()),
            visibility(sym.st_other()),
            index(sym.st_shndx(endian)),
        ));
    }
    let rest = table.len() % size;
    if rest != 0 {
        view.line(format_args!(
            "({rest} bytes after the last {size}-byte entry)"
        ));
    }
    view.finish()
}

/// The whole entries of a symbol table.
fn entries<H: FileHeader<Endian = Endianness>>(table: &[u8]) -> &[H::Sym] {
    let count = table.len() / std::mem::size_of::<H::Sym>();
    object::pod::slice_from_bytes::<H::Sym>(table, count).map_or(&[], |(syms, _)| syms)
}

/// The named function symbols of a symbol table (`STT_FUNC`,
/// `STT_GNU_IFUNC`, and `STT_NOTYPE` ones such as `_start` in assembly)
/// by the index of the section they are in: the disassembly's labels.
pub(crate) fn labels<H: FileHeader<Endian = Endianness>>(
    table: &[u8],
    strings: &[u8],
    endian: Endianness,
) -> HashMap<u16, Labels> {
    let mut out: HashMap<u16, Labels> = HashMap::new();
    // One copy of each name, however many symbols point at it, and no
    // more than LABELS_MAX bytes of them.
    let mut names: HashMap<u32, Arc<str>> = HashMap::new();
    let mut kept = 0usize;
    for sym in entries::<H>(table) {
        let shndx = sym.st_shndx(endian);
        let function = matches!(
            sym.st_type(),
            elf::STT_FUNC | elf::STT_GNU_IFUNC | elf::STT_NOTYPE
        );
        if !function || shndx == elf::SHN_UNDEF || shndx >= elf::SHN_LORESERVE {
            continue;
        }
        let offset = sym.st_name(endian);
        let name = match names.get(&offset) {
            Some(name) => Arc::clone(name),
            None => match name_at(strings, offset) {
                Some(name) if !name.is_empty() && kept + name.len() <= LABELS_MAX => {
                    kept += name.len();
                    let name: Arc<str> = name.into();
                    names.insert(offset, Arc::clone(&name));
                    name
                }
                _ => continue,
            },
        };
        // The first name at an address wins, as in the table.
        out.entry(shndx)
            .or_default()
            .entry(sym.st_value(endian).into())
            .or_insert(name);
    }
    out
}

/// The name at `offset` of a string table, on one line and at most
/// [`NAME_MAX`] bytes (a longer one ends in `…`); `None` when `offset` is
/// outside the table or its string has no terminating NUL.
fn name_at(strings: &[u8], offset: u32) -> Option<String> {
    let rest = strings.get(usize::try_from(offset).ok()?..)?;
    let window = &rest[..rest.len().min(NAME_MAX)];
    match window.iter().position(|&b| b == 0) {
        Some(end) => Some(printable(&window[..end])),
        None if rest.len() > NAME_MAX => Some(printable(window) + "…"),
        None => None,
    }
}

/// `st_info`'s type as readelf names it.
fn symbol_type(t: u8) -> String {
    match t {
        elf::STT_NOTYPE => "NOTYPE".into(),
        elf::STT_OBJECT => "OBJECT".into(),
        elf::STT_FUNC => "FUNC".into(),
        elf::STT_SECTION => "SECTION".into(),
        elf::STT_FILE => "FILE".into(),
        elf::STT_COMMON => "COMMON".into(),
        elf::STT_TLS => "TLS".into(),
        elf::STT_GNU_IFUNC => "IFUNC".into(),
        other => format!("<{other}>"),
    }
}

/// `st_info`'s binding as readelf names it.
fn binding(b: u8) -> String {
    match b {
        elf::STB_LOCAL => "LOCAL".into(),
        elf::STB_GLOBAL => "GLOBAL".into(),
        elf::STB_WEAK => "WEAK".into(),
        elf::STB_GNU_UNIQUE => "UNIQUE".into(),
        other => format!("<{other}>"),
    }
}

/// `st_other`: the visibility, and the other bits (processor-specific
/// flags) as a number when set, so that the view shows every bit.
fn visibility(other: u8) -> String {
    let vis = match other & 0x3 {
        elf::STV_DEFAULT => "DEFAULT",
        elf::STV_INTERNAL => "INTERNAL",
        elf::STV_HIDDEN => "HIDDEN",
        _ => "PROTECTED",
    };
    match other & !0x3 {
        0 => vis.into(),
        rest => format!("{vis}[{rest:#x}]"),
    }
}

/// `st_shndx`: the section index, or what a reserved index means.
fn index(shndx: u16) -> String {
    match shndx {
        elf::SHN_UNDEF => "UND".into(),
        elf::SHN_ABS => "ABS".into(),
        elf::SHN_COMMON => "COM".into(),
        elf::SHN_XINDEX => "XIDX".into(),
        n => n.to_string(),
    }
}

/// A symbol name on one line: lossy UTF-8, control characters escaped (a
/// name is bytes; a newline in one must not make two lines).
fn printable(name: &[u8]) -> String {
    crate::printers::escape(&String::from_utf8_lossy(name), false).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf::{FileHeader32, FileHeader64};

    /// An ELF64 little-endian symbol.
    fn sym64(name: u32, info: u8, other: u8, shndx: u16, value: u64, size: u64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&name.to_le_bytes());
        b.push(info);
        b.push(other);
        b.extend_from_slice(&shndx.to_le_bytes());
        b.extend_from_slice(&value.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b
    }

    #[test]
    fn symbols_read_as_readelf_shows_them() {
        let strings = b"\0main\0/build/a/x.c\0odd\nname\0";
        let mut table = sym64(0, 0, 0, 0, 0, 0);
        table.extend(sym64(6, elf::STT_FILE, 0, elf::SHN_ABS, 0, 0));
        table.extend(sym64(1, 0x12, 0, 14, 0x1139, 35)); // GLOBAL FUNC
        table.extend(sym64(19, 0x21, 0x2 | 0x80, 0xfff2, 8, 4)); // WEAK OBJECT HIDDEN+flag
        table.extend(sym64(999, 0, 0, 0, 0, 0));
        table.extend([0u8; 5]);
        let view =
            render::<FileHeader64<Endianness>>(".symtab", &table, strings, Endianness::Little);
        assert_eq!(
            view,
            "Symbol table '.symtab' contains 5 entries:\n\
             \x20  Num:    Value          Size Type    Bind   Vis      Ndx Name\n\
             \x20    0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND \n\
             \x20    1: 0000000000000000     0 FILE    LOCAL  DEFAULT  ABS /build/a/x.c\n\
             \x20    2: 0000000000001139    35 FUNC    GLOBAL DEFAULT   14 main\n\
             \x20    3: 0000000000000008     4 OBJECT  WEAK   HIDDEN[0x80]  COM odd\\nname\n\
             \x20    4: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND \
             <name at 0x3e7 is outside the string table>\n\
             (5 bytes after the last 24-byte entry)\n"
        );
    }

    #[test]
    fn a_long_name_is_cut_and_shared_by_the_labels() {
        let mut strings = vec![0u8];
        strings.extend(std::iter::repeat_n(b'a', 3000));
        strings.push(0);
        let mut table = sym64(0, 0, 0, 0, 0, 0);
        for value in 0..3 {
            table.extend(sym64(1, 0x12, 0, 1, value, 1));
        }
        let view =
            render::<FileHeader64<Endianness>>(".symtab", &table, &strings, Endianness::Little);
        let long = format!(" {}…\n", "a".repeat(NAME_MAX));
        assert_eq!(view.matches(&long).count(), 3, "{view}");
        let labels = labels::<FileHeader64<Endianness>>(&table, &strings, Endianness::Little);
        let names: Vec<&Arc<str>> = labels[&1].values().collect();
        assert_eq!(names.len(), 3);
        assert!(Arc::ptr_eq(names[0], names[2]));
        assert_eq!(names[0].len(), NAME_MAX + "…".len());
    }

    #[test]
    fn a_32_bit_table_has_narrow_addresses_and_its_own_entry_size() {
        // Elf32_Sym: name, value, size (4 bytes each), info, other, shndx.
        let mut table = vec![0u8; 16];
        table.extend_from_slice(&1u32.to_le_bytes());
        table.extend_from_slice(&0x8048000u32.to_le_bytes());
        table.extend_from_slice(&7u32.to_le_bytes());
        table.extend_from_slice(&[0x11, 0, 3, 0]);
        let view =
            render::<FileHeader32<Endianness>>(".dynsym", &table, b"\0x\0", Endianness::Little);
        assert!(
            view.ends_with("     1: 08048000     7 OBJECT  GLOBAL DEFAULT    3 x\n"),
            "{view}"
        );
        assert!(view.contains("   Num:    Value  Size Type"), "{view}");
    }
}
