//! Helpers shared by the end-to-end tests: the binary, the fixtures, and
//! reading what a run left behind.
// Each test binary uses a different subset of these.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The `repro` binary under test.
pub fn repro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_repro"))
}

/// Absolute path of a bundled fixture project.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/projects")
        .join(name)
        .canonicalize()
        .unwrap()
}

/// stdout, lossily decoded.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr, lossily decoded.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `repro build FIXTURE --out <tmp>/out --source-date-epoch 1700000000 EXTRA…`;
/// returns what it printed, and the temporary dir holding `out/`.
pub fn build_fixture(name: &str, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(fixture(name))
        .arg("--out")
        .arg(out.path().join("out"))
        .args(["--source-date-epoch", "1700000000"])
        .args(extra)
        .output()
        .unwrap();
    (o, out)
}

/// A JSON file (report.json, provenance.json) parsed.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}
