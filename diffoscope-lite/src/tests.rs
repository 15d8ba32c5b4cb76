//! End-to-end tests of the library: tiny archives are built here with the
//! same crates that read them (no opaque blobs), written to a temp dir, and
//! compared through the public API.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use crate::formats::{detect, Kind};
use crate::hints::{annotate, Cause, HintContext};
use crate::model::{MetaField, MetaValue};
use crate::printers::{self, TextOptions};
use crate::{compare, Difference, Error, Limits, Options};

mod binaries;

// ---------- archive builders ----------

struct ZipMember<'a> {
    name: &'a str,
    data: &'a [u8],
    mtime: (u16, u8, u8, u8, u8, u8),
    mode: u32,
}

fn member<'a>(name: &'a str, data: &'a [u8]) -> ZipMember<'a> {
    ZipMember {
        name,
        data,
        mtime: (2020, 1, 1, 0, 0, 0),
        mode: 0o644,
    }
}

fn zip_of(members: &[ZipMember<'_>]) -> Vec<u8> {
    let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    for m in members {
        let (y, mo, d, h, mi, s) = m.mtime;
        let opts = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Deflated)
            .last_modified_time(::zip::DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap())
            .unix_permissions(m.mode);
        w.start_file(m.name, opts).unwrap();
        w.write_all(m.data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let members: Vec<ZipMember<'_>> = files.iter().map(|(n, d)| member(n, d)).collect();
    zip_of(&members)
}

struct TarMember<'a> {
    name: &'a [u8],
    data: &'a [u8],
    mtime: u64,
    uid: u64,
    user: &'a str,
}

fn tar_member<'a>(name: &'a str, data: &'a [u8]) -> TarMember<'a> {
    TarMember {
        name: name.as_bytes(),
        data,
        mtime: 1_700_000_000,
        uid: 1000,
        user: "builder",
    }
}

fn tar_of(members: &[TarMember<'_>]) -> Vec<u8> {
    let mut b = ::tar::Builder::new(Vec::new());
    for m in members {
        let mut h = ::tar::Header::new_ustar();
        // Raw name bytes: the builder's own path checks would refuse the
        // hostile names some tests need.
        h.as_old_mut().name[..m.name.len()].copy_from_slice(m.name);
        h.set_size(m.data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(m.uid);
        h.set_gid(m.uid);
        h.set_username(m.user).unwrap();
        h.set_groupname(m.user).unwrap();
        h.set_mtime(m.mtime);
        h.set_entry_type(::tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, m.data).unwrap();
    }
    b.into_inner().unwrap()
}

fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let members: Vec<TarMember<'_>> = files.iter().map(|(n, d)| tar_member(n, d)).collect();
    tar_of(&members)
}

fn gzip_with_mtime(data: &[u8], mtime: u32) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .mtime(mtime)
        .write(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_with_mtime(data, 0)
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = ::bzip2::write::BzEncoder::new(Vec::new(), ::bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    ::zstd::encode_all(data, 3).unwrap()
}

fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            format!("{name}/"),
            1_700_000_000,
            0,
            0,
            "100644",
            data.len()
        );
        assert_eq!(header.len(), 60);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

// ---------- helpers ----------

struct Pair {
    dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
}

fn pair(name_a: &str, a: &[u8], name_b: &str, b: &[u8]) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&pa).unwrap();
    std::fs::create_dir(&pb).unwrap();
    let (a_path, b_path) = (pa.join(name_a), pb.join(name_b));
    std::fs::write(&a_path, a).unwrap();
    std::fs::write(&b_path, b).unwrap();
    Pair {
        dir,
        a: a_path,
        b: b_path,
    }
}

fn diff_with(p: &Pair, opts: &Options) -> crate::Result<Option<Difference>> {
    compare(&p.a, &p.b, opts)
}

fn diff(p: &Pair) -> Difference {
    diff_with(p, &Options::default())
        .unwrap()
        .expect("a difference")
}

/// The child reached by following first-side names.
fn at<'d>(d: &'d Difference, path: &[&str]) -> &'d Difference {
    let mut node = d;
    for name in path {
        node = node
            .details
            .iter()
            .find(|c| c.source1 == *name)
            .unwrap_or_else(|| panic!("no {name} under {}: {node:#?}", node.source1));
    }
    node
}

fn text_of(d: &Difference) -> String {
    let mut out = Vec::new();
    printers::text(d, &mut out, &TextOptions::default()).unwrap();
    String::from_utf8(out).unwrap()
}

/// What the caller knows when the two builds ran in `/build/a` and `/build/b`.
fn two_build_dirs() -> HintContext {
    HintContext {
        build_dirs: vec!["/build/a".into(), "/build/b".into()],
        ..HintContext::default()
    }
}

fn rel(p: &Pair, s: &str) -> String {
    s.replace(&p.dir.path().display().to_string(), "[TMP]")
}

// ---------- detection ----------

#[test]
fn every_format_is_detected_by_magic() {
    let head = |b: &[u8]| detect(&b[..b.len().min(crate::formats::HEAD_LEN)]);
    assert_eq!(head(&zip(&[("x", b"1")])), Kind::Zip);
    assert_eq!(head(&tar(&[("x", b"1")])), Kind::Tar);
    assert_eq!(head(&gzip(b"x")), Kind::Gzip);
    assert_eq!(head(&xz(b"x")), Kind::Xz);
    assert_eq!(head(&zst(b"x")), Kind::Zstd);
    assert_eq!(head(&bz2(b"x")), Kind::Bzip2);
    assert_eq!(head(&ar(&[("debian-binary", b"2.0\n")])), Kind::Ar);
    assert_eq!(head(&mini_elf(&[])), Kind::Elf);
    assert_eq!(head(&pyc_of(3495, 0, [0; 8], b"\xe3")), Kind::Pyc);
    assert_eq!(head(b"{\"k\": [1, 2]}\n"), Kind::Json);
    assert_eq!(head(b"plain text\n"), Kind::Text);
    assert_eq!(head(&[0u8, 159, 146, 150]), Kind::Binary);
    // A v7 tar (no ustar magic) is recognised by its header checksum.
    let mut v7 = tar(&[("x", b"1")]);
    v7[257..265].fill(0);
    let mut h = ::tar::Header::from_byte_slice(&v7[..512]).clone();
    h.set_cksum();
    v7[..512].copy_from_slice(h.as_bytes());
    assert_eq!(head(&v7), Kind::Tar);
}

