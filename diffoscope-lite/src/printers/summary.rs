//! `--summary`: one line per node that differs itself (content, metadata
//! or a comment), nested paths joined with `::` like `a.whl::pkg/x.py`.
//! Members whose only differences are lines of a listing view (an mtime,
//! a mode) are counted on a last line, not listed one by one; a listing
//! is listed itself only when a member is on one side only.

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
    }
    let n = crate::grouping::counts(diff).metadata_only;
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        writeln!(out, "({n} member{s} differing in metadata only)").map_err(write)?;
    }
    out.flush().map_err(write)
}
