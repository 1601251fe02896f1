//! Hand-checked SLA clock examples. The arithmetic is written beside each
//! assertion. Berlin is CET = UTC+1 in winter, CEST = UTC+2 in summer;
//! New York is EST = UTC-5, EDT = UTC-4.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;
use fieldhouse_domain::Error;
use fieldhouse_domain::calendar::{Calendar, Holiday, Window};
use fieldhouse_domain::sla::{Pause, SlaState, sla_state};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap().with_timezone(&Utc)
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn h(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

fn m(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// Mon–Fri 08:00–18:00 Europe/Berlin.
fn office() -> Calendar {
    Calendar::weekdays("office", Berlin, &[(hm(8, 0), hm(18, 0))])
}

/// A calendar with one window on every day of the week.
fn daily(tz: Tz, start: NaiveTime, end: NaiveTime) -> Calendar {
    let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
    Calendar {
        name: "daily".into(),
        tz,
        windows: days.iter().map(|&weekday| Window { weekday, start, end }).collect(),
        holidays: vec![],
        always_open: false,
    }
}

#[test]
fn friday_afternoon_4h_lands_monday_1030() {
    let cal = office();
    let start = local(Berlin, 2026, 1, 16, 16, 30); // Fri 16:30 CET = 15:30 UTC
    let dl = cal.deadline(start, h(4), &[]).unwrap();
    // Fri 16:30–18:00 = 1h30; 2h30 left; Mon 08:00 + 2h30 = 10:30 CET = 09:30 UTC.
    assert_eq!(dl, utc(2026, 1, 19, 9, 30));
    assert_eq!(cal.business_elapsed(start, dl, &[]), h(4));
    // Saturday noon: 1h30 done, the weekend adds nothing.
    assert_eq!(cal.business_elapsed(start, local(Berlin, 2026, 1, 17, 12, 0), &[]), m(90));
}

#[test]
fn order_opened_on_a_holiday_starts_next_working_morning() {
    // Ascension Day, Thu 2026-05-14.
    let cal = office().with_holiday(Holiday::day("Christi Himmelfahrt", date(2026, 5, 14)));
    let start = local(Berlin, 2026, 5, 14, 10, 0); // Thu 10:00 CEST, a holiday
    // Nothing counts on the holiday: Thu 10:00–23:59 = 0.
    assert_eq!(cal.business_elapsed(start, local(Berlin, 2026, 5, 14, 23, 59), &[]), h(0));
    // Clock starts Fri 08:00 CEST; + 4h = 12:00 CEST = 10:00 UTC.
    assert_eq!(cal.deadline(start, h(4), &[]), Some(utc(2026, 5, 15, 10, 0)));
    assert!(!cal.is_business_instant(start));
}

#[test]
fn pause_over_a_night_removes_only_business_hours_inside_it() {
    let cal = office();
    let start = local(Berlin, 2026, 1, 19, 9, 0); // Mon 09:00 CET
    let pause = Pause {
        start: local(Berlin, 2026, 1, 19, 17, 0), // Mon 17:00
        end: local(Berlin, 2026, 1, 20, 10, 0),   // Tue 10:00
    };
    // Without pause: Mon 09–18 = 9h, Tue 08–09 = 1h → Tue 09:00 CET = 08:00 UTC.
    assert_eq!(cal.deadline(start, h(10), &[]), Some(utc(2026, 1, 20, 8, 0)));
    // With pause: Mon 09–17 = 8h; paused until Tue 10:00; + 2h = Tue 12:00 CET = 11:00 UTC.
    // (The pause holds Mon 17–18 + Tue 08–10 = 3h of business time, not its 17h of wall clock.)
    let dl = cal.deadline(start, h(10), &[pause]).unwrap();
    assert_eq!(dl, utc(2026, 1, 20, 11, 0));
    // Elapsed Mon 09:00 → Tue 12:00: 9h + 4h business − 3h paused = 10h.
    assert_eq!(cal.business_elapsed(start, dl, &[pause]), h(10));
    // Overlapping duplicate pauses count once.
    assert_eq!(cal.business_elapsed(start, dl, &[pause, pause]), h(10));
}

#[test]
fn dst_24x7_crossing_the_change() {
    let b = Calendar::always(Berlin);
    // Berlin spring 2026-03-29: 00:00 CET = Sat 23:00 UTC → 06:00 CEST = 04:00 UTC: 5h.
    let (s, e) = (local(Berlin, 2026, 3, 29, 0, 0), local(Berlin, 2026, 3, 29, 6, 0));
    assert_eq!((s, e), (utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 4, 0)));
    assert_eq!(b.business_elapsed(s, e, &[]), h(5));
    // 3h from local midnight: 23:00 UTC + 3h = 02:00 UTC = 04:00 CEST.
    assert_eq!(b.deadline(s, h(3), &[]), Some(utc(2026, 3, 29, 2, 0)));
    // Berlin fall 2026-10-25: 00:00 CEST = Sat 22:00 UTC → 06:00 CET = 05:00 UTC: 7h.
    let (s, e) = (local(Berlin, 2026, 10, 25, 0, 0), local(Berlin, 2026, 10, 25, 6, 0));
    assert_eq!(b.business_elapsed(s, e, &[]), h(7));

    let ny = Calendar::always(New_York);
    // NY spring 2026-03-08: 00:00 EST = 05:00 UTC → 06:00 EDT = 10:00 UTC: 5h.
    let (s, e) = (local(New_York, 2026, 3, 8, 0, 0), local(New_York, 2026, 3, 8, 6, 0));
    assert_eq!(ny.business_elapsed(s, e, &[]), h(5));
    // NY fall 2026-11-01: 00:00 EDT = 04:00 UTC → 06:00 EST = 11:00 UTC: 7h.
    let (s, e) = (local(New_York, 2026, 11, 1, 0, 0), local(New_York, 2026, 11, 1, 6, 0));
    assert_eq!(ny.business_elapsed(s, e, &[]), h(7));
}

#[test]
fn dst_24h_local_windows_crossing_the_change() {
    // Windows 00:00–00:00 (a full local day) every day: business = real time.
    let b = daily(Berlin, hm(0, 0), hm(0, 0));
    // Sun 2026-03-29 00:00 CET (Sat 23:00 UTC) → Mon 00:00 CEST (Sun 22:00 UTC): 23h.
    let day = b.business_intervals(utc(2026, 3, 28, 0, 0), utc(2026, 3, 31, 0, 0));
    assert_eq!(day, vec![(utc(2026, 3, 28, 0, 0), utc(2026, 3, 31, 0, 0))]); // merged, no seams
    assert_eq!(b.business_elapsed(local(Berlin, 2026, 3, 29, 0, 0), local(Berlin, 2026, 3, 30, 0, 0), &[]), h(23));
    // Sun 2026-10-25 00:00 CEST (Sat 22:00 UTC) → Mon 00:00 CET (Sun 23:00 UTC): 25h.
    assert_eq!(b.business_elapsed(local(Berlin, 2026, 10, 25, 0, 0), local(Berlin, 2026, 10, 26, 0, 0), &[]), h(25));
    let ny = daily(New_York, hm(0, 0), hm(0, 0));
    // Sun 2026-03-08 00:00 EST (05:00 UTC) → Mon 00:00 EDT (04:00 UTC): 23h.
    assert_eq!(ny.business_elapsed(local(New_York, 2026, 3, 8, 0, 0), local(New_York, 2026, 3, 9, 0, 0), &[]), h(23));
    // Sun 2026-11-01 00:00 EDT (04:00 UTC) → Mon 00:00 EST (05:00 UTC): 25h.
    assert_eq!(ny.business_elapsed(local(New_York, 2026, 11, 1, 0, 0), local(New_York, 2026, 11, 2, 0, 0), &[]), h(25));
}

#[test]
fn dst_window_containing_the_change() {
    let day_of = |tz: Tz, y, mo, d| (local(tz, y, mo, d, 0, 0) - h(3), local(tz, y, mo, d, 12, 0));
    // Berlin 01:00–04:00 on 2026-03-29: 01:00 CET = 00:00 UTC → 04:00 CEST = 02:00 UTC: 2h.
    let b = daily(Berlin, hm(1, 0), hm(4, 0));
    let (s, e) = day_of(Berlin, 2026, 3, 29);
    assert_eq!(b.business_intervals(s, e), vec![(utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 2, 0))]);
    // Berlin 01:00–04:00 on 2026-10-25: 01:00 CEST = Sat 23:00 UTC → 04:00 CET = 03:00 UTC: 4h.
    let (s, e) = day_of(Berlin, 2026, 10, 25);
    assert_eq!(b.business_elapsed(s, e, &[]), h(4));
    // New York 00:00–04:00 on 2026-03-08: 00:00 EST = 05:00 UTC → 04:00 EDT = 08:00 UTC: 3h.
    let ny = daily(New_York, hm(0, 0), hm(4, 0));
    let (s, e) = day_of(New_York, 2026, 3, 8);
    assert_eq!(ny.business_elapsed(s, e, &[]), h(3));
    // New York 00:00–04:00 on 2026-11-01: 00:00 EDT = 04:00 UTC → 04:00 EST = 09:00 UTC: 5h.
    let (s, e) = day_of(New_York, 2026, 11, 1);
    assert_eq!(ny.business_elapsed(s, e, &[]), h(5));
    // 4h target from NY window start on the fall-back day: 04:00 UTC + 4h = 08:00 UTC = 03:00 EST.
    assert_eq!(ny.deadline(utc(2026, 11, 1, 4, 0), h(4), &[]), Some(utc(2026, 11, 1, 8, 0)));
}

