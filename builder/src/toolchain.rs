//! What the build really runs: the build command's program and the
//! toolchains (python, cc, rustc, node, go, …) as the build sees them
//! inside its sandbox, with versions and digests for the report and the
//! provenance.
//!
//! The host's PATH lookup is not the answer: a shim under a home directory
//! (`~/.pyenv/shims/python3`) is first on the host but invisible in the
//! sandbox, where `/usr/bin/python3` runs instead. So the survey runs in a
//! sandbox configured like the build's and reports what `command -v` finds
//! there; the parent then hashes those files (binds keep host paths).
//! When the build command itself cannot be found inside but exists on the
//! host, the error names the exact flags that make it visible.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::config::BuildConfig;
use crate::probe;

/// Toolchain programs surveyed when present, each with the command that
/// prints its version on the first line (of stdout or stderr).
const SURVEYED: &[(&str, &str)] = &[
    ("python3", "python3 --version"),
    ("cc", "cc --version"),
    ("gcc", "gcc --version"),
    ("clang", "clang --version"),
    ("rustc", "rustc --version"),
    ("cargo", "cargo --version"),
    ("node", "node --version"),
    ("npm", "npm --version"),
    ("go", "go version"),
    ("java", "java -version"),
    ("make", "make --version"),
];

/// A program the build ran or could run, as the build saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tool {
    /// `command` for the build command's program, `toolchain` otherwise.
    #[serde(default = "default_role")]
    pub role: String,
    /// The name looked up (`python3`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Absolute path inside the sandbox (the same path on the host).
    pub path: String,
    /// The file it resolves to on the host, when it is a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// Lowercase hex SHA-256 of the executable; empty when it could not
    /// be read (then `error` says why).
    #[serde(default)]
    pub sha256: String,
    /// First line its version command printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it could not be hashed: recorded, never dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn default_role() -> String {
    "command".into()
}

/// Surveys the build's view: the command's program first, then every
/// surveyed toolchain present. A command program found on the host but
/// not inside is an error whose message gives the flags that fix it.
pub fn survey(cfg: &BuildConfig, scratch: &Path) -> Result<Vec<Tool>> {
    let program = cfg.command.first().map(String::as_str).unwrap_or_default();
    // A program given relative to the build dir (./build.sh) is part of
    // the source, which the source digest covers.
    let survey_command = !program.contains('/') || program.starts_with('/');
    let mut script = String::from("set +e\n");
    if survey_command {
        // The file execvp would run, as the sandbox starts the command:
        // `command -v` would name the shell's builtin for `true` or `echo`.
        script.push_str(&format!(
            "p=\nset -f\ncase {q} in /*) [ -f {q} ] && [ -x {q} ] && p={q} ;; \
             *) IFS=:; for d in $PATH; do [ -n \"$d\" ] || d=.; \
             if [ -f \"$d\"/{q} ] && [ -x \"$d\"/{q} ]; then p=\"$d\"/{q}; break; fi; done; unset IFS ;; esac\n\
             set +f\n\
             if [ -n \"$p\" ]; then printf 'command\\t%s\\t%s\\t\\n' {q} \"$p\"; \
             else printf 'missing\\t%s\\t\\t\\n' {q}; fi\n",
            q = shell_quote(program)
        ));
    }
    // The version commands run side by side (npm alone takes half a
    // second), each into its own file, printed in a fixed order after.
    // A toolchain that `command -v` names without a path is a builtin of
    // the shell (a fresh `sh -c` has no aliases or functions): part of
    // the shell, not a tool of its own.
    for (i, (name, version)) in SURVEYED.iter().enumerate() {
        script.push_str(&format!(
            "p=$(command -v {name}) && case $p in /*) (v=$({version} 2>&1 </dev/null | head -n 1); \
             printf 'toolchain\\t{name}\\t%s\\t%s\\n' \"$p\" \"$v\" > /tmp/.repro-survey-{i:02}) & esac\n"
        ));
    }
    script.push_str("wait\ncat /tmp/.repro-survey-* 2>/dev/null\n");
    let (outcome, text) = probe::survey_run(cfg, &script, scratch)?;
    if !outcome.success() {
        bail!("surveying the build's toolchain in the sandbox: the survey {outcome}: {text}");
    }
    let mut found = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(4, '\t');
        let (Some(role), Some(name), Some(path), version) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if role == "missing" {
            return Err(not_visible(cfg, name));
        }
        found.push((role, name, path, version.filter(|v| !v.is_empty())));
    }
    use rayon::prelude::*;
    Ok(found
        .into_par_iter()
        .map(|(role, name, path, version)| describe(role, name, path, version))
        .collect())
}

