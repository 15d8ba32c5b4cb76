use super::*;
use std::os::unix::net::UnixListener;

use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::mkfifo;

/// Names in `dir`, sorted, so a stray temporary file shows in the assert.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Makes a character device node like `/dev/null` (1,3) or `/dev/full`
/// (1,7); None, with the reason printed, when this process may not.
fn char_device(path: &Path, minor: u64) -> Option<()> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: making a device node needs root");
        return None;
    }
    match mknod(
        path,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(1, minor),
    ) {
        Ok(()) => Some(()),
        Err(e) => {
            eprintln!(
                "skipped: mknod {} failed ({e}); no CAP_MKNOD here",
                path.display()
            );
            None
        }
    }
}

#[test]
fn regular_file_is_replaced_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.json");
    write(&p, b"one").unwrap();
    let mut old = File::open(&p).unwrap();
    let old_ino = fs::metadata(&p).unwrap().ino();

    write(&p, b"two").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"two");
    // A new inode renamed into place: a reader of the old file still sees
    // it whole.
    assert_ne!(fs::metadata(&p).unwrap().ino(), old_ino);
    let mut s = String::new();
    old.read_to_string(&mut s).unwrap();
    assert_eq!(s, "one");
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o644);
    assert_eq!(names(dir.path()), ["report.json"]);
}

#[test]
fn a_missing_directory_names_the_output_not_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nodir/x.json");
    let err = write(&p, b"x").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cannot create the temporary file for {}: No such file or directory (os error 2)",
            p.display()
        )
    );
}

#[test]
fn mode_is_exact_despite_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    write_mode(&p, b"x", 0o640).unwrap();
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
}

#[test]
fn fifo_is_written_through_and_stays_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    assert!(matches!(
        Target::resolve(&fifo).unwrap(),
        Target::Through {
            kind: Special::Fifo,
            ..
        }
    ));
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    write(&fifo, b"through the pipe\n").unwrap();
    assert_eq!(reader.join().unwrap(), b"through the pipe\n");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(names(dir.path()), ["pipe"]);
}

#[test]
fn device_node_is_written_through_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    if char_device(&null, 3).is_none() {
        return;
    }
    let before = fs::symlink_metadata(&null).unwrap();
    write(&null, b"discarded").unwrap();
    let after = fs::symlink_metadata(&null).unwrap();
    assert!(after.file_type().is_char_device());
    assert_eq!((after.ino(), after.rdev()), (before.ino(), before.rdev()));
    assert_eq!(names(dir.path()), ["null"]);
}

#[test]
fn full_disk_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    if char_device(&full, 7).is_none() {
        return;
    }
    // Larger than the buffer, so the failure comes from a write, not only
    // from the final flush.
    let err = write(&full, &vec![b'x'; 1 << 20]).unwrap_err();
    assert!(
        matches!(&err, Error::NoSpace { path } if *path == full),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("no space left on device while writing {}", full.display())
    );
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
}

#[test]
fn full_disk_through_output_keeps_the_message() {
    // What a printer sees when it writes into an `Output`.
    let Ok(meta) = fs::symlink_metadata("/dev/full") else {
        eprintln!("skipped: no /dev/full on this machine");
        return;
    };
    assert!(meta.file_type().is_char_device());
    let mut out = Output::open(Path::new("/dev/full"), DEFAULT_MODE).unwrap();
    let err = out
        .write_all(&vec![b'x'; 1 << 20])
        .and_then(|()| out.flush())
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    assert_eq!(
        err.to_string(),
        "no space left on device while writing /dev/full"
    );
}

#[test]
fn symlink_target_is_written_and_the_link_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (out, elsewhere) = (dir.path().join("out"), dir.path().join("elsewhere"));
    fs::create_dir_all(&out).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    let real = elsewhere.join("real.json");
    fs::write(&real, "old").unwrap();
    let link = out.join("link.json");
    std::os::unix::fs::symlink("../elsewhere/real.json", &link).unwrap();

    write(&link, b"new").unwrap();
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../elsewhere/real.json")
    );
    assert_eq!(fs::read(&real).unwrap(), b"new");
    assert_eq!(names(&out), ["link.json"]);
    assert_eq!(names(&elsewhere), ["real.json"]);
}

#[test]
fn dangling_symlink_creates_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink("made", &link).unwrap();
    write(&link, b"x").unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(dir.path().join("made")).unwrap(), b"x");
}

#[test]
fn symlink_to_a_fifo_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    let link = dir.path().join("out");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let reader = std::thread::spawn(move || fs::read(fifo).unwrap());
    write(&link, b"via link").unwrap();
    assert_eq!(reader.join().unwrap(), b"via link");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn symlink_loop_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    assert!(matches!(write(&a, b"x"), Err(Error::TooManyLinks { .. })));
    assert_eq!(names(dir.path()), ["a", "b"]);
}

#[test]
fn socket_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut v = Vec::new();
        conn.read_to_end(&mut v).unwrap();
        v
    });
    write(&sock, b"to the socket").unwrap();
    assert_eq!(reader.join().unwrap(), b"to the socket");
    assert!(fs::symlink_metadata(&sock).unwrap().file_type().is_socket());
}