#[test]
fn dst_window_boundary_inside_the_change() {
    // Start in the spring gap → first instant after the gap: Berlin 02:30–05:00 on 2026-03-29
    // runs 03:00 CEST (01:00 UTC) → 05:00 CEST (03:00 UTC): 2h.
    let b = daily(Berlin, hm(2, 30), hm(5, 0));
    let iv = b.business_intervals(utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 12, 0));
    assert_eq!(iv, vec![(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 3, 0))]);
    // Window entirely inside the gap (02:10–02:50) holds no business time on that day.
    let g = daily(Berlin, hm(2, 10), hm(2, 50));
    assert!(g.business_intervals(utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 12, 0)).is_empty());
    // Ambiguous start → earlier instant: Berlin 02:30–06:00 on 2026-10-25 runs
    // 02:30 CEST (00:30 UTC) → 06:00 CET (05:00 UTC): 4h30.
    let b = daily(Berlin, hm(2, 30), hm(6, 0));
    let (s, e) = (utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 12, 0));
    assert_eq!(b.business_intervals(s, e), vec![(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 5, 0))]);
    // Ambiguous end → later instant: Berlin 00:00–02:30 on 2026-10-25 runs
    // 00:00 CEST (Sat 22:00 UTC) → 02:30 CET (01:30 UTC): 3h30.
    let b = daily(Berlin, hm(0, 0), hm(2, 30));
    assert_eq!(b.business_elapsed(s, e, &[]), h(3) + m(30));
}

