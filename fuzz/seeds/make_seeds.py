#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: small valid inputs of every
format the readers handle, so the fuzzers start inside each format instead
of having to guess its magic bytes and checksums (from an empty corpus they
never reached tar).

Python 3 standard library only, no network, deterministic: the same bytes
on every run (fixed times, fixed key), so regenerating changes nothing.

    python3 fuzz/seeds/make_seeds.py [OUT]     # OUT defaults to fuzz/seeds/out

writes OUT/<target>/<name> for the targets compare, normalize, directory,
repro_toml, dsse and stabilize. See fuzz/README.md for how the targets read them.
"""

import base64
import bz2
import gzip
import hashlib
import io
import json
import lzma
import marshal
import os
import struct
import sys
import tarfile
import zipfile
import zlib

T0 = 1_600_000_000  # every mtime, so runs agree


# --------------------------------------------------------------------- zip


class Unseekable(io.RawIOBase):
    """A write-only stream without seek: zipfile then writes data
    descriptors (general-purpose flag bit 3) instead of patching headers."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


def zinfo(name, v, method=zipfile.ZIP_DEFLATED, ut=False):
    zi = zipfile.ZipInfo(name, (2020, 1, 2, 3, 4, 6 + 2 * v))
    zi.compress_type = method
    zi.external_attr = (0o100644 if not name.endswith("/") else 0o40755) << 16
    if ut:
        # Extended timestamp extra field (0x5455), mtime only.
        zi.extra = struct.pack("<HHBI", 0x5455, 5, 1, T0 + v)
    return zi


def zip_of(entries, v, comment=b"", method=zipfile.ZIP_DEFLATED, zip64=False, ut=False):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for name, data in entries:
            zi = zinfo(name, v, method, ut)
            if zip64:
                with z.open(zi, "w", force_zip64=True) as f:
                    f.write(data)
            else:
                z.writestr(zi, data)
        z.comment = comment
    return bio.getvalue()


def zip_streamed(entries, v):
    out = Unseekable()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries:
            with z.open(zinfo(name, v), "w") as f:
                f.write(data)
    return bytes(out.buf)


