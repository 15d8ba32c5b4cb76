//! End-to-end tests of `repro rebuild`: a package "published" on a local
//! index (fixtures/rebuild/index_server.py, PEP 691/700 as pypi.org
//! serves them) is fetched, its recipe inferred, rebuilt offline in the
//! sandbox and compared; verdicts, exit codes, reports and attestations
//! are checked. No network: the demo project's backend is in its sdist.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{read_json, repro, stderr, stdout};

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::pypi_index::{publish, Index, SDE};

fn wheel(index: &Index) -> PathBuf {
    index.dir.path().join("demo-1.0-py3-none-any.whl")
}

/// Rewrites the published wheel with Python: members in `order`, each
/// member's bytes passed through `edit`.
fn rewrite(index: &Index, order: &str, edit: &str) {
    let script = format!(
        r#"
import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
infos = src.infolist()
data = {{i.filename: src.read(i) for i in infos}}
{order}
out = zipfile.ZipFile(sys.argv[1] + ".new", "w")
for i in infos:
    b = data[i.filename]
    {edit}
    out.writestr(i, b)
out.close()
"#
    );
    let w = wheel(index);
    let st = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&w)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::rename(w.with_extension("whl.new"), &w).unwrap();
}

fn rebuild(index: &Index, out: &Path, extra: &[&str]) -> Output {
    let o = repro()
        .args([
            "rebuild",
            "pypi:demo==1.0",
            "--index-url",
            &index.url,
            "--out",
        ])
        .arg(out)
        .arg("--cache")
        .arg(index.cache.path())
        .args(extra)
        .output()
        .unwrap();
    if stderr(&o).contains("cannot create a user namespace") {
        common::skip("no user namespaces here");
    }
    o
}

