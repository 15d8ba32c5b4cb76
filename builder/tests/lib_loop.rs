//! The rebuild loop driven through the library, without the binary: the
//! way a subcommand such as `repro rebuild` uses it, with its own source
//! tree, command, variations and run count.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::Path;

use repro::report::{ArtifactStatus, Verdict};
use repro::{BuildConfig, BuildOptions, KeepRuns};

/// A source tree holding `build.sh` = `script`.
fn source(script: &str) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("build.sh"), script).unwrap();
    src
}

/// Options for building `src` into `out` without a sandbox, varying only
/// the build path (which every machine can), `runs` times.
fn options(src: &Path, out: &Path, runs: u32) -> BuildOptions {
    BuildOptions {
        source: Some(src.to_path_buf()),
        out: Some(out.to_path_buf()),
        runs: Some(runs),
        sandbox: Some("none".into()),
        source_date_epoch: Some(1_700_000_000),
        artifacts: vec!["dist/*".into()],
        vary: vec!["-all,+build_path".into()],
        keep_runs: Some(KeepRuns::All),
        command: vec!["sh".into(), "build.sh".into()],
        ..Default::default()
    }
}

#[test]
fn a_reproducible_build_through_the_library() {
    let src = source("mkdir -p dist; echo hello > dist/a.txt; printf x > dist/b.bin\n");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cfg = BuildConfig::new(options(src.path(), &out, 3)).unwrap();
    let built = repro::build(cfg).unwrap();
    let r = &built.report;
    assert_eq!(r.verdict, Verdict::Reproducible, "{:?}", r.error);
    assert_eq!(r.runs.len(), 3);
    assert_eq!(built.runs.len(), 3);
    assert_eq!(r.runs[1].variations, ["build_path"]);
    assert_eq!(r.sandbox.mode, "none");
    assert!(!r.sandbox.hermetic);
    assert_eq!(r.source_date_epoch.value, 1_700_000_000);
    let paths: Vec<&str> = r.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(paths, ["dist/a.txt", "dist/b.bin"]);
    for a in &r.artifacts {
        assert_eq!(a.status, ArtifactStatus::Same, "{}", a.path);
        assert_eq!(a.runs.len(), 3);
    }
    let a = &r.artifacts[0];
    let sha = common::sha256_hex(b"hello\n");
    assert_eq!(a.runs[0].as_ref().unwrap().sha256, sha);
    // Each run's digests, as the loop kept them, agree with the report.
    for run in &built.runs {
        assert_eq!(run.digests["dist/a.txt"].sha256, sha);
    }
    // Published, and report.json on disk is the report returned.
    assert_eq!(
        fs::read(out.join("artifacts/dist/a.txt")).unwrap(),
        b"hello\n"
    );
    let on_disk = common::read_json(&out.join("report.json"));
    assert_eq!(on_disk, serde_json::to_value(r).unwrap());
    assert_eq!(on_disk["verdict"], "REPRODUCIBLE");
    assert_eq!(built.exit_code(false), std::process::ExitCode::from(0));
}

/// The steps one by one, as a caller that drives the runs itself does:
/// a build that embeds its own path differs, and the search names the
/// build path.
#[test]
fn the_steps_one_by_one_name_the_culprit() {
    let src = source("mkdir -p dist; pwd > dist/where.txt; echo same > dist/same.txt\n");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(src.path(), &out, 2);
    opts.bisect = true;
    let cfg = BuildConfig::new(opts).unwrap();
    let mut plan = repro::plan(cfg).unwrap();
    assert_eq!(plan.applied.names(), ["build_path"]);
    assert_eq!(plan.report.run_tree.mode, "copy");
    plan.fetch().unwrap();
    let runs = vec![plan.run(1).unwrap(), plan.run(2).unwrap()];
    assert_eq!(plan.report.runs.len(), 2);
    repro::judge(&mut plan, &runs).unwrap();
    assert_eq!(plan.report.verdict, Verdict::NotReproducible);
    let status: Vec<_> = plan
        .report
        .artifacts
        .iter()
        .map(|a| (a.path.as_str(), a.status))
        .collect();
    assert_eq!(
        status,
        [
            ("dist/same.txt", ArtifactStatus::Same),
            ("dist/where.txt", ArtifactStatus::Different)
        ]
    );
    let bisect = plan.report.bisect.clone().unwrap();
    assert_eq!(bisect.culprits, [["build_path"]]);
    assert!(bisect.complete);
    let built = plan.finish(runs).unwrap();
    assert_eq!(built.exit_code(true), std::process::ExitCode::from(1));
    let on_disk = common::read_json(&out.join("report.json"));
    assert_eq!(on_disk["verdict"], "NOT_REPRODUCIBLE");
    assert_eq!(
        on_disk["bisect"]["culprits"],
        serde_json::json!([["build_path"]])
    );
    // Only the reproducible artifact is published.
    assert!(out.join("artifacts/dist/same.txt").exists());
    assert!(!out.join("artifacts/dist/where.txt").exists());
}

