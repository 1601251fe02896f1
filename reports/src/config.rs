//! Report definitions: the TOML file, documented key by key in
//! `reports/reports.toml` (the shipped defaults), overridable by
//! `<data-dir>/reports.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::period::PeriodKind;
use crate::{Error, Result};

/// The shipped default definitions.
pub const DEFAULT_REPORTS_TOML: &str = include_str!("../reports.toml");

/// The roles that may appear in `audience`.
pub const ROLES: &[&str] = &["admin", "manager", "dispatcher", "technician", "engineer", "finance", "partner"];

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Html,
    Csv,
    Png,
    Pdf,
}

/// The kind of chart a section draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartType {
    Line,
    Bar,
    Histogram,
    Pareto,
}

/// How a section charts its KPI rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartDef {
    pub kind: ChartType,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub series: Option<String>,
    #[serde(default)]
    pub bins: Option<u32>,
    #[serde(default)]
    pub x_label: Option<String>,
    #[serde(default)]
    pub y_label: Option<String>,
}

/// One KPI in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionDef {
    pub kpi: String,
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub by: Vec<String>,
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    #[serde(default = "one")]
    pub periods: u32,
    #[serde(default = "yes")]
    pub table: bool,
    #[serde(default)]
    pub totals: Vec<String>,
    #[serde(default)]
    pub chart: Option<ChartDef>,
}

impl SectionDef {
    /// The section's file stem: `id`, else the KPI name.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.kpi)
    }
}

/// One report definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDef {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub schedule: String,
    #[serde(default = "utc")]
    pub time_zone: Tz,
    pub period: PeriodKind,
    pub audience: Vec<String>,
    pub formats: Vec<Format>,
    #[serde(default)]
    pub per_agent: bool,
    #[serde(default = "three")]
    pub retries: u32,
    #[serde(rename = "section")]
    pub sections: Vec<SectionDef>,
}

impl ReportDef {
    /// The parsed cron schedule.
    pub fn cron(&self) -> Result<croner::Cron> {
        croner::Cron::from_str(&self.schedule).map_err(|e| Error::Invalid {
            report: self.name.clone(),
            message: format!("schedule {:?}: {e}", self.schedule),
        })
    }

    /// Whether the report writes format `f`.
    pub fn has_format(&self, f: Format) -> bool {
        self.formats.contains(&f)
    }
}

fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn yes() -> bool {
    true
}
fn utc() -> Tz {
    Tz::UTC
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportsFile {
    #[serde(default, rename = "report")]
    reports: Vec<ReportDef>,
}

/// The set of report definitions in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub reports: Vec<ReportDef>,
}

impl Config {
    /// The shipped defaults.
    pub fn defaults() -> Result<Config> {
        Config::parse(DEFAULT_REPORTS_TOML, "(built-in defaults)")
    }

