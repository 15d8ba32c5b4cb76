//! Likely-cause hints: a pluggable pass over a finished difference tree.
//!
//! [`annotate`] walks the tree and asks each detector whether a difference
//! looks like a known source of unreproducibility: a timestamp, an embedded
//! build path, a hostname, a user name or uid, a locale or timezone, an
//! entry-order-only change, or a umask pattern in permissions. The caller
//! passes what it knows about the two builds in a [`HintContext`] so that
//! detectors can be exact ("contains the build dir /build/a") instead of
//! guessing. For text, a detector fires only when what it matches differs
//! between the removed and the added lines, so an unchanged date next to a
//! real change is not blamed. Content hints come from text only (text
//! files and decoded views such as ELF string sections or pretty-printed
//! JSON): a hexdump of binary content gives none, since its offsets and hex
//! words match dates and uids by accident.

use std::collections::HashMap;

pub use crate::difference::{Cause, Hint};
use crate::difference::{Difference, MetadataDifference};
use crate::model::{MetaField, MetaValue};

/// The `SOURCE_DATE_EPOCH` of this process's environment, the default of
/// both command lines' `--source-date-epoch` (a diff run in a build
/// environment names timestamps equal to it). Lenient: a value
/// [`parse_source_date_epoch`] refuses is no hint, so it is ignored here;
/// [`source_date_epoch_from_env`] reports it.
pub fn env_source_date_epoch() -> Option<i64> {
    source_date_epoch_from_env().ok().flatten()
}

/// The largest `SOURCE_DATE_EPOCH` accepted, 9999-12-31T23:59:59Z: the
/// last second an RFC 3339 timestamp (a four-digit year) can write.
pub const MAX_SOURCE_DATE_EPOCH: i64 = 253_402_300_799;

/// Where the environment's value is read from, as errors name it.
pub const SOURCE_DATE_EPOCH_ENV: &str = "the environment variable SOURCE_DATE_EPOCH";

/// A `SOURCE_DATE_EPOCH` that is no whole number of seconds from 0 to
/// [`MAX_SOURCE_DATE_EPOCH`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "SOURCE_DATE_EPOCH {value:?} (from {from}) is not accepted: it must be a whole number of \
     seconds from 0 to {MAX_SOURCE_DATE_EPOCH} (1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"
)]
pub struct BadSourceDateEpoch {
    /// The value as given.
    pub value: String,
    /// Where it came from (a flag, [`SOURCE_DATE_EPOCH_ENV`]).
    pub from: String,
}

/// Parses a `SOURCE_DATE_EPOCH` that came from `from` (named in the
/// error). Surrounding white space is ignored; anything else that is not
/// a decimal number of seconds in range is refused rather than dropped,
/// so a typo never silently gives a document without its timestamp.
pub fn parse_source_date_epoch(value: &str, from: &str) -> Result<i64, BadSourceDateEpoch> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| (0..=MAX_SOURCE_DATE_EPOCH).contains(v))
        .ok_or_else(|| BadSourceDateEpoch {
            value: value.to_owned(),
            from: from.to_owned(),
        })
}

/// The environment's `SOURCE_DATE_EPOCH`: None when it is unset or empty
/// (as `SOURCE_DATE_EPOCH= cmd` leaves it), an error when it is set to
/// something [`parse_source_date_epoch`] refuses.
pub fn source_date_epoch_from_env() -> Result<Option<i64>, BadSourceDateEpoch> {
    match std::env::var_os("SOURCE_DATE_EPOCH") {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => parse_source_date_epoch(&v.to_string_lossy(), SOURCE_DATE_EPOCH_ENV).map(Some),
    }
}

/// What the caller knows about the two builds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HintContext {
    /// Build directories of either side (e.g. `/build/a`, `/build/b`).
    pub build_dirs: Vec<String>,
    /// Host names the builds ran on.
    pub hostnames: Vec<String>,
    /// User names the builds ran as.
    pub user_names: Vec<String>,
    /// Uids (and gids) the builds ran as.
    pub uids: Vec<u64>,
    /// `SOURCE_DATE_EPOCH` of the builds.
    pub source_date_epoch: Option<i64>,
    /// Earliest build start, seconds since the epoch.
    pub build_start: Option<i64>,
    /// Latest build end, seconds since the epoch.
    pub build_end: Option<i64>,
}

