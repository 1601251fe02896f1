//! Business calendars: a time zone, working windows per weekday, holidays.
//!
//! Semantics (see `DOMAIN.md`, "SLA semantics"):
//!
//! - Windows are local wall-clock times in the calendar's time zone; business
//!   time is *real elapsed* (UTC) time inside windows.
//! - A window with `end <= start` crosses midnight and ends on the next local
//!   day at `end` (`end == start` is a full 24 h of wall clock).
//! - DST: local times that do not exist (spring forward) are not business
//!   time; a repeated local hour (fall back) inside a window counts twice. A
//!   window boundary that falls into a gap maps to the first instant after
//!   the gap; an ambiguous window *start* maps to the earlier instant and an
//!   ambiguous window *end* to the later one.
//! - A holiday removes the local calendar day(s) `[from, to]`: windows that
//!   *start* on a holiday are dropped. A window that started the evening
//!   before and runs past midnight into a holiday keeps running until its end
//!   (the shift was already under way; cutting it at midnight would create a
//!   half-shift nobody works). Recurring holidays repeat the month/day range
//!   every year (before and after the year written in `from`); Feb 29 only
//!   matches in leap years; a range may wrap the year end (Dec 24 – Jan 1).
//! - `always_open` (24x7) means every instant is business time: windows and
//!   holidays are ignored.

use std::borrow::Cow;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A business calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Calendar name, e.g. `"DE office hours"` or `"24x7"`.
    pub name: String,
    /// Time zone of the windows and holidays; serialised as the IANA name.
    #[serde(with = "tz_serde")]
    pub tz: Tz,
    /// Working windows (local wall clock).
    #[serde(default)]
    pub windows: Vec<Window>,
    /// Holidays (local calendar days).
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    /// `true` = 24x7: every instant is business time (windows and holidays ignored).
    #[serde(default)]
    pub always_open: bool,
}

/// A working window on one weekday, in local wall-clock time.
///
/// `end <= start` means the window crosses midnight and ends on the next day
/// at `end` (e.g. Fri 22:00–06:00 runs into Saturday); `end == start` means a
/// full 24 h from `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Weekday on which the window starts.
    pub weekday: Weekday,
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time (next day if `end <= start`).
    pub end: NaiveTime,
}

/// A holiday: the local calendar days `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    /// Holiday name.
    pub name: String,
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Repeat the month/day range every year.
    #[serde(default)]
    pub recurring_yearly: bool,
}

impl Holiday {
    /// A single-day, non-recurring holiday.
    pub fn day(name: &str, day: NaiveDate) -> Holiday {
        Holiday { name: name.to_owned(), from: day, to: day, recurring_yearly: false }
    }

    /// Whether the local calendar day `d` falls in this holiday.
    pub fn contains(&self, d: NaiveDate) -> bool {
        if !self.recurring_yearly {
            return self.from <= d && d <= self.to;
        }
        let md = |x: NaiveDate| (x.month(), x.day());
        let (lo, hi, x) = (md(self.from), md(self.to), md(d));
        if lo <= hi {
            lo <= x && x <= hi
        } else {
            // Wraps the year end, e.g. Dec 24 – Jan 1.
            x >= lo || x <= hi
        }
    }
}

mod tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>().map_err(|e| D::Error::custom(format!("unknown time zone {name:?}: {e}")))
    }
}

const WEEK_SECS: i64 = 7 * 86_400;

impl Calendar {
    /// The 24x7 calendar, named `"24x7"`.
    pub fn always(tz: Tz) -> Calendar {
        Calendar { name: "24x7".to_owned(), tz, windows: Vec::new(), holidays: Vec::new(), always_open: true }
    }

    /// Monday to Friday with the given windows each day, no holidays.
    pub fn weekdays(name: &str, tz: Tz, windows_per_day: &[(NaiveTime, NaiveTime)]) -> Calendar {
        let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
        let windows = days
            .iter()
            .flat_map(|&weekday| windows_per_day.iter().map(move |&(start, end)| Window { weekday, start, end }))
            .collect();
        Calendar { name: name.to_owned(), tz, windows, holidays: Vec::new(), always_open: false }
    }

