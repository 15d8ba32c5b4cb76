//! End-to-end tests of provenance: `repro keygen`, and `repro build`
//! writing (and with --sign, signing) SLSA provenance.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{fixture, read_json, repro, stderr, stdout};

use std::fs;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

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

    let report = read_json(&out.join("report.json"));
    let statement = read_json(&out.join("provenance.json"));
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
    let statement = read_json(&out.join("provenance.json"));
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

/// Builds `fixture_name` into `out`, then attests its report with `key`.
fn build_and_attest(fixture_name: &str, out: &Path, key: &Path, output: &Path) {
    let o = build(fixture_name, out, &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    attest(out, key, output);
}

/// `repro attest` of the report in `out`, signed with `key`, into `output`.
fn attest(out: &Path, key: &Path, output: &Path) {
    let o = repro()
        .arg("attest")
        .arg("--report")
        .arg(out.join("report.json"))
        .arg("--key")
        .arg(key)
        .arg("-o")
        .arg(output)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn verify(args: &[&std::ffi::OsStr]) -> Output {
    repro().arg("verify").args(args).output().unwrap()
}

fn os(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

#[test]
fn attest_then_verify_with_policy_and_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    assert_eq!(keygen(&k, "ecdsa-p256").status.code(), Some(0));
    let (key, public) = (k.with_extension("key"), k.with_extension("pub"));
    let out = dir.path().join("out");
    let att = dir.path().join("release.intoto.jsonl");
    build_and_attest("hello-tarball", &out, &key, &att);
    let artifact = out.join("artifacts/dist/hello-0.1.tar.gz");

    let o = verify(&[
        "--key".as_ref(),
        os(&public),
        "--attestation".as_ref(),
        os(&att),
        "--require-reproducible".as_ref(),
        "--builder-id".as_ref(),
        "https://repro.invalid/builders/local/v1".as_ref(),
        os(&artifact),
    ]);
    let stdout = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", stderr(&o));
    assert!(
        stdout.contains("verdict REPRODUCIBLE") && stdout.contains("2 run(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("verification passed"));

    // attest refuses to overwrite.
    let o = repro()
        .arg("attest")
        .arg("--report")
        .arg(out.join("report.json"))
        .arg("--key")
        .arg(&key)
        .arg("-o")
        .arg(&att)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));

    // -o to a symlink: refused like the file it names, and with --force
    // that file is replaced while the link stays.
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&att, &link).unwrap();
    let attest_to = |output: &Path, extra: &[&str]| {
        repro()
            .arg("attest")
            .arg("--report")
            .arg(out.join("report.json"))
            .arg("--key")
            .arg(&key)
            .arg("-o")
            .arg(output)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = attest_to(&link, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // The user had made it private: replacing it keeps it so.
    fs::set_permissions(&att, fs::Permissions::from_mode(0o600)).unwrap();
    let o = attest_to(&link, &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(read_json(&att)["payload"].is_string());
    assert_eq!(
        fs::metadata(&att).unwrap().permissions().mode() & 0o7777,
        0o600
    );

    // -o - is stdout, which then carries only the envelope.
    let o = attest_to(Path::new("-"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let env: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(env["payload"].is_string());
    assert!(stderr(&o).contains("signed"), "{}", stderr(&o));

    // -o FIFO needs no --force: nothing there can be lost.
    let fifo = dir.path().join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
    };
    let o = attest_to(&fifo, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(reader.join().unwrap().contains("\"payload\""));

    // A changed artifact is not a subject.
    let changed = dir.path().join("changed.tar.gz");
    fs::write(&changed, b"something else").unwrap();
    let o = verify(&[
        "--key".as_ref(),
        os(&public),
        "--attestation".as_ref(),
        os(&att),
        os(&changed),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not a subject"), "{}", stderr(&o));

    // A wrong builder id fails the policy.
    let o = verify(&[
        "--key".as_ref(),
        os(&public),
        "--attestation".as_ref(),
        os(&att),
        "--builder-id".as_ref(),
        "https://example.com/other".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("builder id"), "{}", stderr(&o));

    // A wrong key.
    let other = dir.path().join("other");
    assert_eq!(keygen(&other, "ed25519").status.code(), Some(0));
    let o = verify(&[
        "--key".as_ref(),
        os(&other.with_extension("pub")),
        "--attestation".as_ref(),
        os(&att),
    ]);
    assert_eq!(o.status.code(), Some(1));

    // A changed payload: swap in another statement, keep the signature.
    let mut env: Value = serde_json::from_slice(&fs::read(&att).unwrap()).unwrap();
    let payload = env["payload"].as_str().unwrap().to_string();
    let forged = payload.replacen('e', "f", 1);
    env["payload"] = Value::from(forged);
    let tampered = dir.path().join("tampered.intoto.jsonl");
    fs::write(&tampered, format!("{env}\n")).unwrap();
    let o = verify(&[
        "--key".as_ref(),
        os(&public),
        "--attestation".as_ref(),
        os(&tampered),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // Usage and I/O errors exit 2.
    let missing = dir.path().join("missing.jsonl");
    let o = verify(&[
        "--key".as_ref(),
        os(&public),
        "--attestation".as_ref(),
        os(&missing),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.jsonl"));
    let o = verify(&[
        "--key".as_ref(),
        os(&public),
        "--attestation".as_ref(),
        os(&att),
        "--threshold".as_ref(),
        "0".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_not_reproducible_attestation_is_rejected_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    assert_eq!(keygen(&k, "ed25519").status.code(), Some(0));
    let out = dir.path().join("out");
    let att = dir.path().join("a.intoto.jsonl");
    build_and_attest("leaks-time", &out, &k.with_extension("key"), &att);
    assert_eq!(
        read_json(&out.join("report.json"))["verdict"],
        "NOT_REPRODUCIBLE"
    );
    let public = k.with_extension("pub");
    let args = [
        "--key".as_ref(),
        os(&public),
        "--attestation".as_ref(),
        os(&att),
    ];
    let with = |extra: &[&str]| {
        let mut all = args.to_vec();
        all.extend(extra.iter().map(std::ffi::OsStr::new));
        verify(&all)
    };

    // The signature and statement are fine, but the statement honestly
    // says NOT_REPRODUCIBLE, and REPRODUCIBLE is the default policy.
    for extra in [
        &[][..],
        &["--require-reproducible"],
        &["--accept-normalized"],
    ] {
        let o = with(extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("verdict is NOT_REPRODUCIBLE, REPRODUCIBLE is required"),
            "{extra:?}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("verification FAILED"), "{}", stderr(&o));
        assert!(!stdout(&o).contains("verification passed"));
    }

    // Opting out of the verdict policy accepts it, and says so.
    let o = with(&["--allow-not-reproducible"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out_text = stdout(&o);
    assert!(out_text.contains("verdict NOT_REPRODUCIBLE"), "{out_text}");
    assert!(
        out_text.contains("verdict not required (--allow-not-reproducible)"),
        "{out_text}"
    );
    assert!(out_text.contains("verification passed"), "{out_text}");

    // The old opt-in and the opt-out contradict each other: a usage error.
    let o = with(&["--require-reproducible", "--allow-not-reproducible"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn an_equivalent_attestation_needs_accept_normalized() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    assert_eq!(keygen(&k, "ed25519").status.code(), Some(0));
    let out = dir.path().join("out");
    // --normalize publishes the canonical file, which is the subject.
    let o = build("leaks-order", &out, &["--normalize".as_ref()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        read_json(&out.join("report.json"))["verdict"],
        "EQUIVALENT_AFTER_NORMALIZATION"
    );
    let att = dir.path().join("a.intoto.jsonl");
    attest(&out, &k.with_extension("key"), &att);
    let public = k.with_extension("pub");
    let artifact = out.join("artifacts/dist/data.zip");
    let with = |extra: &[&str]| {
        let mut c = repro();
        c.arg("verify")
            .arg("--key")
            .arg(&public)
            .arg("--attestation")
            .arg(&att)
            .args(extra)
            .arg(&artifact);
        c.output().unwrap()
    };

    let o = with(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "verdict is EQUIVALENT_AFTER_NORMALIZATION, REPRODUCIBLE is required \
             (--accept-normalized accepts it"
        ),
        "{err}"
    );
    assert!(
        err.contains("is not a subject of any valid attestation"),
        "{err}"
    );

    let o = with(&["--accept-normalized"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out_text = stdout(&o);
    assert!(
        out_text.contains("verdict EQUIVALENT_AFTER_NORMALIZATION")
            && out_text.contains("accepted (--accept-normalized)"),
        "{out_text}"
    );
    assert!(out_text.contains("attested by 1 key(s)"), "{out_text}");
    assert!(!stderr(&o).contains("no ARTIFACT"), "{}", stderr(&o));

    let o = with(&["--allow-not-reproducible"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("verdict not required"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn without_artifacts_only_signatures_are_checked_and_that_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    assert_eq!(keygen(&k, "ed25519").status.code(), Some(0));
    let out = dir.path().join("out");
    let att = dir.path().join("a.intoto.jsonl");
    build_and_attest("hello-tarball", &out, &k.with_extension("key"), &att);
    let public = k.with_extension("pub");
    let artifact = out.join("artifacts/dist/hello-0.1.tar.gz");
    let with = |extra: &[&std::ffi::OsStr]| {
        let mut all = vec![
            "--key".as_ref(),
            os(&public),
            "--attestation".as_ref(),
            os(&att),
        ];
        all.extend_from_slice(extra);
        verify(&all)
    };

    let o = with(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "no ARTIFACT given: only the signatures and statements were checked; \
             no artifact was matched against the subjects"
        ),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("verification passed"), "{}", stdout(&o));

    let o = with(&["--require-artifacts".as_ref()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("failed: no ARTIFACT given; --require-artifacts requires at least one"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("verification FAILED"), "{}", stderr(&o));

    let o = with(&["--require-artifacts".as_ref(), os(&artifact)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("no ARTIFACT"), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("attested by 1 key(s)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_missing_or_unknown_verdict_is_rejected_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    assert_eq!(keygen(&k, "ed25519").status.code(), Some(0));
    let out = dir.path().join("out");
    assert_eq!(build("hello-tarball", &out, &[]).status.code(), Some(0));
    let key = provenance::keys::load_signing_key(&k.with_extension("key")).unwrap();
    let public = k.with_extension("pub");
    let artifact = out.join("artifacts/dist/hello-0.1.tar.gz");

    // Statements another tool could sign: repro's own, with the
    // reproducibility record removed or its verdict replaced.
    let original = read_json(&out.join("provenance.json"));
    let byproducts = |s: &mut Value| {
        s["predicate"]["runDetails"]["byproducts"]
            .as_array_mut()
            .unwrap()
            .clone()
    };
    let mut unrecorded = original.clone();
    let kept: Vec<Value> = byproducts(&mut unrecorded)
        .into_iter()
        .filter(|b| b["name"] != "reproducibility")
        .collect();
    unrecorded["predicate"]["runDetails"]["byproducts"] = Value::from(kept);
    // Both copies of the record changed alike, so only the verdict is odd.
    let mut unknown = original.clone();
    edit_record(&mut unknown, |annotations, content| {
        annotations.insert("verdict".into(), Value::from("PROBABLY_FINE"));
        content.insert("verdict".into(), Value::from("PROBABLY_FINE"));
    });

    for (name, statement, reason) in [
        (
            "unrecorded",
            unrecorded,
            "no reproducibility verdict recorded, REPRODUCIBLE is required",
        ),
        (
            "unknown",
            unknown,
            "verdict is \"PROBABLY_FINE\", REPRODUCIBLE is required",
        ),
    ] {
        let bytes = serde_json::to_vec(&statement).unwrap();
        let statement = provenance::validate_statement(&bytes).unwrap();
        let envelope = provenance::sign_statement(&statement, &[&key]).unwrap();
        let att = dir.path().join(format!("{name}.intoto.jsonl"));
        fs::write(&att, envelope.to_json_line().unwrap()).unwrap();
        let args = [
            "--key".as_ref(),
            os(&public),
            "--attestation".as_ref(),
            os(&att),
            os(&artifact),
        ];
        let o = verify(&args);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
        assert!(stderr(&o).contains(reason), "{name}: {}", stderr(&o));

        let mut allowed = args.to_vec();
        allowed.push("--allow-not-reproducible".as_ref());
        let o = verify(&allowed);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("verdict not required"),
            "{name}: {}",
            stdout(&o)
        );
    }
}

/// Rewrites the `reproducibility` record of `statement`: `edit` gets its
/// annotations and its content document; the content is then re-encoded
/// with a matching digest (so only what `edit` did is wrong).
fn edit_record(
    statement: &mut Value,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>, &mut serde_json::Map<String, Value>),
) {
    let byproducts = statement["predicate"]["runDetails"]["byproducts"]
        .as_array_mut()
        .unwrap();
    let slot = byproducts
        .iter_mut()
        .find(|b| b["name"] == "reproducibility")
        .unwrap();
    let mut record: provenance::ResourceDescriptor = serde_json::from_value(slot.clone()).unwrap();
    let mut content: serde_json::Map<String, Value> =
        serde_json::from_slice(record.content.as_deref().unwrap()).unwrap();
    edit(&mut record.annotations, &mut content);
    let bytes = serde_json::to_vec(&content).unwrap();
    record
        .digest
        .insert("sha256".into(), provenance::sha256_hex(&bytes));
    record.content = Some(bytes);
    *slot = serde_json::to_value(&record).unwrap();
}

#[test]
fn a_reproducibility_record_that_contradicts_itself_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("k");
    assert_eq!(keygen(&k, "ed25519").status.code(), Some(0));
    let out = dir.path().join("out");
    // A build that did not reproduce, whose statement a trusted signer
    // then dresses up as reproducible in one place or another.
    let o = build("leaks-time", &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let key = provenance::keys::load_signing_key(&k.with_extension("key")).unwrap();
    let public = k.with_extension("pub");
    let original = read_json(&out.join("provenance.json"));
    let record = |s: &Value| -> Value {
        s["predicate"]["runDetails"]["byproducts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "reproducibility")
            .unwrap()
            .clone()
    };
    assert_eq!(
        record(&original)["annotations"]["verdict"],
        "NOT_REPRODUCIBLE"
    );

    let mut annotation_lies = original.clone();
    edit_record(&mut annotation_lies, |a, _| {
        a.insert("verdict".into(), Value::from("REPRODUCIBLE"));
    });
    let mut content_lies = original.clone();
    edit_record(&mut content_lies, |_, c| {
        c.insert("verdict".into(), Value::from("REPRODUCIBLE"));
    });
    // The content swapped without its digest.
    let mut stale_digest = content_lies.clone();
    {
        let slot = stale_digest["predicate"]["runDetails"]["byproducts"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|b| b["name"] == "reproducibility")
            .unwrap();
        slot["digest"] = record(&original)["digest"].clone();
    }
    // A second record, consistent and reproducible, after the honest one.
    let mut twice = original.clone();
    let mut forged = original.clone();
    edit_record(&mut forged, |a, c| {
        a.insert("verdict".into(), Value::from("REPRODUCIBLE"));
        c.insert("verdict".into(), Value::from("REPRODUCIBLE"));
    });
    twice["predicate"]["runDetails"]["byproducts"]
        .as_array_mut()
        .unwrap()
        .push(record(&forged));

    for (name, statement, reason) in [
        (
            "annotation",
            annotation_lies,
            "annotations.verdict is \"REPRODUCIBLE\" but content.verdict is \"NOT_REPRODUCIBLE\"",
        ),
        (
            "content",
            content_lies,
            "annotations.verdict is \"NOT_REPRODUCIBLE\" but content.verdict is \"REPRODUCIBLE\"",
        ),
        ("digest", stale_digest, "but its digest says"),
        ("twice", twice, "2 reproducibility records in one statement"),
    ] {
        let bytes = serde_json::to_vec(&statement).unwrap();
        let statement = provenance::validate_statement(&bytes).unwrap();
        let envelope = provenance::sign_statement(&statement, &[&key]).unwrap();
        let att = dir.path().join(format!("{name}.intoto.jsonl"));
        fs::write(&att, envelope.to_json_line().unwrap()).unwrap();
        // Rejected under every policy: the record is not one claim.
        for policy in [None, Some("--allow-not-reproducible")] {
            let mut args = vec![
                "--key".as_ref(),
                os(&public),
                "--attestation".as_ref(),
                os(&att),
            ];
            args.extend(policy.map(std::ffi::OsStr::new));
            let o = verify(&args);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{name} {policy:?}: {}",
                stdout(&o)
            );
            assert!(
                stderr(&o).contains(reason),
                "{name} {policy:?}: {}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn k_of_n_independent_rebuilders() {
    let dir = tempfile::tempdir().unwrap();
    let mut pubs = Vec::new();
    let mut atts = Vec::new();
    let mut artifact = PathBuf::new();
    for (i, algorithm) in ["ed25519", "ecdsa-p256", "ed25519"].iter().enumerate() {
        let k = dir.path().join(format!("builder{i}"));
        assert_eq!(keygen(&k, algorithm).status.code(), Some(0));
        let out = dir.path().join(format!("out{i}"));
        let att = dir.path().join(format!("b{i}.intoto.jsonl"));
        build_and_attest("hello-wheel", &out, &k.with_extension("key"), &att);
        artifact = out.join("artifacts/dist/hello_repro-0.1.0-py3-none-any.whl");
        pubs.push(k.with_extension("pub"));
        atts.push(att);
    }
    let run = |keys: &[PathBuf], atts: &[PathBuf], k: &str| {
        let mut c = repro();
        c.arg("verify");
        for p in keys {
            c.arg("--key").arg(p);
        }
        for a in atts {
            c.arg("--attestation").arg(a);
        }
        c.args(["--threshold", k]).arg(&artifact);
        c.output().unwrap()
    };
    // Three independent builders agree.
    let o = run(&pubs, &atts, "3");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("attested by 3 key(s)"));
    // Two attestations cannot meet a threshold of three.
    let o = run(&pubs, &atts[..2], "3");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("attested by 2 distinct trusted key(s)"),
        "{}",
        stderr(&o)
    );
    // The same attestation twice is still one builder.
    let o = run(&pubs[..2], &[atts[0].clone(), atts[0].clone()], "2");
    assert_eq!(o.status.code(), Some(1));
    // An attestation by an untrusted key does not count.
    let o = run(&pubs[..2], &atts, "2");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("not counted"), "{}", stderr(&o));
}

#[test]
fn provenance_is_reproducible_across_builds_and_attestations() {
    let dir = tempfile::tempdir().unwrap();
    let strip = |out: &Path| {
        let mut v: Value =
            serde_json::from_slice(&fs::read(out.join("provenance.json")).unwrap()).unwrap();
        let meta = &mut v["predicate"]["runDetails"]["metadata"];
        for field in ["invocationId", "startedOn", "finishedOn"] {
            assert!(meta.get(field).is_some(), "{field}");
            meta[field] = Value::Null;
        }
        v
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert_eq!(build("hello-tarball", &a, &[]).status.code(), Some(0));
    assert_eq!(build("hello-tarball", &b, &[]).status.code(), Some(0));
    assert_eq!(strip(&a), strip(&b));

    // Attesting the same report twice signs the same statement bytes.
    let k = dir.path().join("k");
    assert_eq!(keygen(&k, "ed25519").status.code(), Some(0));
    let payloads: Vec<String> = ["1", "2"]
        .iter()
        .map(|n| {
            let att = dir.path().join(format!("{n}.jsonl"));
            let o = repro()
                .arg("attest")
                .arg("--report")
                .arg(a.join("report.json"))
                .arg("--key")
                .arg(k.with_extension("key"))
                .arg("-o")
                .arg(&att)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            let env = read_json(&att);
            env["payload"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(payloads[0], payloads[1]);
}

/// A Python with securesystemslib, or None (the interop tests then skip).
fn sslib_python() -> Option<&'static str> {
    let ok = !common::hidden("securesystemslib")
        && Command::new("python3")
            .args(["-c", "import securesystemslib.dsse, cryptography"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if ok {
        Some("python3")
    } else {
        common::skip(
            "python3 with securesystemslib is not available \
             (python3 -m pip install 'securesystemslib[crypto]')",
        );
        None
    }
}

const SSLIB: &str = r#"
import json, sys
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from securesystemslib.signer import SSlibKey, CryptoSigner
from securesystemslib.dsse import Envelope
mode, prefix = sys.argv[1], sys.argv[2]
pub = load_pem_public_key(open(prefix + ".pub", "rb").read())
if mode == "verify":
    env = Envelope.from_dict(json.loads(open(sys.argv[3]).readline()))
    keyid = env.signatures and next(iter(env.signatures))
    key = SSlibKey.from_crypto(pub, keyid=keyid)
    env.verify([key], 1)
    json.loads(env.payload)["subject"]
    print("securesystemslib verified", keyid)
else:
    priv = load_pem_private_key(open(prefix + ".key", "rb").read(), None)
    signer = CryptoSigner(priv, SSlibKey.from_crypto(pub, keyid="sslib"))
    env = Envelope(payload=open(sys.argv[3], "rb").read(), payload_type="application/vnd.in-toto+json", signatures={})
    env.sign(signer)
    open(sys.argv[4], "w").write(json.dumps(env.to_dict()) + "\n")
"#;

#[test]
fn securesystemslib_verifies_repro_envelopes_and_repro_verifies_its_envelopes() {
    let Some(python) = sslib_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for algorithm in ["ed25519", "ecdsa-p256"] {
        let k = dir.path().join(algorithm);
        assert_eq!(keygen(&k, algorithm).status.code(), Some(0));
        let out = dir.path().join(format!("out-{algorithm}"));
        let key = k.with_extension("key");
        let o = build("hello-tarball", &out, &["--sign".as_ref(), key.as_os_str()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

        // securesystemslib verifies repro's envelope.
        let o = Command::new(python)
            .args(["-c", SSLIB, "verify"])
            .arg(&k)
            .arg(out.join("provenance.intoto.jsonl"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{algorithm}: {}", stderr(&o));

        // repro verifies an envelope securesystemslib signed.
        let theirs = dir.path().join(format!("sslib-{algorithm}.jsonl"));
        let o = Command::new(python)
            .args(["-c", SSLIB, "sign"])
            .arg(&k)
            .arg(out.join("provenance.json"))
            .arg(&theirs)
            .output()
            .unwrap();
        assert!(o.status.success(), "{algorithm}: {}", stderr(&o));
        let o = verify(&[
            "--key".as_ref(),
            os(&k.with_extension("pub")),
            "--attestation".as_ref(),
            os(&theirs),
            os(&out.join("artifacts/dist/hello-0.1.tar.gz")),
        ]);
        assert_eq!(o.status.code(), Some(0), "{algorithm}: {}", stderr(&o));
    }
}
