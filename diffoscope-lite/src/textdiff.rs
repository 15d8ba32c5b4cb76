//! Unified diffs of texts too large to hold twice in memory.
//!
//! Each side is read once and kept only as one keyed 64-bit hash per line
//! (8 bytes a line instead of the text and the diff library's own copies,
//! which cost about six times the text); the diff runs on the hashes; then
//! each side is read a second time to fetch only the lines the capped
//! output shows. Memory is thus bounded by the line count and
//! `--max-diff-lines`, not by the size of the texts. The output is the one
//! [`crate::leaf::text_diff`] gives for the same texts: same algorithm,
//! same hunks, same `\ No newline at end of file` hints, same cap marker.
//!
//! The hashes are SipHash with a key drawn per process, so an artifact
//! cannot be crafted to make two different lines compare equal.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::time::Instant;

use similar::{Algorithm, DiffOp, DiffTag};

use crate::leaf::{omitted_marker, CONTEXT, DIFF_TIMEOUT, SHARED_LINES_FROM};
use crate::model::{Content, Cx};
use crate::Result;

/// One side of a text diff: where to read it and how to name it.
pub(crate) type Side<'s> = (&'s Content, &'s str, &'s Cx<'s>);

/// A side's lines as hashes.
struct Lines {
    hashes: Vec<u64>,
    /// Whether the last line ends with a line break (`\n` or `\r`).
    last_terminated: bool,
}

/// Splits `chunk` (bytes up to and including a `\n`, or the end) into
/// lines as the diff library does: after `\n`, `\r\n` and a lone `\r`.
fn split_lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = chunk;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .enumerate()
            .position(|(i, &b)| b == b'\n' || (b == b'\r' && rest.get(i + 1) != Some(&b'\n')))
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// Calls `f` with every line of `r` (at most `max_bytes` read); `false`
/// if the input is longer or is not UTF-8 text without NUL bytes.
fn each_line(r: &mut dyn Read, max_bytes: u64, f: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
    let mut r = BufReader::with_capacity(64 * 1024, r.take(max_bytes.saturating_add(1)));
    let (mut chunk, mut total) = (Vec::new(), 0u64);
    loop {
        chunk.clear();
        let n = r.read_until(b'\n', &mut chunk)?;
        if n == 0 {
            return Ok(true);
        }
        total += n as u64;
        // A UTF-8 sequence never contains '\n' or '\r', so checking each
        // chunk on its own checks the whole text.
        if total > max_bytes || chunk.contains(&0) || std::str::from_utf8(&chunk).is_err() {
            return Ok(false);
        }
        for line in split_lines(&chunk) {
            f(line);
        }
    }
}

fn hash_lines(r: &mut dyn Read, keys: &RandomState, max_bytes: u64) -> io::Result<Option<Lines>> {
    let mut hashes = Vec::new();
    let mut last_terminated = true;
    let text = each_line(r, max_bytes, &mut |line| {
        hashes.push(keys.hash_one(line));
        last_terminated = line.ends_with(b"\n") || line.ends_with(b"\r");
    })?;
    Ok(text.then_some(Lines {
        hashes,
        last_terminated,
    }))
}

/// One line of the unified diff, before the texts are fetched.
enum Row {
    Header(String),
    /// Tag (' ', '-', '+'), side (0 old, 1 new) and line index.
    Line(char, usize, usize),
    NoNewline,
}

/// `start,len` as `diff -u` writes a hunk range.
fn range(r: &Range<usize>) -> String {
    let len = r.end.saturating_sub(r.start);
    match len {
        1 => format!("{}", r.start + 1),
        0 => format!("{},0", r.start),
        _ => format!("{},{len}", r.start + 1),
    }
}

