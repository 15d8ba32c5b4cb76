//! Run one build: prepare the plan, fork, wait with a deadline, decode how
//! it ended.

use std::fs::File;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use crate::cgroup::RunCgroup;
use crate::layout::{self, outside_ids};
use crate::{limit_mechanism, sys, Error, Isolation, LimitMechanism, Result, RunSpec};

/// How a build step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exited on its own with this code.
    Exited(i32),
    /// Killed by this signal (not by repro's timeout).
    Signaled(i32),
    /// Killed by repro when the timeout ran out.
    TimedOut(Duration),
    /// Killed by repro because the caller's tick asked to stop.
    Stopped,
    /// Failed after the OOM killer killed processes of the run's cgroup
    /// (cgroup v2 only: with rlimits an allocation fails instead).
    OutOfMemory {
        /// The run's memory.max in bytes, if it had one.
        limit: Option<u64>,
        /// How many processes were killed.
        kills: u64,
    },
}

impl Outcome {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited(0))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with code {code}"),
            Outcome::Signaled(sig) => write!(f, "was killed by signal {sig}"),
            Outcome::TimedOut(t) => {
                write!(f, "timed out after {}s and was killed", t.as_secs_f64())
            }
            Outcome::Stopped => f.write_str("was stopped and killed"),
            Outcome::OutOfMemory { limit, kills } => {
                write!(
                    f,
                    "ran out of memory: the OOM killer killed {kills} of its processes"
                )?;
                match limit {
                    Some(max) => write!(
                        f,
                        " when it reached its memory limit of {max} bytes (cgroup v2 memory.max; \
                         raise it with --memory-max)"
                    ),
                    None => f.write_str(" (the machine ran out of memory)"),
                }
            }
        }
    }
}

const USERNS_HINT: &str = "user namespaces seem to be unavailable to this process. Check \
`sysctl kernel.unprivileged_userns_clone user.max_user_namespaces \
kernel.apparmor_restrict_unprivileged_userns` (the first must be 1, the second > 0, the \
third 0), or a container runtime that forbids unshare(2); run repro where they are allowed, \
or pass --sandbox none (the report and provenance then record that the build was not hermetic)";

/// Checks (once per process) that sandboxed runs are possible here, so a
/// missing kernel feature fails before any work with a hint how to proceed.
pub fn check_namespaces() -> Result<()> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = PROBE.get_or_init(|| {
        let (_, _, drop_to) = outside_ids();
        sys::probe_namespaces(drop_to).map_err(|e| match e {
            sys::ProbeError::Unshare(e) => format!(
                "unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWNET|CLONE_NEWUTS|CLONE_NEWIPC) failed: {}",
                e.desc()
            ),
            sys::ProbeError::Drop(e) => format!(
                "dropping from root to uid/gid {} before creating the namespaces failed: {}",
                crate::ROOT_MAPPED_ID,
                e.desc()
            ),
            sys::ProbeError::Process(e) => format!("starting the probe process failed: {}", e.desc()),
        })
    });
    match result {
        Ok(()) => Ok(()),
        Err(reason) => Err(Error::NamespacesUnavailable {
            reason: reason.clone(),
            hint: USERNS_HINT.to_string(),
        }),
    }
}

/// How often [`run_observed`] reports that the run is still going.
pub const TICK: Duration = Duration::from_millis(250);

/// Runs `spec` to completion and returns how it ended plus its wall time.
pub fn run(spec: &RunSpec) -> Result<(Outcome, Duration)> {
    run_observed(spec, &mut |_| ControlFlow::Continue(()))
}

/// Like [`run`], calling `tick` with the elapsed time about every [`TICK`]
/// while the build runs (from this thread), so a caller can show progress,
/// stream the log or say that a long build is still alive. When `tick`
/// returns `Break` (say, on an [`interrupt`](crate::interrupt)), the run's
/// process tree is killed and the outcome is [`Outcome::Stopped`].
pub fn run_observed(
    spec: &RunSpec,
    tick: &mut dyn FnMut(Duration) -> ControlFlow<()>,
) -> Result<(Outcome, Duration)> {
    run_limited(spec, tick, limit_mechanism())
}

