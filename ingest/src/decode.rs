//! Decoding external batches: NDJSON, a JSON array, or CSV, into records
//! with a per-record outcome.
//!
//! Formats:
//! - **NDJSON**: one event per line, the flat JSON form of the event contract
//!   (`{"event_id":…,"type":…,"occurred_at":…,"source":…, payload fields…}`).
//!   Blank lines are skipped. A line that is not JSON rejects that record only.
//! - **JSON array**: `[event, event, …]`. A body that is not a JSON array is
//!   malformed as a whole (HTTP 400).
//! - **CSV**: a header row, then one event per row. Column names are the flat
//!   JSON field names: the envelope columns `event_id`, `type`,
//!   `schema_version`, `occurred_at`, `recorded_at`, `source`, then the payload
//!   fields of the event types present (a column a type does not use is left
//!   empty). An empty cell is an absent field. Cells holding numbers or
//!   `true`/`false` are read as such; nested fields (lists, objects such as
//!   `sla`, `lines`, `calendar`, `skills`) are JSON text in the cell. When a
//!   field is a string that looks like a number (a serial `12345`), the
//!   decoder retries it as text, so no quoting is needed.
//!
//! Checks on every record, each rejecting with the field and a reason: record
//! size limit, malformed JSON, not an object, missing required fields, wrong
//! types, unknown event types, unsupported schema versions, timestamps
//! without a zone, and times more than `max_future` ahead of now.

use std::io::BufRead;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{Event, json_kind};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The wire format of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Ndjson,
    Json,
    Csv,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" | "jsonlines" => Ok(Format::Ndjson),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(Error::UnknownFormat(other.to_string())),
        }
    }
}

impl Format {
    /// From a file name's extension (`.ndjson`, `.jsonl`, `.json`, `.csv`).
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        path.extension().and_then(|e| e.to_str()).and_then(|e| e.parse().ok())
    }

    /// From an HTTP `Content-Type` (`application/x-ndjson`, `application/json`, `text/csv`).
    pub fn from_content_type(ct: &str) -> Option<Format> {
        let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines" => {
                Some(Format::Ndjson)
            }
            "application/json" => Some(Format::Json),
            "text/csv" | "application/csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

/// Limits applied to every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest record (one line, element or row) in bytes. Default 1 MiB.
    pub max_record_bytes: usize,
    /// Largest HTTP body in bytes (413 above). Default 16 MiB.
    pub max_body_bytes: usize,
    /// How far in the future `occurred_at`/`recorded_at` may be. Default 1 day.
    pub max_future: chrono::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: 1 << 20, max_body_bytes: 16 << 20, max_future: chrono::Duration::days(1) }
    }
}

/// A record as it came in, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// 0-based position in the batch.
    pub index: u64,
    /// The record's text (for dead letters).
    pub raw: String,
    kind: RawKind,
}

#[derive(Debug, Clone, PartialEq)]
enum RawKind {
    /// JSON text still to parse (NDJSON line).
    Text,
    /// An already-parsed JSON value (array element).
    Value(Value),
    /// A CSV row with its header.
    Csv { header: Arc<Vec<String>>, cells: Vec<String> },
    /// Rejected before parsing.
    Invalid { field: Option<String>, reason: String },
}

/// Why a record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    pub field: Option<String>,
    pub reason: String,
    /// The record's event id when it could be read.
    pub event_id: Option<String>,
}

impl RawRecord {
    /// Validate the record into an event (with `recorded_at` defaulted to `now`).
    pub fn validate(self, limits: &Limits, now: DateTime<Utc>) -> Decoded {
        let RawRecord { index, raw, kind } = self;
        let outcome = validate_kind(&raw, kind, limits, now);
        (index, raw, outcome)
    }
}

fn reject(field: Option<&str>, reason: impl Into<String>) -> Rejection {
    Rejection { field: field.map(str::to_string), reason: reason.into(), event_id: None }
}

fn validate_kind(
    raw: &str,
    kind: RawKind,
    limits: &Limits,
    now: DateTime<Utc>,
) -> std::result::Result<Event, Rejection> {
    if raw.len() > limits.max_record_bytes {
        return Err(reject(
            None,
            format!("record of {} bytes exceeds the limit of {} bytes", raw.len(), limits.max_record_bytes),
        ));
    }
    let value = match kind {
        RawKind::Invalid { field, reason } => return Err(Rejection { field, reason, event_id: None }),
        RawKind::Text => {
            if let Ok(mut event) = Event::from_json(raw)
                && check_times(&mut event, limits, now).is_ok()
            {
                return Ok(event);
            }
            // Rejected: the `Value` path gives the precise reason, with the
            // record's id as written.
            serde_json::from_str::<Value>(raw).map_err(|e| reject(None, format!("malformed JSON: {e}")))?
        }
        RawKind::Value(v) => v,
        RawKind::Csv { header, cells } => return csv_event(&header, cells, limits, now),
    };
    event_from_value(value, limits, now)
}

