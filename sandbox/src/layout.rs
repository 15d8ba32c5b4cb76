//! Turns a [`RunSpec`] into the [`Plan`] the forked children execute: the
//! list of mounts that assemble the sandbox's root, the id maps, and the
//! exec details. Pure data preparation, so it is unit-tested without root.

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::MsFlags;
use nix::sys::resource::Resource;

use crate::sys::{self, cstring, CStringArray, DropTo, ExecPlan, NsPlan, Op, Plan};
use crate::{Error, Isolation, LimitMechanism, Result, Rlimit, RunSpec};

/// Host uid and gid a build is mapped to when repro runs as root, so the
/// build never acts as host root (whose files and /proc/sys entries it
/// could otherwise change). Nothing on a normal system uses it.
pub const ROOT_MAPPED_ID: u32 = 1_000_000_000;

/// Host directories every sandbox sees, read-only, at the same path.
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];

/// Where the real build dir is mounted when disorderfs shows it reordered.
const FILEORDER_SRC: &str = "/.repro/fileorder-src";

/// Device nodes bind-mounted from the host into the sandbox's /dev.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

fn c(what: &'static str, bytes: &[u8]) -> Result<CString> {
    cstring(bytes).ok_or_else(|| Error::Nul {
        what,
        value: OsStr::from_bytes(bytes).to_owned(),
    })
}

fn cpath(what: &'static str, p: &Path) -> Result<CString> {
    c(what, p.as_os_str().as_bytes())
}

/// The path that leads from directory `from` to `to`, both absolute and
/// free of `.`/`..` (as repro makes them): `..` up to their common
/// ancestor, then down.
fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    if !from.is_absolute() || !to.is_absolute() {
        return None;
    }
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Some(out)
}

/// `root` joined with the absolute `inside` path.
fn under(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}

/// The host uid/gid the build maps to, and the drop needed to get there.
/// Only real root drops: uid 0 of a container's user namespace is already
/// unprivileged on the host, and the fixed id may not be mapped there.
pub(crate) fn outside_ids() -> (u32, u32, Option<DropTo>) {
    let (uid, gid) = sys::effective_ids();
    if uid == 0 && sys::in_initial_user_namespace() {
        let d = DropTo {
            uid: ROOT_MAPPED_ID,
            gid: ROOT_MAPPED_ID,
        };
        (d.uid, d.gid, Some(d))
    } else {
        (uid, gid, None)
    }
}

/// Builds the plan; `scratch` is an empty host directory to mount the new
/// root on (sandbox only); `mechanism` decides which limits are rlimits.
pub(crate) fn plan(
    spec: &RunSpec,
    scratch: Option<&Path>,
    log_fd: RawFd,
    mechanism: &LimitMechanism,
) -> Result<Plan> {
    let exec = exec_plan(spec, log_fd, mechanism)?;
    let ns = match (spec.isolation, scratch) {
        (Isolation::Namespaces, Some(root)) => Some(ns_plan(spec, root)?),
        _ => None,
    };
    Ok(Plan {
        ns,
        exec,
        cgroup: None,
    })
}