def zips(v):
    body = b"hello %d\n" % v
    two = [("a.txt", b"one\n"), ("b.txt", body)]
    out = {
        "stored.zip": zip_of(two, v, method=zipfile.ZIP_STORED),
        "deflate.zip": zip_of(two, v),
        "comment.zip": zip_of(two, v, comment=b"built by seeds %d" % v),
        "zip64.zip": zip_of(two, v, zip64=True),
        "descriptor.zip": zip_streamed(two, v),
        "ut.zip": zip_of(two, v, ut=True),
        "bzip2.zip": zip_of(two, v, method=zipfile.ZIP_BZIP2),
        "empty.zip": zip_of([], v),
        "app.jar": zip_of(
            [
                ("META-INF/", b""),
                ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nCreated-By: seeds %d\r\n\r\n" % v),
                ("com/example/App.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes([v])),
                ("app.properties", b"#Mon Jan 01 00:00:0%d UTC 2024\nk=v\n" % v),
            ],
            v,
        ),
        "pkg-1.0-py3-none-any.whl": zip_of(
            [
                ("pkg/__init__.py", b"VERSION = '1.0'\n"),
                ("pkg/data.json", json.dumps({"b": v, "a": [1, 2]}).encode()),
                ("pkg-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"),
                ("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nGenerator: seeds\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
                ("pkg-1.0.dist-info/RECORD", b"pkg/__init__.py,,\npkg-1.0.dist-info/RECORD,,\n"),
            ],
            v,
        ),
    }
    # A zip inside a zip, and a tar inside a zip: the differ recurses.
    out["nested.zip"] = zip_of([("inner.zip", out["deflate.zip"]), ("inner.tar", tar_ustar(v))], v)
    out.update(ambiguous_zips(v))
    return out


def ambiguous_zips(v):
    """The crafted zips that read two ways (normalize refuses them unless
    --allow-ambiguous), as in diffoscope-lite/src/normalize/tests.rs."""
    two = zip_of([("a.txt", b"one\n"), ("b.txt", b"two %d\n" % v)], v, method=zipfile.ZIP_STORED)
    eocd = len(two) - 22
    cd = struct.unpack_from("<I", two, eocd + 16)[0]
    n_len, x_len, c_len = struct.unpack_from("<HHH", two, cd + 28)
    second_cd = cd + 46 + n_len + x_len + c_len
    renamed = bytearray(two)
    renamed[30] = ord("x")  # local header says x.txt, central says a.txt
    dup = bytearray(two)
    dup[second_cd + 46] = ord("a")
    dup[struct.unpack_from("<I", two, second_cd + 42)[0] + 30] = ord("a")
    concatenated = zip_of([("hidden.sh", b"rm -rf /\n")], v) + two
    fake_end = zip_of([("a.txt", b"one\n")], v, comment=b"PK\x05\x06" + bytes(18))
    return {
        "two-ways-local-name.zip": bytes(renamed),
        "two-ways-duplicate.zip": bytes(dup),
        "two-ways-concatenated.zip": concatenated,
        "two-ways-fake-end.zip": fake_end,
    }


# --------------------------------------------------------------------- tar


def tar_of(members, v, fmt=tarfile.USTAR_FORMAT):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt) as t:
        for m in members:
            kind, name = m[0], m[1]
            ti = tarfile.TarInfo(name)
            ti.mtime = T0 + v
            ti.uid, ti.gid, ti.uname, ti.gname = 1000 + v, 1000, "builder", "builder"
            data = b""
            if kind == "file":
                data = m[2]
                ti.size = len(data)
                ti.mode = 0o644
            elif kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, m[2], 0o777
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, m[2]
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            if len(m) > 3:
                ti.pax_headers = m[3]
            t.addfile(ti, io.BytesIO(data) if data else None)
    return bio.getvalue()


def tar_ustar(v):
    return tar_of(
        [
            ("dir", "usr/"),
            ("dir", "usr/share/"),
            ("file", "usr/share/hello.txt", b"hello %d\n" % v),
            ("symlink", "usr/share/link", "hello.txt"),
            ("hardlink", "usr/share/hard", "usr/share/hello.txt"),
            ("fifo", "usr/share/fifo"),
        ],
        v,
    )


def tar_gnu_sparse(v):
    """A GNU sparse member (type 'S') by hand: tarfile reads but never
    writes them. 3 sparse map entries in the header, the data holds only
    the stored regions."""

    def octal(n, width):
        return ("%0*o" % (width - 1, n)).encode() + b"\0"

    regions = [(0, 512), (4096, 512), (8192, 0)]  # offset, numbytes
    data = (b"A" * 512) + (bytes([v]) * 512)
    h = bytearray(512)
    h[0:10] = b"sparse.bin"
    h[100:108] = octal(0o644, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = octal(len(data), 12)
    h[136:148] = octal(T0 + v, 12)
    h[156] = ord("S")
    h[257:265] = b"ustar  \0"
    for i, (off, n) in enumerate(regions):
        base = 386 + i * 24
        h[base : base + 12] = octal(off, 12)
        h[base + 12 : base + 24] = octal(n, 12)
    h[482] = 0  # isextended
    h[483:495] = octal(8192, 12)  # realsize
    h[148:156] = b" " * 8
    h[148:156] = ("%06o" % sum(h)).encode() + b"\0 "
    pad = (-len(data)) % 512
    return bytes(h) + data + bytes(pad) + bytes(1024)


def tars(v):
    long = "very/" * 25 + "long-name-%d.txt" % v
    out = {
        "ustar.tar": tar_ustar(v),
        "gnu-long.tar": tar_of(
            [("file", long, b"long\n"), ("symlink", "l", "target/" * 20 + "end")], v, tarfile.GNU_FORMAT
        ),
        "pax.tar": tar_of(
            [
                ("file", "caf\u00e9-%d.txt" % v, b"pax\n", {"mtime": "%d.5" % (T0 + v), "comment": "seed"}),
                ("file", long, b"long pax\n"),
                ("dir", "d/"),
            ],
            v,
            tarfile.PAX_FORMAT,
        ),
        "sparse.tar": tar_gnu_sparse(v),
        "v7.tar": tar_of([("file", "old.txt", b"v7\n")], v, tarfile.USTAR_FORMAT),
        "docker-save.tar": docker_save(v),
    }
    return out


def docker_save(v):
    layer = tar_of([("file", "etc/os-release", b"ID=seed\nV=%d\n" % v)], v)
    config = json.dumps({"created": "2024-01-0%dT00:00:00Z" % (v + 1), "rootfs": {"type": "layers"}}).encode()
    manifest = json.dumps(
        [{"Config": "cfg.json", "RepoTags": ["seed:%d" % v], "Layers": ["abc/layer.tar"]}]
    ).encode()
    return tar_of(
        [("file", "manifest.json", manifest), ("file", "cfg.json", config), ("file", "abc/layer.tar", layer)], v
    )


# ------------------------------------------------------- compressed streams


def gzip_crafted(payload, v, name=b"seed.tar", comment=b"a comment", extra=b"SE\x02\x00hi", hcrc=True):
    """A gzip member with FEXTRA, FNAME, FCOMMENT and FHCRC, by hand:
    Python's gzip writes FNAME only."""
    flags = 0
    tail = b""
    if extra:
        flags |= 0x04
        tail += struct.pack("<H", len(extra)) + extra
    if name:
        flags |= 0x08
        tail += name + b"\0"
    if comment:
        flags |= 0x10
        tail += comment + b"\0"
    head = b"\x1f\x8b\x08" + bytes([flags | (0x02 if hcrc else 0)]) + struct.pack("<I", T0 + v) + b"\x00\x03" + tail
    if hcrc:
        head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(payload) + c.flush()
    return head + body + struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)


def zstd_raw(payload):
    """A zstd frame of raw (uncompressed) blocks: the standard library has
    no zstd, but the frame format is simple. Single-segment, 4-byte content
    size, no checksum."""
    out = b"\x28\xb5\x2f\xfd" + bytes([0xA0]) + struct.pack("<I", len(payload))
    blocks = [payload[i : i + 65536] for i in range(0, len(payload), 65536)] or [b""]
    for i, b in enumerate(blocks):
        last = 1 if i == len(blocks) - 1 else 0
        out += struct.pack("<I", last | (0 << 1) | (len(b) << 3))[:3] + b
    return out


def compressed(v):
    t = tar_ustar(v)
    return {
        "ustar.tar.gz": gzip.compress(t, mtime=T0 + v),
        "ustar.tar.xz": lzma.compress(t),
        "ustar.tar.bz2": bz2.compress(t),
        "ustar.tar.zst": zstd_raw(t),
        "text.gz": gzip_crafted(b"plain text %d\n" % v, v, name=b"text"),
        "fextra-fname-fcomment-fhcrc.tar.gz": gzip_crafted(t, v),
        "multi-member.gz": gzip.compress(b"one\n", mtime=T0) + gzip.compress(b"two %d\n" % v, mtime=T0),
        "nested.tar.gz.xz": lzma.compress(gzip.compress(t, mtime=T0)),
        "raw.xz": lzma.compress(b"xz %d\n" % v, format=lzma.FORMAT_XZ, check=lzma.CHECK_SHA256),
    }


# ---------------------------------------------------------------- ar, deb


def ar_of(members, v, bsd=False):
    out = bytearray(b"!<arch>\n")
    long_names = [n for n, _ in members if len(n) > 15 and not bsd]
    table = b"".join(n.encode() + b"/\n" for n in long_names)

    def header(name, size):
        return b"%-16s%-12d%-6d%-6d%-8o%-10d`\n" % (name, T0 + v, 0, 0, 0o100644, size)

    if table:
        out += b"%-16s%-12s%-6s%-6s%-8s%-10d`\n" % (b"//", b"", b"", b"", b"", len(table)) + table
        if len(table) % 2:
            out += b"\n"
    for name, data in members:
        n = name.encode()
        if len(n) > 15 and bsd:
            out += header(b"#1/%d" % len(n), len(n) + len(data)) + n + data
            size = len(n) + len(data)
        elif len(n) > 15:
            out += header(b"/%d" % table.index(n + b"/\n"), len(data)) + data
            size = len(data)
        else:
            out += header(n + b"/" if not bsd else n, len(data)) + data
            size = len(data)
        if size % 2:
            out += b"\n"
    return bytes(out)


def ars(v):
    control = tar_of([("file", "./control", b"Package: seed\nVersion: 1.%d\n" % v)], v)
    data = tar_of([("dir", "./usr/"), ("file", "./usr/seed", b"#!/bin/sh\necho %d\n" % v)], v)
    return {
        "plain.a": ar_of([("a.o", b"\x7fELF fake %d" % v), ("b.o", b"bb")], v),
        "gnu-long.a": ar_of([("a-very-long-member-name.o", b"long %d" % v), ("short.o", b"s")], v),
        "bsd-long.a": ar_of([("a-very-long-member-name.o", b"bsd %d" % v)], v, bsd=True),
        "seed_1.0_all.deb": ar_of(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", gzip.compress(control, mtime=T0 + v)),
                ("data.tar.xz", lzma.compress(data)),
            ],
            v,
        ),
    }


