//! Gzip: one or more members; the header's mtime, file name, OS and extra
//! flags are compared as the container's own metadata.
//!
//! This is the one parser of gzip: [`first_header`] reads and checks the
//! first member's header for the differ (its fields are the container's
//! metadata) and for the normalizer (`normalize/gzip.rs`, which rewrites
//! it), and the member decoder behind [`Format::decoder`] checks every
//! member's header with the same [`check_header`] and decodes the stream
//! for both.

use std::io::{self, BufRead, Read};

use super::{single_stream, Format, Kind, Parsed};
use crate::limits::Budget;
use crate::model::{Content, Cx, MetaField, MetaValue};
use crate::{Error, Result};

/// Gzip streams.
pub struct Gzip;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".tgz", ".tar"), (".gz", ""), (".z", "")];

impl Format for Gzip {
    fn kind(&self) -> Kind {
        Kind::Gzip
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(&[0x1f, 0x8b, 0x08])
    }

    fn read(&self, content: &Content, entry: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let header = content.with_reader(cx, entry, |r| first_header(r, entry, cx.budget))?;
        Ok(Parsed::Container(single_stream(
            Kind::Gzip,
            content,
            entry,
            SUFFIXES,
            header.fields(),
        )))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(Ok(Box::new(Members::new(io::BufReader::with_capacity(
            64 * 1024,
            compressed,
        )))))
    }
}

/// A gzip stream of one or more members, decoded member by member as RFC
/// 1952 has it: header fields of any length (flate2's own reader refuses
/// names and comments over 64 KiB) are skipped as they pass, the header
/// CRC, each member's CRC-32 and its size are checked, and zero bytes
/// after the last member end the stream, as gzip(1) accepts them
/// (padding to a block size). Anything else after a member is an error.
struct Members<R: BufRead> {
    deflate: flate2::bufread::DeflateDecoder<R>,
    state: State,
    crc: crate::hash::Crc32,
    members: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a member header (or the end of the stream).
    Header,
    /// Inside a member's deflate data.
    Body,
    /// After the last member.
    Done,
}

/// FLG bits (RFC 1952 2.3.1).
pub(crate) const FTEXT: u8 = 0x01;
pub(crate) const FHCRC: u8 = 0x02;
pub(crate) const FEXTRA: u8 = 0x04;
pub(crate) const FNAME: u8 = 0x08;
pub(crate) const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: BufRead> Members<R> {
    fn new(r: R) -> Self {
        Members {
            deflate: flate2::bufread::DeflateDecoder::new(r),
            state: State::Header,
            crc: crate::hash::Crc32::new(),
            members: 0,
        }
    }

    /// Reads the next member's header, or finds the end of the stream.
    fn header(&mut self) -> io::Result<()> {
        let n = self.members + 1;
        let r = self.deflate.get_mut();
        let first = r.fill_buf()?.first().copied();
        match first {
            None if self.members == 0 => return Err(invalid("empty gzip stream".into())),
            None => {
                self.state = State::Done;
                return Ok(());
            }
            Some(0) if self.members > 0 => {
                // Padding: zeros to the end, nothing else.
                loop {
                    let buf = r.fill_buf()?;
                    if buf.is_empty() {
                        self.state = State::Done;
                        return Ok(());
                    }
                    if buf.iter().any(|&b| b != 0) {
                        return Err(invalid(format!(
                            "data after gzip member {} is neither a member nor zero padding",
                            self.members
                        )));
                    }
                    let len = buf.len();
                    r.consume(len);
                }
            }
            Some(b) if b != 0x1f && self.members > 0 => {
                return Err(invalid(format!(
                    "data after gzip member {} is neither a member nor zero padding",
                    self.members
                )));
            }
            Some(_) => {}
        }
        let header = read_header(r).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid(format!("gzip member {n}: {e}")),
            _ => e,
        })?;
        check_header(&header, n).map_err(|e| match e {
            BadHeader::NotAMember => invalid(format!(
                "data after gzip member {} is neither a member nor zero padding",
                self.members
            )),
            BadHeader::Invalid(detail) => invalid(detail),
        })?;
        self.deflate.reset_data();
        self.crc = crate::hash::Crc32::new();
        self.state = State::Body;
        Ok(())
    }

    /// Checks the trailer of the member just decoded.
    fn trailer(&mut self) -> io::Result<()> {
        self.members += 1;
        let n = self.members;
        let mut trailer = [0u8; 8];
        self.deflate
            .get_mut()
            .read_exact(&mut trailer)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    invalid(format!("gzip member {n}: trailer cut off"))
                }
                _ => e,
            })?;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        if crc != self.crc.sum() {
            return Err(invalid(format!(
                "gzip member {n}: CRC-32 mismatch (damaged data)"
            )));
        }
        if size != self.crc.amount() {
            return Err(invalid(format!(
                "gzip member {n}: size mismatch (trailer says {size} mod 2^32, decoded {})",
                self.crc.amount()
            )));
        }
        self.state = State::Header;
        Ok(())
    }
}

