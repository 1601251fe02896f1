//! The one wide `events` table: its Arrow schema, and conversion between
//! typed [`Event`]s and Arrow `RecordBatch`es.
//!
//! Layout: envelope columns (id, type, times, source, `event_date` for
//! partitioning), then the typed ids and measures KPIs filter and join on
//! (see [`Envelope`]), then `payload`: the event's full payload as JSON, so a
//! row converts back to the exact typed event. Types stay within what Delta
//! protocol (1, 2) knows: strings, signed integers, doubles, `date`, and
//! `Timestamp(Microsecond, "UTC")`. Money is integer cents.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Date32Builder, Float64Array, Float64Builder, Int32Array, Int32Builder,
    Int64Array, Int64Builder, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::event::{Event, Payload};
use crate::{Error, Result};

/// Name of the partition column.
pub const PARTITION_COLUMN: &str = "event_date";

/// The id columns, in schema order (all nullable UTF-8 UUID strings).
pub const ID_COLUMNS: &[&str] = &[
    "order_id",
    "visit_id",
    "customer_id",
    "site_id",
    "equipment_id",
    "product_id",
    "manufacturer_id",
    "contract_id",
    "calendar_id",
    "technician_id",
    "agent_id",
    "part_id",
    "location_id",
    "invoice_id",
    "claim_id",
];

/// The one timestamp type of the lake: microseconds in UTC, what Delta calls
/// `timestamp` (every instant column of every table is of it).
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("schema_version", DataType::Int32, false),
        Field::new("occurred_at", timestamp_type(), false),
        Field::new("recorded_at", timestamp_type(), true),
        Field::new("source", DataType::Utf8, false),
        Field::new(PARTITION_COLUMN, DataType::Date32, false),
    ];
    for id in ID_COLUMNS {
        fields.push(Field::new(*id, DataType::Utf8, true));
    }
    fields.extend([
        Field::new("priority", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("fault_code", DataType::Utf8, true),
        Field::new("quantity", DataType::Int64, true),
        Field::new("minutes", DataType::Int64, true),
        Field::new("amount_cents", DataType::Int64, true),
        Field::new("currency", DataType::Utf8, true),
        Field::new("lat", DataType::Float64, true),
        Field::new("lon", DataType::Float64, true),
        Field::new("csat", DataType::Int32, true),
        Field::new("response_due_at", timestamp_type(), true),
        Field::new("resolution_due_at", timestamp_type(), true),
        Field::new("business_date", DataType::Date32, true),
        Field::new("payload", DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
});

/// The Arrow schema of the `events` table.
pub fn events_schema() -> SchemaRef {
    SCHEMA.clone()
}

const UNIX_EPOCH_DAY: i32 = 719_163; // NaiveDate::from_ymd(1970,1,1).num_days_from_ce()

fn date_to_days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAY
}

fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAY)
}

fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Build one `RecordBatch` of the `events` schema from typed events.
/// Events without `recorded_at` get `recorded_at` = null.
pub fn to_record_batch(events: &[Event]) -> Result<RecordBatch> {
    let n = events.len();
    let mut event_id = StringBuilder::with_capacity(n, n * 36);
    let mut event_type = StringBuilder::with_capacity(n, n * 16);
    let mut schema_version = Int32Builder::with_capacity(n);
    let mut occurred_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut recorded_at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut source = StringBuilder::with_capacity(n, n * 4);
    let mut event_date = Date32Builder::with_capacity(n);
    let mut ids: Vec<StringBuilder> = ID_COLUMNS.iter().map(|_| StringBuilder::with_capacity(n, n * 12)).collect();
    let mut priority = StringBuilder::new();
    let mut region = StringBuilder::new();
    let mut code = StringBuilder::new();
    let mut fault_code = StringBuilder::new();
    let mut quantity = Int64Builder::with_capacity(n);
    let mut minutes = Int64Builder::with_capacity(n);
    let mut amount = Int64Builder::with_capacity(n);
    let mut currency = StringBuilder::new();
    let mut lat = Float64Builder::with_capacity(n);
    let mut lon = Float64Builder::with_capacity(n);
    let mut csat = Int32Builder::with_capacity(n);
    let mut response_due = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut resolution_due = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut business_date = Date32Builder::with_capacity(n);
    let mut payload = StringBuilder::with_capacity(n, n * 200);

    let mut idbuf = Uuid::encode_buffer();
    let mut json = Vec::with_capacity(512);
    for ev in events {
        event_id.append_value(ev.event_id.hyphenated().encode_lower(&mut idbuf));
        event_type.append_value(ev.event_type());
        schema_version.append_value(ev.schema_version);
        occurred_at.append_value(micros(&ev.occurred_at));
        recorded_at.append_option(ev.recorded_at.as_ref().map(micros));
        source.append_value(&ev.source);
        event_date.append_value(date_to_days(ev.occurred_at.date_naive()));
        let e = ev.payload.envelope();
        let id_values = [
            e.order_id,
            e.visit_id,
            e.customer_id,
            e.site_id,
            e.equipment_id,
            e.product_id,
            e.manufacturer_id,
            e.contract_id,
            e.calendar_id,
            e.technician_id,
            e.agent_id,
            e.part_id,
            e.location_id,
            e.invoice_id,
            e.claim_id,
        ];
        for (b, v) in ids.iter_mut().zip(id_values) {
            match v {
                Some(u) => b.append_value(u.hyphenated().encode_lower(&mut idbuf)),
                None => b.append_null(),
            }
        }
        priority.append_option(e.priority.as_deref());
        region.append_option(e.region.as_deref());
        code.append_option(e.code.as_deref());
        fault_code.append_option(e.fault_code.as_deref());
        quantity.append_option(e.quantity);
        minutes.append_option(e.minutes);
        amount.append_option(e.amount_cents);
        currency.append_option(e.currency.as_deref());
        lat.append_option(e.lat);
        lon.append_option(e.lon);
        csat.append_option(e.csat);
        response_due.append_option(e.response_due_at.as_ref().map(micros));
        resolution_due.append_option(e.resolution_due_at.as_ref().map(micros));
        business_date.append_option(e.business_date.map(date_to_days));
        json.clear();
        ev.payload.write_payload_json(&mut json);
        payload.append_value(std::str::from_utf8(&json).unwrap_or("null"));
    }

    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(event_type.finish()),
        Arc::new(schema_version.finish()),
        Arc::new(occurred_at.finish()),
        Arc::new(recorded_at.finish()),
        Arc::new(source.finish()),
        Arc::new(event_date.finish()),
    ];
    for mut b in ids {
        columns.push(Arc::new(b.finish()));
    }
    columns.extend([
        Arc::new(priority.finish()) as ArrayRef,
        Arc::new(region.finish()),
        Arc::new(code.finish()),
        Arc::new(fault_code.finish()),
        Arc::new(quantity.finish()),
        Arc::new(minutes.finish()),
        Arc::new(amount.finish()),
        Arc::new(currency.finish()),
        Arc::new(lat.finish()),
        Arc::new(lon.finish()),
        Arc::new(csat.finish()),
        Arc::new(response_due.finish()),
        Arc::new(resolution_due.finish()),
        Arc::new(business_date.finish()),
        Arc::new(payload.finish()),
    ]);
    Ok(RecordBatch::try_new(events_schema(), columns)?)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| Error::Schema { message: format!("column `{name}` is missing") })
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    column(batch, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::Schema { message: format!("column `{name}` is not Utf8") })
}

fn timestamps<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a TimestampMicrosecondArray> {
    column(batch, name)?
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .ok_or_else(|| Error::Schema { message: format!("column `{name}` is not Timestamp(Microsecond)") })
}

fn ts_at(a: &TimestampMicrosecondArray, i: usize, name: &str) -> Result<Option<DateTime<Utc>>> {
    if a.is_null(i) {
        return Ok(None);
    }
    DateTime::from_timestamp_micros(a.value(i))
        .map(Some)
        .ok_or_else(|| Error::Schema { message: format!("`{name}` row {i} is out of range") })
}

