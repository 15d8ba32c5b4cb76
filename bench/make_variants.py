#!/usr/bin/env python3
"""Variants of real archives for the benchmark corpus (bench/make_corpus.sh).

Standard library only (plus the zstd CLI for .tar.zst). Every output is a
pure function of the inputs: no clock, no random state, so rerunning gives
the same bytes. Outputs are written under a temporary name and renamed
into place, so an interrupted run never leaves a file that looks finished.

  make_variants.py wheel  WHEEL OUTDIR       -> noise_a.whl noise_b.whl content_b.whl
  make_variants.py tar    TREE OUTDIR        -> a.tar.gz b.tar.gz a.tar.zst b.tar.zst
  make_variants.py repack IN.tgz OUT.tgz     -> same members, other mtimes and order
  make_variants.py oci    SDIST DIR EPOCH    -> OCI image layout with SDIST under /usr/share
"""
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import zipfile

# Side a and side b of every pair: what a build on one day, as one user,
# and a build on another day, as another user, would stamp.
EPOCH_A = 1_600_000_000  # 2020-09-13
EPOCH_B = 1_700_000_000  # 2023-11-14


def fail(msg):
    sys.exit(f"make_variants.py: {msg}")


def scrambled(items, key, salt):
    """A fixed permutation of items: ordered by a salted hash of key(item)."""
    return sorted(items, key=lambda it: hashlib.sha256(salt + key(it).encode()).digest())


def commit(tmp, final):
    os.replace(tmp, final)
    print(f"  wrote {final} ({os.path.getsize(final):,} bytes)", file=sys.stderr)


# --------------------------------------------------------------------- wheel

def zip_time(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).timetuple()[:6]


def write_zip(src, dst, order, epoch, edits=None):
    """Re-zip the members of src in the given order, every member stamped
    with epoch, each member compressed the way src had it (deflate at one
    fixed level, so unchanged members compress to the same bytes)."""
    edits = edits or {}
    tmp = dst + ".part"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w") as zout:
        for info in order:
            data = zin.read(info.filename)
            if info.filename in edits:
                data = edits[info.filename](data)
            out = zipfile.ZipInfo(info.filename, date_time=zip_time(epoch))
            out.external_attr = info.external_attr
            out.create_system = 3
            out.compress_type = info.compress_type
            zout.writestr(out, data, compresslevel=6)
    commit(tmp, dst)


def elf_section(data, wanted):
    """(offset, size) of the named section of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def header(i):
        base = shoff + i * shentsize
        name, _type, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, base)
        return name, off, size
    _, str_off, _ = header(shstrndx)
    for i in range(shnum):
        name, off, size = header(i)
        end = data.index(b"\0", str_off + name)
        if data[str_off + name:end] == wanted and size > 0:
            return off, size
    return None


def flip_rodata_byte(data):
    """One byte changed in the middle of .rodata (the ELF stays valid),
    or in the middle of the file if there is no such section."""
    sec = elf_section(data, b".rodata")
    at = sec[0] + sec[1] // 2 if sec else len(data) // 2
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def edit_python_line(data):
    """One line of the module changed: the first assignment gets a comment."""
    lines = data.split(b"\n")
    at = next((i for i, l in enumerate(lines) if b" = " in l and not l.startswith(b"#")), 0)
    lines[at] += b"  # built on builder-b"
    return b"\n".join(lines)


def edit_metadata_line(data):
    """One header line of METADATA changed: the Summary."""
    lines = data.split(b"\n")
    at = next((i for i, l in enumerate(lines) if l.startswith(b"Summary:")), None)
    if at is None:
        fail("METADATA has no Summary line to change")
    lines[at] += b" (rebuilt on builder-b)"
    return b"\n".join(lines)


def wheel_variants(wheel, outdir):
    with zipfile.ZipFile(wheel) as z:
        infos = z.infolist()
    names = sorted(i.filename for i in infos)
    py = next((n for n in names if n.endswith("/version.py")), None) \
        or next((n for n in names if n.endswith(".py")), None)
    # A CPython extension module of the project itself, not a vendored
    # library from *.libs/ (those are large and would dominate the diff).
    so = next((n for n in names if ".cpython-" in n and n.endswith(".so")), None) \
        or next((n for n in names if n.endswith(".so") and ".libs/" not in n), None)
    meta = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
    if not (py and so and meta):
        fail(f"{wheel}: needs a .py, a .so and a METADATA member to make the content variant")
    edits = {py: edit_python_line, so: flip_rodata_byte, meta: edit_metadata_line}
    print(f"  content_b changes: {py}, {so} (.rodata byte), {meta}", file=sys.stderr)
    other = scrambled(infos, lambda i: i.filename, b"bench-wheel-b")
    write_zip(wheel, os.path.join(outdir, "noise_a.whl"), infos, EPOCH_A)
    write_zip(wheel, os.path.join(outdir, "noise_b.whl"), other, EPOCH_B)
    write_zip(wheel, os.path.join(outdir, "content_b.whl"), other, EPOCH_B, edits)


# ----------------------------------------------------------------------- tar

def walk_tree(tree):
    """Relative paths of every directory, file and symlink under tree."""
    out = []
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        rel = os.path.relpath(root, tree)
        if rel != ".":
            out.append(rel)
        for name in sorted(files):
            out.append(os.path.normpath(os.path.join(rel, name)))
        # Symlinks to directories are listed in dirs but not followed.
        for name in dirs:
            if os.path.islink(os.path.join(root, name)):
                out.append(os.path.normpath(os.path.join(rel, name)))
    return out


def tar_member(tree, rel, epoch, uid, user):
    """A TarInfo made from lstat alone: no hard links (each side would pick
    a different first link), stamped with the side's time and owner."""
    path = os.path.join(tree, rel)
    st = os.lstat(path)
    ti = tarfile.TarInfo(rel)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.mtime = epoch
    ti.uid = ti.gid = uid
    ti.uname = ti.gname = user
    if stat.S_ISLNK(st.st_mode):
        ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISREG(st.st_mode):
        ti.type, ti.size = tarfile.REGTYPE, st.st_size
    else:
        return None, None
    return ti, path