impl<R: BufRead> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => self.header()?,
                State::Body => {
                    let n = self.deflate.read(buf)?;
                    if n > 0 {
                        self.crc.update(&buf[..n]);
                        return Ok(n);
                    }
                    // The deflate data ended (or the input did: a cut
                    // stream has no trailer, which reading it reports).
                    self.trailer()?;
                }
            }
        }
    }
}

/// Longest file name or comment kept from a header: the rest is skipped
/// as it passes (RFC 1952 sets no limit), and the kept part shows with
/// `…` after it.
const MAX_KEPT: usize = 4096;

/// Why a member header was refused.
enum BadHeader {
    /// It does not start with the gzip magic: not a member at all.
    NotAMember,
    /// A member header with something wrong, in words.
    Invalid(String),
}

/// Checks member `n`'s header (from 1) as gzip(1) does: magic, deflate,
/// no reserved flags, header CRC. Used for every member by the decoder
/// and for the first by [`first_header`].
fn check_header(h: &MemberHeader, n: u64) -> std::result::Result<(), BadHeader> {
    if h.magic != [0x1f, 0x8b] {
        return Err(BadHeader::NotAMember);
    }
    if h.method != 8 {
        return Err(BadHeader::Invalid(format!(
            "gzip member {n}: compression method {} is not deflate",
            h.method
        )));
    }
    if h.flags & FRESERVED != 0 {
        return Err(BadHeader::Invalid(format!(
            "gzip member {n}: reserved header flags {:#04x} set",
            h.flags
        )));
    }
    if !h.crc_ok {
        return Err(BadHeader::Invalid(format!(
            "gzip member {n}: header CRC mismatch"
        )));
    }
    Ok(())
}

/// Reads and checks the first member's header from `r`, the start of the
/// gzip named `entry`: what the differ shows and the normalizer rewrites.
pub(crate) fn first_header(r: &mut dyn Read, entry: &str, budget: &Budget) -> Result<MemberHeader> {
    let malformed = |detail: String| {
        budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: entry.to_owned(),
            format: Kind::Gzip,
            detail,
        })
    };
    let mut r = io::BufReader::with_capacity(16 * 1024, r);
    let header = read_header(&mut r).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => malformed(format!("gzip member 1: {e}")),
        _ => budget.io_error(e, entry, "reading gzip"),
    })?;
    check_header(&header, 1).map_err(|e| match e {
        BadHeader::NotAMember => malformed("no gzip magic".into()),
        BadHeader::Invalid(detail) => malformed(detail),
    })?;
    Ok(header)
}

/// A kept header string, ISO 8859-1 as RFC 1952 has it, with `…` when
/// more of it was skipped.
fn latin1(kept: &[u8], cut: bool) -> String {
    let mut s: String = kept.iter().map(|&b| char::from(b)).collect();
    if cut {
        s.push('…');
    }
    s
}

impl MemberHeader {
    /// The fields the differ compares, as the container's metadata.
    fn fields(&self) -> Vec<(MetaField, MetaValue)> {
        let mut out = vec![
            (
                MetaField::Header("gzip mtime"),
                MetaValue::Time(i64::from(self.mtime)),
            ),
            (
                MetaField::Header("gzip extra flags"),
                MetaValue::Number(u64::from(self.xfl)),
            ),
            (
                MetaField::Header("gzip OS"),
                MetaValue::Number(u64::from(self.os)),
            ),
        ];
        if let Some((name, cut)) = &self.name {
            out.push((
                MetaField::Header("gzip file name"),
                MetaValue::Text(latin1(name, *cut)),
            ));
        }
        if let Some((comment, cut)) = &self.comment {
            out.push((
                MetaField::Header("gzip comment"),
                MetaValue::Text(latin1(comment, *cut)),
            ));
        }
        out
    }
}