# -------------------------------------------------------------------- pyc


def pycs(v):
    code = marshal.dumps(compile("X = %d\nprint(X)\n" % v, "seed.py", "exec"))
    out = {}
    # (name, magic, header after the magic word)
    for label, magic, rest in [
        ("3.2", 3180, struct.pack("<I", T0 + v)),
        ("3.6", 3379, struct.pack("<II", T0 + v, 17)),
        ("3.8", 3413, struct.pack("<III", 0, T0 + v, 17)),
        ("3.11", 3495, struct.pack("<III", 0, T0 + v, 17)),
        ("3.11-hash", 3495, struct.pack("<I", 3) + bytes(range(8))),
        ("3.12", 3531, struct.pack("<III", 0, T0 + v, 17)),
        ("3.13", 3571, struct.pack("<III", 1, T0 + v, 17)),
    ]:
        out["seed.cpython-%s.pyc" % label] = struct.pack("<H", magic) + b"\r\n" + rest + code
    return out


# -------------------------------------------------------------------- ELF


def elf_object(v, bits=64):
    """A tiny relocatable ELF: .text, .rodata (strings), .comment, a GNU
    build-id note, .shstrtab, and .symtab (a FILE and a FUNC symbol in
    .text) with its .strtab. Little-endian x86-64 or i386."""
    names = [b"", b".text", b".rodata", b".comment", b".note.gnu.build-id", b".shstrtab",
             b".symtab", b".strtab"]
    shstr = b"\0".join(names) + b"\0"
    off = {n: shstr.index(n + b"\0") if n else 0 for n in names}
    note_desc = hashlib.sha1(b"seed %d" % v).digest()
    note = struct.pack("<III", 4, len(note_desc), 3) + b"GNU\0" + note_desc
    strtab = b"\0/build/seed-%d/seed.c\0f\0" % v
    f_name = strtab.index(b"f\0")
    if bits == 64:
        # st_name, st_info, st_other, st_shndx, st_value, st_size
        sym = lambda name, info, shndx, size: struct.pack("<IBBHQQ", name, info, 0, shndx, 0, size)
    else:
        # st_name, st_value, st_size, st_info, st_other, st_shndx
        sym = lambda name, info, shndx, size: struct.pack("<IIIBBH", name, 0, size, info, 0, shndx)
    symtab = sym(0, 0, 0, 0) + sym(1, 4, 0xFFF1, 0) + sym(f_name, 0x12, 1, 6)
    sections = [
        (b".text", 1, 0x6, b"\x55\x48\x89\xe5\x5d\xc3"),
        (b".rodata", 1, 0x32, b"/build/seed-%d/src\0hello\0" % v),
        (b".comment", 1, 0x30, b"GCC: (seed) %d\0" % v),
        (b".note.gnu.build-id", 7, 0x2, note),
        (b".shstrtab", 3, 0, shstr),
        (b".symtab", 2, 0, symtab),
        (b".strtab", 3, 0, strtab),
    ]
    # .symtab's sh_link (the index of .strtab), sh_info (its first global
    # symbol) and entry size.
    link = {b".symtab": 7}
    info = {b".symtab": 2}
    entsize = {b".symtab": 24 if bits == 64 else 16}
    ehsize, shentsize = (64, 64) if bits == 64 else (52, 40)
    body = bytearray()
    offsets = []
    for _, _, _, data in sections:
        while (ehsize + len(body)) % 8:
            body += b"\0"
        offsets.append(ehsize + len(body))
        body += data
    while (ehsize + len(body)) % 8:
        body += b"\0"
    shoff = ehsize + len(body)
    if bits == 64:
        ident = b"\x7fELF\x02\x01\x01" + bytes(9)
        eh = ident + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, ehsize, 0, 0, shentsize, 8, 5)
        shdrs = bytes(shentsize)
        for (n, t, f, data), o in zip(sections, offsets):
            shdrs += struct.pack("<IIQQQQIIQQ", off[n], t, f, 0, o, len(data), link.get(n, 0),
                                 info.get(n, 0), 1, entsize.get(n, 0))
    else:
        ident = b"\x7fELF\x01\x01\x01" + bytes(9)
        eh = ident + struct.pack("<HHIIIIIHHHHHH", 1, 3, 1, 0, 0, shoff, 0, ehsize, 0, 0, shentsize, 8, 5)
        shdrs = bytes(shentsize)
        for (n, t, f, data), o in zip(sections, offsets):
            shdrs += struct.pack("<IIIIIIIIII", off[n], t, f, 0, o, len(data), link.get(n, 0),
                                 info.get(n, 0), 1, entsize.get(n, 0))
    return eh + bytes(body) + shdrs


