//! Binary OpenPGP messages (RFC 4880 packets): a signed file as `gpg
//! --sign` writes it — a compressed-data packet holding a one-pass
//! signature, the literal data and the signature. The literal data is
//! member `contents` (what `gpg --decrypt --output contents` writes, which
//! is what diffoscope shows, and recurses into); every packet is a line of
//! member `OpenPGP packets` (type, algorithms, key id, times), where a new
//! signature shows.
//!
//! [`walk`] is the one parser: it reads the packet stream once, old and
//! new length formats (partial bodies included), through ZIP, ZLIB and
//! BZip2 compressed-data packets nested at most [`MAX_NESTING`] deep, each
//! decompressing read charged to the decompressed-bytes and ratio limits.
//! Literal data is spooled as it streams; a signature packet is read into
//! memory only up to [`MAX_SIGNATURE`] bytes; other packets (keys,
//! encrypted data) are listed and skipped. ASCII-armoured messages are
//! text and stay text. The normalizer leaves them alone (digested as
//! bytes).
//!
//! The packet header is a weak magic number, so content that detection
//! took for OpenPGP but whose first packets do not parse is compared as
//! bytes; once a literal-data or signature packet has parsed, damage is an
//! error.

use std::fmt::Write as _;
use std::io::{self, Read};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::{lossy, plain_entry, Format, Kind, Parsed};
use crate::limits::{Consumed, CountingReader, LimitReader};
use crate::model::{Content, Cx, Spool};
use crate::timefmt::format_utc;
use crate::{Error, Result};

/// Binary OpenPGP messages.
pub struct Pgp;

/// Deepest nesting of compressed-data packets followed (gpg writes one).
pub(crate) const MAX_NESTING: usize = 4;
/// Largest signature or one-pass signature packet read into memory.
pub(crate) const MAX_SIGNATURE: u64 = 1 << 20;
/// The member holding the literal data.
const CONTENTS: &str = "contents";
/// The member listing the packets.
const PACKETS: &str = "OpenPGP packets";

/// A packet's tag and the length of its first body chunk.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    tag: u8,
    len: Length,
}

/// How a packet's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Length {
    /// Exactly this many bytes.
    Fixed(u64),
    /// A chunk of this many bytes, then another length.
    Partial(u64),
    /// To the end of the enclosing stream (old format, length type 3).
    Indeterminate,
}

/// Reads a packet header; `None` at the end of the stream.
fn header(r: &mut dyn Read) -> io::Result<Option<Header>> {
    let mut first = [0u8; 1];
    if r.read(&mut first)? == 0 {
        return Ok(None);
    }
    let b = first[0];
    if b & 0x80 == 0 {
        return Err(invalid(format!(
            "packet header byte {b:#04x} lacks its high bit"
        )));
    }
    if b & 0x40 != 0 {
        return Ok(Some(Header {
            tag: b & 0x3f,
            len: new_length(r)?,
        }));
    }
    let len = match b & 3 {
        0 => Length::Fixed(u64::from(byte(r)?)),
        1 => Length::Fixed(be(r, 2)?),
        2 => Length::Fixed(be(r, 4)?),
        _ => Length::Indeterminate,
    };
    Ok(Some(Header {
        tag: (b >> 2) & 0xf,
        len,
    }))
}

/// A new-format length (which may be a partial body length).
fn new_length(r: &mut dyn Read) -> io::Result<Length> {
    let o1 = u64::from(byte(r)?);
    Ok(match o1 {
        0..=191 => Length::Fixed(o1),
        192..=223 => Length::Fixed(((o1 - 192) << 8) + u64::from(byte(r)?) + 192),
        255 => Length::Fixed(be(r, 4)?),
        _ => Length::Partial(1 << (o1 & 0x1f)),
    })
}

fn invalid(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail)
}

fn byte(r: &mut dyn Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

/// A big-endian number of `n` bytes.
fn be(r: &mut dyn Read, n: usize) -> io::Result<u64> {
    let mut v = 0u64;
    for _ in 0..n {
        v = (v << 8) | u64::from(byte(r)?);
    }
    Ok(v)
}

/// A packet's body, as a stream over the packet stream `r`.
struct Body<'r> {
    r: &'r mut dyn Read,
    /// Bytes left in the current chunk.
    left: u64,
    /// Another length follows the current chunk.
    partial: bool,
    /// The body runs to the end of `r`.
    open: bool,
}

