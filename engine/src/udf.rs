//! Scalar UDFs: the SLA clock from `fieldhouse_domain` (no calendar
//! arithmetic lives in SQL), small JSON accessors for the `payload` column,
//! and the session's reference instant.
//!
//! SLA functions (all `Immutable`; any NULL required argument, or a calendar
//! JSON that does not parse, gives NULL):
//!
//! - `business_seconds(calendar_json, start, end [, pauses])` → Int64: business
//!   seconds in `[start, end)` minus the business time inside pauses.
//! - `sla_deadline(calendar_json, start, target_minutes [, pauses])` →
//!   Timestamp(µs, UTC): start + target in business time, pushed out by pauses.
//!   NULL while a pause is still open (the deadline is not known yet).
//! - `sla_state(calendar_json, start, target_minutes, stopped_at, now [, pauses [, at_risk_fraction]])`
//!   → Utf8 `on_track` / `at_risk` / `breached` / `met`; `at_risk_fraction`
//!   defaults to 0.2 (less than 20 % of the target left).
//!
//! `pauses` is a `List<Struct<start: Timestamp, end: Timestamp>>`, as built in
//! SQL by `array_agg(named_struct('start', s, 'end', e))`; a NULL list is no
//! pause; a NULL `end` is a pause still open, closed at `end` (business
//! seconds) or `now` (SLA state).
//!
//! JSON accessors over one level of an object: `json_str(json, key)` (strings
//! as they are, other values as JSON text), `json_int(json, key)`,
//! `json_bool(json, key)`, `json_array(json, key)` → List<Utf8> with each
//! element as JSON text (strings unquoted); `json_drop(json, key)` → Utf8:
//! the object without `key` (the text as it was when the key is absent), which
//! the partner scope uses to keep ids of other parties out of payloads.
//!
//! `fh_now()`: the session's reference instant ("now", or the as-of instant).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Array, Int64Array, Int64Builder, ListArray, ListBuilder,
    StringArray, StringBuilder, StructArray, TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field};
use chrono::{DateTime, TimeDelta, Utc};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use fieldhouse_domain::arrow_schema::timestamp_type;
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::sla::{self, Pause};
use serde_json::Value;

/// The default share of the target below which a running clock is at risk.
pub const DEFAULT_AT_RISK_FRACTION: f64 = 0.2;

/// Parsed calendars by their JSON text, shared by the SLA UDFs of a session.
#[derive(Debug, Default, Clone)]
pub struct CalendarCache {
    inner: Arc<Mutex<HashMap<String, Option<Arc<Calendar>>>>>,
}

impl CalendarCache {
    fn get(&self, json: &str) -> Option<Arc<Calendar>> {
        let mut map = match self.inner.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(c) = map.get(json) {
            return c.clone();
        }
        let parsed = match Calendar::from_json(json) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                tracing::warn!(error = %e, "calendar JSON does not parse; SLA functions give NULL for it");
                None
            }
        };
        map.insert(json.to_owned(), parsed.clone());
        parsed
    }
}

/// The SLA and JSON UDFs of one session, with `fh_now()` fixed at `now`.
pub fn all(now: DateTime<Utc>) -> Vec<ScalarUDF> {
    let cache = CalendarCache::default();
    vec![
        ScalarUDF::from(SlaUdf::new(SlaKind::BusinessSeconds, cache.clone())),
        ScalarUDF::from(SlaUdf::new(SlaKind::Deadline, cache.clone())),
        ScalarUDF::from(SlaUdf::new(SlaKind::State, cache)),
        ScalarUDF::from(JsonUdf::new(JsonKind::Str)),
        ScalarUDF::from(JsonUdf::new(JsonKind::Int)),
        ScalarUDF::from(JsonUdf::new(JsonKind::Bool)),
        ScalarUDF::from(JsonUdf::new(JsonKind::Array)),
        ScalarUDF::from(JsonUdf::new(JsonKind::Drop)),
        ScalarUDF::from(NowUdf::new(now)),
    ]
}

/// The UDFs of a cluster's scheduler and executors ([`crate::cluster`]): as
/// [`all`], but `fh_now()` fails when called: a client folds it into the
/// constant of its session before its plan leaves it, and a server has no
/// session instant of its own to give.
pub fn cluster_side() -> Vec<ScalarUDF> {
    let mut udfs = all(DateTime::UNIX_EPOCH);
    udfs.retain(|f| f.name() != "fh_now");
    udfs.push(ScalarUDF::from(NowUdf { micros: None, signature: Signature::nullary(Volatility::Immutable) }));
    udfs
}

