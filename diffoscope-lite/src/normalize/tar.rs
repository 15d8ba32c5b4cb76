//! Canonical tar: entries sorted by path, mtimes clamped, uid/gid 0 and
//! empty owner names, volatile PAX records dropped, modes normalized.
//!
//! The 512-byte header blocks of the input are kept and only the fields a
//! rule names are patched (then the checksum is recomputed), so a tar made
//! by GNU tar stays a GNU tar and one made by Python stays a Python tar.
//! Member data is copied byte for byte, except that nested archives are
//! normalized in turn. The end of the archive is two zero blocks padded to a
//! 10240-byte record, as GNU tar and Python write it.
//!
//! Paths are ordered component by component (`a`, `a/x`, `a.txt`), which is
//! the order `tar --sort=name` produces; global PAX headers stay first, and
//! a hard link is moved after the member it links to.

use std::cmp::Ordering;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use super::{
    canonical_file_mode, digest_reader, fire, nested, normalize_nested, reader_detects, Blob,
    BlobReader, ContainerHasher, DigestEntry, Digested, Fired, Format, Normalizer, Nx, Rule,
};
use crate::formats::Kind;
use crate::Result;

/// The tar normalizer.
pub(super) struct Tar;

const BLOCK: usize = 512;
const RECORD: u64 = 10240;
/// Largest PAX or GNU long-name header data read into memory.
const MAX_META: u64 = 1 << 20;

type Header = [u8; BLOCK];

/// A metadata block that precedes a member: a PAX extended header ('x'),
/// or a GNU long name ('L') or long link ('K').
struct Meta {
    header: Header,
    data: Vec<u8>,
}

/// Where a member's data is.
enum Data {
    /// A byte range of the input.
    Blob(Blob),
    /// Already digested while streaming.
    Digest([u8; 32], Vec<Fired>),
    /// No data.
    None,
}

/// One member with the metadata blocks in front of it.
struct Member {
    metas: Vec<Meta>,
    header: Header,
    /// GNU sparse extension blocks.
    ext: Vec<Header>,
    path: Vec<u8>,
    link: Vec<u8>,
    data: Data,
}

impl Member {
    fn typeflag(&self) -> u8 {
        self.header[156]
    }

    fn is_global(&self) -> bool {
        self.typeflag() == b'g'
    }

    /// A regular file whose data is its content (GNU sparse members store
    /// a compacted form, which is copied as it is and never recursed into).
    fn is_regular(&self) -> bool {
        matches!(self.typeflag(), b'0' | 0 | b'7')
    }
}

/// Where the walker reads from.
trait Input {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// Reads one block; `false` at a clean end of input.
    fn block(&mut self, buf: &mut Header) -> io::Result<bool>;
    fn skip(&mut self, n: u64) -> io::Result<()>;
    /// The offset of the next byte, for inputs with random access.
    fn pos(&self) -> Option<u64>;
}

struct BlobInput(BlobReader);

impl Input for BlobInput {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_exact(buf)
    }

    fn block(&mut self, buf: &mut Header) -> io::Result<bool> {
        if self.0.pos >= self.0.blob.len() {
            return Ok(false);
        }
        self.0.read_exact(buf).map(|()| true)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let to = self
            .0
            .pos
            .checked_add(n)
            .filter(|&p| p <= self.0.blob.len());
        match to {
            Some(p) => {
                self.0.pos = p;
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "member data runs past the end of the archive",
            )),
        }
    }

    fn pos(&self) -> Option<u64> {
        Some(self.0.pos)
    }
}

struct StreamInput<'a>(&'a mut dyn Read);

impl Input for StreamInput<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_exact(buf)
    }

    fn block(&mut self, buf: &mut Header) -> io::Result<bool> {
        let mut got = 0;
        while got < BLOCK {
            match self.0.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "archive ends inside a header block",
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut self.0.take(n), &mut io::sink())?;
        if copied != n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "member data runs past the end of the archive",
            ));
        }
        Ok(())
    }

    fn pos(&self) -> Option<u64> {
        None
    }
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// A numeric header field: octal text, or GNU base-256.
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ' || b == 0)
        .take_while(|&b| (b'0'..=b'7').contains(&b))
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&text).ok()?, 8).ok()
}