fn id_of(value: &Value) -> Option<String> {
    value.get("event_id").and_then(Value::as_str).map(str::to_string)
}

fn event_from_value(value: Value, limits: &Limits, now: DateTime<Utc>) -> std::result::Result<Event, Rejection> {
    let event_id = id_of(&value);
    let mut event = Event::from_value(value).map_err(|e| Rejection {
        field: e.field().map(str::to_string),
        reason: e.to_string(),
        event_id: event_id.clone(),
    })?;
    check_times(&mut event, limits, now).map_err(|mut r| {
        r.event_id = event_id;
        r
    })?;
    Ok(event)
}

fn check_times(event: &mut Event, limits: &Limits, now: DateTime<Utc>) -> std::result::Result<(), Rejection> {
    let horizon = now + limits.max_future;
    if event.occurred_at > horizon {
        return Err(reject(
            Some("occurred_at"),
            format!("occurred_at {} is more than {} h in the future", event.occurred_at, limits.max_future.num_hours()),
        ));
    }
    if let Some(r) = event.recorded_at
        && r > horizon
    {
        return Err(reject(Some("recorded_at"), format!("recorded_at {r} is in the future")));
    }
    event.recorded_at.get_or_insert(now);
    Ok(())
}

/// A CSV cell as a JSON value: empty → absent, numbers and booleans typed,
/// `[`/`{` → parsed JSON, anything else a string.
fn cell_value(cell: &str) -> Option<Value> {
    let t = cell.trim();
    if t.is_empty() {
        return None;
    }
    if (t.starts_with('[') || t.starts_with('{'))
        && let Ok(v) = serde_json::from_str::<Value>(t)
    {
        return Some(v);
    }
    if t == "true" || t == "false" {
        return Some(Value::Bool(t == "true"));
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::from(i));
    }
    if t.contains(['.', 'e', 'E'])
        && let Ok(f) = t.parse::<f64>()
        && f.is_finite()
    {
        return Some(Value::from(f));
    }
    Some(Value::String(cell.to_string()))
}

fn csv_event(
    header: &[String],
    cells: Vec<String>,
    limits: &Limits,
    now: DateTime<Utc>,
) -> std::result::Result<Event, Rejection> {
    if cells.len() != header.len() {
        return Err(reject(None, format!("row has {} cells, the header has {}", cells.len(), header.len())));
    }
    let mut map = Map::new();
    for (name, cell) in header.iter().zip(&cells) {
        if let Some(v) = cell_value(cell) {
            map.insert(name.clone(), v);
        }
    }
    // Retry fields that were read as numbers/booleans/JSON as plain text when
    // the contract wants a string there (at most once per column).
    for _ in 0..=header.len() {
        let value = Value::Object(map.clone());
        match event_from_value(value, limits, now) {
            Ok(e) => return Ok(e),
            Err(r) => {
                let Some(field) = r.field.clone() else { return Err(r) };
                let Some(pos) = header.iter().position(|h| *h == field) else { return Err(r) };
                match map.get(&field) {
                    Some(Value::String(_)) | None => return Err(r),
                    Some(_) => {
                        map.insert(field, Value::String(cells[pos].clone()));
                    }
                }
            }
        }
    }
    Err(reject(None, "could not decode row"))
}

/// Streams records of one batch from a reader, in chunks.
pub struct RecordReader<R: BufRead> {
    inner: Inner<R>,
    next_index: u64,
    /// Scratch buffer for NDJSON lines.
    line: Vec<u8>,
}

enum Inner<R: BufRead> {
    Ndjson(R),
    Array(std::vec::IntoIter<Value>),
    Csv { reader: csv::Reader<R>, header: Arc<Vec<String>> },
}

impl<R: BufRead> std::fmt::Debug for RecordReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader").field("next_index", &self.next_index).finish_non_exhaustive()
    }
}

