//! UTF-8 text: no NUL bytes and valid UTF-8.

use super::{Format, Kind, Parsed, HEAD_LEN};
use crate::model::{Content, Cx};
use crate::Result;

/// UTF-8 text, compared line by line.
pub struct Text;

/// Whether `head` is UTF-8 text; a character cut off by the end of a full
/// head is allowed.
pub(crate) fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // `error_len() == None` means "incomplete sequence at the end".
        Err(e) => head.len() >= HEAD_LEN && e.error_len().is_none(),
    }
}

impl Format for Text {
    fn kind(&self) -> Kind {
        Kind::Text
    }

    fn detect(&self, head: &[u8]) -> bool {
        looks_like_text(head)
    }

    fn read(&self, content: &Content, entry: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let bytes = content.read_capped(cx, entry, cx.opts.max_text_bytes)?;
        Ok(match bytes {
            Some(b) if !b.contains(&0) => match String::from_utf8(b) {
                Ok(s) => Parsed::Text(s),
                Err(_) => Parsed::Binary,
            },
            _ => Parsed::Binary,
        })
    }
}