#[test]
fn directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = write(dir.path(), b"x").unwrap_err();
    assert!(matches!(err, Error::IsDirectory { .. }), "{err:?}");
    assert!(names(dir.path()).is_empty());
}

/// Set in the child process of [`dash_is_stdout`].
const CHILD: &str = "FSIO_TEST_WRITE_DASH";

#[test]
fn dash_is_stdout() {
    if std::env::var_os(CHILD).is_some() {
        write_arg(Path::new("-"), b"to stdout\n").unwrap();
        return;
    }
    // The test harness captures `print!` but not `io::stdout()`, so the
    // write happens in a child and its stdout is read here.
    let cwd = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tests::dash_is_stdout", "--nocapture", "--quiet"])
        .env(CHILD, "1")
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("to stdout\n"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(names(cwd.path()).is_empty(), "no file named '-'");
    // A path that merely is `-` is a file, not stdout.
    assert_eq!(
        Target::resolve(Path::new("-")).unwrap(),
        Target::New(PathBuf::from("-"))
    );
}

#[test]
fn abandoned_output_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.txt");
    fs::write(&p, "old").unwrap();
    let mut out = Output::open(&p, DEFAULT_MODE).unwrap();
    // More than the buffer, so bytes really reach the temporary file.
    out.write_all(&vec![b'x'; 1 << 20]).unwrap();
    assert_eq!(names(dir.path()).len(), 2, "the temporary file exists");
    // The printer fails midway: the output is dropped unfinished.
    drop(out);
    assert_eq!(fs::read(&p).unwrap(), b"old");
    assert_eq!(names(dir.path()), ["report.txt"]);
}

#[test]
fn failed_rename_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    let mut out = Output::open(&p, DEFAULT_MODE).unwrap();
    out.write_all(b"x").unwrap();
    // Something else takes the name as a directory before the rename.
    fs::create_dir(&p).unwrap();
    fs::write(p.join("inside"), "keep").unwrap();
    let err = out.finish().unwrap_err();
    assert!(err.to_string().contains(&*p.to_string_lossy()), "{err}");
    assert_eq!(names(dir.path()), ["f"]);
    assert_eq!(fs::read(p.join("inside")).unwrap(), b"keep");
}

#[test]
fn missing_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no/such/f");
    let err = write(&p, b"x").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("no/such"), "{err}");
}

#[test]
fn write_new_never_replaces_anything() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    write_new(&key, b"secret", 0o600).unwrap();
    assert_eq!(fs::metadata(&key).unwrap().mode() & 0o7777, 0o600);
    assert!(matches!(
        write_new(&key, b"other", 0o600),
        Err(Error::AlreadyExists { path }) if path == key
    ));
    assert_eq!(fs::read(&key).unwrap(), b"secret");

    // Not a dangling symlink either: writing through it would plant a key
    // wherever the link points.
    let link = dir.path().join("l.key");
    std::os::unix::fs::symlink("elsewhere", &link).unwrap();
    assert!(matches!(
        write_new(&link, b"s", 0o600),
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(names(dir.path()), ["k.key", "l.key"]);
}

#[test]
fn copy_keeps_mode_but_not_set_id_bits() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    fs::write(&src, "payload").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o4755)).unwrap();
    copy(&src, &dst).unwrap();
    assert_eq!(fs::read(&dst).unwrap(), b"payload");
    assert_eq!(fs::metadata(&dst).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(names(dir.path()), ["dst", "src"]);
    // Over an existing file too: the artifact's mode is part of it.
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o600)).unwrap();
    copy(&src, &dst).unwrap();
    assert_eq!(fs::metadata(&dst).unwrap().mode() & 0o7777, 0o755);
}

#[test]
#[ignore = "needs root (CI runs it: cargo test -- --include-ignored)"]
fn a_replaced_file_keeps_its_owner_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("provenance.intoto.jsonl");
    write(&p, b"one").unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    write(&p, b"two").unwrap();
    let m = fs::metadata(&p).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (65534, 65534, 0o640));
    assert_eq!(fs::read(&p).unwrap(), b"two");
}

#[test]
fn a_replaced_file_keeps_its_mode_without_set_id_bits() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("provenance.intoto.jsonl");
    write(&p, b"one").unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    write(&p, b"two").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"two");
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o600);
    // Also when the caller names a mode: it is for a new file.
    write_mode(&p, b"three", 0o644).unwrap();
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o600);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o2750)).unwrap();
    let mut out = Output::open(&p, 0o644).unwrap();
    out.write_all(b"four").unwrap();
    out.finish().unwrap();
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o750);
    assert_eq!(names(dir.path()), ["provenance.intoto.jsonl"]);
}

#[test]
fn staged_blob_is_named_after_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Staged::new_in(dir.path(), DEFAULT_MODE).unwrap();
    s.write_all(b"content").unwrap();
    s.commit(&dir.path().join("by-digest")).unwrap();
    assert_eq!(names(dir.path()), ["by-digest"]);
}
