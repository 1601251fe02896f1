//! Property tests for business calendars and the SLA clock.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use fieldhouse_domain::calendar::{Calendar, Holiday, Window};
use fieldhouse_domain::sla::Pause;

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Mon–Fri 08:00–12:00 + 13:00–18:00 Europe/Berlin, Christmas every year and a
/// two-week shutdown in August 2025.
fn berlin_office() -> Calendar {
    Calendar::weekdays("berlin office", chrono_tz::Europe::Berlin, &[(hm(8, 0), hm(12, 0)), (hm(13, 0), hm(18, 0))])
        .with_holiday(Holiday {
            name: "Christmas".into(),
            from: date(2000, 12, 24),
            to: date(2000, 12, 26),
            recurring_yearly: true,
        })
        .with_holiday(Holiday {
            name: "shutdown".into(),
            from: date(2025, 8, 4),
            to: date(2025, 8, 15),
            recurring_yearly: false,
        })
}

fn always() -> Calendar {
    Calendar::always(chrono_tz::Europe::Berlin)
}

/// Windows crossing midnight and DST changes, a 24 h window, adjacent windows.
fn shifts(tz: Tz) -> Calendar {
    use Weekday::*;
    let w = |weekday, start, end| Window { weekday, start, end };
    let mut windows = vec![];
    for d in [Mon, Tue, Wed] {
        windows.push(w(d, hm(8, 0), hm(12, 0)));
        windows.push(w(d, hm(13, 0), hm(18, 0)));
    }
    for d in [Fri, Sat] {
        windows.push(w(d, hm(22, 0), hm(6, 0))); // night shift into the next day
    }
    windows.push(w(Wed, hm(18, 0), hm(18, 0))); // 24 h, adjacent to Wed 13–18
    windows.push(w(Thu, hm(18, 0), hm(22, 0))); // adjacent to the 24 h window
    windows.push(w(Sun, hm(9, 30), hm(9, 45)));
    let cal = Calendar {
        name: "shifts".into(),
        tz,
        windows,
        holidays: vec![
            Holiday { name: "xmas".into(), from: date(2000, 12, 25), to: date(2000, 12, 25), recurring_yearly: true },
            Holiday { name: "range".into(), from: date(2026, 3, 27), to: date(2026, 3, 28), recurring_yearly: false },
        ],
        always_open: false,
    };
    cal.validate().unwrap();
    cal
}

const Y2024: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z
const Y2028: i64 = 1_830_297_600; // 2028-01-01T00:00:00Z
const BUSINESS_DAY_US: i64 = 9 * 3600 * 1_000_000;

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (Y2024..Y2028, 0u32..1_000_000).prop_map(|(s, us)| DateTime::from_timestamp(s, us * 1000).unwrap())
}

/// Up to 4 pauses starting between 2 days before and 40 days after `start`,
/// each up to 6 days long (some empty or inverted, which must be ignored).
fn pauses(start: DateTime<Utc>) -> impl Strategy<Value = Vec<Pause>> {
    prop::collection::vec((-2 * 86_400i64..40 * 86_400, -3600i64..6 * 86_400), 0..4).prop_map(move |v| {
        v.into_iter()
            .map(|(off, len)| {
                let s = start + TimeDelta::seconds(off);
                Pause { start: s, end: s + TimeDelta::seconds(len) }
            })
            .collect()
    })
}

fn case() -> impl Strategy<Value = (DateTime<Utc>, TimeDelta, Vec<Pause>)> {
    instant().prop_flat_map(|s| (Just(s), (0..=30 * BUSINESS_DAY_US).prop_map(TimeDelta::microseconds), pauses(s)))
}

/// Instants near DST changes in Europe and the US (2024–2027).
fn near_dst() -> impl Strategy<Value = DateTime<Utc>> {
    let days = [
        (2024, 3, 10),
        (2024, 3, 31),
        (2024, 10, 27),
        (2024, 11, 3),
        (2026, 3, 8),
        (2026, 3, 29),
        (2026, 10, 25),
        (2026, 11, 1),
        (2027, 3, 14),
        (2027, 3, 28),
    ];
    (0..days.len(), -3 * 86_400i64..3 * 86_400).prop_map(move |(i, off)| {
        let (y, m, d) = days[i];
        Utc.with_ymd_and_hms(y, m, d, 6, 0, 0).unwrap() + TimeDelta::seconds(off / 60 * 60)
    })
}

/// Independent oracle: is `t` inside a window occurrence, judged on the local
/// wall clock (valid while no window boundary falls into a DST change).
fn oracle_business(cal: &Calendar, t: DateTime<Utc>) -> bool {
    let l = t.with_timezone(&cal.tz).naive_local();
    let today = l.date();
    [today.pred_opt().unwrap(), today].iter().any(|&d| {
        !cal.holidays.iter().any(|h| h.contains(d))
            && cal.windows.iter().any(|w| {
                if w.weekday != d.weekday() {
                    return false;
                }
                let s = d.and_time(w.start);
                let e = if w.end <= w.start { d.succ_opt().unwrap().and_time(w.end) } else { d.and_time(w.end) };
                s <= l && l < e
            })
    })
}

