//! End-to-end tests of provenance: `repro keygen`, and `repro build`
//! writing (and with --sign, signing) SLSA provenance.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_repro"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/projects")
        .join(name)
        .canonicalize()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn keygen(prefix: &Path, algorithm: &str) -> Output {
    repro()
        .args(["keygen", "--algorithm", algorithm, "--out"])
        .arg(prefix)
        .output()
        .unwrap()
}

fn build(fixture_name: &str, out: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    repro()
        .arg("build")
        .arg(fixture(fixture_name))
        .arg("--out")
        .arg(out)
        .args(["--source-date-epoch", "1700000000", "--bisect-budget", "0"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn keygen_writes_a_private_key_0600_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    for algorithm in ["ed25519", "ecdsa-p256"] {
        let prefix = dir.path().join(algorithm);
        let o = keygen(&prefix, algorithm);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let key = prefix.with_extension("key");
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(fs::read_to_string(prefix.with_extension("pub"))
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----"));
        let before = fs::read(&key).unwrap();
        let o = keygen(&prefix, algorithm);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(key.to_str().unwrap()), "{}", stderr(&o));
        assert_eq!(fs::read(&key).unwrap(), before);
    }
    let o = keygen(&dir.path().join("x"), "rsa");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn signed_provenance_of_a_reproducible_build_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("release");
    assert_eq!(keygen(&prefix, "ed25519").status.code(), Some(0));
    let out = dir.path().join("out");
    let key = prefix.with_extension("key");
    let o = build("hello-tarball", &out, &["--sign".as_ref(), key.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let report: Value =
        serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    let statement: Value =
        serde_json::from_slice(&fs::read(out.join("provenance.json")).unwrap()).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(statement["subject"][0]["name"], "dist/hello-0.1.tar.gz");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        report["artifacts"][0]["runs"][0]["sha256"]
    );
    let predicate = &statement["predicate"];
    assert_eq!(
        predicate["buildDefinition"]["externalParameters"]["source"]["digest"]["repro-dirhash-v1"],
        report["source"]["digest"]
    );
    let byproducts = predicate["runDetails"]["byproducts"].as_array().unwrap();
    let record = byproducts
        .iter()
        .find(|b| b["name"] == "reproducibility")
        .unwrap();
    assert_eq!(record["annotations"]["verdict"], "REPRODUCIBLE");
    assert_eq!(record["annotations"]["runs"], 2);
    assert!(byproducts.iter().any(|b| b["name"] == "logs/run-1.log"));

    // The envelope verifies with the public key and carries the same statement.
    let envelopes = provenance::read_jsonl(&out.join("provenance.intoto.jsonl")).unwrap();
    assert_eq!(envelopes.len(), 1);
    let public = provenance::keys::load_verifying_key(&prefix.with_extension("pub")).unwrap();
    let verified = provenance::verify_envelope(&envelopes[0], &[public]).unwrap();
    let signed: Value = serde_json::to_value(&verified.statement).unwrap();
    assert_eq!(signed, statement);
}

#[test]
fn a_build_that_did_not_reproduce_is_attested_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build("leaks-time", &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let statement: Value =
        serde_json::from_slice(&fs::read(out.join("provenance.json")).unwrap()).unwrap();
    let record = statement["predicate"]["runDetails"]["byproducts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "reproducibility")
        .unwrap()
        .clone();
    assert_eq!(record["annotations"]["verdict"], "NOT_REPRODUCIBLE");
    assert!(!out.join("provenance.intoto.jsonl").exists());
}

#[test]
fn a_bad_signing_key_fails_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.key");
    fs::write(&bogus, "not a key").unwrap();
    let out = dir.path().join("out");
    let o = build(
        "hello-tarball",
        &out,
        &["--sign".as_ref(), bogus.as_os_str()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bogus.key"), "{}", stderr(&o));
    assert!(!out.exists());
}
