//! The flat JSON form of an event: encoding, decoding (a fast path straight
//! from the text and the `Value` path that names the failing field) and the
//! one timestamp format.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Event, Payload, SCHEMA_VERSION};
use crate::{Error, Result};

/// Fields of the envelope in the JSON form; they are not part of a payload.
pub const ENVELOPE_FIELDS: &[&str] = &["event_id", "type", "schema_version", "occurred_at", "recorded_at", "source"];

impl Event {
    /// The flat JSON form (envelope fields plus payload fields and `type`).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("event_id".into(), Value::String(uuid_str(&self.event_id)));
        map.insert("type".into(), Value::String(self.event_type().into()));
        map.insert("schema_version".into(), Value::from(self.schema_version));
        map.insert("occurred_at".into(), Value::String(format_ts(&self.occurred_at)));
        if let Some(r) = &self.recorded_at {
            map.insert("recorded_at".into(), Value::String(format_ts(r)));
        }
        map.insert("source".into(), Value::String(self.source.clone()));
        if let Value::Object(p) = self.payload.payload_value() {
            for (k, v) in p {
                map.insert(k, v);
            }
        }
        Value::Object(map)
    }

    /// The flat JSON form as text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Decode the flat JSON form: the same result as
    /// [`Event::from_value`] of the parsed text.
    ///
    /// Valid events take a fast path that deserialises the envelope and the
    /// typed payload straight from the text (two passes, no intermediate
    /// `Value` tree); anything that path does not take as it stands (escaped
    /// strings in the envelope, duplicate keys, any error) goes the `Value`
    /// way, which names the failing field.
    pub fn from_json(text: &str) -> Result<Event> {
        if let Some(e) = Event::from_json_fast(text) {
            return Ok(e);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| Error::MalformedJson { message: e.to_string() })?;
        Event::from_value(value)
    }

    /// Decode the flat JSON form from a parsed value.
    pub fn from_value(value: Value) -> Result<Event> {
        let Value::Object(mut map) = value else {
            return Err(Error::InvalidField { field: ".".into(), message: "an event must be a JSON object".into() });
        };
        let event_id = take_uuid(&mut map, "event_id")?;
        let event_type = match map.remove("type") {
            Some(Value::String(s)) => s,
            Some(other) => return Err(invalid("type", format!("expected a string, got {}", json_kind(&other)))),
            None => return Err(Error::MissingField { field: "type".into() }),
        };
        let schema_version = match map.remove("schema_version") {
            None => SCHEMA_VERSION,
            Some(Value::Number(n)) => {
                let v = n.as_i64().ok_or_else(|| invalid("schema_version", "expected an integer".into()))?;
                if v < 1 || v > i64::from(SCHEMA_VERSION) {
                    return Err(Error::UnsupportedSchemaVersion { version: v, supported: SCHEMA_VERSION });
                }
                i32::try_from(v).unwrap_or(SCHEMA_VERSION)
            }
            Some(other) => {
                return Err(invalid("schema_version", format!("expected an integer, got {}", json_kind(&other))));
            }
        };
        let occurred_at =
            take_ts(&mut map, "occurred_at")?.ok_or_else(|| Error::MissingField { field: "occurred_at".into() })?;
        let recorded_at = take_ts(&mut map, "recorded_at")?;
        let source = match map.remove("source") {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => "unknown".to_string(),
            Some(other) => return Err(invalid("source", format!("expected a string, got {}", json_kind(&other)))),
        };
        let payload = Payload::from_type_and_value(&event_type, Value::Object(map))?;
        // The lake keeps instants in microseconds; truncate here so an event
        // reads back from the lake exactly as it was decoded.
        Ok(Event {
            event_id,
            schema_version,
            occurred_at: truncate_micros(occurred_at),
            recorded_at: recorded_at.map(truncate_micros),
            source,
            payload,
        })
    }
}

/// The envelope read straight from an event's JSON text (borrowed; a string
/// with escapes fails and the slow path takes over).
#[derive(Deserialize)]
struct FastEnvelope<'a> {
    event_id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    /// Absent: the current version; `null` fails (the slow path rejects it).
    #[serde(default = "absent_version")]
    schema_version: i64,
    occurred_at: &'a str,
    #[serde(default)]
    recorded_at: Option<&'a str>,
    #[serde(default)]
    source: Option<&'a str>,
}

fn absent_version() -> i64 {
    i64::from(SCHEMA_VERSION)
}

impl Event {
    fn from_json_fast(text: &str) -> Option<Event> {
        // serde also reads a struct from a JSON array; an event is an object.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        let env: FastEnvelope<'_> = serde_json::from_str(text).ok()?;
        if env.schema_version < 1 || env.schema_version > i64::from(SCHEMA_VERSION) {
            return None;
        }
        let event_id = Uuid::parse_str(env.event_id).ok()?;
        let occurred_at = parse_ts("occurred_at", env.occurred_at).ok()?;
        let recorded_at = match env.recorded_at {
            Some(s) => Some(parse_ts("recorded_at", s).ok()?),
            None => None,
        };
        let payload = Payload::from_type_and_str(env.event_type, text)?;
        Some(Event {
            event_id,
            schema_version: i32::try_from(env.schema_version).ok()?,
            occurred_at: truncate_micros(occurred_at),
            recorded_at: recorded_at.map(truncate_micros),
            source: env.source.unwrap_or("unknown").to_string(),
            payload,
        })
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Event::from_value(v).map_err(serde::de::Error::custom)
    }
}

fn invalid(field: &str, message: String) -> Error {
    Error::InvalidField { field: field.into(), message }
}

/// What a JSON value is, as an error message names it (`a string`, `null`, ...).
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn take_uuid(map: &mut Map<String, Value>, field: &str) -> Result<Uuid> {
    match map.remove(field) {
        Some(Value::String(s)) => Uuid::parse_str(&s).map_err(|e| invalid(field, format!("not a UUID: {e}"))),
        Some(other) => Err(invalid(field, format!("expected a UUID string, got {}", json_kind(&other)))),
        None => Err(Error::MissingField { field: field.into() }),
    }
}

/// Parse an RFC 3339 timestamp that carries a zone (`Z` or an offset).
/// Timestamps without a zone are rejected: they are ambiguous.
pub fn parse_ts(field: &str, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        if chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok() {
            invalid(field, format!("timestamp `{s}` has no time zone; add `Z` or an offset like `+01:00`"))
        } else {
            invalid(field, format!("`{s}` is not an RFC 3339 timestamp"))
        }
    })
}

fn take_ts(map: &mut Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>> {
    match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_ts(field, &s).map(Some),
        Some(other) => Err(invalid(field, format!("expected an RFC 3339 timestamp string, got {}", json_kind(&other)))),
    }
}

/// RFC 3339 with microseconds and `Z`, the one way we write instants.
pub fn format_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Drop sub-microsecond precision.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

fn uuid_str(u: &Uuid) -> String {
    u.hyphenated().to_string()
}