proptest! {
    // No regression files: failures print the minimal input instead.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

    #[test]
    fn deadline_round_trips_berlin((s, d, p) in case()) {
        let cal = berlin_office();
        let dl = cal.deadline(s, d, &p).unwrap();
        prop_assert!(dl >= s);
        prop_assert_eq!(cal.business_elapsed(s, dl, &p), d);
        // Earliest: a microsecond before, the target is not reached yet (d > 0).
        if d > TimeDelta::zero() {
            let before = dl - TimeDelta::microseconds(1);
            prop_assert!(cal.business_elapsed(s, before, &p) < d);
        }
    }

    #[test]
    fn deadline_round_trips_24x7((s, d, p) in case()) {
        let cal = always();
        let d = d * 3; // up to 30 days of 24 h (≈ 30 × 9 h × 3 = 810 h)
        let dl = cal.deadline(s, d, &p).unwrap();
        prop_assert_eq!(cal.business_elapsed(s, dl, &p), d);
        if p.is_empty() {
            prop_assert_eq!(dl, s + d);
        }
    }

    #[test]
    fn deadline_round_trips_shifts((s, d, p) in case(), ny in any::<bool>()) {
        let cal = shifts(if ny { chrono_tz::America::New_York } else { chrono_tz::Europe::Berlin });
        let dl = cal.deadline(s, d, &p).unwrap();
        prop_assert_eq!(cal.business_elapsed(s, dl, &p), d);
    }

    #[test]
    fn elapsed_is_additive(a in instant(), x in 0i64..60 * 86_400, y in 0i64..60 * 86_400, p in pauses(DateTime::from_timestamp(Y2024 + 400 * 86_400, 0).unwrap())) {
        let (b, c) = (a + TimeDelta::seconds(x.min(y)), a + TimeDelta::seconds(x.max(y)));
        for cal in [berlin_office(), always(), shifts(chrono_tz::America::New_York)] {
            prop_assert_eq!(
                cal.business_elapsed(a, c, &p),
                cal.business_elapsed(a, b, &p) + cal.business_elapsed(b, c, &p)
            );
        }
    }

    #[test]
    fn always_open_equals_wall_clock(a in instant(), b in instant()) {
        let cal = always();
        let expected = if b > a { b - a } else { TimeDelta::zero() };
        prop_assert_eq!(cal.business_elapsed(a, b, &[]), expected);
    }

    #[test]
    fn a_pause_never_moves_a_deadline_earlier((s, d, p) in case(), off in -86_400i64..30 * 86_400, len in 0i64..5 * 86_400) {
        let extra = Pause { start: s + TimeDelta::seconds(off), end: s + TimeDelta::seconds(off + len) };
        let mut more = p.clone();
        more.push(extra);
        for cal in [berlin_office(), always()] {
            let before = cal.deadline(s, d, &p).unwrap();
            let after = cal.deadline(s, d, &more).unwrap();
            prop_assert!(after >= before, "{after} < {before}");
        }
    }

    #[test]
    fn elapsed_is_monotone_in_end((s, _d, p) in case(), x in 0i64..45 * 86_400, y in 0i64..45 * 86_400) {
        let (e1, e2) = (s + TimeDelta::seconds(x.min(y)), s + TimeDelta::seconds(x.max(y)));
        for cal in [berlin_office(), always(), shifts(chrono_tz::Europe::Berlin)] {
            prop_assert!(cal.business_elapsed(s, e1, &p) <= cal.business_elapsed(s, e2, &p));
        }
    }

    #[test]
    fn intervals_are_sorted_merged_and_clipped(a in instant(), len in 0i64..20 * 86_400, ny in any::<bool>()) {
        let cal = shifts(if ny { chrono_tz::America::New_York } else { chrono_tz::Europe::Berlin });
        let b = a + TimeDelta::seconds(len);
        let iv = cal.business_intervals(a, b);
        let mut total = TimeDelta::zero();
        for (i, &(s, e)) in iv.iter().enumerate() {
            prop_assert!(a <= s && s < e && e <= b);
            if i > 0 {
                prop_assert!(iv[i - 1].1 < s, "not merged: {:?}", iv);
            }
            prop_assert!(cal.is_business_instant(s));
            prop_assert!(!cal.is_business_instant(e) || e == b);
            total += e - s;
        }
        prop_assert_eq!(total, cal.business_elapsed(a, b, &[]));
    }

    #[test]
    fn matches_minute_oracle_near_dst(a in near_dst(), minutes in 0i64..3 * 1440, ny in any::<bool>()) {
        let cal = shifts(if ny { chrono_tz::America::New_York } else { chrono_tz::Europe::Berlin });
        let b = a + TimeDelta::minutes(minutes);
        let count = (0..minutes)
            .filter(|&i| oracle_business(&cal, a + TimeDelta::minutes(i)))
            .count();
        prop_assert_eq!(cal.business_elapsed(a, b, &[]), TimeDelta::minutes(count as i64));
        let mid = a + TimeDelta::minutes(minutes / 2);
        prop_assert_eq!(cal.is_business_instant(mid), oracle_business(&cal, mid));
    }

    #[test]
    fn json_round_trips(ny in any::<bool>()) {
        let cal = shifts(if ny { chrono_tz::America::New_York } else { chrono_tz::Europe::Berlin });
        prop_assert_eq!(Calendar::from_json(&cal.to_json()).unwrap(), cal);
    }
}
