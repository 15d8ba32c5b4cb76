//! The tree of differences the differ emits and the printers print.
//!
//! Its shape follows diffoscope's so that its JSON output reads the same:
//! each node has `source1`/`source2` (the names on each side), an optional
//! `unified_diff` of its own content, `comments`, and `details` (children,
//! one per nested entry). repro adds `metadata` differences, kept apart
//! from content, and likely-cause `hints` filled in by [`crate::hints`].

use std::fmt;

use crate::model::{MetaField, MetaValue};

/// One node of the difference tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Difference {
    /// Name on the first side (the path given, or the entry path).
    pub source1: String,
    /// Name on the second side.
    pub source2: String,
    /// A unified diff of this node's own content (text lines, or a hexdump
    /// of the differing regions of binary content), hunks only.
    pub unified_diff: Option<String>,
    /// Whether `unified_diff` is a hexdump of binary content rather than
    /// lines of text: offsets and hex words are not text, so hints skip it.
    pub hexdump: bool,
    /// Whether `unified_diff` is a decoded view of binary structure
    /// (symbols, DWARF, machine code): text, but its numbers are addresses
    /// and sizes, so hints read only names (build path, host, user) in it.
    pub decoded: bool,
    /// Remarks: formats that differ, entries present on one side only,
    /// anomalies such as duplicate entry names.
    pub comments: Vec<String>,
    /// Differences of nested entries, in container order.
    pub details: Vec<Difference>,
    /// Metadata that differs (mtime, mode, owner, order, compression, …).
    pub metadata: Vec<MetadataDifference>,
    /// Likely causes of this node's content difference.
    pub hints: Vec<Hint>,
    /// Whether this node is a view of its container (a listing such as
    /// `file list` or `zipinfo {}`) rather than one of its members.
    pub view: bool,
    /// For a listing view: the members whose metadata differs in ways the
    /// listing shows, with those differences typed (the listing's
    /// `unified_diff` shows them as changed lines).
    pub listed: Vec<ListedMember>,
    /// For a listing view: the members one side only has, every one (the
    /// remarks naming them stop at `--max-diff-lines`), for `--summary`.
    pub only_in: Vec<OnlyIn>,
}

/// A member that one side of a container has and the other lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnlyIn {
    /// Whether the first side has it (else the second).
    pub first: bool,
    /// Its path in the container.
    pub path: String,
}

/// A member's metadata differences as a listing view shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedMember {
    /// The member's name on the first side.
    pub source1: String,
    /// Its name on the second side.
    pub source2: String,
    /// The differing fields the listing shows.
    pub metadata: Vec<MetadataDifference>,
    /// Whether the member also has a node of its own (its content or a
    /// field no listing shows differs); `false` for a member whose only
    /// differences are in the listing.
    pub has_node: bool,
}

/// A metadata field whose value differs between the two sides.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MetadataDifference {
    /// Which field.
    pub field: MetaField,
    /// Value on the first side.
    pub source1: MetaValue,
    /// Value on the second side.
    pub source2: MetaValue,
    /// Likely causes.
    pub hints: Vec<Hint>,
}

impl std::fmt::Display for MetadataDifference {
    /// `field: first → second`, then `; likely cause: …` per hint: how
    /// the text report shows it, and the comment the JSON carries for
    /// readers that know only diffoscope's keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} → {}", self.field, self.source1, self.source2)?;
        for h in &self.hints {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl Difference {
    /// A node with both names and nothing else yet.
    pub fn new(source1: impl Into<String>, source2: impl Into<String>) -> Self {
        Difference {
            source1: source1.into(),
            source2: source2.into(),
            ..Difference::default()
        }
    }

    /// Whether this node records no difference at all (own or nested).
    pub fn is_empty(&self) -> bool {
        self.unified_diff.is_none()
            && self.comments.is_empty()
            && self.details.is_empty()
            && self.metadata.is_empty()
            && self.listed.is_empty()
    }

    /// Whether this node records a difference of its own (not only in
    /// nested entries).
    pub fn has_own_difference(&self) -> bool {
        self.unified_diff.is_some() || !self.comments.is_empty() || !self.metadata.is_empty()
    }

    /// Whether this node differs in content: a unified diff or a remark
    /// (a member on one side only, a format that differs). A listing view
    /// counts only for its remarks: its changed lines are metadata of
    /// members, counted as such, or lines of members that have their own
    /// node.
    pub fn content_differs(&self) -> bool {
        !self.comments.is_empty() || (self.unified_diff.is_some() && !self.view)
    }

    /// Depth-first iterator over this node and all nested nodes, with the
    /// chain of names from the root (first side's names).
    pub fn walk(&self) -> Vec<(Vec<&str>, &Difference)> {
        let mut out = Vec::new();
        let mut stack = vec![(vec![self.source1.as_str()], self)];
        while let Some((path, node)) = stack.pop() {
            for child in node.details.iter().rev() {
                let mut p = path.clone();
                p.push(child.source1.as_str());
                stack.push((p, child));
            }
            out.push((path, node));
        }
        out
    }
}

/// A kind of likely cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A date, time or epoch value.
    Timestamp,
    /// An absolute build path.
    BuildPath,
    /// A host name.
    Hostname,
    /// A user or group name.
    UserName,
    /// A numeric uid or gid.
    Uid,
    /// A locale setting.
    Locale,
    /// A timezone.
    Timezone,
    /// Only the order of entries changed.
    EntryOrder,
    /// Permissions differing like two umasks.
    Umask,
}

impl Cause {
    /// Stable identifier used in JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Cause::Timestamp => "timestamp",
            Cause::BuildPath => "build-path",
            Cause::Hostname => "hostname",
            Cause::UserName => "user-name",
            Cause::Uid => "uid",
            Cause::Locale => "locale",
            Cause::Timezone => "timezone",
            Cause::EntryOrder => "entry-order",
            Cause::Umask => "umask",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Timestamp => "timestamp",
            Cause::BuildPath => "embedded build path",
            Cause::Hostname => "hostname",
            Cause::UserName => "user name",
            Cause::Uid => "uid/gid",
            Cause::Locale => "locale",
            Cause::Timezone => "timezone",
            Cause::EntryOrder => "entry order",
            Cause::Umask => "umask",
        })
    }
}

/// One likely cause, with what gave it away.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hint {
    /// The cause.
    pub cause: Cause,
    /// Evidence, e.g. the build dir that was found.
    pub detail: String,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "likely cause: {}", self.cause)
        } else {
            write!(f, "likely cause: {} ({})", self.cause, self.detail)
        }
    }
}