fn exec_plan(spec: &RunSpec, log_fd: RawFd, mechanism: &LimitMechanism) -> Result<ExecPlan> {
    let program = spec.argv.first().ok_or(Error::EmptyCommand)?;
    let argv = spec
        .argv
        .iter()
        .map(|a| c("build command argument", a.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let mut envp = Vec::new();
    for (k, v) in spec.env.vars() {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        envp.push(c("environment variable", &kv)?);
    }
    let path = spec.env.get("PATH").cloned().unwrap_or_default();
    let candidates = program_candidates(program, &path)
        .iter()
        .map(|p| cpath("program path", p))
        .collect::<Result<Vec<_>>>()?;
    let rlimits = spec
        .limits
        .rlimits(mechanism)
        .into_iter()
        .map(|(which, v)| {
            let resource = match which {
                Rlimit::Nofile => Resource::RLIMIT_NOFILE,
                Rlimit::Nproc => Resource::RLIMIT_NPROC,
                Rlimit::AddressSpace => Resource::RLIMIT_AS,
            };
            (resource, v)
        })
        .collect();
    let cpu = match spec.one_cpu.then(|| sys::allowed_cpus().first().copied()) {
        Some(Some(cpu)) => {
            let mut set = nix::sched::CpuSet::new();
            set.set(cpu).map_err(|errno| Error::Sys {
                call: format!("CPU_SET({cpu})"),
                errno,
            })?;
            Some(set)
        }
        // No CPU to pin to: the build runs wherever it may.
        _ => None,
    };
    Ok(ExecPlan {
        cwd: cpath("build dir", &spec.build_dir)?,
        candidates,
        argv: CStringArray::new(argv),
        envp: CStringArray::new(envp),
        umask: spec.umask,
        rlimits,
        cpu,
        no_aslr: spec.no_aslr,
        uname26: spec.uname26,
        log_fd,
        seccomp: sys::keyring_filter(),
    })
}

/// The paths execvp would try, in order, for `program` on `path`.
pub fn program_candidates(program: &OsStr, path: &OsStr) -> Vec<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return vec![PathBuf::from(program)];
    }
    path.as_bytes()
        .split(|&b| b == b':')
        .map(|dir| {
            // An empty PATH entry means the current directory.
            let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
            Path::new(OsStr::from_bytes(dir)).join(program)
        })
        .collect()
}

/// Collects the root-building operations, creating each directory once.
struct RootBuilder {
    root: PathBuf,
    ops: Vec<Op>,
    made: BTreeSet<PathBuf>,
    /// Detached mount trees the ops attach; open until the run has started.
    trees: Vec<std::os::fd::OwnedFd>,
}

impl RootBuilder {
    fn mkdirs(&mut self, inside: &Path) -> Result<()> {
        let mut cur = PathBuf::from("/");
        for comp in inside.components() {
            if let Component::Normal(name) = comp {
                cur.push(name);
                if self.made.insert(cur.clone()) {
                    let path = cpath("sandbox path", &under(&self.root, &cur))?;
                    self.ops.push(Op::Mkdir { path, mode: 0o755 });
                }
            }
        }
        Ok(())
    }

