//! diffoscope-style text: `--- a` / `+++ b`, then one `├── name` heading per
//! nested entry, its lines prefixed with `│ ` per nesting level. A metadata
//! difference that many entries share (see [`crate::grouping`]) is printed
//! once after the tree, with the entries it applies to, so the content
//! differences come first.

use std::io::Write;

use super::escape;
use crate::difference::Difference;
use crate::grouping::{group, MetadataGroup};
use crate::{Error, Result};

/// How to print text.
#[derive(Clone, Debug, Default)]
pub struct TextOptions {
    /// ANSI colours (the binary turns them on for a terminal without
    /// `NO_COLOR`).
    pub color: bool,
}

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

struct Printer<'a> {
    out: &'a mut dyn Write,
    color: bool,
}

impl Printer<'_> {
    fn line(&mut self, prefix: &str, color: &str, body: &str) -> std::io::Result<()> {
        if self.color && !color.is_empty() {
            writeln!(self.out, "{prefix}{color}{body}{RESET}")
        } else {
            writeln!(self.out, "{prefix}{body}")
        }
    }

    fn node(&mut self, d: &Difference, depth: usize) -> std::io::Result<()> {
        if depth > 0 {
            let outer = "│ ".repeat(depth - 1);
            let head = format!("{outer}├── ");
            if d.source2 == d.source1 {
                self.line(&head, BOLD, &escape(&d.source1, false))?;
            } else {
                // A pair of two names is one heading of two lines, as
                // diffoscope prints it: `--- a` inside, `├── +++ b`.
                let first = format!("{outer}│   ");
                self.line(&first, BOLD, &format!("--- {}", escape(&d.source1, false)))?;
                self.line(&head, BOLD, &format!("+++ {}", escape(&d.source2, false)))?;
            }
        }
        let prefix = "│ ".repeat(depth);
        let note = format!("{}┄ ", prefix.trim_end());
        for c in &d.comments {
            self.line(&note, YELLOW, &escape(c, false))?;
        }
        for m in &d.metadata {
            self.line(&note, YELLOW, &escape(&m.to_string(), false))?;
        }
        if let Some(u) = &d.unified_diff {
            for l in u.lines() {
                let color = match l.as_bytes().first() {
                    Some(b'-') => RED,
                    Some(b'+') => GREEN,
                    Some(b'@') => CYAN,
                    Some(b'[') => YELLOW,
                    _ => "",
                };
                self.line(&prefix, color, &escape(l, true))?;
            }
        }
        for h in &d.hints {
            self.line(&note, YELLOW, &h.to_string())?;
        }
        // A listing's changed lines already show the values; what they
        // cannot show is why.
        for l in &d.listed {
            for m in l.metadata.iter().filter(|m| !m.hints.is_empty()) {
                let hints: Vec<String> = m.hints.iter().map(ToString::to_string).collect();
                let line = format!("{}: {}: {}", l.source1, m.field, hints.join("; "));
                self.line(&note, YELLOW, &escape(&line, false))?;
            }
        }
        for child in &d.details {
            self.node(child, depth + 1)?;
        }
        Ok(())
    }

    /// `┄ 46 members: mode: … → …; likely cause: …`, then one member a line.
    fn group(&mut self, g: &MetadataGroup) -> std::io::Result<()> {
        self.line("┄ ", YELLOW, &escape(&g.to_string(), false))?;
        for m in &g.members {
            self.line("│   ", "", &escape(m, false))?;
        }
        Ok(())
    }
}

/// Prints `diff` as diffoscope-style text.
pub fn text(diff: &Difference, out: &mut dyn Write, opts: &TextOptions) -> Result<()> {
    let write = |source| Error::Write {
        what: "text",
        source,
    };
    let mut p = Printer {
        out,
        color: opts.color,
    };
    p.line("", BOLD, &format!("--- {}", escape(&diff.source1, false)))
        .map_err(write)?;
    p.line("", BOLD, &format!("+++ {}", escape(&diff.source2, false)))
        .map_err(write)?;
    let grouped = group(diff);
    p.node(&grouped.tree, 0).map_err(write)?;
    for g in &grouped.groups {
        p.group(g).map_err(write)?;
    }
    p.out.flush().map_err(write)
}