    /// Adds a holiday.
    #[must_use]
    pub fn with_holiday(mut self, h: Holiday) -> Calendar {
        self.holidays.push(h);
        self
    }

    /// Parses and [validates](Calendar::validate) a calendar from JSON.
    /// Errors are [`Error::Calendar`].
    pub fn from_json(s: &str) -> Result<Calendar> {
        let cal: Calendar = serde_json::from_str(s).map_err(|e| Error::Calendar { message: e.to_string() })?;
        cal.validate()?;
        Ok(cal)
    }

    /// The calendar as JSON (compact).
    pub fn to_json(&self) -> String {
        // Cannot fail: every field serialises to a string, number, bool or array.
        serde_json::to_string(self).expect("a Calendar always serialises to JSON")
    }

    /// Checks that no two windows overlap (over the weekly cycle, so a
    /// Mon 22:00–06:00 night shift also conflicts with a Tue 05:00 start)
    /// and that every holiday has `from <= to` (recurring: spanning less than
    /// a year).
    pub fn validate(&self) -> Result<()> {
        // Windows as [start, end) in seconds of the week (Mon 00:00 = 0).
        let span = |w: &Window| -> (i64, i64) {
            let s =
                i64::from(w.weekday.num_days_from_monday()) * 86_400 + i64::from(w.start.num_seconds_from_midnight());
            let mut len = w.end.signed_duration_since(w.start).num_seconds();
            if len <= 0 {
                len += 86_400;
            }
            (s, s + len)
        };
        for (i, a) in self.windows.iter().enumerate() {
            for b in &self.windows[i + 1..] {
                let (a0, a1) = span(a);
                let (b0, b1) = span(b);
                let overlaps = [-WEEK_SECS, 0, WEEK_SECS].iter().any(|shift| a0 < b1 + shift && b0 + shift < a1);
                if overlaps {
                    let fmt = |w: &Window| format!("{} {}-{}", w.weekday, w.start, w.end);
                    return Err(Error::Calendar {
                        message: format!("calendar {:?}: overlapping windows {} and {}", self.name, fmt(a), fmt(b)),
                    });
                }
            }
        }
        for h in &self.holidays {
            let bad = |reason: &str| Error::Calendar {
                message: format!("calendar {:?}: invalid holiday {:?}: {reason}", self.name, h.name),
            };
            if h.from > h.to {
                return Err(bad("from is after to"));
            }
            if h.recurring_yearly && h.from.checked_add_months(chrono::Months::new(12)) <= Some(h.to) {
                return Err(bad("a recurring holiday must span less than a year"));
            }
        }
        Ok(())
    }

    /// Whether the instant `t` is business time.
    pub fn is_business_instant(&self, t: DateTime<Utc>) -> bool {
        if self.always_open {
            return true;
        }
        match t.checked_add_signed(TimeDelta::nanoseconds(1)) {
            Some(next) => self.intervals(t, Some(next)).next().is_some(),
            None => false,
        }
    }

    /// Business-time intervals (UTC, half-open `[start, end)`) intersecting
    /// `[from, to)`, clipped to it, in order, merged where adjacent.
    pub fn business_intervals(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.intervals(from, Some(to)).collect()
    }

    /// Lazy business intervals from `from` up to `to` (open-ended if `None`).
    /// Open-ended iteration stops when the calendar provably has no more
    /// business time.
    pub(crate) fn intervals(&self, from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Intervals<'_> {
        Intervals::new(self, from, to)
    }

    /// Whether the calendar has any windows at all (or is 24x7).
    pub(crate) fn has_windows(&self) -> bool {
        self.always_open || !self.windows.is_empty()
    }
}

/// Local naive time → UTC; a nonexistent time maps to the first instant after
/// the gap, an ambiguous one to the earlier (`later == false`) or later instant.
fn resolve(tz: Tz, local: NaiveDateTime, later: bool) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(if later { b } else { a }.with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, local),
    }
}

