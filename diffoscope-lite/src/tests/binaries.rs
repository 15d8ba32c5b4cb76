//! Binaries decoded rather than hexdumped: DWARF, strings views, new
//! object and compression formats. Inputs are built byte by byte here.

use super::*;

const DW_FORM_STRING: u8 = 0x08;
const DW_FORM_SEC_OFFSET: u8 = 0x17;

/// A minimal DWARF 4 object: one compile unit (producer, name and
/// comp_dir as inline strings, a statement list) and its line program,
/// whose include directory is `comp_dir`.
fn dwarf_elf(producer: &str, comp_dir: &str) -> Vec<u8> {
    dwarf_elf_with_mtime(producer, comp_dir, 0)
}

/// [`dwarf_elf`] with the line table's file modification time, a field
/// the decoded view does not show.
fn dwarf_elf_with_mtime(producer: &str, comp_dir: &str, mtime: u8) -> Vec<u8> {
    let cstr = |s: &str| [s.as_bytes(), b"\0"].concat();
    // DW_TAG_compile_unit, no children, four attributes.
    let abbrev = [
        &[1u8, 0x11, 0][..],
        &[0x25, DW_FORM_STRING, 0x03, DW_FORM_STRING],
        &[0x1b, DW_FORM_STRING, 0x10, DW_FORM_SEC_OFFSET],
        &[0, 0, 0],
    ]
    .concat();
    let mut die = vec![1u8];
    for s in [producer, "x.c", comp_dir] {
        die.extend_from_slice(&cstr(s));
    }
    die.extend_from_slice(&0u32.to_le_bytes()); // DW_AT_stmt_list
    let mut unit = 4u16.to_le_bytes().to_vec(); // version
    unit.extend_from_slice(&0u32.to_le_bytes()); // abbrev offset
    unit.push(8); // address size
    unit.extend_from_slice(&die);
    let info = [&(unit.len() as u32).to_le_bytes()[..], &unit].concat();

    // Line program header after header_length: the standard opcodes'
    // argument counts, one directory, one file in it.
    let mut header = vec![1u8, 1, 1, (-5i8) as u8, 14, 13];
    header.extend_from_slice(&[0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]);
    header.extend_from_slice(&cstr(comp_dir));
    header.push(0);
    header.extend_from_slice(&cstr("x.c"));
    header.extend_from_slice(&[1, mtime, 0, 0]);
    // set_address 0x1000, copy, advance_line 4, copy, end_sequence
    let mut program = vec![0u8, 9, 2];
    program.extend_from_slice(&0x1000u64.to_le_bytes());
    program.extend_from_slice(&[1, 3, 4, 1, 0, 1, 1]);
    let mut body = 4u16.to_le_bytes().to_vec();
    body.extend_from_slice(&(header.len() as u32).to_le_bytes());
    body.extend_from_slice(&header);
    body.extend_from_slice(&program);
    let line = [&(body.len() as u32).to_le_bytes()[..], &body].concat();
    mini_elf(&[
        (".debug_abbrev", SHT_PROGBITS, 0, 1, &abbrev),
        (".debug_info", SHT_PROGBITS, 0, 1, &info),
        (".debug_line", SHT_PROGBITS, 0, 1, &line),
    ])
}

/// [`dwarf_elf`]'s DWARF in a Mach-O object's `__DWARF` segment.
fn dwarf_mach_o(producer: &str, comp_dir: &str) -> Vec<u8> {
    let elf = dwarf_elf(producer, comp_dir);
    let section = |name: &str| -> Vec<u8> {
        let file = object::read::File::parse(&elf[..]).unwrap();
        use object::{Object as _, ObjectSection as _};
        file.section_by_name(name).unwrap().data().unwrap().to_vec()
    };
    let (abbrev, info, line) = (
        section(".debug_abbrev"),
        section(".debug_info"),
        section(".debug_line"),
    );
    mach_o_of(
        &[
            ("__DWARF", "__debug_abbrev", 0x0200_0000, &abbrev),
            ("__DWARF", "__debug_info", 0x0200_0000, &info),
            ("__DWARF", "__debug_line", 0x0200_0000, &line),
        ],
        [1; 16],
    )
}