impl<'r> Body<'r> {
    fn new(r: &'r mut dyn Read, len: Length) -> Self {
        let (left, partial, open) = match len {
            Length::Fixed(n) => (n, false, false),
            Length::Partial(n) => (n, true, false),
            Length::Indeterminate => (0, false, true),
        };
        Body {
            r,
            left,
            partial,
            open,
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.open {
            return self.r.read(buf);
        }
        while self.left == 0 && self.partial {
            match new_length(self.r)? {
                Length::Partial(n) => self.left = n,
                Length::Fixed(n) => {
                    self.left = n;
                    self.partial = false;
                }
                Length::Indeterminate => unreachable_length()?,
            }
        }
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "packet body cut short",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// new_length never yields Indeterminate; kept an error, not a panic.
fn unreachable_length() -> io::Result<()> {
    Err(invalid("indeterminate length inside a packet".into()))
}

/// What [`walk`] found.
#[derive(Default)]
struct Walked {
    /// One line per packet, nesting shown by indentation.
    lines: String,
    /// The literal data, spooled.
    contents: Vec<Content>,
    /// A literal-data or signature packet parsed: from then on, damage is
    /// an error rather than "not OpenPGP after all".
    sure: bool,
}

/// What a walk needs besides the stream.
struct Ctx<'c, 'a> {
    cx: &'c Cx<'a>,
    name: &'c str,
    spool: Spool,
}

/// Reads the packets of `r`, `depth` compressed-data packets deep.
fn walk(r: &mut dyn Read, depth: usize, ctx: &mut Ctx<'_, '_>, out: &mut Walked) -> io::Result<()> {
    let indent = "  ".repeat(depth);
    while let Some(h) = header(r)? {
        let mut body = Body::new(r, h.len);
        match h.tag {
            8 => {
                let algo = byte(&mut body)?;
                let _ = writeln!(out.lines, "{indent}compressed data: {}", compression(algo));
                if depth + 1 > MAX_NESTING {
                    return Err(invalid(format!(
                        "compressed-data packets nested deeper than {MAX_NESTING}"
                    )));
                }
                let count = Arc::new(AtomicU64::new(0));
                let counted = CountingReader::new(&mut body, Arc::clone(&count));
                let mut inner: Box<dyn Read + '_> = match algo {
                    0 => Box::new(counted),
                    1 => Box::new(flate2::read::DeflateDecoder::new(counted)),
                    2 => Box::new(flate2::read::ZlibDecoder::new(counted)),
                    3 => Box::new(bzip2::read::BzDecoder::new(counted)),
                    other => return Err(invalid(format!("compression algorithm {other}"))),
                };
                let (budget, name) = (ctx.cx.budget, ctx.name);
                let mut limited =
                    LimitReader::new(&mut inner, budget, name, Consumed::Counted(count));
                walk(&mut limited, depth + 1, ctx, out)?;
            }
            11 => {
                let format = byte(&mut body)?;
                let name_len = usize::from(byte(&mut body)?);
                let mut file = vec![0u8; name_len];
                body.read_exact(&mut file)?;
                let date = be(&mut body, 4)?;
                out.sure = true;
                let member = member_name(out.contents.len());
                ctx.cx
                    .budget
                    .add_entry(&format!("{}::{member}", ctx.name))
                    .map_err(io::Error::other)?;
                let content = ctx
                    .spool
                    .append(&mut body, ctx.cx, ctx.name)
                    .map_err(io::Error::other)?;
                let _ = writeln!(
                    out.lines,
                    "{indent}literal data ({member}): format {:?}, file name {:?}, modified {} ({date})",
                    char::from(format),
                    lossy(&file),
                    format_utc(date as i64),
                );
                out.contents.push(content);
            }
            2 | 4 => {
                let mut packet = Vec::new();
                (&mut body)
                    .take(MAX_SIGNATURE + 1)
                    .read_to_end(&mut packet)?;
                if packet.len() as u64 > MAX_SIGNATURE {
                    return Err(invalid(format!(
                        "signature packet over {MAX_SIGNATURE} bytes"
                    )));
                }
                let line = if h.tag == 2 {
                    signature(&packet)
                } else {
                    one_pass(&packet)
                }
                .ok_or_else(|| invalid(format!("malformed packet of tag {}", h.tag)))?;
                out.sure |= h.tag == 2;
                let _ = writeln!(out.lines, "{indent}{line}");
            }
            tag => {
                let n = io::copy(&mut body, &mut io::sink())?;
                let _ = writeln!(
                    out.lines,
                    "{indent}packet of tag {tag}: {n} bytes, not read"
                );
            }
        }
        // Whatever a packet's reader left of its body is skipped, so that
        // the next header is read where it starts.
        io::copy(&mut body, &mut io::sink())?;
    }
    Ok(())
}

/// `contents`, then `contents.2` and on for further literal-data packets.
fn member_name(i: usize) -> String {
    if i == 0 {
        CONTENTS.to_owned()
    } else {
        format!("{CONTENTS}.{}", i + 1)
    }
}

fn compression(algo: u8) -> &'static str {
    match algo {
        0 => "uncompressed",
        1 => "ZIP",
        2 => "ZLIB",
        3 => "BZip2",
        _ => "unknown",
    }
}

fn hash(algo: u8) -> String {
    match algo {
        1 => "MD5".into(),
        2 => "SHA1".into(),
        3 => "RIPEMD160".into(),
        8 => "SHA256".into(),
        9 => "SHA384".into(),
        10 => "SHA512".into(),
        11 => "SHA224".into(),
        12 => "SHA3-256".into(),
        14 => "SHA3-512".into(),
        n => format!("hash {n}"),
    }
}

fn public_key(algo: u8) -> String {
    match algo {
        1..=3 => "RSA".into(),
        16 => "ElGamal".into(),
        17 => "DSA".into(),
        18 => "ECDH".into(),
        19 => "ECDSA".into(),
        22 => "EdDSA".into(),
        27 => "Ed25519".into(),
        28 => "Ed448".into(),
        n => format!("public-key algorithm {n}"),
    }
}

fn sig_type(t: u8) -> String {
    match t {
        0 => "binary document".into(),
        1 => "text document".into(),
        n => format!("signature type {n:#04x}"),
    }
}

/// A one-pass signature packet's line.
fn one_pass(p: &[u8]) -> Option<String> {
    let [3, t, h, pk, rest @ ..] = p else {
        return None;
    };
    Some(format!(
        "one-pass signature: {}, {}, {}, key id {}",
        sig_type(*t),
        hash(*h),
        public_key(*pk),
        hex::encode_upper(rest.get(..8)?)
    ))
}

/// A signature packet's line: its type, algorithms, creation time, issuer,
/// and a digest of the signature itself (which changes with every signing
/// even when nothing else does).
fn signature(p: &[u8]) -> Option<String> {
    use sha2::Digest as _;
    let mut line = String::new();
    match p {
        [3, 5, t, c0, c1, c2, c3, rest @ ..] => {
            let created = u32::from_be_bytes([*c0, *c1, *c2, *c3]);
            let key = rest.get(..8)?;
            let (pk, h) = (*rest.get(8)?, *rest.get(9)?);
            let _ = write!(
                line,
                "signature v3: {}, {}, {}, created {} ({created}), key id {}",
                sig_type(*t),
                hash(h),
                public_key(pk),
                format_utc(i64::from(created)),
                hex::encode_upper(key)
            );
        }
        [4, t, pk, h, rest @ ..] => {
            let _ = write!(
                line,
                "signature v4: {}, {}, {}",
                sig_type(*t),
                hash(*h),
                public_key(*pk)
            );
            // Two subpacket areas (hashed, then unhashed), each after its
            // two-byte length.
            let mut at = 0;
            for _ in 0..2 {
                let len = usize::from(u16::from_be_bytes([*rest.get(at)?, *rest.get(at + 1)?]));
                subpackets(rest.get(at + 2..at + 2 + len)?, &mut line)?;
                at += 2 + len;
            }
        }
        // Later versions (four-byte area lengths, salts) are listed by
        // version and digest only.
        [v, ..] if *v >= 5 => {
            let _ = write!(line, "signature v{v}: not decoded");
        }
        _ => return None,
    }
    let digest = sha2::Sha256::digest(p);
    let _ = write!(line, ", packet sha256 {}", hex::encode(&digest[..8]));
    Some(line)
}

/// Appends the creation time and issuer of a subpacket area.
fn subpackets(mut area: &[u8], line: &mut String) -> Option<()> {
    while let Some(&o1) = area.first() {
        let (len, skip): (usize, usize) = match o1 {
            0..=191 => (usize::from(o1), 1),
            192..=254 => (
                ((usize::from(o1) - 192) << 8) + usize::from(*area.get(1)?) + 192,
                2,
            ),
            255 => (
                usize::try_from(u32::from_be_bytes(area.get(1..5)?.try_into().ok()?)).ok()?,
                5,
            ),
        };
        let sub = area.get(skip..skip.checked_add(len)?)?;
        match sub {
            [2, a, b, c, d] => {
                let t = u32::from_be_bytes([*a, *b, *c, *d]);
                let _ = write!(line, ", created {} ({t})", format_utc(i64::from(t)));
            }
            [16, key @ ..] => {
                let _ = write!(line, ", issuer {}", hex::encode_upper(key));
            }
            [33, _version, fpr @ ..] => {
                let _ = write!(line, ", issuer fingerprint {}", hex::encode_upper(fpr));
            }
            _ => {}
        }
        area = &area[skip + len..];
    }
    Some(())
}

impl Format for Pgp {
    fn kind(&self) -> Kind {
        Kind::Pgp
    }

