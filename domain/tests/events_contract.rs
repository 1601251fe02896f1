//! The event contract: every event type round-trips JSON → Rust → Arrow →
//! Rust unchanged; bad input fails with an error naming the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fieldhouse_domain::Error;
use fieldhouse_domain::arrow_schema::{envelope_at, events_schema, from_record_batch, to_record_batch};
use fieldhouse_domain::event::{EVENT_TYPES, Event};
use fieldhouse_domain::samples::sample_events;
use proptest::prelude::*;
use serde_json::Value;

#[test]
fn samples_cover_every_event_type_once() {
    let samples = sample_events();
    let names: Vec<&str> = samples.iter().map(|e| e.event_type()).collect();
    let expected: Vec<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected);
    // The contract names events of every group of DOMAIN.md.
    for group in ["master", "order", "money", "claim", "stock"] {
        assert!(EVENT_TYPES.iter().any(|(_, g)| *g == group), "no event in group {group}");
    }
}

#[test]
fn samples_round_trip_through_json_and_arrow() {
    let samples = sample_events();
    for ev in &samples {
        let back = Event::from_json(&ev.to_json()).unwrap();
        assert_eq!(&back, ev, "JSON round trip of {}", ev.event_type());
    }
    let batch = to_record_batch(&samples).unwrap();
    assert_eq!(batch.schema(), events_schema());
    assert_eq!(from_record_batch(&batch).unwrap(), samples);
}

/// splitmix64: a tiny deterministic generator driven by proptest's seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_leaf(rng: &mut Rng, leaf: &Value) -> Value {
    match leaf {
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => {
            Value::String(uuid::Uuid::from_u64_pair(rng.next(), rng.next()).to_string())
        }
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
            // 2000-01-01 .. 2040-01-01, microsecond precision, random offset spelling
            let micros = 946_684_800_000_000 + (rng.below(1_262_304_000_000_000)) as i64;
            let t = chrono::DateTime::from_timestamp_micros(micros).unwrap();
            let off = chrono::FixedOffset::east_opt(((rng.below(49) as i32) - 24) * 1800).unwrap();
            Value::String(t.with_timezone(&off).to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
        }
        Value::String(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => {
            let d = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Days::new(rng.below(20_000));
            Value::String(d.to_string())
        }
        Value::String(_) => {
            const ALPHABET: &[char] = &['a', 'Z', '0', ' ', 'ä', '€', '"', '\\', ',', '\n', '漢', '🛠'];
            let len = rng.below(12) as usize;
            Value::String((0..len).map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize]).collect())
        }
        Value::Number(n) if n.is_f64() => {
            let f = (rng.next() as f64 / u64::MAX as f64 - 0.5) * 360.0;
            Value::from(f)
        }
        Value::Number(_) => match rng.below(3) {
            0 => Value::from(rng.below(100) as i64),
            1 => Value::from(rng.next() as i32 as i64),
            _ => Value::from(rng.next() as i64),
        },
        Value::Bool(_) => Value::Bool(rng.below(2) == 1),
        Value::Null => Value::from(rng.below(6) as i64),
        other => other.clone(),
    }
}

/// Randomise every leaf that the contract still accepts after the change.
fn mutate(rng: &mut Rng, root: &mut Value, path: &mut Vec<PathStep>) {
    let steps: Vec<PathStep> = match node(root, path) {
        Value::Object(m) => {
            m.keys().filter(|k| *k != "type" && *k != "schema_version").map(|k| PathStep::Key(k.clone())).collect()
        }
        Value::Array(a) => (0..a.len()).map(PathStep::Index).collect(),
        _ => {
            let old = node(root, path).clone();
            let new = random_leaf(rng, &old);
            *node_mut(root, path) = new;
            if Event::from_value(root.clone()).is_err() {
                *node_mut(root, path) = old;
            }
            return;
        }
    };
    for s in steps {
        path.push(s);
        mutate(rng, root, path);
        path.pop();
    }
}

#[derive(Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn node<'a>(v: &'a Value, path: &[PathStep]) -> &'a Value {
    path.iter().fold(v, |v, s| match s {
        PathStep::Key(k) => &v[k.as_str()],
        PathStep::Index(i) => &v[*i],
    })
}

fn node_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(v, |v, s| match s {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// JSON → Rust → Arrow → Rust gives the same event, for random values of
    /// every field of every event type; the typed columns equal the payload's.
    #[test]
    fn every_event_type_round_trips(seed in any::<u64>()) {
        let samples = sample_events();
        let mut rng = Rng(seed);
        let mut batch_events = Vec::new();
        for sample in &samples {
            let mut value = sample.to_value();
            mutate(&mut rng, &mut value, &mut Vec::new());
            let text = value.to_string();
            let decoded = Event::from_json(&text).unwrap();
            // JSON → Rust → JSON → Rust is stable
            prop_assert_eq!(&Event::from_json(&decoded.to_json()).unwrap(), &decoded);
            batch_events.push(decoded);
        }
        let batch = to_record_batch(&batch_events).unwrap();
        let back = from_record_batch(&batch).unwrap();
        prop_assert_eq!(&back, &batch_events);
        for (i, ev) in batch_events.iter().enumerate() {
            prop_assert_eq!(envelope_at(&batch, i).unwrap(), ev.payload.envelope());
        }
    }
}

fn opened() -> Value {
    sample_events().into_iter().find(|e| e.event_type() == "order_opened").unwrap().to_value()
}

#[test]
fn unknown_event_type_is_named() {
    let mut v = opened();
    v["type"] = Value::from("order_teleported");
    let err = Event::from_value(v).unwrap_err();
    assert!(matches!(&err, Error::UnknownEventType { event_type } if event_type == "order_teleported"), "{err}");
    assert_eq!(err.field(), Some("type"));
}

#[test]
fn wrong_field_types_name_the_field() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("priority", Value::from(5), "priority"),
        ("priority", Value::from("P9"), "priority"),
        ("response_target_minutes", Value::from("four hours"), "response_target_minutes"),
        ("order_id", Value::from("not-a-uuid"), "order_id"),
        ("response_due_at", Value::from("2026-10-01T12:00:00"), "response_due_at"),
        ("event_id", Value::from(17), "event_id"),
        ("occurred_at", Value::from("2026-10-01T12:00:00"), "occurred_at"),
        ("occurred_at", Value::from("yesterday"), "occurred_at"),
        ("schema_version", Value::from(99), "schema_version"),
    ];
    for (field, bad, expect) in cases {
        let mut v = opened();
        v[field] = bad.clone();
        let err = Event::from_value(v).unwrap_err();
        assert_eq!(err.field(), Some(expect), "{field}={bad}: {err}");
        assert!(err.to_string().contains(expect), "message names the field: {err}");
    }
}

