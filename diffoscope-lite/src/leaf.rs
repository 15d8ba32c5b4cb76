//! Diffs of leaf content: unified text diffs and hexdumps of differing
//! binary regions, both capped at `--max-diff-lines` with a marker that
//! says how much was left out.

use std::io::{self, Read};
use std::time::Duration;

use similar::{Algorithm, TextDiff};

/// Lines of context around each change, as `diff -u`.
pub(crate) const CONTEXT: usize = 3;
/// Diff algorithms are superlinear in the worst case; past this, similar
/// falls back to a coarser (still correct) diff instead of running on.
pub(crate) const DIFF_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes per hexdump line.
const HEX_WIDTH: usize = 16;
/// Binary content is compared in chunks of this size before any line is
/// formatted, so identical stretches cost only a memcmp.
const CHUNK: usize = 64 * 1024;

/// Texts of more lines than this (both sides together) that share few
/// lines are not searched for a diff (see [`text_diff`]).
const LARGE_TEXT_LINES: usize = 1000;

/// Texts of more lines than this (both sides together) are diffed over
/// the lines both sides have only ([`crate::textdiff::shared_lines_diff`]).
pub(crate) const SHARED_LINES_FROM: usize = 500;

/// Whether `a` and `b` are large and share fewer than one line in twenty
/// of the shorter one (counting distinct lines); `la` and `lb` are their
/// line counts.
fn mostly_different(a: &str, b: &str, (la, lb): (usize, usize)) -> bool {
    if la + lb <= LARGE_TEXT_LINES {
        return false;
    }
    let seen: std::collections::HashSet<&str> = a.lines().collect();
    let common = b
        .lines()
        .collect::<std::collections::HashSet<&str>>()
        .intersection(&seen)
        .count();
    common * 20 < la.min(lb)
}

/// The marker that replaces lines beyond the cap.
pub(crate) fn omitted_marker(n: usize, max: usize) -> String {
    format!("[ {n} lines omitted; --max-diff-lines is {max} ]\n")
}

/// Unified diff (hunks only) of two texts, capped at `max_lines` lines.
/// Empty if the texts are equal.
pub(crate) fn text_diff(a: &str, b: &str, max_lines: usize) -> String {
    // Myers costs (lines × differing lines): two strings views of 2,400
    // and 3,300 lines with 95 in common (test1.hi of diffoscope's test
    // data) took 60 ms, where diffoscope takes 0.3 s for the whole pair.
    // Two large texts (over 1,000 lines) that share fewer than one
    // line in twenty are one replacement between their common first and last
    // lines: an expired deadline makes similar skip the search and say so,
    // and the output still depends on the texts alone (deterministic).
    let mut config = TextDiff::configure();
    config.algorithm(Algorithm::Myers).timeout(DIFF_TIMEOUT);
    let lines = (a.lines().count(), b.lines().count());
    if mostly_different(a, b, lines) {
        if let Some(past) = std::time::Instant::now().checked_sub(Duration::from_secs(1)) {
            config.deadline(past);
        }
    } else if lines.0 + lines.1 > SHARED_LINES_FROM {
        // Hundreds of lines: search only the lines both sides have.
        return crate::textdiff::shared_lines_diff(a, b, max_lines);
    }
    let diff = config.diff_lines(a, b);
    let full = diff
        .unified_diff()
        .context_radius(CONTEXT)
        .missing_newline_hint(true)
        .to_string();
    cap_lines(full, max_lines)
}

fn cap_lines(full: String, max_lines: usize) -> String {
    let total = full.lines().count();
    if total <= max_lines {
        return full;
    }
    let mut out: String = full.split_inclusive('\n').take(max_lines).collect();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&omitted_marker(total - max_lines, max_lines));
    out
}

