//! Running a report: compute each section through a [`KpiSource`] as of one
//! lake version, render the files, and put them in place atomically.
//!
//! Layout: `<data-dir>/reports/<report>/<period>/` (or
//! `.../<period>/<agent-id>/` for per-agent reports). Files are written to a
//! hidden temporary folder beside the target and renamed into place; an
//! existing folder with the same content is left untouched, one with other
//! content (a newer lake version) is swapped out whole, never edited in place.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::compute::concat_batches;
use tracing::info;
use uuid::Uuid;

use crate::config::Format;
use crate::config::ReportDef;
use crate::error::io;
use crate::period::Period;
use crate::render::{MANIFEST, Manifest, SectionResult, build_chart, to_csv, to_html, totals, totals_csv};
use crate::source::{KpiParams, KpiSource};
use crate::{Error, Result};
use crate::{charts, pdf};

/// The folder reports are written under: `<data-dir>/reports`.
pub fn reports_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("reports")
}

/// The folder of one report output.
pub fn output_dir(data_dir: &Path, report: &str, period: &Period, agent: Option<Uuid>) -> PathBuf {
    let dir = reports_dir(data_dir).join(report).join(period.label());
    match agent {
        Some(a) => dir.join(a.to_string()),
        None => dir,
    }
}

/// The outcome of one report run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRun {
    pub report: String,
    pub period: Period,
    pub agent: Option<Uuid>,
    pub lake_version: i64,
    pub dir: PathBuf,
    /// File names written (manifest included), sorted.
    pub files: Vec<String>,
    /// The folder already held exactly these files; nothing was written.
    pub unchanged: bool,
}

/// Compute a report's sections as of `lake_version`.
pub async fn compute_sections(
    source: &dyn KpiSource,
    def: &ReportDef,
    period: Period,
    agent: Option<Uuid>,
    lake_version: i64,
) -> Result<Vec<SectionResult>> {
    let mut out = Vec::with_capacity(def.sections.len());
    for s in &def.sections {
        let window = period.window(s.periods);
        let params = KpiParams {
            from: window.start_utc(def.time_zone),
            to: window.end_utc(def.time_zone),
            from_date: window.start,
            to_date: window.end,
            by: s.by.clone(),
            filters: s.filters.clone(),
            time_zone: def.time_zone,
        };
        let batches = source.run(&s.kpi, &params, agent, lake_version).await?;
        let rows = match batches.first() {
            Some(first) => Some(concat_batches(&first.schema(), &batches)?),
            None => None,
        };
        out.push(SectionResult { def: s.clone(), params, rows });
    }
    Ok(out)
}

/// Run one report for one period (and, for per-agent reports, one agent)
/// as of `as_of` (default: the lake's current version), and write its files.
pub async fn run_report(
    source: &dyn KpiSource,
    data_dir: &Path,
    def: &ReportDef,
    period: Period,
    agent: Option<Uuid>,
    as_of: Option<i64>,
) -> Result<ReportRun> {
    if period.kind != def.period {
        return Err(Error::Invalid {
            report: def.name.clone(),
            message: format!("period {period} is of the wrong kind"),
        });
    }
    match (def.per_agent, agent) {
        (true, None) => {
            return Err(Error::Invalid { report: def.name.clone(), message: "per-agent report: give an agent".into() });
        }
        (false, Some(_)) => {
            return Err(Error::Invalid { report: def.name.clone(), message: "not a per-agent report".into() });
        }
        _ => {}
    }
    let lake_version = match as_of {
        Some(v) => v,
        None => source.lake_version().await?,
    };
    let sections = compute_sections(source, def, period, agent, lake_version).await?;
    let files = render_files(def, period, agent, lake_version, &sections)?;
    let dir = output_dir(data_dir, &def.name, &period, agent);
    let unchanged = write_atomically(&dir, &files)?;
    info!(report = %def.name, %period, ?agent, lake_version, unchanged, "report written");
    Ok(ReportRun {
        report: def.name.clone(),
        period,
        agent,
        lake_version,
        dir,
        files: files.keys().cloned().collect(),
        unchanged,
    })
}