impl<R: BufRead> RecordReader<R> {
    /// Start reading a batch in `format`. A JSON array is read whole (it cannot
    /// be streamed element by element here); NDJSON and CSV stream.
    pub fn new(format: Format, mut reader: R) -> Result<RecordReader<R>> {
        let inner = match format {
            Format::Ndjson => Inner::Ndjson(reader),
            Format::Json => {
                let mut buf = Vec::new();
                reader
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::MalformedBody { format: "json", message: e.to_string() })?;
                let value: Value = serde_json::from_slice(&buf)
                    .map_err(|e| Error::MalformedBody { format: "json", message: e.to_string() })?;
                match value {
                    Value::Array(items) => Inner::Array(items.into_iter()),
                    // A single object is a batch of one.
                    obj @ Value::Object(_) => Inner::Array(vec![obj].into_iter()),
                    other => {
                        return Err(Error::MalformedBody {
                            format: "json",
                            message: format!("expected an array of events, got {}", json_kind(&other)),
                        });
                    }
                }
            }
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(reader);
                let header = reader
                    .headers()
                    .map_err(|e| Error::MalformedBody { format: "csv", message: e.to_string() })?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect::<Vec<_>>();
                if header.is_empty() || !header.iter().any(|h| h == "type") {
                    return Err(Error::MalformedBody {
                        format: "csv",
                        message: "the header row must name the columns, including `type`".into(),
                    });
                }
                Inner::Csv { reader, header: Arc::new(header) }
            }
        };
        Ok(RecordReader { inner, next_index: 0, line: Vec::with_capacity(4096) })
    }

    /// Up to `max` further records; empty at the end.
    pub fn next_chunk(&mut self, max: usize) -> Result<Vec<RawRecord>> {
        let mut out = Vec::with_capacity(max.min(1 << 16));
        while out.len() < max {
            let Some(rec) = self.next_record()? else { break };
            out.push(rec);
        }
        Ok(out)
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>> {
        let index = self.next_index;
        let rec = match &mut self.inner {
            Inner::Ndjson(r) => {
                let buf = &mut self.line;
                loop {
                    buf.clear();
                    let n = r
                        .read_until(b'\n', buf)
                        .map_err(|e| Error::MalformedBody { format: "ndjson", message: e.to_string() })?;
                    if n == 0 {
                        return Ok(None);
                    }
                    if !buf.iter().all(u8::is_ascii_whitespace) {
                        break;
                    }
                }
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                // One allocation of the exact size per record (the scratch line is reused).
                match String::from_utf8(buf.clone()) {
                    Ok(raw) => RawRecord { index, raw, kind: RawKind::Text },
                    Err(e) => {
                        let raw = String::from_utf8_lossy(e.as_bytes()).into_owned();
                        RawRecord {
                            index,
                            raw,
                            kind: RawKind::Invalid { field: None, reason: "not UTF-8 text".into() },
                        }
                    }
                }
            }
            Inner::Array(items) => {
                let Some(v) = items.next() else { return Ok(None) };
                let raw = v.to_string();
                RawRecord { index, raw, kind: RawKind::Value(v) }
            }
            Inner::Csv { reader, header } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => return Ok(None),
                    Ok(true) => {
                        let cells: Vec<String> = record.iter().map(str::to_string).collect();
                        let raw = csv_line(&cells);
                        RawRecord { index, raw, kind: RawKind::Csv { header: header.clone(), cells } }
                    }
                    Err(e) => {
                        // A broken row (bad UTF-8, unbalanced quote) rejects that row only.
                        let reason = format!("unreadable CSV row: {e}");
                        RawRecord { index, raw: String::new(), kind: RawKind::Invalid { field: None, reason } }
                    }
                }
            }
        };
        self.next_index += 1;
        Ok(Some(rec))
    }
}

