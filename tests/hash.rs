//! End-to-end tests of `repro hash`.
#![allow(clippy::unwrap_used, missing_docs)]

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
