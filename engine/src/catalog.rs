//! The KPI catalog: one file per KPI in `sql/kpi/`, a header of `-- key: value`
//! lines, then the query.
//!
//! ```sql
//! -- name: csat
//! -- title: Customer satisfaction
//! -- description: CSAT mean and distribution at closing.
//! --   (an indented line continues the previous key)
//! -- unit: score 1-5
//! -- grain: one row per group
//! -- param: from timestamp = 1970-01-01 | start of the period, inclusive
//! -- param: to timestamp = 2100-01-01 | end of the period, exclusive
//! -- param: region text? | only this region
//! -- dimensions: day, week, month, region, priority
//! -- audience: admin, manager, partner
//! SELECT {{dims}} avg(csat) AS csat_mean FROM ... WHERE closed_at >= $from ... {{group_by}} {{order_by}}
//! ```
//!
//! Parameters are bound as typed values (`$name` placeholders), never pasted
//! into the text. The only text substituted is the group-by dimensions, each
//! taken from the fixed map [`DIMENSIONS`] and allowed by the KPI's header:
//! `{{dims}}` → `expr AS name, ...` (each followed by a comma),
//! `{{dim_exprs}}` → `expr, ...` (each followed by a comma),
//! `{{group_by}}` → `GROUP BY expr, ...` or nothing, `{{order_by}}` →
//! `ORDER BY name, ...` or nothing, `{{order_by_dims}}` → `name, ...` (each
//! followed by a comma). Every KPI query selects from rows exposing
//! `period_at` and the dimension columns it allows.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::ParamValues;
use datafusion::common::ScalarValue;
use serde::Serialize;

use crate::scope::Role;
use crate::sqlfiles::SqlFile;
use crate::{Error, Result};

/// Group-by dimensions: name → column expression over the KPI's rows. The
/// only SQL text ever substituted into a KPI query.
pub const DIMENSIONS: &[(&str, &str)] = &[
    ("day", "date_trunc('day', period_at)"),
    ("week", "date_trunc('week', period_at)"),
    ("month", "date_trunc('month', period_at)"),
    ("region", "region"),
    ("priority", "priority"),
    ("tier", "tier"),
    ("product", "product_id"),
    ("model", "model"),
    ("technician", "technician_id"),
    ("agent", "agent_id"),
    ("customer", "customer_id"),
    ("manufacturer", "manufacturer_id"),
    ("part", "part_id"),
    ("component", "component"),
    ("fault_code", "fault_code"),
];

/// The type of a KPI parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// An instant: RFC 3339, or a date `YYYY-MM-DD` (midnight UTC).
    Timestamp,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    Text,
    Int,
    Float,
    Bool,
}

impl ParamType {
    fn parse_name(s: &str) -> Option<ParamType> {
        Some(match s {
            "timestamp" => ParamType::Timestamp,
            "date" => ParamType::Date,
            "text" => ParamType::Text,
            "int" => ParamType::Int,
            "float" => ParamType::Float,
            "bool" => ParamType::Bool,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            ParamType::Timestamp => "timestamp",
            ParamType::Date => "date",
            ParamType::Text => "text",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
        }
    }

    fn null(self) -> ScalarValue {
        match self {
            ParamType::Timestamp => ScalarValue::TimestampMicrosecond(None, Some("UTC".into())),
            ParamType::Date => ScalarValue::Date32(None),
            ParamType::Text => ScalarValue::Utf8(None),
            ParamType::Int => ScalarValue::Int64(None),
            ParamType::Float => ScalarValue::Float64(None),
            ParamType::Bool => ScalarValue::Boolean(None),
        }
    }

    /// Parse `raw` as a value of this type; the message says what was expected.
    pub fn parse(self, raw: &str) -> std::result::Result<ScalarValue, String> {
        let raw = raw.trim();
        let bad = || format!("`{raw}` is not a {}", self.describe());
        Ok(match self {
            ParamType::Timestamp => {
                let t = parse_instant(raw).ok_or_else(bad)?;
                ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into()))
            }
            ParamType::Date => {
                let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())?;
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(bad)?;
                let days = i32::try_from((d - epoch).num_days()).map_err(|_| bad())?;
                ScalarValue::Date32(Some(days))
            }
            ParamType::Text => ScalarValue::Utf8(Some(raw.to_string())),
            ParamType::Int => ScalarValue::Int64(Some(raw.parse().map_err(|_| bad())?)),
            ParamType::Float => {
                let f: f64 = raw.parse().map_err(|_| bad())?;
                if !f.is_finite() {
                    return Err(bad());
                }
                ScalarValue::Float64(Some(f))
            }
            ParamType::Bool => ScalarValue::Boolean(Some(match raw {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => return Err(bad()),
            })),
        })
    }

    fn describe(self) -> &'static str {
        match self {
            ParamType::Timestamp => "timestamp (RFC 3339 like 2026-10-01T00:00:00Z, or a date 2026-10-01)",
            ParamType::Date => "date (YYYY-MM-DD)",
            ParamType::Text => "text",
            ParamType::Int => "whole number",
            ParamType::Float => "number",
            ParamType::Bool => "boolean (true/false)",
        }
    }
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
}