    fn detect(&self, head: &[u8]) -> bool {
        let mut r = head;
        let Ok(Some(h)) = header(&mut r) else {
            return false;
        };
        let first = r.first().copied();
        match h.tag {
            // The compressed stream must start as its algorithm's does:
            // a packet, a deflate block type other than the reserved one,
            // a zlib header, a bzip2 signature.
            8 => match (first, r.get(1..)) {
                (Some(0), Some(rest)) => rest.first().is_some_and(|b| b & 0x80 != 0),
                (Some(1), Some([b, ..])) => (b >> 1) & 3 != 3,
                (Some(2), Some([cmf, flg, ..])) => {
                    cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
                }
                (Some(3), Some(rest)) => rest.starts_with(b"BZh"),
                _ => false,
            },
            4 => first == Some(3),
            2 => matches!(first, Some(3..=5)),
            11 => matches!(first, Some(b'b' | b't' | b'u' | b'l' | b'1' | b'm')),
            _ => false,
        }
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let mut out = Walked::default();
        let mut ctx = Ctx {
            cx,
            name,
            spool: Spool::default(),
        };
        let walked = content.with_reader(cx, name, |r| Ok(walk(r, 0, &mut ctx, &mut out)))?;
        if let Err(e) = walked {
            if let Some(tripped) = cx.budget.tripped() {
                return Err(tripped);
            }
            // Damage is the message's (flate2 calls a corrupt stream
            // invalid input); anything else (a spool file that could not
            // be written) is the machine's, and keeps its kind.
            let ours = e.get_ref().and_then(|i| i.downcast_ref::<Error>());
            let damaged = ours.map_or_else(
                || {
                    matches!(
                        e.kind(),
                        io::ErrorKind::InvalidData
                            | io::ErrorKind::InvalidInput
                            | io::ErrorKind::UnexpectedEof
                    )
                },
                Error::is_malformed_input,
            );
            if !damaged {
                return Err(cx.io(e, name, "reading OpenPGP"));
            }
            if !out.sure {
                return Ok(Parsed::Binary);
            }
            let detail = match ours {
                Some(Error::Io { source, .. }) => source.to_string(),
                _ => e.to_string(),
            };
            return Err(Error::Malformed {
                entry: name.to_owned(),
                format: Kind::Pgp,
                detail,
            });
        }
        if !out.sure {
            return Ok(Parsed::Binary);
        }
        let mut entries = vec![plain_entry(
            0,
            PACKETS,
            Content::memory(out.lines.into_bytes()),
        )];
        for (i, c) in out.contents.into_iter().enumerate() {
            entries.push(plain_entry(i + 1, &member_name(i), c));
        }
        Ok(super::archive(Kind::Pgp, entries, Vec::new(), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// A new-format packet of `tag` with a one-, two- or five-byte length.
    fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0xc0 | tag];
        match body.len() {
            n @ 0..=191 => p.push(n as u8),
            n @ 192..=8383 => {
                let n = n - 192;
                p.extend_from_slice(&[(n >> 8) as u8 + 192, n as u8]);
            }
            n => {
                p.push(255);
                p.extend_from_slice(&(n as u32).to_be_bytes());
            }
        }
        p.extend_from_slice(body);
        p
    }

    /// What `gpg --sign` writes around `data`, its packets compressed with
    /// ZLIB in an old-format packet of indeterminate length.
    fn signed(data: &[u8], created: u32) -> Vec<u8> {
        let key = [0x1e, 0x95, 0x3e, 0x27, 0xd4, 0x31, 0x1e, 0x58];
        let one_pass = packet(4, &[&[3u8, 0, 8, 1][..], &key, &[1]].concat());
        let literal = packet(
            11,
            &[&b"b\x05a.tar"[..], &created.to_be_bytes(), data].concat(),
        );
        let hashed = [&[5u8, 2][..], &created.to_be_bytes()].concat();
        let unhashed = [&[9u8, 16][..], &key].concat();
        let sig = packet(
            2,
            &[
                &[4u8, 0, 1, 8][..],
                &(hashed.len() as u16).to_be_bytes(),
                &hashed,
                &(unhashed.len() as u16).to_be_bytes(),
                &unhashed,
                &[0x60, 0xc1, 0, 8, 0xaa],
            ]
            .concat(),
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&[one_pass, literal, sig].concat()).unwrap();
        [&[0xa3u8, 2][..], &z.finish().unwrap()].concat()
    }

    fn read_all(bytes: Vec<u8>) -> Result<Parsed> {
        let sides = crate::model::Sides::new();
        Pgp.read(&Content::memory(bytes), "s.pgp", &sides.cx(0))
    }

    fn text(c: &Content) -> String {
        let sides = crate::model::Sides::new();
        let cx = sides.cx(0);
        let mut out = Vec::new();
        c.with_reader(&cx, "t", |r| {
            r.read_to_end(&mut out)
                .map_err(|e| cx.io(e, "t", "reading"))
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_signed_file_has_its_contents_and_its_packets() {
        let bytes = signed(b"hello\n", 1_598_356_055);
        assert!(Pgp.detect(&bytes));
        let Parsed::Container(x) = read_all(bytes).unwrap() else {
            panic!("not a container");
        };
        let names: Vec<_> = x.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, [PACKETS, CONTENTS]);
        assert_eq!(text(&x.entries[1].content), "hello\n");
        let packets = text(&x.entries[0].content);
        let lines: Vec<_> = packets.lines().collect();
        assert_eq!(lines[0], "compressed data: ZLIB");
        assert_eq!(
            lines[1],
            "  one-pass signature: binary document, SHA256, RSA, key id 1E953E27D4311E58"
        );
        assert_eq!(
            lines[2],
            "  literal data (contents): format 'b', file name \"a.tar\", \
             modified 2020-08-25 11:47:35 (1598356055)"
        );
        assert!(
            lines[3].starts_with(
                "  signature v4: binary document, SHA256, RSA, \
                 created 2020-08-25 11:47:35 (1598356055), issuer 1E953E27D4311E58, packet sha256 "
            ),
            "{}",
            lines[3]
        );
    }

    #[test]
    fn partial_body_lengths_are_joined() {
        // A literal packet in chunks of 2 and 1 bytes, then the last 3.
        let mut body = b"b\x00".to_vec();
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.extend_from_slice(b"abcdef");
        // 8 bytes (2^3) partial, then a fixed 4 bytes.
        let mut p = vec![0xc0 | 11, 0xe0 | 3];
        p.extend_from_slice(&body[..8]);
        p.push(4);
        p.extend_from_slice(&body[8..]);
        let Parsed::Container(x) = read_all(p).unwrap() else {
            panic!("not a container");
        };
        assert_eq!(text(&x.entries[1].content), "abcdef");
    }

    #[test]
    fn not_openpgp_after_all_is_bytes_and_damage_is_an_error() {
        // Detected (an old-format compressed-data header, ZIP) but not
        // deflate: bytes.
        assert!(Pgp.detect(&[0xa3, 1, 0xf9, 0xff]));
        // A reserved deflate block type, a zlib header whose check fails:
        // not taken for OpenPGP at all.
        assert!(!Pgp.detect(&[0xa3, 1, 0xff, 0xff]));
        assert!(!Pgp.detect(&[0xa3, 2, 0x78, 0x00]));
        assert!(Pgp.detect(&[0xa3, 2, 0x78, 0x9c]));
        assert!(matches!(
            read_all(vec![0xa3, 1, 0xf9, 0xff]).unwrap(),
            Parsed::Binary
        ));
        // A literal packet that parsed, then a body cut short: an error.
        let mut cut = packet(11, b"b\x00\0\0\0\0abcdef");
        cut.truncate(cut.len() - 2);
        let err = read_all(cut).unwrap_err().to_string();
        assert_eq!(err, "s.pgp: malformed OpenPGP: packet body cut short");
        assert!(!Pgp.detect(b"\x7fELF"));
        assert!(!Pgp.detect(b"-----BEGIN PGP MESSAGE-----"));
    }

    #[test]
    fn decompression_counts_against_the_limits() {
        let bytes = signed(&[0u8; 1 << 20], 0);
        let opts = crate::Options::default();
        let budget = crate::limits::Budget::new(crate::Limits {
            max_decompressed: 100_000,
            ..crate::Limits::default()
        });
        let cx = Cx {
            budget: &budget,
            opts: &opts,
        };
        let err = Pgp
            .read(&Content::memory(bytes), "s.pgp", &cx)
            .unwrap_err()
            .to_string();
        assert!(err.contains("total decompressed bytes"), "{err}");
        assert!(err.contains("--max-decompressed"), "{err}");
    }
}