fn csv_line(cells: &[String]) -> String {
    let mut w =
        csv::WriterBuilder::new().has_headers(false).terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    if w.write_record(cells).is_err() {
        return cells.join(",");
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end_matches('\n').to_string()
}

/// A validated record: its index, its raw text, and the event or why not.
pub type Decoded = (u64, String, std::result::Result<Event, Rejection>);

/// Decode a whole in-memory batch (HTTP bodies, fuzzing): every record with its outcome.
pub fn decode_all(format: Format, body: &[u8], limits: &Limits, now: DateTime<Utc>) -> Result<Vec<Decoded>> {
    if body.len() > limits.max_body_bytes {
        return Err(Error::BodyTooLarge { size: body.len(), limit: limits.max_body_bytes });
    }
    let mut reader = RecordReader::new(format, body)?;
    let records = reader.next_chunk(usize::MAX)?;
    Ok(records.into_iter().map(|r| r.validate(limits, now)).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use fieldhouse_domain::samples::sample_events;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ndjson_round_trips_every_sample() {
        let events = sample_events();
        let body: String = events.iter().map(|e| e.to_json() + "\n\n").collect();
        let out = decode_all(Format::Ndjson, body.as_bytes(), &Limits::default(), now()).unwrap();
        assert_eq!(out.len(), events.len());
        for ((_, _, got), want) in out.into_iter().zip(&events) {
            let got = got.unwrap();
            assert_eq!(got.event_id, want.event_id);
            assert_eq!(got.payload, want.payload);
        }
    }

    #[test]
    fn json_array_and_malformed_body() {
        let events = sample_events();
        let body = serde_json::to_string(&events.iter().map(Event::to_value).collect::<Vec<_>>()).unwrap();
        let out = decode_all(Format::Json, body.as_bytes(), &Limits::default(), now()).unwrap();
        assert!(out.iter().all(|(_, _, r)| r.is_ok()));
        let err = decode_all(Format::Json, b"[{\"a\":", &Limits::default(), now()).unwrap_err();
        assert!(matches!(err, Error::MalformedBody { .. }), "{err}");
        let err = decode_all(Format::Json, b"42", &Limits::default(), now()).unwrap_err();
        assert!(matches!(err, Error::MalformedBody { .. }), "{err}");
    }

    #[test]
    fn csv_rows_with_numeric_looking_strings_and_nested_json() {
        let events = sample_events();
        // Build a CSV over the union of all columns.
        let values: Vec<Map<String, Value>> =
            events.iter().map(|e| e.to_value().as_object().cloned().unwrap()).collect();
        let mut cols: Vec<String> = values.iter().flat_map(|m| m.keys().cloned()).collect();
        cols.sort();
        cols.dedup();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&cols).unwrap();
        for m in &values {
            let row: Vec<String> = cols
                .iter()
                .map(|c| match m.get(c) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                })
                .collect();
            w.write_record(&row).unwrap();
        }
        let body = w.into_inner().unwrap();
        let out = decode_all(Format::Csv, &body, &Limits::default(), now()).unwrap();
        assert_eq!(out.len(), events.len());
        for ((i, raw, got), want) in out.into_iter().zip(&events) {
            let got = got.unwrap_or_else(|r| panic!("row {i} {raw}: {r:?}"));
            assert_eq!(got.payload, want.payload, "row {i}");
        }
        // A numeric-looking string field is retried as text.
        let csv = "event_id,type,occurred_at,source,manufacturer_id,name\n\
                   01920000-0000-7000-8000-000000000003,manufacturer_registered,2026-10-01T08:00:00Z,file,01920000-0000-7000-8000-000000000003,3000\n";
        let out = decode_all(Format::Csv, csv.as_bytes(), &Limits::default(), now()).unwrap();
        assert!(out[0].2.is_ok(), "{:?}", out[0].2);
    }

    #[test]
    fn every_bad_input_kind_is_rejected_with_its_field() {
        let good = sample_events()[2].to_value();
        let with = |k: &str, v: Value| {
            let mut m = good.as_object().cloned().unwrap();
            m.insert(k.into(), v);
            Value::Object(m).to_string()
        };
        let without = |k: &str| {
            let mut m = good.as_object().cloned().unwrap();
            m.remove(k);
            Value::Object(m).to_string()
        };
        let lines = [
            (with("occurred_at", "2026-10-01T08:00:00".into()), Some("occurred_at"), "no time zone"),
            (with("occurred_at", "2030-01-01T00:00:00Z".into()), Some("occurred_at"), "future"),
            (with("type", "order_teleported".into()), Some("type"), "unknown event type"),
            (without("event_id"), Some("event_id"), "missing"),
            (with("manufacturer_id", Value::from(5)), Some("manufacturer_id"), ""),
            ("{not json".to_string(), None, "malformed JSON"),
            (format!("{{\"pad\":\"{}\"}}", "x".repeat(2000)), None, "exceeds the limit"),
        ];
        let body: String = lines.iter().map(|(l, _, _)| format!("{l}\n")).collect();
        let limits = Limits { max_record_bytes: 1500, ..Limits::default() };
        let out = decode_all(Format::Ndjson, body.as_bytes(), &limits, now()).unwrap();
        assert_eq!(out.len(), lines.len());
        for ((_, _, got), (_, field, reason)) in out.into_iter().zip(&lines) {
            let r = got.unwrap_err();
            assert_eq!(r.field.as_deref(), *field, "{r:?}");
            assert!(r.reason.contains(reason), "{r:?} should mention {reason}");
        }
    }
}