/// Hashes the file the build sees at `path` (the same path on the host).
fn describe(role: &str, name: &str, path: &str, version: Option<&str>) -> Tool {
    let mut tool = Tool {
        role: role.into(),
        name: Some(name.into()),
        path: path.into(),
        resolved: None,
        sha256: String::new(),
        version: version.map(str::to_string),
        error: None,
    };
    if !Path::new(path).is_absolute() {
        // Found through a relative PATH entry: relative to the survey's
        // directory in the sandbox, so resolving it on the host would
        // find an unrelated file (one in repro's working directory).
        tool.error = Some(format!(
            "unresolved: `{path}` names no file in the sandbox (relative to a directory on PATH)"
        ));
        return tool;
    }
    match std::fs::canonicalize(path) {
        Ok(real) => {
            if real != Path::new(path) {
                tool.resolved = Some(real.display().to_string());
            }
            match diffoscope_lite::sha256_file(&real) {
                Ok(d) => tool.sha256 = d.hex(),
                Err(e) => tool.error = Some(format!("hashing {}: {e}", real.display())),
            }
        }
        Err(e) => tool.error = Some(format!("resolving {path} on the host: {e}")),
    }
    tool
}

/// The error for a build command the sandbox cannot find: where the host
/// finds it, and the exact flags that make it visible.
fn not_visible(cfg: &BuildConfig, program: &str) -> anyhow::Error {
    let host = sandbox::program_candidates(
        std::ffi::OsStr::new(program),
        &std::env::var_os("PATH").unwrap_or_default(),
    )
    .into_iter()
    .find(|p| p.is_absolute() && p.is_file());
    let Some(host) = host else {
        return anyhow::anyhow!(
            "build command {program:?} is not found on PATH, on the host or in the sandbox \
             (give an absolute path, or fix PATH)"
        );
    };
    let (binds, env) = visibility_flags(&host);
    let mut flags: Vec<String> = binds
        .iter()
        .map(|b| format!("--ro-bind {}", b.display()))
        .collect();
    flags.extend(
        env.iter()
            .map(|(k, v)| format!("--env {k}={}", v.display())),
    );
    let bound = if cfg.ro_binds.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = cfg
            .ro_binds
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(" (bound so far: {})", list.join(", "))
    };
    // `--toolchain B` is offered only where it gives exactly these binds
    // and variables: a program bound alone, say, has no toolchain to name.
    let shorter = binds
        .first()
        .filter(|b| b.is_dir() && toolchain_flags(b) == (binds.clone(), env.clone()))
        .map(|b| format!(" (or: --toolchain {})", b.display()))
        .unwrap_or_default();
    anyhow::anyhow!(
        "build command {program:?} resolves to {} on the host, which the sandbox does not show: \
         it sees the system directories, the source tree and what --ro-bind and --toolchain \
         add{bound}. Make it visible with: {}{shorter}",
        host.display(),
        flags.join(" "),
    )
}

