//! End-to-end tests of the fetch step: dependencies fetched once with
//! network, then seen read-only and offline by every run; recorded,
//! locked, and named when a build looks for the network.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{read_json, stderr};

use std::fs;
use std::path::Path;
use std::process::Output;

/// A source tree with `repro.toml` = `toml` and one source file.
fn tree(toml: &str) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("repro.toml"), toml).unwrap();
    fs::write(src.path().join("main.txt"), "source\n").unwrap();
    src
}

fn build(src: &Path, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let mut args = vec![
        "--source-date-epoch",
        "1700000000",
        "--vary=-all,+build_path",
    ];
    args.extend_from_slice(extra);
    common::build_dir(src, &args)
}

const FETCH_TOML: &str = r#"
[build]
command = ["sh", "-c", "mkdir -p dist; cat deps/lib.txt > dist/out; if touch deps/x 2>/dev/null; then echo writable >> dist/out; fi"]
artifacts = ["dist/*"]
[fetch]
command = ["sh", "-c", "mkdir -p deps/sub; echo 'dependency 1.0' > deps/lib.txt; echo more > deps/sub/b.txt"]
outputs = ["deps"]
"#;

#[test]
fn fetched_outputs_are_read_only_in_every_run_and_recorded() {
    let src = tree(FETCH_TOML);
    let (o, out) = build(src.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = out.path().join("out");
    for run in ["runs/1/src", "runs/2/src"] {
        let built = fs::read_to_string(out.join(run).join("dist/out")).unwrap();
        assert_eq!(
            built, "dependency 1.0\n",
            "{run}: the build could write deps/"
        );
    }
    // Every fetched file, with its digest, in the report, the lock and the
    // provenance.
    let r = read_json(&out.join("report.json"));
    let files = r["fetch"]["files"].as_array().unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["deps/lib.txt", "deps/sub/b.txt"]);
    let lib_sha = common::sha256_hex(b"dependency 1.0\n");
    assert_eq!(files[0]["sha256"], lib_sha.as_str());
    let lock = fs::read_to_string(out.join("fetch.lock")).unwrap();
    assert!(
        lock.starts_with(&format!("{lib_sha}  deps/lib.txt\n")),
        "{lock}"
    );
    let prov = read_json(&out.join("provenance.json"));
    let deps = prov["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert!(
        deps.iter()
            .any(|d| d["name"] == "deps/lib.txt" && d["digest"]["sha256"] == lib_sha.as_str()),
        "{deps:?}"
    );
    // The fetched tree never dates the source.
    assert_eq!(r["source_date_epoch"]["origin"], "flag");
}

#[test]
fn the_fetch_step_has_network_and_the_runs_do_not() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = format!(
        "import socket; s = socket.socket(); s.settimeout(2)\n\
         try:\n    s.connect(('127.0.0.1', {port})); print('connected')\n\
         except OSError as e:\n    print('blocked')"
    );
    let toml = format!(
        "[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p dist; python3 -c \\\"$PROBE\\\" > dist/net; cp deps/net dist/fetch-net\"]\n\
         artifacts = [\"dist/*\"]\nenv = {{ PROBE = {probe:?} }}\n\
         [fetch]\ncommand = [\"sh\", \"-c\", \"mkdir -p deps; python3 -c \\\"$PROBE\\\" > deps/net\"]\noutputs = [\"deps\"]\n"
    );
    let src = tree(&toml);
    let (o, out) = build(src.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dist = out.path().join("out/runs/1/src/dist");
    assert_eq!(
        fs::read_to_string(dist.join("fetch-net")).unwrap(),
        "connected\n"
    );
    assert_eq!(fs::read_to_string(dist.join("net")).unwrap(), "blocked\n");
}

#[test]
fn a_lock_mismatch_stops_before_any_run() {
    let src = tree(FETCH_TOML);
    let lock = src.path().join("deps.lock");
    let good = common::sha256_hex(b"more\n");
    fs::write(
        &lock,
        format!("{}  deps/lib.txt\n{good}  deps/sub/b.txt\n", "0".repeat(64)),
    )
    .unwrap();
    let (o, out) = build(src.path(), &["--fetch-lock", lock.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("the fetched dependencies do not match"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "deps/lib.txt: fetched sha256 {}",
            common::sha256_hex(b"dependency 1.0\n")
        )),
        "{err}"
    );
    assert!(!out.path().join("out/runs").exists());
    let r = read_json(&out.path().join("out/report.json"));
    assert_eq!(r["verdict"], "ERROR");
    // The lock repro wrote is the one that passes.
    let written = out.path().join("out/fetch.lock");
    let (o, _) = build(src.path(), &["--fetch-lock", written.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_build_that_looks_for_the_network_is_pointed_to_fetch() {
    let src = tree(
        "[build]\ncommand = [\"python3\", \"-c\", \"import socket; socket.getaddrinfo('pypi.org', 443)\"]\n\
         artifacts = [\"dist/*\"]\n",
    );
    let (o, _) = build(src.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("the sandbox has none (only loopback)"),
        "{err}"
    );
    assert!(err.contains("--fetch CMD --fetch-output DIR"), "{err}");
}

#[test]
fn fetch_flags_override_the_file_and_bad_outputs_are_refused() {
    let src = tree("[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p dist; cat wh/w > dist/o\"]\nartifacts = [\"dist/*\"]\n");
    let (o, out) = build(
        src.path(),
        &[
            "--fetch",
            "mkdir -p wh && echo w > wh/w",
            "--fetch-output",
            "wh",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = read_json(&out.path().join("out/report.json"));
    assert_eq!(r["fetch"]["command"][2], "mkdir -p wh && echo w > wh/w");
    for bad in ["../up", "/abs"] {
        let (o, _) = build(src.path(), &["--fetch", "true", "--fetch-output", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&o).contains("must be a UTF-8 path relative to the source tree"),
            "{}",
            stderr(&o)
        );
    }
    // A fetch that does not create what it promised.
    let (o, _) = build(src.path(), &["--fetch", "true", "--fetch-output", "wh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did not create the directory wh"),
        "{}",
        stderr(&o)
    );
}