#[test]
fn mach_o_dwarf_reads_as_text_and_gets_hints() {
    // As ELF's: the build path in DW_AT_comp_dir and the line program's
    // directory table read as text, with a build-path hint.
    let a = dwarf_mach_o("GNU C 12", "/build/a");
    let b = dwarf_mach_o("GNU C 12", "/build/b");
    let mut d = diff(&pair("x.o", &a, "x.o", &b));
    annotate(&mut d, &two_build_dirs());
    let info = at(&d, &["x86_64", "__DWARF,__debug_info"]);
    let u = info.unified_diff.as_deref().unwrap_or_default();
    assert!(u.contains("-    DW_AT_comp_dir: /build/a\n"), "{u}");
    assert!(u.contains("+    DW_AT_comp_dir: /build/b\n"), "{u}");
    assert_eq!(info.hints[0].cause, Cause::BuildPath, "{info:#?}");
    let line = at(&d, &["x86_64", "__DWARF,__debug_line"]);
    assert!(!line.hexdump, "{line:#?}");
}

#[test]
fn dwarf_build_paths_read_as_text_and_get_hints() {
    let a = dwarf_elf("GNU C17 12.2.0 -g", "/build/a/src");
    let b = dwarf_elf("GNU C17 12.2.0 -g", "/build/b/src");
    let p = pair("x.o", &a, "x.o", &b);
    let mut d = diff(&p);
    annotate(&mut d, &two_build_dirs());
    let info = at(&d, &[".debug_info"]);
    assert!(!info.hexdump, "{info:#?}");
    let u = info.unified_diff.as_deref().unwrap_or_default();
    assert!(u.contains("-    DW_AT_comp_dir: /build/a/src\n"), "{u}");
    assert!(u.contains("+    DW_AT_comp_dir: /build/b/src\n"), "{u}");
    assert_eq!(info.hints[0].cause, Cause::BuildPath);
    let line = at(&d, &[".debug_line"]);
    let u = line.unified_diff.as_deref().unwrap_or_default();
    assert!(u.contains("-  directory 1: /build/a/src\n"), "{u}");
    assert_eq!(line.hints[0].cause, Cause::BuildPath);
    insta::assert_snapshot!("dwarf_text", rel(&p, &text_of(&d)));
}

#[test]
fn dwarf_compiler_version_reads_as_text() {
    let a = dwarf_elf("GNU C17 12.2.0 -g", "/src");
    let b = dwarf_elf("GNU C17 13.1.0 -g", "/src");
    let d = diff(&pair("x.o", &a, "x.o", &b));
    let u = at(&d, &[".debug_info"])
        .unified_diff
        .clone()
        .unwrap_or_default();
    assert!(
        u.contains("+    DW_AT_producer: GNU C17 13.1.0 -g\n"),
        "{u}"
    );
    // The line program did not change: only .debug_info differs.
    assert_eq!(d.details.len(), 1, "{d:#?}");
}

#[test]
fn equal_dwarf_views_of_differing_bytes_fall_back_to_bytes() {
    let a = dwarf_elf_with_mtime("p", "/src", 0);
    let b = dwarf_elf_with_mtime("p", "/src", 5);
    let d = diff(&pair("x.o", &a, "x.o", &b));
    let line = at(&d, &[".debug_line"]);
    assert!(line.hexdump, "{line:#?}");
    assert_comment(&d, |c| {
        c.starts_with(".debug_line: the decoded DWARF is the same")
    });
}

#[test]
fn dwarf_that_does_not_decode_is_compared_as_bytes() {
    let a = dwarf_elf("p", "/build/a");
    let mut b = a.clone();
    // Break the unit's version (first bytes of .debug_info, after the
    // 64-byte header and the abbreviations) so gimli refuses it.
    let at_info = 64 + 13 + 4;
    b[at_info] = 0x7f;
    let p = pair("x.o", &a, "x.o", &b);
    let d = diff(&p);
    let info = at(&d, &[".debug_info"]);
    assert!(info.hexdump, "{info:#?}");
    assert_comment(&d, |c| c.contains(".debug_info does not decode"));
}

