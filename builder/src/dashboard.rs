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

/// The fields of a [`Row`], in the order its buffer holds them.
#[derive(Clone, Copy)]
enum F {
    Spec,
    Verdict,
    Stage,
    Failure,
    Backend,
    Generator,
    Stabilizers,
    UpstreamSha256,
    RebuiltSha256,
    Dir,
    RebuildJson,
    Diff,
    Statement,
    Attestation,
    Log,
    StartedAt,
    FinishedAt,
    Machine,
    ReproVersion,
}
const FIELDS: usize = 19;

/// A package's latest record and where it came from, compact: every text
/// field in one buffer (one allocation per package, so 100,000 packages
/// fit in well under 200 MB); per-stage timings stay in results.jsonl.
#[derive(Clone, Debug)]
pub struct Row {
    buf: Box<str>,
    ends: [u32; FIELDS],
    /// Wall-clock milliseconds of the package.
    pub duration_ms: u64,
    /// Index into [`Dashboard::dirs`] of the results it came from.
    pub results: usize,
}

impl Row {
    fn new(r: &Record, results: usize) -> Self {
        let stabilizers = r.stabilizers.join(", ");
        fn o(x: &Option<String>) -> &str {
            x.as_deref().unwrap_or("")
        }
        let fields: [&str; FIELDS] = [
            &r.spec,
            &r.verdict,
            o(&r.stage),
            o(&r.failure),
            o(&r.backend),
            o(&r.generator),
            &stabilizers,
            o(&r.upstream_sha256),
            o(&r.rebuilt_sha256),
            &r.dir,
            o(&r.rebuild_json),
            o(&r.diff),
            o(&r.statement),
            o(&r.attestation),
            &r.log,
            &r.started_at,
            &r.finished_at,
            &r.machine,
            &r.repro_version,
        ];
        let mut buf = String::with_capacity(fields.iter().map(|f| f.len()).sum());
        let mut ends = [0u32; FIELDS];
        for (i, f) in fields.iter().enumerate() {
            buf.push_str(f);
            ends[i] = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        }
        Row {
            buf: buf.into_boxed_str(),
            ends,
            duration_ms: r.duration_ms,
            results,
        }
    }

    fn get(&self, f: F) -> &str {
        let i = f as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.buf.get(start..self.ends[i] as usize).unwrap_or("")
    }

    fn opt(&self, f: F) -> Option<&str> {
        Some(self.get(f)).filter(|s| !s.is_empty())
    }

