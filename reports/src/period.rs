//! Report periods: a full ISO week (`2026-W42`) or a full calendar month
//! (`2026-10`) in the report's time zone.

use std::fmt;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What a report covers, relative to the moment it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// The last complete Monday–Sunday week.
    LastFullWeek,
    /// The last complete calendar month.
    LastFullMonth,
}

/// One concrete period: local dates `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub kind: PeriodKind,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The period of `kind` that contains local date `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> Period {
        match kind {
            PeriodKind::LastFullWeek => {
                let start = day.week(Weekday::Mon).first_day();
                Period { kind, start, end: start + Days::new(7) }
            }
            PeriodKind::LastFullMonth => {
                let start = day.with_day(1).unwrap_or(day);
                Period { kind, start, end: start + Months::new(1) }
            }
        }
    }

    /// The last complete period before the one containing local date `today`.
    pub fn last_full(kind: PeriodKind, today: NaiveDate) -> Period {
        Period::containing(kind, today).prev()
    }

    /// The period before this one.
    pub fn prev(&self) -> Period {
        Period::containing(self.kind, self.start - Days::new(1))
    }

    /// The period after this one.
    pub fn next(&self) -> Period {
        Period::containing(self.kind, self.end)
    }

    /// Parse a label: `YYYY-MM` for months, `YYYY-Www` (ISO week) for weeks.
    pub fn parse(kind: PeriodKind, label: &str) -> Result<Period> {
        let bad = |message: &str| Error::Period { label: label.to_owned(), message: message.to_owned() };
        match kind {
            PeriodKind::LastFullMonth => {
                let day = NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d")
                    .map_err(|_| bad("expected a month, YYYY-MM (e.g. 2026-10)"))?;
                if label.len() != 7 {
                    return Err(bad("expected a month, YYYY-MM (e.g. 2026-10)"));
                }
                Ok(Period::containing(kind, day))
            }
            PeriodKind::LastFullWeek => {
                let (y, w) =
                    label.split_once("-W").ok_or_else(|| bad("expected an ISO week, YYYY-Www (e.g. 2026-W42)"))?;
                let y: i32 = y.parse().map_err(|_| bad("bad year"))?;
                let w: u32 = w.parse().map_err(|_| bad("bad week number"))?;
                let day = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon).ok_or_else(|| bad("no such ISO week"))?;
                Ok(Period::containing(kind, day))
            }
        }
    }

    /// The label used in folder names and reports.
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::LastFullMonth => self.start.format("%Y-%m").to_string(),
            PeriodKind::LastFullWeek => {
                let w = self.start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
        }
    }

    /// The instant the period starts, in time zone `tz`.
    pub fn start_utc(&self, tz: Tz) -> DateTime<Utc> {
        local_midnight(tz, self.start)
    }

    /// The instant the period ends (exclusive), in time zone `tz`.
    pub fn end_utc(&self, tz: Tz) -> DateTime<Utc> {
        local_midnight(tz, self.end)
    }

    /// The `n` periods ending with this one, oldest first (`n` ≥ 1).
    pub fn window(&self, n: u32) -> Period {
        let mut first = *self;
        for _ in 1..n.max(1) {
            first = first.prev();
        }
        Period { kind: self.kind, start: first.start, end: self.end }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Local midnight of `day` in `tz` as UTC; on a DST gap at midnight, the
/// first instant after it.
fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let mut t = day.and_time(NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn last_full_month_and_week() {
        let m = Period::last_full(PeriodKind::LastFullMonth, d(2026, 11, 1));
        assert_eq!((m.start, m.end, m.label()), (d(2026, 10, 1), d(2026, 11, 1), "2026-10".to_owned()));
        // Sunday 2026-11-22: the week containing it is W47, the last full one W46.
        let w = Period::last_full(PeriodKind::LastFullWeek, d(2026, 11, 22));
        assert_eq!((w.start, w.end, w.label()), (d(2026, 11, 9), d(2026, 11, 16), "2026-W46".to_owned()));
        assert_eq!(Period::parse(PeriodKind::LastFullWeek, "2026-W46").unwrap(), w);
        assert_eq!(Period::parse(PeriodKind::LastFullMonth, "2026-10").unwrap(), m);
        assert!(Period::parse(PeriodKind::LastFullMonth, "2026-13").is_err());
        assert!(Period::parse(PeriodKind::LastFullMonth, "2026-W4").is_err());
        assert!(Period::parse(PeriodKind::LastFullWeek, "2026-W54").is_err());
    }

    #[test]
    fn window_and_time_zone_bounds() {
        let m = Period::parse(PeriodKind::LastFullMonth, "2026-10").unwrap();
        assert_eq!(m.window(3).start, d(2026, 8, 1));
        assert_eq!(m.next().label(), "2026-11");
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // October starts in summer time (UTC+2) and ends in winter time (UTC+1).
        assert_eq!(m.start_utc(tz).to_rfc3339(), "2026-09-30T22:00:00+00:00");
        assert_eq!(m.end_utc(tz).to_rfc3339(), "2026-10-31T23:00:00+00:00");
    }
}