# -------------------------------------------------------------- PNG, misc


def png(v):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"tIME", struct.pack(">HBBBBB", 2024, 1, 1, 0, 0, v))
        + chunk(b"tEXt", b"Comment\0seed %d" % v)
        + chunk(b"IDAT", zlib.compress(b"\0\x80"))
        + chunk(b"IEND", b"")
    )


def misc(v):
    return {
        "data.json": json.dumps({"name": "seed", "version": v, "list": [1, 2, {"k": None}]}).encode(),
        "array.json": b'  [1, 2.5, "x", true]\n',
        "text.txt": b"line one\nbuilt at 2024-01-0%d\n/build/seed-%d/path\n" % (v + 1, v),
        "crlf.txt": b"dos\r\nline %d\r\n" % v,
        "binary.bin": bytes([0, 1, 2, 255, v]) * 8,
        "seed.o": elf_object(v),
        "seed32.o": elf_object(v, 32),
        "image.png": png(v),
    }


# ------------------------------------------- cpio, boot images, OpenPGP, ISO


def cpio_of(members, layout, v):
    """A cpio archive of (name, mode, data) in layout newc, odc or binary."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(members + [("TRAILER!!!", 0, b"")]):
        n = name.encode() + b"\0"
        if layout == "newc":
            fields = [ino, mode, 1000, 1000, 1, T0 + v, len(data), 0, 0, 0, 0, len(n), 0]
            out += b"070701" + b"".join(b"%08x" % f for f in fields) + n
            out += b"\0" * (-len(out) % 4) + data
            out += b"\0" * (-len(out) % 4)
        elif layout == "odc":
            out += b"070707%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o" % (
                0, ino, mode, 1000, 1000, 1, 0x103, T0 + v, len(n), len(data))
            out += n + data
        else:
            t = T0 + v
            out += struct.pack("<13H", 0o070707, 0, ino, mode & 0xFFFF, 1000, 1000, 1, 0x103,
                               t >> 16, t & 0xFFFF, len(n), len(data) >> 16, len(data) & 0xFFFF)
            out += n + b"\0" * (len(n) % 2) + data + b"\0" * (len(data) % 2)
    return bytes(out)


def boot_image(v):
    """An Android boot image (header v0, 2 KiB pages) with a gzip'd cpio ramdisk."""
    ramdisk = gzip.compress(cpio_of([("init", 0o100755, b"#!/bin/sh\n")], "newc", v), mtime=T0)
    kernel = b"kernel %d" % v
    h = struct.pack("<8s10I16s512s", b"ANDROID!", len(kernel), 0x40008000, len(ramdisk),
                    0x41000000, 0, 0x40F00000, 0x40000100, 2048, 0, 0, b"seed%d" % v,
                    b"console=ttyS%d" % v)
    img = h.ljust(2048, b"\0")
    for part in (kernel, ramdisk):
        img += part + b"\0" * (-len(part) % 2048)
    return img