#[test]
fn night_shift_crossing_midnight() {
    // Mon–Fri 22:00–06:00 Europe/Berlin: Friday's shift runs into Saturday.
    let cal = Calendar::weekdays("night", Berlin, &[(hm(22, 0), hm(6, 0))]);
    assert!(cal.is_business_instant(local(Berlin, 2026, 1, 17, 5, 59))); // Sat 05:59
    assert!(!cal.is_business_instant(local(Berlin, 2026, 1, 17, 6, 0))); // Sat 06:00 (half-open)
    assert!(!cal.is_business_instant(local(Berlin, 2026, 1, 18, 23, 0))); // Sun 23:00: no Sun shift
    assert!(!cal.is_business_instant(local(Berlin, 2026, 1, 19, 3, 0))); // Mon 03:00: no Sun shift
    let start = local(Berlin, 2026, 1, 17, 3, 0); // Sat 03:00 CET = 02:00 UTC
    // Sat 03:00–06:00 = 3h; next shift Mon 22:00; + 2h = Tue 00:00 CET = Mon 23:00 UTC.
    assert_eq!(cal.deadline(start, h(5), &[]), Some(utc(2026, 1, 19, 23, 0)));
    // Mon 22:00 → Fri 22:00 (Tue..Fri 06:00 mornings + Mon..Thu nights) = 4 × 8h = 32h.
    assert_eq!(cal.business_elapsed(local(Berlin, 2026, 1, 19, 22, 0), local(Berlin, 2026, 1, 23, 22, 0), &[]), h(32));
    // A holiday on Saturday does not cut Friday's shift (it started on Friday) …
    let sat = cal.clone().with_holiday(Holiday::day("sat", date(2026, 1, 17)));
    assert!(sat.is_business_instant(local(Berlin, 2026, 1, 17, 5, 0)));
    // … while a holiday on Friday drops Friday's shift but not Thursday's, which runs into Friday.
    let fri = cal.with_holiday(Holiday::day("fri", date(2026, 1, 16)));
    assert!(fri.is_business_instant(local(Berlin, 2026, 1, 16, 5, 0))); // Fri 05:00
    assert!(!fri.is_business_instant(local(Berlin, 2026, 1, 16, 23, 0))); // Fri 23:00
}