#[test]
fn a_faithful_wheel_rebuilds_bit_for_bit_and_is_attested_so() {
    let Some(index) = publish() else { return };
    let out = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("k");
    assert!(repro()
        .args(["keygen", "--out"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    let o = rebuild(
        &index,
        out.path(),
        &["--sign", key.with_extension("key").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("pypi:demo==1.0: BIT_FOR_BIT"),
        "{}",
        stdout(&o)
    );
    // The recipe was printed and written, and says where each field came from.
    assert!(
        stderr(&o).contains("backend = \"tinybackend\""),
        "{}",
        stderr(&o)
    );
    let recipe = std::fs::read_to_string(out.path().join("recipe.toml")).unwrap();
    assert!(
        recipe.contains(&format!("source_date_epoch = {SDE}")),
        "{recipe}"
    );
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["schema"], "repro-rebuild-v1");
    assert_eq!(r["verdict"], "BIT_FOR_BIT");
    let up = common::sha256_hex(&std::fs::read(wheel(&index)).unwrap());
    assert_eq!(r["upstream"]["sha256"], up);
    assert_eq!(r["rebuilt"]["sha256"], up);
    assert!(r["upstream"]["url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(r["source"]["name"], "demo-1.0.tar.gz");
    // The build ran offline in the sandbox.
    let build = read_json(&out.path().join("build/report.json"));
    assert_eq!(build["sandbox"]["network"], false, "{}", build["sandbox"]);
    // The statement's subject is the upstream wheel; verify accepts it.
    let st = read_json(&out.path().join("statement.json"));
    assert_eq!(st["subject"][0]["name"], "demo-1.0-py3-none-any.whl");
    assert_eq!(st["subject"][0]["digest"]["sha256"], up);
    assert_eq!(
        st["predicate"]["buildDefinition"]["buildType"],
        "https://repro.invalid/build-types/independent-rebuild/v1"
    );
    // Resolved dependencies: the sdist from its URL, the frontend, the
    // Python the build ran.
    let deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .clone();
    let role = |r: &str| {
        deps.iter()
            .filter(|d| d["annotations"]["role"] == r)
            .count()
    };
    assert_eq!(role("source"), 1, "{deps:?}");
    assert_eq!(role("frontend"), 1, "{deps:?}");
    assert!(
        deps.iter()
            .any(|d| d["name"] == "python3" && d["digest"]["sha256"].is_string()),
        "{deps:?}"
    );
    assert!(deps.iter().any(|d| d["name"] == "recipe.toml"), "{deps:?}");
    let v = repro()
        .arg("verify")
        .arg("--attestation")
        .arg(out.path().join("rebuild.intoto.jsonl"))
        .arg("--key")
        .arg(key.with_extension("pub"))
        .arg(wheel(&index))
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{}\n{}", stdout(&v), stderr(&v));
}

#[test]
fn packaging_noise_is_equivalent_and_a_changed_byte_is_different() {
    let Some(index) = publish() else { return };
    // Upstream's members in reverse order: noise, named.
    rewrite(&index, "infos.reverse()", "pass");
    let out = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("k");
    assert!(repro()
        .args(["keygen", "--out"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    let o = rebuild(
        &index,
        out.path(),
        &["--sign", key.with_extension("key").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["verdict"], "EQUIVALENT", "{r}");
    assert_eq!(r["stabilizers"], serde_json::json!(["member-order"]));
    // verify accepts an EQUIVALENT rebuild only when told to.
    let verify = |extra: &[&str]| {
        repro()
            .arg("verify")
            .arg("--attestation")
            .arg(out.path().join("rebuild.intoto.jsonl"))
            .arg("--key")
            .arg(key.with_extension("pub"))
            .args(extra)
            .arg(wheel(&index))
            .output()
            .unwrap()
    };
    let v = verify(&[]);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(
        stderr(&v).contains("EQUIVALENT_AFTER_NORMALIZATION"),
        "{}",
        stderr(&v)
    );
    assert_eq!(verify(&["--accept-equivalent"]).status.code(), Some(0));
    let o = rebuild(&index, out.path(), &["--accept-equivalent"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Without that stabilizer it is DIFFERENT, and says why.
    let o = rebuild(&index, out.path(), &["--stabilizers", "timestamps"]);
    assert_eq!(o.status.code(), Some(1));
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["verdict"], "DIFFERENT", "{r}");

    // One byte of one module: DIFFERENT under every stabilizer, with a diff.
    rewrite(
        &index,
        "pass",
        "b = b.replace(b'return 42', b'return 43') if i.filename == 'demo/__init__.py' else b",
    );
    let o = rebuild(&index, out.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["verdict"], "DIFFERENT", "{r}");
    let reasons = r["differences"].to_string();
    assert!(
        reasons.contains("demo/__init__.py: content differs"),
        "{reasons}"
    );
    let diff = std::fs::read_to_string(out.path().join("diff.txt")).unwrap();
    assert!(
        diff.contains("return 43") && diff.contains("return 42"),
        "{diff}"
    );
    // Negative results are attested too, saying so.
    let st = read_json(&out.path().join("statement.json"));
    let record = st["predicate"]["runDetails"]["byproducts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "reproducibility")
        .unwrap()
        .clone();
    assert_eq!(record["annotations"]["verdict"], "NOT_REPRODUCIBLE");
    assert_eq!(record["annotations"]["rebuild"]["verdict"], "DIFFERENT");
}

#[test]
fn failures_name_their_stage_and_exit_2() {
    let Some(index) = publish() else { return };
    let out = tempfile::tempdir().unwrap();
    let run = |spec: &str| {
        repro()
            .args(["rebuild", spec, "--index-url", &index.url, "--cache"])
            .arg(index.cache.path())
            .arg("--out")
            .arg(out.path())
            .arg("--force")
            .output()
            .unwrap()
    };
    let o = run("pypi:nosuchpkg==1.0");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("fetch stage failed: nosuchpkg: not found on http://127.0.0.1:"),
        "{}",
        stdout(&o)
    );
    let o = run("pypi:demo==9.9");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("version 9.9 not found") && stdout(&o).contains("newest: 1.0"),
        "{}",
        stdout(&o)
    );
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["verdict"], "FAILED");
    assert_eq!(r["failure"]["stage"], "fetch");
    // Not a verdict on anything: no statement without an upstream file.
    assert!(!out.path().join("statement.json").exists());

    // A file that fails the hash the index lists is discarded.
    let lie = format!("{{\"demo-1.0.tar.gz\": \"{}\"}}", "0".repeat(64));
    std::fs::write(index.dir.path().join("hashes.json"), lie).unwrap();
    let o = run("pypi:demo==1.0");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("demo-1.0.tar.gz: SHA-256"),
        "{}",
        stdout(&o)
    );
    assert!(!out.path().join("upstream/demo-1.0.tar.gz").exists());
    std::fs::remove_file(index.dir.path().join("hashes.json")).unwrap();

    // A build that fails: the stage, and the log to read.
    let bad = "backend = \"tinybackend\"\nrequires = [\"nosuch-backend==1\"]\n";
    let recipe = out.path().join("bad.toml");
    let mut f = std::fs::File::create(&recipe).unwrap();
    f.write_all(bad.as_bytes()).unwrap();
    let o = repro()
        .args([
            "rebuild",
            "pypi:demo==1.0",
            "--index-url",
            &index.url,
            "--recipe",
        ])
        .arg(&recipe)
        .arg("--cache")
        .arg(index.cache.path())
        .arg("--out")
        .arg(out.path().join("r2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("dependencies stage failed"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("nosuch-backend==1"), "{}", stdout(&o));
}

#[test]
fn usage_errors_are_caught_before_any_work() {
    let o = repro().args(["rebuild", "demo==1.0"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected pypi:NAME==VERSION"),
        "{}",
        stderr(&o)
    );
    let o = repro()
        .args(["rebuild", "pypi:demo==1.0", "--sign", "/nonexistent/key"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--sign /nonexistent/key"),
        "{}",
        stderr(&o)
    );
    let o = repro()
        .args(["rebuild", "pypi:demo==1.0", "--stabilizers", "zip-magic"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown id \"zip-magic\""),
        "{}",
        stderr(&o)
    );
    let o = repro()
        .args(["rebuild", "pypi:demo==1.0", "--", "make"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn generic_mode_rebuilds_a_tarball_with_the_users_command() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("package")).unwrap();
    std::fs::write(
        src.path().join("package/index.js"),
        "module.exports = 42;\n",
    )
    .unwrap();
    std::fs::write(
        src.path().join("pack.sh"),
        "set -eu\nmkdir -p out\ntar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - package | gzip -n > out/pkg-1.0.tgz\n",
    )
    .unwrap();
    // "Upstream": the same command run by its publisher.
    let up = tempfile::tempdir().unwrap();
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && sh pack.sh && cp out/pkg-1.0.tgz {}",
            src.path().display(),
            up.path().display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_dir_all(src.path().join("out")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("rebuild")
        .arg("--upstream")
        .arg(up.path().join("pkg-1.0.tgz"))
        .arg("--source")
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .args(["--", "sh", "pack.sh"])
        .output()
        .unwrap();
    if stderr(&o).contains("cannot create a user namespace") {
        return common::skip("no user namespaces here");
    }
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(": BIT_FOR_BIT"), "{}", stdout(&o));
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(
        r["generic"]["command"],
        serde_json::json!(["sh", "pack.sh"])
    );
    // Recompressed upstream: equivalent, named by what differs.
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && gzip -dc pkg-1.0.tgz | gzip -1 > x && mv x pkg-1.0.tgz",
            up.path().display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let o = repro()
        .arg("rebuild")
        .arg("--upstream")
        .arg(up.path().join("pkg-1.0.tgz"))
        .arg("--source")
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .args(["--", "sh", "pack.sh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["verdict"], "EQUIVALENT", "{r}");
    assert_eq!(r["stabilizers"], serde_json::json!(["gzip-header"]), "{r}");
}

#[test]
fn generic_mode_fetches_with_network_then_builds_offline() {
    // The package vendors a dependency that a fetch step brings in (here
    // from a local "registry" directory); the build itself is offline.
    let src = tempfile::tempdir().unwrap();
    let registry = tempfile::tempdir().unwrap();
    std::fs::write(registry.path().join("dep.js"), "module.exports = 'dep';\n").unwrap();
    std::fs::create_dir(src.path().join("package")).unwrap();
    std::fs::write(src.path().join("package/index.js"), "require('./dep');\n").unwrap();
    std::fs::write(
        src.path().join("pack.sh"),
        "set -eu\n[ -f vendor/dep.js ] || { echo 'vendor/dep.js not fetched' >&2; exit 1; }\n\
         mkdir -p out\ncp vendor/dep.js package/dep.js\n\
         tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - package | gzip -n > out/pkg-1.0.tgz\n",
    )
    .unwrap();
    let up = tempfile::tempdir().unwrap();
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -e; cd {src} && mkdir vendor && cp {reg}/dep.js vendor/ && sh pack.sh && cp out/pkg-1.0.tgz {up} && rm -rf out vendor package/dep.js",
            src = src.path().display(),
            reg = registry.path().display(),
            up = up.path().display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let run = |fetch: bool| {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = repro();
        cmd.arg("rebuild")
            .arg("--upstream")
            .arg(up.path().join("pkg-1.0.tgz"))
            .arg("--source")
            .arg(src.path())
            .arg("--out")
            .arg(out.path())
            .arg("--ro-bind")
            .arg(registry.path());
        if fetch {
            cmd.arg("--fetch")
                .arg(format!(
                    "mkdir -p vendor && cp {}/dep.js vendor/",
                    registry.path().display()
                ))
                .args(["--fetch-output", "vendor"]);
        }
        let o = cmd.args(["--", "sh", "pack.sh"]).output().unwrap();
        (o, out)
    };
    let (o, out) = run(true);
    if stderr(&o).contains("cannot create a user namespace") {
        return common::skip("no user namespaces here");
    }
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["verdict"], "BIT_FOR_BIT", "{r}");
    assert_eq!(r["fetched"][0]["path"], "vendor/dep.js", "{r}");
    let st = read_json(&out.path().join("statement.json"));
    let deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert!(
        deps.iter()
            .any(|d| d["name"] == "vendor/dep.js" && d["annotations"]["fetched"] == true),
        "{st}"
    );
    // Without the fetch step the offline build cannot find its dependency.
    let (o, out) = run(false);
    assert_eq!(o.status.code(), Some(2), "{}\n{}", stdout(&o), stderr(&o));
    let r = read_json(&out.path().join("rebuild.json"));
    assert_eq!(r["verdict"], "FAILED", "{r}");
    assert_eq!(r["failure"]["stage"], "build", "{r}");
}

#[test]
fn fetch_flags_belong_to_generic_mode() {
    let o = repro()
        .args(["rebuild", "pypi:attrs==26.1.0", "--fetch", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--upstream"), "{}", stderr(&o));
}