/// The read-only binds (and environment) that make the program at `host`
/// work in the sandbox, for the common toolchain layouts: rustup
/// (`~/.cargo/bin` + `~/.rustup`), pyenv (`~/.pyenv`), nvm
/// (`~/.nvm/versions/node/vX`); otherwise its installation directory.
pub fn visibility_flags(host: &Path) -> (Vec<PathBuf>, Vec<(&'static str, PathBuf)>) {
    let ancestors: Vec<&Path> = host.ancestors().collect();
    let named = |name: &str| {
        ancestors
            .iter()
            .find(|a| a.file_name().is_some_and(|n| n == name))
            .map(|p| p.to_path_buf())
    };
    if let Some(cargo) = named(".cargo") {
        let mut binds = vec![cargo.clone()];
        let mut env = vec![("CARGO_HOME", cargo.clone())];
        if let Some(rustup) = cargo.parent().map(|h| h.join(".rustup")) {
            if rustup.is_dir() {
                binds.push(rustup.clone());
                env.push(("RUSTUP_HOME", rustup));
            }
        }
        return (binds, env);
    }
    if let Some(pyenv) = named(".pyenv") {
        return (vec![pyenv.clone()], vec![("PYENV_ROOT", pyenv)]);
    }
    if let Some(nvm) = named(".nvm") {
        // Only the node version in use: ~/.nvm/versions/node/vX.
        let version = ancestors
            .iter()
            .find(|a| {
                a.parent()
                    .and_then(Path::parent)
                    .is_some_and(|p| p == nvm.join("versions"))
            })
            .map(|p| p.to_path_buf())
            .unwrap_or(nvm);
        return (vec![version], Vec::new());
    }
    // /opt/go/bin/go → /opt/go; /opt/tools/x → /opt/tools. A program
    // right in a directory the sandbox mounts itself (/tmp/x, /home/x) is
    // bound alone: the sandbox refuses a bind that would cover its mounts.
    let dir = host.parent().unwrap_or(host);
    let install = if dir.file_name().is_some_and(|n| n == "bin") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    let bind = [install, dir]
        .into_iter()
        .find(|p| bindable(p))
        .unwrap_or(host);
    (vec![bind.to_path_buf()], Vec::new())
}

/// Whether the sandbox accepts `--ro-bind path`: it may not cover a
/// mount of the sandbox's own (/tmp, /proc, /dev, HOME, the build dir,
/// for any variation) nor lie under /proc, /dev or the build dir.
fn bindable(path: &Path) -> bool {
    let root = Path::new("/");
    let mut own = vec![
        PathBuf::from("/tmp"),
        PathBuf::from("/proc"),
        PathBuf::from("/dev"),
    ];
    let mut inside = vec![PathBuf::from("/proc"), PathBuf::from("/dev")];
    for varied in [false, true] {
        own.push(sandbox::variations::home_under(Path::new("/home"), varied));
        let build = sandbox::variations::build_dir_under(root, varied);
        own.push(build.clone());
        inside.push(build);
    }
    !own.iter().any(|m| m.starts_with(path)) && !inside.iter().any(|m| path.starts_with(m))
}

/// The binds and environment for `--toolchain PATH`: a program or a
/// directory of one of the known layouts, else the directory itself (or
/// a program's install directory).
pub fn toolchain_flags(path: &Path) -> (Vec<PathBuf>, Vec<(&'static str, PathBuf)>) {
    let known = [".cargo", ".rustup", ".pyenv", ".nvm"];
    let in_layout = path
        .ancestors()
        .any(|a| a.file_name().is_some_and(|n| known.iter().any(|k| n == *k)));
    if path.is_dir() && !in_layout {
        return (vec![path.to_path_buf()], Vec::new());
    }
    if path.file_name().is_some_and(|n| n == ".rustup") {
        // rustup's data alone: its ~/.cargo holds the proxies.
        if let Some(cargo) = path.parent().map(|h| h.join(".cargo")) {
            return visibility_flags(&cargo.join("bin"));
        }
    }
    visibility_flags(&path.join("bin"))
}

/// `s` quoted for sh.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_give_the_binds_that_make_them_work() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join(".rustup")).unwrap();
        let (b, e) = visibility_flags(&home.join(".cargo/bin/cargo"));
        assert_eq!(b, [home.join(".cargo"), home.join(".rustup")]);
        assert_eq!(
            e,
            [
                ("CARGO_HOME", home.join(".cargo")),
                ("RUSTUP_HOME", home.join(".rustup"))
            ]
        );
        let (b, e) = visibility_flags(&home.join(".pyenv/shims/python3"));
        assert_eq!(b, [home.join(".pyenv")]);
        assert_eq!(e, [("PYENV_ROOT", home.join(".pyenv"))]);
        let (b, _) = visibility_flags(&home.join(".nvm/versions/node/v20.1.0/bin/node"));
        assert_eq!(b, [home.join(".nvm/versions/node/v20.1.0")]);
        let (b, _) = visibility_flags(Path::new("/opt/go/bin/go"));
        assert_eq!(b, [PathBuf::from("/opt/go")]);
    }

    #[test]
    fn a_program_in_a_directory_the_sandbox_mounts_is_bound_alone() {
        // Binding /tmp or /home would cover the sandbox's own mounts.
        for program in ["/tmp/tool", "/home/tool"] {
            let (b, _) = visibility_flags(Path::new(program));
            assert_eq!(b, [PathBuf::from(program)], "{program}");
        }
        let (b, _) = visibility_flags(Path::new("/tmp/bin/tool"));
        assert_eq!(b, [PathBuf::from("/tmp/bin")]);
        let (b, _) = visibility_flags(Path::new("/tmp/x/bin/tool"));
        assert_eq!(b, [PathBuf::from("/tmp/x")]);
        let (b, _) = visibility_flags(Path::new("/home/user/bin/tool"));
        assert_eq!(b, [PathBuf::from("/home/user")]);
        assert!(!bindable(Path::new("/")));
        assert!(!bindable(Path::new("/build")));
        assert!(!bindable(Path::new("/proc/self")));
        assert!(bindable(Path::new("/opt/go")));
    }

    #[test]
    fn toolchain_paths_name_their_layout() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        for d in [
            ".cargo/bin",
            ".rustup",
            ".pyenv/shims",
            ".nvm/versions/node/v20.1.0/bin",
            "opt/go/bin",
        ] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        let (b, e) = toolchain_flags(&home.join(".cargo"));
        assert_eq!(b, [home.join(".cargo"), home.join(".rustup")]);
        assert_eq!(e.len(), 2);
        assert_eq!(toolchain_flags(&home.join(".rustup")).0, b);
        assert_eq!(
            toolchain_flags(&home.join(".pyenv")).0,
            [home.join(".pyenv")]
        );
        assert_eq!(
            toolchain_flags(&home.join(".nvm/versions/node/v20.1.0")).0,
            [home.join(".nvm/versions/node/v20.1.0")]
        );
        assert_eq!(
            toolchain_flags(&home.join("opt/go")).0,
            [home.join("opt/go")]
        );
    }

    #[test]
    fn a_tool_that_cannot_be_resolved_is_recorded_unresolved() {
        let tool = describe("command", "tool", "bin/tool", None);
        assert_eq!(tool.sha256, "");
        assert_eq!(tool.resolved, None);
        let error = tool.error.unwrap_or_default();
        assert!(
            error.starts_with("unresolved: `bin/tool` names no file"),
            "{error}"
        );
        let tool = describe("toolchain", "cc", "/nonexistent/repro/cc", None);
        assert_eq!(tool.sha256, "");
        let error = tool.error.unwrap_or_default();
        assert!(error.contains("/nonexistent/repro/cc"), "{error}");
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