#[test]
fn recurring_christmas_and_a_holiday_range() {
    let xmas = Holiday {
        name: "Christmas Day".into(),
        from: date(2000, 12, 25),
        to: date(2000, 12, 25),
        recurring_yearly: true,
    };
    let cal = office().with_holiday(xmas);
    // Thu 2026-12-24 16:00 CET: Thu 16–18 = 2h; Fri 25 holiday; weekend; Mon 28 08:00 + 2h
    // = 10:00 CET = 09:00 UTC.
    let start = local(Berlin, 2026, 12, 24, 16, 0);
    assert_eq!(cal.deadline(start, h(4), &[]), Some(utc(2026, 12, 28, 9, 0)));
    // Tue 2030-12-24 17:00 CET: Tue 17–18 = 1h; Wed 25 holiday; Thu 26 08:00 + 1h = 09:00 CET
    // = 08:00 UTC.
    let start = local(Berlin, 2030, 12, 24, 17, 0);
    assert_eq!(cal.deadline(start, h(2), &[]), Some(utc(2030, 12, 26, 8, 0)));

    // Company shutdown Mon 2026-08-03 … Fri 2026-08-14 (one range).
    let cal = office().with_holiday(Holiday {
        name: "shutdown".into(),
        from: date(2026, 8, 3),
        to: date(2026, 8, 14),
        recurring_yearly: false,
    });
    // Fri 2026-07-31 17:00 CEST: 1h that day; next working day Mon 08-17 08:00 + 1h = 09:00 CEST
    // = 07:00 UTC.
    let start = local(Berlin, 2026, 7, 31, 17, 0);
    assert_eq!(cal.deadline(start, h(2), &[]), Some(utc(2026, 8, 17, 7, 0)));

    // Recurring range wrapping the year end, Dec 24 – Jan 1: Wed 2025-12-23 17:00 CET, 2h:
    // Tue 23 17–18 = 1h; Dec 24 – Jan 1 closed; Fri 2026-01-02 08:00 + 1h = 09:00 CET = 08:00 UTC.
    let cal = office().with_holiday(Holiday {
        name: "year end".into(),
        from: date(2019, 12, 24),
        to: date(2020, 1, 1),
        recurring_yearly: true,
    });
    let start = local(Berlin, 2025, 12, 23, 17, 0);
    assert_eq!(cal.deadline(start, h(2), &[]), Some(utc(2026, 1, 2, 8, 0)));
}

