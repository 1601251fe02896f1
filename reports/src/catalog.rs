//! What a caller may see of the written reports: listing for
//! `GET /api/v1/reports`, and a safe resolver for downloads.
//!
//! A partner (a caller bound to an agent) sees only per-agent outputs of its
//! own agent; other callers see everything (the API filters further by
//! role with each listing's `audience`).

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use crate::error::io;
use crate::render::{MANIFEST, Manifest};
use crate::runner::reports_dir;
use crate::{Error, Result};

/// One written report output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportListing {
    pub report: String,
    pub title: String,
    pub period: String,
    pub agent: Option<Uuid>,
    pub lake_version: i64,
    pub audience: Vec<String>,
    /// The output folder relative to `<data-dir>/reports`, `/`-separated:
    /// download paths are `<path>/<file>`.
    pub path: String,
    pub files: Vec<String>,
}

fn visible_dirs(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io("read", root)(e)),
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_ok_and(|t| t.is_dir()) && is_safe_component(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn read_manifest(dir: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The reports written under `<data-dir>/reports` that `caller_agent` may
/// see (`None`: a caller not bound to an agent). Sorted by report, period,
/// agent.
pub fn list_reports(data_dir: &Path, caller_agent: Option<Uuid>) -> Result<Vec<ReportListing>> {
    let root = reports_dir(data_dir);
    let mut out = Vec::new();
    for report in visible_dirs(&root)? {
        for period in visible_dirs(&root.join(&report))? {
            let pdir = root.join(&report).join(&period);
            let mut dirs: Vec<(String, PathBuf)> = vec![(format!("{report}/{period}"), pdir.clone())];
            for sub in visible_dirs(&pdir)? {
                dirs.push((format!("{report}/{period}/{sub}"), pdir.join(&sub)));
            }
            for (path, dir) in dirs {
                let Some(m) = read_manifest(&dir) else { continue };
                // The manifest must agree with where it lies.
                let agent_dir = path.split('/').nth(2).map(str::to_owned);
                if m.report != report || m.period != period || m.agent.map(|a| a.to_string()) != agent_dir {
                    continue;
                }
                if caller_agent.is_some() && m.agent != caller_agent {
                    continue;
                }
                out.push(ReportListing {
                    report: m.report,
                    title: m.title,
                    period: m.period,
                    agent: m.agent,
                    lake_version: m.lake_version,
                    audience: m.audience,
                    path,
                    files: m.files,
                });
            }
        }
    }
    Ok(out)
}

fn is_safe_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Resolve a download path `<report>/<period>[/<agent>]/<file>` (relative to
/// `<data-dir>/reports`) to a file the caller may read. Anything else —
/// `..`, absolute paths, hidden or odd names, symlinks out of the folder,
/// another agent's statement, a report-wide file for a partner, a missing
/// file — is [`Error::NotFound`], so nothing is revealed.
pub fn resolve_download(data_dir: &Path, caller_agent: Option<Uuid>, rel: &str) -> Result<PathBuf> {
    let parts: Vec<&str> = rel.split('/').collect();
    if !(3..=4).contains(&parts.len()) || !parts.iter().all(|p| is_safe_component(p)) {
        return Err(Error::NotFound);
    }
    if Path::new(rel).components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(Error::NotFound);
    }
    let agent_dir = (parts.len() == 4).then(|| parts[2]);
    if let Some(a) = agent_dir
        && Uuid::parse_str(a).map(|u| u.to_string()).ok().as_deref() != Some(a)
    {
        return Err(Error::NotFound);
    }
    if let Some(caller) = caller_agent
        && agent_dir != Some(caller.to_string().as_str())
    {
        return Err(Error::NotFound);
    }
    let root = reports_dir(data_dir).canonicalize().map_err(|_| Error::NotFound)?;
    let path = root.join(rel).canonicalize().map_err(|_| Error::NotFound)?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(Error::NotFound);
    }
    Ok(path)
}
