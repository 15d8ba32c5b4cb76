//! The scrubbed environment a build sees.
//!
//! The rule is an allowlist: the build gets PATH from the host, a fresh HOME,
//! TZ=UTC, LANG/LC_ALL=C.UTF-8, the pinned SOURCE_DATE_EPOCH and the
//! variables the user asked for, and nothing else. Anything the host has
//! (tokens, proxies, CI variables, the user's locale) would otherwise leak
//! into artifacts or make builds depend on the machine.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Variables the user may not set with `--env`, and why.
pub const RESERVED_VARS: &[(&str, &str)] = &[
    (
        "SOURCE_DATE_EPOCH",
        "it is pinned for every run; use --source-date-epoch",
    ),
    (
        "HOME",
        "every run gets a fresh empty HOME so nothing from a previous run or the host leaks in",
    ),
];

/// The complete environment of one build run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEnv {
    vars: BTreeMap<OsString, OsString>,
}

impl BuildEnv {
    /// The scrubbed base environment plus `extra` (the user's `--env` values,
    /// which override the defaults except for the reserved variables).
    pub fn scrubbed(
        host_path: Option<OsString>,
        home: &Path,
        source_date_epoch: i64,
        extra: &[(String, String)],
    ) -> Result<Self> {
        let mut vars = BTreeMap::new();
        // Without a host PATH fall back to the FHS default that execvp uses.
        let path = host_path.unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
        vars.insert("PATH".into(), path);
        vars.insert("HOME".into(), home.as_os_str().to_owned());
        vars.insert("TZ".into(), "UTC".into());
        vars.insert("LANG".into(), "C.UTF-8".into());
        vars.insert("LC_ALL".into(), "C.UTF-8".into());
        vars.insert(
            "SOURCE_DATE_EPOCH".into(),
            source_date_epoch.to_string().into(),
        );
        for (key, value) in extra {
            check_var_name(key)?;
            if let Some((_, why)) = RESERVED_VARS.iter().find(|(k, _)| k == key) {
                return Err(Error::ReservedVar {
                    key: key.clone(),
                    why,
                });
            }
            vars.insert(key.into(), value.into());
        }
        Ok(Self { vars })
    }

    /// Sets (or replaces) one variable; used to apply variations, which
    /// may change even the pinned defaults such as TZ.
    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.vars.insert(key.into(), value.into());
    }

    /// The variables, sorted by name.
    pub fn vars(&self) -> impl Iterator<Item = (&OsString, &OsString)> {
        self.vars.iter()
    }

    /// One variable's value.
    pub fn get(&self, key: &str) -> Option<&OsString> {
        self.vars.get(std::ffi::OsStr::new(key))
    }

    /// The HOME this environment points at.
    pub fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }
}

fn check_var_name(key: &str) -> Result<()> {
    if key.is_empty() || key.contains('=') || key.contains('\0') {
        return Err(Error::BadVarName {
            key: key.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowlist() {
        let env = BuildEnv::scrubbed(Some("/bin".into()), Path::new("/h"), 42, &[]).unwrap();
        let keys: Vec<_> = env.vars().map(|(k, _)| k.to_str().unwrap()).collect();
        assert_eq!(
            keys,
            ["HOME", "LANG", "LC_ALL", "PATH", "SOURCE_DATE_EPOCH", "TZ"]
        );
        assert_eq!(env.get("SOURCE_DATE_EPOCH").unwrap(), "42");
        assert_eq!(env.home().unwrap(), Path::new("/h"));
    }

    #[test]
    fn extra_vars_override_defaults_but_not_reserved_ones() {
        let env = BuildEnv::scrubbed(
            None,
            Path::new("/h"),
            1,
            &[
                ("TZ".into(), "Asia/Tokyo".into()),
                ("FOO".into(), "".into()),
            ],
        )
        .unwrap();
        assert_eq!(env.get("TZ").unwrap(), "Asia/Tokyo");
        assert_eq!(env.get("FOO").unwrap(), "");
        assert_eq!(env.get("PATH").unwrap(), "/usr/local/bin:/usr/bin:/bin");

        let err = BuildEnv::scrubbed(None, Path::new("/h"), 1, &[("HOME".into(), "/x".into())])
            .unwrap_err();
        assert!(matches!(err, Error::ReservedVar { .. }), "{err}");
        let err = BuildEnv::scrubbed(None, Path::new("/h"), 1, &[("A=B".into(), "x".into())])
            .unwrap_err();
        assert!(matches!(err, Error::BadVarName { .. }), "{err}");
    }
}
