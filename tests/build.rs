//! End-to-end tests of `repro build`: the real binary on real fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{fixture, read_json, repro, stderr, stdout};

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const EPOCH: &str = "1700000000";

/// Only the variations every machine has (no optional tool, installed
/// locale or second CPU needed), for tests whose snapshots show a culprit
/// search: its steps depend on the set.
const MACHINE_INDEPENDENT_VARIATIONS: &str = "--vary=-fileordering,-time,-num_cpus,-locales";

/// Runs `repro build` on `src` into a fresh output dir; returns the output and the dir.
fn build(src: &Path, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let output = repro()
        .arg("build")
        .arg(src)
        .arg("--out")
        .arg(out.path().join("out"))
        .args(["--source-date-epoch", EPOCH])
        // The tests read the run trees; --keep-runs has its own test.
        .args(["--keep-runs", "all"])
        .args(extra)
        .output()
        .unwrap();
    (output, out)
}

fn report(out: &tempfile::TempDir) -> Value {
    read_json(&out.path().join("out/report.json"))
}

/// What the user sees, with temp paths and digests masked.
fn screen(o: &Output, tmp: &Path) -> String {
    let text = format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    text.replace(tmp.to_str().unwrap(), "[TMP]")
        .replace(fixture("").to_str().unwrap(), "[FIXTURES]")
        .replace(&std::env::var("PATH").unwrap(), "[PATH]")
}

macro_rules! assert_screen {
    ($name:expr, $output:expr, $tmp:expr) => {
        insta::with_settings!({filters => vec![
            (r"\b[0-9a-f]{12}\b", "[DIGEST]"),
            // What can be varied depends on the machine (CPU count,
            // installed and usable tools): report.json records it, tests
            // of the variations check it, snapshots must not.
            (r"repro: varying [^\n]*", "repro: varying [VARIATIONS]"),
            (r" in \d+\.\ds\n", " in [DURATION]\n"),
            (r"repro:   [a-z_]+ unavailable: [^\n]*\n", ""),
            (r"/tmp/\.tmp[A-Za-z0-9]+", "[SRC]"),
        ]}, {
            insta::assert_snapshot!($name, screen(&$output, $tmp));
        });
    };
}