#[test]
fn sla_states() {
    let cal = office();
    let start = local(Berlin, 2026, 1, 19, 8, 0); // Mon 08:00 CET = 07:00 UTC
    let target = h(4); // deadline Mon 12:00 CET = 11:00 UTC; at risk when < 25% × 4h = 1h left
    let at = |hh, mm| local(Berlin, 2026, 1, 19, hh, mm);
    let state = |stop, now| sla_state(&cal, start, target, &[], stop, now, 0.25);
    // 09:00: 1h elapsed, 3h left ≥ 1h.
    assert_eq!(state(None, at(9, 0)), SlaState::OnTrack);
    // 11:30: 3h30 elapsed, 30 min left < 1h.
    assert_eq!(state(None, at(11, 30)), SlaState::AtRisk);
    // 12:00 exactly: 0 left, not past the deadline yet.
    assert_eq!(state(None, at(12, 0)), SlaState::AtRisk);
    // 12:30: past the 12:00 deadline, still open.
    assert_eq!(state(None, at(12, 30)), SlaState::Breached);
    // Stopped 11:45 (≤ 12:00), looked at 14:00.
    assert_eq!(state(Some(at(11, 45)), at(14, 0)), SlaState::Met);
    // Stopped exactly at 12:00.
    assert_eq!(state(Some(at(12, 0)), at(14, 0)), SlaState::Met);
    // Stopped 12:15 (> 12:00).
    assert_eq!(state(Some(at(12, 15)), at(14, 0)), SlaState::Breached);
    // A stop after `now` is not yet a stop: at 09:00 still on track.
    assert_eq!(state(Some(at(11, 0)), at(9, 0)), SlaState::OnTrack);
    // A 1h pause 10:00–11:00 moves the deadline to 13:00: at 12:30 → 30 min left → at risk.
    let p = [Pause { start: at(10, 0), end: at(11, 0) }];
    assert_eq!(sla_state(&cal, start, target, &p, None, at(12, 30), 0.25), SlaState::AtRisk);

    assert_eq!(SlaState::OnTrack.as_str(), "on_track");
    assert_eq!(SlaState::AtRisk.as_str(), "at_risk");
    assert_eq!(SlaState::Breached.as_str(), "breached");
    assert_eq!(SlaState::Met.as_str(), "met");
    assert_eq!(serde_json::to_string(&SlaState::AtRisk).unwrap(), "\"at_risk\"");
}

#[test]
fn no_business_time_means_no_deadline() {
    let empty = Calendar::weekdays("none", Berlin, &[]);
    let start = utc(2026, 1, 19, 7, 0);
    assert_eq!(empty.deadline(start, h(4), &[]), None);
    assert_eq!(empty.deadline(start, h(0), &[]), Some(start)); // zero target → start
    assert_eq!(empty.business_elapsed(start, start + h(1000), &[]), h(0));
    // Every day a (recurring) holiday: also no deadline, and no endless loop.
    let closed = office().with_holiday(Holiday {
        name: "closed".into(),
        from: date(2026, 1, 1),
        to: date(2026, 12, 31),
        recurring_yearly: true,
    });
    assert_eq!(closed.deadline(start, h(4), &[]), None);
    // Never opens again after a long closure? It does here, after a 3-year fixed range.
    let long = office().with_holiday(Holiday {
        name: "long".into(),
        from: date(2026, 1, 1),
        to: date(2028, 12, 31),
        recurring_yearly: false,
    });
    // Mon 2029-01-01 08:00 CET + 4h = 12:00 CET = 11:00 UTC.
    assert_eq!(long.deadline(start, h(4), &[]), Some(utc(2029, 1, 1, 11, 0)));
    // Only Sunday windows and only Mar 1 open: from 2026-03-02 the next Sunday Mar 1 is in 2037.
    let sundays = Calendar {
        name: "rare".into(),
        tz: chrono_tz::UTC,
        windows: vec![Window { weekday: Weekday::Sun, start: hm(10, 0), end: hm(12, 0) }],
        holidays: vec![
            Holiday { name: "closed".into(), from: date(2000, 3, 2), to: date(2001, 2, 28), recurring_yearly: true },
            Holiday { name: "leap".into(), from: date(2000, 2, 29), to: date(2000, 2, 29), recurring_yearly: true },
        ],
        always_open: false,
    };
    // Sun 2037-03-01 10:00 UTC + 1h = 11:00 UTC.
    assert_eq!(sundays.deadline(utc(2026, 3, 2, 0, 0), h(1), &[]), Some(utc(2037, 3, 1, 11, 0)));
    // Only Feb 29 open on Sundays: after 2088-02-29 the next one is 2128-02-29 (40 years on).
    let leap_sundays = Calendar {
        holidays: vec![Holiday {
            name: "closed".into(),
            from: date(2000, 3, 1),
            to: date(2001, 2, 28),
            recurring_yearly: true,
        }],
        ..sundays
    };
    assert_eq!(leap_sundays.deadline(utc(2088, 3, 1, 0, 0), h(2), &[]), Some(utc(2128, 2, 29, 12, 0)));
    // A sla_state on a calendar without business time never breaches.
    let s = sla_state(&empty, start, h(4), &[], None, start + h(1000), 0.25);
    assert_eq!(s, SlaState::OnTrack);
}

