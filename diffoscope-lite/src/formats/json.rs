//! JSON: text whose first non-blank byte opens an object or array and which
//! parses; compared pretty-printed with sorted keys, so a reordering of keys
//! alone shows as a formatting-only difference rather than a wall of text.

use super::text::looks_like_text;
use super::{Format, Kind, Parsed};
use crate::model::{Content, Cx};
use crate::Result;

/// JSON documents.
pub struct Json;

/// Largest document parsed and pretty-printed: the parsed value costs
/// several times the text, and both sides are held at once. Larger JSON
/// is diffed as plain text, line by line.
pub(crate) const JSON_PRETTY_MAX: u64 = 1 << 20;

impl Format for Json {
    fn kind(&self) -> Kind {
        Kind::Json
    }

    fn detect(&self, head: &[u8]) -> bool {
        let first = head
            .iter()
            .copied()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        matches!(first, Some(b'{' | b'[')) && looks_like_text(head)
    }

    fn read(&self, content: &Content, entry: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let bytes = content.read_capped(cx, entry, cx.opts.max_text_bytes.min(JSON_PRETTY_MAX))?;
        let Some(bytes) = bytes else {
            return Ok(Parsed::Binary);
        };
        // serde_json limits nesting to 128 levels, so hostile input cannot
        // overflow the stack.
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(value) => Ok(match serde_json::to_string_pretty(&value) {
                Ok(mut s) => {
                    s.push('\n');
                    Parsed::Text(s)
                }
                Err(_) => Parsed::Binary,
            }),
            // Not JSON after all: plain text if it is text.
            Err(_) => Ok(match String::from_utf8(bytes) {
                Ok(s) => Parsed::Text(s),
                Err(_) => Parsed::Binary,
            }),
        }
    }
}
