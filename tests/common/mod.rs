//! Helpers shared by the end-to-end tests: the binary, the fixtures, and
//! reading what a run left behind.
// Each test binary uses a different subset of these.
#![allow(dead_code, clippy::unwrap_used)]

pub mod pypi_index;

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
    let mut args = vec!["--source-date-epoch", "1700000000"];
    args.extend_from_slice(extra);
    build_dir(&fixture(name), &args)
}

/// `repro build SRC --out <tmp>/out --keep-runs all ARGS…` (the tests read
/// the run trees; --keep-runs has its own test); returns what it printed,
/// and the temporary dir holding `out/`.
pub fn build_dir(src: &Path, args: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(src)
        .arg("--out")
        .arg(out.path().join("out"))
        .args(["--keep-runs", "all"])
        .args(args)
        .output()
        .unwrap();
    (o, out)
}

/// A JSON file (report.json, provenance.json) parsed.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// True when CI asks that no test skip (`REPRO_TEST_STRICT=1`): a missing
/// optional tool is then a failure, so CI cannot silently stop testing.
pub fn strict() -> bool {
    std::env::var_os("REPRO_TEST_STRICT").is_some_and(|v| v == "1")
}

/// Skips the calling test's remaining checks, saying why on stderr (shown
/// with `--nocapture` and on failure); panics instead under
/// `REPRO_TEST_STRICT=1`.
pub fn skip(reason: &str) {
    assert!(
        !strict(),
        "REPRO_TEST_STRICT=1 forbids skipping, but: {reason}"
    );
    eprintln!("skipping: {reason}");
}

/// True when `tool` is listed in `REPRO_TEST_HIDE_TOOLS` (comma-separated):
/// the suite then behaves as on a machine without it. The product's own
/// optional tools are hidden with `REPRO_FAKETIME_LIB=none` and
/// `REPRO_DISORDERFS=none`, which repro itself honours.
pub fn hidden(tool: &str) -> bool {
    std::env::var("REPRO_TEST_HIDE_TOOLS")
        .map(|v| v.split(',').any(|t| t.trim() == tool))
        .unwrap_or(false)
}

/// Why `variation` was not applied in the build whose report is `report`,
/// or None when it was.
pub fn unavailable_reason(report: &Value, variation: &str) -> Option<String> {
    report["variations"]["unavailable"]
        .as_array()?
        .iter()
        .find(|u| u["name"] == variation)
        .map(|u| u["reason"].as_str().unwrap_or_default().to_string())
}

/// Lowercase hex SHA-256 of `data` (sha256sum's, via the test's own python3
/// would be slower; the provenance crate's is independent of the code under
/// test here).
pub fn sha256_hex(data: &[u8]) -> String {
    provenance::sha256_hex(data)
}

/// True when the test runs as root (uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// `repro keygen --out DIR/release`: the private and the public key file.
pub fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("release");
    let o = repro()
        .args(["keygen", "--out"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

/// `repro diff ARGS…` run in `dir`, which must print nothing on stderr:
/// its exit code and stdout with `dir` masked as `[TMP]`.
pub fn diff_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = repro()
        .arg("diff")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let out = stdout(&o).replace(dir.to_str().unwrap(), "[TMP]");
    (o.status.code(), out)
}

/// Runs a Python `script` with two arguments, which must succeed.
pub fn python(script: &str, first: &Path, second: impl AsRef<std::ffi::OsStr>) {
    let st = Command::new("python3")
        .args(["-c", script])
        .arg(first)
        .arg(second)
        .status()
        .unwrap();
    assert!(st.success());
}