// ----------------------------------------------------------------------------
// SLA clock
// ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SlaKind {
    BusinessSeconds,
    Deadline,
    State,
}

impl SlaKind {
    fn name(self) -> &'static str {
        match self {
            SlaKind::BusinessSeconds => "business_seconds",
            SlaKind::Deadline => "sla_deadline",
            SlaKind::State => "sla_state",
        }
    }

    /// The expected type of each argument (`None` = the pauses list) and how many are required.
    fn arg_types(self) -> (Vec<Option<DataType>>, usize) {
        let t = || Some(timestamp_type());
        let s = Some(DataType::Utf8);
        let i = Some(DataType::Int64);
        match self {
            SlaKind::BusinessSeconds => (vec![s, t(), t(), None], 3),
            SlaKind::Deadline => (vec![s, t(), i, None], 3),
            SlaKind::State => (vec![s, t(), i, t(), t(), None, Some(DataType::Float64)], 5),
        }
    }
}

/// One of `business_seconds`, `sla_deadline`, `sla_state`.
#[derive(Debug, Clone)]
struct SlaUdf {
    kind: SlaKind,
    signature: Signature,
    cache: CalendarCache,
}

impl SlaUdf {
    fn new(kind: SlaKind, cache: CalendarCache) -> Self {
        Self { kind, signature: Signature::user_defined(Volatility::Immutable), cache }
    }
}

impl PartialEq for SlaUdf {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && Arc::ptr_eq(&self.cache.inner, &other.cache.inner)
    }
}
impl Eq for SlaUdf {}
impl Hash for SlaUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

fn is_list(t: &DataType) -> bool {
    matches!(t, DataType::List(_) | DataType::LargeList(_) | DataType::Null)
}