    fn mount(
        &mut self,
        src: Option<&Path>,
        inside: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        let dst = under(&self.root, inside);
        let desc = format!(
            "mount({} → {}{}, {flags:?}{})",
            src.map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "none".into()),
            dst.display(),
            fstype.map(|t| format!(" type {t}")).unwrap_or_default(),
            data.map(|d| format!(", {d:?}")).unwrap_or_default(),
        );
        self.ops.push(Op::Mount {
            src: src.map(|s| cpath("mount source", s)).transpose()?,
            dst: cpath("mount target", &dst)?,
            fstype: fstype.map(|t| c("fs type", t.as_bytes())).transpose()?,
            flags,
            data: data.map(|d| c("mount data", d.as_bytes())).transpose()?,
            desc,
        });
        Ok(())
    }

    /// Binds host path `src` read-only at `inside` (recursively). With
    /// `tree`, the mount is that detached copy of `src` (made while the
    /// path could still be reached) instead of a bind of the path.
    fn bind_ro(
        &mut self,
        src: &Path,
        inside: &Path,
        is_dir: bool,
        tree: Option<std::os::fd::OwnedFd>,
    ) -> Result<()> {
        if is_dir {
            self.mkdirs(inside)?;
        } else {
            if let Some(parent) = inside.parent() {
                self.mkdirs(parent)?;
            }
            self.ops.push(Op::Touch {
                path: cpath("sandbox path", &under(&self.root, inside))?,
            });
        }
        match tree {
            Some(fd) => {
                let dst = under(&self.root, inside);
                self.ops.push(Op::AttachTree {
                    fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
                    dst: cpath("mount target", &dst)?,
                    desc: format!(
                        "move_mount(open_tree({}) → {})",
                        src.display(),
                        dst.display()
                    ),
                });
                self.trees.push(fd);
            }
            None => self.mount(
                Some(src),
                inside,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?,
        }
        // A read-only remount inside a user namespace must repeat the
        // flags the kernel locked on the mount the bind copies, which is
        // the one holding `src` on the host (`inside` may not exist there,
        // or be on another file system).
        let flags = MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | sys::locked_mount_flags(src);
        self.mount(None, inside, None, flags, None)?;
        // The remount covers only the top mount; nested ones (a container's
        // /etc/hosts, a tmpfs under an --ro-bind path) need this too.
        self.ops.push(Op::ReadOnlyTree {
            path: cpath("mount target", &under(&self.root, inside))?,
        });
        Ok(())
    }

    /// Mounts the build tree at `inside`: C1's working directory (the
    /// run's copy of the source) bound there, or an overlay of the shared
    /// pristine tree with the run's writes going to that directory.
    ///
    /// The overlay's directories are named relative to that working
    /// directory (`.`, `../work`, `../../../source`): C1 entered it before
    /// dropping privileges, so the dropped uid never walks the host path
    /// from `/` (a 0700 home above `--out`), and after unshare(2) the
    /// working directory lives in the new mount namespace, where overlayfs
    /// requires its layers to be (descriptors opened before would not be).
    fn build_tree(&mut self, spec: &RunSpec, inside: &Path) -> Result<()> {
        let Some(o) = &spec.overlay else {
            return self.mount(Some(Path::new(".")), inside, None, MsFlags::MS_BIND, None);
        };
        let rel = |what: &'static str, to: &Path| -> Result<String> {
            let r = relative(&spec.host_dir, to).ok_or_else(|| Error::Setup {
                message: format!(
                    "the overlay's {what} {} and upper dir {} must be absolute paths",
                    to.display(),
                    spec.host_dir.display()
                ),
                hint: "",
            })?;
            let s = r.to_str().filter(|s| !s.contains([',', ':', '\\'])).ok_or_else(|| {
                Error::Setup {
                    message: format!(
                        "the overlay's {what} {} cannot be named in mount options (',', ':' or '\\' in it)",
                        to.display()
                    ),
                    hint: "",
                }
            })?;
            Ok(s.to_string())
        };
        let data = format!(
            "lowerdir={},upperdir=.,workdir={},userxattr",
            rel("lower dir", &o.lower)?,
            rel("work dir", &o.work)?,
        );
        self.mount(
            Some(Path::new("overlay")),
            inside,
            Some("overlay"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(&data),
        )
    }

    fn tmpfs(&mut self, inside: &Path, mode: &str, size: Option<u64>) -> Result<()> {
        self.mkdirs(inside)?;
        self.mount(
            Some(Path::new("tmpfs")),
            inside,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(&tmpfs_options(mode, size)),
        )
    }

    fn symlink(&mut self, target: &Path, inside: &Path) -> Result<()> {
        self.ops.push(Op::Symlink {
            target: cpath("symlink target", target)?,
            link: cpath("sandbox path", &under(&self.root, inside))?,
        });
        Ok(())
    }
}

/// For a root-started build, a detached copy of the mount tree at `src`:
/// the build drops to an unprivileged uid before it mounts, and that uid
/// may not be able to walk to the path (a toolchain under a 0700 home), so
/// the tree is copied now, as root. `shown` names the bind in errors.
fn detached_copy(
    drop_to: Option<DropTo>,
    src: &Path,
    shown: &Path,
) -> Result<Option<std::os::fd::OwnedFd>> {
    if drop_to.is_none() {
        return Ok(None);
    }
    sys::clone_tree(&cpath("bind source", src)?)
        .map(Some)
        .map_err(|e| Error::BadBind {
            path: shown.to_path_buf(),
            reason: format!("open_tree({}): {}", src.display(), e.desc()),
        })
}

/// Mount options of a tmpfs. A size cap alone would still let a build
/// fill kernel memory with empty files, so it caps inodes too (one per
/// 4 KiB, at least 16384).
fn tmpfs_options(mode: &str, size: Option<u64>) -> String {
    match size {
        Some(size) => format!(
            "mode={mode},size={size},nr_inodes={}",
            (size / 4096).max(16384)
        ),
        None => format!("mode={mode}"),
    }
}