def pgp_signed(v):
    """What gpg --sign writes: ZLIB-compressed one-pass signature, literal
    data and signature packets (the signature's numbers are not real)."""
    def packet(tag, body):
        return bytes([0xC0 | tag, len(body)]) + body
    key = bytes(range(8))
    created = struct.pack(">I", T0 + v)
    hashed, unhashed = b"\x05\x02" + created, b"\x09\x10" + key
    inner = (packet(4, b"\x03\x00\x08\x01" + key + b"\x01")
             + packet(11, b"b\x04seed" + created + b"signed %d\n" % v)
             + packet(2, b"\x04\x00\x01\x08" + struct.pack(">H", len(hashed)) + hashed
                      + struct.pack(">H", len(unhashed)) + unhashed + b"\x60\xc1\x00\x08\xaa"))
    return b"\xa3\x02" + zlib.compress(inner)


def iso_image(v):
    """An ISO 9660 image with Rock Ridge names: a root holding one file."""
    B = 2048

    def record(extent, size, flags, name, su=b""):
        r = struct.pack("<BBI", 0, 0, extent) + struct.pack(">I", extent)
        r += struct.pack("<I", size) + struct.pack(">I", size)
        r += bytes([120, 1, 2, 3, 4, 5, 0, flags, 0, 0]) + struct.pack("<H", 1) + struct.pack(">H", 1)
        r += bytes([len(name)]) + name + b"\0" * (1 - len(name) % 2) + su
        return bytes([len(r)]) + r[1:]

    data = b"iso seed %d\n" % v
    nm = b"NM" + bytes([5 + 4, 1, 0]) + b"seed"
    img = bytearray(20 * B)
    pvd = bytearray(B)
    pvd[0:6] = b"\x01CD001"
    pvd[40:44] = b"SEED"
    pvd[128:130] = struct.pack("<H", B)
    pvd[156:190] = record(18, B, 2, b"\0")[:34]
    img[16 * B:17 * B] = pvd
    img[17 * B:17 * B + 6] = b"\xffCD001"
    root = (record(18, B, 2, b"\0", b"SP\x07\x01\xbe\xef\x00" + b"ER\x04\x01")
            + record(18, B, 2, b"\1") + record(19, len(data), 0, b"SEED.;1", nm))
    img[18 * B:18 * B + len(root)] = root
    img[19 * B:19 * B + len(data)] = data
    return bytes(img)


def unix_images(v):
    members = [("dir", 0o40755, b""), ("dir/text", 0o100644, b"text %d\n" % v),
               ("dir/link", 0o120777, b"text")]
    return {
        "seed.newc.cpio": cpio_of(members, "newc", v),
        "seed.odc.cpio": cpio_of(members, "odc", v),
        "seed.bin.cpio": cpio_of(members, "binary", v),
        "boot.img": boot_image(v),
        "signed.pgp": pgp_signed(v),
        "seed.iso": iso_image(v),
    }


def all_files(v):
    out = {}
    for part in (zips, tars, compressed, ars, pycs, misc, unix_images):
        out.update(part(v))
    return out


# -------------------------------------------------------------- directory