#[test]
fn json_round_trip_and_validation() {
    let cal = office().with_holiday(Holiday::day("x", date(2026, 5, 1)));
    let json = cal.to_json();
    assert!(json.contains("\"Europe/Berlin\""), "{json}");
    assert_eq!(Calendar::from_json(&json).unwrap(), cal);

    // Seconds may be omitted; always_open/holidays default.
    let ok = r#"{"name":"n","tz":"America/New_York",
        "windows":[{"weekday":"Mon","start":"08:00","end":"12:00"},
                   {"weekday":"Mon","start":"12:00","end":"18:00"}]}"#;
    let c = Calendar::from_json(ok).unwrap();
    assert_eq!(c.tz, New_York);
    assert!(!c.always_open);

    // The calendar error's message, or a panic if parsing succeeded / failed otherwise.
    let err = |json: &str| match Calendar::from_json(json) {
        Err(Error::Calendar { message }) => message,
        other => panic!("expected Error::Calendar, got {other:?}"),
    };
    let overlapping = r#"{"name":"bad","tz":"Europe/Berlin","holidays":[],
        "windows":[{"weekday":"Tue","start":"08:00:00","end":"12:00:00"},
                   {"weekday":"Tue","start":"11:00:00","end":"14:00:00"}]}"#;
    assert!(err(overlapping).contains("overlapping windows Tue 08:00:00-12:00:00 and Tue 11:00:00-14:00:00"));
    // A Mon night shift 22:00–06:00 overlaps a Tue 05:00 start.
    let night = r#"{"name":"bad","tz":"Europe/Berlin","holidays":[],
        "windows":[{"weekday":"Mon","start":"22:00","end":"06:00"},
                   {"weekday":"Tue","start":"05:00","end":"09:00"}]}"#;
    assert!(err(night).contains("overlapping windows"));
    // A Sunday night shift wraps into Monday morning (week wrap).
    let wrap = r#"{"name":"bad","tz":"Europe/Berlin","holidays":[],
        "windows":[{"weekday":"Sun","start":"22:00","end":"06:00"},
                   {"weekday":"Mon","start":"05:00","end":"09:00"}]}"#;
    assert!(err(wrap).contains("overlapping windows"));
    // Adjacent windows are fine: Mon 22:00–06:00 then Tue 06:00–09:00.
    let adjacent = r#"{"name":"ok","tz":"Europe/Berlin","holidays":[],
        "windows":[{"weekday":"Mon","start":"22:00","end":"06:00"},
                   {"weekday":"Tue","start":"06:00","end":"09:00"}]}"#;
    assert!(Calendar::from_json(adjacent).is_ok());

    let backwards = r#"{"name":"bad","tz":"Europe/Berlin","windows":[],
        "holidays":[{"name":"h","from":"2026-05-02","to":"2026-05-01"}]}"#;
    assert!(err(backwards).contains("from is after to"));
    let bad_tz = r#"{"name":"bad","tz":"Mars/Olympus","windows":[],"holidays":[]}"#;
    assert!(err(bad_tz).contains("Mars/Olympus"));
}
