//! What may differ between runs, named as in reprotest so its users feel
//! at home, and how each difference is produced.
//!
//! Run 1 is the *control*; later runs apply the chosen variations. A
//! [`VariationSet`] is edited by specs such as `+all,-time`: each item only
//! adds or removes what it names (a bare name adds it; `-all` empties the
//! set), so removing one variation never silently drops the others.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::{BuildEnv, BuildUser, Error, Isolation, Result};

/// One thing that may differ between the control run and a varied run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variation {
    /// A different absolute build directory, at a different depth.
    BuildPath,
    /// A different HOME path.
    Home,
    /// An extra, unrelated environment variable.
    Environment,
    /// An extra PATH entry.
    ExecPath,
    /// LANG/LC_ALL/LANGUAGE set to another UTF-8 locale.
    Locales,
    /// TZ set to a zone far from UTC.
    Timezone,
    /// umask 002 instead of 022.
    Umask,
    /// Another hostname and domain name (uts namespace).
    DomainHost,
    /// Another uid/gid and user/group name (user namespace).
    UserGroup,
    /// One CPU instead of all (sched_setaffinity).
    NumCpus,
    /// Address-space layout randomization off (personality).
    Aslr,
    /// A 2.6 kernel release in uname (personality UNAME26).
    Kernel,
    /// Directory entries listed in another order.
    FileOrdering,
    /// The wall clock shifted by +373 days (libfaketime).
    Time,
}

impl Variation {
    /// Every variation, in reporting order.
    pub const ALL: [Variation; 14] = [
        Variation::BuildPath,
        Variation::Home,
        Variation::Environment,
        Variation::ExecPath,
        Variation::Locales,
        Variation::Timezone,
        Variation::Umask,
        Variation::DomainHost,
        Variation::UserGroup,
        Variation::NumCpus,
        Variation::Aslr,
        Variation::Kernel,
        Variation::FileOrdering,
        Variation::Time,
    ];

    /// The reprotest name.
    pub fn name(self) -> &'static str {
        match self {
            Variation::BuildPath => "build_path",
            Variation::Home => "home",
            Variation::Environment => "environment",
            Variation::ExecPath => "exec_path",
            Variation::Locales => "locales",
            Variation::Timezone => "timezone",
            Variation::Umask => "umask",
            Variation::DomainHost => "domain_host",
            Variation::UserGroup => "user_group",
            Variation::NumCpus => "num_cpus",
            Variation::Aslr => "aslr",
            Variation::Kernel => "kernel",
            Variation::FileOrdering => "fileordering",
            Variation::Time => "time",
        }
    }

    /// Looks a variation up by its reprotest name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl fmt::Display for Variation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of variations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariationSet(BTreeSet<Variation>);

impl VariationSet {
    /// Every variation.
    pub fn all() -> Self {
        Self(Variation::ALL.into_iter().collect())
    }

    /// No variation (the control).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Applies comma-separated specs (`+all,-time`, `-all,+umask`, `umask`)
    /// to `self`, left to right.
    pub fn apply_spec(&mut self, spec: &str) -> Result<()> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (add, name) = match item.as_bytes()[0] {
                b'+' => (true, &item[1..]),
                b'-' => (false, &item[1..]),
                _ => (true, item),
            };
            let names: Vec<Variation> = if name == "all" {
                Variation::ALL.to_vec()
            } else {
                vec![
                    Variation::from_name(name).ok_or_else(|| Error::UnknownVariation {
                        spec: spec.to_string(),
                        name: name.to_string(),
                        known: Variation::ALL.map(Variation::name).join(", "),
                    })?,
                ]
            };
            for v in names {
                if add {
                    self.0.insert(v);
                } else {
                    self.0.remove(&v);
                }
            }
        }
        Ok(())
    }

    /// Whether `v` is in the set.
    pub fn contains(&self, v: Variation) -> bool {
        self.0.contains(&v)
    }

    /// Adds `v`.
    pub fn insert(&mut self, v: Variation) {
        self.0.insert(v);
    }

    /// The members, in reporting order.
    pub fn iter(&self) -> impl Iterator<Item = Variation> + '_ {
        self.0.iter().copied()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, for reports.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(Variation::name).collect()
    }
}

impl FromIterator<Variation> for VariationSet {
    fn from_iter<I: IntoIterator<Item = Variation>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Whether a variation can be applied on this machine, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// It can; `mechanism` says how.
    Available {
        /// How it is produced, e.g. "uts namespace".
        mechanism: &'static str,
    },
    /// It cannot; `reason` says why.
    Unavailable {
        /// Why not, and what would make it possible.
        reason: String,
    },
}

/// Where libfaketime may be installed (Debian's package `faketime`).
const FAKETIME_LIBS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
];

