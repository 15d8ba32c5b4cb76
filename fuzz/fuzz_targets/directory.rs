//! Directories and OCI image layouts made from the input, compared,
//! normalized and digested.
//!
//! The input is decoded (by hand, so `seeds/make_seeds.py` can write
//! seeds) into a tree written to a temporary directory:
//!
//! - 4 header bytes: `flags` (bit 0: compare with a copy that has one byte
//!   changed, else with an exact copy), the changed file's index, the
//!   changed byte's offset, the XOR applied to it;
//! - records until the input ends: `kind` (0 file, 1 symlink, 2
//!   directory, 3 blob: a file at `blobs/sha256/<its own digest>`), a
//!   one-byte name length, the name, a two-byte little-endian data length,
//!   the data (a link's target). In data, `{Dn}` becomes `sha256:<hex>` and
//!   `{Sn}` the size of the data of an earlier record n, so an input can
//!   describe an image whose index, manifests and blobs reference each
//!   other — or lie about digests, sizes and media types.
//!
//! Promises checked (as in diffoscope-lite/src/normalize/tests.rs):
//! - nothing panics or hangs;
//! - a tree compared with its exact copy is identical; with a copy whose
//!   bytes differ, never identical;
//! - normalize refuses what the digest refuses; what it accepts normalizes
//!   to a fixed point whose digest is the input's.
#![no_main]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use diffoscope_lite::fuzzing::{limits, normalize_options};
use diffoscope_lite::normalize::{normalize_file, normalized_digest};
use diffoscope_lite::{compare, Options};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// Records beyond this many are ignored: the formats' own limits are
/// tested elsewhere, here the time goes into many small trees.
const MAX_RECORDS: usize = 48;

enum Node {
    File(Vec<u8>),
    Link(Vec<u8>),
    Dir,
}

/// The input's tree: relative path → node, in record order (later wins).
fn decode(mut data: &[u8]) -> Vec<(PathBuf, Node)> {
    let mut out = Vec::new();
    let mut contents: Vec<Vec<u8>> = Vec::new();
    while out.len() < MAX_RECORDS {
        let Some((&[kind, name_len], rest)) = data.split_first_chunk::<2>() else {
            break;
        };
        let Some((name, rest)) = rest.split_at_checked(usize::from(name_len)) else {
            break;
        };
        let Some((len, rest)) = rest.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
        let (body, rest) = rest.split_at(len);
        data = rest;
        let body = substitute(body, &contents);
        contents.push(body.clone());
        match kind % 4 {
            0 => out.push((clean(name), Node::File(body))),
            1 => out.push((clean(name), Node::Link(body))),
            2 => out.push((clean(name), Node::Dir)),
            _ => {
                let hex = hex::encode(Sha256::digest(&body));
                out.push((Path::new("blobs/sha256").join(hex), Node::File(body)));
            }
        }
    }
    out
}

/// A relative path of safe components: no `..`, no root, no empty parts.
fn clean(name: &[u8]) -> PathBuf {
    let mut p = PathBuf::new();
    for part in name.split(|&b| b == b'/') {
        let part: String = part
            .iter()
            .map(|&b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-' => char::from(b),
                _ => '_',
            })
            .collect();
        if !part.is_empty() && part != "." && part != ".." {
            p.push(part);
        }
    }
    if p.as_os_str().is_empty() {
        p.push("_");
    }
    p
}