/// Asserts that one of `d`'s comments passes `test`, showing them if not.
fn assert_comment(d: &Difference, test: impl Fn(&str) -> bool) {
    assert!(d.comments.iter().any(|c| test(c)), "{:?}", d.comments);
}

const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;

/// An ELF64 little-endian symbol: name offset, st_info, section index,
/// value, size.
fn sym64(name: u32, info: u8, shndx: u16, value: u64, size: u64) -> Vec<u8> {
    let mut b = name.to_le_bytes().to_vec();
    b.extend_from_slice(&[info, 0]);
    b.extend_from_slice(&shndx.to_le_bytes());
    b.extend_from_slice(&value.to_le_bytes());
    b.extend_from_slice(&size.to_le_bytes());
    b
}

/// A relocatable object with `.symtab` (section 1) whose names are in
/// `.strtab` (section 2).
fn symbols_elf(symbols: &[Vec<u8>], strings: &[u8]) -> Vec<u8> {
    let mut table = sym64(0, 0, 0, 0, 0);
    for s in symbols {
        table.extend_from_slice(s);
    }
    let mut elf = mini_elf(&[
        (".symtab", SHT_SYMTAB, 0, 8, &table),
        (".strtab", SHT_STRTAB, 0, 1, strings),
    ]);
    // sh_link of section 1 (40 bytes into its 64-byte header) names the
    // string table.
    let shoff = u64::from_le_bytes(elf[40..48].try_into().unwrap()) as usize;
    elf[shoff + 64 + 40..shoff + 64 + 44].copy_from_slice(&2u32.to_le_bytes());
    elf
}

#[test]
fn symbol_tables_read_as_readelf_lines_and_get_hints() {
    const FILE: u8 = 4;
    const GLOBAL_FUNC: u8 = 0x12;
    let strings = |dir: &str| format!("\0{dir}/x.c\0main\0f\0").into_bytes();
    let syms = |dir: &str, f_size: u64| {
        let (file, main, f) = (1, dir.len() as u32 + 6, dir.len() as u32 + 11);
        vec![
            sym64(file, FILE, 0xfff1, 0, 0),
            sym64(f, GLOBAL_FUNC, 1, 0x1000, f_size),
            sym64(main, GLOBAL_FUNC, 1, 0x1000 + f_size, 50),
        ]
    };
    let a = symbols_elf(&syms("/build/a", 15), &strings("/build/a"));
    let b = symbols_elf(&syms("/build/b", 36), &strings("/build/b"));
    let mut d = diff(&pair("x.o", &a, "x.o", &b));
    annotate(&mut d, &two_build_dirs());
    let table = at(&d, &[".symtab"]);
    assert!(!table.hexdump, "{table:#?}");
    assert_eq!(
        table.unified_diff.as_deref(),
        Some(
            "@@ -1,6 +1,6 @@\n \
             Symbol table '.symtab' contains 4 entries:\n \
             \x20  Num:    Value          Size Type    Bind   Vis      Ndx Name\n \
             \x20    0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND \n\
             -     1: 0000000000000000     0 FILE    LOCAL  DEFAULT  ABS /build/a/x.c\n\
             -     2: 0000000000001000    15 FUNC    GLOBAL DEFAULT    1 f\n\
             -     3: 000000000000100f    50 FUNC    GLOBAL DEFAULT    1 main\n\
             +     1: 0000000000000000     0 FILE    LOCAL  DEFAULT  ABS /build/b/x.c\n\
             +     2: 0000000000001000    36 FUNC    GLOBAL DEFAULT    1 f\n\
             +     3: 0000000000001024    50 FUNC    GLOBAL DEFAULT    1 main\n"
        ),
        "{table:#?}"
    );
    assert_eq!(table.hints[0].cause, Cause::BuildPath, "{table:#?}");
}