/// One declared parameter of a KPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// The default as text; `None` with `optional` = NULL (no filter).
    pub default: Option<String>,
    /// Whether the parameter may be left out (it has a default or is a filter).
    pub optional: bool,
    pub description: String,
}

/// One KPI of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiDef {
    pub name: String,
    pub title: String,
    pub description: String,
    pub unit: String,
    pub grain: String,
    pub params: Vec<ParamDef>,
    /// Allowed group-by dimensions (names of [`DIMENSIONS`]).
    pub dimensions: Vec<String>,
    /// Roles that may read it.
    pub audience: Vec<Role>,
    /// Choices made where DOMAIN.md leaves them open.
    pub notes: String,
    /// The file it came from.
    pub file: String,
    #[serde(skip)]
    pub sql: String,
}

/// The parsed KPI files, by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    kpis: BTreeMap<String, KpiDef>,
}

impl Catalog {
    /// The catalog built into the binary.
    pub fn load() -> Result<Catalog> {
        Catalog::from_files(&crate::sqlfiles::embedded_kpis())
    }

    /// Parse KPI files; names must be unique.
    pub fn from_files(files: &[SqlFile]) -> Result<Catalog> {
        let mut kpis = BTreeMap::new();
        for f in files {
            let def = KpiDef::parse(&f.file, &f.body)?;
            if let Some(old) = kpis.insert(def.name.clone(), def) {
                return Err(Error::SqlFile { file: f.file.clone(), message: format!("duplicate KPI `{}`", old.name) });
            }
        }
        Ok(Catalog { kpis })
    }

    /// Every KPI, by name.
    pub fn list(&self) -> impl Iterator<Item = &KpiDef> {
        self.kpis.values()
    }

    /// The KPI called `name`.
    pub fn get(&self, name: &str) -> Result<&KpiDef> {
        self.kpis.get(name).ok_or_else(|| Error::UnknownKpi { name: name.to_string() })
    }
}

