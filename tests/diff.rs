//! End-to-end tests of `repro diff` and of the diffs `repro build` writes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{build_fixture, diff_in, fixture, python, read_json, repro, stderr, stdout};

use std::fs;
use std::path::Path;
use std::process::Command;

/// Writes a zip with `members` (name, content) using Python's zipfile,
/// with fixed timestamps.
fn zip(path: &Path, members: &[(&str, &str)]) {
    let spec = serde_json::to_string(members).unwrap();
    let script = "import json, sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
        \x20   for name, text in json.loads(sys.argv[2]):\n\
        \x20       z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), text)\n";
    python(script, path, &spec);
}

#[test]
fn diff_reports_nested_differences_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.whl"), dir.path().join("b.whl"));
    zip(
        &a,
        &[
            ("pkg/__init__.py", "VERSION = '1'\nBUILD = '/build/src'\n"),
            ("pkg/same.txt", "x"),
        ],
    );
    zip(
        &b,
        &[
            (
                "pkg/__init__.py",
                "VERSION = '1'\nBUILD = '/build-b/path-b/src'\n",
            ),
            ("pkg/same.txt", "x"),
        ],
    );

    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("├── pkg/__init__.py"), "{text}");
    assert!(
        text.contains("-BUILD = '/build/src'") && text.contains("+BUILD = '/build-b/path-b/src'")
    );
    // The equal member is at most a context line of the listing.
    assert!(!text.contains("├── pkg/same.txt"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when piped");

    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--summary")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).lines().any(|l| l.ends_with("::pkg/__init__.py")),
        "{}",
        stdout(&o)
    );

    let (json, html, txt) = (
        dir.path().join("d.json"),
        dir.path().join("d.html"),
        dir.path().join("d.txt"),
    );
    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .arg("--text")
        .arg(&txt)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "reports go to files only");
    let j = read_json(&json);
    assert_eq!(j["diffoscope-json-version"], 1);
    let init = j["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source1"] == "pkg/__init__.py")
        .unwrap();
    assert!(init["unified_diff"].as_str().unwrap().contains("+BUILD"));
    assert!(fs::read_to_string(&html)
        .unwrap()
        .contains("<details open>"));
    assert!(fs::read_to_string(&txt)
        .unwrap()
        .contains("pkg/__init__.py"));

    // Identical → 0 and nothing printed; unreadable → 2 naming the file.
    let o = repro().arg("diff").arg(&a).arg(&a).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).is_empty());
    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(dir.path().join("nope.whl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.whl"), "{}", stderr(&o));
}