fn write_project(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

#[test]
fn hello_wheel_is_reproducible() {
    let (o, out) = build(&fixture("hello-wheel"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_screen!("hello_wheel", o, out.path());
    let r = report(&out);
    assert_eq!(r["verdict"], "REPRODUCIBLE");
    // What ran, as the build saw it: the command's program and the
    // toolchain, with versions and digests.
    let tools = r["tools"].as_array().unwrap();
    assert_eq!(tools[0]["role"], "command");
    assert_eq!(tools[0]["name"], "python3");
    let py = tools
        .iter()
        .find(|t| t["role"] == "toolchain" && t["name"] == "python3")
        .unwrap();
    assert!(
        py["version"].as_str().unwrap().starts_with("Python 3"),
        "{py}"
    );
    assert_eq!(py["sha256"].as_str().unwrap().len(), 64);
    assert!(py["path"].as_str().unwrap().starts_with('/'));
    let whl = "dist/hello_repro-0.1.0-py3-none-any.whl";
    assert_eq!(r["artifacts"][0]["path"], whl);
    // The published artifact is run 1's file.
    let published = fs::read(out.path().join("out/artifacts").join(whl)).unwrap();
    let built = fs::read(out.path().join("out/runs/1/src").join(whl)).unwrap();
    assert_eq!(published, built);
    // It really is a zip with the expected members, RECORD last.
    let names = zip_names(&published);
    assert_eq!(names.last().unwrap(), "hello_repro-0.1.0.dist-info/RECORD");
    assert!(names.contains(&"hello_repro/__init__.py".to_string()));
}

/// Central-directory names of a zip, in order (enough of a reader for a test).
fn zip_names(data: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut i = 0;
    while i + 46 <= data.len() {
        if data[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] {
            let n = u16::from_le_bytes([data[i + 28], data[i + 29]]) as usize;
            let m = u16::from_le_bytes([data[i + 30], data[i + 31]]) as usize;
            let k = u16::from_le_bytes([data[i + 32], data[i + 33]]) as usize;
            names.push(String::from_utf8_lossy(&data[i + 46..i + 46 + n]).into_owned());
            i += 46 + n + m + k;
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn hello_tarball_is_reproducible() {
    let (o, out) = build(&fixture("hello-tarball"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_screen!("hello_tarball", o, out.path());
    assert!(out
        .path()
        .join("out/artifacts/dist/hello-0.1.tar.gz")
        .is_file());
}

#[test]
fn leaks_time_is_not_reproducible() {
    let (o, out) = build(&fixture("leaks-time"), &[MACHINE_INDEPENDENT_VARIATIONS]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_screen!("leaks_time", o, out.path());
    let r = report(&out);
    assert_eq!(r["verdict"], "NOT_REPRODUCIBLE");
    assert_eq!(r["artifacts"][0]["status"], "DIFFERENT");
    // Unreproducible artifacts are not published.
    assert!(!out
        .path()
        .join("out/artifacts/dist/build-info.txt")
        .exists());
}

#[test]
fn leaks_path_is_not_reproducible_because_of_the_path() {
    let (o, out) = build(&fixture("leaks-path"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["verdict"], "NOT_REPRODUCIBLE");
    for (i, run) in r["runs"].as_array().unwrap().iter().enumerate() {
        let dir = run["build_dir"].as_str().unwrap();
        let host = run["host_dir"].as_str().unwrap();
        let text = fs::read_to_string(Path::new(host).join("dist/config.h")).unwrap();
        assert!(
            text.contains(dir),
            "run {} did not embed its own path",
            i + 1
        );
    }
}

#[test]
fn leaks_order_is_equivalent_after_normalization() {
    // Entry order is noise that normalization removes: the zips are not
    // bit-for-bit identical, but equivalent, and --normalize ships a file
    // that is the same whichever run it came from.
    let (o, out) = build(&fixture("leaks-order"), &["--bisect-budget", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["verdict"], "EQUIVALENT_AFTER_NORMALIZATION");
    let a = &r["artifacts"][0];
    assert_eq!(a["status"], "EQUIVALENT");
    assert_eq!(a["noise"], serde_json::json!(["zip.sort"]));
    assert_ne!(a["runs"][0]["sha256"], a["runs"][1]["sha256"]);
    assert_eq!(a["runs"][0]["normalized"], a["runs"][1]["normalized"]);
    assert!(
        stdout(&o).contains(
            "EQUIVALENT AFTER NORMALIZATION: 1 of 1 artifact differs only in noise (zip.sort)"
        ),
        "{}",
        stdout(&o)
    );
    // Not published without --normalize: its bytes did not reproduce.
    assert!(!out.path().join("out/artifacts/dist/data.zip").exists());
    // Same members, other order.
    let zip = |run: usize| {
        let dir = r["runs"][run]["host_dir"].as_str().unwrap().to_string();
        zip_names(&fs::read(Path::new(&dir).join("dist/data.zip")).unwrap())
    };
    let (n1, n2) = (zip(0), zip(1));
    assert_ne!(n1, n2);
    let (mut s1, mut s2) = (n1.clone(), n2.clone());
    s1.sort();
    s2.sort();
    assert_eq!(s1, s2);

    let (o, out) = build(
        &fixture("leaks-order"),
        &["--bisect-budget", "0", "--accept-normalized", "--normalize"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    let published = out.path().join("out/artifacts/dist/data.zip");
    let names = zip_names(&fs::read(&published).unwrap());
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "the published zip is in canonical order");
    assert_eq!(r["normalization"]["published_normalized"], true);
    assert_eq!(
        r["artifacts"][0]["published"]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    // The provenance names the published file.
    let prov = common::read_json(&out.path().join("out/provenance.json"));
    assert_eq!(
        prov["subject"][0]["digest"]["sha256"],
        r["artifacts"][0]["published"]["sha256"]
    );
}

#[test]
fn equivalent_build_says_one_thing() {
    // leaks-umask's tar differs only in modes, which normalization removes.
    // The culprit search still runs, and then it explains noise: nothing on
    // the screen may call the build "not reproducible", with or without
    // --accept-normalized. Only umask is varied: one extra run names it.
    for (extra, code) in [
        (&["--vary=-all,+umask"][..], 1),
        (&["--vary=-all,+umask", "--accept-normalized"][..], 0),
    ] {
        let (o, _out) = build(&fixture("leaks-umask"), extra);
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains("EQUIVALENT AFTER NORMALIZATION: 1 of 1 artifact differs only in noise"),
            "{text}"
        );
        assert!(
            text.contains("noise: caused by umask (1 extra run)"),
            "{text}"
        );
        assert!(
            text.contains("dist/data.tar (run 1 vs run 2; noise only, equal after normalization):"),
            "{text}"
        );
        assert!(!text.to_lowercase().contains("not reproducible"), "{text}");
    }
}

#[test]
fn shared_mode_change_does_not_hide_the_content_change() {
    // 40 files whose modes follow the umask, and one whose content is the
    // umask: under umask 002 every mode differs the same way. The terminal
    // lists the content change first and the mode change once, with its
    // count, instead of 41 lines that push the content off the summary.
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[
            (
                "build.sh",
                "set -eu\n\
                 mkdir -p dist staging\n\
                 for i in $(seq 10 49); do echo same > staging/m$i.txt; done\n\
                 umask > staging/umask.txt\n\
                 tar --sort=name --mtime=\"@$SOURCE_DATE_EPOCH\" --owner=0 --group=0 \
                 --numeric-owner --format=gnu -cf dist/data.tar -C staging .\n",
            ),
            (
                "repro.toml",
                "[build]\ncommand = [\"sh\", \"build.sh\"]\nartifacts = [\"dist/*\"]\n",
            ),
        ],
    );
    let (o, out) = build(src.path(), &["--vary=-all,+umask", "--bisect-budget", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let summary: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("dist/data.tar (run 1 vs run 2"))
        .skip(1)
        .collect();
    assert_eq!(summary[0], "  ./umask.txt (content)", "{text}");
    assert_eq!(
        summary[1], "  41 members: mode 0o0644 → 0o0664 (metadata; likely cause: umask)",
        "{text}"
    );
    assert_eq!(summary[2], "  ./ (metadata; likely cause: umask)", "{text}");
    assert!(summary[3].starts_with("  report: "), "{text}");
    let html = fs::read_to_string(out.path().join("out/diff/dist/data.tar.html")).unwrap();
    assert!(html.contains("41 members: mode: 0o0644 → 0o0664"), "{html}");
    // The page opens with what the build knows: verdict, culprits, how the
    // artifacts fared, this artifact, the two runs.
    let rows = [
        "<tr><th>verdict</th><td>NOT REPRODUCIBLE: 1 of 1 artifact differs between 2 runs</td></tr>",
        "<tr><th>culprits</th><td>not reproducible: narrowed to one of: umask",
        "<tr><th>artifacts</th><td>1 in all: 0 same, 0 equivalent after normalization, 1 different</td></tr>",
        "<tr><th>artifact</th><td>dist/data.tar: DIFFERENT</td></tr>",
        "<tr><th>runs</th><td>run 1 (/build/src; control) vs run 2 (/build/src; varied: umask)</td></tr>",
        "<tr><th>content differences</th><td>1 entry</td></tr>",
        "<tr><th>metadata differences</th><td>42 (41 in 1 shared group, shown once after the content)</td></tr>",
    ];
    let at: Vec<usize> = rows
        .iter()
        .map(|r| {
            html.find(r)
                .unwrap_or_else(|| panic!("{r} missing: {html}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{html}");
}

#[test]
fn environment_is_scrubbed_and_epoch_pinned() {
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[(
            "build.sh",
            "set -eu\nmkdir -p dist\n\
             env | grep -v '^HOME=' | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_=' | sort > dist/env.txt\n\
             umask > dist/umask.txt\n\
             ls -A \"$HOME\" > home-listing.txt\n\
             echo \"$HOME\" > home-path.txt\n",
        )],
    );
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(out.path().join("out"))
        .args(["--source-date-epoch", "1234567890"])
        .args([
            "--artifacts",
            "dist/*",
            "--env",
            "EXTRA=yes",
            "--vary=-all,+home",
            "--keep-runs",
            "all",
        ])
        .env("AWS_SECRET_ACCESS_KEY", "hunter2-do-not-leak")
        .env("LANG", "de_DE.ISO-8859-1")
        .env("TZ", "America/New_York")
        .args(["--", "sh", "build.sh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run1 = out.path().join("out/runs/1/src");
    let run2 = out.path().join("out/runs/2/src");
    let env = fs::read_to_string(run1.join("dist/env.txt")).unwrap();
    let path = std::env::var("PATH").unwrap();
    assert_eq!(
        env,
        format!(
            "EXTRA=yes\nLANG=C.UTF-8\nLC_ALL=C.UTF-8\nPATH={path}\nSOURCE_DATE_EPOCH=1234567890\nTZ=UTC\n"
        )
    );
    assert!(!env.contains("hunter2"));
    assert_eq!(
        fs::read_to_string(run1.join("dist/umask.txt")).unwrap(),
        "0022\n"
    );
    // HOME is fresh and empty in every run, and differs between runs.
    let homes: Vec<String> = [&run1, &run2]
        .iter()
        .map(|d| fs::read_to_string(d.join("home-path.txt")).unwrap())
        .collect();
    assert_ne!(homes[0], homes[1]);
    for d in [&run1, &run2] {
        assert_eq!(fs::read_to_string(d.join("home-listing.txt")).unwrap(), "");
    }
    let r = report(&out);
    assert_eq!(r["source_date_epoch"]["value"], 1234567890);
    assert_eq!(r["source_date_epoch"]["origin"], "flag");
    assert_eq!(r["environment"]["EXTRA"], "yes");
    assert!(r["environment"].get("AWS_SECRET_ACCESS_KEY").is_none());
    assert_eq!(r["umask"], "0022");
}

#[test]
fn epoch_from_repro_toml_then_git_then_mtime() {
    // repro.toml
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[(
            "repro.toml",
            "[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p dist; echo $SOURCE_DATE_EPOCH > dist/e\"]\n\
             artifacts = [\"dist/e\"]\nsource_date_epoch = 42\n",
        )],
    );
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(out.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report(&out)["source_date_epoch"]["origin"], "repro.toml");
    assert!(stderr(&o).contains("SOURCE_DATE_EPOCH=42 (repro.toml)"));
    let e = fs::read_to_string(out.path().join("out/artifacts/dist/e")).unwrap();
    assert_eq!(e, "42\n");

    // newest mtime (not a git checkout)
    let src = tempfile::tempdir().unwrap();
    write_project(src.path(), &[("a.txt", "a")]);
    let f = fs::File::options()
        .write(true)
        .open(src.path().join("a.txt"))
        .unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000))
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(out.path().join("out"))
        .args([
            "--artifacts",
            "e",
            "--",
            "sh",
            "-c",
            "echo $SOURCE_DATE_EPOCH > e",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["source_date_epoch"]["value"], 1_500_000_000);
    assert_eq!(r["source_date_epoch"]["origin"], "newest-mtime");
    assert_eq!(r["source_date_epoch"]["detail"], "a.txt");

    // git HEAD
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .arg("-C")
            .arg(src.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
            .env("GIT_AUTHOR_DATE", "@1600000000 +0000")
            .status()
            .unwrap();
        assert!(st.success());
    };
    git(&["init", "-q"]);
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "x"]);
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(out.path().join("out"))
        .args([
            "--artifacts",
            "e",
            "--",
            "sh",
            "-c",
            "echo $SOURCE_DATE_EPOCH > e",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["source_date_epoch"]["value"], 1_600_000_000);
    assert_eq!(r["source_date_epoch"]["origin"], "git-head");
    assert_eq!(r["source"]["git_commit"].as_str().unwrap().len(), 40);
}

#[test]
fn artifact_missing_in_one_run_is_a_mismatch() {
    let src = tempfile::tempdir().unwrap();
    let (o, out) = build(
        src.path(),
        &[
            "--artifacts",
            "dist/*",
            MACHINE_INDEPENDENT_VARIATIONS,
            "--",
            "sh",
            "-c",
            "mkdir -p dist; echo same > dist/a; case $PWD in */build-b/*) echo x > dist/only-in-2;; esac",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_screen!("missing_in_one_run", o, out.path());
    let r = report(&out);
    assert_eq!(r["artifacts"][1]["path"], "dist/only-in-2");
    assert_eq!(r["artifacts"][1]["runs"][0], Value::Null);
    // dist/a reproduced and is published even though the build as a whole did not.
    assert!(out.path().join("out/artifacts/dist/a").is_file());
}

#[test]
fn json_flag_prints_the_report() {
    let (o, out) = build(&fixture("hello-tarball"), &["--json", "--runs", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed, report(&out));
    assert_eq!(printed["schema"], "repro-report/v1");
    assert_eq!(printed["runs"].as_array().unwrap().len(), 3);
    assert_eq!(printed["artifacts"][0]["runs"].as_array().unwrap().len(), 3);
}

#[test]
fn existing_out_needs_force() {
    let (o, out) = build(&fixture("hello-tarball"), &[]);
    assert_eq!(o.status.code(), Some(0));
    let again = |force: bool| {
        let mut c = repro();
        c.arg("build")
            .arg(fixture("hello-tarball"))
            .arg("--out")
            .arg(out.path().join("out"))
            .args(["--source-date-epoch", EPOCH]);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let o = again(false);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already exists; pass --force"),
        "{}",
        stderr(&o)
    );
    let o = again(true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn failing_build_shows_the_last_20_lines_and_exits_2() {
    let src = tempfile::tempdir().unwrap();
    let (o, out) = build(
        src.path(),
        &[
            "--artifacts",
            "x",
            "--",
            "sh",
            "-c",
            "for i in $(seq 1 30); do echo log line $i; done; exit 3",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_screen!("failing_build", o, out.path());
    let err = stderr(&o);
    assert!(err.contains("log line 11\n") && err.contains("log line 30"));
    assert!(!err.contains("log line 10\n"));
    let r = report(&out);
    assert_eq!(r["verdict"], "ERROR");
    assert_eq!(r["runs"][0]["exit_code"], 3);
    assert!(out.path().join("out/logs/run-1.log").is_file());
}

#[test]
fn timeout_kills_the_build() {
    let src = tempfile::tempdir().unwrap();
    let (o, _out) = build(
        src.path(),
        &["--artifacts", "x", "--timeout", "0.5", "--", "sleep", "30"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("timed out after 0.5s"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let cases: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
        (
            "missing_dir",
            vec![
                tmp.path().join("nope").into(),
                "--artifacts".into(),
                "x".into(),
            ],
        ),
        ("missing_command", vec![empty.clone().into()]),
        (
            "bad_glob",
            vec![
                empty.clone().into(),
                "--artifacts".into(),
                "dist/[".into(),
                "--".into(),
                "true".into(),
            ],
        ),
        (
            "no_artifacts_matched",
            vec![
                empty.clone().into(),
                "--artifacts".into(),
                "dist/*".into(),
                "--".into(),
                "true".into(),
            ],
        ),
        (
            "command_not_found",
            vec![
                empty.clone().into(),
                "--artifacts".into(),
                "x".into(),
                "--".into(),
                "no-such-build-tool".into(),
            ],
        ),
        (
            "one_run",
            vec![
                empty.clone().into(),
                "--runs".into(),
                "1".into(),
                "--artifacts".into(),
                "x".into(),
                "--".into(),
                "true".into(),
            ],
        ),
        (
            "reserved_env",
            vec![
                empty.clone().into(),
                "--env".into(),
                "SOURCE_DATE_EPOCH=1".into(),
                "--artifacts".into(),
                "x".into(),
                "--".into(),
                "true".into(),
            ],
        ),
    ];
    for (name, args) in cases {
        let o = repro()
            .arg("build")
            .arg("--out")
            .arg(tmp.path().join(format!("out-{name}")))
            .args(["--source-date-epoch", EPOCH])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert_screen!(name, o, tmp.path());
    }
}

#[test]
fn non_utf8_source_path_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join(std::ffi::OsStr::from_bytes(b"src-\xff"));
    fs::create_dir(&bad).unwrap();
    let o = repro()
        .arg("build")
        .arg(&bad)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .args(["--artifacts", "x", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid UTF-8"), "{}", stderr(&o));
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn bad_repro_toml_names_the_file() {
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[("repro.toml", "[build]\ncomand = [\"make\"]\n")],
    );
    let (o, _out) = build(src.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("repro.toml") && err.contains("comand"),
        "{err}"
    );
}

/// By default only the trees of runs that differ (and the control's) stay;
/// `none` removes them all, `all` keeps them; the report says which.
#[test]
fn run_trees_are_kept_as_asked() {
    let kept = |r: &Value| -> Vec<bool> {
        r["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["kept"].as_bool().unwrap())
            .collect()
    };
    let run = |fixture_name: &str, keep: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        let o = repro()
            .arg("build")
            .arg(fixture(fixture_name))
            .arg("--out")
            .arg(out.path().join("out"))
            .args([
                "--source-date-epoch",
                EPOCH,
                "--runs",
                "3",
                "--bisect-budget",
                "1",
            ])
            .args(keep)
            .output()
            .unwrap();
        (o, out)
    };
    // Everything reproduced: nothing to inspect, nothing kept.
    let (o, out) = run("hello-tarball", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["keep_runs"], "failed");
    assert_eq!(kept(&r), [false, false, false]);
    assert!(!out.path().join("out/runs/1").exists());
    assert!(!out.path().join("out/bisect").exists());
    assert!(out
        .path()
        .join("out/artifacts/dist/hello-0.1.tar.gz")
        .is_file());
    // A leak: the control and the differing runs stay, the culprit
    // search's trees go.
    let (o, out) = run("leaks-time", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(kept(&r), [true, true, true]);
    assert!(out
        .path()
        .join("out/runs/3/src/dist/build-info.txt")
        .is_file());
    assert!(!out.path().join("out/bisect").exists());
    let (o, out) = run("leaks-time", &["--keep-runs", "none"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(kept(&report(&out)), [false, false, false]);
    assert!(!out
        .path()
        .join("out/runs")
        .read_dir()
        .unwrap()
        .any(|_| true));
    // The diff reports were written before the trees went.
    assert!(out
        .path()
        .join("out/diff/dist/build-info.txt.txt")
        .is_file());
    let (o, out) = run("hello-tarball", &["--keep-runs", "all"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(kept(&report(&out)), [true, true, true]);
}

/// SOURCE_DATE_EPOCH does not drift: neither a newer repro.toml nor a
/// freshly fetched wheelhouse moves it, and an unpacked sdist is dated by
/// its PKG-INFO.
#[test]
fn source_date_epoch_ignores_repro_files_and_fetched_dependencies() {
    let set_mtime = |p: &Path, secs: u64| {
        fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    };
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[
            ("main.c", "int main(void) { return 0; }\n"),
            (
                "repro.toml",
                "[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p dist; cp main.c dist/\"]\n\
                 artifacts = [\"dist/*\"]\n\
                 [fetch]\ncommand = [\"sh\", \"-c\", \"mkdir -p deps; echo w > deps/w.whl\"]\n\
                 outputs = [\"deps\"]\n",
            ),
        ],
    );
    set_mtime(&src.path().join("main.c"), 1_500_000_000);
    // A wheelhouse fetched earlier, left in the tree: newer than the source.
    fs::create_dir(src.path().join("deps")).unwrap();
    fs::write(src.path().join("deps/old.whl"), "x").unwrap();
    let run = || {
        let out = tempfile::tempdir().unwrap();
        let o = repro()
            .arg("build")
            .arg(src.path())
            .arg("--out")
            .arg(out.path().join("out"))
            .args(["--vary=-all"])
            .output()
            .unwrap();
        (o, out)
    };
    let (o, out) = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["source_date_epoch"]["value"], 1_500_000_000);
    assert_eq!(r["source_date_epoch"]["origin"], "newest-mtime");
    assert_eq!(r["source_date_epoch"]["detail"], "main.c");
    assert!(stderr(&o)
        .contains("SOURCE_DATE_EPOCH=1500000000 (newest mtime in the source tree: main.c)"));

    // An unpacked sdist is dated by its PKG-INFO, whatever else is newer.
    fs::write(src.path().join("pyproject.toml"), "").unwrap();
    fs::write(src.path().join("PKG-INFO"), "Metadata-Version: 2.1\n").unwrap();
    set_mtime(&src.path().join("PKG-INFO"), 1_400_000_000);
    let (o, out) = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["source_date_epoch"]["value"], 1_400_000_000);
    assert_eq!(r["source_date_epoch"]["origin"], "pkg-info");
}

/// Host pids of live (not zombie) `sleep MARKER` processes.
fn processes_with(marker: &str) -> Vec<u32> {
    let wanted = format!("sleep\0{marker}\0");
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // A zombie has an empty cmdline: it is gone, only not yet reaped.
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline == wanted.as_bytes() {
            pids.push(pid);
        }
    }
    pids
}

/// Every path under `dir` whose name looks like a temporary file.
fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".repro-tmp") || name.starts_with(".tmp") {
                found.push(entry.path().display().to_string());
            }
            if entry.file_type().unwrap().is_dir() {
                todo.push(entry.path());
            }
        }
    }
    found
}

#[test]
fn a_signal_stops_the_build_cleans_up_and_says_so() {
    // SIGTERM to a sandboxed build, SIGINT to one without a sandbox: both
    // ways of killing the build's process tree.
    for (signal, code, sandbox, marker) in [
        ("TERM", 143, "namespaces", "4242.25"),
        ("INT", 130, "none", "4242.75"),
    ] {
        let src = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        // A background sleep and a foreground one, so the check below
        // covers an orphan as well as the build's direct child.
        let script = format!("echo started; sleep {marker} & sleep {marker}");
        let mut child = repro()
            .arg("build")
            .arg(src.path())
            .arg("--out")
            .arg(&out)
            .args(["--source-date-epoch", EPOCH, "--sandbox", sandbox])
            .args(["--artifacts", "x", "--", "sh", "-c", &script])
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(tmp.path().join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let log = out.join("logs/run-1.log");
        let started = std::time::Instant::now();
        while processes_with(marker).len() < 2 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{signal}: the build never started; log: {:?}",
                fs::read_to_string(&log)
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let pid = child.id().to_string();
        let kill = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(kill.success());
        let signalled = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if signalled.elapsed() > std::time::Duration::from_secs(5) {
                child.kill().unwrap();
                panic!("{signal}: repro did not stop within 5 s of the signal");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let err = fs::read_to_string(tmp.path().join("stderr")).unwrap();
        eprintln!("{signal} after {:?}:\n{err}", signalled.elapsed());
        assert_eq!(status.code(), Some(code), "{signal}: {err}");
        assert!(
            err.contains(&format!("interrupted by SIG{signal}")),
            "{signal}: {err}"
        );
        let r = read_json(&out.join("report.json"));
        assert_eq!(r["verdict"], "ERROR", "{signal}");
        assert_eq!(
            r["error"],
            format!("interrupted by SIG{signal}").as_str(),
            "{signal}"
        );
        assert_eq!(temp_files(&out), Vec::<String>::new(), "{signal}");
        assert!(!out.join("artifacts").exists(), "{signal}");
        // Killed with SIGKILL: gone at once, give the kernel a moment to
        // tear down a pid namespace.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while !processes_with(marker).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(processes_with(marker), Vec::<u32>::new(), "{signal}");
    }
}

/// Sends SIG`signal` to `child` once `ready` holds, and waits (at most 5 s)
/// for it to end; returns its exit code and what it said on stderr.
fn signal_when(
    child: &mut std::process::Child,
    signal: &str,
    stderr_file: &Path,
    ready: impl Fn() -> bool,
) -> (Option<i32>, String) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{signal}: the step never started: {:?}",
            fs::read_to_string(stderr_file)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let signalled = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > std::time::Duration::from_secs(5) {
            child.kill().unwrap();
            panic!("{signal}: repro did not stop within 5 s of the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (status.code(), fs::read_to_string(stderr_file).unwrap())
}

/// What an interrupted build leaves in `out`: its marker, its logs (if it
/// got that far) and report.json (ERROR, interrupted by SIG`signal`); no run tree, no fetch
/// or probe scratch, no temporary file.
fn assert_interrupted_and_clean(out: &Path, signal: &str) {
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["verdict"], "ERROR");
    assert_eq!(r["error"], format!("interrupted by SIG{signal}").as_str());
    let mut left: Vec<String> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // Made by the first step that logs (the fetch step, a run).
        .filter(|name| name != "logs")
        .collect();
    left.sort();
    assert_eq!(left, [".repro-out", "report.json"]);
    assert_eq!(temp_files(out), Vec::<String>::new());
}

/// SIGTERM during the fetch step (before any run) stops it promptly,
/// removes its tree and writes the ERROR report, as during a run.
#[test]
fn a_signal_during_the_fetch_step_stops_cleans_up_and_says_so() {
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[(
            "repro.toml",
            "[build]\ncommand = [\"true\"]\nartifacts = [\"x\"]\n\
             [fetch]\ncommand = [\"sh\", \"-c\", \"echo fetching; mkdir deps; sleep 4242.5\"]\n\
             outputs = [\"deps\"]\n",
        )],
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let stderr_file = tmp.path().join("stderr");
    let mut child = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(&out)
        .args(["--source-date-epoch", EPOCH])
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&stderr_file).unwrap())
        .spawn()
        .unwrap();
    let log = out.join("logs/fetch.log");
    let (code, err) = signal_when(&mut child, "TERM", &stderr_file, || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("fetching"))
            && !processes_with("4242.5").is_empty()
    });
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("fetch: interrupted by SIGTERM"), "{err}");
    assert!(err.contains("cleaned up, report written to"), "{err}");
    assert_interrupted_and_clean(&out, "TERM");
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["runs"], serde_json::json!([]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while !processes_with("4242.5").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(processes_with("4242.5"), Vec::<u32>::new());
}

/// SIGINT while the toolchain is surveyed (a `python3` that hangs) stops
/// the survey within a tick, not after its 10 s limit, and ends like an
/// interrupted run.
#[test]
fn a_signal_during_the_toolchain_survey_stops_it_promptly() {
    let src = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let started = bin.path().join("started");
    let python = bin.path().join("python3");
    fs::write(
        &python,
        format!(
            "#!/bin/sh\necho > {}\nexec sleep 4242.6\n",
            started.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let stderr_file = tmp.path().join("stderr");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let mut child = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(&out)
        .args(["--source-date-epoch", EPOCH, "--sandbox", "none"])
        .args(["--artifacts", "x", "--", "true"])
        .env("PATH", &path)
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&stderr_file).unwrap())
        .spawn()
        .unwrap();
    let (code, err) = signal_when(&mut child, "INT", &stderr_file, || started.exists());
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    assert_interrupted_and_clean(&out, "INT");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while !processes_with("4242.6").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(processes_with("4242.6"), Vec::<u32>::new());
}

/// `repro build SRC` with `--out` on a tmpfs of `size` in a private mount
/// namespace (root only); returns what it printed and a copy of the output
/// dir taken before the tmpfs goes away.
fn build_on_tmpfs(src: &Path, size: &str, tmp: &Path) -> (Output, std::path::PathBuf) {
    let mnt = tmp.join("mnt");
    let copy = tmp.join("copy");
    fs::create_dir_all(&mnt).unwrap();
    let script = format!(
        "mount -t tmpfs -o size={size} tmpfs {mnt} || exit 99
         {repro} build {src} --out {mnt}/out --source-date-epoch {EPOCH} \
             --artifacts 'dist/*' -- sh build.sh
         code=$?
         cp -a {mnt}/out {copy}
         exit $code",
        mnt = mnt.display(),
        copy = copy.display(),
        repro = env!("CARGO_BIN_EXE_repro"),
        src = src.display(),
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    (o, copy)
}

#[test]
#[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
fn a_full_disk_is_named_and_the_report_still_written() {
    if !common::is_root() {
        common::skip("mounting a small tmpfs as --out needs root");
        return;
    }
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[(
            "build.sh",
            "echo hello from the build\nmkdir -p dist\n\
             head -c 300000 /dev/zero > dist/big.bin\necho done\n",
        )],
    );
    // 200 KiB: a run cannot write its 300 KB artifact, and its log fills
    // up. 700 KiB: both runs fit, publishing a third copy does not.
    for (size, what) in [("200k", "run"), ("700k", "publish")] {
        let tmp = tempfile::tempdir().unwrap();
        let (o, out) = build_on_tmpfs(src.path(), size, tmp.path());
        let err = stderr(&o);
        assert_ne!(o.status.code(), Some(99), "{what}: no tmpfs: {err}");
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        // One failure per line, the build's own in its own words.
        assert!(
            err.contains("no space left on device while writing"),
            "{what}: {err}"
        );
        assert!(!err.contains("could not be written"), "{what}: {err}");
        let r = read_json(&out.join("report.json"));
        assert_eq!(r["verdict"], "ERROR", "{what}");
        let error = r["error"].as_str().unwrap();
        assert!(
            error.contains("no space left on device while writing"),
            "{what}: {error}"
        );
        // What log there is stays.
        assert!(
            fs::read_to_string(out.join("logs/run-1.log"))
                .unwrap()
                .contains("hello from the build"),
            "{what}"
        );
        assert_eq!(temp_files(&out), Vec::<String>::new(), "{what}");
        assert!(!out.join("artifacts").exists(), "{what}");
        if what == "publish" {
            assert!(error.starts_with("publishing dist/big.bin: "), "{error}");
        }
    }
}

#[test]
#[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
fn unreadable_dirs_left_by_the_build_are_reported_and_removed() {
    if !common::is_root() {
        common::skip("running repro as another, unprivileged user needs root");
        return;
    }
    let src = tempfile::tempdir().unwrap();
    write_project(
        src.path(),
        &[(
            "build.sh",
            "mkdir -p dist locked/inner\necho a > dist/a.txt\necho b > dist/b.txt\n\
             echo secret > locked/inner/f\necho x > locked/x\n\
             chmod 000 locked/inner locked dist/b.txt\n",
        )],
    );
    let mut perms = fs::metadata(src.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(src.path(), perms).unwrap();
    for sandbox in ["namespaces", "none"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut perms = fs::metadata(tmp.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
        fs::set_permissions(tmp.path(), perms).unwrap();
        let out = tmp.path().join("out");
        let run = |extra: &[&str]| {
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(env!("CARGO_BIN_EXE_repro"))
                .arg("build")
                .arg(src.path())
                .arg("--out")
                .arg(&out)
                .args(["--source-date-epoch", EPOCH, "--sandbox", sandbox])
                .args(["--artifacts", "dist/*", "--artifacts", "locked/**"])
                .args(extra)
                .args(["--", "sh", "build.sh"])
                .output()
                .unwrap()
        };
        // Kept run trees first, so the second build's --force has to
        // remove unreadable directories too.
        let o = run(&["--keep-runs", "all"]);
        assert_eq!(o.status.code(), Some(0), "{sandbox}: {}", stderr(&o));
        let o = run(&["--force"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{sandbox}: {err}");
        assert!(err.contains("cannot read locked"), "{sandbox}: {err}");
        let r = read_json(&out.join("report.json"));
        assert_eq!(r["verdict"], "REPRODUCIBLE", "{sandbox}");
        let unreadable: Vec<(u64, &str)> = r["unreadable"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["run"].as_u64().unwrap(), u["path"].as_str().unwrap()))
            .collect();
        assert_eq!(
            unreadable,
            [
                (1, "locked"),
                (1, "dist/b.txt"),
                (2, "locked"),
                (2, "dist/b.txt")
            ],
            "{sandbox}"
        );
        let artifacts: Vec<&str> = r["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["path"].as_str().unwrap())
            .collect();
        assert_eq!(artifacts, ["dist/a.txt"], "{sandbox}");
        // The run trees are repro's to remove, unreadable parts and all.
        let left: Vec<_> = fs::read_dir(out.join("runs"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{sandbox}: {left:?}");
        assert!(!out.join("work").exists(), "{sandbox}");
    }
}
