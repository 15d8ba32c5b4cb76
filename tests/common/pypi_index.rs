//! A local package index (fixtures/rebuild/index_server.py) serving the
//! demo project, for the tests of `repro rebuild` and its batch mode.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const SDE: &str = "1700000000";

/// A local index serving a directory; killed on drop.
pub struct Index {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    /// The frontend cache of this test's rebuilds.
    pub cache: tempfile::TempDir,
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rebuild")
}

/// The pip wheel the index serves as the frontend: CPython's bundled one
/// (ensurepip), or `$REPRO_TEST_PIP_WHEEL`.
pub fn pip_wheel() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REPRO_TEST_PIP_WHEEL") {
        return Some(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import ensurepip, glob, os; print(*glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().next().map(PathBuf::from)
}

/// Builds the demo's sdist and wheel (as its publisher would, with
/// SOURCE_DATE_EPOCH) into a fresh index directory and serves it.
pub fn publish() -> Option<Index> {
    let Some(pip) = pip_wheel() else {
        super::skip("no pip wheel to serve as the frontend (python3 without ensurepip's bundled wheels; set REPRO_TEST_PIP_WHEEL)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(fixtures().join("demo-1.0"))
        .arg(src.path())
        .status()
        .unwrap();
    assert!(st.success());
    let tree = src.path().join("demo-1.0");
    let st = Command::new("python3")
        .args([
            "-c",
            "import sys, tinybackend as b; b.build_wheel(sys.argv[1]); b.build_sdist(sys.argv[1])",
        ])
        .arg(dir.path())
        .current_dir(&tree)
        .env("SOURCE_DATE_EPOCH", SDE)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::copy(&pip, dir.path().join(pip.file_name().unwrap())).unwrap();
    let mut child = Command::new("python3")
        .arg(fixtures().join("index_server.py"))
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = format!("http://127.0.0.1:{}/simple", line.trim());
    Some(Index {
        child,
        url,
        dir,
        cache: tempfile::tempdir().unwrap(),
    })
}