def dir_record(kind, name, data):
    """One record of the `directory` target's input (see its source):
    kind (0 file, 1 symlink, 2 directory, 3 blob named by its own digest),
    a one-byte name length, the name, a two-byte little-endian data length,
    the data."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(data, str):
        data = data.encode()
    return bytes([kind, len(name)]) + name + struct.pack("<H", len(data)) + data


def oci_seeds():
    """OCI layouts. In record data, {Dn} becomes "sha256:<hex>" and {Sn} the
    size of record n (the n-th record, counting from 0), so the seeds can
    reference the blobs the decoder writes."""
    layer_tar = tar_ustar(0)
    cfg = json.dumps(
        {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "rootfs": {"type": "layers", "diff_ids": []}}
    )
    manifest = (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D1}","size":{S1}},'
        '"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{D0}","size":{S0}}]}'
    )
    index = (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['
        '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D2}","size":{S2},'
        '"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}]}'
    )
    layout = '{"imageLayoutVersion":"1.0.0"}'

    def image(layer, layer_type="tar+gzip", extra=b"", idx=index, man=manifest):
        return (
            dir_record(3, "", layer)
            + dir_record(3, "", cfg)
            + dir_record(3, "", man.replace("tar+gzip", layer_type))
            + dir_record(0, "index.json", idx)
            + dir_record(0, "oci-layout", layout)
            + extra
        )

    gz = gzip.compress(layer_tar, mtime=0)
    nested_index = (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['
        '{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{D3}","size":{S3}}]}'
    )
    out = {
        "oci-gzip": image(gz),
        "oci-plain-tar": image(layer_tar, "tar"),
        "oci-zstd": image(zstd_raw(layer_tar), "tar+zstd"),
        # index.json → a nested index blob → the manifest.
        "oci-nested-index": dir_record(3, "", gz)
        + dir_record(3, "", cfg)
        + dir_record(3, "", manifest)
        + dir_record(3, "", index)
        + dir_record(0, "index.json", nested_index)
        + dir_record(0, "oci-layout", layout),
        # A blob named by another blob's digest (its content lies).
        "oci-lying-digest": dir_record(3, "", gz)
        + dir_record(3, "", cfg)
        + dir_record(3, "", manifest)
        + dir_record(0, "index.json", index.replace("{S2}", "{S2}"))
        + dir_record(0, "oci-layout", layout)
        + dir_record(0, "blobs/sha256/" + hashlib.sha256(gz).hexdigest(), b"not the layer"),
        "oci-lying-size": image(gz, idx=index.replace('"size":{S2}', '"size":7')),
        "oci-lying-media-type": image(gz, "tar", man=manifest.replace("config.v1+json", "image.index.v1+json")),
        "oci-symlink-blob": image(gz, extra=dir_record(1, "blobs/sha256/link", "../../index.json")),
        "oci-no-layout": dir_record(0, "index.json", "{}"),
        "plain-dir": dir_record(2, "d", b"")
        + dir_record(0, "d/a.txt", "hello\n")
        + dir_record(1, "d/link", "a.txt")
        + dir_record(1, "up", "../../outside")
        + dir_record(0, "w.zip", zip_of([("x", b"y")], 0)),
    }
    # The first byte of the input is the target's mutation selector: 0 compares
    # with an exact copy, 1 with a one-byte change.
    return {k: bytes([i % 2, i, 5, 0x20]) + v for i, (k, v) in enumerate(out.items())}


# -------------------------------------------------------------- repro.toml


def toml_seeds():
    """repro.toml files (the keys of builder/src/config.rs's FileConfig).
    The first byte is the target's flags (bit 0: --trust-config)."""
    files = {
        "minimal.toml": b'[build]\ncommand = ["sh", "build.sh"]\nartifacts = ["dist/*"]\n',
        "full.toml": b"""# most keys
[build]
command = ["sh", "-c", "make dist"]
artifacts = ["dist/*.whl", "out/**/*.tar.gz"]
runs = 3
env = { PYTHONHASHSEED = "0", LC_ALL = "C.UTF-8" }
source_date_epoch = 1700000000
timeout = 600.5
vary = "-time,+umask"
bisect_budget = 2

[sandbox]
mode = "namespaces"
ro_paths = ["/usr"]
network = false
nofile = 1024
nproc = 100
address_space = 1073741824
memory_max = 1073741824
tmpfs_size = 1048576

[fetch]
command = ["sh", "-c", "true"]
outputs = ["deps"]
lock = "build.sh"
""",
        "weakening.toml": b'[build]\ncommand = ["x"]\nartifacts = ["*"]\n[sandbox]\nmode = "none"\nnetwork = true\nnproc = 0\n',
        "bad-type.toml": b'[build]\ncommand = 3\nartifacts = "x"\n',
        "unknown-key.toml": b'[build]\ncommand = ["make"]\nartifacts = ["*"]\nwhat = 1\n',
        "dup.toml": b'[build]\ncommand = ["a"]\ncommand = ["b"]\n',
        "unicode.toml": '[build]\ncommand = ["echo", "\u00e9\\u0000"]\nartifacts = ["\u00e9/*"]\n'.encode(),
        "fetch-no-command.toml": b'[build]\ncommand = ["x"]\nartifacts = ["*"]\n[fetch]\noutputs = ["../x"]\n',
        "empty.toml": b"",
    }
    out = {}
    for name, text in files.items():
        out[name] = b"\x00" + text
        out["trusted-" + name] = b"\x01" + text
    return out


# -------------------------------------------------------------------- DSSE
#
# Ed25519 (RFC 8032, section 6: the reference implementation, slow and
# fine for a few seeds), so the seeds hold envelopes the `dsse` target's
# fixed test key really signed.

_p = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_d = -121665 * pow(121666, _p - 2, _p) % _p
_I = pow(2, (_p - 1) // 4, _p)


def _inv(x):
    return pow(x, _p - 2, _p)


def _xrecover(y):
    xx = (y * y - 1) * _inv(_d * y * y + 1)
    x = pow(xx, (_p + 3) // 8, _p)
    if (x * x - xx) % _p != 0:
        x = (x * _I) % _p
    if x % 2 != 0:
        x = _p - x
    return x


_By = 4 * _inv(5) % _p
_B = (_xrecover(_By), _By, 1, _xrecover(_By) * _By % _p)


def _add(P, Q):
    A = (P[1] - P[0]) * (Q[1] - Q[0]) % _p
    Bv = (P[1] + P[0]) * (Q[1] + Q[0]) % _p
    C = 2 * P[3] * Q[3] * _d % _p
    D = 2 * P[2] * Q[2] % _p
    E, F, G, H = Bv - A, D - C, D + C, Bv + A
    return (E * F % _p, G * H % _p, F * G % _p, E * H % _p)


def _mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = _add(Q, P)
        P = _add(P, P)
        s >>= 1
    return Q


def _encode(P):
    zi = _inv(P[2])
    x, y = P[0] * zi % _p, P[1] * zi % _p
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def ed25519_sign(seed, msg):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    A = _encode(_mul(a, _B))
    r = int.from_bytes(hashlib.sha512(h[32:] + msg).digest(), "little") % _L
    R = _encode(_mul(r, _B))
    k = int.from_bytes(hashlib.sha512(R + A + msg).digest(), "little") % _L
    S = (r + k * a) % _L
    return R + int.to_bytes(S, 32, "little")


# The dsse target's fixed test key: seed bytes 0, 1, …, 31.
TEST_SEED = bytes(range(32))
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(ptype, payload):
    t = ptype.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def b64(b):
    import base64

    return base64.b64encode(b).decode()


def keyid():
    # The key id is the hex SHA-256 of the public key's SPKI DER.
    h = hashlib.sha512(TEST_SEED).digest()
    a = (int.from_bytes(h[:32], "little") & ((1 << 254) - 8)) | (1 << 254)
    pub = _encode(_mul(a, _B))
    spki = bytes.fromhex("302a300506032b6570032100") + pub
    return hashlib.sha256(spki).hexdigest()


def statement(v, record=True):
    content = json.dumps({"verdict": "reproducible", "runs": 2}, separators=(",", ":"), sort_keys=True)
    byproducts = []
    if record:
        byproducts.append(
            {
                "name": "reproducibility",
                "mediaType": "application/vnd.repro.reproducibility.v1+json",
                "content": b64(content.encode()),
                "digest": {"sha256": hashlib.sha256(content.encode()).hexdigest()},
                "annotations": {"verdict": "reproducible", "runs": 2},
            }
        )
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "hello-%d.tar.gz" % v, "digest": {"sha256": hashlib.sha256(b"%d" % v).hexdigest()}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://repro.invalid/build-types/rebuild/v1",
                "externalParameters": {"source": "file:///src", "runs": 2},
            },
            "runDetails": {
                "builder": {"id": "https://repro.invalid/builders/local/v1"},
                "metadata": {"invocationId": "seed-%d" % v, "startedOn": "2024-01-01T00:00:00Z"},
                "byproducts": byproducts,
            },
        },
    }


