//! The filters of every page, from plain GET parameters: `from`, `until`
//! (both dates, `until` inclusive), `region`, `product` (id), `agent` (id).
//! An empty value means "all".

use chrono::{NaiveDate, TimeDelta, Utc};
use serde::Deserialize;

use crate::html::url_encode;

/// The query string as sent by the filter form.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FilterQuery {
    pub(crate) from: Option<String>,
    pub(crate) until: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) product: Option<String>,
    pub(crate) agent: Option<String>,
}

/// Checked filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filters {
    pub(crate) from: NaiveDate,
    /// The last day of the period (inclusive).
    pub(crate) until: NaiveDate,
    pub(crate) region: Option<String>,
    pub(crate) product: Option<String>,
    pub(crate) agent: Option<String>,
}

/// Days in the default period (ending today).
const DEFAULT_DAYS: i64 = 30;
/// The longest text accepted for a region, product or agent.
const MAX_LEN: usize = 100;

impl Filters {
    /// The filters of `q`; the message names the parameter that is wrong.
    pub(crate) fn parse(q: &FilterQuery) -> Result<Filters, String> {
        let today = Utc::now().date_naive();
        let date = |name: &str, raw: &Option<String>, default: NaiveDate| -> Result<NaiveDate, String> {
            match raw.as_deref().map(str::trim) {
                None | Some("") => Ok(default),
                Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| format!("`{name}`: `{s}` is not a date (YYYY-MM-DD)")),
            }
        };
        let until = date("until", &q.until, today)?;
        let from = date("from", &q.from, until - TimeDelta::days(DEFAULT_DAYS - 1))?;
        if from > until {
            return Err(format!("`from` ({from}) is after `until` ({until})"));
        }
        let text = |name: &str, raw: &Option<String>| -> Result<Option<String>, String> {
            match raw.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) if s.len() > MAX_LEN || s.chars().any(char::is_control) => {
                    Err(format!("`{name}` is not a valid value"))
                }
                Some(s) => Ok(Some(s.to_string())),
            }
        };
        Ok(Filters {
            from,
            until,
            region: text("region", &q.region)?,
            product: text("product", &q.product)?,
            agent: text("agent", &q.agent)?,
        })
    }

    /// The KPI `from` parameter (midnight UTC of the first day).
    pub(crate) fn kpi_from(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    /// The KPI `to` parameter: the day after `until` (KPIs take an exclusive end).
    pub(crate) fn kpi_to(&self) -> String {
        (self.until + TimeDelta::days(1)).format("%Y-%m-%d").to_string()
    }

    /// These filters as a query string (`?from=...`), for links between pages.
    pub(crate) fn query_string(&self) -> String {
        let mut parts =
            vec![format!("from={}", self.from.format("%Y-%m-%d")), format!("until={}", self.until.format("%Y-%m-%d"))];
        for (k, v) in [("region", &self.region), ("product", &self.product), ("agent", &self.agent)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", url_encode(v)));
            }
        }
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn q(from: &str, until: &str, region: &str) -> FilterQuery {
        FilterQuery {
            from: Some(from.into()),
            until: Some(until.into()),
            region: Some(region.into()),
            product: None,
            agent: Some(String::new()),
        }
    }

    #[test]
    fn parses_dates_and_empty_means_all() {
        let f = Filters::parse(&q("2026-10-01", "2026-10-31", " North ")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.kpi_from(), "2026-10-01");
        assert_eq!(f.kpi_to(), "2026-11-01");
        assert_eq!(f.region.as_deref(), Some("North"));
        assert_eq!(f.agent, None);
        assert_eq!(f.query_string(), "?from=2026-10-01&until=2026-10-31&region=North");
    }

    #[test]
    fn rejects_bad_dates_and_reversed_periods() {
        assert!(Filters::parse(&q("2026-13-01", "2026-10-31", "")).unwrap_err().contains("`from`"));
        assert!(Filters::parse(&q("2026-11-01", "2026-10-31", "")).unwrap_err().contains("after"));
        assert!(Filters::parse(&q("2026-10-01", "2026-10-31", "a\u{0}b")).unwrap_err().contains("`region`"));
    }

    #[test]
    fn default_period_ends_today() {
        let f = Filters::parse(&FilterQuery::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.until, Utc::now().date_naive());
        assert_eq!((f.until - f.from).num_days(), DEFAULT_DAYS - 1);
    }
}