#[test]
fn a_string_table_outside_the_file_costs_the_names_not_the_file() {
    let mut a = symbols_elf(&[sym64(1, 0x12, 1, 0, 0)], b"\0x\0");
    // .symtab's sh_link to section 0, whose header claims bytes far past
    // the end of the file.
    let shoff = u64::from_le_bytes(a[40..48].try_into().unwrap()) as usize;
    a[shoff + 64 + 40..shoff + 64 + 44].copy_from_slice(&0u32.to_le_bytes());
    a[shoff + 24..shoff + 32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    a[shoff + 32..shoff + 40].copy_from_slice(&16u64.to_le_bytes());
    let mut b = a.clone();
    // One byte of the symbol's value differs.
    let table = u64::from_le_bytes(b[shoff + 64 + 24..shoff + 64 + 32].try_into().unwrap());
    b[table as usize + 24 + 8] = 1;
    let d = diff(&pair("x.o", &a, "x.o", &b));
    let table = at(&d, &[".symtab"]);
    assert!(table.hexdump, "{table:#?}");
    assert_comment(&d, |c| {
        c.contains("the string table of .symtab lies outside the file")
    });
}

#[test]
fn equal_symbol_views_of_differing_bytes_fall_back_to_bytes() {
    // The same two symbols, their names laid out in the other order.
    let a = symbols_elf(
        &[sym64(1, 0x12, 1, 0, 0), sym64(3, 0x12, 1, 0, 0)],
        b"\0x\0y\0",
    );
    let b = symbols_elf(
        &[sym64(3, 0x12, 1, 0, 0), sym64(1, 0x12, 1, 0, 0)],
        b"\0y\0x\0",
    );
    let d = diff(&pair("x.o", &a, "x.o", &b));
    let table = at(&d, &[".symtab"]);
    assert!(table.hexdump, "{table:#?}");
    assert_comment(&d, |c| {
        c.starts_with(".symtab: the decoded symbol table is the same")
    });
}

#[test]
fn a_grown_function_shows_in_the_symbol_table_of_real_builds() {
    let program = |f: &str| {
        format!("int f(int x) {{ {f} }}\nint g(int x) {{ return x * 2; }}\nint main(void) {{ return f(g(3)); }}\n")
    };
    let (Some(a), Some(b)) = (
        cc(&program("return x + 1;"), &["-O0"]),
        cc(
            &program("int y = x * x; y += 3 * x; return y + 1;"),
            &["-O0"],
        ),
    ) else {
        return;
    };
    let d = diff(&pair("x", &a, "x", &b));
    let table = at(&d, &[".symtab"]);
    let u = table.unified_diff.as_deref().unwrap();
    let changed = |sign: char, name: &str| {
        u.lines().any(|l| {
            l.starts_with(sign)
                && l.contains(" FUNC    GLOBAL DEFAULT ")
                && l.ends_with(&format!(" {name}"))
        })
    };
    // f grew; g and main moved.
    for name in ["f", "g", "main"] {
        assert!(changed('-', name) && changed('+', name), "{name}: {u}");
    }
    // The code reads as instructions under their functions' names, and
    // the calls name their moved targets.
    let text = at(&d, &[".text"]);
    assert!(!text.hexdump && text.decoded, "{text:#?}");
    let u = text.unified_diff.as_deref().unwrap();
    assert!(u.contains(" <f>:\n"), "{u}");
    assert!(
        u.lines()
            .any(|l| l.starts_with('+') && l.contains("  imul  ")),
        "{u}"
    );
    let calls = |sign: char| {
        u.lines()
            .filter(|l| l.starts_with(sign) && l.contains("  call  ") && l.ends_with(" <g>"))
            .count()
    };
    assert_eq!((calls('-'), calls('+')), (1, 1), "{u}");
}

#[test]
fn hexdump_words_never_give_hints() {
    // The build directory inside a section read as bytes: its hexdump
    // (and the ASCII column) must not be read for hints.
    let a = mini_elf(&[(".data", SHT_PROGBITS, 0, 1, b"\x00\xff/build/a\x00")]);
    let b = mini_elf(&[(".data", SHT_PROGBITS, 0, 1, b"\x00\xff/build/b\x00")]);
    let mut d = diff(&pair("x.o", &a, "x.o", &b));
    annotate(&mut d, &two_build_dirs());
    let data = at(&d, &[".data"]);
    assert!(data.hexdump && data.hints.is_empty(), "{data:#?}");
    // The strings view next to it is text, and names the build path.
    let strings = &data.details[0];
    assert_eq!(
        strings.unified_diff.as_deref(),
        Some("@@ -1 +1 @@\n-/build/a\n+/build/b\n")
    );
    assert_eq!(strings.hints[0].cause, Cause::BuildPath, "{strings:#?}");
}

fn lz4(data: &[u8]) -> Vec<u8> {
    let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn lzma(data: &[u8]) -> Vec<u8> {
    let options = liblzma::stream::LzmaOptions::new_preset(6).unwrap();
    let stream = liblzma::stream::Stream::new_lzma_encoder(&options).unwrap();
    let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn lz4_and_lzma_streams_are_compared_decompressed() {
    for (kind, compress, suffix) in [
        (Kind::Lz4, lz4 as fn(&[u8]) -> Vec<u8>, "lz4"),
        (Kind::Lzma, lzma, "lzma"),
    ] {
        let (a, b) = (compress(b"path /build/a\n"), compress(b"path /build/b\n"));
        assert_eq!(detect(&a), kind);
        let name = format!("notes.{suffix}");
        let mut d = diff(&pair(&name, &a, &name, &b));
        annotate(&mut d, &two_build_dirs());
        let inner = at(&d, &["notes"]);
        assert_eq!(
            inner.unified_diff.as_deref(),
            Some("@@ -1 +1 @@\n-path /build/a\n+path /build/b\n"),
            "{kind}: {d:#?}"
        );
        assert_eq!(inner.hints[0].cause, Cause::BuildPath, "{kind}");
    }
}

#[test]
fn lz4_and_lzma_bombs_stop_at_the_decompression_limit() {
    let zeros = vec![0u8; 4 << 20];
    for compress in [lz4 as fn(&[u8]) -> Vec<u8>, lzma] {
        let (a, mut more) = (compress(&zeros), zeros.clone());
        more.push(1);
        let p = pair("z", &a, "z", &compress(&more));
        let opts = Options {
            limits: Limits {
                max_decompressed: 1 << 20,
                ..Limits::default()
            },
            ..Options::default()
        };
        assert_eq!(limit_flag(diff_with(&p, &opts)), "--max-decompressed");
    }
}

/// A gzip member with a fixed header around `data` deflated at `level`:
/// only the compressed data depend on the level.
fn gzip_at_level(data: &[u8], level: u32) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    out.extend_from_slice(&e.finish().unwrap());
    let mut crc = crate::hash::Crc32::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[test]
fn gzip_of_identical_content_says_so_without_hex() {
    let data: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let (a, b) = (gzip_at_level(&data, 1), gzip_at_level(&data, 9));
    assert_ne!(a, b);
    let p = pair("n.gz", &a, "n.gz", &b);
    let d = diff(&p);
    assert_eq!(d.unified_diff, None, "{d:#?}");
    assert!(d.details.is_empty() && d.metadata.is_empty(), "{d:#?}");
    assert_eq!(
        d.comments,
        [
            "the decompressed contents are identical; only the gzip compressed data differ \
          (compression level, settings or compressor implementation)"
        ]
    );
}

/// An ar member header and data (padded to an even length).
fn ar_member(name: &str, data: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
        0,
        0,
        0,
        644,
        data.len()
    )
    .into_bytes();
    m.extend_from_slice(data);
    if data.len() % 2 == 1 {
        m.push(b'\n');
    }
    m
}

/// A GNU ar with a symbol table naming `symbols`, all defined in `x.o`
/// (the table points at `x.o`'s header, or `offset_bias` bytes past it).
fn ar_with_armap(symbols: &[&str], offset_bias: u32) -> Vec<u8> {
    let names: Vec<u8> = symbols
        .iter()
        .flat_map(|s| [s.as_bytes(), b"\0"].concat())
        .collect();
    let table_len = 4 + 4 * symbols.len() + names.len();
    let x_at = (8 + 60 + table_len + table_len % 2) as u32 + offset_bias;
    let mut table = (symbols.len() as u32).to_be_bytes().to_vec();
    for _ in symbols {
        table.extend_from_slice(&x_at.to_be_bytes());
    }
    table.extend_from_slice(&names);
    [
        &b"!<arch>\n"[..],
        &ar_member("/", &table),
        &ar_member("x.o/", b"\x00object\xff"),
    ]
    .concat()
}

#[test]
fn ar_symbol_table_reads_as_symbol_to_member() {
    let a = ar_with_armap(&["alpha", "beta"], 0);
    let b = ar_with_armap(&["alpha", "gamma"], 0);
    let d = diff(&pair("lib.a", &a, "lib.a", &b));
    // A view of the archive, before its file list, as diffoscope shows it.
    assert_eq!(d.details[0].source1, "nm --print-armap {}", "{d:#?}");
    let table = at(&d, &["nm --print-armap {}"]);
    assert_eq!(
        table.unified_diff.as_deref(),
        Some("@@ -1,2 +1,2 @@\n alpha → x.o\n-beta → x.o\n+gamma → x.o\n"),
        "{d:#?}"
    );
    // A table pointing at no member header is compared as bytes.
    let broken = ar_with_armap(&["alpha", "beta"], 2);
    let d = diff(&pair("lib.a", &a, "lib.a", &broken));
    assert!(at(&d, &["nm --print-armap {}"]).hexdump, "{d:#?}");
}

/// A little-endian 64-bit Mach-O object with one `__TEXT` segment holding
/// a `__cstring` section with `strings` (NUL-separated) and an LC_UUID.
fn mach_o(strings: &[u8], uuid: [u8; 16]) -> Vec<u8> {
    mach_o_of(&[("__TEXT", "__cstring", 2, strings)], uuid)
}

/// A little-endian 64-bit x86_64 Mach-O object: one unnamed segment
/// holding `sections` (segment name, section name, flags, bytes), laid out
/// one after another after the load commands, then an LC_UUID.
fn mach_o_of(sections: &[(&str, &str, u32, &[u8])], uuid: [u8; 16]) -> Vec<u8> {
    let name16 = |s: &str| {
        let mut b = [0u8; 16];
        b[..s.len()].copy_from_slice(s.as_bytes());
        b
    };
    let (segment_len, uuid_len) = (72 + 80 * sections.len() as u32, 24u32);
    let data_at = 32 + segment_len + uuid_len;
    let total: u64 = sections.iter().map(|s| s.3.len() as u64).sum();
    let mut out = Vec::new();
    for word in [
        0xfeed_facfu32,
        0x0100_0007,
        3,
        1,
        2,
        segment_len + uuid_len,
        0,
        0,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&0x19u32.to_le_bytes()); // LC_SEGMENT_64
    out.extend_from_slice(&segment_len.to_le_bytes());
    out.extend_from_slice(&name16(""));
    for word in [0u64, total, u64::from(data_at), total] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for word in [7u32, 7, sections.len() as u32, 0] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    let mut at = data_at;
    for (segment, section, flags, bytes) in sections {
        out.extend_from_slice(&name16(section));
        out.extend_from_slice(&name16(segment));
        out.extend_from_slice(&u64::from(at - data_at).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        // offset, align, reloff, nreloc, flags, reserved
        for word in [at, 0, 0, 0, *flags, 0, 0, 0] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        at += bytes.len() as u32;
    }
    out.extend_from_slice(&0x1bu32.to_le_bytes()); // LC_UUID
    out.extend_from_slice(&uuid_len.to_le_bytes());
    out.extend_from_slice(&uuid);
    for (.., bytes) in sections {
        out.extend_from_slice(bytes);
    }
    out
}

/// A fat file with `thin` as its one x86_64 slice, at offset 4096.
fn fat_of(thin: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [
        0xcafe_babeu32,
        1,
        0x0100_0007,
        3,
        4096,
        thin.len() as u32,
        12,
    ] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.resize(4096, 0);
    out.extend_from_slice(thin);
    out
}

#[test]
fn mach_o_sections_and_load_commands_read_as_text() {
    let a = mach_o(b"built in /build/a\0", [1; 16]);
    let b = mach_o(b"built in /build/b\0", [2; 16]);
    assert_eq!(detect(&a), Kind::MachO);
    let p = pair("x.o", &a, "x.o", &b);
    let mut d = diff(&p);
    annotate(&mut d, &two_build_dirs());
    // A thin file is its one architecture, named as diffoscope names it.
    assert_eq!(d.details.len(), 1, "{d:#?}");
    let cstring = at(&d, &["x86_64", "__TEXT,__cstring"]);
    assert_eq!(
        cstring.unified_diff.as_deref(),
        Some("@@ -1 +1 @@\n-built in /build/a\n+built in /build/b\n")
    );
    assert_eq!(cstring.hints[0].cause, Cause::BuildPath);
    let commands = at(&d, &["x86_64", "load commands"]);
    let u = commands.unified_diff.as_deref().unwrap_or_default();
    assert!(
        u.contains("+1: LC_UUID (24 bytes) 02020202-0202-0202-0202-020202020202\n"),
        "{u}"
    );
    assert!(commands.hints.is_empty(), "{:?}", commands.hints);

    // The same inside a fat file: one slice, read again as Mach-O.
    assert_eq!(detect(&fat_of(&a)), Kind::MachO);
    let d = diff(&pair("x", &fat_of(&a), "x", &fat_of(&b)));
    let cstring = at(&d, &["x86_64", "__TEXT,__cstring"]);
    assert!(cstring.unified_diff.is_some(), "{d:#?}");
    // A Java class file shares the fat magic; its version is no count.
    assert_ne!(detect(b"\xca\xfe\xba\xbe\x00\x00\x00\x34"), Kind::MachO);
}

#[test]
fn mach_o_that_lies_about_its_sizes_is_malformed() {
    let mut a = mach_o(b"x\0", [1; 16]);
    // sizeofcmds far beyond the file.
    a[20..24].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let p = pair("x.o", &a, "x.o", &mach_o(b"y\0", [1; 16]));
    match diff_with(&p, &Options::default()) {
        Err(Error::Malformed {
            format: Kind::MachO,
            detail,
            ..
        }) => {
            assert!(detail.contains("load commands"), "{detail}")
        }
        other => panic!("expected a malformed Mach-O, got {other:?}"),
    }
}

/// A `RUST_OBJECT` bytecode container of `bitcode`, as old rustc wrote
/// them into `.rlib` files.
fn rust_object(bitcode: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bitcode).unwrap();
    let deflated = e.finish().unwrap();
    let mut out = b"RUST_OBJECT\x01\x00\x00\x00".to_vec();
    out.extend_from_slice(&(deflated.len() as u64).to_le_bytes());
    out.extend_from_slice(&deflated);
    out
}

#[test]
fn rlib_bytecode_members_are_compared_inflated() {
    let a = rust_object(b"BC\xc0\xde\x00source_filename = /build/a/lib.rs\x00");
    let b = rust_object(b"BC\xc0\xde\x00source_filename = /build/b/lib.rs\x00");
    assert_eq!(detect(&a), Kind::RustObject);
    let (ra, rb) = (
        [&b"!<arch>\n"[..], &ar_member("x.bc.deflate/", &a)].concat(),
        [&b"!<arch>\n"[..], &ar_member("x.bc.deflate/", &b)].concat(),
    );
    let mut d = diff(&pair("libx.rlib", &ra, "libx.rlib", &rb));
    annotate(&mut d, &two_build_dirs());
    let inner = at(&d, &["x.bc.deflate", "x.bc"]);
    assert!(inner.hexdump, "{inner:#?}");
    let strings = &inner.details[0];
    assert_eq!(strings.hints[0].cause, Cause::BuildPath, "{strings:#?}");
}