/// Run a per-agent report for every agent known at the lake version, each
/// independently: one agent's failure does not stop the others. Agents in
/// `skip` (already done) are left out.
pub async fn run_report_agents(
    source: &dyn KpiSource,
    data_dir: &Path,
    def: &ReportDef,
    period: Period,
    as_of: Option<i64>,
    skip: &[Uuid],
) -> Result<Vec<(Uuid, Result<ReportRun>)>> {
    let lake_version = match as_of {
        Some(v) => v,
        None => source.lake_version().await?,
    };
    let mut agents = source.agents(lake_version).await?;
    agents.sort();
    agents.dedup();
    let mut out = Vec::new();
    for agent in agents.into_iter().filter(|a| !skip.contains(a)) {
        let r = run_report(source, data_dir, def, period, Some(agent), Some(lake_version)).await;
        out.push((agent, r));
    }
    Ok(out)
}

fn same_content(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    let mut names = Vec::new();
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_file()) {
            names.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names.iter().eq(files.keys())
        && files.iter().all(|(n, bytes)| std::fs::read(dir.join(n)).is_ok_and(|b| &b == bytes))
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Write `files` into folder `dir` via a temporary sibling folder and a
/// rename. Returns true when `dir` already held exactly these files.
pub fn write_atomically(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<bool> {
    if same_content(dir, files) {
        return Ok(true);
    }
    let parent = dir.parent().ok_or_else(|| io("write", dir)(std::io::ErrorKind::InvalidInput.into()))?;
    std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    let leaf = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = format!("{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    let tmp = parent.join(format!(".tmp-{leaf}-{unique}"));
    std::fs::create_dir(&tmp).map_err(io("create", &tmp))?;
    let result = (|| {
        for (name, bytes) in files {
            let path = tmp.join(name);
            let mut f = std::fs::File::create(&path).map_err(io("create", &path))?;
            f.write_all(bytes).map_err(io("write", &path))?;
            f.sync_all().map_err(io("sync", &path))?;
        }
        // Per-agent outputs live inside the period folder: keep them when
        // the period folder itself is replaced.
        if dir.is_dir() {
            for e in std::fs::read_dir(dir).map_err(io("read", dir))?.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let to = tmp.join(e.file_name());
                    std::fs::rename(e.path(), &to).map_err(io("move", e.path()))?;
                }
            }
            let old = parent.join(format!(".old-{leaf}-{unique}"));
            std::fs::rename(dir, &old).map_err(io("move", dir))?;
            std::fs::rename(&tmp, dir).map_err(io("move", &tmp))?;
            std::fs::remove_dir_all(&old).map_err(io("remove", &old))?;
        } else {
            std::fs::rename(&tmp, dir).map_err(io("move", &tmp))?;
        }
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.map(|()| false)
}

/// Render every file of a report from its section results: name → bytes.
pub fn render_files(
    def: &ReportDef,
    period: Period,
    agent: Option<Uuid>,
    lake_version: i64,
    sections: &[SectionResult],
) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut svgs = Vec::new();
    for s in sections {
        let id = s.def.id();
        if s.def.table && def.has_format(Format::Csv) {
            files.insert(format!("{id}.csv"), to_csv(s.rows.as_ref())?);
            if !s.def.totals.is_empty() {
                files.insert(format!("{id}_totals.csv"), totals_csv(&totals(s)?)?);
            }
        }
        let chart = s.def.chart.as_ref().map(|c| build_chart(s, c)).transpose()?;
        if let Some(chart) = &chart {
            if def.has_format(Format::Png) {
                files.insert(format!("{id}.png"), charts::to_png(chart)?);
            }
            svgs.push(Some(charts::to_svg(chart)?));
        } else {
            svgs.push(None);
        }
    }
    let mut manifest = Manifest {
        report: def.name.clone(),
        title: def.title.clone(),
        period: period.label(),
        period_start: period.start.to_string(),
        period_end: period.end.to_string(),
        time_zone: def.time_zone.name().to_owned(),
        agent,
        lake_version,
        audience: def.audience.clone(),
        files: Vec::new(),
    };
    if def.has_format(Format::Pdf) {
        files.insert("report.pdf".into(), pdf::render_pdf(def, &manifest, sections)?);
    }
    if def.has_format(Format::Html) {
        files.insert("report.html".into(), to_html(def, &manifest, sections, &svgs)?.into_bytes());
    }
    manifest.files = files.keys().cloned().collect();
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|source| Error::Json { what: "manifest".into(), source })?;
    files.insert(MANIFEST.into(), json);
    Ok(files)
}
