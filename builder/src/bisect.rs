//! Naming the culprit: which variations make the artifacts differ.
//!
//! Given the variations applied to a run that differed from the control,
//! this first reruns the control (if that already differs, the build is
//! nondeterministic by itself and no variation can be blamed), then splits
//! the set in halves and tests each half that could hold a culprit. A half
//! that alone reproduces the difference is searched further; when neither
//! half does but the whole did, the variations only matter together and
//! are reported as one group. Every test is one more build, so the search
//! stops when its budget is spent and reports what it narrowed down.

use anyhow::Result;
use sandbox::variations::{Variation, VariationSet};
use serde::{Deserialize, Serialize};

use crate::report::Verdict;

/// What the search found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BisectResult {
    /// Extra builds spent.
    pub runs: u32,
    /// The control, rebuilt unchanged, already differed.
    pub nondeterministic: bool,
    /// Groups of variations each of which changes the artifacts (usually
    /// single variations; a group means "only together").
    pub culprits: Vec<Vec<String>>,
    /// Sets still known to hold a culprit when the budget ran out.
    pub unresolved: Vec<Vec<String>>,
    /// Variations not yet tested when the budget ran out.
    pub untested: Vec<String>,
    /// True when nothing is left unresolved or untested.
    pub complete: bool,
}

/// Runs the search. `differs(set)` builds with `set` applied and says
/// whether the artifacts differ from the control's. `budget` caps the
/// number of builds (None: no cap).
pub fn bisect(
    applied: &VariationSet,
    budget: Option<u32>,
    mut differs: impl FnMut(&VariationSet) -> Result<bool>,
) -> Result<BisectResult> {
    let mut result = BisectResult::default();
    let spend = |result: &mut BisectResult| -> bool {
        if budget.is_some_and(|b| result.runs >= b) {
            return false;
        }
        result.runs += 1;
        true
    };
    let all: Vec<Variation> = applied.iter().collect();
    if !spend(&mut result) {
        result.unresolved.push(names(&all));
        return Ok(result);
    }
    if differs(&VariationSet::empty())? {
        result.nondeterministic = true;
        result.complete = true;
        return Ok(result);
    }
    // Sets known to hold a culprit are split first (depth first, so one
    // culprit is named as soon as possible); the other halves wait in
    // `unknown` until then.
    let mut known: Vec<Vec<Variation>> = vec![all];
    let mut unknown: Vec<Vec<Variation>> = Vec::new();
    loop {
        if let Some(set) = known.pop() {
            if set.len() == 1 {
                result.culprits.push(names(&set));
                continue;
            }
            let (a, b) = set.split_at(set.len() / 2);
            if !spend(&mut result) {
                result.unresolved.push(names(&set));
                continue;
            }
            if differs(&a.iter().copied().collect())? {
                known.push(a.to_vec());
                unknown.push(b.to_vec());
                continue;
            }
            // a alone is harmless: test b to tell "b holds it" from "only
            // a and b together".
            if !spend(&mut result) {
                result.unresolved.push(names(b));
                continue;
            }
            if differs(&b.iter().copied().collect())? {
                known.push(b.to_vec());
            } else {
                result.culprits.push(names(&set));
            }
        } else if let Some(set) = unknown.pop() {
            if !spend(&mut result) {
                result.untested.extend(names(&set));
                continue;
            }
            if differs(&set.iter().copied().collect())? {
                known.push(set);
            }
        } else {
            break;
        }
    }
    result.culprits.sort();
    result.unresolved.sort();
    // Report untested variations in the usual (reprotest) order.
    result.untested.sort_by_key(|n| Variation::from_name(n));
    result.complete = result.unresolved.is_empty() && result.untested.is_empty();
    Ok(result)
}

fn names(set: &[Variation]) -> Vec<String> {
    set.iter().map(|v| v.name().to_string()).collect()
}