/// The rows of the whole diff, in order, through `emit`. `lens` are the
/// sides' line counts, `terminated` whether their last lines end with a
/// line break.
fn rows(
    groups: &[Vec<DiffOp>],
    lens: [usize; 2],
    terminated: [bool; 2],
    emit: &mut dyn FnMut(Row),
) {
    for group in groups {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        emit(Row::Header(format!(
            "@@ -{} +{} @@",
            range(&(first.old_range().start..last.old_range().end)),
            range(&(first.new_range().start..last.new_range().end)),
        )));
        let mut line = |tag: char, side: usize, idx: usize| {
            emit(Row::Line(tag, side, idx));
            if idx + 1 == lens[side] && !terminated[side] {
                emit(Row::NoNewline);
            }
        };
        for op in group {
            let (tag, old, new) = op.as_tag_tuple();
            match tag {
                DiffTag::Equal => old.for_each(|i| line(' ', 0, i)),
                DiffTag::Delete => old.for_each(|i| line('-', 0, i)),
                DiffTag::Insert => new.for_each(|j| line('+', 1, j)),
                DiffTag::Replace => {
                    old.for_each(|i| line('-', 0, i));
                    new.for_each(|j| line('+', 1, j));
                }
            }
        }
    }
}

/// The unified diff of two texts read from `a` and `b`, capped at
/// `max_lines` lines; `None` if either is not UTF-8 text or is longer
/// than `max_bytes`. Empty if the texts are equal.
pub(crate) fn streamed_text_diff(
    (ca, na, cxa): Side<'_>,
    (cb, nb, cxb): Side<'_>,
    max_lines: usize,
    max_bytes: u64,
) -> Result<Option<String>> {
    let keys = RandomState::new();
    let hash = |c: &Content, n: &str, cx: &Cx<'_>| {
        c.with_reader(cx, n, |r| {
            hash_lines(r, &keys, max_bytes).map_err(|e| cx.io(e, n, "reading"))
        })
    };
    let (la, lb) = rayon::join(|| hash(ca, na, cxa), || hash(cb, nb, cxb));
    let (Some(la), Some(lb)) = (la?, lb?) else {
        return Ok(None);
    };
    // Texts with no line in common (a regenerated file, a different
    // encoding of every line) are one replacement: no search needed, where
    // Myers would run to its deadline on two long, wholly different texts.
    let common = {
        let seen: std::collections::HashSet<u64> = la.hashes.iter().copied().collect();
        lb.hashes.iter().any(|h| seen.contains(h))
    };
    let ops = if common || la.hashes.is_empty() || lb.hashes.is_empty() {
        if la.hashes.len() + lb.hashes.len() > SHARED_LINES_FROM {
            // Lines one side only has are discarded before the search, as
            // the in-memory diff does from this size: two disassemblies of
            // different programs share a few hundred of their thousands of
            // lines, and Myers over all of them ran to its deadline (5 s).
            shared_lines_ops(&la.hashes, &lb.hashes)
        } else {
            let deadline = Instant::now().checked_add(DIFF_TIMEOUT);
            similar::capture_diff_slices_deadline(
                Algorithm::Myers,
                &la.hashes,
                &lb.hashes,
                deadline,
            )
        }
    } else {
        vec![DiffOp::Replace {
            old_index: 0,
            old_len: la.hashes.len(),
            new_index: 0,
            new_len: lb.hashes.len(),
        }]
    };
    let groups = similar::group_diff_ops(ops, CONTEXT);

    let (kept, total) = capped_rows(
        &groups,
        [la.hashes.len(), lb.hashes.len()],
        [la.last_terminated, lb.last_terminated],
        max_lines,
    );

    // Second pass: only the lines the kept rows show.
    let mut wanted: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for row in &kept {
        if let Row::Line(_, side, idx) = row {
            wanted[*side].push(*idx);
        }
    }
    let fetch = |side: usize, c: &Content, n: &str, cx: &Cx<'_>| {
        let mut want = wanted[side].clone();
        want.sort_unstable();
        want.dedup();
        c.with_reader(cx, n, |r| {
            let mut got: Vec<(usize, String)> = Vec::with_capacity(want.len());
            let (mut idx, mut next) = (0usize, 0usize);
            each_line(r, max_bytes, &mut |line| {
                if want.get(next) == Some(&idx) {
                    got.push((idx, String::from_utf8_lossy(line).into_owned()));
                    next += 1;
                }
                idx += 1;
            })
            .map_err(|e| cx.io(e, n, "reading"))?;
            Ok(got)
        })
    };
    let (ta, tb) = rayon::join(|| fetch(0, ca, na, cxa), || fetch(1, cb, nb, cxb));
    let texts = [ta?, tb?];
    let text_of = |side: usize, idx: usize| -> &str {
        let got = &texts[side];
        got.binary_search_by_key(&idx, |(i, _)| *i)
            .map_or("", |k| got[k].1.as_str())
    };

    Ok(Some(render(&kept, total, max_lines, &text_of)))
}