    /// `<data-dir>/reports.toml` when it exists, else the shipped defaults.
    pub fn load(data_dir: &Path) -> Result<Config> {
        let path = data_dir.join("reports.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::defaults(),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Parse and validate a definitions file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let file: ReportsFile =
            toml::from_str(text).map_err(|e| Error::Config { origin: origin.to_owned(), source: Box::new(e) })?;
        let config = Config { reports: file.reports };
        config.validate()?;
        Ok(config)
    }

    /// The report named `name`.
    pub fn get(&self, name: &str) -> Result<&ReportDef> {
        self.reports.iter().find(|r| r.name == name).ok_or_else(|| Error::UnknownReport(name.to_owned()))
    }

    fn validate(&self) -> Result<()> {
        let mut names = BTreeSet::new();
        for r in &self.reports {
            let bad = |message: String| Error::Invalid { report: r.name.clone(), message };
            if !is_slug(&r.name) {
                return Err(bad("name must be lowercase letters, digits and `_`".into()));
            }
            if !names.insert(r.name.as_str()) {
                return Err(bad("defined twice".into()));
            }
            r.cron()?;
            if r.formats.is_empty() {
                return Err(bad("formats is empty".into()));
            }
            if r.sections.is_empty() {
                return Err(bad("has no [[report.section]]".into()));
            }
            for role in &r.audience {
                if !ROLES.contains(&role.as_str()) {
                    return Err(bad(format!("unknown role {role:?} in audience (known: {})", ROLES.join(", "))));
                }
            }
            let mut ids = BTreeSet::new();
            for s in &r.sections {
                if !is_slug(s.id()) {
                    return Err(bad(format!("section id {:?} must be lowercase letters, digits and `_`", s.id())));
                }
                if !ids.insert(s.id()) {
                    return Err(bad(format!("section id {:?} used twice; set `id`", s.id())));
                }
                if s.periods == 0 || s.periods > 120 {
                    return Err(bad(format!("section {:?}: periods must be 1..=120", s.id())));
                }
                if let Some(c) = &s.chart {
                    let from_columns = !c.columns.is_empty();
                    if from_columns && (c.kind != ChartType::Bar || c.x.is_some() || c.y.is_some()) {
                        return Err(bad(format!("section {:?}: `columns` is for bar charts, without x and y", s.id())));
                    }
                    if !from_columns && c.y.is_none() {
                        return Err(bad(format!("section {:?}: the chart needs `y` (or `columns`)", s.id())));
                    }
                    let needs_x = c.kind != ChartType::Histogram && !from_columns;
                    if needs_x && c.x.is_none() {
                        return Err(bad(format!("section {:?}: a {:?} chart needs `x`", s.id(), c.kind)));
                    }
                    if c.series.is_some() && c.kind != ChartType::Line {
                        return Err(bad(format!("section {:?}: `series` is for line charts only", s.id())));
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_parse_and_name_the_four_reports() {
        let c = Config::defaults().unwrap();
        let names: Vec<_> = c.reports.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["management_weekly", "failure_stats_monthly", "finance_audit_monthly", "claim_settlement_monthly"]
        );
        let s = c.get("claim_settlement_monthly").unwrap();
        assert!(s.per_agent && s.has_format(Format::Pdf));
        assert_eq!(c.get("management_weekly").unwrap().period, PeriodKind::LastFullWeek);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_key_named() {
        let text = DEFAULT_REPORTS_TOML.replacen("per_agent = true", "per_agent = true\ncolour = \"red\"", 1);
        let err = Config::parse(&text, "test.toml").unwrap_err();
        let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(msg.contains("colour") && msg.contains("test.toml"), "{msg}");

        let text = DEFAULT_REPORTS_TOML.replacen("table = false", "table = false\nwidth = 3", 1);
        assert!(Config::parse(&text, "t").is_err());
    }

    #[test]
    fn bad_values_are_rejected() {
        let bad_cron = DEFAULT_REPORTS_TOML.replacen("0 6 * * 1", "61 6 * * 1", 1);
        assert!(matches!(Config::parse(&bad_cron, "t"), Err(Error::Invalid { .. })));
        let bad_role = DEFAULT_REPORTS_TOML.replacen("[\"admin\", \"manager\"]", "[\"admin\", \"boss\"]", 1);
        assert!(matches!(Config::parse(&bad_role, "t"), Err(Error::Invalid { .. })));
        let bad_tz = DEFAULT_REPORTS_TOML.replacen("time_zone = \"UTC\"", "time_zone = \"Mars/Base\"", 1);
        assert!(matches!(Config::parse(&bad_tz, "t"), Err(Error::Config { .. })));
        let dup = DEFAULT_REPORTS_TOML.replacen("id = \"csat_distribution\"", "", 1);
        assert!(matches!(Config::parse(&dup, "t"), Err(Error::Invalid { .. })));
    }

    #[test]
    fn data_dir_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().reports.len(), 4);
        std::fs::write(
            dir.path().join("reports.toml"),
            "[[report]]\nname = \"x\"\ntitle = \"X\"\nschedule = \"0 0 * * *\"\nperiod = \"last_full_month\"\n\
             audience = [\"admin\"]\nformats = [\"csv\"]\n[[report.section]]\nkpi = \"dso\"\ntitle = \"DSO\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.reports.len(), 1);
        assert_eq!(c.reports[0].time_zone, Tz::UTC);
        assert!(c.get("management_weekly").is_err());
    }
}