#[test]
fn nested_wrong_type_names_the_path() {
    let mut v = sample_events().into_iter().find(|e| e.event_type() == "invoice_issued").unwrap().to_value();
    v["lines"][0]["amount_cents"] = Value::from("lots");
    let err = Event::from_value(v).unwrap_err();
    assert_eq!(err.field(), Some("lines[0].amount_cents"), "{err}");
}

#[test]
fn missing_fields_are_named() {
    for field in ["order_id", "occurred_at", "type", "event_id", "fault_code"] {
        let mut v = opened();
        v.as_object_mut().unwrap().remove(field);
        let err = Event::from_value(v).unwrap_err();
        assert!(matches!(err, Error::MissingField { .. }), "{field}: {err}");
        assert_eq!(err.field(), Some(field));
    }
}

#[test]
fn timestamp_without_zone_says_so() {
    let mut v = opened();
    v["occurred_at"] = Value::from("2026-10-01T08:00:00");
    let err = Event::from_value(v).unwrap_err();
    assert!(err.to_string().contains("no time zone"), "{err}");
}

#[test]
fn malformed_json_and_non_objects() {
    assert!(matches!(Event::from_json("{\"event_id\": "), Err(Error::MalformedJson { .. })));
    assert!(matches!(Event::from_json("[1,2]"), Err(Error::InvalidField { .. })));
}

#[test]
fn offsets_are_normalised_to_utc_and_micros() {
    let mut v = opened();
    v["occurred_at"] = Value::from("2026-10-01T10:00:00.123456789+02:00");
    let ev = Event::from_value(v).unwrap();
    assert_eq!(fieldhouse_domain::event::format_ts(&ev.occurred_at), "2026-10-01T08:00:00.123456Z");
}

/// The text of `root` with one top-level field broken in one of several ways
/// (removed, null, another type, an escaped string, duplicated, the event as
/// an array), chosen by `rng`.
fn broken_text(rng: &mut Rng, root: &Value) -> String {
    let map = root.as_object().unwrap();
    let keys: Vec<&String> = map.keys().collect();
    let key = keys[rng.below(keys.len() as u64) as usize].clone();
    let mut m = map.clone();
    match rng.below(8) {
        0 => {
            m.remove(&key);
        }
        1 => {
            m.insert(key, Value::Null);
        }
        2 => {
            m.insert(key, Value::from(rng.below(100) as i64 - 50));
        }
        3 => {
            m.insert(key, Value::from(1.5));
        }
        4 => {
            m.insert(key, Value::from("x\"y"));
        }
        5 => {
            // The same value, written with a JSON escape: valid, decoded alike.
            if let Some(Value::String(s)) = m.get(&key)
                && let Some(first) = s.chars().next().filter(char::is_ascii_alphanumeric)
            {
                let text = Value::Object(m.clone()).to_string();
                let plain = serde_json::to_string(s).unwrap();
                let escaped = format!("\"\\u{:04x}{}", first as u32, &plain[2..]);
                return text.replacen(&format!(":{plain}"), &format!(":{escaped}"), 1);
            }
        }
        6 => {
            // A duplicate key: the last one counts.
            let text = Value::Object(m.clone()).to_string();
            return format!("{{\"{key}\":17,{}", &text[1..]);
        }
        _ => return Value::Array(m.values().cloned().collect()).to_string(),
    }
    Value::Object(m).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `Event::from_json` (a fast path straight from the text, with the
    /// `Value` path as fallback) decodes exactly what `Event::from_value`
    /// of the parsed text decodes, and rejects exactly what it rejects,
    /// whatever is wrong with the record.
    #[test]
    fn fast_decoder_agrees_with_value_decoder(seed in any::<u64>()) {
        let mut rng = Rng(seed);
        for sample in &sample_events() {
            let mut value = sample.to_value();
            mutate(&mut rng, &mut value, &mut Vec::new());
            for text in [value.to_string(), broken_text(&mut rng, &value)] {
                let fast = Event::from_json(&text);
                let slow = serde_json::from_str::<Value>(&text)
                    .map_err(|e| e.to_string())
                    .and_then(|v| Event::from_value(v).map_err(|e| e.to_string()));
                match (&fast, &slow) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", text),
                    (Err(_), Err(_)) => {}
                    _ => prop_assert!(false, "fast {:?} but value path {:?} for {}", fast, slow, text),
                }
            }
        }
    }
}
