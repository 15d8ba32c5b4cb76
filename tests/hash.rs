//! End-to-end tests of `repro hash`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

#[test]
fn matches_sha256sum_format_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::write(&a, b"abc").unwrap();
    std::fs::write(&b, b"").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_repro"))
        .arg("hash")
        .args([&a, &b])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  {}\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  {}\n",
            a.display(),
            b.display()
        )
    );
    let o = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(["hash", "--json"])
        .arg(&a)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["size"], 3);
}

#[test]
fn missing_file_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, b"abc").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_repro"))
        .arg("hash")
        .arg(&a)
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // The good file is still hashed.
    assert!(String::from_utf8_lossy(&o.stdout).contains("ba7816bf"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("missing") && err.contains("No such file"),
        "{err}"
    );
}

// ---------------------------------------------------------------- golden vectors

/// A timestamp-based pyc of Python 3.11 (magic 3495): magic, flags 0,
/// source mtime, source size, then a stand-in for the marshalled code.
fn golden_pyc(mtime: u32) -> Vec<u8> {
    let mut p = vec![0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
    p.extend(mtime.to_le_bytes());
    p.extend(42u32.to_le_bytes());
    p.extend(b"\xe3\x00\x00\x00 code object stand-in");
    p
}

/// A zip whose members are stored (the digest hashes compressed bytes, so
/// deflate would tie the vector to one zlib), out of order, with a
/// directory, an executable, a symlink and a time extra field.
fn golden_zip() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let at = zip::DateTime::from_date_and_time(2023, 5, 6, 7, 8, 10).unwrap();
    let opts = |mode: u32| {
        zip::write::FullFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(at)
            .unix_permissions(mode)
    };
    let mut timed = opts(0o664);
    timed
        .add_extra_data(0x5455, [1, 0x10, 0x20, 0x30, 0x40], false)
        .unwrap();
    w.start_file("pkg/z.txt", timed).unwrap();
    w.write_all(b"last by name\n").unwrap();
    w.add_directory("pkg/", opts(0o775)).unwrap();
    w.start_file("pkg/run", opts(0o750)).unwrap();
    w.write_all(b"#!/bin/sh\necho hi\n").unwrap();
    w.add_symlink("pkg/link", "run", opts(0o777)).unwrap();
    w.start_file("pkg/A.txt", opts(0o600)).unwrap();
    w.write_all(b"upper case sorts first\n").unwrap();
    w.finish().unwrap().into_inner()
}

/// A gzip of a GNU tar, out of order, with a global PAX header, a
/// directory, an executable, a nested pyc, a symlink, a hard link and a
/// name too long for the header.
fn golden_tar_gz() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_username("builder").unwrap();
        h.set_groupname("builder").unwrap();
        h.set_size(0);
        h
    };
    let comment = b"19 comment=golden!\n";
    let mut g = header(tar::EntryType::XGlobalHeader, 0o644);
    g.set_size(comment.len() as u64);
    b.append_data(&mut g, "pax_global_header", &comment[..])
        .unwrap();
    let pyc = golden_pyc(1_700_000_000);
    let mut h = header(tar::EntryType::Regular, 0o644);
    h.set_size(pyc.len() as u64);
    b.append_data(&mut h, "src/mod.pyc", &pyc[..]).unwrap();
    b.append_data(
        &mut header(tar::EntryType::Directory, 0o775),
        "src/",
        &b""[..],
    )
    .unwrap();
    let script = b"#!/bin/sh\nexit 0\n";
    let mut h = header(tar::EntryType::Regular, 0o4750);
    h.set_size(script.len() as u64);
    b.append_data(&mut h, "src/run.sh", &script[..]).unwrap();
    let mut h = header(tar::EntryType::Symlink, 0o777);
    b.append_link(&mut h, "src/link", "run.sh").unwrap();
    let mut h = header(tar::EntryType::Link, 0o755);
    b.append_link(&mut h, "src/hard", "src/run.sh").unwrap();
    let long = format!("src/{}/deep.txt", "d".repeat(120));
    let mut h = header(tar::EntryType::Regular, 0o600);
    h.set_size(5);
    b.append_data(&mut h, &long, &b"deep\n"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::GzBuilder::new()
        .mtime(1_700_000_000)
        .filename("golden.tar")
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// `repro-normalized-v1` of the golden artifacts, computed by
/// `tests/normalized_v1.py` (an implementation of the README's definition
/// that shares no code with repro). A change here changes every stored
/// digest of that format: it needs a new digest version, not a new vector.
const GOLDEN: &[(&str, &str)] = &[
    (
        "golden.zip",
        "ec8813ead099faf9a17c20060b716e864594116cf5aa731aa9855966518185ad",
    ),
    (
        "golden.tar.gz",
        "a0581c23bd91f8a221a2c8c37619484dda5bb4b3fb36042bbd54dc067488ff23",
    ),
    (
        "golden.pyc",
        "5a005bf91b2c3cc184e28a34469c8d7e0388734ec1939bffee09e0d65450706a",
    ),
];

/// `HEX  PATH` lines as (file name, hex).
fn digest_lines(out: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            let (hex, path) = l.split_once("  ").unwrap();
            let name = Path::new(path).file_name().unwrap();
            (name.to_string_lossy().into_owned(), hex.to_owned())
        })
        .collect()
}