/// The first `max_lines` rows and the total count.
fn capped_rows(
    groups: &[Vec<DiffOp>],
    lens: [usize; 2],
    terminated: [bool; 2],
    max_lines: usize,
) -> (Vec<Row>, usize) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    rows(groups, lens, terminated, &mut |row| {
        total += 1;
        if kept.len() < max_lines {
            kept.push(row);
        }
    });
    (kept, total)
}

/// The unified diff text of `kept` rows, with the cap marker when `total`
/// is over `max_lines`.
fn render<'t>(
    kept: &[Row],
    total: usize,
    max_lines: usize,
    text_of: &dyn Fn(usize, usize) -> &'t str,
) -> String {
    let mut out = String::new();
    for row in kept {
        match row {
            Row::Header(h) => {
                out.push_str(h);
                out.push('\n');
            }
            Row::Line(tag, side, idx) => {
                out.push(*tag);
                let text = text_of(*side, *idx);
                out.push_str(text);
                // Every row is one output line. (For a line ended by a
                // lone `\r` the diff library writes no `\n`, running it
                // into the next; one row per line is kept here instead.)
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
            Row::NoNewline => out.push_str("\\ No newline at end of file\n"),
        }
    }
    if total > max_lines {
        out.push_str(&omitted_marker(total - max_lines, max_lines));
    }
    out
}

/// Unified diff of two sorted name lists (one name per line), in linear
/// time: a merge, not a search for the longest common subsequence, which
/// on two long lists with many differing names would run for seconds.
pub(crate) fn sorted_list_diff(a: &[&str], b: &[&str], max_lines: usize) -> String {
    let mut ops: Vec<DiffOp> = Vec::new();
    let push = |ops: &mut Vec<DiffOp>, tag: DiffTag, i: usize, j: usize| {
        let merged = match (ops.last_mut(), tag) {
            (Some(DiffOp::Equal { len, .. }), DiffTag::Equal) => {
                *len += 1;
                true
            }
            (Some(DiffOp::Delete { old_len, .. }), DiffTag::Delete) => {
                *old_len += 1;
                true
            }
            (Some(DiffOp::Insert { new_len, .. }), DiffTag::Insert) => {
                *new_len += 1;
                true
            }
            _ => false,
        };
        if !merged {
            ops.push(match tag {
                DiffTag::Equal => DiffOp::Equal {
                    old_index: i,
                    new_index: j,
                    len: 1,
                },
                DiffTag::Delete => DiffOp::Delete {
                    old_index: i,
                    old_len: 1,
                    new_index: j,
                },
                _ => DiffOp::Insert {
                    old_index: i,
                    new_index: j,
                    new_len: 1,
                },
            });
        }
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                push(&mut ops, DiffTag::Equal, i, j);
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                push(&mut ops, DiffTag::Delete, i, j);
                i += 1;
            }
            (Some(_), None) => {
                push(&mut ops, DiffTag::Delete, i, j);
                i += 1;
            }
            _ => {
                push(&mut ops, DiffTag::Insert, i, j);
                j += 1;
            }
        }
    }
    if ops.iter().all(|op| op.tag() == DiffTag::Equal) {
        return String::new();
    }
    let groups = similar::group_diff_ops(ops, CONTEXT);
    let (kept, total) = capped_rows(&groups, [a.len(), b.len()], [true, true], max_lines);
    let sides = [a, b];
    render(&kept, total, max_lines, &|side, idx| {
        sides[side].get(idx).copied().unwrap_or("")
    })
}