/// Where disorderfs may be installed (Debian's package `disorderfs`).
const DISORDERFS_PROGRAMS: &[&str] = &["/usr/bin/disorderfs", "/usr/local/bin/disorderfs"];

/// Names the libfaketime library to use instead of the usual places;
/// `none` (or empty) means "do not use libfaketime".
pub const FAKETIME_LIB_VAR: &str = "REPRO_FAKETIME_LIB";

/// Names the disorderfs program to use instead of the usual places;
/// `none` (or empty) means "do not use disorderfs".
pub const DISORDERFS_VAR: &str = "REPRO_DISORDERFS";

/// An optional tool: the path its variable names (none when it says
/// `none` or is empty), else the first of `places` that is a file. The
/// variable lets installations outside Debian's paths be used, and lets a
/// test suite or a user switch the tool off without uninstalling it.
fn optional_tool(var: &str, places: &[&str]) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if v.is_empty() || v == "none" => None,
        Some(v) => Some(PathBuf::from(v)).filter(|p| p.is_file()),
        None => places.iter().map(PathBuf::from).find(|p| p.is_file()),
    }
}

/// The disorderfs program, when it and /dev/fuse are there. Whether the
/// sandbox can really use them only a real run shows (repro build probes).
pub fn disorderfs() -> Option<PathBuf> {
    let program = optional_tool(DISORDERFS_VAR, DISORDERFS_PROGRAMS)?;
    Path::new("/dev/fuse").exists().then_some(program)
}

/// The libfaketime shared object, when installed.
pub fn faketime_lib() -> Option<PathBuf> {
    optional_tool(FAKETIME_LIB_VAR, FAKETIME_LIBS)
}

/// How (or why not) `v` can be applied with `isolation` on this machine.
pub fn availability(v: Variation, isolation: Isolation) -> Availability {
    use Availability::{Available, Unavailable};
    let sandboxed = isolation == Isolation::Namespaces;
    let needs_ns = |what: &str| Unavailable {
        reason: format!("needs the {what} namespace, and --sandbox none runs without one"),
    };
    match v {
        Variation::BuildPath => Available {
            mechanism: if sandboxed {
                "bind mount of the build dir at another path and depth"
            } else {
                "build dir at another path and depth"
            },
        },
        Variation::Home => Available {
            mechanism: if sandboxed {
                "empty tmpfs HOME at another path"
            } else {
                "empty HOME directory at another path"
            },
        },
        Variation::Environment => Available {
            mechanism: "extra environment variable",
        },
        Variation::ExecPath => Available {
            mechanism: "extra PATH entry",
        },
        Variation::Locales => Available {
            mechanism: "LANG/LC_ALL/LANGUAGE variables",
        },
        Variation::Timezone => Available {
            mechanism: "TZ variable (POSIX zone, no tzdata needed)",
        },
        Variation::Umask => Available {
            mechanism: "umask(2) before exec",
        },
        Variation::DomainHost if sandboxed => Available {
            mechanism: "sethostname/setdomainname in a uts namespace",
        },
        Variation::DomainHost => needs_ns("uts"),
        Variation::UserGroup if sandboxed => Available {
            mechanism: "user namespace id map and generated /etc/passwd (no root needed)",
        },
        Variation::UserGroup => needs_ns("user"),
        Variation::NumCpus => {
            if crate::sys::allowed_cpus().len() > 1 {
                Available {
                    mechanism: "sched_setaffinity to one CPU (nproc sees 1)",
                }
            } else {
                Unavailable {
                    reason: "this machine lets repro use only one CPU".into(),
                }
            }
        }
        Variation::Aslr => Available {
            mechanism: "personality(ADDR_NO_RANDOMIZE)",
        },
        Variation::Kernel => Available {
            mechanism: "personality(UNAME26): uname reports 2.6.x",
        },
        Variation::FileOrdering if !sandboxed => Unavailable {
            reason: "needs the mount namespace (disorderfs is mounted inside the sandbox, \
                     without root or fusermount), and --sandbox none runs without one"
                .into(),
        },
        Variation::FileOrdering => match disorderfs() {
            Some(_) => Available {
                mechanism: "disorderfs (FUSE, mounted inside the sandbox, no root): entries sorted then reversed",
            },
            None => Unavailable {
                reason: "needs disorderfs (Debian package `disorderfs`) and /dev/fuse; the \
                         kernel has no other way to change the order a directory lists in"
                    .into(),
            },
        },
        Variation::Time => match faketime_lib() {
            Some(_) => Available {
                mechanism: "libfaketime LD_PRELOAD, FAKETIME=+373d",
            },
            None => Unavailable {
                reason: "libfaketime is not installed (Debian package `faketime`); the kernel \
                         cannot shift CLOCK_REALTIME per process"
                    .into(),
            },
        },
    }
}