/// The first instant after the DST gap that swallows the local time `local`.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // An instant before the gap: step back by hours until the local time exists.
    let before = (1..=48).find_map(|h| {
        let l = local.checked_sub_signed(TimeDelta::hours(h))?;
        tz.from_local_datetime(&l).latest()
    })?;
    let offset_before = before.offset().fix();
    // Interpreting `local` with the pre-gap offset lands at or after the transition.
    let after = local.checked_sub_signed(TimeDelta::seconds(i64::from(offset_before.local_minus_utc())))?.and_utc();
    let offset_at =
        |secs: i64| DateTime::from_timestamp(secs, 0).map(|t| tz.offset_from_utc_datetime(&t.naive_utc()).fix());
    let mut lo = before.timestamp();
    let mut hi = after.timestamp() + i64::from(after.timestamp_subsec_nanos() > 0);
    if offset_at(hi)? == offset_before {
        return Some(after); // unexpected shape of the zone's table: best effort
    }
    // Invariant: offset(lo) == offset_before != offset(hi); transitions are whole seconds.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(mid)? == offset_before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// The local calendar date of `t` (the UTC date if the local one would fall
/// outside chrono's range).
fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    let utc = t.naive_utc();
    let local = utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix());
    local.unwrap_or(utc).date()
}

/// Lazily generated, merged business intervals. See [`Calendar::intervals`].
pub(crate) struct Intervals<'a> {
    cal: &'a Calendar,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    /// Windows sorted by (weekday from Monday, start).
    windows: Cow<'a, [Window]>,
    /// `windows[by_day[i]..by_day[i + 1]]` are the windows of weekday `i` (Monday = 0).
    by_day: [usize; 8],
    /// Current local day and the next window index within it.
    day: Option<NaiveDate>,
    idx: usize,
    /// Merged interval not yet yielded.
    pending: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// 24x7 / exhausted flags.
    always_done: bool,
    done: bool,
    /// Open-ended iteration: days walked without any window since the last
    /// non-recurring holiday ended, that day, and whether the recurring
    /// holidays close every day of the year (computed when first needed).
    empty_days: u32,
    last_fixed_holiday: Option<NaiveDate>,
    closed_all_year: Option<bool>,
}

/// Past the last non-recurring holiday, business days follow a pattern of
/// weekly windows and yearly holidays. A month/day comes back on the same
/// weekday within 12 years, Feb 29 within 40: if 41 years pass without a
/// window, none will ever come.
const MAX_EMPTY_DAYS: u32 = 41 * 366;
/// After a year without a window, check whether recurring holidays close
/// every day (the common way to end up without business time).
const CHECK_CLOSED_AFTER: u32 = 367;

impl<'a> Intervals<'a> {
    fn new(cal: &'a Calendar, from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Intervals<'a> {
        let key = |w: &Window| (w.weekday.num_days_from_monday(), w.start);
        let windows: Cow<'a, [Window]> = if cal.windows.is_sorted_by_key(key) {
            Cow::Borrowed(&cal.windows)
        } else {
            let mut v = cal.windows.clone();
            v.sort_by_key(key);
            Cow::Owned(v)
        };
        let mut by_day = [0usize; 8];
        for d in 0..7u32 {
            by_day[d as usize + 1] = windows.partition_point(|w| w.weekday.num_days_from_monday() <= d);
        }
        // Start two local days early: a window starting the day before can run
        // into today (and a midnight fall-back could stretch that further).
        let day = Some(local_date(cal.tz, from).checked_sub_signed(TimeDelta::days(2)).unwrap_or(NaiveDate::MIN));
        let last_fixed_holiday = cal.holidays.iter().filter(|h| !h.recurring_yearly).map(|h| h.to).max();
        let empty = to.is_some_and(|to| to <= from);
        Intervals {
            cal,
            from,
            to,
            windows,
            by_day,
            day,
            idx: 0,
            pending: None,
            always_done: false,
            done: empty || (!cal.always_open && cal.windows.is_empty()),
            empty_days: 0,
            last_fixed_holiday,
            closed_all_year: None,
        }
    }

    fn is_holiday(&self, d: NaiveDate) -> bool {
        self.cal.holidays.iter().any(|h| h.contains(d))
    }