    /// The canonical spec.
    pub fn spec(&self) -> &str {
        self.get(F::Spec)
    }
    /// The verdict.
    pub fn verdict(&self) -> &str {
        self.get(F::Verdict)
    }
    /// Where a FAILED rebuild stopped.
    pub fn stage(&self) -> Option<&str> {
        self.opt(F::Stage)
    }
    /// What went wrong.
    pub fn failure(&self) -> Option<&str> {
        self.opt(F::Failure)
    }
    /// The build backend.
    pub fn backend(&self) -> Option<&str> {
        self.opt(F::Backend)
    }
    /// Stabilizers, comma-separated.
    pub fn stabilizers(&self) -> &str {
        self.get(F::Stabilizers)
    }
    /// When it finished.
    pub fn finished_at(&self) -> &str {
        self.get(F::FinishedAt)
    }
    /// Where it ran.
    pub fn machine(&self) -> &str {
        self.get(F::Machine)
    }
}

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(None)?;
        for (key, f) in [
            ("spec", F::Spec),
            ("verdict", F::Verdict),
            ("stage", F::Stage),
            ("failure", F::Failure),
            ("backend", F::Backend),
            ("generator", F::Generator),
            ("upstream_sha256", F::UpstreamSha256),
            ("rebuilt_sha256", F::RebuiltSha256),
            ("dir", F::Dir),
            ("rebuild_json", F::RebuildJson),
            ("diff", F::Diff),
            ("statement", F::Statement),
            ("attestation", F::Attestation),
            ("log", F::Log),
            ("started_at", F::StartedAt),
            ("finished_at", F::FinishedAt),
            ("machine", F::Machine),
            ("repro_version", F::ReproVersion),
        ] {
            if let Some(v) = self.opt(f) {
                m.serialize_entry(key, v)?;
            }
        }
        let stab: Vec<&str> = self
            .opt(F::Stabilizers)
            .map_or(Vec::new(), |s| s.split(", ").collect());
        m.serialize_entry("stabilizers", &stab)?;
        m.serialize_entry("duration_ms", &self.duration_ms)?;
        m.serialize_entry("results", &self.results)?;
        m.end()
    }
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
        // Spec -> index into `rows` and `good`: each spec is kept once.
        let mut index: HashMap<Box<str>, usize> = HashMap::new();
        let mut rows: Vec<Row> = Vec::new();
        let mut good: Vec<Option<Earlier>> = Vec::new();
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
                    let k = match index.get(r.spec.as_str()) {
                        Some(k) => *k,
                        None => {
                            index.insert(r.spec.as_str().into(), rows.len());
                            rows.push(Row::new(&r, i));
                            good.push(None);
                            rows.len() - 1
                        }
                    };
                    if reproduced(&r.verdict)
                        && good[k]
                            .as_ref()
                            .is_none_or(|g| *g.finished_at <= *r.finished_at)
                    {
                        good[k] = Some(Earlier {
                            verdict: r.verdict.clone(),
                            finished_at: r.finished_at.clone(),
                            machine: r.machine.clone(),
                            results: i,
                            dir: r.dir.clone(),
                        });
                    }
                    if rows[k].finished_at() <= r.finished_at.as_str() {
                        rows[k] = Row::new(&r, i);
                    }
                },
                |w| warnings.push(w),
            )?;
            d.warnings.extend(warnings);
        }
        drop(index);
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|a, b| rows[*a].spec().cmp(rows[*b].spec()));
        for &k in &order {
            let r = &rows[k];
            *d.counts.entry(r.verdict().to_owned()).or_default() += 1;
            if r.verdict() == "FAILED" {
                let stage = r.stage().unwrap_or("unknown").to_owned();
                *d.failed_stages.entry(stage).or_default() += 1;
            }
            if !reproduced(r.verdict()) {
                if let Some(g) = good[k].take() {
                    if *g.finished_at <= *r.finished_at() {
                        d.regressions.insert(r.spec().to_owned(), g);
                    }
                }
            }
        }
        drop(good);
        let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
        d.packages = order.iter().filter_map(|&k| slots[k].take()).collect();
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
                let (r, g) = (row, &self.regressions[row.spec()]);
                s += &format!(
                    "  {}: {} at {} on {} -> {} at {} on {}{}\n",
                    r.spec(),
                    g.verdict,
                    g.finished_at,
                    g.machine,
                    r.verdict(),
                    r.finished_at(),
                    r.machine(),
                    r.stage()
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
            .filter(|r| self.regressions.contains_key(r.spec()))
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
                let (r, g) = (row, &self.regressions[row.spec()]);
                write!(
                    w,
                    "<tr><td><a href=\"#{}\">{}</a><td class={}>{} {} ({})<td class={}>{} {} ({})",
                    anchor(r.spec()),
                    esc(r.spec()),
                    esc(&g.verdict),
                    esc(&g.verdict),
                    esc(&g.finished_at),
                    esc(&g.machine),
                    esc(r.verdict()),
                    esc(r.verdict()),
                    esc(r.finished_at()),
                    esc(r.machine()),
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
        for r in &self.packages {
            let p = &prefixes[r.results];
            let regressed = if self.regressions.contains_key(r.spec()) {
                " regressed"
            } else {
                ""
            };
            write!(
                w,
                "<tr id=\"{}\" class=\"{}{regressed}\"><td>{}<td>{}",
                anchor(r.spec()),
                esc(r.verdict()),
                esc(r.spec()),
                esc(r.verdict())
            )?;
            if let Some(st) = r.stage() {
                write!(
                    w,
                    " <small title=\"{}\">at {}</small>",
                    esc(r.failure().unwrap_or("")),
                    esc(st)
                )?;
            }
            write!(
                w,
                "<td>{}<td>{}<td>{:.1}s<td>",
                esc(r.backend().unwrap_or("")),
                esc(r.stabilizers()),
                r.duration_ms as f64 / 1000.0
            )?;
            let attested = r.opt(F::Attestation).is_some();
            for (label, f) in [
                ("diff", F::Diff),
                ("attestation", F::Attestation),
                // The signed attestation holds the statement.
                ("statement", F::Statement),
                ("report", F::RebuildJson),
                ("log", F::Log),
            ] {
                if let Some(t) = r.opt(f) {
                    if label == "statement" && attested {
                        continue;
                    }
                    write!(w, "<a href=\"{}{}\">{label}</a> ", esc(p), esc(t))?;
                }
            }
            writeln!(w, "<td>{}<td>{}", esc(r.machine()), esc(r.finished_at()))?;
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
    diffoscope_lite::printers::markup_escape(s)
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