/// The user the control run builds as.
pub fn control_user() -> BuildUser {
    BuildUser {
        uid: 1000,
        gid: 1000,
        // Distinct from the build dir's name (/build/src), so a difference
        // hint never mistakes the path for the user.
        name: "build-user".into(),
        group: "build-group".into(),
    }
}

/// The user a `user_group`-varied run builds as.
pub fn varied_user() -> BuildUser {
    BuildUser {
        uid: 2345,
        gid: 2345,
        name: "builder-b".into(),
        group: "builders-b".into(),
    }
}

/// Hostname and domain name of the control and varied runs.
pub fn host_names(varied: bool) -> (&'static str, &'static str) {
    if varied {
        ("repro-varied", "varied.invalid")
    } else {
        ("repro", "(none)")
    }
}

/// Relative layout of the build dir below a base (`/` in a sandbox, the
/// output directory without one): different name and depth when varied.
pub fn build_dir_under(base: &Path, varied: bool) -> PathBuf {
    if varied {
        base.join("build-b").join("path-b").join("src")
    } else {
        base.join("build").join("src")
    }
}

/// HOME below a base (`/home` in a sandbox).
pub fn home_under(base: &Path, varied: bool) -> PathBuf {
    base.join(if varied { "build-b" } else { "build" })
}

/// The locale of a `locales`-varied run (reprotest's choice: French
/// collation and number formats, Swiss dates).
pub const VARIED_LOCALE: &str = "fr_CH.UTF-8";

/// Applies the environment-borne variations of `set` to `env`.
pub fn apply_to_env(set: &VariationSet, env: &mut BuildEnv) {
    if set.contains(Variation::Environment) {
        env.set("REPRO_CAPTURE_ENVIRONMENT", "i_capture_the_environment");
    }
    if set.contains(Variation::ExecPath) {
        let mut path = env.get("PATH").cloned().unwrap_or_default();
        path.push(":/repro/i_capture_the_path");
        env.set("PATH", path);
    }
    if set.contains(Variation::Locales) {
        env.set("LANG", VARIED_LOCALE);
        env.set("LC_ALL", VARIED_LOCALE);
        env.set("LANGUAGE", "fr_CH:fr");
    }
    if set.contains(Variation::Timezone) {
        // 14 hours east of UTC: dates written in local time change day.
        env.set("TZ", "GMT-14");
    }
    if set.contains(Variation::Time) {
        if let Some(lib) = faketime_lib() {
            env.set("LD_PRELOAD", lib.into_os_string());
            env.set("FAKETIME", "+373d");
            env.set("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
    }
}

/// The umask of a run.
pub fn umask(set: &VariationSet) -> u32 {
    if set.contains(Variation::Umask) {
        0o002
    } else {
        0o022
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_only_add_or_remove_what_they_name() {
        let mut s = VariationSet::all();
        s.apply_spec("-timezone").unwrap();
        assert_eq!(s.len(), Variation::ALL.len() - 1);
        assert!(!s.contains(Variation::Timezone));
        s.apply_spec("+timezone,-time,-umask").unwrap();
        assert!(s.contains(Variation::Timezone));
        assert!(!s.contains(Variation::Time) && !s.contains(Variation::Umask));
        s.apply_spec("-all,+umask").unwrap();
        assert_eq!(s.names(), ["umask"]);
        s.apply_spec("home").unwrap();
        assert_eq!(s.names(), ["home", "umask"]);
        let err = s.apply_spec("+timezon").unwrap_err();
        assert!(err.to_string().contains("timezon") && err.to_string().contains("timezone"));
    }

    #[test]
    fn names_round_trip() {
        for v in Variation::ALL {
            assert_eq!(Variation::from_name(v.name()), Some(v));
        }
    }

    #[test]
    fn namespace_variations_are_unavailable_without_a_sandbox() {
        for v in [Variation::DomainHost, Variation::UserGroup] {
            assert!(matches!(
                availability(v, Isolation::None),
                Availability::Unavailable { .. }
            ));
            assert!(matches!(
                availability(v, Isolation::Namespaces),
                Availability::Available { .. }
            ));
        }
    }

    #[test]
    fn env_variations() {
        let mut env = BuildEnv::scrubbed(Some("/bin".into()), Path::new("/h"), 1, &[]).unwrap();
        let set: VariationSet = [Variation::Timezone, Variation::ExecPath, Variation::Locales]
            .into_iter()
            .collect();
        apply_to_env(&set, &mut env);
        assert_eq!(env.get("TZ").unwrap(), "GMT-14");
        assert_eq!(env.get("PATH").unwrap(), "/bin:/repro/i_capture_the_path");
        assert_eq!(env.get("LC_ALL").unwrap(), "fr_CH.UTF-8");
        assert_eq!(umask(&set), 0o022);
    }
}
