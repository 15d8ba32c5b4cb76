//! `repro report`: batch results merged and shown. Several result
//! directories (shards, machines, or runs of the same list over time) are
//! merged into the latest record per package, counted per verdict, and
//! searched for regressions (a package that reproduced in an earlier
//! record and does not in its latest), then rendered as a text summary, a
//! JSON document or one self-contained HTML page (no script, no network:
//! filters are radio buttons and CSS).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::rebuild::batch::{self, BatchError, Record, RESULTS};

/// The verdicts, in the order reports show them.
pub const VERDICTS: [&str; 4] = ["BIT_FOR_BIT", "EQUIVALENT", "DIFFERENT", "FAILED"];

/// The JSON report's schema id.
pub const SCHEMA: &str = "repro-report-v1";

/// True for the verdicts that count as reproduced.
pub fn reproduced(verdict: &str) -> bool {
    matches!(verdict, "BIT_FOR_BIT" | "EQUIVALENT")
}

/// A package's latest record and where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The record.
    #[serde(flatten)]
    pub record: Record,
    /// Index into [`Dashboard::dirs`] of the results it came from.
    pub results: usize,
}

/// The last record in which a package reproduced, when its latest does not.
#[derive(Clone, Debug, Serialize)]
pub struct Earlier {
    /// Its verdict (BIT_FOR_BIT or EQUIVALENT).
    pub verdict: String,
    /// When it finished.
    pub finished_at: String,
    /// Where it ran.
    pub machine: String,
    /// Index into [`Dashboard::dirs`].
    pub results: usize,
    /// Its package directory (relative to those results).
    pub dir: String,
}

/// Merged results.
#[derive(Debug, Default, Serialize)]
pub struct Dashboard {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The result directories, in the order given.
    pub dirs: Vec<PathBuf>,
    /// Records read (all of them, not only the latest).
    pub records: usize,
    /// Packages per verdict (latest records).
    pub counts: BTreeMap<String, usize>,
    /// FAILED packages per stage.
    pub failed_stages: BTreeMap<String, usize>,
    /// The latest record of each package, by spec.
    pub packages: Vec<Row>,
    /// Specs whose latest record does not reproduce though an earlier one
    /// did, with that earlier record.
    pub regressions: BTreeMap<String, Earlier>,
    /// Lines skipped while reading.
    pub warnings: Vec<String>,
}