impl BisectResult {
    /// One line for the terminal, worded for the build's `verdict`: the
    /// search runs for EQUIVALENT artifacts too, and then it explains noise
    /// rather than a failure, so the line must not say "not reproducible"
    /// under an EQUIVALENT AFTER NORMALIZATION verdict.
    pub fn summary(&self, verdict: Verdict) -> String {
        let groups = |g: &[Vec<String>]| {
            g.iter()
                .map(|c| c.join(" + "))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let runs = format!(
            "{} extra run{}",
            self.runs,
            if self.runs == 1 { "" } else { "s" }
        );
        let what = match verdict {
            Verdict::EquivalentAfterNormalization => "noise",
            _ => "not reproducible",
        };
        if self.nondeterministic {
            return format!(
                "{what} even without variations: the build is nondeterministic by itself \
                 (wall-clock time, randomness, hash or thread ordering) ({runs})"
            );
        }
        let mut parts = Vec::new();
        if !self.culprits.is_empty() {
            parts.push(format!("caused by {}", groups(&self.culprits)));
        }
        if !self.unresolved.is_empty() {
            parts.push(format!("narrowed to one of: {}", groups(&self.unresolved)));
        }
        if !self.untested.is_empty() {
            parts.push(format!("not yet ruled out: {}", self.untested.join(", ")));
        }
        // Said once, after everything the search left open.
        let finish = if self.unresolved.is_empty() && self.untested.is_empty() {
            ""
        } else {
            " (pass --bisect to finish)"
        };
        if parts.is_empty() {
            parts.push("no single variation reproduces the difference".into());
        }
        format!("{what}: {}{finish} ({runs})", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(vs: &[Variation]) -> VariationSet {
        vs.iter().copied().collect()
    }

    /// A fake build that differs when any culprit is applied (or, for
    /// `together`, when all of them are).
    fn fake(
        culprits: &[Variation],
        together: bool,
    ) -> impl FnMut(&VariationSet) -> Result<bool> + '_ {
        move |s: &VariationSet| {
            Ok(if together {
                culprits.iter().all(|c| s.contains(*c))
            } else {
                culprits.iter().any(|c| s.contains(*c))
            })
        }
    }

    #[test]
    fn finds_one_culprit_among_many() {
        let applied = VariationSet::all();
        let r = bisect(&applied, None, fake(&[Variation::Timezone], false)).unwrap();
        assert_eq!(r.culprits, [["timezone"]]);
        assert!(r.complete && !r.nondeterministic);
        assert!(r.runs <= 1 + 4 + 4, "{}", r.runs);
    }

    #[test]
    fn finds_two_culprits() {
        let applied = VariationSet::all();
        let r = bisect(
            &applied,
            None,
            fake(&[Variation::BuildPath, Variation::Umask], false),
        )
        .unwrap();
        assert_eq!(r.culprits, [["build_path"], ["umask"]]);
    }

    #[test]
    fn interaction_is_reported_as_a_group() {
        let applied = set(&[Variation::Home, Variation::Umask]);
        let r = bisect(
            &applied,
            None,
            fake(&[Variation::Home, Variation::Umask], true),
        )
        .unwrap();
        assert_eq!(r.culprits, [["home", "umask"]]);
    }

    #[test]
    fn nondeterministic_build_blames_nothing() {
        let r = bisect(&VariationSet::all(), None, |_| Ok(true)).unwrap();
        assert!(r.nondeterministic);
        assert!(r.culprits.is_empty());
        assert_eq!(r.runs, 1);
    }

    #[test]
    fn budget_narrows_and_says_so() {
        let r = bisect(
            &VariationSet::all(),
            Some(2),
            fake(&[Variation::Kernel], false),
        )
        .unwrap();
        assert_eq!(r.runs, 2);
        assert!(!r.complete);
        assert!(r
            .unresolved
            .iter()
            .flatten()
            .chain(&r.untested)
            .any(|n| n == "kernel"));
        assert!(r.summary(Verdict::NotReproducible).contains("--bisect"));
        let r = bisect(
            &VariationSet::all(),
            Some(0),
            fake(&[Variation::Kernel], false),
        )
        .unwrap();
        assert_eq!(r.runs, 0);
        assert!(!r.complete);
    }

    #[test]
    fn summary_follows_the_verdict() {
        let applied = set(&[Variation::Umask]);
        let r = bisect(&applied, Some(4), fake(&[Variation::Umask], false)).unwrap();
        assert_eq!(
            r.summary(Verdict::NotReproducible),
            "not reproducible: caused by umask (1 extra run)"
        );
        assert_eq!(
            r.summary(Verdict::EquivalentAfterNormalization),
            "noise: caused by umask (1 extra run)"
        );
        let r = bisect(&applied, None, |_| Ok(true)).unwrap();
        let line = r.summary(Verdict::EquivalentAfterNormalization);
        assert!(line.starts_with("noise even without variations"), "{line}");
        assert!(!line.contains("not reproducible"), "{line}");
    }

    #[test]
    fn single_variation_needs_only_the_control_rerun() {
        let applied = set(&[Variation::Umask]);
        let r = bisect(&applied, Some(4), fake(&[Variation::Umask], false)).unwrap();
        assert_eq!(r.culprits, [["umask"]]);
        assert_eq!(r.runs, 1);
    }
}