/// Replaces `{Dn}` and `{Sn}` with the digest and size of earlier record n.
fn substitute(body: &[u8], earlier: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'{' && matches!(body.get(i + 1), Some(b'D' | b'S')) {
            let digits = body[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 && digits < 4 && body.get(i + 2 + digits) == Some(&b'}') {
                let n: usize = std::str::from_utf8(&body[i + 2..i + 2 + digits])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(usize::MAX);
                let target = earlier.get(n).map_or(&[][..], Vec::as_slice);
                if body[i + 1] == b'D' {
                    out.extend_from_slice(b"sha256:");
                    out.extend_from_slice(hex::encode(Sha256::digest(target)).as_bytes());
                } else {
                    out.extend_from_slice(target.len().to_string().as_bytes());
                }
                i += 3 + digits;
                continue;
            }
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

/// Writes the tree under `root`; entries that cannot be made (a file where
/// a directory is needed) are skipped. Link targets are kept as given but
/// made relative, and `root` is deep inside the fuzzer's own temporary
/// directory, so even a followed link stays there.
fn write(root: &Path, tree: &[(PathBuf, Node)]) {
    fs::create_dir_all(root).expect("tree root");
    for (path, node) in tree {
        let at = root.join(path);
        if let Some(parent) = at.parent() {
            if fs::create_dir_all(parent).is_err() {
                continue;
            }
        }
        let _ = match node {
            Node::File(bytes) => fs::write(&at, bytes),
            Node::Dir => fs::create_dir_all(&at),
            Node::Link(target) => {
                let t: Vec<u8> = target
                    .iter()
                    .copied()
                    .skip_while(|&b| b == b'/')
                    .filter(|&b| b != 0)
                    .collect();
                let t = if t.is_empty() { b"_".to_vec() } else { t };
                std::os::unix::fs::symlink(
                    std::ffi::OsStr::new(&String::from_utf8_lossy(&t).into_owned()),
                    &at,
                )
            }
        };
    }
}

/// Everything under `root`, by relative path: file bytes, link targets,
/// directories. Links are read, never followed.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u8, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in rd.flatten() {
            let rel = rel.join(e.file_name());
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                let t = fs::read_link(e.path()).unwrap_or_default();
                out.insert(rel, (1, t.into_os_string().into_encoded_bytes()));
            } else if ft.is_dir() {
                out.insert(rel.clone(), (2, Vec::new()));
                stack.push(rel);
            } else {
                out.insert(rel, (0, fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("copy root");
    for (rel, (kind, bytes)) in snapshot(from) {
        let at = to.join(&rel);
        let _ = match kind {
            0 => fs::write(&at, bytes),
            1 => std::os::unix::fs::symlink(
                std::ffi::OsStr::new(&String::from_utf8_lossy(&bytes).into_owned()),
                &at,
            ),
            _ => fs::create_dir_all(&at),
        };
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, which, offset, xor], records)) = data.split_first_chunk::<4>() else {
        return;
    };
    let tree = decode(records);
    let tmp = tempfile::tempdir().expect("temporary directory");
    // Deep enough that a relative link with a few `..` stays inside.
    let a = tmp.path().join("1/2/3/4/a");
    let b = tmp.path().join("1/2/3/4/b");
    write(&a, &tree);
    copy_tree(&a, &b);
    let changed = flags & 1 == 1;
    if changed {
        // One byte of one regular file (by index), or a byte appended to
        // an empty one.
        let files: Vec<PathBuf> = snapshot(&b)
            .into_iter()
            .filter(|(_, (k, _))| *k == 0)
            .map(|(p, _)| p)
            .collect();
        if files.is_empty() {
            return;
        }
        let path = b.join(&files[usize::from(which) % files.len()]);
        let mut bytes = fs::read(&path).expect("file of the copy");
        if bytes.is_empty() {
            bytes.push(xor);
        } else {
            let i = usize::from(offset) % bytes.len();
            bytes[i] ^= xor.max(1);
        }
        fs::write(&path, bytes).expect("changing the copy");
    }
    let opts = Options {
        limits: limits(),
        ..Options::default()
    };
    match compare(&a, &b, &opts) {
        Ok(None) => assert!(!changed, "a changed tree compared identical"),
        // An image that lies about its blobs is reported as such on both
        // sides (comments), but an exact copy has no difference to show.
        Ok(Some(d)) => assert!(
            changed
                || (d.details.is_empty()
                    && d.metadata.is_empty()
                    && d.unified_diff.is_none()
                    && !d.hexdump),
            "an exact copy compared different: {d:?}"
        ),
        Err(_) => {}
    }

    let nopts = normalize_options();
    let once = tmp.path().join("1/2/3/4/once");
    let twice = tmp.path().join("1/2/3/4/twice");
    let digest = normalized_digest(&a, &nopts);
    let report = match normalize_file(&a, &once, &nopts) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                digest.is_err(),
                "normalize refused ({e}) what the digest accepted"
            );
            return;
        }
    };
    if !diffoscope_lite::normalize::is_oci_layout(&a) {
        return;
    }
    let report2 =
        normalize_file(&once, &twice, &nopts).expect("a normalized layout normalizes again");
    assert!(
        report2.fired.is_empty(),
        "second pass fired {:?}",
        report2.fired
    );
    assert_eq!(
        snapshot(&once),
        snapshot(&twice),
        "normalizing the normalized layout changed it"
    );
    match (digest, normalized_digest(&once, &nopts)) {
        (Ok(d), Ok(d2)) => {
            assert_eq!(
                d.sha256, d2.sha256,
                "the output's digest is not the input's"
            );
            let ids = |f: &[diffoscope_lite::normalize::Fired]| {
                f.iter().map(|f| f.rule.id()).collect::<Vec<_>>()
            };
            assert_eq!(ids(&report.fired), ids(&d.fired), "fired rules");
        }
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => panic!("normalizing laundered a layout the digest refused: {e}"),
        (Ok(_), Err(e)) => panic!("the output's digest fails: {e}"),
    }
});
