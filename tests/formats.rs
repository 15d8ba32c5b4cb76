//! End-to-end tests of `repro diff` on the formats diffoscope reads with
//! libarchive or tools of its own (cpio, …): archives built in the test,
//! the real binary run on them, and what a user sees snapshotted.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{diff_in, python, repro, stderr, stdout};

use std::path::Path;

/// An odc (POSIX portable) cpio archive of `members` (name, mode, data,
/// mtime), owned by 1000:1000, ending in its trailer.
fn odc(members: &[(&str, u32, &[u8], u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ino, (name, mode, data, mtime)) in members
        .iter()
        .chain([&("TRAILER!!!", 0, &b""[..], 0)])
        .enumerate()
    {
        let (size, namesize) = (data.len(), name.len() + 1);
        let header = format!(
            "070707{:06o}{ino:06o}{mode:06o}{:06o}{:06o}{:06o}{:06o}{mtime:011o}{namesize:06o}{size:011o}",
            0, 1000, 1000, 1, 0
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(data);
    }
    out
}

#[test]
fn cpio_members_are_compared_like_tar_members() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = 1_435_158_612;
    let a = odc(&[
        ("dir", 0o040_755, b"", t),
        ("dir/text", 0o100_644, b"one\ntwo\n", t),
        ("dir/link", 0o120_777, b"broken", t),
        ("dir/same", 0o100_644, b"same\n", t),
    ]);
    let b = odc(&[
        ("dir", 0o040_755, b"", t + 1),
        ("dir/text", 0o100_644, b"one\n2\n", t),
        ("dir/link", 0o120_777, b"really-broken", t),
        ("dir/same", 0o100_600, b"same\n", t),
    ]);
    std::fs::write(d.join("a.cpio"), a).unwrap();
    std::fs::write(d.join("b.cpio"), &b).unwrap();
    std::fs::write(d.join("c.cpio"), &b).unwrap();
    let (code, text) = diff_in(d, &["a.cpio", "b.cpio"]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("cpio_text", text);
    let (code, _) = diff_in(d, &["b.cpio", "c.cpio"]);
    assert_eq!(code, Some(0));

    // A damaged archive is an error naming the file and the offset.
    std::fs::write(d.join("cut.cpio"), &b[..100]).unwrap();
    let o = repro()
        .args(["diff", "a.cpio", "cut.cpio"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    insta::assert_snapshot!("cpio_cut_stderr", stderr(&o));
}

/// Writes the seed corpus's boot image, signed message and ISO image
/// (fuzz/seeds/make_seeds.py, deterministic) in versions 0 and 1 to
/// `dir/0/` and `dir/1/`.
fn seed_images(dir: &Path) {
    let script = "import os, sys\n\
        sys.path.insert(0, sys.argv[1])\n\
        import make_seeds\n\
        for v in (0, 1):\n\
        \x20   os.makedirs(os.path.join(sys.argv[2], str(v)))\n\
        \x20   for name, data in make_seeds.unix_images(v).items():\n\
        \x20       open(os.path.join(sys.argv[2], str(v), name), 'wb').write(data)\n";
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    python(script, &seeds, dir);
}

#[test]
fn boot_images_signed_messages_and_iso_images_show_their_members() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seed_images(d);
    let mut all = String::new();
    for name in ["boot.img", "signed.pgp", "seed.iso"] {
        let (code, text) = diff_in(d, &[&format!("0/{name}"), &format!("1/{name}")]);
        assert_eq!(code, Some(1), "{text}");
        all.push_str(&text);
    }
    insta::assert_snapshot!("unix_images_text", all);
}