/// Writes a zip of 40 members `m00.txt`… with permission bits `mode`,
/// `m17.txt` holding `changed` and the others `same`.
fn zip_with_modes(path: &Path, mode: u32, changed: &str) {
    let script = "import sys, zipfile\n\
        mode, changed = int(sys.argv[2], 8), sys.argv[3]\n\
        with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
        \x20   for i in range(40):\n\
        \x20       info = zipfile.ZipInfo('m%02d.txt' % i, (2020, 1, 1, 0, 0, 0))\n\
        \x20       info.external_attr = (0o100000 | mode) << 16\n\
        \x20       z.writestr(info, changed if i == 17 else 'same')\n";
    let st = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(format!("{mode:o}"))
        .arg(changed)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn shared_mode_change_is_one_line_after_the_content() {
    // Built under umask 022 and 002: every member's mode differs the same
    // way, one member's content differs too. The content comes first; the
    // mode change is one line with its count, not forty.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
    zip_with_modes(&a, 0o644, "version 1\n");
    zip_with_modes(&b, 0o664, "version 2\n");
    let o = repro()
        .arg("diff")
        .args([&a, &b])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let group = "┄ 40 members: mode: 0o0644 → 0o0664; likely cause: umask";
    assert_eq!(text.matches(group).count(), 1, "{text}");
    assert_eq!(text.matches("mode:").count(), 1, "{text}");
    assert!(
        text.find("+version 2").unwrap() < text.find(group).unwrap(),
        "{text}"
    );

    // The HTML page opens with the inputs and the counts.
    let html = dir.path().join("d.html");
    let o = repro()
        .arg("diff")
        .args([&a, &b])
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let page = fs::read_to_string(&html).unwrap();
    for row in [
        format!("<tr><th>first</th><td>{}</td></tr>", a.display()),
        format!("<tr><th>second</th><td>{}</td></tr>", b.display()),
        "<tr><th>content differences</th><td>1 entry</td></tr>".into(),
        "<tr><th>metadata differences</th>\
         <td>40 (40 in 1 shared group, shown once after the content)</td></tr>"
            .into(),
    ] {
        assert!(page.contains(&row), "{row} missing: {page}");
    }
}

#[test]
fn build_writes_diffs_for_unreproducible_artifacts() {
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(fixture("leaks-path"))
        .arg("--out")
        .arg(out.path().join("out"))
        .args(["--source-date-epoch", "1700000000", "--bisect-budget", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("dist/config.h (content; likely cause: build-path)"),
        "{text}"
    );
    assert!(text.contains("diff/dist/config.h.html"), "{text}");
    let r = read_json(&out.path().join("out/report.json"));
    let d = &r["artifacts"][0]["diff"];
    assert_eq!(d["runs"], serde_json::json!([1, 2]));
    for ext in ["txt", "json", "html"] {
        assert!(
            out.path()
                .join(format!("out/diff/dist/config.h.{ext}"))
                .is_file(),
            "{ext}"
        );
    }
    let json = read_json(&out.path().join("out/diff/dist/config.h.json"));
    let hints = json["repro-hints"].as_array().unwrap();
    assert!(hints.iter().any(|h| h["cause"] == "build-path"), "{json}");
}

#[test]
fn build_takes_the_differs_limit_flags() {
    // leaks-umask's artifact is a tar: depth 1. With --max-depth 0 the
    // tar is not looked into, and the report says so naming a flag that
    // exists; the limit cuts that branch, never the report.
    for (depth, diffed) in [("0", false), ("8", true)] {
        let (o, out) = build_fixture(
            "leaks-umask",
            &["--bisect-budget", "0", "--max-depth", depth],
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let r = read_json(&out.path().join("out/report.json"));
        let d = &r["artifacts"][0]["diff"];
        assert!(d["error"].is_null(), "{d}");
        let reports = d["reports"].as_array().unwrap();
        assert!(!reports.is_empty(), "{d}");
        let txt = reports
            .iter()
            .find_map(|p| p.as_str().filter(|p| p.ends_with(".txt")));
        let txt = std::fs::read_to_string(out.path().join("out").join(txt.unwrap())).unwrap();
        assert_eq!(
            !diffed,
            txt.contains("maximum depth reached") && txt.contains("--max-depth is 0"),
            "{txt}"
        );
    }
}

/// Headless Chromium, when installed (Debian package `chromium`).
fn chromium() -> Option<&'static str> {
    if common::hidden("chromium") {
        return None;
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn html_report_renders_in_a_browser() {
    let Some(browser) = chromium() else {
        common::skip("chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
    zip(
        &a,
        &[
            ("inner/readme.txt", "hello\n"),
            ("inner/x.txt", "<b>one</b>\n"),
        ],
    );
    zip(
        &b,
        &[
            ("inner/readme.txt", "hello\n"),
            ("inner/x.txt", "<b>two</b>\n"),
        ],
    );
    let html = dir.path().join("r.html");
    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let dom = stdout(&o);
    // The browser built the expected sections: one collapsible section per
    // differing member, the diff lines, and no markup injected by content.
    assert!(
        dom.contains("<details open=\"\"><summary>inner/x.txt</summary>"),
        "{dom}"
    );
    assert!(
        dom.contains("<span class=\"del\">-&lt;b&gt;one&lt;/b&gt;</span>"),
        "{dom}"
    );
    assert!(!dom.contains("<b>two</b>"));
    assert!(!dom.contains("readme.txt"));
}

#[test]
fn diffoscope_reads_the_json() {
    if common::hidden("diffoscope")
        || Command::new("diffoscope")
            .arg("--version")
            .output()
            .is_err()
    {
        common::skip("diffoscope is not installed (apt-get install diffoscope-minimal)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
    zip(&a, &[("x.txt", "one\n")]);
    zip(&b, &[("x.txt", "two\n")]);
    let json = dir.path().join("d.json");
    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let html = dir.path().join("d.html");
    let o = Command::new("diffoscope")
        .arg("--load-existing-diff")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    // diffoscope exits 1 for "different", as it would for its own JSON.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let page = fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("x.txt") && page.contains("two"),
        "diffoscope rendered nothing useful"
    );
}

#[test]
fn a_closed_pipe_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
    let many: Vec<String> = (0..3000).map(|i| format!("line {i}\n")).collect();
    let other: Vec<String> = (0..3000).map(|i| format!("LINE {i}\n")).collect();
    zip(&a, &[("x.txt", &many.concat())]);
    zip(&b, &[("x.txt", &other.concat())]);
    // The reader closes the pipe after the first line, like `| head -1`.
    let mut child = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert!(line.starts_with("--- "), "{line}");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn repro_diff_takes_the_hint_context() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
    zip(&a, &[("config.h", "#define DATADIR \"/build/a/share\"\n")]);
    zip(&b, &[("config.h", "#define DATADIR \"/build/b/share\"\n")]);
    let o = repro()
        .arg("diff")
        .args([&a, &b])
        .args(["--build-dir", "/build/a", "--build-dir", "/build/b"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("likely cause: embedded build path (/build/a)"),
        "{text}"
    );
}

#[test]
fn build_names_locale_and_timezone_causes() {
    for (fixture, variation, cause) in [
        ("leaks-locale", "locales", "likely cause: locale"),
        ("leaks-timezone", "timezone", "likely cause: timezone"),
    ] {
        let (o, out) = build_fixture(fixture, &["--bisect-budget", "0"]);
        let r = read_json(&out.path().join("out/report.json"));
        if let Some(reason) = common::unavailable_reason(&r, variation) {
            common::skip(&format!(
                "{fixture}: {variation} is unavailable here: {reason}"
            ));
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(cause), "{fixture}: {text}");
    }
}

/// Makes a FIFO with `mkfifo(1)`.
fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success());
}

/// Whether `path` is still a FIFO (not replaced by a regular file).
fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    fs::symlink_metadata(path).unwrap().file_type().is_fifo()
}

#[test]
fn outputs_are_written_through_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.whl"), dir.path().join("b.whl"));
    zip(&a, &[("pkg/x.py", "x = 1\n")]);
    zip(&b, &[("pkg/x.py", "x = 2\n")]);

    // --text to a FIFO: the reader gets the report, the FIFO stays one.
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
    };
    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--text")
        .arg(&fifo)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Checked before joining: a replaced FIFO would leave the reader
    // waiting forever.
    assert!(is_fifo(&fifo), "the FIFO was replaced");
    let text = reader.join().unwrap();
    assert!(text.contains("-x = 1") && text.contains("+x = 2"), "{text}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));

    // --json to a symlink: the file it points at is written, the link kept.
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("real.json");
    fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--json")
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(fs::read_link(&link).unwrap(), real);
    assert_eq!(read_json(&real)["diffoscope-json-version"], 1);
    let names: Vec<_> = fs::read_dir(elsewhere.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left beside the target");

    // --text - is stdout, together with a JSON file; no file named `-`.
    let o = repro()
        .current_dir(dir.path())
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .args(["--text", "-", "--json", "d.json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("+x = 2"), "{}", stdout(&o));
    assert!(!dir.path().join("-").exists());
    assert_eq!(
        read_json(&dir.path().join("d.json"))["diffoscope-json-version"],
        1
    );
}

#[test]
fn output_to_a_device_node_keeps_the_device() {
    use std::os::unix::fs::FileTypeExt as _;
    let dir = tempfile::tempdir().unwrap();
    // A /dev/null of our own (1,3), so a failure cannot break the machine's.
    let null = dir.path().join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .output()
        .unwrap();
    if !made.status.success() {
        common::skip(&format!(
            "mknod needs root and CAP_MKNOD: {}",
            stderr(&made).trim()
        ));
        return;
    }
    let (a, b) = (dir.path().join("a.whl"), dir.path().join("b.whl"));
    zip(&a, &[("x", "1")]);
    zip(&b, &[("x", "2")]);
    let o = repro()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--text")
        .arg(&null)
        .arg("--html")
        .arg(&null)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["a.whl", "b.whl", "null"]);
}

/// `repro diff` and `diffoscope-lite` take the same default for
/// --source-date-epoch: the environment's SOURCE_DATE_EPOCH.
#[test]
fn source_date_epoch_defaults_to_the_environment_in_both_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
    zip(&a, &[("stamp.txt", "built 1700000000\n")]);
    zip(&b, &[("stamp.txt", "built 1700000123\n")]);
    let repro_out = repro()
        .arg("diff")
        .args([&a, &b])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let lite = std::path::Path::new(env!("CARGO_BIN_EXE_repro")).with_file_name("diffoscope-lite");
    let lite_out = Command::new(lite)
        .args([&a, &b])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    for o in [&repro_out, &lite_out] {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        let text = stdout(o);
        assert!(text.contains("equals SOURCE_DATE_EPOCH"), "{text}");
    }
}

/// Writes a tar with Python's tarfile: `members` as (name, content,
/// mtime), mode 0644, owned by 0/0.
fn tar(path: &Path, members: &[(&str, &str, u64)]) {
    let spec = serde_json::to_string(members).unwrap();
    let script = "import io, json, sys, tarfile\n\
        with tarfile.open(sys.argv[1], 'w', format=tarfile.USTAR_FORMAT) as t:\n\
        \x20   for name, text, mtime in json.loads(sys.argv[2]):\n\
        \x20       info = tarfile.TarInfo(name)\n\
        \x20       data = text.encode()\n\
        \x20       info.size, info.mtime, info.mode = len(data), mtime, 0o644\n\
        \x20       t.addfile(info, io.BytesIO(data))\n";
    python(script, path, &spec);
}

/// The HTML report of `repro diff a b` in `dir`, which must exit 1.
fn html_of(dir: &Path, a: &str, b: &str) -> String {
    let html = dir.join("d.html");
    let o = repro()
        .arg("diff")
        .args([dir.join(a), dir.join(b)])
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    fs::read_to_string(&html).unwrap()
}

#[test]
fn metadata_only_members_are_lines_of_the_listing() {
    // One member touched later, one changed: diffoscope shows the first
    // as a line of the `file list` only, the second as a node too.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tar(
        &d.join("a.tar"),
        &[
            ("touched", "same\n", 1_577_836_800),
            ("changed", "one\n", 0),
        ],
    );
    tar(
        &d.join("b.tar"),
        &[
            ("touched", "same\n", 1_577_836_801),
            ("changed", "two\n", 0),
        ],
    );
    let (code, text) = diff_in(d, &["a.tar", "b.tar"]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("listing_text", text);

    let (code, json) = diff_in(d, &["a.tar", "b.tar", "--json", "-"]);
    assert_eq!(code, Some(1));
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    let details = j["details"].as_array().unwrap();
    let names: Vec<&str> = details
        .iter()
        .map(|d| d["source1"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["file list", "changed"], "{json}");
    let list = &details[0];
    assert!(list["unified_diff"]
        .as_str()
        .unwrap()
        .contains("+-rw-r--r--   0        0        0        5 2020-01-01 00:00:01.000000 touched"));
    assert_eq!(list["repro-members"][0]["source1"], "touched");
    assert_eq!(
        list["repro-members"][0]["repro-metadata"][0]["field"],
        "mtime"
    );
    assert_eq!(list["comments"].as_array().unwrap().len(), 0, "{json}");

    let (code, summary) = diff_in(d, &["a.tar", "b.tar", "--summary"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        summary,
        "[TMP]/a.tar::changed\n(1 member differing in metadata only)\n".replace("[TMP]/", ""),
    );

    let page = html_of(d, "a.tar", "b.tar");
    assert!(page.contains("<summary>file list</summary>"), "{page}");
    assert!(
        page.contains("<tr><td>touched</td><td>mtime</td>"),
        "{page}"
    );
}

#[test]
fn an_archive_quine_is_cut_at_the_depth_limit_with_a_report() {
    // Nested deeper than --max-depth on both sides: the branch at the
    // limit says so, the report is written, and the exit is 1, not 2.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (side, text) in [("a", "one\n"), ("b", "two\n")] {
        let mut inner = d.join(format!("{side}0.tar"));
        tar(&inner, &[("x", text, 0)]);
        for level in 1..6 {
            let outer = d.join(format!("{side}{level}.tar"));
            python(
                "import sys, tarfile\n\
                 with tarfile.open(sys.argv[1], 'w') as t:\n\
                 \x20   t.add(sys.argv[2], arcname='q.tar')\n",
                &outer,
                &inner,
            );
            inner = outer;
        }
    }
    let (code, text) = diff_in(d, &["a5.tar", "b5.tar", "--max-depth", "3"]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(text.matches("maximum depth reached").count(), 1, "{text}");
    assert!(text.contains("--max-depth is 3"), "{text}");
}

/// One ar member: its 60-byte header (mtime 0, owner 0/0), its data and
/// the pad byte an odd size needs.
fn ar_member(name: &str, mode: &str, data: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "{name:<16}{:<12}{:<6}{:<6}{mode:<8}{:<10}`\n",
        0,
        0,
        0,
        data.len()
    )
    .into_bytes();
    m.extend_from_slice(data);
    if data.len() % 2 == 1 {
        m.push(b'\n');
    }
    m
}

/// A GNU static library: a symbol table naming `symbols` (all defined in
/// its one object `x.o`), then `x.o`.
fn static_library(symbols: &[&str]) -> Vec<u8> {
    let names: Vec<u8> = symbols
        .iter()
        .flat_map(|s| [s.as_bytes(), b"\0"].concat())
        .collect();
    let table_len = 4 + 4 * symbols.len() + names.len();
    let x_at = (8 + 60 + table_len + table_len % 2) as u32;
    let mut table = (symbols.len() as u32).to_be_bytes().to_vec();
    for _ in symbols {
        table.extend_from_slice(&x_at.to_be_bytes());
    }
    table.extend_from_slice(&names);
    [
        &b"!<arch>\n"[..],
        &ar_member("/", "0", &table),
        &ar_member("x.o/", "644", b"object\n"),
    ]
    .concat()
}

#[test]
fn ar_symbol_table_is_a_view_of_the_archive() {
    // diffoscope shows an ar's symbol table as `nm --print-armap {}`, a
    // view of the archive before its file list, not as a member.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.a"), static_library(&["alpha", "beta"])).unwrap();
    fs::write(d.join("b.a"), static_library(&["alpha", "gamma"])).unwrap();
    let (code, text) = diff_in(d, &["a.a", "b.a"]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("ar_symbol_table_text", text);

    let (_, json) = diff_in(d, &["a.a", "b.a", "--json", "-"]);
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names: Vec<&str> = j["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["source1"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nm --print-armap {}", "file list"], "{json}");

    let page = html_of(d, "a.a", "b.a");
    assert!(
        page.contains("<summary>nm --print-armap {}</summary>"),
        "{page}"
    );
}

#[test]
fn zipinfo_shows_the_archive_size_and_totals() {
    // diffoscope's `zipinfo {}` starts with the archive's size and entry
    // count and ends with its totals; repro's listing does too (without
    // the `Archive:` line, which names the file on each side).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = "import sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:\n\
        \x20   for name in sys.argv[2].split(','):\n\
        \x20       z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), 'same\\n')\n";
    python(script, &d.join("a.zip"), "x");
    python(script, &d.join("b.zip"), "x,y");
    let (code, text) = diff_in(d, &["a.zip", "b.zip"]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("zipinfo_header_text", text);
}

/// A 64-bit x86_64 Mach-O executable with no segments, only an LC_UUID.
fn mach_o_with_uuid(uuid: u8) -> Vec<u8> {
    let words = [0xfeed_facfu32, 0x0100_0007, 3, 2, 1, 24, 0, 0, 0x1b, 24];
    let mut out: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    out.extend_from_slice(&[uuid; 16]);
    out
}

#[test]
fn mach_o_architecture_is_a_node() {
    // diffoscope shows each architecture of a Mach-O file, thin ones too,
    // as a node named after its CPU holding its views.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a"), mach_o_with_uuid(1)).unwrap();
    fs::write(d.join("b"), mach_o_with_uuid(2)).unwrap();
    let (code, text) = diff_in(d, &["a", "b"]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("mach_o_architecture_text", text);
}

#[test]
fn office_documents_show_their_text_first() {
    // diffoscope shows a .docx as docx2txt's text; repro shows that text
    // as a view of the file, then the members that differ.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let doc = |t: &str| {
        format!("<w:document><w:body><w:p><w:r><w:t>{t}</w:t></w:r></w:p></w:body></w:document>")
    };
    zip(
        &d.join("a.docx"),
        &[("word/document.xml", &doc("a &amp; b"))],
    );
    zip(
        &d.join("b.docx"),
        &[("word/document.xml", &doc("a &amp; c"))],
    );
    let (code, json) = diff_in(d, &["a.docx", "b.docx", "--json", "-"]);
    assert_eq!(code, Some(1));
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    let first = &j["details"][0];
    assert_eq!(first["source1"], "docx2txt", "{json}");
    assert_eq!(
        first["unified_diff"], "@@ -1 +1 @@\n-a & b\n+a & c\n",
        "{json}"
    );
    let members = j["details"].as_array().unwrap();
    assert!(
        members.iter().any(|m| m["source1"] == "word/document.xml"),
        "{json}"
    );
}
