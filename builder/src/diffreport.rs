//! Diff reports of two artifacts: the recursive differ of diffoscope-lite,
//! its text, JSON and HTML reports written through `fsio` (a regular file
//! atomically; a device, FIFO or symlink written through, never replaced;
//! `-` is stdout), and the summary lines a build keeps of each.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use diffoscope_lite::grouping;
use diffoscope_lite::hints::{annotate, Hint, HintContext};
use diffoscope_lite::printers::{self, HtmlOptions, TextOptions};
use diffoscope_lite::{compare, Difference, Limits, Options};

/// Renders a printer into a string.
pub fn render(
    print: impl FnOnce(&mut dyn std::io::Write) -> diffoscope_lite::Result<()>,
) -> Result<String> {
    let mut buf = Vec::new();
    print(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Report files to write (`-` is stdout).
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// Plain text.
    pub text: Option<PathBuf>,
    /// diffoscope JSON.
    pub json: Option<PathBuf>,
    /// Self-contained HTML.
    pub html: Option<PathBuf>,
    /// Colour the text report when it goes to stdout (`-`).
    pub color: bool,
}

impl Outputs {
    /// Writes every requested report of `diff`; `html` adds to the HTML
    /// page's summary.
    pub fn write(&self, diff: &Difference, html: &HtmlOptions) -> Result<()> {
        if let Some(p) = &self.text {
            let color = p == Path::new("-") && self.color;
            let text = render(|w| printers::text(diff, w, &TextOptions { color }))?;
            write(p, text.as_bytes())?;
        }
        if let Some(p) = &self.json {
            write(p, render(|w| printers::json(diff, w))?.as_bytes())?;
        }
        if let Some(p) = &self.html {
            write(p, render(|w| printers::html(diff, w, html))?.as_bytes())?;
        }
        Ok(())
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let stdout = path == Path::new("-");
    if let Some(dir) = path
        .parent()
        .filter(|d| !stdout && !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match fsio::write_arg(path, bytes) {
        // The reader went away (`| head`): stop quietly, as `out!` does.
        Err(e) if stdout && e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// What `repro build` learns from diffing one artifact of two runs.
pub struct ArtifactDiff {
    /// The differing paths (nested with `::`), with their likely causes.
    pub summary: Vec<String>,
}

/// Diffs `a` against `b` under `limits` with the build's hint context and
/// writes `<dir>/<name>.{txt,json,html}`, the HTML page opening with the
/// build's `summary` rows (label, value). None when the files are identical.
pub fn write_reports(
    a: &Path,
    b: &Path,
    dir: &Path,
    name: &str,
    cx: &HintContext,
    limits: &Limits,
    summary: &[(String, String)],
) -> Result<Option<ArtifactDiff>> {
    let opts = Options {
        limits: limits.clone(),
        ..Options::default()
    };
    let Some(mut diff) = compare(a, b, &opts)? else {
        return Ok(None);
    };
    annotate(&mut diff, cx);
    let base = dir.join(name);
    let with_ext = |ext: &str| {
        let mut p = base.clone().into_os_string();
        p.push(ext);
        PathBuf::from(p)
    };
    let outputs = Outputs {
        text: Some(with_ext(".txt")),
        json: Some(with_ext(".json")),
        html: Some(with_ext(".html")),
        color: false,
    };
    let html = HtmlOptions {
        summary: summary.to_vec(),
    };
    outputs.write(&diff, &html)?;
    Ok(Some(ArtifactDiff {
        summary: summary_lines(&diff, name),
    }))
}

/// One line per differing path with its likely causes: content first, then
/// each metadata difference many paths share (once, with their count), then
/// the other metadata differences, so a real change is not pushed off the
/// terminal by the same mode change on every member.
fn summary_lines(diff: &Difference, name: &str) -> Vec<String> {
    let causes = |hints: &mut dyn Iterator<Item = &Hint>| -> String {
        // Most likely first, as the hints are ordered; each cause once.
        let mut ids: Vec<&str> = Vec::new();
        for h in hints {
            if !ids.contains(&h.cause.id()) {
                ids.push(h.cause.id());
            }
        }
        if ids.is_empty() {
            String::new()
        } else {
            format!("; likely cause: {}", ids.join(", "))
        }
    };
    let grouped = grouping::group(diff);
    let (mut content, mut metadata) = (Vec::new(), Vec::new());
    for (path, node) in grouped.tree.walk() {
        // A listing's members are named as members of its container, one
        // line each, as their own nodes were before listings held them.
        for l in &node.listed {
            let why = causes(&mut l.metadata.iter().flat_map(|m| &m.hints));
            let mut p = path[1..path.len().saturating_sub(1)].to_vec();
            p.push(&l.source1);
            let p = printers::escape(&p.join("::"), false).into_owned();
            metadata.push(format!("{p} (metadata{why})"));
        }
        if node.view && !node.content_differs() {
            continue;
        }
        if !node.has_own_difference() {
            continue;
        }
        let why = causes(
            &mut node
                .hints
                .iter()
                .chain(node.metadata.iter().flat_map(|m| &m.hints)),
        );
        let path = printers::escape(&path[1..].join("::"), false).into_owned();
        let path = if path.is_empty() {
            name.to_string()
        } else {
            path
        };
        if node.content_differs() {
            content.push(format!("{path} (content{why})"));
        } else {
            metadata.push(format!("{path} (metadata{why})"));
        }
    }
    let shared = grouped.groups.iter().map(|g| {
        let m = &g.difference;
        let line = format!(
            "{} members: {} {} → {} (metadata{})",
            g.members.len(),
            m.field,
            m.source1,
            m.source2,
            causes(&mut m.hints.iter())
        );
        printers::escape(&line, false).into_owned()
    });
    content.into_iter().chain(shared).chain(metadata).collect()
}
