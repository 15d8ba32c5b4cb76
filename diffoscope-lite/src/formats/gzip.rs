//! Gzip: one or more members; the header's mtime, file name, OS and extra
//! flags are compared as the container's own metadata.

use std::io::{self, BufRead, Read};

use super::{single_stream, Format, Kind, Parsed, HEAD_LEN};
use crate::model::{Content, Cx, MetaField, MetaValue};
use crate::Result;

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
        let head = content.head(cx, entry, HEAD_LEN)?;
        Ok(Parsed::Container(single_stream(
            Kind::Gzip,
            content,
            entry,
            SUFFIXES,
            header_fields(&head),
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
    crc: flate2::Crc,
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
            crc: flate2::Crc::new(),
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
        if header.magic != [0x1f, 0x8b] {
            return Err(invalid(format!(
                "data after gzip member {} is neither a member nor zero padding",
                self.members
            )));
        }
        if header.method != 8 {
            return Err(invalid(format!(
                "gzip member {n}: compression method {} is not deflate",
                header.method
            )));
        }
        if header.flags & FRESERVED != 0 {
            return Err(invalid(format!(
                "gzip member {n}: reserved header flags {:#04x} set",
                header.flags
            )));
        }
        if !header.crc_ok {
            return Err(invalid(format!("gzip member {n}: header CRC mismatch")));
        }
        self.deflate.reset_data();
        self.crc = flate2::Crc::new();
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

/// The first member's header fields (RFC 1952), from the head bytes; fields
/// cut off by the end of the head are left out.
fn header_fields(h: &[u8]) -> Vec<(MetaField, MetaValue)> {
    let mut out = Vec::new();
    let (Some(&flags), Some(mtime), Some(&xfl), Some(&os)) =
        (h.get(3), h.get(4..8), h.get(8), h.get(9))
    else {
        return out;
    };
    let mtime = u32::from_le_bytes([mtime[0], mtime[1], mtime[2], mtime[3]]);
    out.push((
        MetaField::Header("gzip mtime"),
        MetaValue::Time(i64::from(mtime)),
    ));
    out.push((
        MetaField::Header("gzip extra flags"),
        MetaValue::Number(u64::from(xfl)),
    ));
    out.push((
        MetaField::Header("gzip OS"),
        MetaValue::Number(u64::from(os)),
    ));
    let mut pos = 10usize;
    if flags & FEXTRA != 0 {
        let Some(len) = h.get(pos..pos + 2) else {
            return out;
        };
        pos += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    let cstring = |pos: &mut usize| -> Option<String> {
        let rest = h.get(*pos..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        *pos += end + 1;
        // Gzip header strings are ISO 8859-1.
        Some(rest[..end].iter().map(|&b| char::from(b)).collect())
    };
    if flags & FNAME != 0 {
        match cstring(&mut pos) {
            Some(name) => out.push((MetaField::Header("gzip file name"), MetaValue::Text(name))),
            None => return out,
        }
    }
    if flags & FCOMMENT != 0 {
        if let Some(c) = cstring(&mut pos) {
            out.push((MetaField::Header("gzip comment"), MetaValue::Text(c)));
        }
    }
    out
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
    /// Header length in bytes.
    pub(crate) len: u64,
    /// Whether the header CRC (FHCRC) matches; true when there is none.
    pub(crate) crc_ok: bool,
}

/// Reads a member header from `r` as a stream: the file name and the
/// comment may be of any length (RFC 1952 sets none) and are skipped as
/// they pass. Nothing is checked but the header CRC (see
/// [`MemberHeader::crc_ok`]); a cut header is an `UnexpectedEof` error
/// saying where ("header cut off in the file name"). Shared by the differ
/// and the normalizer.
pub(crate) fn read_header(r: &mut impl BufRead) -> io::Result<MemberHeader> {
    let mut crc = flate2::Crc::new();
    let mut len = 0u64;
    let cut = |what: &str| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("header cut off in the {what}"),
        )
    };
    // Fills `buf`, counting it into the header CRC (`crc`) and length.
    let exact =
        |r: &mut dyn BufRead, buf: &mut [u8], what: &str, crc: &mut flate2::Crc, len: &mut u64| {
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
    for (flag, what) in [(FNAME, "file name"), (FCOMMENT, "comment")] {
        if flags & flag == 0 {
            continue;
        }
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
            &mut flate2::Crc::new(),
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
        len,
        crc_ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn header_fields_are_read() {
        let mut enc = flate2::GzBuilder::new()
            .mtime(1_700_000_000)
            .filename("x.txt")
            .comment("hi")
            .write(Vec::new(), flate2::Compression::default());
        enc.write_all(b"data").unwrap();
        let gz = enc.finish().unwrap();
        let fields = header_fields(&gz);
        assert!(fields.contains(&(
            MetaField::Header("gzip mtime"),
            MetaValue::Time(1_700_000_000)
        )));
        assert!(fields.contains(&(
            MetaField::Header("gzip file name"),
            MetaValue::Text("x.txt".into())
        )));
        assert!(fields.contains(&(
            MetaField::Header("gzip comment"),
            MetaValue::Text("hi".into())
        )));
        // Truncated headers give what is there, and never panic.
        for n in 0..gz.len() {
            let _ = header_fields(&gz[..n]);
        }
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
            let mut crc = flate2::Crc::new();
            crc.update(&out);
            out.extend_from_slice(&((crc.sum() & 0xffff) as u16).to_le_bytes());
        }
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        out.extend_from_slice(&enc.finish().unwrap());
        let mut crc = flate2::Crc::new();
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