impl KpiDef {
    /// Parse one KPI file.
    pub fn parse(file: &str, text: &str) -> Result<KpiDef> {
        let err = |message: String| Error::SqlFile { file: file.to_string(), message };
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut body_start = text.len();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_end();
            if let Some(rest) = trimmed.strip_prefix("--") {
                if rest.starts_with("   ") || rest.starts_with('\t') {
                    // A continuation of the previous key.
                    if let Some((_, v)) = fields.last_mut() {
                        v.push('\n');
                        v.push_str(rest.trim());
                    }
                } else if let Some((k, v)) = rest.split_once(':') {
                    fields.push((k.trim().to_string(), v.trim().to_string()));
                }
                offset += line.len();
            } else if trimmed.is_empty() {
                offset += line.len();
            } else {
                body_start = offset;
                break;
            }
        }
        let sql = text[body_start..].trim().to_string();
        let one = |key: &str| -> Option<String> { fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()) };
        let need = |key: &str| one(key).ok_or_else(|| err(format!("header has no `{key}:` line")));
        let name = need("name")?;
        if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(err(format!("KPI name `{name}` must be lower_snake_case")));
        }
        let mut params = Vec::new();
        for (_, spec) in fields.iter().filter(|(k, _)| k == "param") {
            params.push(parse_param(spec).map_err(|m| err(format!("param `{spec}`: {m}")))?);
        }
        let list = |key: &str| -> Vec<String> {
            one(key).unwrap_or_default().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
        };
        let dimensions = list("dimensions");
        for d in &dimensions {
            if !DIMENSIONS.iter().any(|(n, _)| n == d) {
                return Err(err(format!("dimension `{d}` is not one of the engine's dimensions")));
            }
        }
        let audience = list("audience")
            .iter()
            .map(|r| r.parse::<Role>().map_err(|m| err(format!("audience: {m}"))))
            .collect::<Result<Vec<_>>>()?;
        if audience.is_empty() {
            return Err(err("header has no `audience:` roles".into()));
        }
        if sql.is_empty() {
            return Err(err("no query after the header".into()));
        }
        Ok(KpiDef {
            name,
            title: need("title")?,
            description: need("description")?,
            unit: need("unit")?,
            grain: need("grain")?,
            params,
            dimensions,
            audience,
            notes: one("notes").unwrap_or_default(),
            file: file.to_string(),
            sql,
        })
    }

    /// Whether `role` may read this KPI.
    pub fn allows(&self, role: Role) -> bool {
        self.audience.contains(&role)
    }

    /// Typed values for every declared parameter from `raw` (name → text),
    /// defaults filling the gaps. Unknown names, missing required values and
    /// values of the wrong type are errors naming the parameter.
    pub fn bind(&self, raw: &BTreeMap<String, String>) -> Result<ParamValues> {
        for name in raw.keys() {
            if !self.params.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::Parameter {
                    name: name.clone(),
                    message: format!("KPI `{}` has no such parameter; it takes {}", self.name, known.join(", ")),
                });
            }
        }
        let mut values = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let text = raw.get(&p.name).or(p.default.as_ref());
            let v = match text {
                Some(t) => p.ty.parse(t).map_err(|message| Error::Parameter {
                    name: p.name.clone(),
                    message: format!("{message} (KPI `{}`)", self.name),
                })?,
                None if p.optional => p.ty.null(),
                None => {
                    return Err(Error::Parameter {
                        name: p.name.clone(),
                        message: format!("required by KPI `{}` ({})", self.name, p.ty.name()),
                    });
                }
            };
            values.push((p.name.clone(), v));
        }
        Ok(ParamValues::from(values))
    }

    /// The query with the group-by dimensions `by` substituted.
    pub fn render(&self, by: &[String]) -> Result<String> {
        let mut dims = String::new();
        let mut dim_exprs = String::new();
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        for d in by {
            let d = d.trim();
            let expr = DIMENSIONS.iter().find(|(n, _)| *n == d).map(|(_, e)| *e);
            let (Some(expr), true) = (expr, self.dimensions.iter().any(|a| a == d)) else {
                return Err(Error::UnknownDimension {
                    kpi: self.name.clone(),
                    name: d.to_string(),
                    allowed: if self.dimensions.is_empty() { "none".into() } else { self.dimensions.join(", ") },
                });
            };
            if names.contains(&d) {
                continue;
            }
            let _ = write!(dims, "{expr} AS {d}, ");
            let _ = write!(dim_exprs, "{expr}, ");
            names.push(d);
            exprs.push(expr);
        }
        let group_by = if exprs.is_empty() { String::new() } else { format!("GROUP BY {}", exprs.join(", ")) };
        let order_by = if names.is_empty() { String::new() } else { format!("ORDER BY {}", names.join(", ")) };
        let order_by_dims: String = names.iter().map(|n| format!("{n}, ")).collect();
        let sql = self
            .sql
            .replace("{{dims}}", &dims)
            .replace("{{dim_exprs}}", &dim_exprs)
            .replace("{{group_by}}", &group_by)
            .replace("{{order_by_dims}}", &order_by_dims)
            .replace("{{order_by}}", &order_by);
        if sql.contains("{{") {
            return Err(Error::SqlFile { file: self.file.clone(), message: "unknown `{{...}}` token".into() });
        }
        Ok(sql)
    }
}

fn parse_param(spec: &str) -> std::result::Result<ParamDef, String> {
    let (decl, description) = match spec.split_once('|') {
        Some((d, t)) => (d.trim(), t.trim().to_string()),
        None => (spec.trim(), String::new()),
    };
    let (decl, default) = match decl.split_once('=') {
        Some((d, v)) => (d.trim(), Some(v.trim().to_string())),
        None => (decl, None),
    };
    let mut parts = decl.split_whitespace();
    let name = parts.next().ok_or("no name")?.to_string();
    let ty_text = parts.next().ok_or("no type")?;
    let (ty_text, question) = match ty_text.strip_suffix('?') {
        Some(t) => (t, true),
        None => (ty_text, false),
    };
    let ty = ParamType::parse_name(ty_text).ok_or_else(|| format!("unknown type `{ty_text}`"))?;
    if let Some(d) = &default {
        ty.parse(d)?;
    }
    Ok(ParamDef { name, ty, optional: question || default.is_some(), default, description })
}