/// Adds hints to every node and metadata difference of `diff`.
pub fn annotate(diff: &mut Difference, cx: &HintContext) {
    for m in &mut diff.metadata {
        m.hints = metadata_hints(m, cx);
    }
    for m in diff.listed.iter_mut().flat_map(|l| &mut l.metadata) {
        m.hints = metadata_hints(m, cx);
    }
    // A hexdump's offsets and hex words are not text: `1000` there is two
    // bytes, not a uid. Only text diffs are read, decoded views of binary
    // structure (symbols, DWARF, machine code) for names only.
    // A listing's lines are its members' metadata, hinted field by field
    // above: its dates would otherwise all read as a timestamp cause.
    if let Some(u) = diff
        .unified_diff
        .as_ref()
        .filter(|_| !diff.hexdump && !diff.view)
    {
        let (removed, added) = changed_lines(u);
        diff.hints = text_hints(&removed, &added, cx);
        if diff.decoded {
            // A decoded view's addresses and sizes are not uids or times;
            // the names in it (paths, hosts, users) still leak.
            diff.hints.retain(|h| {
                matches!(
                    h.cause,
                    Cause::BuildPath | Cause::Hostname | Cause::UserName
                )
            });
        }
        if diff.hints.is_empty() && !diff.decoded {
            diff.hints
                .extend(reorder_hint(&removed, &added, &context_lines(u)));
        }
    }
    for child in &mut diff.details {
        annotate(child, cx);
    }
}

/// The `-` and `+` lines of a unified diff, without their markers.
fn changed_lines(u: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for line in u.lines() {
        if let Some(l) = line.strip_prefix('-') {
            removed.push(l);
        } else if let Some(l) = line.strip_prefix('+') {
            added.push(l);
        }
    }
    (removed, added)
}

/// The context lines (unchanged, shown around changes) of a unified diff.
fn context_lines(u: &str) -> Vec<&str> {
    u.lines().filter_map(|l| l.strip_prefix(' ')).collect()
}

/// The same lines in another order: sorting under two collations
/// (LC_COLLATE) when a moved line has a case variant among the lines
/// around it, else an unsorted source (readdir, hash order).
fn reorder_hint(removed: &[&str], added: &[&str], context: &[&str]) -> Option<Hint> {
    if removed.is_empty() {
        return None;
    }
    let (mut r, mut a) = (removed.to_vec(), added.to_vec());
    r.sort_unstable();
    a.sort_unstable();
    if r != a {
        return None;
    }
    // Each line lower-cased once; a moved line has a case variant if
    // another line folds to the same text.
    let mut by_folded: HashMap<String, Vec<&str>> = HashMap::new();
    for &l in r.iter().chain(context) {
        let same = by_folded.entry(l.to_lowercase()).or_default();
        if !same.contains(&l) {
            same.push(l);
        }
    }
    let case_variant = by_folded
        .values()
        .any(|same| same.len() > 1 && same.iter().any(|l| r.binary_search(l).is_ok()));
    Some(if case_variant {
        Hint {
            cause: Cause::Locale,
            detail: "the same lines sorted differently (collation: LC_ALL/LC_COLLATE)".into(),
        }
    } else {
        Hint {
            cause: Cause::EntryOrder,
            detail: "the same lines in another order".into(),
        }
    })
}

fn near_build_time(t: i64, cx: &HintContext) -> Option<String> {
    const SLACK: i64 = 24 * 3600;
    if cx.source_date_epoch == Some(t) {
        return Some("equals SOURCE_DATE_EPOCH".into());
    }
    if let (Some(s), Some(e)) = (cx.build_start, cx.build_end) {
        if t >= s - SLACK && t <= e + SLACK {
            return Some("within a day of the build time".into());
        }
    }
    None
}

