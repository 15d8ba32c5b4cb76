//! Repeated metadata differences, grouped: a pure view of a finished
//! difference tree for the printers.
//!
//! A build under another umask changes the mode of nearly every member in
//! the same way; printed member by member, those lines bury the one content
//! difference that matters. [`group`] takes out every metadata difference
//! that is identical (field, both values and likely causes) on at least
//! [`MIN_MEMBERS`] nodes and returns it once, with the members it applies
//! to. The rest of the tree is kept as it was, in container order; nodes
//! left with nothing to show are dropped. The text and HTML printers print
//! that tree first and the groups after it. The JSON printer keeps every
//! node's own metadata, as diffoscope's layout wants, and lists the groups
//! besides.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::difference::{Difference, ListedMember, MetadataDifference};

/// Fewest nodes that must share a metadata difference for it to be
/// grouped; two read as well one by one.
pub const MIN_MEMBERS: usize = 3;

/// One metadata difference shared by many nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataGroup {
    /// The difference, as recorded on each member.
    pub difference: MetadataDifference,
    /// The nodes it applies to, in tree order: the names below the root
    /// joined with `::` (see [`member_name`]).
    pub members: Vec<String>,
}

impl fmt::Display for MetadataGroup {
    /// `46 members: mode: 0o0644 → 0o0664; likely cause: umask (…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} members: {}", self.members.len(), self.difference)
    }
}

/// A difference tree with its repeated metadata differences taken out.
#[derive(Clone, Debug)]
pub struct Grouped<'a> {
    /// The tree without the grouped metadata differences (borrowed when
    /// nothing was grouped).
    pub tree: Cow<'a, Difference>,
    /// The groups, most members first, then in the order first met.
    pub groups: Vec<MetadataGroup>,
}

/// How many differences a tree records, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Nodes whose content differs: a unified diff, or a remark such as an
    /// entry present on one side only or a format that differs.
    pub content: usize,
    /// Metadata differences, over all nodes and listed members.
    pub metadata: usize,
    /// Members whose only differences are lines of a listing view (no
    /// node of their own).
    pub metadata_only: usize,
}

/// Counts the content and metadata differences of `diff`.
pub fn counts(diff: &Difference) -> Counts {
    let mut c = Counts::default();
    for (_, node) in diff.walk() {
        if node.content_differs() {
            c.content += 1;
        }
        c.metadata += node.metadata.len();
        for l in &node.listed {
            c.metadata += l.metadata.len();
            c.metadata_only += usize::from(!l.has_node);
        }
    }
    c
}

/// How a node is named in a group: its names below the root joined with
/// `::` (`pkg.whl::pkg/mod.py`), or the root's own name for the root.
pub fn member_name(path: &[&str]) -> String {
    match path {
        [root] => (*root).to_owned(),
        [_, rest @ ..] => rest.join("::"),
        [] => String::new(),
    }
}

/// The metadata differences of `diff` that at least [`MIN_MEMBERS`] nodes
/// share, each with its members.
pub fn groups(diff: &Difference) -> Vec<MetadataGroup> {
    // Hashed, not compared pairwise: an archive of 100 000 members with as
    // many distinct mtimes must not cost 10^10 comparisons.
    let mut index: HashMap<&MetadataDifference, usize> = HashMap::new();
    let mut found: Vec<(&MetadataDifference, Vec<String>)> = Vec::new();
    for (path, node) in diff.walk() {
        let mut named: Vec<(String, &[MetadataDifference])> = Vec::new();
        if !node.metadata.is_empty() {
            named.push((member_name(&path), &node.metadata));
        }
        // A listing's members are named as members of its container.
        for l in &node.listed {
            let mut p = path[..path.len().saturating_sub(1)].to_vec();
            p.push(&l.source1);
            named.push((member_name(&p), &l.metadata));
        }
        for (name, metadata) in named {
            for m in metadata {
                let i = *index.entry(m).or_insert_with(|| {
                    found.push((m, Vec::new()));
                    found.len() - 1
                });
                found[i].1.push(name.clone());
            }
        }
    }
    let mut groups: Vec<MetadataGroup> = found
        .into_iter()
        .filter(|(_, members)| members.len() >= MIN_MEMBERS)
        .map(|(m, members)| MetadataGroup {
            difference: m.clone(),
            members,
        })
        .collect();
    // Stable: equal sizes stay in the order first met.
    groups.sort_by_key(|g| std::cmp::Reverse(g.members.len()));
    groups
}

/// Splits `diff` into the tree without its repeated metadata differences
/// and the groups of those.
pub fn group(diff: &Difference) -> Grouped<'_> {
    let groups = groups(diff);
    if groups.is_empty() {
        return Grouped {
            tree: Cow::Borrowed(diff),
            groups,
        };
    }
    let grouped: HashSet<&MetadataDifference> = groups.iter().map(|g| &g.difference).collect();
    Grouped {
        tree: Cow::Owned(without(diff, &grouped)),
        groups,
    }
}