/// Processes of the sandbox's own in a run's cgroup besides the build's:
/// with namespaces C1, PID 1 and the disorderfs helper.
fn sandbox_processes(isolation: Isolation) -> u64 {
    match isolation {
        Isolation::Namespaces => 3,
        // The forked child becomes the build.
        Isolation::None => 0,
    }
}

/// [`run_observed`] with the limits enforced by `mechanism`.
pub(crate) fn run_limited(
    spec: &RunSpec,
    tick: &mut dyn FnMut(Duration) -> ControlFlow<()>,
    mechanism: &LimitMechanism,
) -> Result<(Outcome, Duration)> {
    if spec.argv.is_empty() {
        return Err(Error::EmptyCommand);
    }
    let log = File::create(&spec.log).map_err(|source| Error::Io {
        action: "create log file",
        path: spec.log.clone(),
        source,
    })?;
    let scratch = match spec.isolation {
        Isolation::Namespaces => {
            if let (_, _, Some(d)) = outside_ids() {
                chown_tree(&spec.host_dir, d.uid, d.gid)?;
                if let Some(o) = &spec.overlay {
                    // The lower tree is given to the build uid once, by
                    // whoever made it; the work dir is new each run.
                    chown_tree(&o.work, d.uid, d.gid)?;
                }
            }
            Some(scratch_root()?)
        }
        Isolation::None => None,
    };
    let mut plan = layout::plan(
        spec,
        scratch.as_ref().map(|t| t.path()),
        log.as_raw_fd(),
        mechanism,
    )?;
    // Made before the fork, so C1 can join it first thing; dropped (killed
    // and removed) on every error path below.
    let cgroup = match mechanism {
        LimitMechanism::CgroupV2 { parent } => Some(RunCgroup::create(
            parent,
            spec.limits.cgroup_limits(sandbox_processes(spec.isolation)),
        )?),
        LimitMechanism::Rlimit { .. } => None,
    };
    plan.cgroup = cgroup.as_ref().map(RunCgroup::join).transpose()?;

    let started = Instant::now();
    let spawned = sys::spawn(&plan).map_err(|(call, errno)| Error::Sys { call, errno })?;
    drop(log);
    let pid = spawned.pid;

    // Wait on a thread so the timeout is a channel deadline, not polling.
    let (tx, rx) = mpsc::channel();
    let isolation = spec.isolation;
    let waiter = std::thread::Builder::new()
        .name("repro-wait".into())
        .spawn(move || {
            // Without namespaces the build leads its own process group: kill
            // what it left behind. With them, PID 1's death took everything.
            let ended = match isolation {
                Isolation::None => sys::wait_then_kill_group(pid),
                Isolation::Namespaces => sys::wait_for(pid),
            };
            let _ = tx.send(());
            ended
        });
    let waiter = match waiter {
        Ok(w) => w,
        Err(e) => {
            // Nobody would reap or time out the build: stop it now.
            sys::kill_tree(pid);
            let _ = sys::wait_for(pid);
            return Err(Error::Io {
                action: "start the thread that waits for",
                path: spec.build_dir.clone(),
                source: e,
            });
        }
    };
    let killed = loop {
        let elapsed = started.elapsed();
        let slice = match spec.timeout {
            Some(limit) if elapsed >= limit => {
                break Some(Outcome::TimedOut(spec.timeout.unwrap_or_default()))
            }
            Some(limit) => TICK.min(limit - elapsed),
            None => TICK,
        };
        match rx.recv_timeout(slice) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if tick(started.elapsed()).is_break() {
                    break Some(Outcome::Stopped);
                }
            }
        }
    };
    if killed.is_some() {
        sys::kill_tree(pid);
        // Whatever escaped the process tree (a daemon of a build without
        // namespaces) is still in the cgroup.
        if let Some(c) = &cgroup {
            c.kill();
        }
    }
    let ended = match waiter.join() {
        Ok(Ok(ended)) => ended,
        Ok(Err(errno)) => {
            return Err(Error::Sys {
                call: format!("waitpid({pid})"),
                errno,
            })
        }
        Err(_) => {
            return Err(Error::Sys {
                call: "the waiter thread panicked".into(),
                errno: nix::errno::Errno::ECHILD,
            })
        }
    };
    let elapsed = started.elapsed();
    // Kills what the build left running, waits for the cgroup to empty
    // and removes it.
    let oom_kills = match cgroup {
        Some(c) => c.finish()?.oom_kills,
        None => 0,
    };
    let report = sys::read_report(spawned.report);
    if let Some(outcome) = killed {
        return Ok((outcome, elapsed));
    }
    let decoded = decode(spec, &report, ended);
    // A build that survived an OOM kill (one compiler process of many,
    // retried) keeps its status; one that failed, or whose init was the
    // victim, failed because of memory.
    match decoded {
        Ok(outcome) if outcome.success() || oom_kills == 0 => Ok((outcome, elapsed)),
        Err(e) if oom_kills == 0 => Err(e),
        _ => Ok((
            Outcome::OutOfMemory {
                limit: spec.limits.memory_max,
                kills: oom_kills,
            },
            elapsed,
        )),
    }
}