fn metadata_hints(m: &MetadataDifference, cx: &HintContext) -> Vec<Hint> {
    let hint = |cause, detail: String| vec![Hint { cause, detail }];
    match (&m.field, &m.source1, &m.source2) {
        // The order compared is that of the members both sides have (one
        // side may have more): "same entries" would claim what the order
        // list does not show.
        (MetaField::EntryOrder, _, _) => hint(
            Cause::EntryOrder,
            "the members both sides have, in another order".into(),
        ),
        // Addresses and flags words are not dates, whatever their digits.
        (_, MetaValue::Hex(_), _) | (_, _, MetaValue::Hex(_)) => Vec::new(),
        (_, MetaValue::Time(a), MetaValue::Time(b)) => {
            let detail = near_build_time(*a, cx)
                .or_else(|| near_build_time(*b, cx))
                .unwrap_or_default();
            hint(Cause::Timestamp, detail)
        }
        (_, MetaValue::Mode(a), MetaValue::Mode(b)) => {
            let x = a ^ b;
            if x == 0o020 || x == 0o022 || x == 0o002 {
                hint(
                    Cause::Umask,
                    format!("modes differ by 0o{x:03o}, as umask 022 vs 002 do"),
                )
            } else {
                Vec::new()
            }
        }
        (MetaField::Uid | MetaField::Gid, MetaValue::Number(a), MetaValue::Number(b)) => {
            let known = cx.uids.contains(a) || cx.uids.contains(b);
            hint(
                Cause::Uid,
                if known {
                    "a build's uid".into()
                } else {
                    String::new()
                },
            )
        }
        (MetaField::User | MetaField::Group, _, _) => {
            let known = [&m.source1, &m.source2]
                .iter()
                .any(|v| matches!(v, MetaValue::Text(t) if cx.user_names.contains(t)));
            hint(
                Cause::UserName,
                if known {
                    "a build's user".into()
                } else {
                    String::new()
                },
            )
        }
        (MetaField::ExtraField, MetaValue::Bytes(a), MetaValue::Bytes(b))
            if has_zip_timestamp(a) || has_zip_timestamp(b) =>
        {
            hint(
                Cause::Timestamp,
                "zip extended-timestamp extra field (0x5455)".into(),
            )
        }
        (_, a, b) => {
            let (a, b) = (value_text(a), value_text(b));
            text_hints(&[a.as_str()], &[b.as_str()], cx)
        }
    }
}