/// One `xxd`-style line: offset, hex in pairs, printable ASCII.
fn hex_line(offset: u64, bytes: &[u8]) -> String {
    // Written digit by digit: a format! per byte was most of the time a
    // small binary pair took (1,000 lines a side).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut line = String::with_capacity(68);
    for shift in (0..8).rev() {
        line.push(char::from(DIGITS[((offset >> (shift * 4)) & 0xf) as usize]));
    }
    if offset >> 32 != 0 {
        // Past 4 GiB the offset is wider, as format!("{:08x}") prints it.
        line = format!("{offset:08x}");
    }
    line.push_str(": ");
    let start = line.len();
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 && i % 2 == 0 {
            line.push(' ');
        }
        line.push(char::from(DIGITS[usize::from(b >> 4)]));
        line.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    while line.len() - start < 39 {
        line.push(' ');
    }
    line.push_str("  ");
    for &b in bytes {
        line.push(if (0x20..0x7f).contains(&b) {
            char::from(b)
        } else {
            '.'
        });
    }
    line.push('\n');
    line
}

/// Fills `buf` as far as the reader allows; returns how much was read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Which side an I/O error came from (0 or 1).
pub(crate) type SideError = (usize, io::Error);

/// Hexdump of the 16-byte lines that differ, as a unified diff with one
/// hunk per run of differing lines; streamed, capped at `max_lines`.
pub(crate) fn hex_diff(
    a: &mut dyn Read,
    b: &mut dyn Read,
    max_lines: usize,
) -> Result<String, SideError> {
    let mut out = String::new();
    let (mut ba, mut bb) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let (mut lines, mut omitted) = (0usize, 0usize);
    let mut base = 0u64;
    let mut last: Option<u64> = None;
    loop {
        let na = read_full(a, &mut ba).map_err(|e| (0, e))?;
        let nb = read_full(b, &mut bb).map_err(|e| (1, e))?;
        if na == 0 && nb == 0 {
            break;
        }
        if ba[..na] != bb[..nb] {
            let mut i = 0;
            while i < na.max(nb) {
                let la = &ba[i.min(na)..(i + HEX_WIDTH).min(na)];
                let lb = &bb[i.min(nb)..(i + HEX_WIDTH).min(nb)];
                let off = base + i as u64;
                if la != lb {
                    let contiguous = last.is_some_and(|l| l + HEX_WIDTH as u64 == off);
                    let body = usize::from(!la.is_empty()) + usize::from(!lb.is_empty());
                    let need = body + usize::from(!contiguous);
                    if omitted > 0 || lines + need > max_lines {
                        omitted += body;
                    } else {
                        if !contiguous {
                            out.push_str(&format!("@@ -0x{off:x} +0x{off:x} @@\n"));
                        }
                        if !la.is_empty() {
                            out.push('-');
                            out.push_str(&hex_line(off, la));
                        }
                        if !lb.is_empty() {
                            out.push('+');
                            out.push_str(&hex_line(off, lb));
                        }
                        lines += need;
                        last = Some(off);
                    }
                }
                i += HEX_WIDTH;
            }
        }
        base += na.max(nb) as u64;
    }
    if omitted > 0 {
        out.push_str(&omitted_marker(omitted, max_lines));
    }
    Ok(out)
}

