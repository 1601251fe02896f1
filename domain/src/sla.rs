//! The SLA clock: business time elapsed, deadlines and SLA state.
//!
//! Pauses are counted in *business* time: only the business time inside a
//! pause is removed from the clock (subtracting wall-clock pause time from a
//! business-time target is ERPNext's known bug). Overlapping pauses count once.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;

/// A wall-clock interval `[start, end)` during which the SLA clock does not
/// run. Callers close an open pause at "now". A pause with `end <= start` is
/// ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When the pause began.
    pub start: DateTime<Utc>,
    /// When the pause ended.
    pub end: DateTime<Utc>,
}

type Span = (DateTime<Utc>, DateTime<Utc>);

/// Pauses clipped to `[lo, hi)` (`hi = None`: unbounded), non-empty, sorted
/// and merged where they overlap or touch.
fn merged_pauses(pauses: &[Pause], lo: DateTime<Utc>, hi: Option<DateTime<Utc>>) -> Vec<Span> {
    let mut v: Vec<Span> =
        pauses.iter().map(|p| (p.start.max(lo), hi.map_or(p.end, |hi| p.end.min(hi)))).filter(|(s, e)| s < e).collect();
    v.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some((_, last_end)) if s <= *last_end => *last_end = (*last_end).max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

impl Calendar {
    /// Business time in `[start, end)` minus the business time inside any
    /// pause (overlapping pauses count once). `end <= start` → zero.
    pub fn business_elapsed(&self, start: DateTime<Utc>, end: DateTime<Utc>, pauses: &[Pause]) -> TimeDelta {
        if end <= start {
            return TimeDelta::zero();
        }
        let mut total = TimeDelta::zero();
        let mut cur = start;
        // Walk only the running segments between pauses: days inside a long
        // pause are skipped rather than walked.
        let segments = merged_pauses(pauses, start, Some(end))
            .into_iter()
            .map(|(ps, pe)| (ps, Some(pe)))
            .chain(std::iter::once((end, None)));
        for (seg_end, resume) in segments {
            if cur < seg_end {
                for (s, e) in self.intervals(cur, Some(seg_end)) {
                    total += e - s;
                }
            }
            match resume {
                Some(r) => cur = r,
                None => break,
            }
        }
        total
    }

    /// The earliest instant `t >= start` with
    /// `business_elapsed(start, t, pauses) == business`. `business <= 0` →
    /// `start`. `None` if the calendar never accumulates that much business
    /// time (no windows, every day a holiday, or beyond the representable
    /// date range).
    pub fn deadline(&self, start: DateTime<Utc>, business: TimeDelta, pauses: &[Pause]) -> Option<DateTime<Utc>> {
        if business <= TimeDelta::zero() {
            return Some(start);
        }
        if !self.has_windows() {
            return None;
        }
        let mut remaining = business;
        let mut cur = start;
        let pauses = merged_pauses(pauses, start, None);
        let segments = pauses.iter().map(|&(ps, pe)| (Some(ps), Some(pe))).chain(std::iter::once((None, None)));
        for (seg_end, resume) in segments {
            if seg_end.is_none_or(|se| cur < se) {
                for (s, e) in self.intervals(cur, seg_end) {
                    let len = e - s;
                    if len >= remaining {
                        return s.checked_add_signed(remaining);
                    }
                    remaining -= len;
                }
            }
            cur = resume?;
        }
        None
    }
}

/// The state of an SLA clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Running, with at least the at-risk share of the target left.
    OnTrack,
    /// Running, less than the at-risk share of the target left, not yet breached.
    AtRisk,
    /// Stopped after the deadline, or still running past it.
    Breached,
    /// Stopped at or before the deadline.
    Met,
}

impl SlaState {
    /// `"on_track"`, `"at_risk"`, `"breached"` or `"met"` (the serde form).
    pub fn as_str(&self) -> &'static str {
        match self {
            SlaState::OnTrack => "on_track",
            SlaState::AtRisk => "at_risk",
            SlaState::Breached => "breached",
            SlaState::Met => "met",
        }
    }
}

impl std::fmt::Display for SlaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SLA state at instant `now` for a clock started at `start` with business
/// target `target`.
///
/// `stopped_at`: when the clock's goal was reached (first arrival for
/// response, completion for resolution); a value after `now` is treated as
/// not yet stopped. Met = stopped at or before the deadline; breached =
/// stopped after the deadline, or not stopped and `now` > deadline; at risk =
/// not stopped, not breached, and remaining business time <
/// `at_risk_fraction * target`; otherwise on track. A calendar without any
/// business time has no deadline: the clock can never breach.
pub fn sla_state(
    cal: &Calendar,
    start: DateTime<Utc>,
    target: TimeDelta,
    pauses: &[Pause],
    stopped_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    at_risk_fraction: f64,
) -> SlaState {
    let deadline = cal.deadline(start, target, pauses);
    if let Some(stop) = stopped_at.filter(|s| *s <= now) {
        return match deadline {
            Some(d) if stop > d => SlaState::Breached,
            _ => SlaState::Met,
        };
    }
    if deadline.is_some_and(|d| now > d) {
        return SlaState::Breached;
    }
    let elapsed = cal.business_elapsed(start, now, pauses);
    let remaining = target.checked_sub(&elapsed).unwrap_or(TimeDelta::MIN);
    if remaining.as_seconds_f64() < at_risk_fraction * target.as_seconds_f64() {
        SlaState::AtRisk
    } else {
        SlaState::OnTrack
    }
}