/// The edit script of two line lists, searched only over the lines both
/// sides have: a line found on one side only is never part of a longest
/// common subsequence, so GNU diff discards such lines before its search,
/// and so does this. The script has the same number of equal lines as a
/// search of the whole texts, at the cost of the shared lines alone: two
/// strings views of 48 and 930 lines with 5 in common are a search of
/// 5 × 5, not of 978 × 973.
fn shared_lines_ops<T: std::hash::Hash + Ord + Copy>(a: &[T], b: &[T]) -> Vec<DiffOp> {
    use std::collections::HashSet;
    let in_a: HashSet<T> = a.iter().copied().collect();
    let in_b: HashSet<T> = b.iter().copied().collect();
    let fa: Vec<usize> = (0..a.len()).filter(|&i| in_b.contains(&a[i])).collect();
    let fb: Vec<usize> = (0..b.len()).filter(|&j| in_a.contains(&b[j])).collect();
    let (la, lb): (Vec<T>, Vec<T>) = (
        fa.iter().map(|&i| a[i]).collect(),
        fb.iter().map(|&j| b[j]).collect(),
    );
    let deadline = Instant::now().checked_add(DIFF_TIMEOUT);
    let filtered = similar::capture_diff_slices_deadline(Algorithm::Myers, &la, &lb, deadline);
    let mut ops: Vec<DiffOp> = Vec::new();
    let (mut i0, mut j0) = (0usize, 0usize);
    let gap = |ops: &mut Vec<DiffOp>, i: usize, j: usize, i0: usize, j0: usize| {
        if i > i0 {
            ops.push(DiffOp::Delete {
                old_index: i0,
                old_len: i - i0,
                new_index: j0,
            });
        }
        if j > j0 {
            ops.push(DiffOp::Insert {
                old_index: i,
                new_index: j0,
                new_len: j - j0,
            });
        }
    };
    for op in &filtered {
        let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = *op
        else {
            continue;
        };
        for k in 0..len {
            let (i, j) = (fa[old_index + k], fb[new_index + k]);
            gap(&mut ops, i, j, i0, j0);
            match ops.last_mut() {
                Some(DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                }) if *old_index + *len == i && *new_index + *len == j => *len += 1,
                _ => ops.push(DiffOp::Equal {
                    old_index: i,
                    new_index: j,
                    len: 1,
                }),
            }
            (i0, j0) = (i + 1, j + 1);
        }
    }
    gap(&mut ops, a.len(), b.len(), i0, j0);
    ops
}

