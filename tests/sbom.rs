//! End-to-end tests of the CycloneDX SBOM: `repro build --sbom` and
//! `repro sbom`, checked against the official CycloneDX 1.6 JSON schema
//! (vendored in tests/schema/cyclonedx-1.6, see ORIGIN.md there), for
//! determinism, signatures that `repro verify` checks, and bad inputs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{keygen, read_json, repro, stderr, stdout};

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// The CycloneDX 1.6 schema with the two schemas it references, offline.
fn validator() -> jsonschema::Validator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/schema/cyclonedx-1.6");
    let load = |name: &str| -> Value {
        serde_json::from_str(&fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            load("spdx.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
            load("jsf-0.82.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&load("bom-1.6.SNAPSHOT.schema.json"))
        .unwrap()
}

fn assert_valid(bom: &Value) {
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(bom)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not CycloneDX 1.6: {errors:#?}");
}

/// A wheel written in the test: METADATA as given, plus two modules.
fn wheel(path: &Path, metadata: &str) {
    let mut z = zip::ZipWriter::new(fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in [
        ("demo/__init__.py", "VERSION = '1.0'\n"),
        ("demo/core.py", "def f():\n    return 1\n"),
        ("demo-1.0.dist-info/METADATA", metadata),
        ("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n"),
    ] {
        z.start_file(name, opts).unwrap();
        z.write_all(data.as_bytes()).unwrap();
    }
    z.finish().unwrap();
}

const GOOD_METADATA: &str = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n\
Summary: A demo.\nLicense-Expression: MIT OR Apache-2.0\n\
Requires-Dist: requests (>=2.0)\nRequires-Dist: pytest; extra == \"test\"\n\nA demo.\n";

/// A gzipped tarball of `files` (a `.crate` or an npm package).
fn tgz(path: &Path, files: &[(&str, &str)]) {
    let gz = flate2::write::GzEncoder::new(
        fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    let mut t = tar::Builder::new(gz);
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
}

/// An ar archive (a `.deb`) of `members`, written by hand: ar is a
/// 8-byte magic and 60-byte headers, nothing a crate is needed for.
fn ar(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        out.extend(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                100644,
                data.len()
            )
            .as_bytes(),
        );
        out.extend(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    fs::write(path, out).unwrap();
}

fn tgz_bytes(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.tar.gz");
    tgz(&p, files);
    fs::read(p).unwrap()
}

fn sbom(args: &[&std::ffi::OsStr]) -> Output {
    repro().arg("sbom").args(args).output().unwrap()
}

/// What a reader of the SBOM looks at, one line per component.
fn summary(bom: &Value) -> String {
    let mut s = String::new();
    for c in bom["components"].as_array().unwrap() {
        let props: Vec<String> = c["properties"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["name"] != "repro:size")
                    .map(|p| {
                        format!(
                            "{}={}",
                            p["name"].as_str().unwrap(),
                            p["value"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        s += &format!(
            "{} {} {} {} files={} [{}]\n",
            c["type"].as_str().unwrap(),
            c["name"].as_str().unwrap(),
            c["version"].as_str().unwrap_or("-"),
            c["purl"].as_str().unwrap_or("-"),
            c["components"].as_array().map_or(0, Vec::len),
            props.join("; ")
        );
    }
    for d in bom["dependencies"].as_array().unwrap() {
        let on: Vec<&str> = d["dependsOn"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        s += &format!(
            "dep {} -> [{}]\n",
            d["ref"].as_str().unwrap(),
            on.join(", ")
        );
    }
    s
}

fn screen(o: &Output, tmp: &Path) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
    .replace(tmp.to_str().unwrap(), "[TMP]")
}

const PROJECT_TOML: &str = r#"
[build]
command = ["python3", "make_wheel.py"]
artifacts = ["dist/*"]
[fetch]
command = ["sh", "-c", "mkdir -p deps; echo wheel-bytes > deps/requests-2.31.0-py3-none-any.whl"]
outputs = ["deps"]
"#;

/// Writes the wheel with the standard library only, honoring
/// SOURCE_DATE_EPOCH, so two builds give the same bytes.
const MAKE_WHEEL: &str = r#"
import os, time, zipfile
t = time.gmtime(max(int(os.environ["SOURCE_DATE_EPOCH"]), 315532800))[:6]
os.makedirs("dist", exist_ok=True)
with zipfile.ZipFile("dist/demo-1.0-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED) as z:
    for name, data in [
        ("demo/__init__.py", "VERSION = '1.0'\n"),
        ("demo-1.0.dist-info/METADATA",
         "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
         "Requires-Dist: requests (>=2.0)\nRequires-Dist: pytest; extra == \"test\"\n"),
    ]:
        z.writestr(zipfile.ZipInfo(name, date_time=t), data)
with open("dist/notes.bin", "wb") as f:
    f.write(bytes(range(256)))
"#;

fn project() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("repro.toml"), PROJECT_TOML).unwrap();
    fs::write(src.path().join("make_wheel.py"), MAKE_WHEEL).unwrap();
    src
}

fn build(src: &Path, out: &Path, key: &Path) -> Output {
    repro()
        .arg("build")
        .arg(src)
        .arg("--out")
        .arg(out)
        .args([
            "--source-date-epoch",
            "1700000000",
            "--vary=-all,+build_path",
            "--sbom",
            "--sign",
        ])
        .arg(key)
        .output()
        .unwrap()
}

#[test]
fn build_sbom_is_valid_deterministic_signed_and_carries_the_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    let src = project();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        let o = build(src.path(), out, &key);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains("SBOM written to"), "{}", stderr(&o));
    }
    // The same build gives the same bytes, signed ones included
    // (deterministic signatures).
    for f in ["sbom.cdx.json", "sbom.intoto.jsonl"] {
        assert_eq!(
            fs::read(a.join(f)).unwrap(),
            fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    let bom = read_json(&a.join("sbom.cdx.json"));
    assert_valid(&bom);
    assert_eq!(bom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    // The fetched input is in the formulation with its digest.
    let fetched = &bom["formulation"][0]["components"][0];
    assert_eq!(fetched["name"], "deps/requests-2.31.0-py3-none-any.whl");
    assert_eq!(fetched["purl"], "pkg:pypi/requests@2.31.0");
    assert_eq!(
        fetched["hashes"][0]["content"],
        common::sha256_hex(b"wheel-bytes\n").as_str()
    );
    insta::assert_snapshot!("build_sbom_summary", summary(&bom));

    // `repro verify` checks the signed SBOM like the provenance, against
    // the artifacts in hand.
    let whl = a.join("artifacts/dist/demo-1.0-py3-none-any.whl");
    let o = repro()
        .args(["verify", "--key"])
        .arg(&public)
        .arg("--attestation")
        .arg(a.join("sbom.intoto.jsonl"))
        .arg("--attestation")
        .arg(a.join("provenance.intoto.jsonl"))
        .arg(&whl)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::with_settings!({filters => vec![(r"\b[0-9a-f]{16,64}\b", "[HEX]"), (r"\(dirhash [^)]*\)", "(dirhash …)"), (r"repro [0-9][^ ,)]*", "repro [VERSION]"), (r"/tmp/\.tmp[A-Za-z0-9]+", "[SRC]")]}, {
        insta::assert_snapshot!("build_sbom_verify", screen(&o, tmp.path()));
    });
    // Another file is no subject of it.
    let other = tmp.path().join("other.whl");
    wheel(&other, GOOD_METADATA);
    let o = repro()
        .args(["verify", "--key"])
        .arg(&public)
        .arg("--attestation")
        .arg(a.join("sbom.intoto.jsonl"))
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a subject"), "{}", stderr(&o));
    // A changed byte of the SBOM breaks its signature.
    let line = fs::read_to_string(a.join("sbom.intoto.jsonl")).unwrap();
    let mut env: Value = serde_json::from_str(&line).unwrap();
    let payload = env["payload"].as_str().unwrap().to_owned();
    let flipped = if payload.starts_with('e') { "f" } else { "e" };
    env["payload"] = Value::String(format!("{flipped}{}", &payload[1..]));
    let tampered = tmp.path().join("tampered.intoto.jsonl");
    fs::write(&tampered, serde_json::to_string(&env).unwrap() + "\n").unwrap();
    let o = repro()
        .args(["verify", "--key"])
        .arg(&public)
        .arg("--attestation")
        .arg(&tampered)
        .arg(&whl)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn sbom_command_lists_packages_of_every_ecosystem() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    wheel(&d.join("demo-1.0-py3-none-any.whl"), GOOD_METADATA);
    tgz(
        &d.join("hello-0.1.0.crate"),
        &[
            (
                "hello-0.1.0/Cargo.toml",
                "[package]\nname = \"hello\"\nversion = \"0.1.0\"\n",
            ),
            ("hello-0.1.0/src/lib.rs", "pub fn f() {}\n"),
        ],
    );
    tgz(
        &d.join("scope-pkg-2.0.0.tgz"),
        &[
            (
                "package/package.json",
                r#"{"name":"@scope/pkg","version":"2.0.0","description":"scoped","license":"ISC",
                    "homepage":"https://pkg.example","repository":{"type":"git","url":"git+https://example.org/pkg.git"},
                    "bugs":"not a url"}"#,
            ),
            ("package/index.js", "module.exports = 1;\n"),
        ],
    );
    ar(
        &d.join("hello_2.10-3_amd64.deb"),
        &[
            ("debian-binary", b"2.0\n".to_vec()),
            (
                "control.tar.gz",
                tgz_bytes(&[(
                    "./control",
                    "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\n",
                )]),
            ),
            (
                "data.tar.gz",
                tgz_bytes(&[("./usr/bin/hello", "#!/bin/sh\necho hello\n")]),
            ),
        ],
    );
    let names = [
        "demo-1.0-py3-none-any.whl",
        "hello-0.1.0.crate",
        "scope-pkg-2.0.0.tgz",
        "hello_2.10-3_amd64.deb",
    ];
    let out = d.join("bom.json");
    let mut args: Vec<std::ffi::OsString> = names.iter().map(|n| d.join(n).into()).collect();
    args.extend([
        "-o".into(),
        out.clone().into(),
        "--source-date-epoch".into(),
        "0".into(),
    ]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let o = sbom(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("ecosystems_screen", screen(&o, d));
    let first = fs::read(&out).unwrap();
    let bom: Value = serde_json::from_slice(&first).unwrap();
    assert_valid(&bom);
    insta::assert_snapshot!("ecosystems_summary", summary(&bom));
    // Description and licence as each package declares them (validated
    // against the schema with the rest).
    let by_name = |n: &str| {
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .cloned()
            .unwrap()
    };
    let demo = by_name("demo");
    assert_eq!(demo["description"], "A demo.", "{demo}");
    assert_eq!(
        demo["licenses"][0]["expression"], "MIT OR Apache-2.0",
        "{demo}"
    );
    let npm = by_name("@scope/pkg");
    assert_eq!(npm["licenses"][0]["expression"], "ISC", "{npm}");
    assert_eq!(npm["description"], "scoped", "{npm}");
    // Project URLs as external references; the free-text `bugs` is not one.
    assert_eq!(
        npm["externalReferences"],
        serde_json::json!([
            {"type": "website", "url": "https://pkg.example", "comment": "declared as homepage"},
            {"type": "vcs", "url": "git+https://example.org/pkg.git", "comment": "declared as repository"},
        ]),
        "{npm}"
    );
    // Run again: the same bytes, serial number included.
    fs::remove_file(&out).unwrap();
    assert_eq!(sbom(&args).status.code(), Some(0));
    assert_eq!(fs::read(&out).unwrap(), first);
}

#[test]
fn bad_inputs_are_listed_with_a_note_and_never_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // METADATA that is prose, not headers.
    wheel(
        &d.join("broken-2.0-py3-none-any.whl"),
        "Name: broken\nthis is not a header\n",
    );
    fs::write(d.join("README.txt"), "not an archive\n").unwrap();
    // An npm tarball named for another package than its package.json
    // says (npm pack names it left-pad-1.3.0.tgz).
    tgz(
        &d.join("lodash-4.17.21.tgz"),
        &[(
            "package/package.json",
            r#"{"name":"left-pad","version":"1.3.0"}"#,
        )],
    );
    let o = sbom(&[
        d.join("broken-2.0-py3-none-any.whl").as_os_str(),
        d.join("README.txt").as_os_str(),
        d.join("lodash-4.17.21.tgz").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bom: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid(&bom);
    insta::assert_snapshot!("bad_inputs_stderr", stderr(&o));
    insta::assert_snapshot!("bad_inputs_summary", summary(&bom));
    // Without SOURCE_DATE_EPOCH anywhere, no timestamp (not the clock).
    assert!(bom["metadata"].get("timestamp").is_none());

    // An artifact that is not there is an error naming it, and nothing is
    // written.
    let out = d.join("never.json");
    let o = sbom(&[
        d.join("missing.whl").as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.whl"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn an_sbom_without_a_verdict_does_not_pass_verify_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    let whl = tmp.path().join("demo-1.0-py3-none-any.whl");
    wheel(&whl, GOOD_METADATA);
    let signed = tmp.path().join("sbom.intoto.jsonl");
    let o = sbom(&[
        whl.as_os_str(),
        "--sign".as_ref(),
        key.as_os_str(),
        "-o".as_ref(),
        signed.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let verify = |extra: &[&str]| {
        repro()
            .args(["verify", "--key"])
            .arg(&public)
            .arg("--attestation")
            .arg(&signed)
            .args(extra)
            .arg(&whl)
            .output()
            .unwrap()
    };
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no reproducibility verdict recorded"),
        "{}",
        stderr(&o)
    );
    let o = verify(&["--allow-not-reproducible"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = verify(&[
        "--allow-not-reproducible",
        "--builder-id",
        "https://x.invalid",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no builder id recorded"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_schema_oracle_can_fail() {
    // A document the schema must refuse, or validity proves nothing.
    let tmp = tempfile::tempdir().unwrap();
    let whl = tmp.path().join("demo-1.0-py3-none-any.whl");
    wheel(&whl, GOOD_METADATA);
    let o = sbom(&[whl.as_os_str()]);
    let mut bom: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid(&bom);
    let v = validator();
    bom["components"][0]["hashes"][0]["alg"] = Value::from("SHA256");
    assert!(!v.is_valid(&bom));
    bom["components"][0]["hashes"][0]["alg"] = Value::from("SHA-256");
    bom["serialNumber"] = Value::from("urn:uuid:not-a-uuid");
    assert!(!v.is_valid(&bom));
}

#[test]
fn archives_inside_are_listed_with_their_files_and_links_with_their_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A jar (a zip) inside a plain tarball, beside a symbolic link to it.
    let jar = d.join("a.jar");
    wheel(&jar, GOOD_METADATA);
    let jar = fs::read(&jar).unwrap();
    let gz = flate2::write::GzEncoder::new(
        fs::File::create(d.join("bundle-1.0.tar.gz")).unwrap(),
        flate2::Compression::default(),
    );
    let mut t = tar::Builder::new(gz);
    let mut h = tar::Header::new_ustar();
    h.set_size(jar.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    t.append_data(&mut h, "lib/a.jar", jar.as_slice()).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    t.append_link(&mut h, "lib/current.jar", "a.jar").unwrap();
    t.into_inner().unwrap().finish().unwrap();

    let out = d.join("bom.json");
    let o = sbom(&[
        d.join("bundle-1.0.tar.gz").as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--source-date-epoch".as_ref(),
        "0".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bom: Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_valid(&bom);
    let files = bom["components"][0]["components"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lib/a.jar", "lib/current.jar"], "{bom:#}");
    let inner: Vec<&str> = files[0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        inner,
        [
            "demo/__init__.py",
            "demo/core.py",
            "demo-1.0.dist-info/METADATA",
            "demo-1.0.dist-info/WHEEL"
        ]
    );
    assert!(files[0]["components"][0]["hashes"][0]["content"].is_string());
    assert_eq!(
        files[0]["components"][0]["bom-ref"],
        "artifact:bundle-1.0.tar.gz!/lib/a.jar!/demo/__init__.py"
    );
    assert_eq!(files[1].get("hashes"), None);
    assert_eq!(
        files[1]["properties"],
        serde_json::json!([{"name": "repro:symlink-target", "value": "a.jar"}])
    );
}

#[test]
fn an_sdist_is_a_package_named_by_its_top_level_pkg_info() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // PKG-INFO at the top, and a vendored project's first in the
    // archive, which is not this package.
    tgz(
        &d.join("demo_pkg-1.0.tar.gz"),
        &[
            (
                "demo_pkg-1.0/src/vendored/PKG-INFO",
                "Metadata-Version: 2.1\nName: vendored\nVersion: 9.9\n",
            ),
            (
                "demo_pkg-1.0/PKG-INFO",
                "Metadata-Version: 2.2\nName: demo_pkg\nVersion: 1.0\n\
Summary: A demo sdist.\nLicense-Expression: MIT\n\
Requires-Dist: idna>=2.5\nRequires-Dist: pytest; extra == \"test\"\n\nbody\n",
            ),
            (
                "demo_pkg-1.0/pyproject.toml",
                "[project]\nname = \"demo_pkg\"\n",
            ),
            ("demo_pkg-1.0/src/demo_pkg/__init__.py", ""),
        ],
    );
    tgz(
        &d.join("bad-1.0.tar.gz"),
        &[
            ("bad-1.0/PKG-INFO", "Name: bad\nthis is prose\n"),
            ("bad-1.0/setup.py", ""),
        ],
    );
    tgz(
        &d.join("tree-1.0.tar.gz"),
        &[
            ("tree-1.0/setup.py", ""),
            ("tree-1.0/vendor/x-2.0/PKG-INFO", "Name: x\nVersion: 2.0\n"),
        ],
    );
    let o = sbom(&[
        d.join("demo_pkg-1.0.tar.gz").as_os_str(),
        d.join("bad-1.0.tar.gz").as_os_str(),
        d.join("tree-1.0.tar.gz").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bom: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid(&bom);
    insta::assert_snapshot!("sdist_summary", summary(&bom));
    insta::assert_snapshot!("sdist_stderr", stderr(&o));
    let demo = &bom["components"][0];
    assert_eq!(demo["licenses"][0]["expression"], "MIT", "{demo}");
    assert_eq!(demo["description"], "A demo sdist.", "{demo}");
}

#[test]
fn a_cut_listing_keeps_the_artifacts_identity_whichever_limit_cut_it() {
    let tmp = tempfile::tempdir().unwrap();
    let whl = tmp.path().join("demo-1.0-py3-none-any.whl");
    wheel(&whl, GOOD_METADATA);
    // Four members: two entries are fewer; 250 bytes hold its METADATA
    // (181 bytes), read first, but not all of its members after it.
    for limit in [["--max-entries", "2"], ["--max-decompressed", "250"]] {
        let o = sbom(&[whl.as_os_str(), limit[0].as_ref(), limit[1].as_ref()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let bom: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_valid(&bom);
        let c = &bom["components"][0];
        assert_eq!(
            (&c["type"], &c["name"], &c["version"], &c["purl"]),
            (
                &Value::from("library"),
                &Value::from("demo"),
                &Value::from("1.0"),
                &Value::from("pkg:pypi/demo@1.0")
            ),
            "{limit:?}: {c:#}"
        );
        assert_eq!(
            c["licenses"][0]["expression"], "MIT OR Apache-2.0",
            "{limit:?}: {c:#}"
        );
        // Its declared dependencies too.
        assert_eq!(
            bom["dependencies"][0]["dependsOn"],
            serde_json::json!(["requirement:pypi:pytest", "requirement:pypi:requests"])
        );
        // And it says the listing was cut, by which limit.
        let notes: Vec<&str> = c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "repro:note")
            .map(|p| p["value"].as_str().unwrap())
            .collect();
        assert!(
            notes.iter().any(|n| n.contains(limit[0])),
            "{limit:?}: {notes:#?}"
        );
    }
}

#[test]
fn a_requirement_an_artifact_of_the_document_satisfies_points_at_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let dateutil = d.join("python_dateutil-2.9.0.post0-py2.py3-none-any.whl");
    wheel(
        &dateutil,
        "Metadata-Version: 2.1\nName: python-dateutil\nVersion: 2.9.0.post0\n\
Requires-Dist: six (>=1.5)\nRequires-Dist: pytz; extra == \"tz\"\n\
Requires-Dist: python-dateutil[tz]; extra == \"all\"\n\n",
    );
    // Named unnormalized: PEP 503 makes it the `six` required.
    let six = d.join("six-1.16.0-py2.py3-none-any.whl");
    wheel(
        &six,
        "Metadata-Version: 2.1\nName: Six\nVersion: 1.16.0\n\n",
    );
    let o = sbom(&[dateutil.as_os_str(), six.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bom: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid(&bom);
    // Six is shipped, pytz is not, and dateutil's own extra is no
    // dependency of itself.
    let deps = &bom["dependencies"];
    assert_eq!(
        deps[0],
        serde_json::json!({
            "ref": "artifact:python_dateutil-2.9.0.post0-py2.py3-none-any.whl",
            "dependsOn": [
                "artifact:six-1.16.0-py2.py3-none-any.whl",
                "requirement:pypi:pytz"
            ]
        }),
        "{bom:#}"
    );
    // Only the requirement nothing ships is a placeholder.
    let refs: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "artifact:python_dateutil-2.9.0.post0-py2.py3-none-any.whl",
            "artifact:six-1.16.0-py2.py3-none-any.whl",
            "requirement:pypi:pytz"
        ]
    );
}

#[test]
fn an_input_that_is_no_regular_file_is_refused_unopened() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let whl = d.join("demo-1.0-py3-none-any.whl");
    wheel(&whl, GOOD_METADATA);
    // A FIFO nobody writes: opening it for reading would block forever,
    // so the child is killed if it does not finish on its own.
    let fifo = d.join("demo.whl");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let link = d.join("link.whl");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let out = d.join("bom.json");
    for input in [&fifo, &link, &d.to_path_buf()] {
        let mut child = repro()
            .arg("sbom")
            .arg(&whl)
            .arg(input)
            .arg("-o")
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("repro sbom {} hangs", input.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&*input.to_string_lossy()), "{e}");
        assert!(e.contains("not a regular file"), "{e}");
        assert!(!out.exists());
    }
    // /dev/stdin fed by a pipe is a pipe too: refused, not read twice.
    let mut child = repro()
        .args(["sbom", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Refused unread, the child may be gone before the write: a broken
    // pipe is no failure.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(&fs::read(&whl).unwrap());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/dev/stdin: not a regular file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_source_date_epoch_out_of_range_or_malformed_is_refused_naming_its_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let whl = tmp.path().join("demo-1.0-py3-none-any.whl");
    wheel(&whl, GOOD_METADATA);
    let out = tmp.path().join("bom.json");
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut c = repro();
        c.arg("sbom").arg(&whl).arg("-o").arg(&out);
        match env {
            Some(v) => c.env("SOURCE_DATE_EPOCH", v),
            None => c.env_remove("SOURCE_DATE_EPOCH"),
        };
        if let Some(f) = flag {
            c.arg(format!("--source-date-epoch={f}"));
        }
        c.output().unwrap()
    };
    let range = "from 0 to 253402300799";
    for (env, flag, value, origin) in [
        (
            Some("abc"),
            None,
            "abc",
            "environment variable SOURCE_DATE_EPOCH",
        ),
        (
            Some("-5"),
            None,
            "-5",
            "environment variable SOURCE_DATE_EPOCH",
        ),
        (
            Some("253402300800"),
            None,
            "253402300800",
            "environment variable SOURCE_DATE_EPOCH",
        ),
        (None, Some("-1"), "-1", "--source-date-epoch"),
        (None, Some("abc"), "abc", "--source-date-epoch"),
        (
            None,
            Some("253402300800"),
            "253402300800",
            "--source-date-epoch",
        ),
    ] {
        let o = run(env, flag);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{env:?} {flag:?}: {e}");
        assert!(e.contains(&format!("\"{value}\"")), "{e}");
        assert!(e.contains(origin), "{e}");
        assert!(e.contains(range), "{e}");
        assert!(!out.exists(), "{env:?} {flag:?}");
    }
    // `--source-date-epoch -1` (a separate word) is refused the same way.
    let o = repro()
        .arg("sbom")
        .arg(&whl)
        .args(["--source-date-epoch", "-1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(range), "{}", stderr(&o));
    // The flag wins over a bad environment; the last second a timestamp
    // can write is accepted; an empty variable is no value.
    for (env, flag, timestamp) in [
        (Some("abc"), Some("0"), Some("1970-01-01T00:00:00Z")),
        (Some("253402300799"), None, Some("9999-12-31T23:59:59Z")),
        (Some(""), None, None),
    ] {
        let o = run(env, flag);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let bom = read_json(&out);
        assert_eq!(
            bom["metadata"]["timestamp"].as_str(),
            timestamp,
            "{env:?} {flag:?}"
        );
        fs::remove_file(&out).unwrap();
    }
}

#[test]
fn an_input_is_never_the_output_even_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let whl = d.join("demo-1.0-py3-none-any.whl");
    wheel(&whl, GOOD_METADATA);
    let bytes = fs::read(&whl).unwrap();
    let sym = d.join("sym.json");
    std::os::unix::fs::symlink(&whl, &sym).unwrap();
    let hard = d.join("hard.json");
    fs::hard_link(&whl, &hard).unwrap();
    for (output, force) in [(&whl, true), (&whl, false), (&sym, true), (&hard, true)] {
        let mut c = repro();
        c.arg("sbom").arg(&whl).arg("-o").arg(output);
        if force {
            c.arg("--force");
        }
        let o = c.output().unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {e}", output.display());
        assert!(e.contains(&*output.to_string_lossy()), "{e}");
        assert!(e.contains("replace it"), "{e}");
        assert_eq!(fs::read(&whl).unwrap(), bytes, "{}", output.display());
    }
    // Another existing file is still replaced with --force.
    let other = d.join("bom.json");
    fs::write(&other, "old").unwrap();
    let o = sbom(&[
        whl.as_os_str(),
        "-o".as_ref(),
        other.as_os_str(),
        "--force".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_valid(&read_json(&other));
}

#[test]
fn an_error_says_each_cause_once() {
    // The library's message names its cause and then carries it: the
    // command line printed "cannot read X" and the system error twice.
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.whl");
    let o = sbom(&[missing.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.matches("cannot read").count(), 1, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}