def envelope(payload, sign=True):
    sigs = []
    if sign:
        sigs.append({"keyid": keyid(), "sig": b64(ed25519_sign(TEST_SEED, pae(PAYLOAD_TYPE, payload)))})
    return json.dumps({"payload": b64(payload), "payloadType": PAYLOAD_TYPE, "signatures": sigs}).encode()


def dsse_seeds():
    """The `dsse` target's first byte picks the mode: 0 parses the rest as
    envelope JSON lines, 1 as a statement, 2 as provenance, 3 and up drive
    the sign-then-tamper check (see the target)."""
    out = {}
    for v in range(2):
        st = json.dumps(statement(v), separators=(",", ":")).encode()
        out["signed-%d.jsonl" % v] = b"\x00" + envelope(st) + b"\n"
        out["statement-%d.json" % v] = b"\x01" + st
        out["provenance-%d.json" % v] = b"\x02" + json.dumps(statement(v)["predicate"]).encode()
    out["unsigned.jsonl"] = b"\x00" + envelope(b"{}", sign=False) + b"\n"
    out["no-record.jsonl"] = b"\x00" + envelope(json.dumps(statement(0, False)).encode()) + b"\n"
    out["two-lines.jsonl"] = b"\x00" + envelope(b"x") + b"\n\n" + envelope(b"[]") + b"\n"
    out["structured"] = b"\x03" + bytes(range(64))
    return out


