//! End-to-end tests of the sandbox and the variations: probes run inside
//! `repro build` and report what they could see and do.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use common::{build_fixture, fixture, read_json, repro, stderr, stdout};

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

struct Built {
    out: tempfile::TempDir,
    output: Output,
}

impl Built {
    fn report(&self) -> Value {
        let text = fs::read_to_string(self.out.path().join("out/report.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// A file the control run wrote in its build dir.
    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.out.path().join("out/runs/1/src").join(rel)).unwrap()
    }
}

/// Whether the runs' memory and process limits were a cgroup's (a cgroup
/// v2 subtree is delegated to repro here) rather than rlimits.
fn cgroup_limits(sandbox: &Value) -> bool {
    sandbox["enforcement"]["mechanism"] == "cgroup2"
}

/// The recorded process limit, where the mechanism records it.
fn nproc_limit(sandbox: &Value) -> &Value {
    if cgroup_limits(sandbox) {
        &sandbox["enforcement"]["pids_max"]
    } else {
        &sandbox["rlimits"]["nproc"]
    }
}

/// Builds a one-file project whose build.sh is `script`.
fn probe(script: &str, extra: &[&str], configure: impl FnOnce(&mut Command)) -> Built {
    let src = tempfile::tempdir().unwrap();
    fs::write(
        src.path().join("build.sh"),
        format!("set -u\nmkdir -p dist\n{script}\n"),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    // Open enough for a probe run as an unprivileged user (see `as_nobody`).
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(src.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(out.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let mut cmd = repro();
    cmd.arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(out.path().join("out"))
        .args(["--source-date-epoch", "1700000000", "--artifacts", "dist/*"])
        .args(["--vary=-all", "--bisect-budget", "0", "--keep-runs", "all"])
        .args(extra)
        .args(["--", "sh", "build.sh"]);
    configure(&mut cmd);
    let output = cmd.output().unwrap();
    Built { out, output }
}

#[test]
fn leaky_fixtures_are_caught_and_the_culprit_named() {
    for (fixture_name, culprit) in [
        ("leaks-hostname", "domain_host"),
        ("leaks-umask", "umask"),
        ("leaks-timezone", "timezone"),
        ("leaks-locale", "locales"),
        ("leaks-user", "user_group"),
        ("leaks-cpus", "num_cpus"),
        ("leaks-home", "home"),
        ("leaks-kernel", "kernel"),
        ("leaks-path", "build_path"),
    ] {
        let (o, out) = build_fixture(fixture_name, &["--bisect"]);
        let r = read_json(&out.path().join("out/report.json"));
        if let Some(reason) = common::unavailable_reason(&r, culprit) {
            common::skip(&format!(
                "{fixture_name}: {culprit} is unavailable here: {reason}"
            ));
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{fixture_name}: {}", stderr(&o));
        let stdout = stdout(&o);
        assert!(
            stdout.contains(&format!("caused by {culprit} (")),
            "{fixture_name}: {stdout}"
        );
        let r = read_json(&out.path().join("out/report.json"));
        assert_eq!(r["bisect"]["culprits"], serde_json::json!([[culprit]]));
        assert_eq!(r["bisect"]["complete"], true);
        assert_eq!(r["bisect"]["nondeterministic"], false);
    }
}

#[test]
fn directory_order_leaks_are_caught() {
    let (o, out) = build_fixture("leaks-fileorder", &["--bisect"]);
    let r = read_json(&out.path().join("out/report.json"));
    if let Some(reason) = common::unavailable_reason(&r, "fileordering") {
        // Unavailable is reported, never a build error.
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        common::skip(&format!(
            "the fileordering variation is unavailable here: {reason}"
        ));
        return;
    }
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("caused by fileordering ("),
        "{}",
        stdout(&o)
    );
}

#[test]
fn wall_clock_leaks_are_caught() {
    // Day precision: only the shifted clock (libfaketime) exposes it.
    let (o, out) = build_fixture("leaks-date", &["--bisect"]);
    let r = read_json(&out.path().join("out/report.json"));
    match common::unavailable_reason(&r, "time") {
        None => {
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(stdout(&o).contains("caused by time ("));
        }
        Some(reason) => {
            common::skip(&format!(
                "the leaks-date check: time is unavailable: {reason}"
            ));
        }
    }
    // Nanosecond precision: differs on its own, and bisection says so.
    let (o, out) = build_fixture("leaks-time", &[]);
    assert_eq!(o.status.code(), Some(1));
    let r = read_json(&out.path().join("out/report.json"));
    assert_eq!(r["bisect"]["nondeterministic"], true);
}

#[test]
fn host_network_is_unreachable() {
    use std::os::linux::net::SocketAddrExt;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let name = format!("repro-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let script = format!(
        r#"python3 - <<'PY' > dist/net.txt
import socket
for family, addr in [(socket.AF_INET, ("127.0.0.1", {port})), (socket.AF_UNIX, "\0{name}")]:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
        print("connected")
    except OSError as e:
        print("blocked", type(e).__name__)
PY
grep -c : /proc/net/dev > dist/interfaces.txt
ip -o link 2>/dev/null | cut -d: -f2 > dist/links.txt || true"#
    );
    let b = probe(&script, &[], |_| {});
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let net = b.read("dist/net.txt");
    assert_eq!(net.matches("blocked").count(), 2, "{net}");
    // /proc/net/dev: two header lines and the loopback interface only.
    assert_eq!(b.read("dist/interfaces.txt").trim(), "1");
    assert_eq!(b.report()["sandbox"]["network"], false);

    // --network opts out, and the report says so.
    let b = probe(&script, &["--network"], |_| {});
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    assert!(b.read("dist/net.txt").contains("connected"));
    assert_eq!(b.report()["sandbox"]["network"], true);
}

#[test]
fn host_secrets_pids_and_files_are_invisible() {
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("credentials");
    fs::write(&secret, "hunter2").unwrap();
    let real_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let script = format!(
        r#"env > dist/env.txt
for p in {secret} {real_home} /root /var /run /home/{user}; do
  if [ -e "$p" ]; then echo "visible $p"; else echo "hidden $p"; fi
done > dist/paths.txt
ls /proc | grep -c '^[0-9]' > pids.txt
cat /proc/1/cmdline | tr '\0' ' ' > dist/init.txt
test -e /proc/{test_pid} && echo visible > dist/testpid.txt || echo hidden > dist/testpid.txt"#,
        secret = secret.display(),
        user = std::env::var("USER").unwrap_or_else(|_| "root".into()),
        test_pid = std::process::id(),
    );
    let b = probe(&script, &[], |c| {
        c.env("AWS_SECRET_ACCESS_KEY", "hunter2-do-not-leak");
    });
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let env = b.read("dist/env.txt");
    assert!(env.contains("SOURCE_DATE_EPOCH=1700000000"), "{env}");
    assert!(!env.contains("hunter2"), "{env}");
    let paths = b.read("dist/paths.txt");
    assert_eq!(paths.matches("hidden").count(), 6, "{paths}");
    // Outside dist/: whether grep already runs when ls reads /proc varies.
    let pids: u32 = b.read("pids.txt").trim().parse().unwrap();
    assert!(pids <= 6, "the build sees {pids} processes");
    assert_eq!(b.read("dist/testpid.txt"), "hidden\n");
}

#[test]
fn nothing_outside_the_build_dir_is_writable() {
    let host_tmp = tempfile::tempdir().unwrap();
    let marker = format!("repro-write-probe-{}", std::process::id());
    let script = format!(
        r#"for d in / /usr /etc /bin /proc/sys/kernel {host_tmp} /build; do
  if touch "$d/{marker}" 2>/dev/null; then echo "wrote $d"; else echo "denied $d"; fi
done > dist/writes.txt
for d in /tmp "$HOME" "$PWD"; do
  if touch "$d/{marker}" 2>/dev/null; then echo "wrote $d"; else echo "denied $d"; fi
done > dist/scratch.txt
echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo wrote > dist/sysctl.txt || echo denied > dist/sysctl.txt"#,
        host_tmp = host_tmp.path().display()
    );
    let b = probe(&script, &[], |_| {});
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let writes = b.read("dist/writes.txt");
    assert_eq!(writes.matches("denied").count(), 7, "{writes}");
    assert_eq!(
        b.read("dist/scratch.txt"),
        "wrote /tmp\nwrote /home/build\nwrote /build/src\n"
    );
    assert_eq!(b.read("dist/sysctl.txt"), "denied\n");
    // Writes to the sandbox's /tmp and HOME never reach the host.
    assert!(!Path::new("/tmp").join(&marker).exists());
    assert!(!host_tmp.path().join(&marker).exists());
}

#[test]
fn no_inherited_descriptors() {
    let b = probe("ls /proc/self/fd > dist/fds.txt", &[], |c| {
        // Start repro with an extra inheritable descriptor, 7.
        let program = c.get_program().to_owned();
        let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
        *c = Command::new("sh");
        c.arg("-c")
            .arg("exec 7</dev/null; exec \"$0\" \"$@\"")
            .arg(program)
            .args(args);
    });
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    // ls itself holds fd 3 for the directory it lists.
    assert_eq!(b.read("dist/fds.txt"), "0\n1\n2\n3\n");
}

#[test]
fn nothing_survives_the_timeout() {
    let b = probe(
        "(setsid sh -c 'sleep 2; touch escaped' &) ; sleep 30",
        &["--timeout", "0.5"],
        |_| {},
    );
    assert_eq!(b.output.status.code(), Some(2));
    assert!(stderr(&b.output).contains("timed out after 0.5s"));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(!b.out.path().join("out/runs/1/src/escaped").exists());
}

#[test]
#[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
fn works_as_an_unprivileged_user() {
    if !nix_is_root() {
        common::skip("the test itself is not root, so it already runs unprivileged");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut perms = fs::metadata(out.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    fs::set_permissions(out.path(), perms).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_repro"))
        .arg("build")
        .arg(fixture("hello-tarball"))
        .arg("--out")
        .arg(out.path().join("out"))
        .args(["--source-date-epoch", "1700000000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = read_json(&out.path().join("out/report.json"));
    assert_eq!(r["sandbox"]["hermetic"], true);
    assert!(r["variations"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "user_group"));
}

/// Replaces `c` by `wrapper… c`: the same program and arguments, started
/// through another command.
fn wrap(c: &mut Command, wrapper: &[&str]) {
    let program = c.get_program().to_owned();
    let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
    let mut w = Command::new(wrapper[0]);
    w.args(&wrapper[1..]).arg(program).args(args);
    *c = w;
}

/// Runs `c` as uid/gid 65534 (root only).
fn as_nobody(c: &mut Command) {
    wrap(
        c,
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ],
    );
}

/// True when `tool --version` runs (and the suite does not hide it).
fn have(tool: &str) -> bool {
    !common::hidden(tool)
        && Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// The caller's session keyring stays outside: a build can neither find a
/// key by name nor read one by id, not even a key its owner made readable
/// to everyone, started as root or as an unprivileged user, with or
/// without namespaces.
#[test]
fn the_callers_keys_are_unreachable() {
    if !have("keyctl") {
        common::skip("needs keyctl (Debian package keyutils)");
        return;
    }
    let secret = format!("hunter2-key-{}", std::process::id());
    // Outside dist/: key ids differ between runs.
    let script = r#"{ keyctl print %user:repro-test-key || echo "search failed"
keyctl print "$KEY_ID" || echo "read failed"
cat /proc/keys; } > keys.txt 2>&1
echo done > dist/done.txt"#;
    // In a session of its own, add a world-readable user key, then start
    // repro with the key's id in the build's environment.
    let add_key = format!(
        "id=$(keyctl add user repro-test-key {secret} @s) && keyctl setperm \"$id\" 0x3f3f3f3f \
         && sub=$1 && shift && exec \"$0\" \"$sub\" --env \"KEY_ID=$id\" \"$@\""
    );
    let mut users = vec![
        ("root or the test's user", false, &[][..]),
        ("--sandbox none", false, &["--sandbox", "none"][..]),
    ];
    if nix_is_root() {
        users.push(("an unprivileged user", true, &[][..]));
    }
    for (who, unprivileged, extra) in users {
        let b = probe(script, extra, |c| {
            wrap(c, &["keyctl", "session", "-", "sh", "-c", &add_key]);
            if unprivileged {
                as_nobody(c);
            }
        });
        assert_eq!(
            b.output.status.code(),
            Some(0),
            "{who}: {}",
            stderr(&b.output)
        );
        let keys = b.read("keys.txt");
        assert!(keys.contains("search failed"), "{who}: {keys}");
        assert!(keys.contains("read failed"), "{who}: {keys}");
        assert!(!keys.contains(&secret), "{who}: {keys}");
    }
}

fn nix_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn sandbox_none_is_recorded_as_not_hermetic() {
    let b = probe(
        "hostname > dist/h.txt",
        &["--sandbox", "none", "--vary=+all"],
        |_| {},
    );
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let r = b.report();
    assert_eq!(r["sandbox"]["mode"], "none");
    assert_eq!(r["sandbox"]["hermetic"], false);
    let unavailable: Vec<&str> = r["variations"]["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(unavailable.contains(&"domain_host") && unavailable.contains(&"user_group"));
}

#[test]
fn variation_specs_never_reset_the_set() {
    let b = probe("echo x > dist/x", &["--vary=-timezone"], |_| {});
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let r = b.report();
    // probe() starts from "-all": "-timezone" on top of it keeps it empty...
    assert_eq!(r["variations"]["requested"], serde_json::json!([]));
    // ...while on the default set it removes only timezone.
    let src = tempfile::tempdir().unwrap();
    fs::write(
        src.path().join("build.sh"),
        "mkdir -p dist; echo x > dist/x\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(out.path().join("out"))
        .args([
            "--source-date-epoch",
            "1",
            "--artifacts",
            "dist/*",
            "--vary=-timezone",
        ])
        .args(["--", "sh", "build.sh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = read_json(&out.path().join("out/report.json"));
    let requested = r["variations"]["requested"].as_array().unwrap();
    assert_eq!(requested.len(), 13);
    assert!(!requested.contains(&Value::from("timezone")));
    assert_eq!(r["runs"][1]["variations"].as_array().unwrap().len(), {
        r["variations"]["applied"].as_array().unwrap().len()
    });
}

#[test]
fn bad_vary_spec_is_refused() {
    let b = probe("true", &["--vary=+timezon"], |_| {});
    assert_eq!(b.output.status.code(), Some(2));
    assert!(stderr(&b.output).contains("unknown variation \"timezon\""));
}

#[test]
#[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
fn missing_user_namespaces_give_a_clear_error_and_write_nothing() {
    if !nix_is_root() {
        common::skip("needs root to limit user namespaces in a child namespace");
        return;
    }
    // user.max_user_namespaces is per user namespace: set it to 0 in a
    // throw-away one, so repro inside it cannot create its own.
    let out = tempfile::tempdir().unwrap();
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} build {} --out {} --source-date-epoch 1",
        env!("CARGO_BIN_EXE_repro"),
        fixture("hello-tarball").display(),
        out.path().join("out").display()
    );
    let o = Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("cannot create a sandbox: unshare("), "{err}");
    assert!(err.contains("--sandbox none"), "{err}");
    assert!(!out.path().join("out").exists());
}

#[test]
#[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
fn ro_binds_are_read_only_all_the_way_down_and_keep_their_path() {
    if !nix_is_root() {
        common::skip("needs root to mount a nested tmpfs in a private namespace");
        return;
    }
    let host = tempfile::tempdir().unwrap();
    let tc = host.path().join("toolchain");
    fs::create_dir_all(tc.join("nested")).unwrap();
    fs::write(tc.join("VERSION"), "1.0\n").unwrap();
    let link = host.path().join("tc-link");
    std::os::unix::fs::symlink(&tc, &link).unwrap();
    let out = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(
        src.path().join("build.sh"),
        format!(
            "mkdir -p dist\n\
             cat {link}/VERSION > dist/version.txt\n\
             for p in {link}/x {link}/nested/x; do touch \"$p\" 2>/dev/null && echo \"wrote $p\" || echo \"denied $p\"; done > dist/writes.txt\n",
            link = link.display()
        ),
    )
    .unwrap();
    // A tmpfs nested under the bound directory, in a private mount namespace.
    let script = format!(
        "mount -t tmpfs tmpfs {nested} && exec {repro} build {src} --out {out} \
         --source-date-epoch 1 --artifacts 'dist/*' --vary=-all --keep-runs all --ro-bind {link} -- sh build.sh",
        nested = tc.join("nested").display(),
        repro = env!("CARGO_BIN_EXE_repro"),
        src = src.path().display(),
        out = out.path().join("out").display(),
        link = link.display(),
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = out.path().join("out/runs/1/src/dist");
    assert_eq!(
        fs::read_to_string(run.join("version.txt")).unwrap(),
        "1.0\n"
    );
    let writes = fs::read_to_string(run.join("writes.txt")).unwrap();
    assert_eq!(writes.matches("denied").count(), 2, "{writes}");
}

/// A bind where the sandbox mounts its own file systems is refused (no
/// root needed to check that).
#[test]
fn a_bind_over_the_sandboxes_own_mounts_is_refused() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("build.sh"), "mkdir -p dist\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = repro()
        .arg("build")
        .arg(src.path())
        .arg("--out")
        .arg(out.path().join("out2"))
        .args([
            "--source-date-epoch",
            "1",
            "--artifacts",
            "dist/*",
            "--ro-bind",
            "/",
        ])
        .args(["--", "sh", "build.sh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--ro-bind /: overlaps /tmp"),
        "{}",
        stderr(&o)
    );
}

/// `repro build SRC` with its repro.toml, nothing varied, into a fresh
/// output dir; returns what it printed and the dir holding `out/`.
fn build_tree(src: &Path, extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let mut args = vec!["--source-date-epoch", "1", "--vary=-all"];
    args.extend_from_slice(extra);
    common::build_dir(src, &args)
}

#[test]
fn repro_toml_cannot_weaken_the_sandbox_by_itself() {
    let src = tempfile::tempdir().unwrap();
    fs::write(
        src.path().join("repro.toml"),
        "[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p dist; echo x > dist/x\"]\nartifacts = [\"dist/*\"]\n\
         [sandbox]\nnetwork = true\n",
    )
    .unwrap();
    let run = |extra: &[&str]| build_tree(src.path(), extra);
    let (o, _) = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("asks to weaken the sandbox with [sandbox] network = true"),
        "{}",
        stderr(&o)
    );
    for flag in ["--network", "--trust-config"] {
        let (o, out) = run(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}: {}", stderr(&o));
        assert_eq!(
            read_json(&out.path().join("out/report.json"))["sandbox"]["network"],
            true
        );
    }
}

/// A toolchain under a 0700 home (root's `~/.cargo` in a CI container):
/// the build's unprivileged uid cannot walk there, yet `--ro-bind` of it
/// works and the build runs the tool.
#[test]
#[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
fn binds_under_a_closed_home_work_as_root() {
    if !nix_is_root() {
        common::skip("needs root: an unprivileged user's own home is open to its builds");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let tc = home.path().join(".toolchain");
    fs::create_dir_all(tc.join("bin")).unwrap();
    let tool = tc.join("bin/mktool");
    fs::write(&tool, "#!/bin/sh\necho built-by-tool > dist/out.txt\n").unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let b = probe(
        &format!("{}", tool.display()),
        &["--ro-bind", tc.to_str().unwrap()],
        |_| {},
    );
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    assert_eq!(b.read("dist/out.txt"), "built-by-tool\n");
    // The report names the tool as the build saw it, with its digest.
    let r = read_json(&b.out.path().join("out/report.json"));
    let sh = &r["tools"][0];
    assert_eq!(sh["role"], "command");
    assert_eq!(sh["path"], "/usr/bin/sh");
    assert_eq!(sh["sha256"].as_str().unwrap().len(), 64);
}

/// A build command that only the host can see is refused before any run,
/// with the exact flags that make it visible.
#[test]
fn a_command_outside_the_sandbox_names_the_flags_that_fix_it() {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join(".cargo/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::create_dir_all(home.path().join(".rustup")).unwrap();
    let tool = bin.join("repro-test-tool");
    fs::write(
        &tool,
        "#!/bin/sh\nmkdir -p dist && echo \"$RUSTUP_HOME\" > dist/rustup-home\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = |extra: &[&str]| {
        repro()
            .arg("build")
            .arg(src.path())
            .arg("--out")
            .arg(out.path().join("out"))
            .args([
                "--force",
                "--source-date-epoch",
                "1",
                "--artifacts",
                "dist/*",
            ])
            .args(["--vary=-all", "--keep-runs", "all"])
            .args(extra)
            .args(["--", "repro-test-tool"])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let h = home.path().display();
    let want = format!(
        "resolves to {}/.cargo/bin/repro-test-tool on the host, which the sandbox does not show",
        h
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let flags = format!(
        "--ro-bind {h}/.cargo --ro-bind {h}/.rustup --env CARGO_HOME={h}/.cargo --env RUSTUP_HOME={h}/.rustup"
    );
    assert!(stderr(&o).contains(&flags), "{}", stderr(&o));
    assert!(!out.path().join("out/runs").exists());
    // The shorter advice works too: the layout's binds and variables.
    assert!(stderr(&o).contains(&format!("(or: --toolchain {h}/.cargo)")));
    let o = run(&["--toolchain", &format!("{h}/.cargo")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = fs::read_to_string(out.path().join("out/runs/1/src/dist/rustup-home")).unwrap();
    assert_eq!(seen, format!("{h}/.rustup\n"));
}

/// `--ro-bind P` given by the user satisfies `ro_paths = [P]` in the
/// tree's repro.toml; the refusal names the exact flags that work.
#[test]
fn ro_paths_are_satisfied_by_the_same_ro_bind() {
    let src = tempfile::tempdir().unwrap();
    let extra = tempfile::tempdir().unwrap();
    let shared = extra.path().canonicalize().unwrap();
    fs::write(shared.join("data.txt"), "from the host\n").unwrap();
    fs::write(
        src.path().join("repro.toml"),
        format!(
            "[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p dist; cat {0}/data.txt > dist/x\"]\n\
             artifacts = [\"dist/*\"]\n[sandbox]\nro_paths = [\"{0}\"]\n",
            shared.display()
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| build_tree(src.path(), extra);
    let (o, _) = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let want = format!("Pass --ro-bind {}, or --trust-config", shared.display());
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    // The advice works as given.
    let (o, out) = run(&["--ro-bind", shared.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let built = fs::read_to_string(out.path().join("out/runs/1/src/dist/x")).unwrap();
    assert_eq!(built, "from the host\n");
    let r = read_json(&out.path().join("out/report.json"));
    assert_eq!(r["sandbox"]["ro_binds"], serde_json::json!([shared]));
}

/// Runs build in an overlay of one pristine copy: what a build deletes,
/// changes and adds shows in its own tree only; the source and the other
/// runs never see it; `--run-tree copy` copies per run instead.
#[test]
fn runs_build_in_an_overlay_and_see_only_their_own_writes() {
    let script = "echo changed > keep.txt; rm gone.txt; rm -r olddir; mkdir olddir; \
                  echo new > olddir/new.txt; echo built > dist/out.txt; \
                  ls -a > dist/listing.txt";
    let src = tempfile::tempdir().unwrap();
    fs::write(
        src.path().join("build.sh"),
        format!("set -eu\nmkdir -p dist\n{script}\n"),
    )
    .unwrap();
    fs::write(src.path().join("keep.txt"), "original\n").unwrap();
    fs::write(src.path().join("gone.txt"), "to delete\n").unwrap();
    fs::create_dir(src.path().join("olddir")).unwrap();
    fs::write(src.path().join("olddir/old.txt"), "old\n").unwrap();
    for mode in ["auto", "copy"] {
        let out = tempfile::tempdir().unwrap();
        let o = repro()
            .arg("build")
            .arg(src.path())
            .arg("--out")
            .arg(out.path().join("out"))
            .args([
                "--source-date-epoch",
                "1",
                "--artifacts",
                "dist/*",
                "--vary=-all,+build_path",
            ])
            .args([
                "--keep-runs",
                "all",
                "--run-tree",
                mode,
                "--",
                "sh",
                "build.sh",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", stderr(&o));
        let r = read_json(&out.path().join("out/report.json"));
        let want = if mode == "auto" { "overlay" } else { "copy" };
        assert_eq!(r["run_tree"]["mode"], want, "{r}");
        for run in ["1", "2"] {
            let tree = out.path().join("out/runs").join(run).join("src");
            assert_eq!(
                fs::read_to_string(tree.join("keep.txt")).unwrap(),
                "changed\n"
            );
            assert!(!tree.join("gone.txt").exists(), "{mode} run {run}");
            assert!(!tree.join("olddir/old.txt").exists(), "{mode} run {run}");
            assert_eq!(
                fs::read_to_string(tree.join("olddir/new.txt")).unwrap(),
                "new\n"
            );
            assert_eq!(
                fs::read_to_string(tree.join("dist/out.txt")).unwrap(),
                "built\n"
            );
            // The overlay's own directories never show in a run's tree.
            let listing = fs::read_to_string(tree.join("dist/listing.txt")).unwrap();
            assert!(
                !listing.contains("upper") && !listing.contains("work"),
                "{listing}"
            );
        }
        // The source is untouched.
        assert_eq!(
            fs::read_to_string(src.path().join("keep.txt")).unwrap(),
            "original\n"
        );
        assert!(src.path().join("gone.txt").exists());
        assert!(src.path().join("olddir/old.txt").exists());
    }
}

/// Forks until fork fails, holds the children, then reaps them; prints how
/// many it held and the errno that stopped it.
const FORK_UNTIL_REFUSED: &str = r#"python3 - <<'PY' > nproc.txt
import errno, os, signal
kids, failure = [], None
for _ in range(FORKS):
    try:
        pid = os.fork()
    except OSError as e:
        failure = errno.errorcode[e.errno]
        break
    if pid == 0:
        signal.pause()
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print(len(kids), failure)
PY
echo done > dist/done.txt"#;

/// A fork bomb runs into the process limit: fork fails inside with
/// EAGAIN, and the build still finishes.
#[test]
fn fork_bombs_are_bounded() {
    let script = FORK_UNTIL_REFUSED.replace("FORKS", "200");
    let b = probe(&script, &["--rlimit-nproc", "50"], |_| {});
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let line = b.read("nproc.txt");
    let (held, failure) = line.trim().split_once(' ').unwrap();
    let held: u32 = held.parse().unwrap();
    assert_eq!(failure, "EAGAIN", "{line}");
    // The sandbox's own processes (PID 1, sh, python3) count too.
    assert!((40..50).contains(&held), "{line}");
    assert_eq!(*nproc_limit(&b.report()["sandbox"]), 50);
}

/// In a sandbox the process limit counts the run's own processes only:
/// more processes than the limit, running on the host as the build's host
/// uid (a concurrent run's, say), take nothing from it.
#[test]
fn the_process_limit_counts_only_the_runs_own_processes() {
    use std::os::unix::process::CommandExt as _;
    let mut sleepers = if nix_is_root() {
        // A root-started build runs as the fixed mapped id.
        let id = sandbox::ROOT_MAPPED_ID.to_string();
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={id}"))
            .arg(format!("--regid={id}"))
            .args(["--clear-groups", "--", "sh"]);
        c
    } else {
        Command::new("sh")
    };
    let mut sleepers = sleepers
        .args([
            "-c",
            "for i in $(seq 60); do sleep 60 & done; echo ready; wait",
        ])
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(sleepers.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    let script = FORK_UNTIL_REFUSED.replace("FORKS", "10");
    let b = probe(&script, &["--rlimit-nproc", "50"], |_| {});
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", sleepers.id())])
        .status();
    let _ = sleepers.wait();
    assert_eq!(ready, "ready\n");
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    assert_eq!(b.read("nproc.txt"), "10 None\n");
}

/// Each writable tmpfs has a size cap: writing past it fails with ENOSPC.
#[test]
fn tmpfs_writes_past_the_cap_fail() {
    let script = r#"for d in /tmp "$HOME" /dev/shm /dev; do
  if head -c 4194304 /dev/zero > "$d/fill" 2>/dev/null; then echo "wrote $d"; else echo "full $d"; fi
  rm -f "$d/fill"
done > dist/tmpfs.txt 2>&1
dd if=/dev/zero of=/tmp/fill bs=1M count=4 2>&1 | grep -o 'No space left on device' > dist/error.txt"#;
    let b = probe(script, &["--tmpfs-size", "1M"], |_| {});
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    assert_eq!(
        b.read("dist/tmpfs.txt"),
        "full /tmp\nfull /home/build\nfull /dev/shm\nfull /dev\n"
    );
    assert_eq!(b.read("dist/error.txt"), "No space left on device\n");
    let sizes = &b.report()["sandbox"]["tmpfs_sizes"];
    for mount in ["/tmp", "HOME", "/dev/shm", "/dev", "/"] {
        assert_eq!(sizes[mount], 1 << 20, "{mount}: {sizes}");
    }
}

/// MemTotal of /proc/meminfo in bytes.
fn physical_memory() -> u64 {
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    kib * 1024
}

/// The default limits are recorded, each flag changes its own, and 0
/// lifts one.
#[test]
fn limits_have_defaults_that_flags_change() {
    let b = probe("echo x > dist/x", &[], |_| {});
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let s = &b.report()["sandbox"];
    assert_eq!(*nproc_limit(s), 4096);
    let ram = physical_memory();
    assert_eq!(s["memory"]["max"], ram);
    assert!(s["enforcement"]["detail"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    if cgroup_limits(s) {
        assert_eq!(s["memory"]["mechanism"], "cgroup v2 memory.max");
        assert_eq!(s["rlimits"], serde_json::json!({}));
    } else {
        assert_eq!(s["enforcement"]["mechanism"], "rlimit");
        assert_eq!(s["memory"]["mechanism"], "RLIMIT_AS");
        assert_eq!(s["rlimits"]["address_space"], ram);
    }
    assert_eq!(s["tmpfs_sizes"]["/tmp"], 4u64 << 30);
    assert_eq!(s["tmpfs_sizes"]["HOME"], 4u64 << 30);
    assert_eq!(s["tmpfs_sizes"]["/dev/shm"], 4u64 << 30);
    assert_eq!(s["tmpfs_sizes"]["/"], 1 << 20);

    let b = probe(
        "echo x > dist/x",
        &[
            "--rlimit-nproc",
            "0",
            "--memory-max",
            "0",
            "--tmpfs-size",
            "0",
        ],
        |_| {},
    );
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let s = &b.report()["sandbox"];
    assert_eq!(s["rlimits"], serde_json::json!({}));
    assert_eq!(*nproc_limit(s), Value::Null);
    assert_eq!(s["memory"], Value::Null);
    assert_eq!(s["tmpfs_sizes"]["/tmp"], Value::Null);
    assert_eq!(s["tmpfs_sizes"]["/"], 1 << 20);
}

/// Allocates and touches 512 MiB, a page at a time.
const ALLOCATE_512M: &str = r#"python3 - <<'PY' > dist/alloc.txt
try:
    block = bytearray(512 << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    print("allocated")
except MemoryError:
    print("refused")
PY"#;

/// The memory limit holds. As RLIMIT_AS an allocation past it fails
/// inside the build.
#[test]
fn allocations_past_the_memory_limit_fail() {
    let b = probe(ALLOCATE_512M, &["--memory-max", "256M"], |_| {});
    let s = &b.report()["sandbox"];
    if cgroup_limits(s) {
        eprintln!("skipped: the limits are a cgroup's here (see the memory.max test)");
        return;
    }
    assert_eq!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    assert_eq!(b.read("dist/alloc.txt"), "refused\n");
    assert_eq!(s["memory"]["max"], 256 << 20);
    assert_eq!(s["rlimits"]["address_space"], 256 << 20);
}

/// With cgroup v2, a build that touches more than memory.max is killed by
/// the OOM killer, and the run says so with the limit it hit. (Where no
/// cgroup v2 subtree is delegated, as on a hybrid cgroup layout, this
/// checks only that the report says why.)
#[test]
fn a_build_past_memory_max_is_killed_with_the_reason() {
    let b = probe(ALLOCATE_512M, &["--memory-max", "256M"], |_| {});
    let report = b.report();
    let s = &report["sandbox"];
    if !cgroup_limits(s) {
        let why = s["enforcement"]["detail"].as_str().unwrap();
        eprintln!("skipped: no delegated cgroup v2 here: {why}");
        assert_eq!(s["enforcement"]["mechanism"], "rlimit");
        assert!(!why.is_empty());
        return;
    }
    assert_eq!(s["memory"]["mechanism"], "cgroup v2 memory.max");
    assert_ne!(b.output.status.code(), Some(0), "{}", stderr(&b.output));
    let outcome = report["runs"][0]["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("ran out of memory")
            && outcome.contains(&format!("memory limit of {} bytes", 256u64 << 20)),
        "{outcome}"
    );
}

/// repro.toml may tighten the limits but not lift them on its own.
#[test]
fn repro_toml_cannot_lift_the_limits_by_itself() {
    let src = tempfile::tempdir().unwrap();
    let write = |sandbox: &str| {
        fs::write(
            src.path().join("repro.toml"),
            format!(
                "[build]\ncommand = [\"sh\", \"-c\", \"mkdir -p dist; echo x > dist/x\"]\nartifacts = [\"dist/*\"]\n\
                 [sandbox]\n{sandbox}\n"
            ),
        )
        .unwrap();
    };
    write("nproc = 0");
    let (o, _) = build_tree(src.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("[sandbox] nproc above the default (pass --rlimit-nproc)"),
        "{}",
        stderr(&o)
    );
    write("nproc = 100\ntmpfs_size = 1048576");
    let (o, out) = build_tree(src.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = &read_json(&out.path().join("out/report.json"))["sandbox"];
    assert_eq!(*nproc_limit(s), 100);
    assert_eq!(s["tmpfs_sizes"]["/tmp"], 1 << 20);
}
