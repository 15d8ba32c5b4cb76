//! Run a build command with its environment, log file and timeout.

use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{sys, BuildEnv, Error, Result};

/// Everything needed to run one build step.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Program and arguments; the program is looked up on the build's PATH.
    pub argv: Vec<OsString>,
    /// Working directory of the build.
    pub cwd: PathBuf,
    /// The complete environment (nothing else is inherited).
    pub env: BuildEnv,
    /// File that receives stdout and stderr, created or truncated.
    pub log: PathBuf,
    /// Wall-clock limit; the whole process group is killed when it runs out.
    pub timeout: Option<Duration>,
    /// The umask the build starts with.
    pub umask: u32,
}

/// How a build step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exited on its own with this code.
    Exited(i32),
    /// Killed by this signal (not by repro's timeout).
    Signaled(i32),
    /// Killed by repro when the timeout ran out.
    TimedOut(Duration),
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
            Outcome::Signaled(sig) => write!(f, "killed by signal {sig}"),
            Outcome::TimedOut(t) => {
                write!(f, "timed out after {}s and was killed", t.as_secs_f64())
            }
        }
    }
}

/// Runs `spec` to completion and returns how it ended plus its wall time.
pub fn run(spec: &RunSpec) -> Result<(Outcome, Duration)> {
    let program = spec.argv.first().ok_or(Error::EmptyCommand)?;
    let log = File::create(&spec.log).map_err(|source| Error::Log {
        path: spec.log.clone(),
        source,
    })?;
    let log_err = log.try_clone().map_err(|source| Error::Log {
        path: spec.log.clone(),
        source,
    })?;

    let mut cmd = Command::new(program);
    cmd.args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.vars())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    sys::in_child_before_exec(&mut cmd, spec.umask);

    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound && !program_has_slash(program) {
            Error::CommandNotFound {
                program: program.clone(),
                path: spec.env.get("PATH").cloned().unwrap_or_default(),
            }
        } else {
            Error::Spawn {
                program: program.clone(),
                cwd: spec.cwd.clone(),
                source,
            }
        }
    })?;
    let pid = child.id();

    // Wait on a thread so the timeout is a channel deadline, not a polling loop.
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        status
    });
    let timed_out = match spec.timeout {
        Some(limit) => matches!(rx.recv_timeout(limit), Err(mpsc::RecvTimeoutError::Timeout)),
        None => {
            let _ = rx.recv();
            false
        }
    };
    // Kill the whole group, also after a normal exit: a build must not leave
    // daemons behind that outlive repro.
    sys::kill_process_group(pid);
    let status = match waiter.join() {
        Ok(status) => status.map_err(|source| Error::Wait {
            program: program.clone(),
            source,
        })?,
        Err(_) => {
            return Err(Error::Wait {
                program: program.clone(),
                source: std::io::Error::other("waiter thread panicked"),
            })
        }
    };
    let elapsed = started.elapsed();
    let outcome = if timed_out {
        Outcome::TimedOut(spec.timeout.unwrap_or_default())
    } else {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(sig)) => Outcome::Signaled(sig),
            (None, None) => Outcome::Exited(-1),
        }
    };
    Ok((outcome, elapsed))
}

fn program_has_slash(program: &OsString) -> bool {
    use std::os::unix::ffi::OsStrExt;
    program.as_bytes().contains(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(dir: &Path, script: &str, timeout: Option<Duration>) -> RunSpec {
        RunSpec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            cwd: dir.to_path_buf(),
            env: BuildEnv::scrubbed(std::env::var_os("PATH"), dir, 7, &[]).unwrap(),
            log: dir.join("log"),
            timeout,
            umask: 0o022,
        }
    }

    #[test]
    fn runs_with_scrubbed_env_umask_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let (outcome, _) = run(&spec(dir.path(), "env | sort; umask; exit 3", None)).unwrap();
        assert_eq!(outcome, Outcome::Exited(3));
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        let names: Vec<&str> = log
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| *k != "PWD" && *k != "SHLVL" && *k != "_" && *k != "OLDPWD")
            .collect();
        assert_eq!(
            names,
            ["HOME", "LANG", "LC_ALL", "PATH", "SOURCE_DATE_EPOCH", "TZ"]
        );
        assert!(log.contains("0022"), "{log}");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.to_str().unwrap());
        let (outcome, elapsed) =
            run(&spec(dir.path(), &script, Some(Duration::from_millis(300)))).unwrap();
        assert!(matches!(outcome, Outcome::TimedOut(_)), "{outcome:?}");
        assert!(elapsed < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "a background child outlived the timeout");
    }

    #[test]
    fn missing_program_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), "", None);
        s.argv = vec!["no-such-program-repro".into()];
        let err = run(&s).unwrap_err();
        assert!(matches!(err, Error::CommandNotFound { .. }), "{err}");
        assert!(err.to_string().contains("no-such-program-repro"));
    }
}
