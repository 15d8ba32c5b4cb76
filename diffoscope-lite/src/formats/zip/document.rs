//! The text of an office document stored as a zip (Word `.docx`,
//! OpenDocument text `.odt`): the view diffoscope shows of such a file
//! (`docx2txt`, `odt2txt`), next to the members repro compares.
//!
//! Which document a zip is comes from its members (`word/document.xml`;
//! a `mimetype` member naming OpenDocument text), never from the file
//! name. The text is taken from the one member that holds it with a small
//! scanner of tags, not an XML parser: it keeps the character data of the
//! text elements, a line per paragraph, and decodes the five predefined
//! entities and character references. What it does not understand it
//! leaves out; the members themselves are still compared in full.

use std::io::Read;

use crate::model::{Container, Cx};
use crate::Result;

/// OpenDocument text's media type, the whole of its `mimetype` member.
const ODT: &[u8] = b"application/vnd.oasis.opendocument.text";

/// Which document a zip holds: the view's name as diffoscope names it and
/// the member whose text it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Document {
    /// Word: `word/document.xml`.
    Docx,
    /// OpenDocument text: `content.xml`.
    Odt,
}

impl Document {
    /// The view's name, as diffoscope names the tool it runs.
    pub(crate) fn view(self) -> &'static str {
        match self {
            Document::Docx => "docx2txt",
            Document::Odt => "odt2txt",
        }
    }

    fn member(self) -> &'static str {
        match self {
            Document::Docx => "word/document.xml",
            Document::Odt => "content.xml",
        }
    }
}

/// The document `x` (a zip named `name`) holds, if any.
pub(crate) fn detect(x: &Container, name: &str, cx: &Cx<'_>) -> Result<Option<Document>> {
    if x.entries.iter().any(|e| e.path == "word/document.xml") {
        return Ok(Some(Document::Docx));
    }
    let Some(mimetype) = x.entries.iter().find(|e| e.path == "mimetype") else {
        return Ok(None);
    };
    let nested = format!("{name}::mimetype");
    let head = mimetype.content.head(cx, &nested, ODT.len() + 1)?;
    let has_content = x.entries.iter().any(|e| e.path == "content.xml");
    Ok((head == ODT && has_content).then_some(Document::Odt))
}

/// The text of `doc` in `x` (a zip named `name`); `None` when its member
/// is larger than `cap` bytes or not UTF-8.
pub(crate) fn text(
    doc: Document,
    x: &Container,
    name: &str,
    cx: &Cx<'_>,
    cap: u64,
) -> Result<Option<String>> {
    let Some(e) = x.entries.iter().find(|e| e.path == doc.member()) else {
        return Ok(None);
    };
    let nested = format!("{name}::{}", e.path);
    let xml = e.content.with_reader(cx, &nested, |r| {
        let mut buf = Vec::new();
        r.take(cap.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|err| cx.io(err, &nested, "reading"))?;
        Ok(buf)
    })?;
    if xml.len() as u64 > cap {
        return Ok(None);
    }
    let Ok(xml) = String::from_utf8(xml) else {
        return Ok(None);
    };
    Ok(Some(match doc {
        Document::Docx => scan(&xml, &["w:t"], &["w:p"], &["w:tab"], &["w:br", "w:cr"]),
        Document::Odt => scan(
            &xml,
            &["text:p", "text:h", "text:span", "text:a"],
            &["text:p", "text:h"],
            &["text:tab"],
            &["text:line-break"],
        ),
    }))
}

/// The character data inside elements named in `keep`, a newline at the
/// end of each element named in `paragraph`, a tab for each empty element
/// in `tab` and a newline for each in `line_break`.
fn scan(xml: &str, keep: &[&str], paragraph: &[&str], tab: &[&str], line_break: &[&str]) -> String {
    let mut out = String::new();
    // How many `keep` elements are open around the current position.
    let mut inside = 0usize;
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        if inside > 0 {
            out.push_str(&unescape(&rest[..lt]));
        }
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let (closing, body) = match tag.strip_prefix('/') {
            Some(b) => (true, b),
            None => (false, tag),
        };
        let empty = body.ends_with('/');
        let name = body
            .trim_end_matches('/')
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if empty {
            if tab.contains(&name) {
                out.push('\t');
            } else if line_break.contains(&name) {
                out.push('\n');
            }
            continue;
        }
        if keep.contains(&name) {
            inside = if closing {
                inside.saturating_sub(1)
            } else {
                inside + 1
            };
        }
        if closing && paragraph.contains(&name) {
            out.push('\n');
        }
    }
    out
}

/// XML character data with its entity and character references decoded;
/// an unknown reference is kept as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else {
            break;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(|n| n.ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docx_paragraphs_are_lines() {
        let xml = r#"<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t>a &amp; b</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve"> c</w:t></w:r></w:p><w:p><w:r><w:t>d&#x41;&#66;</w:t></w:r></w:p><w:sectPr><w:type w:val="x"/></w:sectPr></w:body></w:document>"#;
        assert_eq!(
            scan(xml, &["w:t"], &["w:p"], &["w:tab"], &["w:br"]),
            "a & b\t c\ndAB\n"
        );
    }

    #[test]
    fn odt_keeps_text_elements_only() {
        let xml = r#"<office:document-content><office:automatic-styles><style:style style:name="P1"/></office:automatic-styles><office:body><office:text><text:p text:style-name="P1">a<text:span>b</text:span><text:line-break/>c &lt;d&gt; &bogus;</text:p><text:h>T</text:h></office:text></office:body></office:document-content>"#;
        assert_eq!(
            scan(
                xml,
                &["text:p", "text:h", "text:span"],
                &["text:p", "text:h"],
                &["text:tab"],
                &["text:line-break"],
            ),
            "ab\nc <d> &bogus;\nT\n"
        );
    }
}
