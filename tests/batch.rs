//! End-to-end tests of `repro rebuild --list` and `repro report`: the
//! demo package on a local index (fixtures/rebuild/index_server.py) and
//! generic recipes whose command is a shell script, so no network is
//! needed and each rebuild takes a second or a few.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::pypi_index::publish;
use common::{repro, stderr, stdout};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A directory with generic recipes: `ok-N.toml` rebuild BIT_FOR_BIT,
/// `broken.toml` fails to build, `slow.toml` sleeps unless `src/go`
/// exists, then builds.
struct Recipes {
    dir: tempfile::TempDir,
}

impl Recipes {
    fn new(oks: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src/package")).unwrap();
        std::fs::write(d.join("src/package/index.js"), "module.exports = 42;\n").unwrap();
        std::fs::write(
            d.join("src/pack.sh"),
            "set -eu\nmkdir -p out\ntar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - package | gzip -n > out/pkg-1.0.tgz\n",
        )
        .unwrap();
        let st = Command::new("sh")
            .arg("-c")
            .arg("cd src && sh pack.sh && mv out/pkg-1.0.tgz .. && rmdir out")
            .current_dir(d)
            .status()
            .unwrap();
        assert!(st.success());
        let recipe = |name: &str, command: &str| {
            std::fs::write(
                d.join(name),
                format!("upstream = \"pkg-1.0.tgz\"\nsource = \"src\"\ncommand = {command}\n"),
            )
            .unwrap();
        };
        for i in 0..oks {
            recipe(&format!("ok-{i}.toml"), r#"["sh", "pack.sh"]"#);
        }
        recipe("broken.toml", r#"["sh", "-c", "exit 3"]"#);
        recipe(
            "slow.toml",
            r#"["sh", "-c", "if [ -e go ]; then sh pack.sh; else sleep 60; fi"]"#,
        );
        Recipes { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `list.txt` with these lines; returns its path.
    fn list(&self, lines: &[&str]) -> PathBuf {
        let p = self.path().join("list.txt");
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    }
}

fn batch(list: &Path, out: &Path, cache: &Path, extra: &[&str]) -> Command {
    let mut c = repro();
    c.arg("rebuild")
        .arg("--list")
        .arg(list)
        .arg("--out")
        .arg(out)
        .arg("--cache")
        .arg(cache)
        .args(extra);
    c
}

fn run(mut c: Command) -> Output {
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    o
}

/// The records of `out/results.jsonl`, in order.
fn records(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// spec -> (verdict, stage, upstream sha256, rebuilt sha256) of the last
/// record of each spec.
fn outcomes(records: &[Value]) -> BTreeMap<String, (Value, Value, Value, Value)> {
    records
        .iter()
        .map(|r| {
            (
                r["spec"].as_str().unwrap().to_owned(),
                (
                    r["verdict"].clone(),
                    r["stage"].clone(),
                    r["upstream_sha256"].clone(),
                    r["rebuilt_sha256"].clone(),
                ),
            )
        })
        .collect()
}

/// True (after saying so) when this machine cannot run the sandbox.
fn no_sandbox(records: &[Value]) -> bool {
    if records.iter().any(|r| {
        r["failure"]
            .as_str()
            .is_some_and(|f| f.contains("cannot create a user namespace"))
    }) {
        common::skip("no user namespaces here");
        return true;
    }
    false
}

#[test]
fn a_list_is_rebuilt_in_parallel_recorded_and_not_redone() {
    let Some(index) = publish() else { return };
    let r = Recipes::new(2);
    let list = r.list(&[
        "# the demo and two generic rebuilds",
        "pypi:Demo==1.0",
        "",
        "generic:ok-0.toml   # a comment",
        "pypi:demo",
        "generic:ok-1.toml",
        "generic:broken.toml",
        "generic:missing.toml",
        "pypi:demo==1.0",
    ]);
    let flags = ["--index-url", &index.url];
    let two = tempfile::tempdir().unwrap();
    let o = run(batch(
        &list,
        two.path(),
        index.cache.path(),
        &[&flags[..], &["--jobs", "2"]].concat(),
    ));
    let recs = records(two.path());
    if no_sandbox(&recs) {
        return;
    }
    // Bad lines are named with their line number and skipped.
    let err = stderr(&o);
    for bad in [":5: ", ":8: ", ":9: "] {
        assert!(err.contains(&format!("list.txt{bad}")), "{bad}: {err}");
    }
    assert!(err.contains("repeats line 2"), "{err}");
    // Without a terminal: one line per finished package.
    assert_eq!(
        err.matches("] pypi:demo==1.0: BIT_FOR_BIT").count(),
        1,
        "{err}"
    );
    assert_eq!(recs.len(), 4, "{recs:?}");
    let by = outcomes(&recs);
    assert_eq!(by["pypi:demo==1.0"].0, "BIT_FOR_BIT");
    assert_eq!(by["generic:ok-0.toml"].0, "BIT_FOR_BIT");
    assert_eq!(by["generic:broken.toml"].0, "FAILED");
    assert_eq!(by["generic:broken.toml"].1, "build");
    // A record has what the dashboard needs; its paths are relative and
    // exist.
    let demo = recs.iter().find(|r| r["spec"] == "pypi:demo==1.0").unwrap();
    assert_eq!(demo["schema"], "repro-batch-result-v1");
    assert_eq!(demo["backend"], "tinybackend");
    assert!(demo["timings_ms"]["build"].is_u64(), "{demo}");
    assert!(demo["machine"].as_str().is_some_and(|m| !m.is_empty()));
    for key in ["rebuild_json", "statement", "log"] {
        let rel = demo[key].as_str().unwrap();
        assert!(two.path().join(rel).is_file(), "{key}: {rel}");
    }
    // The package's own output went to its log, not the terminal.
    let log = std::fs::read_to_string(two.path().join(demo["log"].as_str().unwrap())).unwrap();
    assert!(log.contains("backend = \"tinybackend\""), "{log}");
    assert!(!err.contains("backend = \"tinybackend\""), "{err}");

    // --jobs 1 gives the same results.
    let one = tempfile::tempdir().unwrap();
    run(batch(
        &list,
        one.path(),
        index.cache.path(),
        &[&flags[..], &["--jobs", "1"]].concat(),
    ));
    assert_eq!(outcomes(&records(one.path())), by);

    // A rerun redoes nothing; --retry-failed redoes the failure only.
    let o = run(batch(&list, two.path(), index.cache.path(), &flags));
    assert!(
        stdout(&o).contains("0 rebuilt now (none), 4 already recorded"),
        "{}",
        stdout(&o)
    );
    assert_eq!(records(two.path()).len(), 4);
    let o = run(batch(
        &list,
        two.path(),
        index.cache.path(),
        &[&flags[..], &["--retry-failed"]].concat(),
    ));
    assert!(
        stdout(&o).contains("1 rebuilt now (FAILED 1), 3 already recorded"),
        "{}",
        stdout(&o)
    );
    let recs = records(two.path());
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[4]["spec"], "generic:broken.toml");
}

/// Waits until `out` records `n` packages (or panics after a minute).
fn wait_for_records(out: &Path, n: usize) {
    let until = Instant::now() + Duration::from_secs(60);
    while records_lenient(out) < n {
        assert!(
            Instant::now() < until,
            "no {n} records in {}",
            out.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn records_lenient(out: &Path) -> usize {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with('}'))
        .count()
}

/// Pids of processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd).contains(needle) {
            found.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn an_interrupted_or_killed_batch_resumes_where_it_stopped() {
    let r = Recipes::new(2);
    let list = r.list(&[
        "generic:ok-0.toml",
        "generic:ok-1.toml",
        "generic:slow.toml",
    ]);
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let start = || {
        batch(&list, out.path(), cache.path(), &["--jobs", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Ctrl-C: the running package is stopped and not recorded.
    let mut child = start();
    wait_for_records(out.path(), 2);
    if no_sandbox(&records(out.path())) {
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 package(s) left unfinished"),
        "{}",
        stderr(&o)
    );
    let specs: Vec<Value> = records(out.path())
        .iter()
        .map(|r| r["spec"].clone())
        .collect();
    assert_eq!(specs, ["generic:ok-0.toml", "generic:ok-1.toml"]);

    // kill -9 mid-list: the package's process goes with the batch, and a
    // rerun does only what was not finished.
    let mut child = start();
    let until = Instant::now() + Duration::from_secs(30);
    while processes_with("sleep\u{0}60").is_empty() {
        assert!(Instant::now() < until, "the slow package never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while !processes_with(&out.path().to_string_lossy()).is_empty() {
        assert!(
            Instant::now() < until,
            "the killed batch's packages live on: {:?}",
            processes_with(&out.path().to_string_lossy())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::write(r.path().join("src/go"), "").unwrap();
    let o = run(batch(&list, out.path(), cache.path(), &[]));
    assert!(
        stdout(&o).contains("1 rebuilt now (BIT_FOR_BIT 1), 2 already recorded"),
        "{}",
        stdout(&o)
    );
    let specs: Vec<Value> = records(out.path())
        .iter()
        .map(|r| r["spec"].clone())
        .collect();
    assert_eq!(
        specs,
        [
            "generic:ok-0.toml",
            "generic:ok-1.toml",
            "generic:slow.toml"
        ]
    );
}

#[test]
fn a_hung_package_times_out_and_the_others_finish() {
    let r = Recipes::new(1);
    // Its own sleep: the other tests' slow builds may run meanwhile.
    std::fs::write(
        r.path().join("slow.toml"),
        "upstream = \"pkg-1.0.tgz\"\nsource = \"src\"\ncommand = [\"sleep\", \"61\"]\n",
    )
    .unwrap();
    let list = r.list(&["generic:slow.toml", "generic:ok-0.toml"]);
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let t = Instant::now();
    run(batch(
        &list,
        out.path(),
        cache.path(),
        &["--jobs", "1", "--package-timeout", "3"],
    ));
    assert!(t.elapsed() < Duration::from_secs(40), "{:?}", t.elapsed());
    let recs = records(out.path());
    if no_sandbox(&recs) {
        return;
    }
    let by = outcomes(&recs);
    assert_eq!(by["generic:slow.toml"].0, "FAILED");
    assert_eq!(by["generic:slow.toml"].1, "timeout");
    assert_eq!(by["generic:ok-0.toml"].0, "BIT_FOR_BIT");
    assert!(
        processes_with("sleep\u{0}61").is_empty(),
        "the hung build lives on"
    );
}

/// The one line of `file` that runs `repro <sub>`, as the shell gets it
/// (a YAML list item or `run:` key stripped; a pipe after it dropped).
fn command_line(file: &Path, sub: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("repro {sub} ")))
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(lines.len(), 1, "{}: {lines:?}", file.display());
    let l = lines[0]
        .trim()
        .trim_start_matches("- ")
        .trim_start_matches("run: ");
    l.split(" | ").next().unwrap().trim().to_owned()
}

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

/// Runs a deploy file's command with `sh -c`, repro first on PATH.
fn sh(line: &str, env: &[(&str, String)]) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_repro"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(line)
        .env("PATH", path)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{line}\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// The merged report's packages: spec -> (verdict, stage, hashes).
fn report_outcomes(json: &Path) -> BTreeMap<String, (Value, Value, Value, Value)> {
    let v: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    outcomes(v["packages"].as_array().unwrap())
}

#[test]
fn the_deploy_shard_commands_merge_into_the_unsharded_results() {
    let r = Recipes::new(5);
    let list = r.list(&[
        "generic:ok-0.toml",
        "generic:ok-1.toml",
        "generic:ok-2.toml",
        "generic:ok-3.toml",
        "generic:ok-4.toml",
        "generic:broken.toml",
    ]);
    let cache = tempfile::tempdir().unwrap();
    let whole = tempfile::tempdir().unwrap();
    run(batch(&list, whole.path(), cache.path(), &["--jobs", "2"]));
    if no_sandbox(&records(whole.path())) {
        return;
    }
    let whole_json = whole.path().join("report.json");
    run({
        let mut c = repro();
        c.arg("report")
            .arg(whole.path())
            .arg("--json")
            .arg(&whole_json);
        c
    });
    let expected = report_outcomes(&whole_json);
    assert_eq!(expected.len(), 6);
    let flags = format!("--cache {}", cache.path().display());
    let shards = 3;
    for (file, index_var) in [
        ("kubernetes/job.yaml", "SHARD"),
        ("github-actions/rebuild.yml", "SHARD"),
    ] {
        let results = tempfile::tempdir().unwrap();
        let rebuild = command_line(&deploy(file), "rebuild");
        let report_file = if file.starts_with("kubernetes") {
            "kubernetes/report-job.yaml"
        } else {
            file
        };
        let report = command_line(&deploy(report_file), "report");
        for i in 0..shards {
            sh(
                &rebuild,
                &[
                    ("LIST", list.display().to_string()),
                    (index_var, i.to_string()),
                    ("SHARDS", shards.to_string()),
                    ("RESULTS", results.path().display().to_string()),
                    ("JOBS", "1".into()),
                    ("REPRO_FLAGS", flags.clone()),
                ],
            );
        }
        // Every package in exactly one shard.
        let mut seen = 0;
        for i in 0..shards {
            seen += records(&results.path().join(format!("shard-{i}"))).len();
        }
        assert_eq!(seen, 6, "{file}");
        sh(
            &report,
            &[("RESULTS", results.path().display().to_string())],
        );
        assert_eq!(
            report_outcomes(&results.path().join("report.json")),
            expected,
            "{file}"
        );
        let html = std::fs::read_to_string(results.path().join("index.html")).unwrap();
        assert_eq!(html.matches("<tr id=").count(), 6, "{file}");
        // Links are relative to the page and lead to the package's files.
        let href = html
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(href.starts_with("shard-"), "{href}");
        assert!(results.path().join(href).is_file(), "{href}");
    }
    // The workflow's matrix has one entry per shard it names.
    let wf = std::fs::read_to_string(deploy("github-actions/rebuild.yml")).unwrap();
    assert!(
        wf.contains("SHARDS: 4") && wf.contains("shard: [0, 1, 2, 3]"),
        "{wf}"
    );
    let job = std::fs::read_to_string(deploy("kubernetes/job.yaml")).unwrap();
    assert!(
        job.contains("completions: 4") && job.contains("value: \"4\""),
        "{job}"
    );
}

fn record(spec: &str, verdict: &str, finished: &str, machine: &str) -> String {
    let stage = if verdict == "FAILED" {
        r#","stage":"build","failure":"boom <b>""#
    } else {
        ""
    };
    format!(
        r#"{{"schema":"repro-batch-result-v1","spec":"{spec}","verdict":"{verdict}"{stage},"backend":"setuptools 68.0","stabilizers":["zip-order"],"timings_ms":{{"build":1000}},"duration_ms":1500,"dir":"packages/x","rebuild_json":"packages/x/rebuild.json","diff":"packages/x/diff.txt","log":"packages/x/rebuild.log","started_at":"{finished}","finished_at":"{finished}","repro_version":"0.1.0","machine":"{machine}"}}"#
    ) + "\n"
}

#[test]
fn the_report_finds_regressions_and_renders_without_scripts() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    std::fs::write(
        old.path().join("results.jsonl"),
        record("pypi:a==1", "BIT_FOR_BIT", "2024-01-01T00:00:00Z", "m1")
            + &record("pypi:b==1", "EQUIVALENT", "2024-01-01T00:00:00Z", "m1")
            + &record("pypi:c==1", "DIFFERENT", "2024-01-01T00:00:00Z", "m1"),
    )
    .unwrap();
    // The new run: a regresses, b fails, c is fixed; a torn last line.
    std::fs::write(
        new.path().join("results.jsonl"),
        record("pypi:a==1", "DIFFERENT", "2024-02-01T00:00:00Z", "m2")
            + &record("pypi:b==1", "FAILED", "2024-02-01T00:00:00Z", "m2")
            + &record("pypi:c==1", "BIT_FOR_BIT", "2024-02-01T00:00:00Z", "m2")
            + &record("pypi:d==1", "BIT_FOR_BIT", "2024-02-01T00:00:00Z", "m2")
            + r#"{"schema":"repro-batch"#,
    )
    .unwrap();
    let site = tempfile::tempdir().unwrap();
    let html = site.path().join("dash/index.html");
    // Given newest first: order of directories does not decide, time does.
    let o = repro()
        .arg("report")
        .arg(new.path())
        .arg(old.path())
        .arg("--html")
        .arg(&html)
        .arg("--fail-on-regression")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("4 package(s) from 2 result directories (7 record(s))"),
        "{text}"
    );
    assert!(text.contains("BIT_FOR_BIT        2   50.0%"), "{text}");
    assert!(
        text.contains("FAILED             1   25.0%  (build 1)"),
        "{text}"
    );
    assert!(text.contains("regressions (2):"), "{text}");
    assert!(
        text.contains("pypi:a==1: BIT_FOR_BIT at 2024-01-01T00:00:00Z on m1 -> DIFFERENT"),
        "{text}"
    );
    assert!(text.contains("pypi:b==1: EQUIVALENT"), "{text}");
    assert!(!text.contains("pypi:c==1:"), "{text}");
    assert!(
        stderr(&o).contains(":5: skipping a torn last line"),
        "{}",
        stderr(&o)
    );

    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: no script, nothing fetched.
    assert!(!page.contains("<script"), "script in the page");
    for fetch in ["http:", "https:", "src=", "@import", "url("] {
        assert!(!page.contains(fetch), "{fetch} in the page");
    }
    assert!(!page.contains("boom <b>"), "unescaped");
    if which("chromium").is_none() || common::hidden("chromium") {
        return common::skip("chromium is not installed");
    }
    let dom = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(&html)
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", stderr(&dom));
    let dom = stdout(&dom);
    assert_eq!(dom.matches("<tr id=").count(), 4, "{dom}");
    assert_eq!(
        dom.matches("class=\"DIFFERENT regressed\"").count(),
        1,
        "{dom}"
    );
    assert!(dom.contains("Regressions (2)"), "{dom}");
    assert!(dom.contains("<svg id=\"chart\""), "{dom}");
    // Links lead from the page to the newest record's files.
    let link = format!(
        "href=\"{}",
        common_rel(site.path().join("dash").as_path(), new.path())
    );
    assert!(dom.contains(&link), "{link}\n{dom}");
    let shot = site.path().join("shot.png");
    let o = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1200,900",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&html)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// `to` relative to `from`, both temporary directories under one root.
fn common_rel(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut s = "../".repeat(f.len() - common);
    s += &t[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    s
}