# -------------------------------------------------------------- stabilize


def wheel(noise=(), module=b"def f():\n    return 1\n", generator=b"seeds 1.0"):
    """A tiny wheel; `noise` names what differs from the plain one, as in
    the unit tests of diffoscope-lite/src/stabilize.rs."""
    wheel_txt = b"Wheel-Version: 1.0\nGenerator: " + generator + b"\nTag: py3-none-any\n"

    def rec(path, data):
        digest = hashlib.sha256(data).digest()
        h = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return "%s,sha256=%s,%d" % (path, h, len(data))

    lines = [
        rec("pkg/__init__.py", module),
        rec("pkg-1.0.dist-info/WHEEL", wheel_txt),
        "pkg-1.0.dist-info/RECORD,,",
    ]
    if "record-order" in noise:
        lines[0], lines[1] = lines[1], lines[0]
    members = [
        ("pkg/__init__.py", module),
        ("pkg-1.0.dist-info/WHEEL", wheel_txt),
        ("pkg-1.0.dist-info/RECORD", ("\n".join(lines) + "\n").encode()),
    ]
    if "order" in noise:
        members[0], members[1] = members[1], members[0]
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, (2021, 1, 1, 0, 0, 0) if "time" in noise else (2020, 2, 2, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED if "stored" in noise else zipfile.ZIP_DEFLATED
            zi.external_attr = (0o100755 if "mode" in noise else 0o100644) << 16
            if "ut" in noise:
                zi.extra = struct.pack("<HHBI", 0x5455, 5, 1, T0)
            z.writestr(zi, data)
    return bio.getvalue()


def sdist(mtime, gzip_time, body=b"print('hi')\n"):
    tar = tar_of([("dir", "pkg-1.0/"), ("file", "pkg-1.0/setup.py", body)], mtime)
    return gzip_crafted(tar, 0, name=b"pkg-1.0.tar", comment=None, extra=None, hcrc=False) if gzip_time else gzip.compress(tar, mtime=0)


def stabilize_seeds():
    """Pairs for the `stabilize` target (its input is `compare`'s): wheels
    that differ by each kind of noise, by all of them, by one byte of a
    module; sdists that differ in times and gzip headers."""
    plain = wheel()
    out = {"same.whl": compare_pair(plain, plain)}
    for noise in ["order", "time", "stored", "mode", "record-order", "ut"]:
        out["noise-%s.whl" % noise] = compare_pair(plain, wheel((noise,)))
    every = ("order", "time", "stored", "mode", "record-order", "ut")
    out["noise-all.whl"] = compare_pair(plain, wheel(every))
    out["generator.whl"] = compare_pair(plain, wheel(generator=b"seeds 1.1"))
    out["module-byte.whl"] = compare_pair(plain, wheel(every, module=b"def f():\n    return 2\n"))
    out["sdist-times.tar.gz"] = compare_pair(sdist(0, False), sdist(1, False))
    out["sdist-gzip-header.tar.gz"] = compare_pair(sdist(0, False), sdist(0, True))
    out["sdist-body.tar.gz"] = compare_pair(sdist(0, False), sdist(0, False, b"print('ho')\n"))
    return out


# ------------------------------------------------------------------ output


def compare_pair(a, b):
    """The `compare` target's input: a 2-byte little-endian length of the
    first artifact, the first artifact, the second."""
    return struct.pack("<H", len(a)) + a + b


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "out")
    files0, files1 = all_files(0), all_files(1)
    corpora = {
        "normalize": {**files0, **{"v1-" + k: v for k, v in files1.items()}},
        "compare": {},
        "directory": oci_seeds(),
        "repro_toml": toml_seeds(),
        "dsse": dsse_seeds(),
        "stabilize": stabilize_seeds(),
    }
    for name, a in files0.items():
        if len(a) + len(files1[name]) < 65000:
            corpora["compare"][name] = compare_pair(a, files1[name])
            corpora["compare"]["same-" + name] = compare_pair(a, a)
    # Different formats on the two sides.
    corpora["compare"]["zip-vs-tar"] = compare_pair(files0["deflate.zip"], files0["ustar.tar"])
    for target, files in corpora.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(files.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (d, len(files)))


if __name__ == "__main__":
    main()