/// Convert a batch of the `events` schema back to typed events. Only the
/// envelope columns and `payload` are read; the typed columns are derived.
/// Works on batches whose columns are a superset, in any order (e.g. read
/// back from the lake with the partition column moved to the end).
pub fn from_record_batch(batch: &RecordBatch) -> Result<Vec<Event>> {
    let event_id = strings(batch, "event_id")?;
    let event_type = strings(batch, "event_type")?;
    let schema_version = column(batch, "schema_version")?
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| Error::Schema { message: "column `schema_version` is not Int32".into() })?;
    let occurred_at = timestamps(batch, "occurred_at")?;
    let recorded_at = timestamps(batch, "recorded_at")?;
    let source = strings(batch, "source")?;
    let payload = strings(batch, "payload")?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let id = Uuid::parse_str(event_id.value(i))
            .map_err(|e| Error::InvalidField { field: "event_id".into(), message: format!("row {i}: {e}") })?;
        let value: serde_json::Value = serde_json::from_str(payload.value(i))
            .map_err(|e| Error::MalformedJson { message: format!("payload of row {i}: {e}") })?;
        let payload = Payload::from_type_and_value(event_type.value(i), value)?;
        out.push(Event {
            event_id: id,
            schema_version: schema_version.value(i),
            occurred_at: ts_at(occurred_at, i, "occurred_at")?
                .ok_or_else(|| Error::Schema { message: format!("`occurred_at` row {i} is null") })?,
            recorded_at: ts_at(recorded_at, i, "recorded_at")?,
            source: source.value(i).to_string(),
            payload,
        });
    }
    Ok(out)
}

/// Read typed columns back, for checks: the [`crate::event::Envelope`] of row `i`.
pub fn envelope_at(batch: &RecordBatch, i: usize) -> Result<crate::event::Envelope> {
    let id = |name: &str| -> Result<Option<Uuid>> {
        let a = strings(batch, name)?;
        if a.is_null(i) {
            return Ok(None);
        }
        Uuid::parse_str(a.value(i))
            .map(Some)
            .map_err(|e| Error::InvalidField { field: name.into(), message: e.to_string() })
    };
    let s = |name: &str| -> Result<Option<String>> {
        let a = strings(batch, name)?;
        Ok((!a.is_null(i)).then(|| a.value(i).to_string()))
    };
    let int = |name: &str| -> Result<Option<i64>> {
        let a: &Int64Array = column(batch, name)?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| Error::Schema { message: format!("`{name}` is not Int64") })?;
        Ok((!a.is_null(i)).then(|| a.value(i)))
    };
    let float = |name: &str| -> Result<Option<f64>> {
        let a: &Float64Array = column(batch, name)?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| Error::Schema { message: format!("`{name}` is not Float64") })?;
        Ok((!a.is_null(i)).then(|| a.value(i)))
    };
    let csat: &Int32Array = column(batch, "csat")?
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| Error::Schema { message: "`csat` is not Int32".into() })?;
    let bd: &Date32Array = column(batch, "business_date")?
        .as_primitive_opt::<Date32Type>()
        .ok_or_else(|| Error::Schema { message: "`business_date` is not Date32".into() })?;
    Ok(crate::event::Envelope {
        order_id: id("order_id")?,
        visit_id: id("visit_id")?,
        customer_id: id("customer_id")?,
        site_id: id("site_id")?,
        equipment_id: id("equipment_id")?,
        product_id: id("product_id")?,
        manufacturer_id: id("manufacturer_id")?,
        contract_id: id("contract_id")?,
        calendar_id: id("calendar_id")?,
        technician_id: id("technician_id")?,
        agent_id: id("agent_id")?,
        part_id: id("part_id")?,
        location_id: id("location_id")?,
        invoice_id: id("invoice_id")?,
        claim_id: id("claim_id")?,
        priority: s("priority")?,
        region: s("region")?,
        code: s("code")?,
        fault_code: s("fault_code")?,
        quantity: int("quantity")?,
        minutes: int("minutes")?,
        amount_cents: int("amount_cents")?,
        currency: s("currency")?,
        lat: float("lat")?,
        lon: float("lon")?,
        csat: (!csat.is_null(i)).then(|| csat.value(i)),
        response_due_at: ts_at(timestamps(batch, "response_due_at")?, i, "response_due_at")?,
        resolution_due_at: ts_at(timestamps(batch, "resolution_due_at")?, i, "resolution_due_at")?,
        business_date: if bd.is_null(i) { None } else { days_to_date(bd.value(i)) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_day_constant() {
        use chrono::Datelike;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).map(|d| d.num_days_from_ce());
        assert_eq!(epoch, Some(UNIX_EPOCH_DAY));
        let d = NaiveDate::from_ymd_opt(2026, 10, 25);
        assert_eq!(d.map(date_to_days).and_then(days_to_date), d);
    }

    #[test]
    fn schema_uses_only_delta_protocol_1_2_types() {
        for f in events_schema().fields() {
            match f.data_type() {
                DataType::Utf8 | DataType::Int32 | DataType::Int64 | DataType::Float64 | DataType::Date32 => {}
                DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => {}
                other => panic!("column {} has type {other} outside Delta protocol (1,2)", f.name()),
            }
        }
    }
}
