#!/usr/bin/env python3
"""An independent implementation of the `repro-normalized-v1` digest.

Written from the definition in README.md ("#### `repro-normalized-v1`"), not
from repro's Rust code, so that tests/hash.rs can check repro's digests (and
the golden vectors it stores) against a second reading of the same text.

It covers what the golden artifacts use: plain files, zip (read with the
standard library's zipfile), tar (its headers parsed here, because tarfile
strips the trailing slash of a directory's stored path), gzip and pyc.

Usage: normalized_v1.py FILE...  prints "HEX  FILE" per file, like
`repro hash --normalized`.
"""

import gzip
import hashlib
import io
import struct
import sys
import zipfile

PREFIX = b"repro-normalized-v1\0"


def H(data):
    return hashlib.sha256(data).digest()


def container(fmt, records):
    """H("repro-normalized-v1\\0" ‖ FMT ‖ "\\0" ‖ record…)."""
    body = b"".join(
        b"%s %s %s %d:%s\n" % (kind, mode, digest.hex().encode(), len(path), path)
        for kind, mode, digest, path in records
    )
    return H(PREFIX + fmt + b"\0" + body)


def by_path(records):
    # Bytewise by path; sorted() is stable, so duplicates keep their order.
    return sorted(records, key=lambda r: r[3])


def file_mode(mode):
    return b"0755" if mode & 0o111 else b"0644"


# ---------------------------------------------------------------- zip


def zip_digest(data):
    records = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            # The stored bytes: zipfile decoded them with the encoding the
            # UTF-8 flag names, which round-trips (cp437 maps all 256 bytes).
            path = info.orig_filename.encode(
                "utf-8" if info.flag_bits & 0x800 else "cp437"
            )
            at = info.header_offset
            assert data[at : at + 4] == b"PK\x03\x04", "no local header"
            name_len, extra_len = struct.unpack("<HH", data[at + 26 : at + 30])
            start = at + 30 + name_len + extra_len
            compressed = data[start : start + info.compress_size]
            digest = H(
                struct.pack("<HIQ", info.compress_type, info.CRC, info.file_size)
                + compressed
            )
            unix = info.external_attr >> 16
            if unix & 0o170000 == 0o040000 or path.endswith(b"/"):
                kind, mode = b"dir", b"0755"
            elif unix & 0o170000 == 0o120000:
                kind, mode = b"symlink", b"0777"
            else:
                kind, mode = b"file", file_mode(unix)
            records.append((kind, mode, digest, path))
    return container(b"zip", by_path(records))


# ---------------------------------------------------------------- tar

TAR_KINDS = {
    b"0": b"file",
    b"\0": b"file",
    b"7": b"file",
    b"1": b"hardlink",
    b"2": b"symlink",
    b"3": b"chardev",
    b"4": b"blockdev",
    b"5": b"dir",
    b"6": b"fifo",
}


def cstr(field):
    return field.split(b"\0", 1)[0]


def octal(field):
    text = cstr(field).strip(b" ")
    return int(text, 8) if text else 0


def pax_records(body):
    out, pos = {}, 0
    while pos < len(body) and body[pos] != 0:
        space = body.index(b" ", pos)
        length = int(body[pos:space])
        key, _, value = body[space + 1 : pos + length - 1].partition(b"=")
        out[key] = value
        pos += length
    return out


def tar_digest(data):
    records = []
    pos, long_name, long_link, pax = 0, None, None, {}
    while pos + 512 <= len(data):
        h = data[pos : pos + 512]
        if h == bytes(512):
            break
        size = octal(h[124:136])
        typeflag = h[156:157]
        body = data[pos + 512 : pos + 512 + size]
        pos += 512 + (size + 511) // 512 * 512
        if typeflag == b"L":
            long_name = cstr(body)
            continue
        if typeflag == b"K":
            long_link = cstr(body)
            continue
        if typeflag == b"x":
            pax = pax_records(body)
            continue
        if typeflag == b"g":
            continue  # global PAX headers have no record
        path = cstr(h[0:100])
        if h[257:263] == b"ustar\0" and cstr(h[345:500]):
            path = cstr(h[345:500]) + b"/" + path
        link = cstr(h[157:257])
        path = pax.get(b"path", long_name or path)
        link = pax.get(b"linkpath", long_link or link)
        long_name, long_link, pax = None, None, {}
        kind = TAR_KINDS[typeflag]
        mode = octal(h[100:108])
        if kind == b"file":
            digest = digest_of(body)
        elif kind in (b"symlink", b"hardlink"):
            digest = H(link)
        elif kind in (b"chardev", b"blockdev"):
            digest = H(b"%d,%d" % (octal(h[329:337]), octal(h[337:345])))
        else:
            digest = H(b"")
        if kind == b"dir":
            mode = b"0755"
        elif kind == b"symlink":
            mode = b"0777"
        else:
            mode = file_mode(mode)
        records.append((kind, mode, digest, path))
    return container(b"tar", by_path(records))


# ---------------------------------------------------------------- pyc


def pyc_digest(data):
    magic = struct.unpack("<H", data[:2])[0]
    body = bytearray(data)
    if magic >= 3392:  # 3.7+: flags, then mtime (or, with bit 0, a hash)
        flags = struct.unpack("<I", data[4:8])[0]
        if not flags & 1:
            body[8:12] = bytes(4)
    else:  # 3.3 to 3.6
        body[4:8] = bytes(4)
    return H(PREFIX + b"pyc\0" + bytes(body))


# ---------------------------------------------------------------- detection


def digest_of(data):
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return zip_digest(data)
    if data[:2] == b"\x1f\x8b":
        return H(PREFIX + b"gzip\0" + digest_of(gzip.decompress(data)))
    if len(data) >= 512 and data[257:262] == b"ustar":
        return tar_digest(data)
    if len(data) >= 16 and data[2:4] == b"\r\n" and 3000 <= data[0] | data[1] << 8 < 4000:
        return pyc_digest(data)
    return H(data)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        with open(name, "rb") as f:
            print("%s  %s" % (digest_of(f.read()).hex(), name))