fn decode(spec: &RunSpec, report: &str, ended: sys::Ended) -> Result<Outcome> {
    let mut status = None;
    for line in report.lines() {
        let (kind, text) = line.split_once('\t').unwrap_or((line, ""));
        match kind {
            "E" => {
                return Err(Error::Setup {
                    message: text.to_string(),
                    hint: setup_hint(text),
                })
            }
            "F" => {
                return Err(Error::Exec {
                    program: spec.argv[0].clone(),
                    cwd: spec.build_dir.clone(),
                    reason: text.to_string(),
                })
            }
            "N" => {
                return Err(Error::CommandNotFound {
                    program: spec.argv[0].clone(),
                    path: spec.env.get("PATH").cloned().unwrap_or_default(),
                })
            }
            "X" => status = text.parse().ok().map(Outcome::Exited),
            "K" => status = text.parse().ok().map(Outcome::Signaled),
            _ => {}
        }
    }
    match (spec.isolation, status, ended) {
        (Isolation::Namespaces, Some(outcome), _) => Ok(outcome),
        (Isolation::Namespaces, None, _) => Err(Error::Setup {
            message: "the sandbox's init process ended without reporting the build's status".into(),
            hint: "",
        }),
        (Isolation::None, _, sys::Ended::Exited(code)) => Ok(Outcome::Exited(code)),
        (Isolation::None, _, sys::Ended::Signaled(sig)) => Ok(Outcome::Signaled(sig)),
    }
}

fn setup_hint(message: &str) -> &'static str {
    if message.starts_with("unshare") || message.contains("uid_map") {
        "\nhint: user namespaces are restricted here; see `repro build --help` or pass --sandbox none"
    } else if message.contains("type proc") {
        "\nhint: this kernel or container does not allow a new /proc inside a user namespace \
         (often because the container masks parts of /proc); pass --sandbox none"
    } else {
        ""
    }
}

/// An empty, world-traversable directory to mount the new root on.
fn scratch_root() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(".repro-root-")
        .tempdir()
        .map_err(|source| Error::Io {
            action: "create a scratch directory in",
            path: std::env::temp_dir(),
            source,
        })?;
    // The build's dropped uid must be able to reach it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(
        |source| Error::Io {
            action: "set permissions on",
            path: dir.path().to_path_buf(),
            source,
        },
    )?;
    Ok(dir)
}

/// Gives `dir` (a pristine tree about to be an overlay's lower layer) to
/// the uid a root-started build runs as, as a copy of the source for one
/// run is: the build may then read every file it could in a copy.
pub fn prepare_lower(dir: &Path) -> Result<()> {
    match outside_ids() {
        (_, _, Some(d)) => chown_tree(dir, d.uid, d.gid),
        _ => Ok(()),
    }
}