fn value_text(v: &MetaValue) -> String {
    match v {
        MetaValue::Text(s) => s.clone(),
        MetaValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

/// Whether zip extra-field bytes hold an extended-timestamp (0x5455) block.
fn has_zip_timestamp(extra: &[u8]) -> bool {
    let mut rest = extra;
    while rest.len() >= 4 {
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        if id == 0x5455 {
            return true;
        }
        rest = rest.get(4 + len..).unwrap_or(&[]);
    }
    false
}

/// Runs the text detectors over the removed and added lines.
fn text_hints(removed: &[&str], added: &[&str], cx: &HintContext) -> Vec<Hint> {
    let mut out = Vec::new();
    // A time, zone or locale word on one side only is a line added or
    // removed (a new changelog entry), not one value rendered two ways:
    // those causes need the word on both sides. A build path, host or
    // user name on one side only is still that leak.
    let mut check = |cause,
                     detail: &dyn Fn(&[String]) -> String,
                     find: &dyn Fn(&str) -> Vec<String>| {
        let a: Vec<String> = removed.iter().flat_map(|l| find(l)).collect();
        let b: Vec<String> = added.iter().flat_map(|l| find(l)).collect();
        let rendered_twice = !matches!(cause, Cause::Timestamp | Cause::Timezone | Cause::Locale)
            || (!a.is_empty() && !b.is_empty());
        if a != b && rendered_twice {
            let mut all = a;
            all.extend(b);
            all.dedup();
            out.push(Hint {
                cause,
                detail: detail(&all),
            });
        }
    };
    let first = |all: &[String]| all.first().cloned().unwrap_or_default();
    let contained = |needles: &[String]| {
        let needles: Vec<String> = needles.iter().filter(|n| n.len() >= 2).cloned().collect();
        move |l: &str| -> Vec<String> {
            needles
                .iter()
                .filter(|n| l.contains(n.as_str()))
                .cloned()
                .collect()
        }
    };
    let dirs = contained(&cx.build_dirs);
    check(Cause::BuildPath, &first, &dirs);
    let hosts = contained(&cx.hostnames);
    check(Cause::Hostname, &first, &hosts);
    let users = |l: &str| -> Vec<String> {
        cx.user_names
            .iter()
            .filter(|u| u.len() >= 2 && words(l).any(|w| w == u.as_str()))
            .cloned()
            .collect()
    };
    check(Cause::UserName, &first, &users);
    let uids = |l: &str| -> Vec<String> {
        words(l)
            .filter(|w| w.parse::<u64>().is_ok_and(|n| cx.uids.contains(&n)))
            .map(str::to_owned)
            .collect()
    };
    check(Cause::Uid, &first, &uids);
    let times = |l: &str| timestamps(l, cx);
    // An epoch value the build knows (SOURCE_DATE_EPOCH, the build window)
    // says which clock leaked.
    let time_detail = |all: &[String]| {
        let why = all
            .iter()
            .find_map(|t| t.parse::<i64>().ok().and_then(|n| near_build_time(n, cx)));
        match why {
            Some(why) => format!("{}: {why}", first(all)),
            None => first(all),
        }
    };
    check(Cause::Timestamp, &time_detail, &times);
    check(Cause::Locale, &first, &locales);
    check(Cause::Timezone, &first, &timezones);
    // The same wall-clock time shifted by whole quarter hours: one instant
    // printed in two time zones (TZ), named before the bare timestamp.
    if let (Some(a), Some(b)) = (
        removed.iter().find_map(|l| datetime_minutes(l)),
        added.iter().find_map(|l| datetime_minutes(l)),
    ) {
        let shift = b - a;
        if shift != 0 && shift % 15 == 0 && shift.abs() <= 14 * 60 {
            let sign = if shift > 0 { '+' } else { '-' };
            out.retain(|h| h.cause != Cause::Timezone);
            out.insert(
                0,
                Hint {
                    cause: Cause::Timezone,
                    detail: format!(
                        "the same time {sign}{}:{:02} apart: one instant in two time zones",
                        shift.abs() / 60,
                        shift.abs() % 60
                    ),
                },
            );
        }
    }
    out
}

/// Minutes since the epoch of the first `YYYY-MM-DD HH:MM` (or with `T`)
/// in `l`.
fn datetime_minutes(l: &str) -> Option<i64> {
    let b = l.as_bytes();
    (0..b.len()).find_map(|i| {
        let boundary = i == 0 || !b[i - 1].is_ascii_digit();
        let ok = boundary
            && digits_at(b, i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits_at(b, i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits_at(b, i + 8, 2)
            && matches!(b.get(i + 10), Some(b' ' | b'T'))
            && digits_at(b, i + 11, 2)
            && b.get(i + 13) == Some(&b':')
            && digits_at(b, i + 14, 2);
        if !ok {
            return None;
        }
        let num = |from: usize, n: usize| l.get(from..from + n)?.parse::<u32>().ok();
        let (y, mo, d, h, mi) = (
            num(i, 4)?,
            num(i + 5, 2)?,
            num(i + 8, 2)?,
            num(i + 11, 2)?,
            num(i + 14, 2)?,
        );
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
            return None;
        }
        Some(crate::timefmt::epoch_of(i64::from(y), mo, d, h, mi, 0) / 60)
    })
}

fn words(l: &str) -> impl Iterator<Item = &str> {
    l.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .filter(|w| !w.is_empty())
}

fn digits_at(b: &[u8], i: usize, n: usize) -> bool {
    b.get(i..i + n)
        .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
}

/// Date/time-looking substrings: `YYYY-MM-DD`, `HH:MM:SS`, month names with
/// a day, and epoch values (10 digits between 2000 and 2100, or near the
/// build time).
fn timestamps(l: &str, cx: &HintContext) -> Vec<String> {
    let b = l.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_digit();
        if !boundary {
            continue;
        }
        if digits_at(b, i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits_at(b, i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits_at(b, i + 8, 2)
        {
            out.push(l[i..i + 10].to_owned());
        } else if digits_at(b, i, 2)
            && b.get(i + 2) == Some(&b':')
            && digits_at(b, i + 3, 2)
            && b.get(i + 5) == Some(&b':')
            && digits_at(b, i + 6, 2)
        {
            // With its fraction: two runs in the same second differ there.
            let mut end = i + 8;
            if b.get(end) == Some(&b'.') && digits_at(b, end + 1, 1) {
                end += 1;
                while digits_at(b, end, 1) {
                    end += 1;
                }
            }
            out.push(l[i..end].to_owned());
        } else if digits_at(b, i, 10) && !digits_at(b, i + 10, 1) {
            let s = &l[i..i + 10];
            if let Ok(n) = s.parse::<i64>() {
                if (946_684_800..4_102_444_800).contains(&n) || near_build_time(n, cx).is_some() {
                    out.push(s.to_owned());
                }
            }
        }
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ws: Vec<&str> = l.split_whitespace().collect();
    for (k, w) in ws.iter().enumerate() {
        if MONTHS.iter().any(|m| w.starts_with(m)) {
            let next = ws.get(k + 1).map(|n| n.trim_end_matches(','));
            let prev = k.checked_sub(1).and_then(|p| ws.get(p));
            let is_day =
                |s: &str| s.len() <= 2 && s.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
            if next.is_some_and(is_day) || prev.is_some_and(|p| is_day(p)) {
                let (p, n) = (prev.copied().unwrap_or(""), next.unwrap_or(""));
                out.push(format!("{p} {w} {n}").trim().to_owned());
            }
        }
    }
    out
}

/// Locale-looking words: `en_US.UTF-8`, `C.UTF-8`, `LANG=…`, `LC_…=…`.
fn locales(l: &str) -> Vec<String> {
    words(l)
        .filter(|w| {
            let b = w.as_bytes();
            let ll_cc = b.len() >= 5
                && b[..2].iter().all(u8::is_ascii_lowercase)
                && b[2] == b'_'
                && b[3..5].iter().all(u8::is_ascii_uppercase);
            ll_cc
                || w.eq_ignore_ascii_case("C.UTF-8")
                || w.starts_with("LANG")
                || locale_category(w)
        })
        .map(str::to_owned)
        .collect()
}

/// Whether `w` names a POSIX or glibc locale category (`LC_ALL`,
/// `LC_COLLATE=C`), not any `LC_` word: Mach-O load commands
/// (`LC_SEGMENT_64`) are no locale.
fn locale_category(w: &str) -> bool {
    const CATEGORIES: [&str; 13] = [
        "ALL",
        "COLLATE",
        "CTYPE",
        "MESSAGES",
        "MONETARY",
        "NUMERIC",
        "TIME",
        "ADDRESS",
        "IDENTIFICATION",
        "MEASUREMENT",
        "NAME",
        "PAPER",
        "TELEPHONE",
    ];
    w.strip_prefix("LC_").is_some_and(|rest| {
        let name = rest.split('=').next().unwrap_or(rest);
        CATEGORIES.contains(&name)
    })
}

/// Timezone-looking words: zone names, abbreviations, numeric offsets.
fn timezones(l: &str) -> Vec<String> {
    const ABBREVIATIONS: [&str; 14] = [
        "UTC", "GMT", "CET", "CEST", "EET", "EEST", "WET", "BST", "EST", "EDT", "CST", "PST",
        "PDT", "JST",
    ];
    const AREAS: [&str; 7] = [
        "Europe/",
        "America/",
        "Asia/",
        "Africa/",
        "Australia/",
        "Pacific/",
        "Etc/",
    ];
    let mut out: Vec<String> = l
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '(' | ')' | '=' | ';'))
        .filter(|w| {
            ABBREVIATIONS.contains(w)
                || AREAS.iter().any(|a| w.starts_with(a))
                || (w.len() == 5
                    && (w.starts_with('+') || w.starts_with('-'))
                    && w[1..].bytes().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_owned)
        .collect();
    if l.contains("TZ=") {
        out.push("TZ=".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(field: MetaField, a: MetaValue, b: MetaValue) -> MetadataDifference {
        MetadataDifference {
            field,
            source1: a,
            source2: b,
            hints: Vec::new(),
        }
    }

    #[test]
    fn umask_and_times_and_owners() {
        let cx = HintContext {
            source_date_epoch: Some(1_700_000_000),
            uids: vec![1000],
            ..HintContext::default()
        };
        let h = metadata_hints(
            &meta(
                MetaField::Mode,
                MetaValue::Mode(0o644),
                MetaValue::Mode(0o664),
            ),
            &cx,
        );
        assert_eq!(h[0].cause, Cause::Umask);
        assert!(metadata_hints(
            &meta(
                MetaField::Mode,
                MetaValue::Mode(0o644),
                MetaValue::Mode(0o755)
            ),
            &cx
        )
        .is_empty());
        let h = metadata_hints(
            &meta(
                MetaField::Mtime,
                MetaValue::Time(1_700_000_000),
                MetaValue::Time(1_700_000_100),
            ),
            &cx,
        );
        assert_eq!(
            h[0].to_string(),
            "likely cause: timestamp (equals SOURCE_DATE_EPOCH)"
        );
        let h = metadata_hints(
            &meta(
                MetaField::Uid,
                MetaValue::Number(0),
                MetaValue::Number(1000),
            ),
            &cx,
        );
        assert_eq!(h[0].cause, Cause::Uid);
    }

    #[test]
    fn decoded_views_give_name_hints_only() {
        let cx = HintContext {
            uids: vec![0],
            build_dirs: vec!["/build/a".into(), "/build/b".into()],
            ..HintContext::default()
        };
        let mut d = Difference::new(".symtab", ".symtab");
        // A size 0 and a 10-digit address are no uid and no epoch time.
        d.unified_diff = Some(
            "@@ -1 +1 @@\n-     1: 0000001700000000     0 FUNC    GLOBAL DEFAULT   14 f\n\
             +     1: 0000001700000000    16 FUNC    GLOBAL DEFAULT   14 f\n"
                .into(),
        );
        d.decoded = true;
        annotate(&mut d, &cx);
        assert!(d.hints.is_empty(), "{:?}", d.hints);
        d.decoded = false;
        annotate(&mut d, &cx);
        assert_eq!(d.hints[0].cause, Cause::Uid);
        d.unified_diff = Some(
            "@@ -1 +1 @@\n-     1: 0 0 FILE LOCAL DEFAULT ABS /build/a/x.c\n\
             +     1: 0 0 FILE LOCAL DEFAULT ABS /build/b/x.c\n"
                .into(),
        );
        d.decoded = true;
        annotate(&mut d, &cx);
        assert_eq!(d.hints.len(), 1, "{:?}", d.hints);
        assert_eq!(d.hints[0].cause, Cause::BuildPath);
    }

    #[test]
    fn hexdumps_give_no_hints_text_does() {
        let cx = HintContext {
            uids: vec![1000],
            ..HintContext::default()
        };
        let mut d = Difference::new("x", "x");
        d.unified_diff =
            Some("@@ -0x0 +0x0 @@\n-00000000: 1000 0000\n+00000000: 2000 0000\n".into());
        d.hexdump = true;
        annotate(&mut d, &cx);
        assert!(d.hints.is_empty(), "{:?}", d.hints);
        // The same lines as text (say a decoded `ls -n`) do name the uid.
        d.hexdump = false;
        annotate(&mut d, &cx);
        assert_eq!(d.hints[0].cause, Cause::Uid);
    }

    #[test]
    fn a_line_added_with_a_date_is_no_timestamp_leak() {
        let cx = HintContext {
            build_dirs: vec!["/build/a".into(), "/build/b".into()],
            ..HintContext::default()
        };
        // A new Debian changelog entry: only added lines.
        let entry = [
            "libzstd (1.5.4+dfsg2-5+deb12u1) bookworm; urgency=medium",
            " -- Maintainer <m@example.org>  Sat, 02 Mar 2024 13:12:24 +0100",
        ];
        assert_eq!(text_hints(&[], &entry, &cx), []);
        assert_eq!(text_hints(&entry, &[], &cx), []);
        // Rendered on both sides, it is one.
        let causes: Vec<Cause> = text_hints(
            &[" -- M  Sat, 02 Mar 2024 13:12:24 +0100"],
            &[" -- M  Sat, 02 Mar 2024 14:12:24 +0200"],
            &cx,
        )
        .into_iter()
        .map(|h| h.cause)
        .collect();
        assert!(causes.contains(&Cause::Timestamp), "{causes:?}");
        // A build path on one side only is still that leak.
        let h = text_hints(&[], &["cc -I/build/a/include"], &cx);
        assert_eq!(h.first().map(|h| h.cause), Some(Cause::BuildPath));
    }

    #[test]
    fn text_detectors_fire_only_on_what_changed() {
        let cx = HintContext {
            build_dirs: vec!["/build/a".into(), "/build/b".into()],
            hostnames: vec!["builder1".into(), "builder2".into()],
            ..HintContext::default()
        };
        let causes = |a: &str, b: &str| -> Vec<Cause> {
            text_hints(&[a], &[b], &cx)
                .into_iter()
                .map(|h| h.cause)
                .collect()
        };
        assert_eq!(
            causes("src=/build/a/x.c", "src=/build/b/x.c"),
            [Cause::BuildPath]
        );
        assert_eq!(
            causes("built on builder1", "built on builder2"),
            [Cause::Hostname]
        );
        assert_eq!(
            causes("2024-01-02 10:00:00 v1", "2024-01-03 10:00:00 v1"),
            [Cause::Timestamp]
        );
        assert_eq!(
            causes("Built Jan 2 2024", "Built Jan 3 2024"),
            [Cause::Timestamp]
        );
        assert_eq!(causes("t=1700000000", "t=1700000123"), [Cause::Timestamp]);
        // Two runs in the same second: only the fraction differs.
        assert_eq!(
            causes(
                "built_at=2026-12-02T16:03:26.049862273Z",
                "built_at=2026-12-02T16:03:26.064879473Z"
            ),
            [Cause::Timestamp]
        );
        assert_eq!(
            causes("LANG=en_US.UTF-8", "LANG=de_DE.UTF-8"),
            [Cause::Locale]
        );
        assert_eq!(causes("tz Europe/Berlin", "tz UTC"), [Cause::Timezone]);
        assert_eq!(causes("LC_ALL=C", "LC_ALL=de_DE"), [Cause::Locale]);
        // Decoded binaries name their own LC_ things.
        assert!(causes("1: LC_SEGMENT_64 x", "1: LC_UUID y").is_empty());
        // One instant in two zones (leaks-timezone): timezone first.
        let h = text_hints(
            &["released 2023-11-14 22:13"],
            &["released 2023-11-15 07:13"],
            &cx,
        );
        assert_eq!(h[0].cause, Cause::Timezone, "{h:?}");
        assert!(h[0].detail.contains("+9:00"), "{h:?}");
        // A day apart is a timestamp, not a zone.
        assert_eq!(
            causes("2024-01-02 10:00 v1", "2024-01-03 10:00 v1"),
            [Cause::Timestamp]
        );
        // Reordered lines: collation when a moved line has a case
        // variant around it (leaks-locale), plain order otherwise.
        let reorder = |u: &str| -> Option<Cause> {
            let (r, a) = changed_lines(u);
            reorder_hint(&r, &a, &context_lines(u)).map(|h| h.cause)
        };
        let locale = "@@ -1,4 +1,4 @@\n+a.txt\n A.txt\n+b.txt\n B.txt\n-a.txt\n-b.txt\n";
        assert_eq!(reorder(locale), Some(Cause::Locale));
        let order = "@@ -1,3 +1,3 @@\n+c\n a\n b\n-c\n";
        assert_eq!(reorder(order), Some(Cause::EntryOrder));
        assert_eq!(reorder("@@ -1 +1 @@\n-x\n+y\n"), None);
        // The same date on both sides is not the cause of the change.
        assert!(causes("2024-01-02 x=1", "2024-01-02 x=2").is_empty());
    }
}