impl ScalarUDFImpl for SlaUdf {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            SlaKind::BusinessSeconds => DataType::Int64,
            SlaKind::Deadline => timestamp_type(),
            SlaKind::State => DataType::Utf8,
        })
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let (expected, required) = self.kind.arg_types();
        if arg_types.len() < required || arg_types.len() > expected.len() {
            return plan_err!(
                "{} takes {} to {} arguments, got {}",
                self.name(),
                required,
                expected.len(),
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .zip(expected)
            .map(|(given, want)| match want {
                Some(t) => Ok(t),
                None if is_list(given) => Ok(given.clone()),
                None => {
                    plan_err!("{}: pauses must be a list of struct(start, end) timestamps, got {given}", self.name())
                }
            })
            .collect()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let n = args.number_rows;
        let (expected, _) = self.kind.arg_types();
        let mut cast = Vec::with_capacity(arrays.len());
        for (a, want) in arrays.iter().zip(&expected) {
            cast.push(match want {
                Some(t) if a.data_type() != t => arrow::compute::cast(a, t)?,
                _ => a.clone(),
            });
        }
        let cal = cast[0].as_string::<i32>();
        let start = ts_array(&cast[1])?;
        let pauses_col = match self.kind {
            SlaKind::BusinessSeconds | SlaKind::Deadline => cast.get(3),
            SlaKind::State => cast.get(5),
        };
        let pauses = PauseColumn::new(pauses_col)?;
        let result: ArrayRef = match self.kind {
            SlaKind::BusinessSeconds => {
                let end = ts_array(&cast[2])?;
                let mut out = Int64Builder::with_capacity(n);
                for i in 0..n {
                    let (Some(c), Some(s), Some(e)) = (self.calendar(cal, i), ts(start, i), ts(end, i)) else {
                        out.append_null();
                        continue;
                    };
                    let p = pauses.row(i, Some(e))?;
                    out.append_value(c.business_elapsed(s, e, &p).num_seconds());
                }
                Arc::new(out.finish())
            }
            SlaKind::Deadline => {
                let target = cast[2].as_primitive::<arrow::datatypes::Int64Type>();
                let mut out = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
                for i in 0..n {
                    let (Some(c), Some(s), Some(m)) = (self.calendar(cal, i), ts(start, i), int(target, i)) else {
                        out.append_null();
                        continue;
                    };
                    if pauses.has_open(i) {
                        out.append_null();
                        continue;
                    }
                    let p = pauses.row(i, None)?;
                    out.append_option(c.deadline(s, TimeDelta::minutes(m), &p).map(|d| d.timestamp_micros()));
                }
                Arc::new(out.finish())
            }
            SlaKind::State => {
                let target = cast[2].as_primitive::<arrow::datatypes::Int64Type>();
                let stopped = ts_array(&cast[3])?;
                let now = ts_array(&cast[4])?;
                let fraction: Option<&Float64Array> = cast.get(6).map(|a| a.as_primitive());
                let mut out = StringBuilder::with_capacity(n, n * 8);
                for i in 0..n {
                    let (Some(c), Some(s), Some(m), Some(now)) =
                        (self.calendar(cal, i), ts(start, i), int(target, i), ts(now, i))
                    else {
                        out.append_null();
                        continue;
                    };
                    let f =
                        fraction.and_then(|f| (!f.is_null(i)).then(|| f.value(i))).unwrap_or(DEFAULT_AT_RISK_FRACTION);
                    let p = pauses.row(i, Some(now))?;
                    let state = sla::sla_state(&c, s, TimeDelta::minutes(m), &p, ts(stopped, i), now, f);
                    out.append_value(state.as_str());
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(result))
    }
}

impl SlaUdf {
    fn calendar(&self, cal: &StringArray, i: usize) -> Option<Arc<Calendar>> {
        if cal.is_null(i) { None } else { self.cache.get(cal.value(i)) }
    }
}

fn ts_array(a: &ArrayRef) -> DfResult<&TimestampMicrosecondArray> {
    match a.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        Some(t) => Ok(t),
        None => exec_err!("expected Timestamp(Microsecond), got {}", a.data_type()),
    }
}

fn ts(a: &TimestampMicrosecondArray, i: usize) -> Option<DateTime<Utc>> {
    if a.is_null(i) { None } else { DateTime::from_timestamp_micros(a.value(i)) }
}

fn int(a: &Int64Array, i: usize) -> Option<i64> {
    if a.is_null(i) { None } else { Some(a.value(i)) }
}

/// One pause as read: start and end, either possibly NULL.
type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The pauses argument, row by row.
struct PauseColumn {
    list: Option<ListArray>,
}

impl PauseColumn {
    fn new(col: Option<&ArrayRef>) -> DfResult<Self> {
        let list = match col {
            None => None,
            Some(a) => match a.data_type() {
                DataType::Null => None,
                DataType::List(_) => Some(a.as_list::<i32>().clone()),
                DataType::LargeList(f) => {
                    let c = arrow::compute::cast(a, &DataType::List(f.clone()))?;
                    Some(c.as_list::<i32>().clone())
                }
                other => return exec_err!("pauses must be a list, got {other}"),
            },
        };
        Ok(Self { list })
    }

    fn spans(&self, i: usize) -> DfResult<Vec<Span>> {
        let Some(list) = &self.list else { return Ok(Vec::new()) };
        if list.is_null(i) {
            return Ok(Vec::new());
        }
        let value = list.value(i);
        let Some(st) = value.as_any().downcast_ref::<StructArray>() else {
            return exec_err!("pauses must be a list of struct(start, end), got {}", value.data_type());
        };
        if st.num_columns() < 2 {
            return exec_err!("pauses must be a list of struct(start, end)");
        }
        let pick = |name: &str, pos: usize| -> DfResult<ArrayRef> {
            let c = st.column_by_name(name).unwrap_or_else(|| st.column(pos)).clone();
            Ok(if c.data_type() == &timestamp_type() { c } else { arrow::compute::cast(&c, &timestamp_type())? })
        };
        let (s, e) = (pick("start", 0)?, pick("end", 1)?);
        let (s, e) = (ts_array(&s)?, ts_array(&e)?);
        Ok((0..st.len()).filter(|j| !st.is_null(*j)).map(|j| (ts(s, j), ts(e, j))).collect())
    }

    fn has_open(&self, i: usize) -> bool {
        self.spans(i).is_ok_and(|v| v.iter().any(|(s, e)| s.is_some() && e.is_none()))
    }

    /// Pauses of row `i`; an open pause is closed at `close` (or dropped when `close` is None).
    fn row(&self, i: usize, close: Option<DateTime<Utc>>) -> DfResult<Vec<Pause>> {
        Ok(self.spans(i)?.into_iter().filter_map(|(s, e)| Some(Pause { start: s?, end: e.or(close)? })).collect())
    }
}

// ----------------------------------------------------------------------------
// JSON accessors
// ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum JsonKind {
    Str,
    Int,
    Bool,
    Array,
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct JsonUdf {
    kind: JsonKind,
    signature: Signature,
}

impl JsonUdf {
    fn new(kind: JsonKind) -> Self {
        Self { kind, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

/// The value of `key` in the JSON object `json` (the last one if repeated),
/// read without building the whole object: other values are skipped. `None`
/// when the key is absent or `json` is not a JSON object.
fn top_level_value(json: &str, key: &str) -> Option<Value> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

    struct IsKey<'k>(&'k str);
    impl<'de> DeserializeSeed<'de> for IsKey<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl Visitor<'_> for IsKey<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object key")
        }
        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            Ok(v == self.0)
        }
    }
    struct Find<'k>(&'k str);
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
            let mut found = None;
            while let Some(hit) = map.next_key_seed(IsKey(self.0))? {
                if hit {
                    found = Some(map.next_value::<Value>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let found = (&mut de).deserialize_map(Find(key)).ok()?;
    de.end().ok()?;
    found
}

/// `json` (an object holding `key`) without `key`, as JSON text.
fn without_key(json: &str, key: &str) -> String {
    match serde_json::from_str::<serde_json::Map<String, Value>>(json) {
        Ok(mut object) => {
            object.remove(key);
            Value::Object(object).to_string()
        }
        Err(_) => json.to_string(),
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl ScalarUDFImpl for JsonUdf {
    fn name(&self) -> &str {
        match self.kind {
            JsonKind::Str => "json_str",
            JsonKind::Int => "json_int",
            JsonKind::Bool => "json_bool",
            JsonKind::Array => "json_array",
            JsonKind::Drop => "json_drop",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            JsonKind::Str | JsonKind::Drop => DataType::Utf8,
            JsonKind::Int => DataType::Int64,
            JsonKind::Bool => DataType::Boolean,
            JsonKind::Array => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        })
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!("{}(json, key) takes 2 arguments, got {}", self.name(), arg_types.len());
        }
        // Any string type as it is: a cast to Utf8 would copy every payload of the batch.
        let text = match &arg_types[0] {
            t @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => t.clone(),
            _ => DataType::Utf8,
        };
        Ok(vec![text, DataType::Utf8])
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        // The key is nearly always a literal: read it once.
        let key_scalar = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Utf8(k)) => Some(k.clone()),
            _ => None,
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let json = &arrays[0];
        let owned;
        let json = match json.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json,
            _ => {
                owned = arrow::compute::cast(json, &DataType::Utf8)?;
                &owned
            }
        };
        let text = |i: usize| -> Option<&str> {
            if json.is_null(i) {
                return None;
            }
            Some(match json.data_type() {
                DataType::Utf8View => json.as_string_view().value(i),
                DataType::LargeUtf8 => json.as_string::<i64>().value(i),
                _ => json.as_string::<i32>().value(i),
            })
        };
        let keys = arrow::compute::cast(&arrays[1], &DataType::Utf8)?;
        let keys = keys.as_string::<i32>();
        let lookup = |i: usize| -> Option<Value> {
            let key = match &key_scalar {
                Some(k) => k.as_deref()?,
                None if keys.is_null(i) => return None,
                None => keys.value(i),
            };
            top_level_value(text(i)?, key)
        };
        let out: ArrayRef = match self.kind {
            JsonKind::Drop => {
                let mut b = StringBuilder::with_capacity(n, n * 64);
                for i in 0..n {
                    let key = match &key_scalar {
                        Some(k) => k.as_deref(),
                        None if keys.is_null(i) => None,
                        None => Some(keys.value(i)),
                    };
                    b.append_option(text(i).map(|t| match key {
                        Some(k) if top_level_value(t, k).is_some() => without_key(t, k),
                        _ => t.to_string(),
                    }));
                }
                Arc::new(b.finish())
            }
            JsonKind::Str => {
                let mut b = StringBuilder::with_capacity(n, n * 16);
                for i in 0..n {
                    b.append_option(lookup(i).as_ref().and_then(value_text));
                }
                Arc::new(b.finish())
            }
            JsonKind::Int => {
                let mut b = Int64Builder::with_capacity(n);
                for i in 0..n {
                    b.append_option(lookup(i).and_then(|v| match v {
                        Value::Number(x) => x.as_i64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }));
                }
                Arc::new(b.finish())
            }
            JsonKind::Bool => {
                let mut b = BooleanBuilder::with_capacity(n);
                for i in 0..n {
                    b.append_option(lookup(i).and_then(|v| v.as_bool()));
                }
                Arc::new(b.finish())
            }
            JsonKind::Array => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for i in 0..n {
                    match lookup(i) {
                        Some(Value::Array(items)) => {
                            for item in &items {
                                b.values().append_option(value_text(item));
                            }
                            b.append(true);
                        }
                        _ => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

// ----------------------------------------------------------------------------
// fh_now()
// ----------------------------------------------------------------------------

/// `fh_now()`: the reference instant of the session, constant for its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct NowUdf {
    /// `None` on a cluster's servers (see [`cluster_side`]).
    micros: Option<i64>,
    signature: Signature,
}

impl NowUdf {
    fn new(now: DateTime<Utc>) -> Self {
        Self { micros: Some(now.timestamp_micros()), signature: Signature::nullary(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for NowUdf {
    fn name(&self) -> &str {
        "fh_now"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(timestamp_type())
    }
    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let Some(micros) = self.micros else {
            return datafusion::common::exec_err!(
                "fh_now() reached a cluster server: the client must fold it into its session's instant"
            );
        };
        Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into()))))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use arrow::array::AsArray;
    use datafusion::prelude::SessionContext;
    use fieldhouse_domain::calendar::Holiday;

    use super::*;

    fn office() -> String {
        // Mon–Fri 08:00–18:00 UTC, Tue 2026-10-06 a holiday.
        let hm = |h| chrono::NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        Calendar::weekdays("office", chrono_tz::UTC, &[(hm(8), hm(18))])
            .with_holiday(Holiday::day("h", chrono::NaiveDate::from_ymd_opt(2026, 10, 6).unwrap()))
            .to_json()
    }

    async fn one(sql: &str) -> String {
        let ctx = SessionContext::new();
        for f in all(DateTime::parse_from_rfc3339("2026-10-07T12:00:00Z").unwrap().to_utc()) {
            ctx.register_udf(f);
        }
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let col = arrow::compute::cast(batches[0].column(0), &DataType::Utf8).unwrap();
        let col = col.as_string::<i32>();
        if col.is_null(0) { "NULL".into() } else { col.value(0).to_string() }
    }

    fn ts(s: &str) -> String {
        format!("arrow_cast('{s}', 'Timestamp(µs, \"UTC\")')")
    }

    #[tokio::test]
    async fn business_seconds_counts_windows_and_pauses() {
        let cal = office();
        // Mon 16:00 → Wed 11:00: Mon 16–18 (2 h) + Tue holiday + Wed 08–11 (3 h) = 5 h.
        let q =
            format!("SELECT business_seconds('{cal}', {}, {})", ts("2026-10-05T16:00:00Z"), ts("2026-10-07T11:00:00Z"));
        assert_eq!(one(&q).await, "18000");
        // Paused Mon 17:00 → Wed 09:00 (in business time: 1 h Mon + 1 h Wed) → 3 h.
        let pauses =
            format!("[named_struct('start', {}, 'end', {})]", ts("2026-10-05T17:00:00Z"), ts("2026-10-07T09:00:00Z"));
        let q = format!(
            "SELECT business_seconds('{cal}', {}, {}, {pauses})",
            ts("2026-10-05T16:00:00Z"),
            ts("2026-10-07T11:00:00Z")
        );
        assert_eq!(one(&q).await, "10800");
        // NULL end or a calendar that does not parse → NULL.
        let q = format!("SELECT business_seconds('{cal}', {}, NULL)", ts("2026-10-05T16:00:00Z"));
        assert_eq!(one(&q).await, "NULL");
        let q = format!(
            "SELECT business_seconds('not json', {}, {})",
            ts("2026-10-05T16:00:00Z"),
            ts("2026-10-07T11:00:00Z")
        );
        assert_eq!(one(&q).await, "NULL");
    }

    #[tokio::test]
    async fn deadline_and_state() {
        let cal = office();
        // 8 business hours from Mon 16:00: Mon 2 h, Tue holiday, Wed 08:00 + 6 h = Wed 14:00.
        let q = format!("SELECT CAST(sla_deadline('{cal}', {}, 480) AS VARCHAR)", ts("2026-10-05T16:00:00Z"));
        assert_eq!(one(&q).await, "2026-10-07T14:00:00Z");
        // An open pause: no deadline yet.
        let open = format!(
            "[named_struct('start', {}, 'end', arrow_cast(NULL, 'Timestamp(µs, \"UTC\")'))]",
            ts("2026-10-05T17:00:00Z")
        );
        let q = format!("SELECT sla_deadline('{cal}', {}, 480, {open})", ts("2026-10-05T16:00:00Z"));
        assert_eq!(one(&q).await, "NULL");
        // State at fh_now() = Wed 12:00, not stopped: 6 h of 8 used, 2 h left = 25 % ≥ 20 % → on_track;
        // with at-risk fraction 0.3 → at_risk; stopped Wed 15:00 (before now? no: after now → not stopped).
        let start = ts("2026-10-05T16:00:00Z");
        let q = format!("SELECT sla_state('{cal}', {start}, 480, NULL, fh_now())");
        assert_eq!(one(&q).await, "on_track");
        let q = format!("SELECT sla_state('{cal}', {start}, 480, NULL, fh_now(), NULL, 0.3)");
        assert_eq!(one(&q).await, "at_risk");
        let q = format!("SELECT sla_state('{cal}', {start}, 480, {}, fh_now())", ts("2026-10-07T11:00:00Z"));
        assert_eq!(one(&q).await, "met");
        let q = format!("SELECT sla_state('{cal}', {start}, 300, NULL, fh_now())");
        assert_eq!(one(&q).await, "breached");
        // Wrong pauses type is a planning error.
        let ctx = SessionContext::new();
        for f in all(Utc::now()) {
            ctx.register_udf(f);
        }
        let q = format!("SELECT sla_deadline('{cal}', {start}, 480, 'x')");
        assert!(ctx.sql(&q).await.is_err());
    }

    #[tokio::test]
    async fn json_accessors() {
        let j = r#"'{"a":"x","n":42,"b":true,"l":[{"k":1},"s"],"z":null}'"#;
        assert_eq!(one(&format!("SELECT json_str({j}, 'a')")).await, "x");
        assert_eq!(one(&format!("SELECT json_str({j}, 'n')")).await, "42");
        assert_eq!(one(&format!("SELECT json_str({j}, 'z')")).await, "NULL");
        assert_eq!(one(&format!("SELECT json_str({j}, 'missing')")).await, "NULL");
        assert_eq!(one(&format!("SELECT json_int({j}, 'n')")).await, "42");
        assert_eq!(one(&format!("SELECT json_bool({j}, 'b')")).await, "true");
        assert_eq!(one(&format!("SELECT array_length(json_array({j}, 'l'))")).await, "2");
        assert_eq!(one(&format!("SELECT json_array({j}, 'l')[1]")).await, r#"{"k":1}"#);
        assert_eq!(one("SELECT json_str('not json', 'a')").await, "NULL");
        // Read without building the object, with the same answers as a full parse: the last of
        // repeated keys, escaped keys, nothing from a non-object or from text with garbage after it.
        assert_eq!(one(r#"SELECT json_int('{"a":1,"b":{"a":5},"a":2}', 'a')"#).await, "2");
        assert_eq!(one(r#"SELECT json_str('{"\u0061":"y"}', 'a')"#).await, "y");
        assert_eq!(one(r#"SELECT json_str('["a"]', 'a')"#).await, "NULL");
        assert_eq!(one(r#"SELECT json_str('{"a":"x"} tail', 'a')"#).await, "NULL");
        assert_eq!(one(r#"SELECT json_str('{"a":"x","b":[1,', 'a')"#).await, "NULL");
        // String views (what Parquet reads give) are read as they are.
        assert_eq!(one(&format!("SELECT json_str(arrow_cast({j}, 'Utf8View'), 'a')")).await, "x");
        assert_eq!(one(&format!("SELECT json_int(arrow_cast({j}, 'LargeUtf8'), 'n')")).await, "42");
    }
}