/// Gives the tree to the uid a root-started build runs as.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(|e| Error::Io {
            action: "walk",
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid)).map_err(|source| {
            Error::Io {
                action: "chown",
                path: entry.path().to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    //! Whole runs. In unit tests every forked child fails its run with
    //! [`ALLOCATED`] on its first allocation (see `sys::child::tests`), so
    //! these also check that the code between fork and exec allocates
    //! nothing on the paths they take.

    use super::*;
    use crate::sys::ALLOCATED;
    use crate::{BuildEnv, BuildUser, ResourceLimits};

    /// A run of `argv` in a fresh build dir under `dir`.
    pub(crate) fn spec(isolation: Isolation, dir: &Path, argv: &[&str]) -> RunSpec {
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let build = dir.join("build");
        std::fs::create_dir_all(&build).unwrap();
        let home_inside = match isolation {
            Isolation::None => home.clone(),
            Isolation::Namespaces => PathBuf::from("/home/build"),
        };
        RunSpec {
            argv: argv.iter().map(Into::into).collect(),
            host_dir: build.clone(),
            overlay: None,
            build_dir: match isolation {
                Isolation::None => build,
                Isolation::Namespaces => PathBuf::from("/build/src"),
            },
            env: BuildEnv::scrubbed(std::env::var_os("PATH"), &home_inside, 1, &[]).unwrap(),
            log: dir.join("log"),
            timeout: Some(Duration::from_secs(60)),
            umask: 0o022,
            isolation,
            ro_binds: Vec::new(),
            build_binds: Vec::new(),
            network: false,
            hostname: "repro".into(),
            domainname: "(none)".into(),
            user: BuildUser {
                uid: 1000,
                gid: 1000,
                name: "build".into(),
                group: "build".into(),
            },
            one_cpu: true,
            reverse_dir_order: false,
            no_aslr: true,
            uname26: false,
            limits: ResourceLimits {
                nofile: Some(1024),
                ..ResourceLimits::defaults()
            },
        }
    }

    use std::path::PathBuf;

    /// The message of a setup error, failing the test on anything else.
    fn setup_message(r: Result<(Outcome, Duration)>) -> String {
        match r {
            Err(Error::Setup { message, .. }) => {
                assert!(!message.contains(ALLOCATED), "{message}");
                message
            }
            other => panic!("expected a setup error, got {other:?}"),
        }
    }

    fn outcome(r: Result<(Outcome, Duration)>) -> Outcome {
        match r {
            Ok((o, _)) => o,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn exit_codes_come_back_without_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let s = spec(Isolation::None, dir.path(), &["sh", "-c", "exit 3"]);
        assert_eq!(outcome(run(&s)), Outcome::Exited(3));
    }

    #[test]
    fn a_missing_program_is_named_without_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let s = spec(Isolation::None, dir.path(), &["no-such-program-here"]);
        match run(&s) {
            Err(Error::CommandNotFound { program, .. }) => {
                assert_eq!(program, "no-such-program-here")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_build_dir_names_the_failing_call() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(Isolation::None, dir.path(), &["true"]);
        s.build_dir = dir.path().join("gone\nhere");
        let message = setup_message(run(&s));
        assert!(
            message.starts_with("chdir(\"")
                && message.ends_with("gone here\"): No such file or directory"),
            "{message}"
        );
    }

    #[test]
    fn exit_codes_come_back_from_the_sandbox() {
        if check_namespaces().is_err() {
            eprintln!("skipped: no user namespaces here");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let s = spec(Isolation::Namespaces, dir.path(), &["sh", "-c", "exit 4"]);
        assert_eq!(outcome(run(&s)), Outcome::Exited(4));
        let s = spec(
            Isolation::Namespaces,
            dir.path(),
            &["sh", "-c", "kill -USR1 $$"],
        );
        assert_eq!(outcome(run(&s)), Outcome::Signaled(nix::libc::SIGUSR1));
        let s = spec(Isolation::Namespaces, dir.path(), &["no-such-program-here"]);
        assert!(matches!(run(&s), Err(Error::CommandNotFound { .. })));
    }

    #[test]
    fn a_failing_call_in_pid_1_is_reported_by_the_sandbox() {
        if check_namespaces().is_err() {
            eprintln!("skipped: no user namespaces here");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(Isolation::Namespaces, dir.path(), &["true"]);
        // Longer than the kernel's 64 bytes: setdomainname fails in PID 1.
        s.domainname = "d".repeat(100);
        let message = setup_message(run(&s));
        assert_eq!(
            message,
            format!("setdomainname(\"{}\"): Invalid argument", s.domainname)
        );
    }

    /// A cgroup for tests below this process's own in the unified
    /// hierarchy (controllers are not needed for joining and cgroup.kill),
    /// removed on drop.
    struct TestCgroup(PathBuf);

    impl TestCgroup {
        fn new() -> Option<Self> {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let own =
                crate::cgroup::unified_cgroup(&std::fs::read_to_string("/proc/self/cgroup").ok()?)?
                    .to_string();
            let mounts =
                crate::cgroup::mounts(&std::fs::read_to_string("/proc/self/mountinfo").ok()?);
            let dir = crate::cgroup::cgroup_dir(&own, &mounts)?.join(format!(
                "repro-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            std::fs::create_dir(&dir).ok()?;
            Some(TestCgroup(dir))
        }
    }

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    fn alive(pid: i32) -> bool {
        // A zombie is not alive: it was killed and waits for its reaper.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
    }

    /// Whether `pid` is still alive a while after the run ended. The kernel
    /// counts a killed process out of its cgroup (`populated 0`) in
    /// `do_exit` a moment before the process becomes a zombie, so an
    /// immediate look can still see it running; a survivor stays alive.
    fn survives(pid: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) {
            if Instant::now() >= deadline {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn cgroup_run(cg: &TestCgroup, s: &RunSpec) -> Result<(Outcome, Duration)> {
        let mechanism = LimitMechanism::CgroupV2 {
            parent: cg.0.clone(),
        };
        run_limited(s, &mut |_| ControlFlow::Continue(()), &mechanism)
    }

    /// Limits off: the test cgroup has no controllers to set them with.
    fn unlimited(mut s: RunSpec) -> RunSpec {
        s.limits.memory_max = None;
        s.limits.nproc = None;
        s
    }

    #[test]
    #[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
    fn a_runs_cgroup_holds_it_kills_what_it_left_and_goes_away() {
        let Some(cg) = TestCgroup::new() else {
            panic!("no writable cgroup v2 hierarchy for the test");
        };
        let dir = tempfile::tempdir().unwrap();
        // A daemon in a session of its own escapes the process-group kill
        // of a run without namespaces, but not its cgroup.
        let script = "setsid sleep 300 & echo $! > daemon; cat /proc/self/cgroup > cgroup; exit 5";
        let s = unlimited(spec(Isolation::None, dir.path(), &["sh", "-c", script]));
        assert_eq!(outcome(cgroup_run(&cg, &s)), Outcome::Exited(5));
        let daemon: i32 = std::fs::read_to_string(s.host_dir.join("daemon"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!survives(daemon), "the build's daemon {daemon} survived");
        let inside = std::fs::read_to_string(s.host_dir.join("cgroup")).unwrap();
        assert!(inside.contains("/repro-run-"), "{inside}");
        // The run's cgroup is gone: the test's is empty and removable.
        assert_eq!(
            std::fs::read_dir(&cg.0)
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_dir())
                .count(),
            0
        );

        // With namespaces: the build's own /proc shows it in the cgroup.
        let s = unlimited(spec(
            Isolation::Namespaces,
            dir.path(),
            &["sh", "-c", "cat /proc/self/cgroup > cgroup; exit 6"],
        ));
        assert_eq!(outcome(cgroup_run(&cg, &s)), Outcome::Exited(6));
        let inside = std::fs::read_to_string(s.host_dir.join("cgroup")).unwrap();
        assert!(inside.contains("/repro-run-"), "{inside}");
    }

    #[test]
    #[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
    fn a_timed_out_run_is_killed_as_a_whole() {
        let Some(cg) = TestCgroup::new() else {
            panic!("no writable cgroup v2 hierarchy for the test");
        };
        let dir = tempfile::tempdir().unwrap();
        let script = "setsid sleep 300 & echo $! > daemon; exec sleep 300";
        let mut s = unlimited(spec(Isolation::None, dir.path(), &["sh", "-c", script]));
        s.timeout = Some(Duration::from_secs(1));
        let started = Instant::now();
        assert!(matches!(outcome(cgroup_run(&cg, &s)), Outcome::TimedOut(_)));
        assert!(started.elapsed() < Duration::from_secs(30));
        let daemon: i32 = std::fs::read_to_string(s.host_dir.join("daemon"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!survives(daemon), "the build's daemon {daemon} survived");
    }
}