impl Dashboard {
    /// Reads and merges the results of `dirs`. A record is later than
    /// another when it finished later; on a tie, the one read later (a
    /// later directory, or later in its file) wins.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, BatchError> {
        let mut d = Dashboard {
            schema: SCHEMA,
            dirs: dirs.to_vec(),
            ..Default::default()
        };
        let mut latest: HashMap<String, Row> = HashMap::new();
        let mut good: HashMap<String, Earlier> = HashMap::new();
        for (i, dir) in dirs.iter().enumerate() {
            let path = dir.join(RESULTS);
            if !path.is_file() {
                return Err(BatchError::Io {
                    path,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no results here (is it a `repro rebuild --list` output directory?)",
                    ),
                });
            }
            let mut warnings = Vec::new();
            batch::read_results(
                &path,
                |r| {
                    d.records += 1;
                    if reproduced(&r.verdict) {
                        let newer = good
                            .get(&r.spec)
                            .is_none_or(|g| g.finished_at <= r.finished_at);
                        if newer {
                            good.insert(
                                r.spec.clone(),
                                Earlier {
                                    verdict: r.verdict.clone(),
                                    finished_at: r.finished_at.clone(),
                                    machine: r.machine.clone(),
                                    results: i,
                                    dir: r.dir.clone(),
                                },
                            );
                        }
                    }
                    match latest.get_mut(&r.spec) {
                        Some(row) if row.record.finished_at > r.finished_at => {}
                        Some(row) => {
                            *row = Row {
                                record: r,
                                results: i,
                            }
                        }
                        None => {
                            latest.insert(
                                r.spec.clone(),
                                Row {
                                    record: r,
                                    results: i,
                                },
                            );
                        }
                    }
                },
                |w| warnings.push(w),
            )?;
            d.warnings.extend(warnings);
        }
        let mut rows: Vec<Row> = latest.into_values().collect();
        rows.sort_by(|a, b| a.record.spec.cmp(&b.record.spec));
        for row in &rows {
            let r = &row.record;
            *d.counts.entry(r.verdict.clone()).or_default() += 1;
            if r.verdict == "FAILED" {
                let stage = r.stage.clone().unwrap_or_else(|| "unknown".into());
                *d.failed_stages.entry(stage).or_default() += 1;
            }
            if !reproduced(&r.verdict) {
                if let Some(g) = good.remove(&r.spec) {
                    if g.finished_at <= r.finished_at {
                        d.regressions.insert(r.spec.clone(), g);
                    }
                }
            }
        }
        d.packages = rows;
        Ok(d)
    }

    /// Packages (latest records).
    pub fn total(&self) -> usize {
        self.packages.len()
    }

    /// The summary for terminals and CI logs.
    pub fn text(&self) -> String {
        let total = self.total();
        let mut s = format!(
            "{total} package(s) from {} result director{} ({} record(s))\n",
            self.dirs.len(),
            if self.dirs.len() == 1 { "y" } else { "ies" },
            self.records
        );
        for v in self.verdicts() {
            let n = self.counts.get(v).copied().unwrap_or(0);
            s += &format!("  {v:<12} {n:>7}  {:>5.1}%", percent(n, total));
            if v == "FAILED" && !self.failed_stages.is_empty() {
                let stages: Vec<String> = self
                    .failed_stages
                    .iter()
                    .map(|(st, n)| format!("{st} {n}"))
                    .collect();
                s += &format!("  ({})", stages.join(", "));
            }
            s.push('\n');
        }
        if self.regressions.is_empty() {
            s += "no regressions\n";
        } else {
            s += &format!("regressions ({}):\n", self.regressions.len());
            for row in self.regressed_rows() {
                let (r, g) = (&row.record, &self.regressions[&row.record.spec]);
                s += &format!(
                    "  {}: {} at {} on {} -> {} at {} on {}{}\n",
                    r.spec,
                    g.verdict,
                    g.finished_at,
                    g.machine,
                    r.verdict,
                    r.finished_at,
                    r.machine,
                    r.stage
                        .as_deref()
                        .map(|st| format!(" ({st} stage)"))
                        .unwrap_or_default()
                );
            }
        }
        s
    }

    fn regressed_rows(&self) -> impl Iterator<Item = &Row> {
        self.packages
            .iter()
            .filter(|r| self.regressions.contains_key(&r.record.spec))
    }

    /// The known verdicts, then any other seen (from a newer repro).
    fn verdicts(&self) -> Vec<&str> {
        let mut v: Vec<&str> = VERDICTS.to_vec();
        for k in self.counts.keys() {
            if !v.contains(&k.as_str()) {
                v.push(k);
            }
        }
        v
    }

    /// Writes the JSON report.
    pub fn write_json(&self, w: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *w, self)?;
        w.write_all(b"\n")
    }

    /// Writes the HTML dashboard. Links to each package's files are
    /// relative to `html_dir` (where the page will be), so the page works
    /// from disk, an artifact or a static web server alike.
    pub fn write_html(&self, w: &mut dyn Write, html_dir: &Path) -> std::io::Result<()> {
        let total = self.total();
        let prefixes: Vec<String> = self
            .dirs
            .iter()
            .map(|d| {
                let rel = relative(html_dir, d);
                let s = rel.to_string_lossy().into_owned();
                if s.is_empty() || s.ends_with('/') {
                    s
                } else {
                    s + "/"
                }
            })
            .collect();
        let verdicts = self.verdicts();
        write!(
            w,
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width\">\
<title>repro rebuilds: {total} packages</title><style>{CSS}"
        )?;
        // One filter rule per verdict: checked radio, other rows hidden.
        for v in &verdicts {
            write!(
                w,
                "#f-{v}:checked~#packages tbody tr:not(.{v}){{display:none}}"
            )?;
        }
        write!(
            w,
            "#f-regressions:checked~#packages tbody tr:not(.regressed){{display:none}}\
</style></head><body>\n<h1>repro rebuilds</h1>\n<p>{total} package(s), latest record of each, from {} record(s) in {}.</p>\n",
            self.records,
            self.dirs
                .iter()
                .map(|d| format!("<code>{}</code>", esc(&d.display().to_string())))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        // The chart: one stacked bar, then a bar per verdict.
        write!(w, "<svg id=chart role=img aria-label=\"packages per verdict\" width=640 height={} viewBox=\"0 0 640 {}\">", 40 + 24 * verdicts.len(), 40 + 24 * verdicts.len())?;
        let mut x = 0.0;
        for v in &verdicts {
            let n = self.counts.get(*v).copied().unwrap_or(0);
            let width = 640.0 * percent(n, total) / 100.0;
            write!(
                w,
                "<rect class={v} x={x:.1} y=0 width={width:.1} height=24><title>{v}: {n}</title></rect>"
            )?;
            x += width;
        }
        for (i, v) in verdicts.iter().enumerate() {
            let n = self.counts.get(*v).copied().unwrap_or(0);
            let y = 40 + 24 * i;
            let width = 380.0 * percent(n, total) / 100.0;
            write!(
                w,
                "<text x=0 y={}>{v}</text><rect class={v} x=120 y={y} width={width:.1} height=18></rect><text x={:.1} y={}>{n} ({:.1}%)</text>",
                y + 14,
                126.0 + width,
                y + 14,
                percent(n, total)
            )?;
        }
        write!(
            w,
            "</svg>\n<table id=counts><thead><tr><th>verdict<th>packages<th>%</thead><tbody>"
        )?;
        for v in &verdicts {
            let n = self.counts.get(*v).copied().unwrap_or(0);
            write!(
                w,
                "<tr class={v}><td>{v}<td>{n}<td>{:.1}",
                percent(n, total)
            )?;
        }
        writeln!(w, "</tbody></table>")?;
        if !self.failed_stages.is_empty() {
            let stages: Vec<String> = self
                .failed_stages
                .iter()
                .map(|(s, n)| format!("{} {n}", esc(s)))
                .collect();
            writeln!(w, "<p>FAILED by stage: {}.</p>", stages.join(", "))?;
        }
        writeln!(
            w,
            "<section id=regressions><h2>Regressions ({})</h2>",
            self.regressions.len()
        )?;
        if self.regressions.is_empty() {
            write!(
                w,
                "<p>None: no package that reproduced before fails to now.</p>"
            )?;
        } else {
            write!(w, "<p>Reproduced in an earlier run, not in the latest.</p><table><thead><tr><th>package<th>before<th>now</thead><tbody>")?;
            for row in self.regressed_rows() {
                let (r, g) = (&row.record, &self.regressions[&row.record.spec]);
                write!(
                    w,
                    "<tr><td><a href=\"#{}\">{}</a><td class={}>{} {} ({})<td class={}>{} {} ({})",
                    anchor(&r.spec),
                    esc(&r.spec),
                    esc(&g.verdict),
                    esc(&g.verdict),
                    esc(&g.finished_at),
                    esc(&g.machine),
                    esc(&r.verdict),
                    esc(&r.verdict),
                    esc(&r.finished_at),
                    esc(&r.machine),
                )?;
            }
            write!(w, "</tbody></table>")?;
        }
        write!(w, "</section>\n<h2>Packages</h2>\n<input type=radio name=f id=f-all checked><label for=f-all>all ({total})</label>\n")?;
        for v in &verdicts {
            writeln!(
                w,
                "<input type=radio name=f id=f-{v}><label for=f-{v}>{v} ({})</label>",
                self.counts.get(*v).copied().unwrap_or(0)
            )?;
        }
        writeln!(
            w,
            "<input type=radio name=f id=f-regressions><label for=f-regressions>regressions ({})</label>",
            self.regressions.len()
        )?;
        writeln!(w, "<table id=packages><thead><tr><th>package<th>verdict<th>backend<th>stabilizers<th>time<th>files<th>machine<th>finished</thead><tbody>")?;
        for row in &self.packages {
            let r = &row.record;
            let p = &prefixes[row.results];
            let regressed = if self.regressions.contains_key(&r.spec) {
                " regressed"
            } else {
                ""
            };
            write!(
                w,
                "<tr id=\"{}\" class=\"{}{regressed}\"><td>{}<td>{}",
                anchor(&r.spec),
                esc(&r.verdict),
                esc(&r.spec),
                esc(&r.verdict)
            )?;
            if let Some(st) = &r.stage {
                write!(
                    w,
                    " <small title=\"{}\">at {}</small>",
                    esc(r.failure.as_deref().unwrap_or("")),
                    esc(st)
                )?;
            }
            write!(
                w,
                "<td>{}<td>{}<td>{:.1}s<td>",
                esc(r.backend.as_deref().unwrap_or("")),
                esc(&r.stabilizers.join(", ")),
                r.duration_ms as f64 / 1000.0
            )?;
            for (label, target) in [
                ("diff", &r.diff),
                ("attestation", &r.attestation),
                ("statement", &r.statement),
                ("report", &r.rebuild_json),
                ("log", &Some(r.log.clone())),
            ] {
                if let Some(t) = target {
                    if label == "statement" && r.attestation.is_some() {
                        continue;
                    }
                    write!(w, "<a href=\"{}\">{label}</a> ", esc(&format!("{p}{t}")))?;
                }
            }
            writeln!(w, "<td>{}<td>{}", esc(&r.machine), esc(&r.finished_at))?;
        }
        write!(w, "</tbody></table>\n</body></html>\n")
    }
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}\
#packages td:nth-child(5){text-align:right}code{font-size:90%}\
svg text{font-size:12px}rect.BIT_FOR_BIT{fill:#2e7d32}rect.EQUIVALENT{fill:#81c784}\
rect.DIFFERENT{fill:#ef6c00}rect.FAILED{fill:#c62828}rect{fill:#888}\
td.BIT_FOR_BIT,tr.BIT_FOR_BIT td:nth-child(2){color:#2e7d32}td.DIFFERENT,tr.DIFFERENT td:nth-child(2){color:#ef6c00}\
td.FAILED,tr.FAILED td:nth-child(2){color:#c62828}tr.regressed td:first-child{font-weight:bold}\
input[type=radio]{margin-left:1em}label{cursor:pointer}#packages{margin-top:1em}";

fn percent(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * n as f64 / total as f64
    }
}

/// HTML-escapes text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A fragment id for a spec (letters, digits, `-_.:` kept).
fn anchor(spec: &str) -> String {
    spec.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `to` relative to `from` (both made absolute first; no symlinks
/// resolved, as a browser would not either).
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    // Both are absolute: the root is implied, only names are compared.
    let clean = |p: PathBuf| -> Vec<std::ffi::OsString> {
        let mut out = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(n) => out.push(n.to_os_string()),
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        out
    };
    let (f, t) = (clean(abs(from)), clean(abs(to)));
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    rel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_walk_up_and_down() {
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/c/d")),
            Path::new("../c/d")
        );
        assert_eq!(relative(Path::new("/a"), Path::new("/a")), Path::new(""));
        assert_eq!(
            relative(Path::new("/a/./b/../b"), Path::new("/a/b/c")),
            Path::new("c")
        );
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
