//! diffoscope-compatible JSON.
//!
//! The top-level object carries `"diffoscope-json-version": 1` and every
//! node has diffoscope's keys: `source1`, `source2`, `unified_diff` (string
//! or null), `comments` (array of strings) and `details` (array of nodes),
//! so tools that read diffoscope's JSON read this too. repro's extras are
//! additional keys, present only when non-empty:
//!
//! - `repro-metadata`: metadata differences, each
//!   `{"field", "source1", "source2", "hints"}` with the values as shown in
//!   text output;
//! - `repro-hints`: likely causes of the node's content difference, each
//!   `{"cause", "detail"}`, `cause` being one of `timestamp`, `build-path`,
//!   `hostname`, `user-name`, `uid`, `locale`, `timezone`, `entry-order`,
//!   `umask` (metadata hints use the same shape);
//! - `repro-members`, on a listing view (`file list`, `zipinfo {}`, …):
//!   the members whose metadata differs in ways the listing shows, each
//!   `{"source1", "source2", "repro-metadata", "repro-has-node"}`, the last
//!   saying whether the member also has a node of its own (its content
//!   differs). The listing's `unified_diff` shows the same as lines, as
//!   diffoscope's does; these are not repeated in its `comments`.
//!
//! Each metadata difference is also one line of `comments`, as the text
//! report shows it (`mtime: … → …; likely cause: timestamp`), so that
//! tools knowing only diffoscope's keys (its own HTML renderer, loading
//! this with `--load-existing-diff`) still show it.
//!
//! The top-level object also has `repro-metadata-groups` when some
//! metadata difference is shared by many nodes (see [`crate::grouping`]):
//! each `{"field", "source1", "source2", "hints", "members"}`, `members`
//! naming the nodes with `::` between nesting levels. The nodes keep their
//! own copies: the groups are an index, nothing is moved out of the tree.

use std::io::Write;

use serde::Serialize;

use crate::difference::{Difference, MetadataDifference};
use crate::grouping::{groups, MetadataGroup};
use crate::hints::Hint;
use crate::{Error, Result};

#[derive(Serialize)]
struct Root<'a> {
    #[serde(rename = "diffoscope-json-version")]
    version: u32,
    #[serde(flatten)]
    node: Node<'a>,
    #[serde(
        rename = "repro-metadata-groups",
        skip_serializing_if = "Vec::is_empty"
    )]
    groups: Vec<Group<'a>>,
}

#[derive(Serialize)]
struct Group<'a> {
    #[serde(flatten)]
    difference: Meta<'a>,
    members: &'a [String],
}

#[derive(Serialize)]
struct Node<'a> {
    source1: &'a str,
    source2: &'a str,
    unified_diff: Option<&'a str>,
    comments: Vec<String>,
    details: Vec<Node<'a>>,
    #[serde(rename = "repro-metadata", skip_serializing_if = "Vec::is_empty")]
    metadata: Vec<Meta<'a>>,
    #[serde(rename = "repro-hints", skip_serializing_if = "Vec::is_empty")]
    hints: Vec<JsonHint<'a>>,
    #[serde(rename = "repro-members", skip_serializing_if = "Vec::is_empty")]
    members: Vec<Member<'a>>,
}

#[derive(Serialize)]
struct Member<'a> {
    source1: &'a str,
    source2: &'a str,
    #[serde(rename = "repro-metadata")]
    metadata: Vec<Meta<'a>>,
    #[serde(rename = "repro-has-node")]
    has_node: bool,
}

#[derive(Serialize)]
struct Meta<'a> {
    field: String,
    source1: String,
    source2: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hints: Vec<JsonHint<'a>>,
}

#[derive(Serialize)]
struct JsonHint<'a> {
    cause: &'static str,
    detail: &'a str,
}

fn hints(h: &[Hint]) -> Vec<JsonHint<'_>> {
    h.iter()
        .map(|h| JsonHint {
            cause: h.cause.id(),
            detail: &h.detail,
        })
        .collect()
}

fn meta(m: &MetadataDifference) -> Meta<'_> {
    Meta {
        field: m.field.to_string(),
        source1: m.source1.to_string(),
        source2: m.source2.to_string(),
        hints: hints(&m.hints),
    }
}

fn group(g: &MetadataGroup) -> Group<'_> {
    Group {
        difference: meta(&g.difference),
        members: &g.members,
    }
}

fn node(d: &Difference) -> Node<'_> {
    Node {
        source1: &d.source1,
        source2: &d.source2,
        unified_diff: d.unified_diff.as_deref(),
        comments: d
            .comments
            .iter()
            .cloned()
            .chain(d.metadata.iter().map(ToString::to_string))
            .collect(),
        details: d.details.iter().map(node).collect(),
        metadata: d.metadata.iter().map(meta).collect(),
        hints: hints(&d.hints),
        members: d
            .listed
            .iter()
            .map(|l| Member {
                source1: &l.source1,
                source2: &l.source2,
                metadata: l.metadata.iter().map(meta).collect(),
                has_node: l.has_node,
            })
            .collect(),
    }
}

/// Prints `diff` as diffoscope-compatible JSON (pretty-printed).
pub fn json(diff: &Difference, out: &mut dyn Write) -> Result<()> {
    let shared = groups(diff);
    let root = Root {
        version: 1,
        node: node(diff),
        groups: shared.iter().map(group).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &root).map_err(|e| Error::Write {
        what: "JSON",
        source: e.into(),
    })?;
    writeln!(out)
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write {
            what: "JSON",
            source,
        })
}