/// Writes `v` as zero-padded octal ending in NUL, or base-256 if too large.
fn set_number(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let text = format!("{v:0digits$o}");
    if text.len() <= digits {
        field[..digits].copy_from_slice(text.as_bytes());
        field[digits] = 0;
    } else {
        field.fill(0);
        let mut x = v;
        for b in field.iter_mut().rev() {
            *b = (x & 0xff) as u8;
            x >>= 8;
        }
        field[0] |= 0x80;
    }
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn checksum_set(h: &mut Header) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(&text.as_bytes()[..8]);
}

fn is_posix(h: &Header) -> bool {
    &h[257..263] == b"ustar\0"
}

fn has_owner_names(h: &Header) -> bool {
    &h[257..262] == b"ustar"
}

/// PAX records, parsed strictly ("LEN key=value\n").
fn pax_records(data: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        let rec = rest.get(..len)?;
        let body = rec.get(sp + 1..len.checked_sub(1)?)?;
        let eq = body.iter().position(|&b| b == b'=')?;
        out.push((body[..eq].to_vec(), body[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Some(out)
}

fn pax_encode(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

fn pax_get(metas: &[Meta], key: &[u8]) -> Option<Vec<u8>> {
    metas
        .iter()
        .filter(|m| m.header[156] == b'x')
        .filter_map(|m| pax_records(&m.data))
        .flatten()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .next_back()
}

/// Walks the archive, calling `on_data` for each member that has data with
/// a reader limited to that data; it returns how to keep the data.
fn walk(
    input: &mut dyn Input,
    name: &str,
    nx: &Nx<'_>,
    on_data: &mut dyn FnMut(&mut dyn Input, &Member, u64) -> Result<Data>,
) -> Result<Vec<Member>> {
    let bad = |d: String| nx.malformed(Kind::Tar, name, d);
    let io = |e: io::Error| nx.io(e, name, "reading tar");
    let mut members = Vec::new();
    let mut metas: Vec<Meta> = Vec::new();
    loop {
        let mut h = [0u8; BLOCK];
        if !input.block(&mut h).map_err(io)? {
            break;
        }
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let stored: u32 = number(&h[148..156]).unwrap_or(u64::MAX) as u32;
        let mut check = h;
        check[148..156].fill(b' ');
        if check.iter().map(|&b| u32::from(b)).sum::<u32>() != stored {
            return Err(bad(format!(
                "header checksum mismatch after {} members",
                members.len()
            )));
        }
        let size = number(&h[124..136]).ok_or_else(|| bad("bad size field".into()))?;
        let flag = h[156];
        if matches!(flag, b'x' | b'L' | b'K') {
            if size > MAX_META {
                return Err(bad(format!(
                    "metadata header of {size} bytes (at most {MAX_META})"
                )));
            }
            let mut data = vec![0u8; size as usize];
            input.read_exact(&mut data).map_err(io)?;
            input.skip(padded(size) - size).map_err(io)?;
            metas.push(Meta { header: h, data });
            continue;
        }
        let mut ext = Vec::new();
        if flag == b'S' && h[482] != 0 {
            loop {
                let mut e = [0u8; BLOCK];
                input.read_exact(&mut e).map_err(io)?;
                let more = e[504] != 0;
                ext.push(e);
                if ext.len() > 4096 {
                    return Err(bad("too many sparse extension blocks".into()));
                }
                if !more {
                    break;
                }
            }
        }
        let long = |f: u8| {
            metas
                .iter()
                .rev()
                .find(|m| m.header[156] == f)
                .map(|m| cstr(&m.data).to_vec())
        };
        let mut path = pax_get(&metas, b"path")
            .or_else(|| long(b'L'))
            .unwrap_or_else(|| {
                let n = cstr(&h[..100]);
                let prefix = cstr(&h[345..500]);
                if is_posix(&h) && !prefix.is_empty() {
                    [prefix, b"/", n].concat()
                } else {
                    n.to_vec()
                }
            });
        if flag == b'g' {
            path.clear();
        }
        let link = pax_get(&metas, b"linkpath")
            .or_else(|| long(b'K'))
            .unwrap_or_else(|| cstr(&h[157..257]).to_vec());
        let size = match pax_get(&metas, b"size") {
            Some(v) => std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("bad PAX size".into()))?,
            None => size,
        };
        let member_path = nested(name, &String::from_utf8_lossy(&path));
        nx.budget.add_entry(&member_path)?;
        let mut m = Member {
            metas: std::mem::take(&mut metas),
            header: h,
            ext,
            path,
            link,
            data: Data::None,
        };
        let has_data = !matches!(flag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        if has_data {
            m.data = on_data(input, &m, size)?;
            input.skip(padded(size) - size).map_err(io)?;
        }
        members.push(m);
    }
    Ok(members)
}

/// Orders paths component by component, as `tar --sort=name` does.
fn path_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let parts = |p: &[u8]| {
        p.split(|&c| c == b'/')
            .filter(|s| !s.is_empty())
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    parts(a).cmp(&parts(b))
}

/// The canonical order: global headers first, then by path; a hard link
/// comes after its target.
fn canonical_order(members: &[Member]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| {
        let (ma, mb) = (&members[a], &members[b]);
        mb.is_global()
            .cmp(&ma.is_global())
            .then_with(|| path_cmp(&ma.path, &mb.path))
    });
    let mut i = 0;
    while i < order.len() {
        let m = &members[order[i]];
        if m.typeflag() == b'1' {
            let target = order
                .iter()
                .rposition(|&j| members[j].path == m.link && members[j].typeflag() != b'1');
            if let Some(t) = target.filter(|&t| t > i) {
                let moved = order.remove(i);
                order.insert(t, moved);
                continue;
            }
        }
        i += 1;
    }
    order
}

/// Patches the time, owner and (for members) mode fields of a header.
fn patch_header(
    h: &mut Header,
    epoch: i64,
    member: Option<u8>,
    path: &str,
    fired: &mut Vec<Fired>,
) {
    let before = *h;
    let epoch = u64::try_from(epoch).unwrap_or(0);
    if number(&h[136..148]).is_none_or(|t| t > epoch) {
        set_number(&mut h[136..148], epoch);
        fire(fired, path, Rule::TarMtimeClamp);
    }
    let mut owner = false;
    for field in [108..116, 116..124] {
        if number(&h[field.clone()]) != Some(0) {
            set_number(&mut h[field], 0);
            owner = true;
        }
    }
    if has_owner_names(h) {
        for field in [265..297, 297..329] {
            if h[field.clone()].iter().any(|&b| b != 0) {
                h[field].fill(0);
                owner = true;
            }
        }
    }
    if owner {
        fire(fired, path, Rule::TarOwner);
    }
    if let Some(flag) = member {
        let mode = number(&h[100..108]).unwrap_or(0) as u32;
        let perms = match flag {
            b'5' => 0o755,
            b'2' => 0o777,
            _ => canonical_file_mode(mode),
        };
        let new = (mode & !0o7777) | perms;
        if new != mode {
            set_number(&mut h[100..108], u64::from(new));
            fire(fired, path, Rule::TarMode);
        }
    }
    if *h != before {
        checksum_set(h);
    }
}

/// Replaces `PaxHeaders.<pid>` in a PAX header's own name by `PaxHeaders.0`.
fn strip_pid(h: &mut Header) -> bool {
    let name = cstr(&h[..100]).to_vec();
    let Some(at) = name.windows(11).position(|w| w == b"PaxHeaders.") else {
        return false;
    };
    let digits = name[at + 11..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || (digits == 1 && name[at + 11] == b'0') {
        return false;
    }
    let new = [&name[..at + 11], b"0", &name[at + 11 + digits..]].concat();
    h[..100].fill(0);
    h[..new.len()].copy_from_slice(&new);
    true
}

const VOLATILE_PAX: [&[u8]; 6] = [
    b"atime",
    b"ctime",
    b"LIBARCHIVE.creationtime",
    b"SCHILY.dev",
    b"SCHILY.ino",
    b"SCHILY.nlink",
];
const OWNER_PAX: [&[u8]; 4] = [b"uid", b"gid", b"uname", b"gname"];

/// Canonical metadata blocks; `None` entries are dropped.
fn patch_metas(metas: &mut Vec<Meta>, epoch: i64, path: &str, fired: &mut Vec<Fired>) {
    metas.retain_mut(|m| {
        patch_header(&mut m.header, epoch, None, path, fired);
        if m.header[156] != b'x' && m.header[156] != b'g' {
            return true;
        }
        if strip_pid(&mut m.header) {
            fire(fired, path, Rule::TarPaxVolatile);
            checksum_set(&mut m.header);
        }
        let Some(records) = pax_records(&m.data) else {
            return true;
        };
        let mut kept = Vec::with_capacity(records.len());
        for (k, v) in records {
            if VOLATILE_PAX.contains(&k.as_slice()) {
                fire(fired, path, Rule::TarPaxVolatile);
            } else if OWNER_PAX.contains(&k.as_slice()) {
                fire(fired, path, Rule::TarOwner);
            } else if k == b"mtime" {
                let secs = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.split('.').next())
                    .and_then(|s| s.parse::<i64>().ok());
                if secs.is_none_or(|t| t > epoch) || (secs == Some(epoch) && v.contains(&b'.')) {
                    fire(fired, path, Rule::TarMtimeClamp);
                    kept.push((k, epoch.max(0).to_string().into_bytes()));
                } else {
                    kept.push((k, v));
                }
            } else {
                kept.push((k, v));
            }
        }
        let data = pax_encode(&kept);
        if data != m.data {
            if kept.is_empty() {
                return false;
            }
            m.data = data;
            set_number(&mut m.header[124..136], m.data.len() as u64);
            checksum_set(&mut m.header);
        }
        true
    });
}

/// Sets a member's data size in its header and PAX size record.
fn set_size(m: &mut Member, size: u64) {
    for meta in &mut m.metas {
        if meta.header[156] != b'x' {
            continue;
        }
        if let Some(mut records) = pax_records(&meta.data) {
            if let Some(r) = records.iter_mut().find(|(k, _)| k == b"size") {
                r.1 = size.to_string().into_bytes();
                meta.data = pax_encode(&records);
                set_number(&mut meta.header[124..136], meta.data.len() as u64);
                checksum_set(&mut meta.header);
            }
        }
    }
    set_number(&mut m.header[124..136], size);
    checksum_set(&mut m.header);
}

/// Applies every rule to the members; returns the order to write them in.
fn plan(members: &mut [Member], name: &str, nx: &Nx<'_>, fired: &mut Vec<Fired>) -> Vec<usize> {
    let order = canonical_order(members);
    if order.iter().enumerate().any(|(i, &j)| i != j) {
        fire(fired, name, Rule::TarSort);
    }
    for m in members.iter_mut() {
        patch_metas(&mut m.metas, nx.epoch, name, fired);
        let flag = m.typeflag();
        patch_header(
            &mut m.header,
            nx.epoch,
            (flag != b'g').then_some(flag),
            name,
            fired,
        );
    }
    order
}

fn write(members: &[Member], order: &[usize], out: &mut dyn Write) -> io::Result<()> {
    let zeros = [0u8; BLOCK];
    let mut total = 0u64;
    let put = |out: &mut dyn Write, bytes: &[u8], total: &mut u64| -> io::Result<()> {
        out.write_all(bytes)?;
        *total += bytes.len() as u64;
        Ok(())
    };
    for &i in order {
        let m = &members[i];
        for meta in &m.metas {
            put(out, &meta.header, &mut total)?;
            put(out, &meta.data, &mut total)?;
            let pad = padded(meta.data.len() as u64) - meta.data.len() as u64;
            put(out, &zeros[..pad as usize], &mut total)?;
        }
        put(out, &m.header, &mut total)?;
        for e in &m.ext {
            put(out, e, &mut total)?;
        }
        if let Data::Blob(b) = &m.data {
            b.copy_to(out)?;
            total += b.len();
            let pad = padded(b.len()) - b.len();
            put(out, &zeros[..pad as usize], &mut total)?;
        }
    }
    put(out, &zeros, &mut total)?;
    put(out, &zeros, &mut total)?;
    let pad = total.div_ceil(RECORD) * RECORD - total;
    for _ in 0..pad / BLOCK as u64 {
        put(out, &zeros, &mut total)?;
    }
    Ok(())
}

impl Normalizer for Tar {
    fn format(&self) -> Format {
        Format::Tar
    }

    fn detect(&self, head: &[u8]) -> bool {
        reader_detects(Kind::Tar, head)
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let mut fired = Vec::new();
        let mut reader = BlobInput(input.reader());
        let mut members = walk(&mut reader, name, nx, &mut |inp, _m, size| {
            let at = inp.pos().ok_or_else(|| {
                nx.malformed(Kind::Tar, name, "internal: positions are known for files")
            })?;
            let blob = input.slice(at, size).ok_or_else(|| {
                nx.malformed(
                    Kind::Tar,
                    name,
                    "member data runs past the end of the archive",
                )
            })?;
            inp.skip(size).map_err(|e| nx.io(e, name, "reading tar"))?;
            Ok(Data::Blob(blob))
        })?;
        let order = plan(&mut members, name, nx, &mut fired);
        for m in &mut members {
            let Data::Blob(b) = &m.data else { continue };
            if !m.is_regular() {
                continue;
            }
            let path = nested(name, &String::from_utf8_lossy(&m.path));
            if let Some((new, inner)) = normalize_nested(b, &path, depth + 1, nx)? {
                fired.extend(inner);
                set_size(m, new.len());
                m.data = Data::Blob(new);
            }
        }
        if fired.is_empty() {
            return Ok(fired);
        }
        write(&members, &order, out).map_err(|e| nx.io(e, name, "writing tar"))?;
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        digest_stream(&mut input.reader(), name, depth, nx)
    }
}

/// The digest of a tar read as a stream (so a compressed tar is never spooled).
pub(super) fn digest_stream(
    r: &mut dyn Read,
    name: &str,
    depth: u32,
    nx: &Nx<'_>,
) -> Result<Digested> {
    let mut fired = Vec::new();
    let mut input = StreamInput(r);
    let mut members = walk(&mut input, name, nx, &mut |inp, m, size| {
        let path = nested(name, &String::from_utf8_lossy(&m.path));
        let mut limited = LimitedInput {
            inner: inp,
            left: size,
        };
        let d = if m.is_regular() {
            digest_reader(&mut limited, &path, depth + 1, nx)?
        } else {
            Digested {
                sha256: super::sha256_of(&mut limited).map_err(|e| nx.io(e, &path, "reading"))?,
                fired: Vec::new(),
            }
        };
        if limited.left != 0 {
            return Err(nx.malformed(
                Kind::Tar,
                name,
                "member data runs past the end of the archive",
            ));
        }
        Ok(Data::Digest(d.sha256, d.fired))
    })?;
    plan(&mut members, name, nx, &mut fired);
    let mut entries = Vec::with_capacity(members.len());
    for m in &mut members {
        if m.is_global() {
            continue;
        }
        let mode = number(&m.header[100..108]).unwrap_or(0) as u32;
        let (kind, digest) = match m.typeflag() {
            b'5' => ("dir", Sha256::digest(b"").into()),
            b'2' => ("symlink", Sha256::digest(&m.link).into()),
            b'1' => ("hardlink", Sha256::digest(&m.link).into()),
            b'3' | b'4' => (
                if m.typeflag() == b'3' {
                    "chardev"
                } else {
                    "blockdev"
                },
                Sha256::digest(
                    format!(
                        "{},{}",
                        number(&m.header[329..337]).unwrap_or(0),
                        number(&m.header[337..345]).unwrap_or(0)
                    )
                    .as_bytes(),
                )
                .into(),
            ),
            b'6' => ("fifo", Sha256::digest(b"").into()),
            _ => match &mut m.data {
                Data::Digest(d, inner) => {
                    fired.append(inner);
                    ("file", *d)
                }
                _ => ("file", Sha256::digest(b"").into()),
            },
        };
        entries.push(DigestEntry {
            path: m.path.clone(),
            kind,
            mode: mode & 0o7777,
            digest,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = ContainerHasher::new("tar");
    for e in &entries {
        h.entry(e);
    }
    Ok(Digested {
        sha256: h.finish(),
        fired,
    })
}

/// A reader over the next `left` bytes of an [`Input`].
struct LimitedInput<'a> {
    inner: &'a mut dyn Input,
    left: u64,
}

impl Read for LimitedInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.inner.read_exact(&mut buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }
}