/// The size [`crate::ResourceLimits::tmpfs_sizes`] gives the tmpfs at `mount`.
fn tmpfs_size(spec: &RunSpec, mount: &str) -> Option<u64> {
    spec.limits
        .tmpfs_sizes()
        .iter()
        .find(|(m, _)| *m == mount)
        .and_then(|(_, size)| *size)
}

fn ns_plan(spec: &RunSpec, root: &Path) -> Result<NsPlan> {
    let (outside_uid, outside_gid, drop_to) = outside_ids();
    let home = spec
        .env
        .home()
        .unwrap_or_else(|| PathBuf::from("/home/build"));
    for (what, p) in [("build dir", &spec.build_dir), ("HOME", &home)] {
        if !p.is_absolute() || SYSTEM_DIRS.iter().any(|s| p.starts_with(s)) || p == Path::new("/") {
            return Err(Error::Setup {
                message: format!(
                    "the {what} inside the sandbox, {}, must be an absolute path outside the system directories",
                    p.display()
                ),
                hint: "",
            });
        }
    }
    let mut b = RootBuilder {
        root: root.to_path_buf(),
        ops: Vec::new(),
        made: BTreeSet::new(),
        trees: Vec::new(),
    };
    // Nothing this namespace mounts may propagate back to the host.
    b.ops.push(Op::Mount {
        src: None,
        dst: c("mount target", b"/")?,
        fstype: None,
        flags: MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        data: None,
        desc: "mount(\"/\", MS_REC|MS_PRIVATE)".into(),
    });
    b.ops.push(Op::Mount {
        src: Some(c("mount source", b"tmpfs")?),
        dst: cpath("new root", root)?,
        fstype: Some(c("fs type", b"tmpfs")?),
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        data: Some(c(
            "mount data",
            tmpfs_options("0755", tmpfs_size(spec, "/")).as_bytes(),
        )?),
        desc: format!("mount(tmpfs → {}, new root)", root.display()),
    });

    let mut bound: Vec<PathBuf> = Vec::new();
    // A system directory has the same path on the host and inside.
    for dir in SYSTEM_DIRS.iter().map(Path::new) {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(dir).map_err(|source| Error::Io {
                    action: "read symlink",
                    path: dir.to_path_buf(),
                    source,
                })?;
                b.symlink(&target, dir)?;
            }
            Ok(m) if m.is_dir() => {
                b.bind_ro(dir, dir, true, None)?;
                bound.push(dir.to_path_buf());
            }
            _ => {}
        }
    }
    // The build dir: C1 made it its working directory before entering the
    // namespaces, so "." reaches it even where its host ancestors are closed.
    // For the fileordering variation it goes to a hidden path and disorderfs
    // (started by PID 1 after pivot_root) shows it at the build dir.
    let fileorder = if spec.reverse_dir_order {
        let program = crate::variations::disorderfs().ok_or_else(|| Error::Setup {
            message: "the fileordering variation needs disorderfs and /dev/fuse".into(),
            hint: "\nhint: apt-get install disorderfs, or --vary=-fileordering",
        })?;
        let hidden = Path::new(FILEORDER_SRC);
        b.mkdirs(hidden)?;
        b.build_tree(spec, hidden)?;
        b.mkdirs(&spec.build_dir)?;
        let args: [&[u8]; 6] = [
            b"disorderfs",
            b"--sort-dirents=yes",
            b"--reverse-dirents=yes",
            b"--multi-user=no",
            FILEORDER_SRC.as_bytes(),
            spec.build_dir.as_os_str().as_bytes(),
        ];
        Some(sys::Helper {
            program: cpath("disorderfs", &program)?,
            argv: CStringArray::new(
                args.iter()
                    .map(|a| c("disorderfs argument", a))
                    .collect::<Result<Vec<_>>>()?,
            ),
            envp: CStringArray::new(vec![c("environment variable", b"PATH=/usr/bin:/bin")?]),
        })
    } else {
        b.mkdirs(&spec.build_dir)?;
        b.build_tree(spec, &spec.build_dir)?;
        None
    };
    b.tmpfs(Path::new("/tmp"), "1777", tmpfs_size(spec, "/tmp"))?;
    b.tmpfs(&home, "0755", tmpfs_size(spec, "HOME"))?;

    b.mkdirs(Path::new("/proc"))?;
    b.mount(
        Some(Path::new("proc")),
        Path::new("/proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;

    b.mkdirs(Path::new("/dev"))?;
    b.mount(
        Some(Path::new("tmpfs")),
        Path::new("/dev"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(&tmpfs_options("0755", tmpfs_size(spec, "/dev"))),
    )?;
    let fuse: &[&str] = if fileorder.is_some() { &["fuse"] } else { &[] };
    // Each device node has the same path on the host and inside.
    for dev in DEVICES.iter().chain(fuse) {
        let node = Path::new("/dev").join(dev);
        if node.exists() {
            b.ops.push(Op::Touch {
                path: cpath("sandbox path", &under(root, &node))?,
            });
            b.mount(Some(&node), &node, None, MsFlags::MS_BIND, None)?;
        }
    }
    b.tmpfs(Path::new("/dev/shm"), "1777", tmpfs_size(spec, "/dev/shm"))?;
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        b.symlink(Path::new(target), &Path::new("/dev").join(link))?;
    }

    // Binds below the build dir (fetched dependencies), read-only over the
    // run's copy. With disorderfs they go below its hidden source, so the
    // reordered view shows them too.
    let build_root = if fileorder.is_some() {
        PathBuf::from(FILEORDER_SRC)
    } else {
        spec.build_dir.clone()
    };
    for (src, rel) in &spec.build_binds {
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(Error::BadBind {
                path: rel.clone(),
                reason: "must be a relative path inside the build dir".into(),
            });
        }
        let tree = detached_copy(drop_to, src, src)?;
        b.bind_ro(src, &build_root.join(rel), true, tree)?;
    }

    // User binds appear at the path the user named (a symlink such as
    // /opt/tc -> /srv/tc is followed only to find the source). They are
    // mounted last, so one under /tmp or HOME shows on top of the sandbox's
    // tmpfs; one that would cover the sandbox's own mounts is refused.
    let mut extra: Vec<(PathBuf, PathBuf)> = Vec::new();
    for p in &spec.ro_binds {
        let canon = p.canonicalize().map_err(|e| Error::BadBind {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let own = [
            Path::new("/tmp"),
            Path::new("/proc"),
            Path::new("/dev"),
            &home,
            &spec.build_dir,
        ];
        let under_special = [Path::new("/proc"), Path::new("/dev"), &spec.build_dir];
        if let Some(r) = own
            .iter()
            .find(|r| r.starts_with(p))
            .or_else(|| under_special.iter().find(|r| p.starts_with(r)))
        {
            return Err(Error::BadBind {
                path: p.clone(),
                reason: format!(
                    "overlaps {}, which the sandbox mounts itself; bind another path",
                    r.display()
                ),
            });
        }
        extra.push((p.clone(), canon));
    }
    extra.sort();
    for (inside, src) in extra {
        if bound.iter().any(|b| inside.starts_with(b)) {
            continue; // already visible through a parent bind
        }
        let meta = std::fs::metadata(&src).map_err(|e| Error::BadBind {
            path: inside.clone(),
            reason: e.to_string(),
        })?;
        let tree = detached_copy(drop_to, &src, &inside)?;
        b.bind_ro(&src, &inside, meta.is_dir(), tree)?;
        bound.push(inside);
    }

    // The build user's name comes from a generated passwd/group laid over
    // the host's (which stays read-only).
    let u = &spec.user;
    let home_str = home.display();
    let files = [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/bin/sh\n{}:x:{}:{}:{}:{home_str}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                u.name, u.uid, u.gid, u.name
            ),
        ),
        (
            "group",
            format!("root:x:0:\n{}:x:{}:\nnogroup:x:65534:\n", u.group, u.gid),
        ),
    ];
    b.mkdirs(Path::new("/.repro"))?;
    for (name, text) in files {
        let generated = Path::new("/.repro").join(name);
        b.ops.push(Op::Write {
            path: cpath("sandbox path", &under(root, &generated))?,
            data: text.into_bytes(),
        });
        let target = Path::new("/etc").join(name);
        if Path::new("/etc").is_dir() && target.exists() {
            b.mount(
                Some(&under(root, &generated)),
                &target,
                None,
                MsFlags::MS_BIND,
                None,
            )?;
        }
    }

    Ok(NsPlan {
        host_dir: cpath("host build dir", &spec.host_dir)?,
        drop_to,
        share_net: spec.network,
        uid_map: format!("{} {outside_uid} 1\n", u.uid),
        gid_map: format!("{} {outside_gid} 1\n", u.gid),
        new_root: cpath("new root", root)?,
        ops: b.ops,
        trees: b.trees,
        hostname: spec.hostname.clone(),
        domainname: c("domain name", spec.domainname.as_bytes())?,
        fileorder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_execvp_rules() {
        let c = program_candidates(OsStr::new("cc"), OsStr::new("/a:/b::/c"));
        assert_eq!(
            c,
            [
                PathBuf::from("/a/cc"),
                PathBuf::from("/b/cc"),
                PathBuf::from("./cc"),
                PathBuf::from("/c/cc")
            ]
        );
        let c = program_candidates(OsStr::new("./build.sh"), OsStr::new("/a"));
        assert_eq!(c, [PathBuf::from("./build.sh")]);
    }

    #[test]
    fn relative_paths_lead_from_one_dir_to_another() {
        let r = |a: &str, b: &str| relative(Path::new(a), Path::new(b)).unwrap();
        assert_eq!(
            r("/o/runs/1/upper", "/o/source"),
            Path::new("../../../source")
        );
        assert_eq!(r("/o/runs/1/upper", "/o/runs/1/work"), Path::new("../work"));
        assert_eq!(r("/o/x", "/o/x"), Path::new("."));
        assert!(relative(Path::new("o/x"), Path::new("/o")).is_none());
    }

    #[test]
    fn tmpfs_caps_size_and_inodes() {
        assert_eq!(tmpfs_options("1777", None), "mode=1777");
        assert_eq!(
            tmpfs_options("1777", Some(4 << 30)),
            "mode=1777,size=4294967296,nr_inodes=1048576"
        );
        assert_eq!(
            tmpfs_options("0755", Some(1 << 20)),
            "mode=0755,size=1048576,nr_inodes=16384"
        );
    }

    #[test]
    fn under_joins_absolute_paths() {
        assert_eq!(
            under(Path::new("/r"), Path::new("/usr/bin")),
            Path::new("/r/usr/bin")
        );
    }

    /// The read-only remount of a bind repeats the flags the kernel locked
    /// on the source's mount, even where the path inside the sandbox does
    /// not exist on the host (it used to look at that path instead).
    #[test]
    fn read_only_binds_keep_the_sources_locked_flags() {
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path().join("deps");
        std::fs::create_dir(&deps).unwrap();
        let mut s = crate::run::tests::spec(Isolation::Namespaces, dir.path(), &["true"]);
        s.build_binds = vec![(deps.clone(), PathBuf::from("vendor"))];
        let scratch = tempfile::tempdir().unwrap();
        let ns = ns_plan(&s, scratch.path()).unwrap();
        let inside = under(scratch.path(), &s.build_dir.join("vendor"));
        let want = cpath("t", &inside).unwrap();
        let remount = ns
            .ops
            .iter()
            .find_map(|op| match op {
                Op::Mount { dst, flags, .. }
                    if *dst == want && flags.contains(MsFlags::MS_REMOUNT) =>
                {
                    Some(*flags)
                }
                _ => None,
            })
            .unwrap();
        let locked = sys::locked_mount_flags(&deps);
        // Every file system has an atime mode, so the set is never empty.
        assert!(!locked.is_empty());
        assert!(remount.contains(locked), "{remount:?} lacks {locked:?}");
        assert!(!Path::new(&s.build_dir).join("vendor").exists());
    }
}