def write_tar(tree, paths, dst, epoch, uid, user):
    with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as t:
        for rel in paths:
            ti, path = tar_member(tree, rel, epoch, uid, user)
            if ti is None:
                continue
            if ti.isreg():
                with open(path, "rb") as fh:
                    t.addfile(ti, fh)
            else:
                t.addfile(ti)


def tar_variants(tree, outdir):
    paths = walk_tree(tree)
    if not paths:
        fail(f"{tree} is empty")
    sides = (
        ("a", sorted(paths), EPOCH_A, 0, "root"),
        ("b", scrambled(paths, str, b"bench-tar-b"), EPOCH_B, 1000, "builder"),
    )
    for tag, order, epoch, uid, user in sides:
        plain = os.path.join(outdir, f".{tag}.tar.part")
        write_tar(tree, order, plain, epoch, uid, user)
        print(f"  {tag}.tar: {len(order):,} members, {os.path.getsize(plain):,} bytes", file=sys.stderr)
        gz = os.path.join(outdir, f"{tag}.tar.gz")
        with open(plain, "rb") as src, open(gz + ".part", "wb") as raw:
            # The header carries the name and time that `gzip TAG.tar` would.
            with gzip.GzipFile(f"{tag}.tar", "wb", 6, raw, mtime=epoch) as g:
                shutil.copyfileobj(src, g, 1 << 20)
        commit(gz + ".part", gz)
        zst = os.path.join(outdir, f"{tag}.tar.zst")
        subprocess.run(["zstd", "-q", "-f", "-3", plain, "-o", zst + ".part"], check=True)
        commit(zst + ".part", zst)
        os.remove(plain)


# -------------------------------------------------------------------- repack

def repack(src, dst):
    """The published tarball's members, in another order, every mtime set
    to EPOCH_B, gzip header stamped with EPOCH_B."""
    members = []
    with tarfile.open(src, "r:gz") as tin:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isreg() else None
            members.append((m, data))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m, data in scrambled(members, lambda md: md[0].name, b"bench-npm-b"):
            m.mtime = EPOCH_B
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    with open(dst + ".part", "wb") as out:
        with gzip.GzipFile("", "wb", 9, out, mtime=EPOCH_B) as g:
            g.write(raw.getvalue())
    commit(dst + ".part", dst)


# ----------------------------------------------------------------------- oci

def rfc3339(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def layer_from_sdist(sdist):
    """A gzip'd tar layer holding the sdist's tree under usr/share/. Its
    bytes depend only on the sdist: same layer on both sides."""
    raw = io.BytesIO()
    with tarfile.open(sdist, "r:*") as tin, \
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        members = tin.getmembers()
        newest = max((m.mtime for m in members), default=0)
        for d in ("usr", "usr/share"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, newest
            t.addfile(ti)
        for m in sorted(members, key=lambda m: m.name):
            if not (m.isreg() or m.isdir() or m.issym()):
                continue
            data = tin.extractfile(m).read() if m.isreg() else None
            m.name = "usr/share/" + m.name.removeprefix("./")
            m.uid = m.gid = 0
            m.uname = m.gname = "root"
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    plain = raw.getvalue()
    packed = io.BytesIO()
    with gzip.GzipFile("", "wb", 6, packed, mtime=0) as g:
        g.write(plain)
    return plain, packed.getvalue()


def oci_layout(sdist, outdir, epoch):
    """An OCI image layout: one layer (the sdist under /usr/share), a config
    whose `created` and history are stamped with epoch, its manifest and an
    index naming it `latest`."""
    tmp = outdir.rstrip("/") + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "blobs", "sha256"))
    plain, packed = layer_from_sdist(sdist)
    layer = put_blob(tmp, packed)
    created = rfc3339(epoch)
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(plain).hexdigest()]},
        "history": [{
            "created": created,
            "created_by": f"make_variants.py oci: {os.path.basename(sdist)} -> /usr/share",
        }],
    }
    cfg = put_blob(tmp, json.dumps(config, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    man = put_blob(tmp, json.dumps(manifest, separators=(",", ":")).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            **man,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    }
    with open(os.path.join(tmp, "index.json"), "w") as f:
        json.dump(index, f, separators=(",", ":"))
    with open(os.path.join(tmp, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    shutil.rmtree(outdir, ignore_errors=True)
    os.replace(tmp, outdir)
    print(f"  wrote {outdir} (created {created}, manifest {man['digest'][:19]}…)", file=sys.stderr)


def main(argv):
    usage = __doc__.split("\n\n", 2)[2]
    if len(argv) < 2:
        fail("missing command\n" + usage)
    cmd, args = argv[1], argv[2:]
    if cmd == "wheel" and len(args) == 2:
        wheel_variants(*args)
    elif cmd == "tar" and len(args) == 2:
        tar_variants(*args)
    elif cmd == "repack" and len(args) == 2:
        repack(*args)
    elif cmd == "oci" and len(args) == 3:
        oci_layout(args[0], args[1], int(args[2]))
    else:
        fail(f"bad arguments for {cmd!r}\n" + usage)


if __name__ == "__main__":
    main(sys.argv)