/// A failed run is a Failure carrying the ERROR report it wrote.
#[test]
fn a_failing_build_returns_its_error_report() {
    let src = source("echo broken >&2; exit 3\n");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cfg = BuildConfig::new(options(src.path(), &out, 2)).unwrap();
    let failure = repro::build(cfg).unwrap_err();
    assert_eq!(failure.interrupt(), None);
    let text = format!("{failure}");
    assert!(
        text.contains("run 1/2 (control): the build command exited with code 3"),
        "{text}"
    );
    assert!(text.contains("broken"), "{text}");
    let report = failure.report.unwrap();
    assert_eq!(report.verdict, Verdict::Error);
    assert_eq!(report.runs.len(), 1);
    assert_eq!(report.runs[0].exit_code, Some(3));
    let on_disk = common::read_json(&out.join("report.json"));
    assert_eq!(on_disk["verdict"], "ERROR");
    assert_eq!(on_disk["error"], report.error.as_deref().unwrap());
}

/// The same loop in the real sandbox (user namespaces); skipped where the
/// kernel forbids them, a failure under REPRO_TEST_STRICT=1.
#[test]
fn a_sandboxed_build_through_the_library() {
    if let Err(e) = sandbox::check_namespaces() {
        common::skip(&format!("the sandbox cannot run here: {e}"));
        return;
    }
    let src = source(
        "mkdir -p dist; echo \"$HOME $SOURCE_DATE_EPOCH\" > dist/env.txt; pwd > dist/pwd.txt\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(src.path(), &out, 2);
    opts.sandbox = None;
    let cfg = BuildConfig::new(opts).unwrap();
    let built = repro::build(cfg).unwrap();
    let r = &built.report;
    assert_eq!(r.sandbox.mode, "namespaces");
    assert!(r.sandbox.hermetic);
    // The sandbox shows every run the same paths, whatever is varied on
    // the host: build_path changes the path inside, so pwd.txt differs.
    assert_eq!(r.verdict, Verdict::NotReproducible, "{:?}", r.error);
    let status: Vec<_> = r
        .artifacts
        .iter()
        .map(|a| (a.path.as_str(), a.status))
        .collect();
    assert_eq!(
        status,
        [
            ("dist/env.txt", ArtifactStatus::Same),
            ("dist/pwd.txt", ArtifactStatus::Different)
        ]
    );
    assert_eq!(r.runs[0].build_dir, "/build/src");
    let env = fs::read_to_string(Path::new(&r.runs[0].host_dir).join("dist/env.txt")).unwrap();
    assert_eq!(env, format!("{} 1700000000\n", r.runs[0].home));
    assert!(r
        .bisect
        .as_ref()
        .is_some_and(|b| b.culprits == [["build_path"]]));
}

/// An artifact whose normalized digest cannot be made (a zip that reads
/// two ways) is still compared on its bytes, and report.json says why it
/// has no normalized digest.
#[test]
fn a_failed_normalized_digest_is_recorded() {
    use std::io::Write as _;
    let src = source("mkdir -p dist; cp two-faced.whl dist/\n");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("setup.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"print('hello')\n").unwrap();
    let mut bytes = w.finish().unwrap().into_inner();
    bytes[30] = b'S'; // the local header says "Setup.py"
    fs::write(src.path().join("two-faced.whl"), &bytes).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let built = repro::build(BuildConfig::new(options(src.path(), &out, 2)).unwrap()).unwrap();
    let a = &built.report.artifacts[0];
    assert_eq!(a.status, ArtifactStatus::Same);
    for run in &a.runs {
        let d = run.as_ref().unwrap();
        assert_eq!(d.normalized, None);
        let why = d.normalized_error.as_deref().unwrap_or_default();
        assert!(why.contains("Setup.py"), "{why}");
    }
    let on_disk = common::read_json(&out.join("report.json"));
    let why = on_disk["artifacts"][0]["runs"][0]["normalized_error"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("two-faced.whl") || why.contains("Setup.py"),
        "{why}"
    );
}

/// A build command that is also a shell builtin (`true`) is recorded as
/// the file the sandbox runs, found on PATH, not as the builtin's name.
#[test]
fn the_command_is_the_file_on_path_not_a_builtin() {
    let src = source("");
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(src.path(), &tmp.path().join("out"), 2);
    opts.command = vec!["true".into()];
    opts.artifacts = vec!["build.sh".into()];
    let built = repro::build(BuildConfig::new(opts).unwrap()).unwrap();
    let command = &built.report.tools[0];
    assert_eq!(command.role, "command");
    assert!(command.path.starts_with('/'), "{command:?}");
    assert!(command.path.ends_with("/true"), "{command:?}");
    assert_eq!(command.sha256.len(), 64, "{command:?}");
    assert_eq!(command.error, None);
}
