//! The GitHub Action's shell steps run locally, as action.yml runs them,
//! against a fixture: install (with `repro-binary`), build (SBOM and
//! signatures from a key in the environment), policy. The YAML itself is
//! checked against GitHub's schema by CI (check-jsonschema); here only
//! that every script it runs exists, without a YAML parser.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{fixture, keygen, repro, stderr, stdout};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(name: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(root().join("scripts/action").join(name));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// `KEY=VALUE` lines of a GITHUB_OUTPUT / GITHUB_PATH file.
fn outputs(path: &Path) -> Vec<(String, String)> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn every_script_action_yml_runs_exists() {
    let yml = fs::read_to_string(root().join("action.yml")).unwrap();
    let runs: Vec<&str> = yml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: "))
        .collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    for r in runs {
        let rel = r
            .split('"')
            .find_map(|part| part.strip_prefix("$GITHUB_ACTION_PATH/"))
            .unwrap_or_else(|| panic!("{r}: not a script of the action"));
        assert!(root().join(rel).is_file(), "{rel} is missing");
    }
}

#[test]
fn the_action_steps_build_sign_and_apply_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (key_file, public) = keygen(t);
    let key = fs::read_to_string(key_file).unwrap();
    let (gh_out, gh_path) = (t.join("github_output"), t.join("github_path"));
    let runner = t.join("runner");
    fs::create_dir(&runner).unwrap();
    let env = |extra: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        let mut e = vec![
            ("GITHUB_OUTPUT", gh_out.display().to_string()),
            ("GITHUB_PATH", gh_path.display().to_string()),
            ("RUNNER_TEMP", runner.display().to_string()),
        ];
        e.extend_from_slice(extra);
        e
    };
    let run = |name: &str, e: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        script(name, &pairs)
    };

    let o = run(
        "install.sh",
        env(&[("INPUT_REPRO_BINARY", env!("CARGO_BIN_EXE_repro").to_owned())]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bin_dir = fs::read_to_string(&gh_path).unwrap().trim().to_owned();
    let installed = Path::new(&bin_dir).join("repro");
    assert!(installed.exists());

    let out = t.join("repro-out");
    let o = run(
        "build.sh",
        env(&[
            ("REPRO", installed.display().to_string()),
            ("INPUT_SOURCE", fixture("hello-wheel").display().to_string()),
            ("INPUT_OUT", out.display().to_string()),
            (
                "INPUT_ARGS",
                "--source-date-epoch 1700000000 --vary=-all,+build_path".into(),
            ),
            ("SIGNING_KEY", key),
        ]),
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let outs = outputs(&gh_out);
    assert!(
        outs.contains(&("verdict".into(), "REPRODUCIBLE".into())),
        "{outs:?}"
    );
    assert!(outs.contains(&("exit-code".into(), "0".into())), "{outs:?}");
    for f in [
        "report.json",
        "provenance.intoto.jsonl",
        "sbom.cdx.json",
        "sbom.intoto.jsonl",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The key never stays on the runner.
    assert!(!stderr(&o).contains("PRIVATE KEY") && !stdout(&o).contains("PRIVATE KEY"));

    // What upload-artifact would upload verifies with the public key.
    let o = repro()
        .args(["verify", "--key"])
        .arg(&public)
        .arg("--attestation")
        .arg(out.join("provenance.intoto.jsonl"))
        .arg("--attestation")
        .arg(out.join("sbom.intoto.jsonl"))
        .arg(out.join("artifacts/dist/hello_repro-0.1.0-py3-none-any.whl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    for (verdict, policy, code) in [
        ("REPRODUCIBLE", "reproducible", 0),
        ("EQUIVALENT_AFTER_NORMALIZATION", "reproducible", 1),
        ("EQUIVALENT_AFTER_NORMALIZATION", "normalized", 0),
        ("NOT_REPRODUCIBLE", "normalized", 1),
        ("NOT_REPRODUCIBLE", "any", 0),
        ("ERROR", "any", 1),
        ("REPRODUCIBLE", "lenient", 2),
    ] {
        let o = run(
            "policy.sh",
            env(&[("VERDICT", verdict.into()), ("INPUT_POLICY", policy.into())]),
        );
        assert_eq!(
            o.status.code(),
            Some(code),
            "{verdict} under {policy}: {}",
            stdout(&o)
        );
    }
}

#[test]
fn a_build_that_fails_gives_the_verdict_error_and_the_policy_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let src = t.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(
        src.join("repro.toml"),
        "[build]\ncommand = [\"sh\", \"-c\", \"exit 3\"]\nartifacts = [\"dist/*\"]\n",
    )
    .unwrap();
    let gh_out = t.join("github_output");
    let o = script(
        "build.sh",
        &[
            ("REPRO", env!("CARGO_BIN_EXE_repro")),
            ("INPUT_SOURCE", src.to_str().unwrap()),
            ("INPUT_OUT", t.join("out").to_str().unwrap()),
            ("INPUT_ARGS", "--source-date-epoch 1"),
            ("GITHUB_OUTPUT", gh_out.to_str().unwrap()),
        ],
    );
    // The step itself succeeds so the upload runs; the policy fails.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(outputs(&gh_out).contains(&("verdict".into(), "ERROR".into())));
    let o = script("policy.sh", &[("VERDICT", "ERROR")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("does not meet policy 'reproducible'"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_release_asset_is_what_the_install_step_downloads_and_checks() {
    if Command::new("curl").arg("--version").output().is_err() {
        common::skip("curl is not installed (install.sh downloads with it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // A release server laid out as GitHub's: <server>/<repo>/releases/download/<tag>/<asset>.
    let dl = t.join("server/o/repro/releases/download/v9.9.9");
    // Packages the test binary the way the release workflow does.
    let package = || {
        let o = Command::new("bash")
            .arg(root().join("scripts/release-asset.sh"))
            .args(["--binary", env!("CARGO_BIN_EXE_repro")])
            .arg(&dl)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    package();
    let asset = dl.join("repro-x86_64-unknown-linux-gnu.tar.gz");
    let first = fs::read(&asset).unwrap();
    // Deterministic: packaging again gives the same bytes.
    package();
    assert_eq!(fs::read(&asset).unwrap(), first);

    let install = |runner: &Path| {
        fs::create_dir_all(runner).unwrap();
        script(
            "install.sh",
            &[
                ("ACTION_REF", "v9.9.9"),
                ("ACTION_REPOSITORY", "o/repro"),
                (
                    "GITHUB_SERVER_URL",
                    &format!("file://{}", t.join("server").display()),
                ),
                ("RUNNER_TEMP", runner.to_str().unwrap()),
                ("GITHUB_PATH", runner.join("path").to_str().unwrap()),
                // Not an action checkout: falling back to cargo install fails.
                ("GITHUB_ACTION_PATH", "/nonexistent"),
            ],
        )
    };
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: the asset is for x86_64 and install.sh only downloads it there");
        return;
    }
    let o = install(&t.join("runner1"));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let installed = t.join("runner1/repro-bin/repro");
    assert_eq!(
        fs::read(&installed).unwrap(),
        fs::read(env!("CARGO_BIN_EXE_repro")).unwrap()
    );
    assert!(stdout(&o).contains("repro "), "{}", stdout(&o));

    // A tampered asset fails its checksum and nothing is installed.
    let mut bad = first.clone();
    let n = bad.len();
    bad[n - 9] ^= 1;
    fs::write(&asset, bad).unwrap();
    let o = install(&t.join("runner2"));
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("FAILED") || stdout(&o).contains("FAILED"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(!t.join("runner2/repro-bin/repro").exists());
}
