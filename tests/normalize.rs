//! End-to-end tests of `repro normalize` and `repro hash --normalized`:
//! noise pairs made by `fixtures/make_noise_pairs.py` (python3's zipfile,
//! tarfile and gzip, plus hand-written ar, PNG and pyc) go through the real
//! binary.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{repro, stderr, stdout};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const EPOCH: &str = "1600000000";
const PAIRS: &[&str] = &[
    "hello_?.whl",
    "src_?.tar.gz",
    "pkg_?.deb",
    "logo_?.png",
    "mod_?.pyc",
];

/// A temp dir with the noise pairs and `notes.txt` (unknown format).
fn pairs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/make_noise_pairs.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

/// The inputs, in a stable order.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = PAIRS
        .iter()
        .flat_map(|p| ["a", "b"].map(|s| dir.join(p.replace('?', s))))
        .collect();
    v.push(dir.join("notes.txt"));
    v
}

fn normalize(dir: &Path, args: &[&str], files: &[PathBuf]) -> Output {
    repro()
        .current_dir(dir)
        .arg("normalize")
        .args(args)
        .args(files.iter().map(|f| f.strip_prefix(dir).unwrap_or(f)))
        .output()
        .unwrap()
}

/// `repro hash --normalized` of each path.
fn digests(paths: &[PathBuf]) -> Vec<String> {
    let o = repro()
        .args(["hash", "--normalized"])
        .args(paths)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

fn sha256(p: &Path) -> String {
    let o = repro().arg("hash").arg(p).output().unwrap();
    stdout(&o).split_whitespace().next().unwrap().to_owned()
}

#[test]
fn noise_pairs_become_identical_and_stay_so() {
    let dir = pairs();
    let files = inputs(dir.path());
    let o = normalize(
        dir.path(),
        &["-o", "out", "--source-date-epoch", EPOCH],
        &files,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("normalize_noise_pairs", stdout(&o));
    let out = dir.path().join("out");
    for p in PAIRS {
        let a = out.join(p.replace('?', "a"));
        let b = out.join(p.replace('?', "b"));
        assert_eq!(sha256(&a), sha256(&b), "{p}");
    }
    // Unknown formats are copied unchanged.
    assert_eq!(
        fs::read(out.join("notes.txt")).unwrap(),
        b"not an archive\n"
    );
    // Idempotent: a second pass in place changes nothing.
    let outputs: Vec<PathBuf> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let before: Vec<String> = outputs.iter().map(|p| sha256(p)).collect();
    let o = normalize(
        &out,
        &["--in-place", "--source-date-epoch", EPOCH],
        &outputs,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for line in stdout(&o).lines() {
        assert!(
            line.ends_with(": unchanged") || line.ends_with(": unknown format: left unchanged"),
            "{line}"
        );
    }
    let after: Vec<String> = outputs.iter().map(|p| sha256(p)).collect();
    assert_eq!(before, after);
    // No temporary files are left behind.
    assert_eq!(fs::read_dir(&out).unwrap().count(), files.len());
}

#[test]
fn python_reads_the_same_members() {
    let dir = pairs();
    let wheel = dir.path().join("hello_b.whl");
    let o = normalize(dir.path(), &["-o", "out"], std::slice::from_ref(&wheel));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let script = "import sys, zipfile\n\
                  def read(p):\n    z = zipfile.ZipFile(p)\n    return sorted((i.filename, z.read(i), i.external_attr >> 16 & 0o111 != 0) for i in z.infolist())\n\
                  a, b = read(sys.argv[1]), read(sys.argv[2])\n\
                  assert a == b, (a, b)\n\
                  assert zipfile.ZipFile(sys.argv[2]).testzip() is None\n";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&wheel)
        .arg(dir.path().join("out/hello_b.whl"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn json_names_ruleset_status_and_rules() {
    let dir = pairs();
    let files = [
        dir.path().join("src_a.tar.gz"),
        dir.path().join("notes.txt"),
    ];
    let o = normalize(dir.path(), &["--in-place", "--json"], &files);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["ruleset"], "repro-normalize-v3");
    assert_eq!(v[0]["status"], "normalized");
    assert_eq!(v[0]["format"], "gzip");
    assert_eq!(v[0]["fired"][0]["rule"], "gzip.mtime");
    assert_eq!(v[0]["fired"][2]["path"], "src_a.tar.gz::src_a.tar");
    assert_eq!(v[1]["status"], "unknown format");
}

#[test]
fn a_destination_is_required() {
    let dir = pairs();
    let o = normalize(dir.path(), &[], &[dir.path().join("notes.txt")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--in-place"), "{}", stderr(&o));
}

#[test]
fn a_broken_file_is_left_alone_with_a_warning_unless_strict() {
    let dir = pairs();
    let whl = fs::read(dir.path().join("hello_a.whl")).unwrap();
    fs::write(dir.path().join("broken.whl"), &whl[..whl.len() - 30]).unwrap();
    let before = fs::read(dir.path().join("broken.whl")).unwrap();
    let files = [dir.path().join("broken.whl"), dir.path().join("mod_a.pyc")];
    // As strip-nondeterminism does: a warning naming the file and the
    // problem, the file left as it is, the others normalized, exit code 0.
    let o = normalize(dir.path(), &["--in-place"], &files);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("warning: ")
            && err.contains("broken.whl")
            && err.contains("malformed zip")
            && err.ends_with("left unchanged (--strict makes this an error)\n"),
        "{err}"
    );
    let out = stdout(&o);
    assert!(
        out.contains("broken.whl: malformed: left unchanged\n")
            && out.ends_with("mod_a.pyc: pyc.mtime\n"),
        "{out}"
    );
    assert_eq!(fs::read(dir.path().join("broken.whl")).unwrap(), before);
    // --strict: an error naming the file, exit code 2, still untouched.
    let o = normalize(
        dir.path(),
        &["--in-place", "--strict"],
        &[dir.path().join("broken.whl")],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: ") && err.contains("broken.whl") && err.contains("malformed zip"),
        "{err}"
    );
    // The broken file is untouched and no temporary file is left.
    assert_eq!(fs::read(dir.path().join("broken.whl")).unwrap(), before);
    let stray: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".repro")
        })
        .collect();
    assert!(stray.is_empty());
}

#[test]
fn normalized_digest_ignores_noise_and_matches_the_output() {
    let dir = pairs();
    let files = inputs(dir.path());
    let before = digests(&files);
    for pair in before[..PAIRS.len() * 2].chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
    // An unknown format's normalized digest is its SHA-256.
    assert_eq!(
        before.last().unwrap(),
        &sha256(&dir.path().join("notes.txt"))
    );
    let o = normalize(dir.path(), &["-o", "out"], &files);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let outputs: Vec<PathBuf> = files
        .iter()
        .map(|f| dir.path().join("out").join(f.file_name().unwrap()))
        .collect();
    assert_eq!(digests(&outputs), before);
    // A real change is seen.
    let mut pyc = fs::read(dir.path().join("mod_a.pyc")).unwrap();
    *pyc.last_mut().unwrap() ^= 1;
    fs::write(dir.path().join("mod_c.pyc"), pyc).unwrap();
    let changed = digests(&[dir.path().join("mod_c.pyc")]);
    assert_ne!(changed[0], before[8]);
}

#[test]
fn oci_layouts_are_normalized_and_hashed() {
    let dir = pairs();
    let images = [dir.path().join("image_a"), dir.path().join("image_b")];
    let before = digests(&images);
    assert_eq!(before[0], before[1]);
    let o = normalize(
        dir.path(),
        &["-o", "out", "--source-date-epoch", EPOCH],
        &images,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.path().join("out");
    let listing = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = walkdir(d)
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(d).unwrap().display().to_string(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(listing(&out.join("image_a")), listing(&out.join("image_b")));
    assert!(
        stdout(&o).contains("image_a: oci.created"),
        "{}",
        stdout(&o)
    );
    assert_eq!(digests(&[out.join("image_a")]), [before[0].clone()]);
}

fn walkdir(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn normalized_hash_json_has_version_and_rules() {
    let dir = pairs();
    let o = repro()
        .args([
            "hash",
            "--normalized",
            "--json",
            "--source-date-epoch",
            EPOCH,
        ])
        .arg(dir.path().join("hello_b.whl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["digest-version"], "repro-normalized-v1");
    assert_eq!(v[0]["format"], "zip");
    let rules: Vec<&str> = v[0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["zip.sort", "zip.mtime-clamp", "zip.attr-normalize"]);
    assert_eq!(v[0]["digest"].as_str().unwrap().len(), 64);
}

#[test]
fn output_links_and_fifos_are_written_through() {
    use std::os::unix::fs::FileTypeExt as _;
    let dir = pairs();
    let d = dir.path();
    let files = [d.join("hello_a.whl"), d.join("src_a.tar.gz")];
    // What a plain directory gets, to compare with.
    let o = normalize(d, &["-o", "plain", "--source-date-epoch", EPOCH], &files);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let out = d.join("out");
    fs::create_dir(&out).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("kept.whl");
    fs::write(&real, "old").unwrap();
    std::os::unix::fs::symlink(&real, out.join("hello_a.whl")).unwrap();
    let fifo = out.join("src_a.tar.gz");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let o = normalize(d, &["-o", "out", "--source-date-epoch", EPOCH], &files);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Checked before joining: a replaced FIFO would leave the reader
    // waiting forever.
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(
        reader.join().unwrap(),
        fs::read(d.join("plain/src_a.tar.gz")).unwrap()
    );
    assert!(fs::symlink_metadata(out.join("hello_a.whl"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(sha256(&real), sha256(&d.join("plain/hello_a.whl")));
    assert_eq!(fs::read_dir(&out).unwrap().count(), 2);
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 1);
}