#[test]
fn a_zip_named_txt_is_still_a_zip() {
    let p = pair(
        "notes.txt",
        &zip(&[("inner.py", b"x = 1\n")]),
        "notes.txt",
        &zip(&[("inner.py", b"x = 2\n")]),
    );
    let d = diff(&p);
    let inner = at(&d, &["inner.py"]);
    assert_eq!(
        inner.unified_diff.as_deref(),
        Some("@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    );
}

// ---------- comparing ----------

#[test]
fn identical_inputs_give_none() {
    let z = zip(&[("a", b"1"), ("b", b"2")]);
    let p = pair("x.whl", &z, "x.whl", &z);
    assert!(diff_with(&p, &Options::default()).unwrap().is_none());
    // Identical directories too.
    let dir = tempfile::tempdir().unwrap();
    for side in ["a", "b"] {
        std::fs::create_dir_all(dir.path().join(side).join("sub")).unwrap();
        std::fs::write(dir.path().join(side).join("sub/f.txt"), "same").unwrap();
    }
    let r = compare(
        &dir.path().join("a"),
        &dir.path().join("b"),
        &Options::default(),
    )
    .unwrap();
    assert!(r.is_none(), "{r:#?}");
}

#[test]
fn zip_with_one_changed_member_gives_a_nested_text_diff() {
    let p = pair(
        "pkg.whl",
        &zip(&[
            ("pkg/__init__.py", b""),
            ("pkg/mod.py", b"a\nb\nc\nd\ne\nf\ng\n"),
        ]),
        "pkg.whl",
        &zip(&[
            ("pkg/__init__.py", b""),
            ("pkg/mod.py", b"a\nb\nc\nD\ne\nf\ng\n"),
        ]),
    );
    let d = diff(&p);
    assert_eq!(d.details.len(), 1, "{d:#?}");
    let m = at(&d, &["pkg/mod.py"]);
    assert_eq!(
        m.unified_diff.as_deref(),
        Some("@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n")
    );
    assert!(m.metadata.is_empty(), "{:#?}", m.metadata);
}

#[test]
fn zip_timestamps_only_is_a_metadata_difference() {
    let mut late = member("f.txt", b"same");
    late.mtime = (2024, 5, 6, 7, 8, 10);
    let p = pair(
        "t.zip",
        &zip_of(&[member("f.txt", b"same")]),
        "t.zip",
        &zip_of(&[late]),
    );
    let mut d = diff(&p);
    annotate(&mut d, &HintContext::default());
    // Shown as a changed line of the listing, as diffoscope's `zipinfo {}`,
    // not as a node of the member.
    assert_eq!(d.details.len(), 1, "{d:#?}");
    let list = at(&d, &["zipinfo {}"]);
    assert!(list.view);
    assert_eq!(
        list.unified_diff.as_deref(),
        Some(
            "@@ -1,3 +1,3 @@\n \
             Zip file size: 114 bytes, number of entries: 1\n\
             --rw-r--r--        4 b Deflated 2020-01-01 00:00:00 f.txt\n\
             +-rw-r--r--        4 b Deflated 2024-05-06 07:08:10 f.txt\n \
             1 file, 4 bytes uncompressed, 6 bytes compressed:  -50.0%\n"
        )
    );
    let f = &list.listed[0];
    assert_eq!((f.source1.as_str(), f.has_node), ("f.txt", false));
    assert_eq!(f.metadata.len(), 1, "{:#?}", f.metadata);
    let m = &f.metadata[0];
    assert_eq!(m.field, MetaField::Mtime);
    assert_eq!(
        m.source1,
        MetaValue::Time(crate::timefmt::epoch_of(2020, 1, 1, 0, 0, 0))
    );
    assert_eq!(m.hints[0].cause, Cause::Timestamp);
}

#[test]
fn the_zip_text_flag_is_metadata_shown_as_zipinfo_shows_it() {
    // Two zips alike but for the central directory's internal attributes
    // (bit 0: text), as zip(1) and another writer may set them: repro
    // said the metadata was the same and hexdumped the bytes.
    let z = zip(&[("f.txt", b"same\n")]);
    let mut text = z.clone();
    let cd = text
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("a central directory");
    text[cd + 36] = 1;
    let p = pair("t.zip", &z, "t.zip", &text);
    let d = diff(&p);
    assert!(!d.hexdump, "{}", text_of(&d));
    let list = at(&d, &["zipinfo {}"]);
    let shown = list.unified_diff.as_deref().unwrap_or_default();
    assert!(
        shown.contains("\n-") && shown.contains(" b Deflated"),
        "{shown}"
    );
    assert!(shown.contains(" t Deflated"), "{shown}");
    assert_eq!(d.details.len(), 1, "no member node: {d:#?}");
    let m = &list.listed[0].metadata[0];
    assert_eq!(m.field, MetaField::Attribute("internal attributes"));
    assert_eq!(
        (&m.source1, &m.source2),
        (&MetaValue::Absent, &MetaValue::Text("text".into()))
    );
}

#[test]
fn zip_order_only_is_an_entry_order_difference() {
    let p = pair(
        "o.jar",
        &zip(&[("a.class", b"A"), ("b.class", b"B")]),
        "o.jar",
        &zip(&[("b.class", b"B"), ("a.class", b"A")]),
    );
    let mut d = diff(&p);
    annotate(&mut d, &HintContext::default());
    // The listing shows the move, as diffoscope's does; no member differs.
    let names: Vec<&str> = d.details.iter().map(|c| c.source1.as_str()).collect();
    assert_eq!(names, ["zipinfo {}", "zipnote {}"], "{d:#?}");
    assert!(d.details[0].listed.is_empty());
    assert_eq!(d.metadata.len(), 1);
    let m = &d.metadata[0];
    assert_eq!(m.field, MetaField::EntryOrder);
    assert_eq!(m.source1, MetaValue::Text("a.class, b.class".into()));
    assert_eq!(m.source2, MetaValue::Text("b.class, a.class".into()));
    assert_eq!(m.hints[0].cause, Cause::EntryOrder);
    assert!(text_of(&d).contains("likely cause: entry order"));
}

#[test]
fn tar_gz_mtimes_and_owners_are_metadata_differences() {
    let a = tar_member("etc/conf", b"same");
    let mut b = tar_member("etc/conf", b"same");
    b.mtime += 3600;
    b.uid = 0;
    b.user = "root";
    let p = pair(
        "r.tar.gz",
        &gzip(&tar_of(&[a])),
        "r.tar.gz",
        &gzip(&tar_of(&[b])),
    );
    let mut d = diff(&p);
    annotate(
        &mut d,
        &HintContext {
            uids: vec![1000],
            user_names: vec!["builder".into()],
            ..HintContext::default()
        },
    );
    let tar = at(&d, &["r.tar"]);
    let names: Vec<&str> = tar.details.iter().map(|c| c.source1.as_str()).collect();
    assert_eq!(names, ["file list"], "no member node: {tar:#?}");
    let conf = &tar.details[0].listed[0];
    assert_eq!(conf.source1, "etc/conf");
    let fields: Vec<String> = conf.metadata.iter().map(|m| m.field.to_string()).collect();
    assert_eq!(fields, ["uid", "gid", "user", "group", "mtime"]);
    let causes: Vec<Cause> = conf.metadata.iter().map(|m| m.hints[0].cause).collect();
    assert_eq!(
        causes,
        [
            Cause::Uid,
            Cause::Uid,
            Cause::UserName,
            Cause::UserName,
            Cause::Timestamp
        ]
    );
}

#[test]
fn tar_pairs_find_the_same_differences_in_any_order() {
    // Members larger than the streaming comparison's chunk, met by the two
    // sides in the same order (compared while both stream) and in opposite
    // orders (one side spools, the other compares against the spool).
    // Pseudo-random, so that it stays under the compression-ratio limit.
    let big = |seed: u64| -> Vec<u8> {
        let mut state = seed;
        (0..700_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect()
    };
    let (x, y, z) = (big(1), big(2), big(3));
    let mut x_late = x.clone();
    *x_late.last_mut().unwrap() ^= 0xff;
    let z_short = &z[..z.len() - 1];
    let a_members = [
        ("x", &x[..]),
        ("y", &y[..]),
        ("z", &z[..]),
        ("dup", b"one"),
        ("dup", b"two"),
    ];
    let b_members = [
        ("x", &x_late[..]),
        ("y", &y[..]),
        ("z", z_short),
        ("dup", b"one"),
        ("dup", b"TWO"),
    ];
    // Duplicates pair by occurrence, so theirs keep their relative order.
    let mut b_reversed = b_members;
    b_reversed[..3].reverse();
    for b_order in [&b_members[..], &b_reversed[..]] {
        for swap in [false, true] {
            let (ta, tb) = (tar(&a_members), tar(b_order));
            let (ta, tb) = if swap { (tb, ta) } else { (ta, tb) };
            let p = pair("t.tar.zst", &zst(&ta), "t.tar.zst", &zst(&tb));
            let d = diff(&p);
            let tar = &d.details[0];
            let mut content: Vec<&str> = tar
                .details
                .iter()
                .filter(|c| c.unified_diff.is_some() && !c.view)
                .map(|c| c.source1.as_str())
                .collect();
            content.sort_unstable();
            assert_eq!(content, ["dup", "x", "z"], "b in order {:?}", b_order[0].0);
            let x_diff = at(tar, &["x"]).unified_diff.as_deref().unwrap();
            assert!(x_diff.contains("000aae50"), "{x_diff}");
        }
    }
}

#[test]
fn long_file_lists_are_diffed_sorted_and_capped() {
    // Every name differs (a versioned top directory): over
    // FILE_LIST_IN_ORDER entries the lists are merged sorted, in linear
    // time, and the "only in" comments are capped like diff lines.
    let names =
        |top: &str| -> Vec<String> { (0..2_500).map(|i| format!("{top}/f{i:05}")).collect() };
    let (na, nb) = (names("pkg-1.0"), names("pkg-1.1"));
    let files = |n: &[String]| -> Vec<u8> {
        let members: Vec<(&str, &[u8])> = n.iter().map(|s| (s.as_str(), &b"x"[..])).collect();
        tar(&members)
    };
    let p = pair("a.tar", &files(&na), "b.tar", &files(&nb));
    let opts = Options {
        max_diff_lines: 50,
        ..Options::default()
    };
    let d = diff_with(&p, &opts).unwrap().unwrap();
    let list = at(&d, &["file list"]);
    assert!(
        list.comments[0].contains("sorted by name"),
        "{:?}",
        &list.comments[..2]
    );
    let u = list.unified_diff.as_deref().unwrap();
    assert!(
        u.starts_with("@@ -1,2500 +1,2500 @@\n-pkg-1.0/f00000\t-rw-r--r--"),
        "{u}"
    );
    assert!(u.ends_with("--max-diff-lines is 50 ]\n"), "{u}");
    // 1 note + 50 + 1 "and more" per side.
    assert_eq!(
        list.comments.len(),
        1 + 2 * 51,
        "{:?}",
        list.comments.last()
    );
    assert!(
        list.comments[51].starts_with("… and 2450 more only in"),
        "{}",
        list.comments[51]
    );
}

#[test]
fn recompressing_the_same_tar_is_not_a_content_difference() {
    let t = tar(&[("a.txt", b"alpha\n"), ("b.txt", b"beta\n")]);
    let p = pair(
        "t.tar.zst",
        &::zstd::encode_all(&t[..], 1).unwrap(),
        "t.tar.zst",
        &::zstd::encode_all(&t[..], 19).unwrap(),
    );
    let d = diff(&p);
    // No tar node: the decompressed tars are equal; what differs is the
    // compressed stream itself.
    assert!(d.details.is_empty(), "{d:#?}");
    // Said in words, without a hexdump of compressed bytes.
    assert!(
        d.comments[0].contains("the decompressed contents are identical; only the zstd"),
        "{d:#?}"
    );
    assert!(d.unified_diff.is_none());
}

#[test]
fn gzip_header_mtime_only() {
    let p = pair(
        "log.gz",
        &gzip_with_mtime(b"same\n", 1_700_000_000),
        "log.gz",
        &gzip_with_mtime(b"same\n", 1_700_000_500),
    );
    let d = diff(&p);
    assert!(d.details.is_empty(), "{d:#?}");
    assert_eq!(d.metadata.len(), 1);
    assert_eq!(d.metadata[0].field, MetaField::Header("gzip mtime"));
    assert_eq!(d.metadata[0].source2, MetaValue::Time(1_700_000_500));
}

#[test]
fn zip_inside_tar_gz_with_a_build_path_gets_the_hint() {
    let inner = |dir: &str| {
        zip(&[(
            "META-INF/build.txt",
            format!("built in {dir}/src\nok\n").as_bytes(),
        )])
    };
    let (za, zb) = (inner("/build/a"), inner("/build/b"));
    let ta = gzip(&tar(&[("readme", b"hi\n"), ("lib/app.jar", &za)]));
    let tb = gzip(&tar(&[("readme", b"hi\n"), ("lib/app.jar", &zb)]));
    let p = pair("app.tar.gz", &ta, "app.tar.gz", &tb);
    let mut d = diff(&p);
    annotate(&mut d, &two_build_dirs());
    let leaf = at(&d, &["app.tar", "lib/app.jar", "META-INF/build.txt"]);
    assert_eq!(
        leaf.unified_diff.as_deref(),
        Some("@@ -1,2 +1,2 @@\n-built in /build/a/src\n+built in /build/b/src\n ok\n")
    );
    assert_eq!(leaf.hints[0].cause, Cause::BuildPath);
    assert!(text_of(&d).contains("likely cause: embedded build path (/build/a)"));
}

/// `stub` followed by a zip of `files` whose offsets count from the
/// start of the stub, as `zip -A` leaves a self-extractor.
fn self_extractor(stub: &[u8], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut cursor = Cursor::new(stub.to_vec());
    cursor.set_position(stub.len() as u64);
    let mut w = ::zip::ZipWriter::new(cursor);
    for (name, data) in files {
        let stored = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Stored);
        w.start_file(*name, stored).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn self_extractors_whose_zips_differ_show_where() {
    // An ELF stub that reads as an ELF with the same sections on both
    // sides: the note that both also read as zips was taken for the
    // difference, and the report said nothing else (exit 1, no detail).
    let Ok(stub) = std::fs::read("/bin/true") else {
        eprintln!("skipping: no /bin/true to use as a stub");
        return;
    };
    let a = self_extractor(&stub, &[("a.txt", b"hello\n")]);
    let b = self_extractor(&stub, &[("a.txt", b"changed\n")]);
    let p = pair("sfx", &a, "sfx", &b);
    let d = diff(&p);
    assert!(
        d.comments
            .iter()
            .any(|c| c.starts_with("also reads as zip")),
        "{d:#?}"
    );
    assert!(d.hexdump, "the differing bytes are shown: {}", text_of(&d));
    assert!(text_of(&d).contains("changed"), "{}", text_of(&d));
}

#[test]
fn a_plain_zip_beside_a_self_extractor_compares_the_zips() {
    let Ok(stub) = std::fs::read("/bin/true") else {
        eprintln!("skipping: no /bin/true to use as a stub");
        return;
    };
    let plain = self_extractor(b"", &[("a.txt", b"hello\n"), ("b.txt", b"same\n")]);
    let sfx = self_extractor(&stub, &[("a.txt", b"changed\n"), ("b.txt", b"same\n")]);
    let p = pair("x.zip", &plain, "x.zip", &sfx);
    let d = diff(&p);
    assert!(
        d.comments[0].starts_with("format: zip vs ELF;"),
        "{}",
        text_of(&d)
    );
    let a = at(&d, &["a.txt"]);
    assert_eq!(
        a.unified_diff.as_deref(),
        Some("@@ -1 +1 @@\n-hello\n+changed\n"),
        "{}",
        text_of(&d)
    );
    assert!(d.details.iter().all(|c| c.source1 != "b.txt"));
}

#[test]
fn binary_difference_is_a_hexdump_with_offsets() {
    let a: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let mut b = a.clone();
    b[500] ^= 0xff;
    let p = pair("x.bin", &a, "x.bin", &b);
    let d = diff(&p);
    let u = d.unified_diff.as_deref().unwrap();
    assert!(u.starts_with("@@ -0x1f0 +0x1f0 @@\n-000001f0: f0f1"), "{u}");
    assert!(u.contains("\n+000001f0: f0f1 f2f3 0b"), "{u}");
    assert_eq!(u.lines().count(), 3, "{u}");
}

#[test]
fn hexdump_words_are_not_hints() {
    // Two bytes 0x10 0x00 print as the hex word `1000`, a build's uid, on
    // one side only; and the offsets and words around it could read as
    // anything. None of it is text, so no hint may come from it.
    let mut a: Vec<u8> = vec![0, 0xff, 0xfe, 0x80];
    a.extend_from_slice(&[0x10, 0x00, 0x20, 0x23, 0x00, 0x01]);
    let mut b = a.clone();
    b[4] = 0x17;
    let p = pair("x.bin", &a, "x.bin", &b);
    let mut d = diff(&p);
    let cx = HintContext {
        uids: vec![1000, 2023],
        source_date_epoch: Some(1_700_000_000),
        ..HintContext::default()
    };
    annotate(&mut d, &cx);
    let u = d.unified_diff.as_deref().unwrap();
    assert!(u.contains("-00000000: 00ff fe80 1000 2023"), "{u}");
    assert!(d.hexdump);
    assert!(d.hints.is_empty(), "{:?}", d.hints);
    assert!(!text_of(&d).contains("likely cause"), "{}", text_of(&d));
}

#[test]
fn max_diff_lines_marker() {
    let a: String = (0..500).map(|i| format!("{i}\n")).collect();
    let b: String = (0..500).map(|i| format!("{}\n", i * 2)).collect();
    let p = pair("n.txt", a.as_bytes(), "n.txt", b.as_bytes());
    let opts = Options {
        max_diff_lines: 20,
        ..Options::default()
    };
    let d = diff_with(&p, &opts).unwrap().unwrap();
    let u = d.unified_diff.unwrap();
    assert_eq!(u.lines().count(), 21);
    assert!(
        u.lines()
            .last()
            .unwrap()
            .ends_with("lines omitted; --max-diff-lines is 20 ]"),
        "{u}"
    );
}

#[test]
fn single_stream_compressors_recurse() {
    for (make, name) in [
        (xz as fn(&[u8]) -> Vec<u8>, "f.txt.xz"),
        (zst, "f.txt.zst"),
        (bz2, "f.txt.bz2"),
        (gzip, "f.txt.gz"),
    ] {
        let p = pair(name, &make(b"one\n"), name, &make(b"two\n"));
        let d = diff(&p);
        let f = at(&d, &["f.txt"]);
        assert_eq!(
            f.unified_diff.as_deref(),
            Some("@@ -1 +1 @@\n-one\n+two\n"),
            "{name}"
        );
    }
}

#[test]
fn deb_members_are_recursed() {
    let control = |v: &str| {
        gzip(&tar(&[(
            "./control",
            format!("Package: x\nVersion: {v}\n").as_bytes(),
        )]))
    };
    let (ca, cb) = (control("1.0"), control("1.1"));
    let a = ar(&[("debian-binary", b"2.0\n"), ("control.tar.gz", &ca)]);
    let b = ar(&[("debian-binary", b"2.0\n"), ("control.tar.gz", &cb)]);
    let p = pair("x.deb", &a, "x.deb", &b);
    let d = diff(&p);
    let c = at(&d, &["control.tar.gz", "control.tar", "./control"]);
    assert_eq!(
        c.unified_diff.as_deref(),
        Some("@@ -1,2 +1,2 @@\n Package: x\n-Version: 1.0\n+Version: 1.1\n")
    );
}

#[test]
fn json_is_compared_pretty_and_key_order_is_a_formatting_difference() {
    let p = pair(
        "m.json",
        br#"{"a":1,"b":[1,2]}"#,
        "m.json",
        br#"{"a":1,"b":[1,3]}"#,
    );
    let d = diff(&p);
    assert!(
        d.unified_diff
            .as_deref()
            .unwrap()
            .contains("-    2\n+    3\n"),
        "{d:#?}"
    );
    let p = pair("m.json", br#"{"a":1,"b":2}"#, "m.json", br#"{"b":2,"a":1}"#);
    let d = diff(&p);
    assert!(
        d.comments[0].contains("only formatting or key order"),
        "{d:#?}"
    );
}

#[test]
fn directories_report_missing_files_and_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for side in [&a, &b] {
        std::fs::create_dir_all(side.join("bin")).unwrap();
        std::fs::write(side.join("bin/tool"), "#!/bin/sh\n").unwrap();
    }
    std::fs::write(a.join("only-a"), "x").unwrap();
    std::fs::set_permissions(b.join("bin/tool"), std::fs::Permissions::from_mode(0o664)).unwrap();
    std::fs::set_permissions(a.join("bin/tool"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut d = compare(&a, &b, &Options::default()).unwrap().unwrap();
    annotate(&mut d, &HintContext::default());
    let files = at(&d, &["file list"]);
    assert!(files.comments[0].starts_with("only in"), "{files:#?}");
    let tool = at(&d, &["bin/tool"]);
    assert_eq!(tool.metadata[0].hints[0].cause, Cause::Umask);
}

// ---------- limits ----------

fn limit_flag(r: crate::Result<Option<Difference>>) -> &'static str {
    match r {
        Err(Error::LimitExceeded { flag, .. }) => flag,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn depth_limit_cuts_the_branch_not_the_report() {
    let z1 = zip(&[("x", b"1")]);
    let z2 = zip(&[("x", b"2")]);
    let (a, b) = (zip(&[("in.zip", &z1)]), zip(&[("in.zip", &z2)]));
    let p = pair(
        "o.zip",
        &zip(&[("mid.zip", &a), ("README", b"same")]),
        "o.zip",
        &zip(&[("mid.zip", &b), ("README", b"other")]),
    );
    let opts = Options {
        limits: Limits {
            max_depth: 2,
            ..Limits::default()
        },
        ..Options::default()
    };
    let d = diff_with(&p, &opts).unwrap().expect("a report");
    // The branch at the limit says so and is compared as bytes ...
    let deep = at(&d, &["mid.zip", "in.zip"]);
    assert!(
        deep.comments[0].starts_with("maximum depth reached")
            && deep.comments[0].contains("--max-depth is 2"),
        "{deep:#?}"
    );
    assert!(deep.hexdump && deep.details.is_empty(), "{deep:#?}");
    // ... and the rest of the report is still there.
    assert!(at(&d, &["README"]).unified_diff.is_some());
    // One level more and the branch is looked into.
    let opts = Options {
        limits: Limits {
            max_depth: 3,
            ..Limits::default()
        },
        ..Options::default()
    };
    let d = diff_with(&p, &opts).unwrap().unwrap();
    assert!(at(&d, &["mid.zip", "in.zip", "x"]).unified_diff.is_some());
}

#[test]
fn an_archive_quine_ends_in_a_report() {
    // A zip holding a zip holding … deeper than the limit on both sides.
    let (mut a, mut b) = (b"a".to_vec(), b"b".to_vec());
    for _ in 0..12 {
        a = zip(&[("q.zip", &a)]);
        b = zip(&[("q.zip", &b)]);
    }
    let p = pair("q.zip", &a, "q.zip", &b);
    let opts = Options {
        limits: Limits {
            max_depth: 4,
            ..Limits::default()
        },
        ..Options::default()
    };
    let d = diff_with(&p, &opts).unwrap().expect("a report");
    let text = text_of(&d);
    assert_eq!(text.matches("maximum depth reached").count(), 1, "{text}");
}

// ---------- pairing ----------

#[test]
fn single_member_archives_compare_their_members_whatever_the_names() {
    let a = tar(&[("foo-1.0/README", b"one\n")]);
    let b = tar(&[("foo-1.1/README", b"two\n")]);
    let p = pair("foo.tar", &a, "foo.tar", &b);
    let d = diff(&p);
    let m = at(&d, &["foo-1.0/README"]);
    assert_eq!(m.source2, "foo-1.1/README");
    assert_eq!(m.unified_diff.as_deref(), Some("@@ -1 +1 @@\n-one\n+two\n"));
    // Two members a side pair by name again.
    let a = tar(&[("x", b"1"), ("y", b"1")]);
    let b = tar(&[("x", b"1"), ("z", b"1")]);
    let p = pair("t.tar", &a, "t.tar", &b);
    let text = text_of(&diff(&p));
    assert!(
        text.contains("only in") && !text.contains("+++ z"),
        "{text}"
    );
}

#[test]
fn deb_data_tar_pairs_across_compression_suffixes() {
    let data = |v: &str| tar(&[("./usr/share/doc/x/changelog", v.as_bytes())]);
    let a = ar(&[
        ("debian-binary", b"2.0\n"),
        ("data.tar.xz", &xz(&data("1.0\n"))),
    ]);
    let b = ar(&[
        ("debian-binary", b"2.0\n"),
        ("data.tar.zst", &zst(&data("1.1\n"))),
    ]);
    let p = pair("x.deb", &a, "x.deb", &b);
    let d = diff(&p);
    let data = at(&d, &["data.tar.xz"]);
    assert_eq!(data.source2, "data.tar.zst");
    assert_eq!(data.metadata[0].field, MetaField::Compression);
    assert_eq!(
        data.metadata[0].to_string(),
        "compression: \"xz\" → \"zstd\""
    );
    let inner = &data.details[0].details[0];
    assert_eq!(
        inner.unified_diff.as_deref(),
        Some("@@ -1 +1 @@\n-1.0\n+1.1\n")
    );
    let text = text_of(&d);
    assert!(!text.contains("only in"), "{text}");
    // One heading of two lines, as diffoscope prints a renamed pair.
    assert!(
        text.contains("\n│   --- data.tar.xz\n├── +++ data.tar.zst\n"),
        "{text}"
    );
}

#[test]
fn archives_of_two_formats_holding_one_member_each_compare_it() {
    // A gzip beside a zip of one file (diffoscope's quine.gz/quine.zip):
    // the one members are compared, the formats a remark.
    let p = pair("x.gz", &gzip(b"one\n"), "x.zip", &zip(&[("x", b"two\n")]));
    let d = diff(&p);
    assert_eq!(d.comments, ["format: gzip vs zip"], "{d:#?}");
    let m = &d.details.last().unwrap();
    assert_eq!((m.source1.as_str(), m.source2.as_str()), ("x", "x"));
    assert_eq!(m.unified_diff.as_deref(), Some("@@ -1 +1 @@\n-one\n+two\n"));
    // Two members on one side: nothing to pair, the bytes differ.
    let p = pair(
        "x.gz",
        &gzip(b"one\n"),
        "x.zip",
        &zip(&[("x", b"one\n"), ("y", b"")]),
    );
    let d = diff(&p);
    assert!(d.details.is_empty() && d.hexdump, "{d:#?}");
}

#[test]
fn streams_of_two_compressors_are_decompressed_and_compared() {
    let same = b"hello\n".repeat(10);
    for (x, y) in [("gz", "xz"), ("xz", "zst"), ("bz2", "gz")] {
        let enc = |ext: &str, data: &[u8]| match ext {
            "gz" => gzip(data),
            "xz" => xz(data),
            "zst" => zst(data),
            _ => bz2(data),
        };
        let p = pair(
            &format!("f.{x}"),
            &enc(x, &same),
            &format!("f.{y}"),
            &enc(y, &same),
        );
        let d = diff(&p);
        // Same stream: only the wrapper differs, as metadata.
        assert!(d.details.is_empty() && d.unified_diff.is_none(), "{d:#?}");
        assert_eq!(d.metadata[0].field, MetaField::Compression, "{d:#?}");
        assert!(
            d.comments[0].starts_with("the decompressed contents are identical"),
            "{d:#?}"
        );
        let p = pair("f.gz", &gzip(b"a\n"), "f.xz", &xz(b"b\n"));
        let d = diff(&p);
        assert_eq!(
            d.details[0].unified_diff.as_deref(),
            Some("@@ -1 +1 @@\n-a\n+b\n"),
            "{d:#?}"
        );
    }
}

#[test]
fn entry_limit_names_the_flag() {
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let mut files_b = files.clone();
    files_b[0].1 = b"y";
    let p = pair("e.zip", &zip(&files), "e.zip", &zip(&files_b));
    let opts = Options {
        limits: Limits {
            max_entries: 5,
            ..Limits::default()
        },
        ..Options::default()
    };
    assert_eq!(limit_flag(diff_with(&p, &opts)), "--max-entries");
}

#[test]
fn decompressed_bytes_limit_names_the_flag() {
    let a: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut b = a.clone();
    b[0] ^= 1;
    let p = pair("d.gz", &gzip(&a), "d.gz", &gzip(&b));
    let opts = Options {
        limits: Limits {
            max_decompressed: 1 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    let r = diff_with(&p, &opts);
    let msg = r
        .as_ref()
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert_eq!(limit_flag(r), "--max-decompressed", "{msg}");
    assert!(msg.contains("total decompressed bytes"), "{msg}");
}

#[test]
fn gzip_bomb_trips_the_ratio_limit() {
    let zeros = vec![0u8; 16 << 20];
    let mut other = zeros.clone();
    other[1] = 1;
    let p = pair("bomb.gz", &gzip(&zeros), "bomb.gz", &gzip(&other));
    let r = diff_with(&p, &Options::default());
    let msg = r
        .as_ref()
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert_eq!(limit_flag(r), "--max-ratio", "{msg}");
    assert!(msg.contains("bomb.gz::bomb"), "{msg}");
    // The same bomb inside a zip is caught as well.
    let p = pair(
        "z.zip",
        &zip(&[("b", &zeros)]),
        "z.zip",
        &zip(&[("b", &other)]),
    );
    assert_eq!(
        limit_flag(diff_with(&p, &Options::default())),
        "--max-ratio"
    );
}

#[test]
fn a_few_mib_of_zeros_is_content_not_a_bomb() {
    // A zero-filled image or padding compresses ~1000:1 even with
    // deflate; below RATIO_GRACE_BYTES it is compared like anything else.
    let zeros = vec![0u8; 4 << 20];
    let mut other = zeros.clone();
    other[3 << 20] = 1;
    let p = pair(
        "img.tar.gz",
        &gzip(&tar(&[("disk.img", &zeros)])),
        "img.tar.gz",
        &gzip(&tar(&[("disk.img", &other)])),
    );
    let d = diff(&p);
    let img = at(&d, &["img.tar", "disk.img"]);
    assert!(
        img.unified_diff.as_deref().unwrap().contains("00300000"),
        "{img:#?}"
    );
}

// ---------- hostile names and entries ----------

#[test]
fn traversal_and_absolute_names_never_create_files() {
    let tag = format!("repro-dl-evil-{}", std::process::id());
    let rel_name = format!("../../{tag}");
    let abs_name = format!("/tmp/{tag}-abs");
    let za = zip(&[(rel_name.as_str(), b"a"), (abs_name.as_str(), b"a")]);
    let zb = zip(&[(rel_name.as_str(), b"b"), (abs_name.as_str(), b"b")]);
    let ta = tar(&[(rel_name.as_str(), b"a"), (abs_name.as_str(), b"a")]);
    let tb = tar(&[(rel_name.as_str(), b"b"), (abs_name.as_str(), b"b")]);
    for (name, a, b) in [("e.zip", &za, &zb), ("e.tar", &ta, &tb)] {
        let p = pair(name, a, name, b);
        let d = diff(&p);
        assert!(at(&d, &[rel_name.as_str()]).unified_diff.is_some());
        assert!(at(&d, &[abs_name.as_str()]).unified_diff.is_some());
        let cwd = std::env::current_dir().unwrap();
        for base in [
            p.dir.path(),
            p.a.parent().unwrap(),
            cwd.as_path(),
            Path::new("/tmp"),
        ] {
            assert!(!base.join(&rel_name).exists());
            assert!(!base.join(&tag).exists());
        }
        assert!(!Path::new(&abs_name).exists());
    }
}

#[test]
fn duplicate_zip_entries_are_reported() {
    // The writer refuses duplicates, so write two names of equal length
    // and patch the second into the first everywhere it occurs.
    let mut dup = zip(&[("a.txt", b"first"), ("b.txt", b"second")]);
    let mut i = 0;
    while let Some(pos) = dup[i..].windows(5).position(|w| w == b"b.txt") {
        dup[i + pos..i + pos + 5].copy_from_slice(b"a.txt");
        i += pos + 5;
    }
    let p = pair("d.zip", &zip(&[("a.txt", b"first")]), "d.zip", &dup);
    let d = diff(&p);
    assert!(
        d.comments
            .iter()
            .any(|c| c.ends_with("two entries are named \"a.txt\"")),
        "{d:#?}"
    );
}

#[test]
fn a_declared_entry_count_is_not_trusted() {
    let good = zip(&[("a.txt", b"x")]);
    let mut bad = good.clone();
    let eocd = bad.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    bad[eocd + 8..eocd + 12].copy_from_slice(&[0xfe, 0xff, 0xfe, 0xff]);
    let p = pair("n.zip", &good, "n.zip", &bad);
    let err = diff_with(&p, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("declares 65534 entries"), "{err}");
    let opts = Options {
        limits: Limits {
            max_entries: 1000,
            ..Limits::default()
        },
        ..Options::default()
    };
    assert_eq!(limit_flag(diff_with(&p, &opts)), "--max-entries");
}

#[test]
fn local_header_name_conflicts_are_reported() {
    let good = zip(&[("a.txt", b"x"), ("b.txt", b"y")]);
    let mut bad = good.clone();
    // Patch the first local header's name only (the central one is later).
    let pos = bad.windows(5).position(|w| w == b"a.txt").unwrap();
    bad[pos..pos + 5].copy_from_slice(b"c.txt");
    let p = pair("l.zip", &good, "l.zip", &bad);
    let d = diff(&p);
    assert!(
        d.comments
            .iter()
            .any(|c| c.ends_with("entry \"a.txt\" is named \"c.txt\" in its local header")),
        "{d:#?}"
    );
}

#[test]
fn control_characters_in_names_are_escaped_in_text() {
    let evil = "evil\x1b[2J\nname.txt";
    let p = pair(
        "c.zip",
        &zip(&[(evil, b"1\n")]),
        "c.zip",
        &zip(&[(evil, b"2\n")]),
    );
    let d = diff(&p);
    let out = text_of(&d);
    assert!(out.contains("├── evil\\x1b[2J\\nname.txt\n"), "{out}");
    assert!(!out.contains('\x1b'), "{out}");
    let mut summary = Vec::new();
    printers::summary(&d, &mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    // The archive is listed too: the name is a finding about it.
    assert_eq!(summary.lines().count(), 2, "{summary}");
    assert!(
        summary.ends_with("c.zip::evil\\x1b[2J\\nname.txt\n"),
        "{summary}"
    );
    assert!(
        d.comments
            .iter()
            .any(|c| c.ends_with("unsafe name (control characters)")),
        "{d:#?}"
    );
}

#[test]
fn the_summary_lists_members_one_side_lacks_with_the_side() {
    let p = pair(
        "w.zip",
        &zip(&[("same", b"1\n"), ("gone", b"x\n")]),
        "w.zip",
        &zip(&[("same", b"1\n"), ("new", b"y\n")]),
    );
    let d = diff(&p);
    let mut summary = Vec::new();
    printers::summary(&d, &mut summary).unwrap();
    let summary = String::from_utf8(summary).unwrap();
    let (a, b) = (p.a.display(), p.b.display());
    assert!(
        summary.contains(&format!("{a}::gone (only in {a})\n")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{a}::new (only in {b})\n")),
        "{summary}"
    );
    assert!(!summary.contains("same"), "{summary}");
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    let z = zip(&[("a", b"hello"), ("b", b"world")]);
    for cut in [10, 40, z.len() / 2, z.len() - 10] {
        let mut broken = z.clone();
        broken.truncate(cut);
        // Either a difference or an error; never a panic, a hang or
        // "identical".
        assert_honest("t.zip", &z, &broken);
    }
    let t = gzip(&tar(&[("a", b"hello")]));
    for cut in [12, 20, t.len() - 4] {
        assert_honest("t.tgz", &t, &t[..cut]);
    }
}

// ---------- output ----------

#[test]
fn json_output_has_the_diffoscope_keys() {
    let p = pair(
        "j.zip",
        &zip(&[("f", b"1\n")]),
        "j.zip",
        &zip(&[("f", b"2\n")]),
    );
    let d = diff(&p);
    let mut out = Vec::new();
    printers::json(&d, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["diffoscope-json-version"], 1);
    for key in ["source1", "source2", "unified_diff", "comments", "details"] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
        assert!(
            v["details"][0].get(key).is_some(),
            "{key} missing in child: {v}"
        );
    }
    assert_eq!(v["details"][0]["source1"], "f");
    assert_eq!(v["details"][0]["unified_diff"], "@@ -1 +1 @@\n-1\n+2\n");
}

/// Two zips of 40 members whose modes all differ as umask 022 vs 002 make
/// them, one of which (`m17.txt`) also differs in content.
fn umask_pair() -> Pair {
    let names: Vec<String> = (0..40).map(|i| format!("m{i:02}.txt")).collect();
    let side = |mode: u32, changed: &[u8]| {
        let members: Vec<ZipMember<'_>> = names
            .iter()
            .map(|n| ZipMember {
                mode,
                ..member(n, if n == "m17.txt" { changed } else { b"same\n" })
            })
            .collect();
        zip_of(&members)
    };
    pair(
        "w.zip",
        &side(0o644, b"version 1\n"),
        "w.zip",
        &side(0o664, b"version 2\n"),
    )
}

#[test]
fn shared_metadata_is_printed_once_after_the_content() {
    let p = umask_pair();
    let mut d = diff(&p);
    annotate(&mut d, &HintContext::default());
    let text = text_of(&d);
    let group = "┄ 40 members: mode: 0o0644 → 0o0664; likely cause: umask";
    assert_eq!(text.matches(group).count(), 1, "{text}");
    assert_eq!(text.matches("mode:").count(), 1, "{text}");
    let content = text.find("+version 2").unwrap();
    assert!(content < text.find(group).unwrap(), "{text}");
    // The listing and the content change are the only headings; the
    // members are listed under the group.
    assert_eq!(text.matches("├── ").count(), 2, "{text}");
    assert!(text.contains("├── zipinfo {}\n"), "{text}");
    assert!(text.contains("\n│   m00.txt\n"), "{text}");

    let mut out = Vec::new();
    printers::html(&d, &mut out, &printers::HtmlOptions::default()).unwrap();
    let page = String::from_utf8(out).unwrap();
    assert_eq!(page.matches("<details class=\"group\">").count(), 1);
    assert_eq!(
        page.matches("<details open>").count(),
        2,
        "the listing and one entry section"
    );
    assert!(page.find("version 2").unwrap() < page.find("40 members: mode").unwrap());
    assert!(page.contains("<li>m39.txt</li>"));
    assert!(page.contains(
        "<tr><th>metadata differences</th>\
         <td>40 (40 in 1 shared group, shown once after the content)</td></tr>"
    ));

    // JSON keeps every member's own metadata, on the listing, and
    // indexes the group.
    let mut out = Vec::new();
    printers::json(&d, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let details = v["details"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(details[0]["source1"], "zipinfo {}");
    let members = details[0]["repro-members"].as_array().unwrap();
    assert_eq!(members.len(), 40);
    assert!(members
        .iter()
        .all(|n| n["repro-metadata"][0]["field"] == "mode"));
    assert_eq!(
        members
            .iter()
            .filter(|n| n["repro-has-node"] == true)
            .count(),
        1
    );
    let g = &v["repro-metadata-groups"][0];
    assert_eq!(g["field"], "mode");
    assert_eq!(g["hints"][0]["cause"], "umask");
    assert_eq!(g["members"].as_array().unwrap().len(), 40);
}

#[test]
fn nested_text_output_snapshot() {
    let inner_a = zip(&[("pkg/mod.py", b"VERSION = '1.0'\nBUILD = '/build/a'\n")]);
    let inner_b = zip(&[("pkg/mod.py", b"VERSION = '1.0'\nBUILD = '/build/b'\n")]);
    let mut late = tar_member("pkg.whl", &inner_b);
    late.mtime += 60;
    let a = gzip(&tar_of(&[
        tar_member("README", b"hello\n"),
        tar_member("pkg.whl", &inner_a),
    ]));
    let b = gzip(&tar_of(&[tar_member("README", b"hello\n"), late]));
    let p = pair("dist.tar.gz", &a, "dist.tar.gz", &b);
    let mut d = diff(&p);
    annotate(&mut d, &two_build_dirs());
    insta::assert_snapshot!("nested_text", rel(&p, &text_of(&d)));
}

/// A zip whose single member is deflated at `level` (0 = stored).
fn zip_at_level(name: &str, data: &[u8], level: i64) -> Vec<u8> {
    let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if level == 0 {
        ::zip::CompressionMethod::Stored
    } else {
        ::zip::CompressionMethod::Deflated
    };
    let opts = ::zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .compression_level((level != 0).then_some(level))
        .last_modified_time(::zip::DateTime::from_date_and_time(2020, 1, 1, 0, 0, 0).unwrap());
    w.start_file(name, opts).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

#[test]
fn zip_members_with_other_compressed_bytes_are_still_compared_by_content() {
    // Same content, other compression: the raw-bytes shortcut cannot decide,
    // the content hash must, and finds no content difference.
    let text: Vec<u8> = (0..20_000)
        .map(|i| b"abcdefgh"[i % 8] ^ (i / 97) as u8)
        .collect();
    let fast = zip_at_level("m.bin", &text, 1);
    let best = zip_at_level("m.bin", &text, 9);
    let stored = zip_at_level("m.bin", &text, 0);
    assert_ne!(fast, best, "the test needs different compressed bytes");
    let p = pair("a.zip", &fast, "b.zip", &best);
    let d = diff(&p);
    // zipinfo's last line shows the compressed total; no member differs.
    assert_eq!(d.details.len(), 1, "no member differs: {d:#?}");
    let totals = at(&d, &["zipinfo {}"]);
    assert!(totals.listed.is_empty(), "{d:#?}");
    assert!(
        totals
            .unified_diff
            .as_deref()
            .unwrap_or("")
            .contains("bytes compressed"),
        "{d:#?}"
    );
    assert!(
        d.comments.iter().any(|c| c.contains("same entries")),
        "{d:#?}"
    );
    // Deflated vs stored: a compression-method metadata difference only.
    let p = pair("a.zip", &fast, "b.zip", &stored);
    let d = diff(&p);
    let m = &at(&d, &["zipinfo {}"]).listed[0];
    assert_eq!(m.source1, "m.bin");
    assert!(!m.has_node, "{m:#?}");
    assert_eq!(m.metadata[0].field, MetaField::Compression);
    // And one changed byte under equal sizes is found.
    let mut changed = text.clone();
    changed[10_000] ^= 1;
    let p = pair(
        "a.zip",
        &stored,
        "b.zip",
        &zip_at_level("m.bin", &changed, 0),
    );
    let d = diff(&p);
    assert!(at(&d, &["m.bin"]).unified_diff.is_some());
}

/// Writes an OCI image layout with one manifest, `config` and one layer.
fn oci_layout(dir: &Path, config: &str, layer: &[u8]) {
    use sha2::{Digest as _, Sha256};
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> String {
        let hex = hex::encode(Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        format!("sha256:{hex}")
    };
    let config_digest = put(config.as_bytes());
    let layer_digest = put(layer);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let manifest_digest = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
}

#[test]
fn oci_layouts_pair_blobs_by_role() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let layer = tar_of(&[tar_member("etc/motd", b"hello\n")]);
    oci_layout(
        &a,
        r#"{"created":"2024-01-01T00:00:00Z","architecture":"amd64"}"#,
        &layer,
    );
    oci_layout(
        &b,
        r#"{"created":"2024-01-02T00:00:00Z","architecture":"amd64"}"#,
        &layer,
    );
    let d = compare(&a, &b, &Options::default())
        .unwrap()
        .expect("differs");
    let names: Vec<&str> = d.details.iter().map(|c| c.source1.as_str()).collect();
    assert_eq!(
        names,
        [
            "index.json",
            "manifest 1 (linux/amd64)/manifest.json",
            "manifest 1 (linux/amd64)/config.json"
        ],
        "the identical layer pairs up and drops out: {d:#?}"
    );
    let config = at(&d, &["manifest 1 (linux/amd64)/config.json"]);
    assert!(config
        .unified_diff
        .as_deref()
        .unwrap()
        .contains("+  \"created\": \"2024-01-02T00:00:00Z\""));

    // A changed layer file is found inside the layer's tar.
    let c = tmp.path().join("c");
    oci_layout(
        &c,
        r#"{"created":"2024-01-01T00:00:00Z","architecture":"amd64"}"#,
        &tar_of(&[tar_member("etc/motd", b"HELLO\n")]),
    );
    let d = compare(&a, &c, &Options::default())
        .unwrap()
        .expect("differs");
    let motd = at(&d, &["manifest 1 (linux/amd64)/layer 1 of 1", "etc/motd"]);
    assert!(motd.unified_diff.is_some(), "{d:#?}");
}

#[test]
fn oci_digests_cannot_escape_the_blob_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    oci_layout(&a, "{}", b"x");
    oci_layout(&b, "{}", b"x");
    std::fs::write(
        b.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../../etc/passwd","size":1}]}"#,
    )
    .unwrap();
    let err = compare(&a, &b, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("bad digest"), "{err}");
}

#[test]
fn docker_save_tarballs_pair_layers_by_role() {
    let save = |id: &str, config: &str, motd: &[u8]| {
        let layer = tar_of(&[tar_member("etc/motd", motd)]);
        let manifest = format!(
            r#"[{{"Config":"{id}.json","RepoTags":["demo:1"],"Layers":["{id}/layer.tar"]}}]"#
        );
        let layer_path = format!("{id}/layer.tar");
        let config_path = format!("{id}.json");
        tar_of(&[
            tar_member("manifest.json", manifest.as_bytes()),
            tar_member(&config_path, config.as_bytes()),
            tar_member(&layer_path, &layer),
        ])
    };
    let a = save("aaaa", r#"{"created":"2024-01-01T00:00:00Z"}"#, b"hello\n");
    let b = save("bbbb", r#"{"created":"2024-01-01T00:00:00Z"}"#, b"HELLO\n");
    let p = pair("a.tar", &a, "b.tar", &b);
    let d = diff(&p);
    let motd = at(&d, &["image 1 [demo:1]/layer 1 of 1", "etc/motd"]);
    assert!(motd.unified_diff.is_some(), "{d:#?}");
    // The config is identical once paired by role; only manifest.json differs besides the layer.
    assert!(
        d.details
            .iter()
            .all(|c| c.source1 != "image 1 [demo:1]/config.json"),
        "{d:#?}"
    );
}

#[test]
fn a_damaged_member_is_reported_and_the_others_still_compared() {
    // Stored members, so a flipped data byte breaks only the CRC of a.txt.
    let stored = |files: &[(&str, &[u8])]| {
        let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, data) in files {
            let opts = ::zip::write::SimpleFileOptions::default()
                .compression_method(::zip::CompressionMethod::Stored)
                .last_modified_time(
                    ::zip::DateTime::from_date_and_time(2020, 1, 1, 0, 0, 0).unwrap(),
                );
            w.start_file(*n, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let a = stored(&[("a.txt", b"one\n"), ("b.txt", b"two\n")]);
    let mut b = stored(&[("a.txt", b"one\n"), ("b.txt", b"TWO\n")]);
    let at_data = b.windows(4).position(|w| w == b"one\n").unwrap();
    b[at_data] = b'0';
    let p = pair("a.zip", &a, "b.zip", &b);
    let d = diff(&p);
    let damaged = at(&d, &["a.txt"]);
    assert!(
        damaged
            .comments
            .iter()
            .any(|c| c.contains("could not be compared")),
        "{damaged:#?}"
    );
    assert!(at(&d, &["b.txt"]).unified_diff.is_some(), "{d:#?}");
}

/// The differ's promise on a pair: inputs whose bytes differ are never
/// reported identical, and identical inputs are. An error is an honest
/// answer about damaged input, never about identical bytes.
/// Returns the difference, if any.
fn assert_honest(name: &str, a: &[u8], b: &[u8]) -> Option<Difference> {
    let p = pair(name, a, name, b);
    match diff_with(&p, &Options::default()) {
        Ok(None) => {
            assert!(
                a == b,
                "{name}: inputs whose bytes differ were reported identical\n a: {}\n b: {}",
                hex::encode(a),
                hex::encode(b)
            );
            None
        }
        Ok(Some(d)) => {
            assert!(a != b, "{name}: identical inputs differ: {d:#?}");
            Some(d)
        }
        Err(e) => {
            assert!(a != b, "{name}: identical inputs gave an error: {e}");
            None
        }
    }
}

#[test]
fn mutated_archives_are_never_reported_identical() {
    // A small deterministic fuzzer: flip, zero, overwrite or truncate bytes
    // of real archives and compare each mutant with its original. Some
    // seeds are mutated inside a wrapper (a valid gzip around a damaged
    // tar, a valid tar around a damaged wheel) so that the inner readers,
    // not only the outer checksums, meet the damage.
    let inner = zip(&[("pkg/a.py", b"print('a')\n"), ("pkg/b.txt", b"bbbb\n")]);
    let stored = {
        let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, data) in [("a.txt", &b"one\n"[..]), ("b.txt", b"two\n")] {
            let opts = ::zip::write::SimpleFileOptions::default()
                .compression_method(::zip::CompressionMethod::Stored);
            w.start_file(n, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let tar_around = |whl: &[u8]| {
        tar_of(&[
            tar_member("x/inner.whl", whl),
            tar_member("x/readme", b"hello\n"),
        ])
    };
    let tar = tar_around(&inner);
    let pyc = [
        &[0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0][..],
        &1_700_000_000u32.to_le_bytes(),
        &[9, 0, 0, 0],
        b"\xe3 code",
    ]
    .concat();
    let deb = ar(&[("debian-binary", b"2.0\n"), ("data.tar.gz", &gzip(&tar))]);
    let identity = |b: &[u8]| b.to_vec();
    type Wrap<'w> = &'w dyn Fn(&[u8]) -> Vec<u8>;
    // Name, the bytes mutated, what wraps them, and the wrapper's entry
    // that holds them: when the wrapper is read, a mutant must show there.
    let seeds: [(&str, Vec<u8>, Wrap<'_>, Option<&str>); 8] = [
        ("a.zip", inner.clone(), &identity, None),
        ("s.zip", stored, &identity, None),
        ("a.tar", tar.clone(), &identity, None),
        ("a.tar.gz", gzip(&tar), &identity, None),
        ("b.tar.gz", tar.clone(), &gzip, Some("b.tar")),
        ("c.tar", inner.clone(), &tar_around, Some("x/inner.whl")),
        ("a.deb", deb, &identity, None),
        ("a.pyc", pyc, &identity, None),
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (name, original, wrap, holder) in &seeds {
        let whole = wrap(original);
        for _ in 0..80 {
            let mut m = original.clone();
            match next() % 4 {
                0 => {
                    for _ in 0..(1 + next() % 4) {
                        let i = (next() as usize) % m.len();
                        m[i] ^= 1 << (next() % 8);
                    }
                }
                1 => {
                    let i = (next() as usize) % m.len();
                    let n = (1 + next() as usize % 64).min(m.len() - i);
                    m[i..i + n].fill(0);
                }
                2 => {
                    let i = (next() as usize) % m.len();
                    let n = 4.min(m.len() - i);
                    m[i..i + n].copy_from_slice(&next().to_le_bytes()[..n]);
                }
                _ => m.truncate((next() as usize) % m.len()),
            }
            let d = assert_honest(name, &whole, &wrap(&m));
            if let (Some(d), Some(holder)) = (d, holder) {
                assert!(
                    d.details.iter().any(|c| c.source1 == *holder),
                    "{name}: the mutated {holder} is not among the differences: {d:#?}"
                );
            }
        }
    }
}

// ---------- ELF ----------

/// Compiles `src` with `cc` and `args` into an executable, in a fresh
/// directory under a fixed file name; `None` (with a message) when the
/// machine has no `cc`.
fn cc(src: &str, args: &[&str]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.c"), src).unwrap();
    let mut cmd = std::process::Command::new("cc");
    cmd.current_dir(dir.path())
        .args(args)
        .args(["-o", "x", "x.c"]);
    run_tool(&mut cmd)?;
    Some(std::fs::read(dir.path().join("x")).unwrap())
}

/// Runs a tool the test needs; `None` (with a message) when the machine
/// does not have it, a panic with its stderr when it fails.
fn run_tool(cmd: &mut std::process::Command) -> Option<()> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // CI sets REPRO_TEST_STRICT=1 and installs every tool: there a
            // skip is a failure, so testing cannot silently stop.
            assert!(
                std::env::var_os("REPRO_TEST_STRICT").is_none_or(|v| v != "1"),
                "REPRO_TEST_STRICT=1 forbids skipping, but there is no `{name}` on this machine"
            );
            eprintln!("skipping: no `{name}` on this machine");
            return None;
        }
        Err(e) => panic!("running {name}: {e}"),
    };
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

const HELLO_C: &str = "#include <stdio.h>\n\
    int main(void) { puts(\"built in \" BUILD_DIR \"/src\"); return 0; }\n";

fn hello(build_dir: &str) -> Option<Vec<u8>> {
    let define = format!("-DBUILD_DIR=\"{build_dir}\"");
    cc(HELLO_C, &[&define, "-Wl,--build-id=sha1"])
}

/// A little-endian ELF64 relocatable object with these sections (name,
/// type, flags, alignment, data) and a section name table, laid out as
/// header, section data, names, section headers.
fn mini_elf(sections: &[(&str, u32, u64, u64, &[u8])]) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    let mut names = b"\0.shstrtab\0".to_vec();
    // (name offset, type, flags, align, data offset, size)
    let mut headers = vec![(0u32, 0u32, 0u64, 0u64, 0u64, 0u64)];
    for &(name, sh_type, flags, align, data) in sections {
        headers.push((
            names.len() as u32,
            sh_type,
            flags,
            align,
            out.len() as u64,
            data.len() as u64,
        ));
        names.extend_from_slice(name.as_bytes());
        names.push(0);
        out.extend_from_slice(data);
    }
    headers.push((1, 3, 0, 1, out.len() as u64, names.len() as u64));
    out.extend_from_slice(&names);
    let shoff = out.len() as u64;
    for (name, sh_type, flags, align, offset, size) in &headers {
        out.extend_from_slice(&name.to_le_bytes());
        out.extend_from_slice(&sh_type.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // sh_addr
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&[0u8; 8]); // sh_link, sh_info
        out.extend_from_slice(&align.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // sh_entsize
    }
    out[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    out[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
    out[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[40..48].copy_from_slice(&shoff.to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    out[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out[60..62].copy_from_slice(&(headers.len() as u16).to_le_bytes());
    out[62..64].copy_from_slice(&((headers.len() - 1) as u16).to_le_bytes());
    out
}

/// A GNU build-id note (namesz 4, descsz 8, type 3).
fn build_id_note(id: [u8; 8]) -> Vec<u8> {
    let mut n = Vec::new();
    for word in [4u32, 8, 3] {
        n.extend_from_slice(&word.to_le_bytes());
    }
    n.extend_from_slice(b"GNU\0");
    n.extend_from_slice(&id);
    n
}

const SHT_PROGBITS: u32 = 1;
const SHT_NOTE: u32 = 7;
const SHT_NOBITS: u32 = 8;
const SHF_ALLOC: u64 = 2;

fn elf_error(p: &Pair) -> String {
    match diff_with(p, &Options::default()) {
        Err(
            e @ Error::Malformed {
                format: Kind::Elf, ..
            },
        ) => e.to_string(),
        other => panic!("expected a malformed-ELF error, got {other:?}"),
    }
}

#[test]
fn elf_builds_differing_in_a_string_differ_in_rodata_as_text() {
    let (Some(a), Some(b)) = (hello("/build/a"), hello("/build/b")) else {
        return;
    };
    assert_eq!(detect(&a[..64]), Kind::Elf);
    let p = pair("hello", &a, "hello", &b);
    let mut d = diff(&p);
    annotate(&mut d, &two_build_dirs());
    let differing: Vec<&str> = d.details.iter().map(|c| c.source1.as_str()).collect();
    assert_eq!(differing, [".note.gnu.build-id", ".rodata"], "{d:#?}");
    assert!(d.metadata.is_empty(), "{d:#?}");
    let rodata = at(&d, &[".rodata"]);
    let u = rodata.unified_diff.as_deref().unwrap();
    assert!(
        u.contains("\n-built in /build/a/src\n+built in /build/b/src\n"),
        "{u}"
    );
    assert_eq!(rodata.hints[0].cause, Cause::BuildPath);
    // The build id follows the content, and reads as an id.
    let id = at(&d, &[".note.gnu.build-id"]);
    let u = id.unified_diff.as_deref().unwrap();
    assert!(
        u.starts_with("@@ -1 +1 @@\n-GNU build-id (type 3): "),
        "{u}"
    );
    let text = rel(&p, &text_of(&d));
    assert!(text.contains("├── .rodata\n"), "{text}");
}

#[test]
fn identical_elf_builds_compare_equal() {
    let (Some(a), Some(b)) = (hello("/build/a"), hello("/build/a")) else {
        return;
    };
    let p = pair("hello", &a, "hello", &b);
    assert_eq!(diff_with(&p, &Options::default()).unwrap(), None);
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A section body with an ELF64 little-endian compression header.
fn chdr(ch_type: u32, data: &[u8], compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&ch_type.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&1u64.to_le_bytes());
    out.extend_from_slice(compressed);
    out
}

const SHF_MERGE_STRINGS: u64 = 0x30;
const SHF_COMPRESSED: u64 = 0x800;

#[test]
fn compressed_elf_sections_are_compared_decompressed() {
    let strings = |dir: &str| format!("{dir}/src/hello.c\0GNU C17 12.2.0 -g\0main\0").into_bytes();
    let (sa, sb) = (strings("/build/a"), strings("/build/b"));
    let zdebug = |data: &[u8]| {
        let mut out = b"ZLIB".to_vec();
        out.extend_from_slice(&(data.len() as u64).to_be_bytes());
        out.extend_from_slice(&zlib(data));
        out
    };
    let flags = SHF_MERGE_STRINGS | SHF_COMPRESSED;
    let cases = [
        (
            "zlib",
            ".debug_str",
            flags,
            chdr(1, &sa, &zlib(&sa)),
            chdr(1, &sb, &zlib(&sb)),
        ),
        (
            "zstd",
            ".debug_str",
            flags,
            chdr(2, &sa, &zst(&sa)),
            chdr(2, &sb, &zst(&sb)),
        ),
        (
            "zlib (.zdebug)",
            ".zdebug_str",
            SHF_MERGE_STRINGS,
            zdebug(&sa),
            zdebug(&sb),
        ),
    ];
    for (method, name, flags, a, b) in cases {
        let a = mini_elf(&[(name, SHT_PROGBITS, flags, 1, &a)]);
        let b = mini_elf(&[(name, SHT_PROGBITS, flags, 1, &b)]);
        let mut d = diff(&pair("x.o", &a, "x.o", &b));
        annotate(&mut d, &two_build_dirs());
        let section = at(&d, &[name]);
        let u = section.unified_diff.as_deref().unwrap();
        assert!(
            u.contains("-/build/a/src/hello.c\n+/build/b/src/hello.c\n"),
            "{method}: {u}"
        );
        assert_eq!(section.hints[0].cause, Cause::BuildPath, "{method}");
        // Equal compression: no metadata difference.
        assert!(section.metadata.is_empty(), "{method}: {section:#?}");
    }
    // The same strings compressed differently are the same section; only
    // the stored size (metadata) differs.
    let stored = |level| {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        enc.write_all(&sa).unwrap();
        chdr(1, &sa, &enc.finish().unwrap())
    };
    let a = mini_elf(&[(".debug_str", SHT_PROGBITS, flags, 1, &stored(0))]);
    let b = mini_elf(&[(".debug_str", SHT_PROGBITS, flags, 1, &stored(9))]);
    let d = diff(&pair("x.o", &a, "x.o", &b));
    let section = at(&d, &[".debug_str"]);
    assert!(section.unified_diff.is_none(), "{section:#?}");
    let fields: Vec<String> = section
        .metadata
        .iter()
        .map(|m| m.field.to_string())
        .collect();
    assert_eq!(fields, ["section size"]);

    // A damaged stream is a finding on that section, not a crash; an
    // unknown compression type is compared as stored.
    let a = mini_elf(&[(
        ".debug_str",
        SHT_PROGBITS,
        flags,
        1,
        &chdr(1, &sa, &zlib(&sa)),
    )]);
    let mut broken = chdr(1, &sa, &zlib(&sa));
    broken.truncate(broken.len() - 6);
    let b = mini_elf(&[(".debug_str", SHT_PROGBITS, flags, 1, &broken)]);
    let d = diff(&pair("x.o", &a, "x.o", &b));
    let comments = at(&d, &[".debug_str"]).comments.join("\n");
    assert!(comments.contains("could not be compared"), "{comments}");
    let odd =
        |data: &[u8]| mini_elf(&[(".debug_str", SHT_PROGBITS, flags, 1, &chdr(77, &sa, data))]);
    let d = diff(&pair("x.o", &odd(b"one"), "x.o", &odd(b"two")));
    let u = at(&d, &[".debug_str"]).unified_diff.clone().unwrap();
    assert!(u.contains("\n-one\n"), "{u}");
}

#[test]
fn compressed_elf_section_bombs_trip_the_ratio_limit() {
    // 16 MiB of zeros in a few KiB, declared as a small section: the
    // declared size is never trusted, the ratio limit stops it.
    let zeros = vec![0u8; 16 << 20];
    let mut other = zeros.clone();
    other[1] = 1;
    let flags = SHF_MERGE_STRINGS | SHF_COMPRESSED;
    let object = |data: &[u8], ch_type: u32| {
        let packed = if ch_type == 1 { zlib(data) } else { zst(data) };
        mini_elf(&[(
            ".debug_str",
            SHT_PROGBITS,
            flags,
            1,
            &chdr(ch_type, b"small", &packed),
        )])
    };
    for ch_type in [1, 2] {
        let p = pair(
            "x.o",
            &object(&zeros, ch_type),
            "x.o",
            &object(&other, ch_type),
        );
        let r = diff_with(&p, &Options::default());
        let msg = r
            .as_ref()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert_eq!(limit_flag(r), "--max-ratio", "{msg}");
        assert!(msg.contains("x.o::.debug_str"), "{msg}");
    }
}

#[test]
fn gcc_compressed_debug_info_reads_as_text() {
    // Long member names make .debug_str big enough for the linker to
    // compress it; one name differs between the builds.
    let src = |last: &str| {
        let mut s = String::from("struct s {\n");
        for i in 0..40 {
            s.push_str(&format!(
                "    int a_rather_long_member_name_for_padding_{i};\n"
            ));
        }
        s.push_str(&format!(
            "    int {last};\n}};\nstruct s v;\nint main(void) {{ return v.{last}; }}\n"
        ));
        s
    };
    let (Some(a), Some(b)) = (
        cc(&src("only_in_build_a"), &["-g", "-gz=zlib"]),
        cc(&src("only_in_build_b"), &["-g", "-gz=zlib"]),
    ) else {
        return;
    };
    let d = diff(&pair("x", &a, "x", &b));
    let section = at(&d, &[".debug_str"]);
    let u = section.unified_diff.as_deref().unwrap();
    assert!(u.contains("-only_in_build_a\n"), "{u}");
    assert!(u.contains("+only_in_build_b\n"), "{u}");
}

#[test]
fn elf_header_fields_are_metadata_of_the_root() {
    let Some(a) = hello("/build/a") else {
        return;
    };
    let mut b = a.clone();
    // e_flags of an ELF64 header.
    b[48] ^= 0x10;
    let p = pair("hello", &a, "hello", &b);
    let d = diff(&p);
    assert!(d.details.is_empty(), "{d:#?}");
    assert_eq!(d.metadata.len(), 1, "{d:#?}");
    assert_eq!(d.metadata[0].field, MetaField::Header("ELF flags"));
    assert!(text_of(&d).contains("┄ ELF flags: 0x0 → 0x10\n"));
}

#[test]
fn truncated_elf_is_an_error_naming_the_file() {
    let a = mini_elf(&[(".text", SHT_PROGBITS, SHF_ALLOC, 1, b"\x90\xc3")]);
    for cut in [5, 40, 63, 100, a.len() - 1] {
        let p = pair("x.o", &a, "x.o", &a[..cut]);
        let e = elf_error(&p);
        assert!(e.contains("x.o: malformed ELF: "), "{e}");
    }
    if let Some(real) = hello("/build/a") {
        for cut in [64, real.len() / 2, real.len() - 1] {
            elf_error(&pair("hello", &real, "hello", &real[..cut]));
        }
    }
}

#[test]
fn elf_sizes_are_checked_against_the_file_not_trusted() {
    let a = mini_elf(&[(".data", SHT_PROGBITS, SHF_ALLOC, 1, b"abc")]);
    let shoff = u64::from_le_bytes(a[40..48].try_into().unwrap()) as usize;
    // Section 1 claims an exabyte.
    let mut b = a.clone();
    b[shoff + 64 + 32..shoff + 64 + 40].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let e = elf_error(&pair("x.o", &a, "x.o", &b));
    assert!(e.contains("section .data at offset 64 claims"), "{e}");
    // The header claims 65535 sections.
    let mut b = a.clone();
    b[60..62].copy_from_slice(&u16::MAX.to_le_bytes());
    let e = elf_error(&pair("x.o", &a, "x.o", &b));
    assert!(e.contains("section header table"), "{e}");
}

#[test]
fn elf_sections_carry_their_header_fields_and_notes_read_as_ids() {
    let object = |last_id_byte: u8, comment: &[u8]| {
        let mut id = [1, 2, 3, 4, 5, 6, 7, 8];
        id[7] = last_id_byte;
        mini_elf(&[
            (
                ".note.gnu.build-id",
                SHT_NOTE,
                SHF_ALLOC,
                4,
                &build_id_note(id),
            ),
            (".bss", SHT_NOBITS, SHF_ALLOC | 1, 8, b""),
            (".comment", SHT_PROGBITS, 0x30, 1, comment),
        ])
    };
    let (a, b) = (object(8, b"GCC: 12\0"), object(0xff, b"GCC: 13\0"));
    let p = pair("x.o", &a, "x.o", &b);
    let d = diff(&p);
    assert_eq!(
        at(&d, &[".note.gnu.build-id"]).unified_diff.as_deref(),
        Some("@@ -1 +1 @@\n-GNU build-id (type 3): 0102030405060708\n+GNU build-id (type 3): 01020304050607ff\n")
    );
    assert_eq!(
        at(&d, &[".comment"]).unified_diff.as_deref(),
        Some("@@ -1 +1 @@\n-GCC: 12\n+GCC: 13\n")
    );
    // A note whose padding is not zero cannot be shown as an id without
    // hiding bytes: it falls back to the lossless strings view.
    let short_id = |pad: &[u8; 3]| {
        let mut n = build_id_note([1; 8]);
        n[4] = 5; // descsz: 5 bytes of id, then 3 of padding
        n.truncate(n.len() - 3);
        n.extend_from_slice(pad);
        n
    };
    let e = mini_elf(&[(".note.x", SHT_NOTE, 0, 4, &short_id(b"\0\0\0"))]);
    let c = mini_elf(&[(".note.x", SHT_NOTE, 0, 4, &short_id(b"\0\0!"))]);
    let d = diff(&pair("x.o", &e, "x.o", &c));
    let u = at(&d, &[".note.x"]).unified_diff.clone().unwrap();
    assert!(
        u.contains("-GNU build-id (type 3): 0101010101\n+\\x04\n"),
        "{u}"
    );
    // A section that grew in memory only (.bss) differs in its size.
    let big_bss = {
        let mut b = a.clone();
        let shoff = u64::from_le_bytes(b[40..48].try_into().unwrap()) as usize;
        let at_size = shoff + 2 * 64 + 32;
        b[at_size..at_size + 8].copy_from_slice(&4096u64.to_le_bytes());
        b
    };
    let d = diff(&pair("x.o", &a, "x.o", &big_bss));
    let bss = at(&d, &[".bss"]);
    assert_eq!(bss.metadata.len(), 1, "{bss:#?}");
    assert_eq!(bss.metadata[0].field, MetaField::Attribute("section size"));
    assert_eq!(bss.metadata[0].source2, MetaValue::Number(4096));
    let text = text_of(&d);
    assert!(
        text.contains("├── .bss\n│┄ section size: 0 → 4096\n"),
        "{text}"
    );
}

// ---------- pyc ----------

/// A pyc of Python 3.11's magic with `flags`, the 8 bytes after them
/// (source mtime and size, or the source hash) and `code`.
fn pyc_of(magic: u16, flags: u32, source: [u8; 8], code: &[u8]) -> Vec<u8> {
    let mut out = magic.to_le_bytes().to_vec();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&source);
    out.extend_from_slice(code);
    out
}

/// Compiles `source` with the machine's python3, its file's mtime set to
/// `mtime`, into a timestamp-based pyc; `None` (with a message) when there
/// is no python3.
fn python_pyc(source: &str, mtime: u32) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.py"), source).unwrap();
    let script = format!(
        "import os, py_compile\n\
         os.utime('m.py', ({mtime}, {mtime}))\n\
         py_compile.compile('m.py', cfile='m.pyc', doraise=True,\n\
             invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)\n"
    );
    let mut cmd = std::process::Command::new("python3");
    cmd.current_dir(dir.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .args(["-c", &script]);
    run_tool(&mut cmd)?;
    Some(std::fs::read(dir.path().join("m.pyc")).unwrap())
}

#[test]
fn pyc_source_mtime_alone_is_a_timestamp_metadata_difference() {
    let src = "VERSION = '1.0'\n";
    let (Some(a), Some(b)) = (
        python_pyc(src, 1_700_000_000),
        python_pyc(src, 1_700_000_500),
    ) else {
        return;
    };
    let p = pair("m.pyc", &a, "m.pyc", &b);
    let mut d = diff(&p);
    annotate(&mut d, &HintContext::default());
    assert!(d.details.is_empty(), "the code object is the same: {d:#?}");
    assert_eq!(d.metadata.len(), 1, "{d:#?}");
    let m = &d.metadata[0];
    assert_eq!(m.field, MetaField::Header("pyc source mtime"));
    assert_eq!(
        (&m.source1, &m.source2),
        (
            &MetaValue::Time(1_700_000_000),
            &MetaValue::Time(1_700_000_500)
        )
    );
    assert_eq!(m.hints[0].cause, Cause::Timestamp);
    let text = text_of(&d);
    assert!(
        text.contains("┄ pyc source mtime: 2023-11-14 22:13:20 (1700000000) → "),
        "{text}"
    );
}

#[test]
fn pyc_with_another_code_object_is_a_content_difference() {
    // Same mtime, same source size, other bytecode.
    let (Some(a), Some(b)) = (
        python_pyc("X = 1\n", 1_700_000_000),
        python_pyc("X = 2\n", 1_700_000_000),
    ) else {
        return;
    };
    let p = pair("m.pyc", &a, "m.pyc", &b);
    let d = diff(&p);
    assert!(d.metadata.is_empty(), "{d:#?}");
    let code = at(&d, &["Python bytecode"]);
    let u = code.unified_diff.as_deref().unwrap();
    assert!(u.starts_with("@@ -0x"), "a hexdump: {u}");
}

#[test]
fn pyc_header_fields_are_named() {
    let code = b"\xe3\0\0\0\0";
    let a = pyc_of(3495, 3, *b"hash-one", code);
    let b = pyc_of(3495, 3, *b"hash-two", code);
    let d = diff(&pair("m.pyc", &a, "m.pyc", &b));
    assert!(d.details.is_empty(), "{d:#?}");
    let text = text_of(&d);
    assert!(
        text.contains("┄ pyc source hash: 686173682d6f6e65 → 686173682d74776f\n"),
        "{text}"
    );
    // Timestamp-based vs hash-based, and another Python.
    let c = pyc_of(3531, 0, [0; 8], code);
    let d = diff(&pair("m.pyc", &a, "m.pyc", &c));
    let fields: Vec<String> = d.metadata.iter().map(|m| m.field.to_string()).collect();
    assert_eq!(
        fields,
        [
            "pyc magic",
            "pyc flags",
            "pyc source hash",
            "pyc source mtime",
            "pyc source size"
        ]
    );
    assert!(text_of(&d).contains(
        "┄ pyc magic: \"3495 (Python 3.11)\" → \"3531 (Python 3.12)\"\n\
         ┄ pyc flags: \"3 (hash-based, checked)\" → \"0 (timestamp-based)\"\n"
    ));
}

#[test]
fn truncated_pyc_header_is_an_error() {
    let a = pyc_of(3495, 0, [0; 8], b"\xe3");
    for cut in [4, 8, 15] {
        let p = pair("m.pyc", &a, "m.pyc", &a[..cut]);
        match diff_with(&p, &Options::default()) {
            Err(
                e @ Error::Malformed {
                    format: Kind::Pyc, ..
                },
            ) => assert!(e.to_string().contains("m.pyc: malformed pyc: "), "{e}"),
            other => panic!("expected a malformed-pyc error, got {other:?}"),
        }
    }
}

#[test]
fn a_forged_huge_pax_record_is_an_error_not_an_allocation() {
    // A PAX extended header whose record is 20 MiB: more than any real
    // archive carries before one member.
    let value = "x".repeat(20 << 20);
    let record_len = |body: &str| {
        // "LEN key=value\n" where LEN counts itself.
        let mut len = body.len() + 2;
        while format!("{len} {body}\n").len() != len {
            len = format!("{len} {body}\n").len();
        }
        len
    };
    let body = format!("comment={value}");
    let record = format!("{} {body}\n", record_len(&body));
    let mut header = ::tar::Header::new_ustar();
    header.set_path("PaxHeaders/f").unwrap();
    header.set_entry_type(::tar::EntryType::XHeader);
    header.set_size(record.len() as u64);
    header.set_cksum();
    let mut forged = header.as_bytes().to_vec();
    forged.extend_from_slice(record.as_bytes());
    forged.resize(forged.len().div_ceil(512) * 512, 0);
    let mut file = ::tar::Header::new_ustar();
    file.set_path("f").unwrap();
    file.set_size(0);
    file.set_cksum();
    forged.extend_from_slice(file.as_bytes());
    forged.extend_from_slice(&[0u8; 1024]);
    let normal = tar_of(&[tar_member("f", b"")]);
    let p = pair("a.tar", &normal, "b.tar", &forged);
    let err = diff_with(&p, &Options::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("malformed tar: metadata header of 20971538 bytes (at most 16777216"),
        "{err}"
    );
}

#[test]
fn copies_of_one_oci_layout_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let layer = tar_of(&[tar_member("etc/motd", b"hello\n")]);
    oci_layout(&a, r#"{"architecture":"amd64"}"#, &layer);
    oci_layout(&b, r#"{"architecture":"amd64"}"#, &layer);
    let d = compare(&a, &b, &Options::default()).unwrap();
    assert!(d.is_none(), "{d:#?}");
}

/// Layouts that differ only in a file their index does not reach are not
/// identical: the file is listed under "not referenced by the index/"
/// (found by the directory fuzz target: such layouts compared identical).
#[test]
fn oci_layouts_differing_in_unreferenced_files_differ() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let layer = tar_of(&[tar_member("etc/motd", b"hello\n")]);
    for (dir, extra) in [(&a, "one\n"), (&b, "two\n")] {
        oci_layout(dir, r#"{"architecture":"amd64"}"#, &layer);
        std::fs::write(dir.join("blobs/sha256/stray"), extra).unwrap();
        std::fs::write(dir.join("README"), "same\n").unwrap();
    }
    let d = compare(&a, &b, &Options::default())
        .unwrap()
        .expect("a differing stray file is a difference");
    let stray = at(&d, &["not referenced by the index/blobs/sha256/stray"]);
    assert!(stray.unified_diff.is_some(), "{d:#?}");
    assert!(
        d.details
            .iter()
            .all(|x| !x.source1.ends_with("README") && !x.source2.ends_with("README")),
        "{d:#?}"
    );
}