    /// Whether the recurring holidays cover every month/day (of a leap year).
    fn closed_all_year(&mut self) -> bool {
        let cal = self.cal;
        *self.closed_all_year.get_or_insert_with(|| {
            let recurring = |d: NaiveDate| cal.holidays.iter().any(|h| h.recurring_yearly && h.contains(d));
            NaiveDate::from_ymd_opt(2000, 1, 1).is_some_and(|jan1| jan1.iter_days().take(366).all(recurring))
        })
    }

    /// Next raw (unmerged, unclipped) window occurrence, in order of start.
    fn next_raw(&mut self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        loop {
            let day = self.day?;
            let wd = day.weekday().num_days_from_monday() as usize;
            let (lo, hi) = (self.by_day[wd], self.by_day[wd + 1]);
            if self.idx == 0 && (lo == hi || self.is_holiday(day)) {
                self.idx = hi - lo; // skip the whole day
            }
            if lo + self.idx < hi {
                let w = &self.windows[lo + self.idx];
                self.idx += 1;
                let start_local = day.and_time(w.start);
                let end_day = if w.end <= w.start { day.succ_opt() } else { Some(day) };
                let Some(end_local) = end_day.map(|d| d.and_time(w.end)) else {
                    self.day = None;
                    return None;
                };
                let s = resolve(self.cal.tz, start_local, false);
                let e = resolve(self.cal.tz, end_local, true);
                match (s, e) {
                    (Some(s), Some(e)) if s < e => {
                        self.empty_days = 0;
                        return Some((s, e));
                    }
                    (Some(_), Some(_)) => continue, // swallowed by a DST gap
                    _ => {
                        self.day = None;
                        return None;
                    }
                }
            }
            // Next day.
            self.idx = 0;
            self.day = day.succ_opt();
            if self.to.is_none() {
                if self.last_fixed_holiday.is_some_and(|h| day <= h) {
                    self.empty_days = 0;
                } else {
                    self.empty_days = self.empty_days.saturating_add(1);
                }
                if self.empty_days > CHECK_CLOSED_AFTER && (self.empty_days > MAX_EMPTY_DAYS || self.closed_all_year())
                {
                    self.day = None; // no business time, ever again
                }
            }
        }
    }
}

impl Iterator for Intervals<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.cal.always_open {
            if self.always_done || self.done {
                return None;
            }
            self.always_done = true;
            return Some((self.from, self.to.unwrap_or(DateTime::<Utc>::MAX_UTC)));
        }
        if self.done {
            return self.pending.take();
        }
        loop {
            let Some((s, e)) = self.next_raw() else {
                self.done = true;
                return self.pending.take();
            };
            if e <= self.from {
                continue;
            }
            if self.to.is_some_and(|to| s >= to) {
                // Starts are non-decreasing: nothing further intersects.
                self.done = true;
                return self.pending.take();
            }
            let s = s.max(self.from);
            let e = self.to.map_or(e, |to| e.min(to));
            match &mut self.pending {
                Some((_, pe)) if s <= *pe => *pe = (*pe).max(e),
                Some(_) => return self.pending.replace((s, e)),
                None => self.pending = Some((s, e)),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn gap_end_berlin() {
        let local = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_time(t(2, 30));
        let got = resolve(chrono_tz::Europe::Berlin, local, false).unwrap();
        // 03:00 CEST = 01:00 UTC
        assert_eq!(got, Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap());
    }

    #[test]
    fn holiday_contains_wraps_year_end() {
        let h = Holiday {
            name: "xmas".into(),
            from: NaiveDate::from_ymd_opt(2020, 12, 24).unwrap(),
            to: NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
            recurring_yearly: true,
        };
        assert!(h.contains(NaiveDate::from_ymd_opt(2030, 12, 31).unwrap()));
        assert!(h.contains(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()));
        assert!(!h.contains(NaiveDate::from_ymd_opt(2030, 1, 2).unwrap()));
        assert!(!h.contains(NaiveDate::from_ymd_opt(2030, 12, 23).unwrap()));
    }

    #[test]
    fn feb29_only_in_leap_years() {
        let h = Holiday {
            name: "leap".into(),
            from: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            to: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            recurring_yearly: true,
        };
        assert!(h.contains(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()));
        assert!(!h.contains(NaiveDate::from_ymd_opt(2027, 2, 28).unwrap()));
        assert!(!h.contains(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()));
    }
}
