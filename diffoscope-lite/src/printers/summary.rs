//! `--summary`: one line per node that differs itself (content, metadata
//! or a comment), nested paths joined with `::` like `a.whl::pkg/x.py`.

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
        if node.has_own_difference() {
            writeln!(out, "{}", escape(&path.join("::"), false)).map_err(write)?;
        }
    }
    out.flush().map_err(write)
}