#[test]
fn normalized_digests_match_golden_vectors_and_an_independent_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("golden.zip", golden_zip()),
        ("golden.tar.gz", golden_tar_gz()),
        ("golden.pyc", golden_pyc(1_650_000_000)),
    ];
    let paths: Vec<_> = files
        .iter()
        .map(|(name, bytes)| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    let golden: Vec<(String, String)> = GOLDEN
        .iter()
        .map(|(n, h)| ((*n).to_owned(), (*h).to_owned()))
        .collect();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/normalized_v1.py");
    match Command::new("python3").arg(script).args(&paths).output() {
        Ok(o) if !common::hidden("python3") => {
            assert!(o.status.success(), "{}", common::stderr(&o));
            assert_eq!(
                digest_lines(&o.stdout),
                golden,
                "the independent implementation disagrees with the stored vectors"
            );
        }
        _ => common::skip("python3 is not available: the golden vectors are not re-derived"),
    }

    let o = common::repro()
        .args(["hash", "--normalized"])
        .args(&paths)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert_eq!(digest_lines(&o.stdout), golden);
}

/// A zip whose local header names its entry differently from the central
/// directory gets no normalized digest (exit 2, the file and the conflict
/// named) unless --allow-ambiguous, which the JSON output records.
#[test]
fn ambiguous_zips_get_no_normalized_digest_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("setup.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"print('hello')\n").unwrap();
    let mut bytes = w.finish().unwrap().into_inner();
    bytes[30] = b'S'; // the local header says "Setup.py"
    let path = dir.path().join("two-faced.whl");
    std::fs::write(&path, &bytes).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_repro"))
            .args(["hash", "--normalized", "--json"])
            .args(extra)
            .arg(&path)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("two-faced.whl"), "{err}");
    assert!(
        err.contains("is named \"Setup.py\" in its local header"),
        "{err}"
    );
    let o = run(&["--allow-ambiguous"]);
    assert_eq!(o.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[0]["allow_ambiguous"], true, "{json}");
}

/// A zip whose member data contradicts the CRC-32 both its headers declare
/// (a reader sees no conflict; only inflating shows it) gets no normalized
/// digest and is not normalized (exit 2, file, member, expected and found
/// CRC named, nothing written) unless --allow-ambiguous.
#[test]
fn zips_whose_data_contradicts_its_crc_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("setup.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"print('hello')\n").unwrap();
    let mut bytes = w.finish().unwrap().into_inner();
    let cd = u32::from_le_bytes(bytes[bytes.len() - 6..bytes.len() - 2].try_into().unwrap());
    let cd = usize::try_from(cd).unwrap();
    for at in [14, cd + 16] {
        bytes[at] ^= 0x5a; // the CRC-32's low byte, in both headers
    }
    let path = dir.path().join("lying.whl");
    std::fs::write(&path, &bytes).unwrap();
    let out = dir.path().join("out");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_repro"))
            .args(args)
            .arg(&path)
            .output()
            .unwrap()
    };
    let o = run(&["hash", "--normalized"]);
    assert_eq!(o.status.code(), Some(2));
    let err = common::stderr(&o).replace(&dir.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("zip_crc_contradiction", err);
    let o = run(&["normalize", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(common::stderr(&o).contains("the central directory declares"));
    assert!(!out.join("lying.whl").exists(), "half-written output");
    let o = run(&["hash", "--normalized", "--json", "--allow-ambiguous"]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[0]["allow_ambiguous"], true, "{json}");
}