/// Bytes as hex in decoded text that hints read: 4-byte words, each
/// with `0x`, so that no hex run reads as a decimal number (a uid, an
/// epoch time): a word is never all digits, never ten digits long.
pub(crate) fn hex_words(bytes: &[u8]) -> String {
    bytes
        .chunks(4)
        .map(|w| format!("0x{}", hex::encode(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Shortest run of printable bytes the strings view shows (`strings`
/// uses 4, diffoscope 8; 6 keeps short host names and drops most of the
/// accidental runs that machine code is full of).
pub(crate) const STRINGS_MIN: usize = 6;

/// The printable runs (ASCII graphic characters and spaces, tabs) of at
/// least [`STRINGS_MIN`] bytes in `r`, one per line, as `strings` prints
/// them; `None` when that text would exceed `cap` bytes.
pub(crate) fn strings(r: &mut dyn Read, cap: u64) -> io::Result<Option<String>> {
    // Runs are found on bytes and copied a slice at a time (a byte at a
    // time was a tenth of a small pair's time); a run can span chunks.
    let (mut out, mut run) = (String::new(), String::new());
    let mut buf = vec![0u8; CHUNK];
    let printable = |b: u8| b == b'\t' || (0x20..0x7f).contains(&b);
    loop {
        let n = read_full(r, &mut buf)?;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| !printable(b))
                .unwrap_or(rest.len());
            // Printable ASCII is UTF-8.
            let text = |bytes| std::str::from_utf8(bytes).unwrap_or_default();
            if end == rest.len() {
                run.push_str(text(rest));
                break;
            }
            // Most runs in a binary are a byte or two: those are skipped,
            // not copied.
            if run.len() + end >= STRINGS_MIN {
                out.push_str(&run);
                out.push_str(text(&rest[..end]));
                out.push('\n');
            }
            run.clear();
            rest = &rest[end + 1..];
        }
        if out.len() as u64 > cap {
            return Ok(None);
        }
        if n < buf.len() {
            break;
        }
    }
    if run.len() >= STRINGS_MIN {
        out.push_str(&run);
        out.push('\n');
    }
    Ok((out.len() as u64 <= cap).then_some(out))
}

/// A reader that renders the bytes of another as printable strings, one
/// per line, like `strings` but losing nothing: each NUL ends a line,
/// printable ASCII stays as it is, `\\`, `\n`, `\t` and `\r` are escaped
/// as in C and every other byte becomes `\xNN`. The rendering can be read
/// back to the exact bytes, so two renderings are equal only if the bytes
/// are, and embedded paths and versions read as text in a diff.
pub(crate) struct Printable<R> {
    inner: R,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
}

impl<R: Read> Printable<R> {
    pub(crate) fn new(inner: R) -> Self {
        Printable {
            inner,
            raw: vec![0u8; 16 * 1024],
            out: Vec::new(),
            pos: 0,
        }
    }
}

/// Appends the printable rendering of `bytes` to `out`.
pub(crate) fn render_printable(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            0 => out.push(b'\n'),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
}

impl<R: Read> Read for Printable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.out.len() {
            let n = loop {
                match self.inner.read(&mut self.raw) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            self.out.clear();
            self.pos = 0;
            render_printable(&self.raw[..n], &mut self.out);
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_is_one_string_per_line_and_reversible() {
        let raw = b"GCC: (GNU) 12\0/build/a\\x.c\0\x01\x02\xff\0tab\there\n\0";
        let mut out = String::new();
        Printable::new(&raw[..]).read_to_string(&mut out).unwrap();
        assert_eq!(
            out,
            "GCC: (GNU) 12\n/build/a\\\\x.c\n\\x01\\x02\\xff\ntab\\there\\n\n"
        );
        // Bytes that differ always render differently, even when they are
        // not printable.
        let mut seen = std::collections::HashMap::new();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let mut r = Vec::new();
                render_printable(&[a, b], &mut r);
                assert_eq!(seen.insert(r, (a, b)), None, "{a} {b}");
            }
        }
    }

    #[test]
    fn strings_are_printable_runs_of_a_minimum_length() {
        let raw = b"\x7fELF\x02\x01/build/a/src/x.c\0ab\0host-1\x90\x90tab\there\xff";
        let s = strings(&mut &raw[..], 1 << 20).unwrap().unwrap();
        assert_eq!(s, "/build/a/src/x.c\nhost-1\ntab\there\n");
        assert_eq!(strings(&mut &raw[..], 10).unwrap(), None);
    }

    #[test]
    fn hex_lines_read_as_xxd_prints_them() {
        let reference = |offset: u64, bytes: &[u8]| {
            let hex: Vec<String> = bytes
                .chunks(2)
                .map(|p| p.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            let ascii: String = bytes
                .iter()
                .map(|&b| {
                    if (0x20..0x7f).contains(&b) {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{offset:08x}: {:<39}  {ascii}\n", hex.join(" "))
        };
        let bytes: Vec<u8> = (0..=255u8).collect();
        for (offset, len) in [
            (0, 16),
            (0x10, 15),
            (0xdead_bef0, 1),
            (0x1_0000_0000, 16),
            (7, 0),
        ] {
            let b = &bytes[..len];
            assert_eq!(hex_line(offset, b), reference(offset, b));
        }
        assert_eq!(
            hex_line(0x20, b"ab\x00"),
            "00000020: 6162 00                                  ab.\n"
        );
    }

    #[test]
    fn searching_only_shared_lines_gives_the_diff_a_full_search_gives() {
        // Where the alignment is unambiguous, both searches agree byte
        // for byte, missing final line break included.
        let myers = |a: &str, b: &str| {
            TextDiff::configure()
                .algorithm(Algorithm::Myers)
                .diff_lines(a, b)
                .unified_diff()
                .context_radius(CONTEXT)
                .missing_newline_hint(true)
                .to_string()
        };
        let a: String = (0..700).map(|i| format!("line {i}\n")).collect();
        let mut b = a.replace("line 5\n", "five\n").replace("line 400\n", "");
        b.insert_str(0, "new first\nsecond new\n");
        b.push_str("tail without break");
        let shared = crate::textdiff::shared_lines_diff(&a, &b, usize::MAX);
        assert_eq!(shared, myers(&a, &b));
        assert!(shared.contains("\\ No newline at end of file"), "{shared}");
        assert_eq!(crate::textdiff::shared_lines_diff(&a, &a, 10), "");
        // text_diff takes this path from 500 lines on.
        assert_eq!(text_diff(&a, &b, usize::MAX), shared);
    }

    #[test]
    fn large_mostly_different_texts_are_one_replacement_and_others_are_searched() {
        let a: String = (0..3000).map(|i| format!("a{i}\n")).collect();
        let mut b: String = (0..3000).map(|i| format!("b{i}\n")).collect();
        b.push_str("a7\n");
        let d = text_diff(&a, &b, usize::MAX);
        assert!(d.starts_with("@@ -1,3000 +1,3001 @@\n"), "{}", &d[..80]);
        assert_eq!(d.lines().filter(|l| l.starts_with("@@")).count(), 1);
        // Large but mostly alike: hunks around the changes only.
        let mut c = a.replace("a1500\n", "changed\n");
        c.push_str("new\n");
        let d = text_diff(&a, &c, usize::MAX);
        assert_eq!(d.lines().filter(|l| l.starts_with("@@")).count(), 2, "{d}");
    }

    #[test]
    fn text_diff_has_context_and_cap() {
        let a: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let b = a.replace("line 50\n", "LINE 50\n");
        let d = text_diff(&a, &b, 1000);
        assert!(d.starts_with("@@ -48,7 +48,7 @@\n"), "{d}");
        assert!(d.contains("-line 50\n+LINE 50\n"), "{d}");
        let all = a.replace("line", "row");
        let capped = text_diff(&a, &all, 10);
        assert_eq!(capped.lines().count(), 11, "{capped}");
        assert!(
            capped.ends_with("[ 191 lines omitted; --max-diff-lines is 10 ]\n"),
            "{capped}"
        );
        assert_eq!(text_diff("same\n", "same\n", 10), "");
    }

    #[test]
    fn hexdump_shows_offsets_of_differing_lines_only() {
        let a = vec![0u8; 100];
        let mut b = a.clone();
        b[40] = 0x41;
        b.push(0x42);
        let d = hex_diff(&mut &a[..], &mut &b[..], 100).unwrap();
        assert_eq!(
            d,
            "@@ -0x20 +0x20 @@\n\
             -00000020: 0000 0000 0000 0000 0000 0000 0000 0000  ................\n\
             +00000020: 0000 0000 0000 0000 4100 0000 0000 0000  ........A.......\n\
             @@ -0x60 +0x60 @@\n\
             -00000060: 0000 0000                                ....\n\
             +00000060: 0000 0000 42                             ....B\n"
        );
        assert_eq!(hex_diff(&mut &a[..], &mut &a[..], 100).unwrap(), "");
    }

    #[test]
    fn hexdump_is_capped() {
        let a = vec![0u8; 1600];
        let b = vec![1u8; 1600];
        let d = hex_diff(&mut &a[..], &mut &b[..], 5).unwrap();
        assert!(
            d.ends_with("[ 196 lines omitted; --max-diff-lines is 5 ]\n"),
            "{d}"
        );
    }
}
