//! Calendars and SLA terms: Easter and the public holidays per country, and
//! the SLA terms of each contract tier.

use chrono::{NaiveDate, TimeDelta};
use fieldhouse_domain::calendar::Holiday;
use fieldhouse_domain::event::{Priority, SlaTerm};

use super::Tier;

pub(super) fn easter(year: i32) -> Option<NaiveDate> {
    // Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// A country's public holidays for the years `from..=to` (fixed dates recur yearly).
pub(super) fn holidays(country: &str, from: i32, to: i32) -> Vec<Holiday> {
    let fixed = |name: &str, m: u32, d: u32| Holiday {
        name: name.to_string(),
        from: NaiveDate::from_ymd_opt(2000, m, d).unwrap_or_default(),
        to: NaiveDate::from_ymd_opt(2000, m, d).unwrap_or_default(),
        recurring_yearly: true,
    };
    let mut out = vec![fixed("New Year", 1, 1), fixed("Christmas Day", 12, 25), fixed("Boxing Day", 12, 26)];
    match country {
        "DE" => out.extend([fixed("Labour Day", 5, 1), fixed("German Unity Day", 10, 3)]),
        "AT" => out.extend([fixed("Labour Day", 5, 1), fixed("National Day", 10, 26), fixed("Epiphany", 1, 6)]),
        "CH" => out.extend([fixed("National Day", 8, 1), fixed("Berchtoldstag", 1, 2)]),
        "NL" => out.push(fixed("King's Day", 4, 27)),
        "BE" => out.extend([fixed("Labour Day", 5, 1), fixed("National Day", 7, 21)]),
        _ => {}
    }
    for year in from..=to {
        if let Some(e) = easter(year) {
            if country != "NL" {
                out.push(Holiday::day("Good Friday", e - TimeDelta::days(2)));
            }
            out.push(Holiday::day("Easter Monday", e + TimeDelta::days(1)));
        }
    }
    out
}

/// SLA terms of a tier, in business minutes.
pub fn sla_terms(tier: Tier) -> Vec<SlaTerm> {
    let t = |priority, response_minutes, resolution_minutes| SlaTerm { priority, response_minutes, resolution_minutes };
    match tier {
        Tier::Gold => vec![
            t(Priority::P1, 240, 1440),
            t(Priority::P2, 480, 2880),
            t(Priority::P3, 1440, 5760),
            t(Priority::P4, 4320, 14400),
        ],
        // 600 business minutes = one business day of 10 h: next business day.
        Tier::Silver => vec![
            t(Priority::P1, 600, 1800),
            t(Priority::P2, 600, 3000),
            t(Priority::P3, 1200, 6000),
            t(Priority::P4, 3000, 12000),
        ],
    }
}