/// One member header (RFC 1952), as [`read_header`] reads it.
pub(crate) struct MemberHeader {
    /// ID1 and ID2 (a member starts with 0x1f 0x8b).
    pub(crate) magic: [u8; 2],
    /// CM (8 is deflate).
    pub(crate) method: u8,
    /// FLG.
    pub(crate) flags: u8,
    /// MTIME.
    pub(crate) mtime: u32,
    /// XFL.
    pub(crate) xfl: u8,
    /// OS.
    pub(crate) os: u8,
    /// The extra field (at most 65,535 bytes: its length is 16 bits).
    pub(crate) extra: Option<Vec<u8>>,
    /// The original file name (FNAME): its first [`MAX_KEPT`] bytes, and
    /// whether there were more.
    pub(crate) name: Option<(Vec<u8>, bool)>,
    /// The comment (FCOMMENT), kept the same way.
    pub(crate) comment: Option<(Vec<u8>, bool)>,
    /// Header length in bytes.
    pub(crate) len: u64,
    /// Whether the header CRC (FHCRC) matches; true when there is none.
    pub(crate) crc_ok: bool,
}

/// Reads a member header from `r` as a stream: the file name and the
/// comment may be of any length (RFC 1952 sets none) and are skipped as
/// they pass, keeping their first [`MAX_KEPT`] bytes. Nothing is checked
/// but the header CRC (see [`MemberHeader::crc_ok`]); a cut header is an
/// `UnexpectedEof` error saying where ("header cut off in the file name").
pub(crate) fn read_header(r: &mut impl BufRead) -> io::Result<MemberHeader> {
    let mut crc = crate::hash::Crc32::new();
    let mut len = 0u64;
    let cut = |what: &str| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("header cut off in the {what}"),
        )
    };
    // Fills `buf`, counting it into the header CRC (`crc`) and length.
    let exact = |r: &mut dyn BufRead,
                 buf: &mut [u8],
                 what: &str,
                 crc: &mut crate::hash::Crc32,
                 len: &mut u64| {
        r.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => cut(what),
            _ => e,
        })?;
        crc.update(buf);
        *len += buf.len() as u64;
        Ok::<(), io::Error>(())
    };
    let mut fixed = [0u8; 10];
    exact(r, &mut fixed, "fixed fields", &mut crc, &mut len)?;
    let flags = fixed[3];
    let mut extra = None;
    if flags & FEXTRA != 0 {
        let mut xlen = [0u8; 2];
        exact(r, &mut xlen, "extra field", &mut crc, &mut len)?;
        let mut field = vec![0u8; usize::from(u16::from_le_bytes(xlen))];
        exact(r, &mut field, "extra field", &mut crc, &mut len)?;
        extra = Some(field);
    }
    let mut strings = [None, None];
    for ((flag, what), kept) in [(FNAME, "file name"), (FCOMMENT, "comment")]
        .into_iter()
        .zip(&mut strings)
    {
        if flags & flag == 0 {
            continue;
        }
        let (text, more) = kept.get_or_insert_with(|| (Vec::new(), false));
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                return Err(cut(what));
            }
            let (used, done) = match buf.iter().position(|&b| b == 0) {
                Some(end) => (end + 1, true),
                None => (buf.len(), false),
            };
            crc.update(&buf[..used]);
            let string = &buf[..used - usize::from(done)];
            let room = MAX_KEPT - text.len();
            text.extend_from_slice(&string[..string.len().min(room)]);
            *more |= string.len() > room;
            r.consume(used);
            len += used as u64;
            if done {
                break;
            }
        }
    }
    let mut crc_ok = true;
    if flags & FHCRC != 0 {
        let expected = crc.sum() & 0xffff;
        let mut stored = [0u8; 2];
        exact(
            r,
            &mut stored,
            "header CRC",
            &mut crate::hash::Crc32::new(),
            &mut len,
        )?;
        crc_ok = u32::from(u16::from_le_bytes(stored)) == expected;
    }
    Ok(MemberHeader {
        magic: [fixed[0], fixed[1]],
        method: fixed[2],
        flags,
        mtime: u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        xfl: fixed[8],
        os: fixed[9],
        extra,
        name: strings[0].take(),
        comment: strings[1].take(),
        len,
        crc_ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fields(gz: &[u8]) -> crate::Result<Vec<(MetaField, MetaValue)>> {
        let budget = Budget::new(crate::Limits::default());
        first_header(&mut &gz[..], "t.gz", &budget).map(|h| h.fields())
    }

    #[test]
    fn header_fields_are_read() {
        let mut enc = flate2::GzBuilder::new()
            .mtime(1_700_000_000)
            .filename("x.txt")
            .comment("hi")
            .write(Vec::new(), flate2::Compression::default());
        enc.write_all(b"data").unwrap();
        let gz = enc.finish().unwrap();
        let shown = fields(&gz).unwrap();
        assert!(shown.contains(&(
            MetaField::Header("gzip mtime"),
            MetaValue::Time(1_700_000_000)
        )));
        assert!(shown.contains(&(
            MetaField::Header("gzip file name"),
            MetaValue::Text("x.txt".into())
        )));
        assert!(shown.contains(&(
            MetaField::Header("gzip comment"),
            MetaValue::Text("hi".into())
        )));
        // A header cut anywhere is an error naming the member, never a panic.
        for n in 0..19 {
            let e = fields(&gz[..n]).unwrap_err().to_string();
            assert!(
                e.starts_with("t.gz: malformed gzip: gzip member 1: header cut off"),
                "{e}"
            );
        }
    }

    #[test]
    fn long_names_are_kept_in_part() {
        let gz = member(b"", &[b'n'; 10_000], b"", b"", true);
        let shown = fields(&gz).unwrap();
        let name = format!("{}…", "n".repeat(MAX_KEPT));
        assert!(shown.contains(&(MetaField::Header("gzip file name"), MetaValue::Text(name))));
    }

    /// One gzip member, built by hand so that every header field can be set.
    fn member(data: &[u8], name: &[u8], comment: &[u8], extra: &[u8], hcrc: bool) -> Vec<u8> {
        let mut flags = 0u8;
        for (set, flag) in [
            (!name.is_empty(), FNAME),
            (!comment.is_empty(), FCOMMENT),
            (!extra.is_empty(), FEXTRA),
            (hcrc, FHCRC),
        ] {
            if set {
                flags |= flag;
            }
        }
        let mut out = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 0xff];
        if !extra.is_empty() {
            out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            out.extend_from_slice(extra);
        }
        for field in [name, comment] {
            if !field.is_empty() {
                out.extend_from_slice(field);
                out.push(0);
            }
        }
        if hcrc {
            let mut crc = crate::hash::Crc32::new();
            crc.update(&out);
            out.extend_from_slice(&((crc.sum() & 0xffff) as u16).to_le_bytes());
        }
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        out.extend_from_slice(&enc.finish().unwrap());
        let mut crc = crate::hash::Crc32::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    fn decode(gz: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // A small buffer, so that header fields straddle refills.
        Members::new(io::BufReader::with_capacity(7, gz)).read_to_end(&mut out)?;
        Ok(out)
    }

    fn error(gz: &[u8]) -> String {
        decode(gz).expect_err("an error").to_string()
    }

    #[test]
    fn members_decode_what_gzip_accepts() {
        let data = b"line one\nline two\n".repeat(50);
        // Header fields of any length, header CRC, FEXTRA.
        let long = member(
            &data,
            &[b'n'; 100_000],
            &[b'c'; 70_000],
            b"XY\x02\x00ab",
            true,
        );
        assert_eq!(decode(&long).unwrap(), data);
        // Several members: their contents concatenated.
        let mut two = member(&data[..100], b"", b"", b"", false);
        two.extend(member(&data[100..], b"a", b"", b"", false));
        assert_eq!(decode(&two).unwrap(), data);
        // Zero padding after the last member, as gzip(1) accepts.
        let mut padded = member(&data, b"", b"", b"", false);
        padded.extend([0u8; 512]);
        assert_eq!(decode(&padded).unwrap(), data);
        // An empty member.
        assert_eq!(decode(&member(b"", b"", b"", b"", false)).unwrap(), b"");
    }

    #[test]
    fn members_refuse_damage_with_the_reason() {
        let data = b"some data to compress, some data to compress".repeat(20);
        let good = member(&data, b"name", b"", b"", true);
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 6;
        bad_crc[at] ^= 1;
        assert!(
            error(&bad_crc).contains("CRC-32 mismatch"),
            "{}",
            error(&bad_crc)
        );
        let mut bad_size = good.clone();
        let at = bad_size.len() - 1;
        bad_size[at] ^= 1;
        assert!(error(&bad_size).contains("size mismatch"));
        let mut bad_header = good.clone();
        bad_header[11] ^= 1; // inside the file name
        assert!(error(&bad_header).contains("header CRC mismatch"));
        let mut garbage = good.clone();
        garbage.extend(b"junk");
        assert!(error(&garbage).contains("neither a member nor zero padding"));
        let mut zeros_then_junk = good.clone();
        zeros_then_junk.extend([0, 0, 1]);
        assert!(error(&zeros_then_junk).contains("neither a member nor zero padding"));
        let mut method = good.clone();
        method[2] = 9;
        assert!(error(&method).contains("not deflate"));
        let mut reserved = good.clone();
        reserved[3] |= 0x80;
        assert!(error(&reserved).contains("reserved header flags"));
        assert!(error(b"").contains("empty gzip stream"));
        // Every truncation is an error (a cut stream has no trailer);
        // none panics or loops.
        for n in 1..good.len() {
            assert!(decode(&good[..n]).is_err(), "cut at {n}");
        }
    }
}
