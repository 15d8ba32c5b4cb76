//! One self-contained HTML page: no script, no external resource, readable
//! offline. Each nested entry is a collapsible `<details>` section (open by
//! default), with its comments, metadata differences, likely causes and
//! the unified diff or hexdump, coloured by CSS classes. A metadata
//! difference that many entries share (see [`crate::grouping`]) is shown
//! once after the tree, its members in a closed section, so the content
//! differences come first. The page opens with a summary: what the caller
//! adds in [`HtmlOptions::summary`] (a build's verdict, culprits, runs and
//! artifact), then the two inputs and how many content and metadata
//! differences there are.
//!
//! Everything from the artifacts is HTML-escaped after control characters
//! are escaped, so a member name cannot inject markup or fake lines.

use std::io::Write;

use super::escape;
use crate::difference::{Difference, MetadataDifference};
use crate::grouping::{counts, group, Grouped, MetadataGroup};
use crate::{Error, Result};

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.2em; } h1 code { font-size: 1em; }
details { border-left: 2px solid #ccd; margin: .3em 0 .3em .8em; padding-left: .6em; }
summary { cursor: pointer; font-family: monospace; font-weight: bold; padding: .15em 0; }
summary .to { color: #555; font-weight: normal; }
.comment, .hint { color: #8a5a00; font-family: monospace; margin: .2em 0; }
table.meta { border-collapse: collapse; font-family: monospace; margin: .3em 0; }
table.meta td, table.meta th { border: 1px solid #dde; padding: .15em .5em; text-align: left; vertical-align: top; }
pre.diff { background: #f8f8fa; padding: .5em; overflow-x: auto; margin: .3em 0; }
.del { background: #fde8e8; color: #a40000; } .ins { background: #e6f6e6; color: #0a6a0a; }
.hunk { color: #0a5a8a; } .omit { color: #8a5a00; font-style: italic; }
h2 { font-size: 1.05em; margin-top: 1.5em; }
table.summary { border-collapse: collapse; margin: .5em 0 1em; }
table.summary th { text-align: left; padding: .15em 1em .15em 0; vertical-align: top; font-weight: normal; color: #555; }
table.summary td { padding: .15em 0; font-family: monospace; }
ul.members { font-family: monospace; margin: .3em 0; }
";

/// How to print HTML.
#[derive(Clone, Debug, Default)]
pub struct HtmlOptions {
    /// Rows that open the summary at the top of the page, as (label,
    /// value): what the caller knows beyond the two inputs, such as a
    /// build's verdict, culprits, runs and artifacts. Plain text; escaped
    /// when printed.
    pub summary: Vec<(String, String)>,
}

/// HTML-escapes `s` after escaping control characters.
fn h(s: &str, keep_tab: bool) -> String {
    markup_escape(&escape(s, keep_tab))
}

/// Escapes the five characters HTML gives meaning to, for text and
/// attribute values alike (repro's dashboard uses it too).
pub fn markup_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn node(out: &mut dyn Write, d: &Difference, top: bool) -> std::io::Result<()> {
    if !top {
        write!(out, "<details open><summary>{}", h(&d.source1, false))?;
        if d.source2 != d.source1 {
            write!(out, " <span class=\"to\">→ {}</span>", h(&d.source2, false))?;
        }
        writeln!(out, "</summary>")?;
    }
    for c in &d.comments {
        writeln!(out, "<div class=\"comment\">{}</div>", h(c, false))?;
    }
    if !d.metadata.is_empty() {
        writeln!(
            out,
            "<table class=\"meta\"><tr><th>metadata</th><th>first</th><th>second</th><th>likely cause</th></tr>"
        )?;
        for m in &d.metadata {
            metadata_row(out, None, m)?;
        }
        writeln!(out, "</table>")?;
    }
    for hint in &d.hints {
        writeln!(
            out,
            "<div class=\"hint\">{}</div>",
            h(&hint.to_string(), false)
        )?;
    }
    if let Some(u) = &d.unified_diff {
        write!(out, "<pre class=\"diff\">")?;
        for l in u.lines() {
            let class = match l.as_bytes().first() {
                Some(b'-') => "del",
                Some(b'+') => "ins",
                Some(b'@') => "hunk",
                Some(b'[') => "omit",
                _ => "",
            };
            if class.is_empty() {
                writeln!(out, "{}", h(l, true))?;
            } else {
                writeln!(out, "<span class=\"{class}\">{}</span>", h(l, true))?;
            }
        }
        writeln!(out, "</pre>")?;
    }
    if d.listed.iter().any(|l| !l.metadata.is_empty()) {
        writeln!(
            out,
            "<table class=\"meta\"><tr><th>member</th><th>metadata</th><th>first</th><th>second</th><th>likely cause</th></tr>"
        )?;
        for l in &d.listed {
            for m in &l.metadata {
                metadata_row(out, Some(&l.source1), m)?;
            }
        }
        writeln!(out, "</table>")?;
    }
    for child in &d.details {
        node(out, child, false)?;
    }
    if !top {
        writeln!(out, "</details>")?;
    }
    Ok(())
}

/// A row of a metadata table: the member (in a listing's table), the
/// field, both values and the likely causes.
fn metadata_row(
    out: &mut dyn Write,
    member: Option<&str>,
    m: &MetadataDifference,
) -> std::io::Result<()> {
    let hints: Vec<String> = m.hints.iter().map(|x| h(&x.to_string(), false)).collect();
    write!(out, "<tr>")?;
    if let Some(member) = member {
        write!(out, "<td>{}</td>", h(member, false))?;
    }
    writeln!(
        out,
        "<td>{}</td><td class=\"del\">{}</td><td class=\"ins\">{}</td><td>{}</td></tr>",
        h(&m.field.to_string(), false),
        h(&m.source1.to_string(), false),
        h(&m.source2.to_string(), false),
        hints.join("<br>")
    )
}

/// One shared metadata difference: the difference and its count as the
/// heading, the members inside (closed: they are many by definition).
fn metadata_group(out: &mut dyn Write, g: &MetadataGroup) -> std::io::Result<()> {
    writeln!(
        out,
        "<details class=\"group\"><summary>{}</summary><ul class=\"members\">",
        h(&g.to_string(), false)
    )?;
    for m in &g.members {
        writeln!(out, "<li>{}</li>", h(m, false))?;
    }
    writeln!(out, "</ul></details>")
}

/// The summary table: the caller's rows, the inputs, the counts.
fn summary(
    out: &mut dyn Write,
    diff: &Difference,
    grouped: &Grouped<'_>,
    opts: &HtmlOptions,
) -> std::io::Result<()> {
    let c = counts(diff);
    let entries = format!(
        "{} entr{}",
        c.content,
        if c.content == 1 { "y" } else { "ies" }
    );
    let mut metadata = c.metadata.to_string();
    if !grouped.groups.is_empty() {
        let shared: usize = grouped.groups.iter().map(|g| g.members.len()).sum();
        let n = grouped.groups.len();
        metadata.push_str(&format!(
            " ({shared} in {n} shared group{}, shown once after the content)",
            if n == 1 { "" } else { "s" }
        ));
    }
    let rows = opts.summary.iter().cloned().chain([
        ("first".to_string(), diff.source1.clone()),
        ("second".to_string(), diff.source2.clone()),
        ("content differences".to_string(), entries),
        ("metadata differences".to_string(), metadata),
    ]);
    writeln!(out, "<table class=\"summary\">")?;
    for (label, value) in rows {
        writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            h(&label, false),
            h(&value, false)
        )?;
    }
    writeln!(out, "</table>")
}

/// Prints `diff` as one self-contained HTML page, opening with a summary.
pub fn html(diff: &Difference, out: &mut dyn Write, opts: &HtmlOptions) -> Result<()> {
    let write = |source| Error::Write {
        what: "HTML",
        source,
    };
    let body = |out: &mut dyn Write| -> std::io::Result<()> {
        let title = format!("{} vs {}", h(&diff.source1, false), h(&diff.source2, false));
        writeln!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"generator\" content=\"diffoscope-lite\">\
             <title>diffoscope-lite: {title}</title><style>{STYLE}</style></head><body>"
        )?;
        writeln!(
            out,
            "<h1>--- <code>{}</code><br>+++ <code>{}</code></h1>",
            h(&diff.source1, false),
            h(&diff.source2, false)
        )?;
        let grouped = group(diff);
        summary(out, diff, &grouped, opts)?;
        node(out, &grouped.tree, true)?;
        if !grouped.groups.is_empty() {
            writeln!(out, "<h2>Metadata differences shared by many entries</h2>")?;
            for g in &grouped.groups {
                metadata_group(out, g)?;
            }
        }
        writeln!(out, "</body></html>")?;
        out.flush()
    };
    body(out).map_err(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_nests_sections() {
        let mut root = Difference::new("a.zip", "b.zip");
        let mut child = Difference::new("<script>x</script>\n.txt", "<script>x</script>\n.txt");
        child.unified_diff = Some("@@ -1 +1 @@\n-old & <b>\n+new\n".into());
        root.details.push(child);
        let mut out = Vec::new();
        html(&root, &mut out, &HtmlOptions::default()).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;\\n.txt"));
        assert!(page.contains("<span class=\"del\">-old &amp; &lt;b&gt;</span>"));
        assert_eq!(page.matches("<details open>").count(), 1);
        assert!(page.ends_with("</body></html>\n"));
    }

    #[test]
    fn summary_opens_the_page() {
        let mut root = Difference::new("a.tar", "b.tar");
        let mut child = Difference::new("x", "x");
        child.unified_diff = Some("@@ -1 +1 @@\n-a\n+b\n".into());
        root.details.push(child);
        let opts = HtmlOptions {
            summary: vec![("verdict".into(), "NOT <REPRODUCIBLE>".into())],
        };
        let mut out = Vec::new();
        html(&root, &mut out, &opts).unwrap();
        let page = String::from_utf8(out).unwrap();
        let rows = [
            "<tr><th>verdict</th><td>NOT &lt;REPRODUCIBLE&gt;</td></tr>",
            "<tr><th>first</th><td>a.tar</td></tr>",
            "<tr><th>second</th><td>b.tar</td></tr>",
            "<tr><th>content differences</th><td>1 entry</td></tr>",
            "<tr><th>metadata differences</th><td>0</td></tr>",
        ];
        let at: Vec<usize> = rows
            .iter()
            .map(|r| {
                page.find(r)
                    .unwrap_or_else(|| panic!("{r} missing: {page}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{page}");
        assert!(
            at[4] < page.find("<details open>").unwrap(),
            "before the tree"
        );
    }
}
