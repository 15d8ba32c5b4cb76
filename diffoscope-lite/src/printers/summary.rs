//! `--summary`: one line per node that differs itself (content, metadata
//! or a comment), nested paths joined with `::` like `a.whl::pkg/x.py`.
//! Members whose only differences are lines of a listing view (an mtime,
//! a mode) are counted on a last line, not listed one by one; a listing
//! is listed itself only when a member is on one side only, and each such
//! member is listed under its container with the side that has it.

use std::io::Write;

use super::escape;
use crate::difference::Difference;
use crate::{Error, Result};

/// Prints the paths of the differing nodes, one per line.
pub fn summary(diff: &Difference, out: &mut dyn Write) -> Result<()> {
    let write = |source| Error::Write {
        what: "summary",
        source,
    };
    for (path, node) in diff.walk() {
        let listed = if node.view {
            node.content_differs()
        } else {
            node.has_own_difference()
        };
        if listed {
            writeln!(out, "{}", escape(&path.join("::"), false)).map_err(write)?;
        }
        // A member one side lacks differs in content: it is listed, under
        // its container (the view's parent), with the side that has it.
        let parent = &path[..path.len().saturating_sub(1)];
        for m in &node.only_in {
            let side = if m.first {
                &diff.source1
            } else {
                &diff.source2
            };
            let mut member: Vec<&str> = parent.to_vec();
            member.push(&m.path);
            writeln!(
                out,
                "{} (only in {})",
                escape(&member.join("::"), false),
                escape(side, false)
            )
            .map_err(write)?;
        }
    }
    let n = crate::grouping::counts(diff).metadata_only;
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        writeln!(out, "({n} member{s} differing in metadata only)").map_err(write)?;
    }
    out.flush().map_err(write)
}
