//! Printers: turn a finished [`Difference`](crate::Difference) tree into
//! diffoscope-style text, diffoscope-compatible JSON, a self-contained
//! HTML page, or a summary of differing paths. They only print; all judgement happened in the differ
//! and in [`crate::hints`]. The text and HTML printers print the view of
//! [`crate::grouping`]: a metadata difference shared by many entries once,
//! after the content differences.
//!
//! Names and content shown as text have control characters escaped, so an
//! archive cannot move the cursor, recolour or rewrite a terminal, and
//! cannot forge lines of the output with an embedded newline.

mod html;
mod json;
mod summary;
mod text;

pub use html::{html, markup_escape, HtmlOptions};
pub use json::json;
pub use summary::summary;
pub use text::{text, TextOptions};

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes control characters (and Unicode bidi overrides) as `\n`, `\x1b`,
/// `\u{202e}`…; tabs are kept only if `keep_tab`.
pub fn escape(s: &str, keep_tab: bool) -> Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && !(keep_tab && c == '\t'))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !bad(c) {
            out.push(c);
            continue;
        }
        let _ = match c {
            '\n' => write!(out, "\\n"),
            '\r' => write!(out, "\\r"),
            '\t' => write!(out, "\\t"),
            c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
            c => write!(out, "\\u{{{:x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain/name.txt", false), "plain/name.txt");
        assert_eq!(escape("a\nb\x1b[31mc\td", false), "a\\nb\\x1b[31mc\\td");
        assert_eq!(escape("a\tb", true), "a\tb");
        assert_eq!(escape("x\u{202e}y", false), "x\\u{202e}y");
    }
}
