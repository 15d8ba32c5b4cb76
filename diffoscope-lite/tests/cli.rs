//! End-to-end tests of the `diffoscope-lite` binary: exit codes, outputs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Cursor, Write};
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;
use std::process::{Command, Output};

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::from_date_and_time(2020, 1, 1, 0, 0, 0).unwrap());
    for (name, data) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffoscope-lite"))
        .current_dir(dir)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let a = zip(&[("pkg/x.py", b"x = 1\n"), ("pkg/y.py", b"same\n")]);
    let b = zip(&[("pkg/x.py", b"x = 2\n"), ("pkg/y.py", b"same\n")]);
    std::fs::write(dir.path().join("a.whl"), &a).unwrap();
    std::fs::write(dir.path().join("a2.whl"), &a).unwrap();
    std::fs::write(dir.path().join("b.whl"), &b).unwrap();
    dir
}

#[test]
fn identical_exits_0_without_output() {
    let dir = setup();
    let out = run(dir.path(), &["a.whl", "a2.whl"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn different_exits_1_with_plain_text_when_piped() {
    let dir = setup();
    let out = run(dir.path(), &["a.whl", "b.whl"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        "--- a.whl\n+++ b.whl\n├── pkg/x.py\n│ @@ -1 +1 @@\n│ -x = 1\n│ +x = 2\n"
    );
}

#[test]
fn summary_lists_differing_paths() {
    let dir = setup();
    let out = run(dir.path(), &["--summary", "a.whl", "b.whl"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "a.whl::pkg/x.py\n");
}

#[test]
fn json_and_text_files() {
    let dir = setup();
    let out = run(
        dir.path(),
        &["--json", "d.json", "--text", "d.txt", "a.whl", "b.whl"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "text went to the file, not stdout");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("d.json")).unwrap()).unwrap();
    assert_eq!(v["diffoscope-json-version"], 1);
    assert_eq!(v["details"][0]["source1"], "pkg/x.py");
    let text = std::fs::read_to_string(dir.path().join("d.txt")).unwrap();
    assert!(text.starts_with("--- a.whl\n+++ b.whl\n"), "{text}");
}

#[test]
fn outputs_to_a_fifo_and_through_a_symlink_are_written_not_replaced() {
    let dir = setup();
    let fifo = dir.path().join("pipe");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("real.json");
    std::fs::write(&real, "old").unwrap();
    std::os::unix::fs::symlink(&real, dir.path().join("link.json")).unwrap();

    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = run(
        dir.path(),
        &["--text", "pipe", "--json", "link.json", "a.whl", "b.whl"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Checked before joining: a replaced FIFO would leave the reader
    // waiting forever.
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let text = reader.join().unwrap();
    assert!(text.starts_with("--- a.whl\n+++ b.whl\n"), "{text}");
    let link = std::fs::symlink_metadata(dir.path().join("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is kept");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
    assert_eq!(v["diffoscope-json-version"], 1);
}

#[test]
fn errors_exit_2_and_name_the_problem() {
    let dir = setup();
    let out = run(dir.path(), &["a.whl", "missing.whl"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot read missing.whl"), "{err}");

    let out = run(dir.path(), &["--max-entries", "1", "a.whl", "b.whl"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("entry count limit exceeded (2 > 1); raise it with --max-entries"),
        "{err}"
    );

    let out = run(dir.path(), &["--no-such-flag", "a.whl", "b.whl"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn hint_flags_name_build_paths_hosts_and_users() {
    let dir = tempfile::tempdir().unwrap();
    let text = |path: &str, host: &str| format!("datadir={path}/share\nbuilt_on={host}\n");
    let a = zip(&[("info.txt", text("/build/a", "alpha").as_bytes())]);
    let b = zip(&[("info.txt", text("/build/b", "beta").as_bytes())]);
    std::fs::write(dir.path().join("a.whl"), a).unwrap();
    std::fs::write(dir.path().join("b.whl"), b).unwrap();
    // Without the flags nothing says what these are.
    let o = run(dir.path(), &["a.whl", "b.whl"]);
    let plain = String::from_utf8(o.stdout).unwrap();
    assert!(plain.contains("/build/a/share"), "{plain}");
    assert!(!plain.contains("build path"), "{plain}");
    let o = run(
        dir.path(),
        &[
            "a.whl",
            "b.whl",
            "--json",
            "-",
            "--build-dir",
            "/build/a",
            "--build-dir",
            "/build/b",
            "--hostname",
            "alpha",
            "--hostname",
            "beta",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // After the `zipinfo {}` listing (the member's size changed).
    assert_eq!(json["details"][0]["source1"], "zipinfo {}", "{json}");
    let hints = json["details"][1]["repro-hints"].to_string();
    assert!(hints.contains("build-path"), "{json}");
    assert!(hints.contains("hostname"), "{json}");
}