/// A copy of `d` without the `grouped` metadata differences, dropping the
/// nested nodes that are left with nothing.
fn without(d: &Difference, grouped: &HashSet<&MetadataDifference>) -> Difference {
    Difference {
        source1: d.source1.clone(),
        source2: d.source2.clone(),
        unified_diff: d.unified_diff.clone(),
        hexdump: d.hexdump,
        decoded: d.decoded,
        comments: d.comments.clone(),
        details: d
            .details
            .iter()
            .map(|c| without(c, grouped))
            .filter(|c| !c.is_empty())
            .collect(),
        metadata: d
            .metadata
            .iter()
            .filter(|m| !grouped.contains(m))
            .cloned()
            .collect(),
        hints: d.hints.clone(),
        view: d.view,
        listed: d
            .listed
            .iter()
            .map(|l| ListedMember {
                metadata: l
                    .metadata
                    .iter()
                    .filter(|m| !grouped.contains(m))
                    .cloned()
                    .collect(),
                ..l.clone()
            })
            .filter(|l| !l.metadata.is_empty())
            .collect(),
        only_in: d.only_in.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::{Cause, Hint};
    use crate::model::{MetaField, MetaValue};

    fn mode(a: u32, b: u32) -> MetadataDifference {
        MetadataDifference {
            field: MetaField::Mode,
            source1: MetaValue::Mode(a),
            source2: MetaValue::Mode(b),
            hints: vec![Hint {
                cause: Cause::Umask,
                detail: String::new(),
            }],
        }
    }

    /// An archive of `n` members whose modes all changed 0644 → 0664, one
    /// of which (`f7`) also changed content, and one (`odd`) whose mode
    /// changed otherwise.
    fn umask_tree(n: usize) -> Difference {
        let mut root = Difference::new("a.tar", "b.tar");
        for i in 0..n {
            let mut m = Difference::new(format!("f{i}"), format!("f{i}"));
            m.metadata.push(mode(0o644, 0o664));
            if i == 7 {
                m.unified_diff = Some("@@ -1 +1 @@\n-a\n+b\n".into());
            }
            root.details.push(m);
        }
        let mut odd = Difference::new("odd", "odd");
        odd.metadata.push(mode(0o600, 0o660));
        root.details.push(odd);
        root
    }

    #[test]
    fn identical_metadata_differences_are_grouped_once() {
        let d = umask_tree(46);
        let g = group(&d);
        assert_eq!(g.groups.len(), 1);
        assert_eq!(g.groups[0].members.len(), 46);
        assert_eq!(g.groups[0].members[..2], ["f0", "f1"]);
        assert_eq!(
            g.groups[0].to_string(),
            "46 members: mode: 0o0644 → 0o0664; likely cause: umask"
        );
        // Left in the tree: the content change (without its mode) and the
        // one mode change that is not like the others.
        let names: Vec<&str> = g.tree.details.iter().map(|c| c.source1.as_str()).collect();
        assert_eq!(names, ["f7", "odd"]);
        assert!(g.tree.details[0].metadata.is_empty());
        assert!(g.tree.details[0].unified_diff.is_some());
        assert_eq!(g.tree.details[1].metadata, [mode(0o600, 0o660)]);
        // Nothing is lost: every grouped member is listed.
        assert_eq!(
            counts(&d).metadata,
            counts(&g.tree).metadata + g.groups[0].members.len()
        );
    }

    #[test]
    fn few_or_nested_members() {
        // Below the threshold nothing is grouped and the tree is borrowed.
        let d = umask_tree(MIN_MEMBERS - 1);
        let g = group(&d);
        assert!(g.groups.is_empty());
        assert!(matches!(g.tree, Cow::Borrowed(_)));
        // Members inside nested archives are named from the root, and a
        // container left without any difference is dropped.
        let mut outer = Difference::new("dist.tar", "dist.tar");
        for name in ["a.whl", "b.whl"] {
            let mut inner = umask_tree(2);
            inner.details.retain(|c| c.source1 != "odd");
            inner.source1 = name.into();
            outer.details.push(inner);
        }
        let mut readme = Difference::new("README", "README");
        readme.unified_diff = Some("@@ -1 +1 @@\n-a\n+b\n".into());
        outer.details.push(readme);
        let g = group(&outer);
        assert_eq!(
            g.groups[0].members,
            ["a.whl::f0", "a.whl::f1", "b.whl::f0", "b.whl::f1"]
        );
        let names: Vec<&str> = g.tree.details.iter().map(|c| c.source1.as_str()).collect();
        assert_eq!(names, ["README"]);
    }

    #[test]
    fn counts_content_and_metadata() {
        let c = counts(&umask_tree(10));
        assert_eq!(
            c,
            Counts {
                content: 1,
                metadata: 11,
                metadata_only: 0,
            }
        );
    }
}