/// Unified diff of two texts held in memory, capped at `max_lines`, by
/// [`shared_lines_ops`]; for texts whose size makes a search of every
/// line slow.
pub(crate) fn shared_lines_diff(a: &str, b: &str, max_lines: usize) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (
        a.split_inclusive('\n').collect(),
        b.split_inclusive('\n').collect(),
    );
    // Lines compare without their line break: the last line of a text
    // that does not end with one is still the same line.
    fn strip<'t>(lines: &[&'t str]) -> Vec<&'t str> {
        lines
            .iter()
            .map(|s| s.strip_suffix('\n').unwrap_or(s))
            .collect()
    }
    let ops = shared_lines_ops(&strip(&la), &strip(&lb));
    if ops.iter().all(|op| matches!(op, DiffOp::Equal { .. })) {
        return String::new();
    }
    let groups = similar::group_diff_ops(ops, CONTEXT);
    let terminated = [
        a.is_empty() || a.ends_with('\n'),
        b.is_empty() || b.ends_with('\n'),
    ];
    let (kept, total) = capped_rows(&groups, [la.len(), lb.len()], terminated, max_lines);
    let text_of = |side: usize, idx: usize| -> &str {
        let lines = if side == 0 { &la } else { &lb };
        lines.get(idx).copied().unwrap_or("")
    };
    render(&kept, total, max_lines, &text_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf::text_diff;
    use crate::limits::Budget;
    use crate::Options;
    use proptest::prelude::*;

    fn streamed(a: &str, b: &str, max_lines: usize) -> Option<String> {
        let sides = crate::model::Sides::new();
        let (cxa, cxb) = (sides.cx(0), sides.cx(1));
        let (ca, cb) = (
            Content::memory(a.as_bytes().to_vec()),
            Content::memory(b.as_bytes().to_vec()),
        );
        streamed_text_diff((&ca, "a", &cxa), (&cb, "b", &cxb), max_lines, 1 << 20).unwrap()
    }

    #[test]
    fn same_output_as_the_in_memory_diff() {
        let base: String = (0..200).map(|i| format!("line {i}\n")).collect();
        let mut changed = base.replace("line 50\n", "line fifty\n");
        changed.push_str("tail without newline");
        let cases = [
            ("", ""),
            ("a\n", "a\n"),
            ("a\n", "b\n"),
            ("a", "a\n"),
            ("a\nb", "a\nc"),
            ("", "x\ny\n"),
            ("x\ny\n", ""),
            (base.as_str(), changed.as_str()),
            (base.as_str(), ""),
            ("crlf\r\nline\r\n", "crlf\r\nline!\r\n"),
        ];
        for (a, b) in cases {
            for max in [1000, 5, 1] {
                assert_eq!(
                    streamed(a, b, max).unwrap(),
                    text_diff(a, b, max),
                    "{a:?} vs {b:?}, max {max}"
                );
            }
        }
    }

    #[test]
    fn wholly_different_texts_are_one_replacement() {
        let a: String = (0..50).map(|i| format!("a{i}\n")).collect();
        let b: String = (0..40).map(|i| format!("b{i}\n")).collect();
        for max in [1000, 7] {
            assert_eq!(streamed(&a, &b, max).unwrap(), text_diff(&a, &b, max));
        }
    }

    #[test]
    fn not_text_is_none() {
        assert_eq!(streamed("a\0b", "a", 10), None);
        let opts = Options::default();
        let budget = Budget::new(opts.limits.clone());
        let cx = Cx {
            budget: &budget,
            opts: &opts,
        };
        let (a, b) = (
            Content::memory(vec![0xff, b'\n']),
            Content::memory(b"x\n".to_vec()),
        );
        let r = streamed_text_diff((&a, "a", &cx), (&b, "b", &cx), 10, 100).unwrap();
        assert_eq!(r, None);
        // Over the byte limit: not diffed as text.
        let (a, b) = (
            Content::memory(b"x\n".repeat(100)),
            Content::memory(b"y\n".to_vec()),
        );
        let r = streamed_text_diff((&a, "a", &cx), (&b, "b", &cx), 10, 100).unwrap();
        assert_eq!(r, None);
    }

    #[test]
    fn sorted_lists_diff_like_the_text_diff() {
        let a = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let b = ["a", "b", "c", "d2", "e", "f", "g", "h", "i"];
        let text = |l: &[&str]| l.iter().map(|s| format!("{s}\n")).collect::<String>();
        for max in [1000, 4] {
            assert_eq!(
                sorted_list_diff(&a, &b, max),
                text_diff(&text(&a), &text(&b), max)
            );
        }
        assert_eq!(sorted_list_diff(&a, &a, 10), "");
        // Large and wholly different: linear, and capped.
        let big_a: Vec<String> = (0..100_000).map(|i| format!("a/{i:06}")).collect();
        let big_b: Vec<String> = (0..100_000).map(|i| format!("b/{i:06}")).collect();
        let (ra, rb): (Vec<&str>, Vec<&str>) = (
            big_a.iter().map(String::as_str).collect(),
            big_b.iter().map(String::as_str).collect(),
        );
        let d = sorted_list_diff(&ra, &rb, 10);
        assert!(
            d.starts_with("@@ -1,100000 +1,100000 @@\n-a/000000\n"),
            "{d}"
        );
        assert!(
            d.ends_with("[ 199991 lines omitted; --max-diff-lines is 10 ]\n"),
            "{d}"
        );
    }

    proptest! {
        #[test]
        fn matches_the_in_memory_diff_on_random_texts(
            a in proptest::collection::vec(prop_oneof!["x\n", "y\n", "z\n", "x", "\r\n", "w\r\n"], 0..30),
            b in proptest::collection::vec(prop_oneof!["x\n", "y\n", "z\n", "x", "\r\n", "w\r\n"], 0..30),
            max in 1usize..40,
        ) {
            let (a, b) = (a.concat(), b.concat());
            prop_assert_eq!(streamed(&a, &b, max).unwrap(), text_diff(&a, &b, max));
        }
    }
}
