//! The lake on disk: protocol, round trip, external batches, dead letters, duplicates.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use arrow::array::{Array, AsArray};
use fieldhouse_domain::event::Event;
use fieldhouse_ingest::lake::{EVENTS, REJECTED};
use fieldhouse_ingest::{Format, IngestOptions, Ingestor, Lake, Outcome};
use serde_json::Value;

#[tokio::test]
async fn tables_are_created_at_protocol_1_2_with_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).await.unwrap();
    // Opening twice is fine.
    Lake::open(dir.path().to_str().unwrap()).await.unwrap();
    for (table, partition) in [(EVENTS, "event_date"), (REJECTED, "received_date")] {
        let log = dir.path().join(table).join("_delta_log/00000000000000000000.json");
        let text = std::fs::read_to_string(&log).unwrap();
        let mut protocol = None;
        let mut metadata = None;
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(p) = v.get("protocol") {
                protocol = Some(p.clone());
            }
            if let Some(m) = v.get("metaData") {
                metadata = Some(m.clone());
            }
        }
        let p = protocol.unwrap();
        assert_eq!(p["minReaderVersion"], 1, "{table}: {p}");
        assert_eq!(p["minWriterVersion"], 2, "{table}: {p}");
        assert!(p.get("readerFeatures").is_none() && p.get("writerFeatures").is_none(), "{p}");
        let m = metadata.unwrap();
        assert_eq!(m["partitionColumns"], serde_json::json!([partition]));
        assert_eq!(m["configuration"]["delta.checkpointInterval"], "100");
        assert!(!m["schemaString"].as_str().unwrap().contains("timestamp_ntz"));
    }
    let reports = lake.check().await.unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.rows == 0 && r.version == 0 && r.min_writer_version == 2));
}

#[tokio::test]
async fn round_trip_ndjson_file_read_back_with_datafusion() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap();
    let events = common::events(500, 1);
    let body: String = events.iter().map(|e| e.to_json() + "\n").collect();
    let opts = IngestOptions { flush_rows: 128, keep_records: false, ..IngestOptions::default() };
    let mut ing = Ingestor::new(lake.clone(), opts);
    let report = ing.ingest_reader(Format::Ndjson, body.as_bytes(), "t1", "file").await.unwrap();
    assert_eq!((report.accepted, report.duplicates, report.rejected), (500, 0, 0));
    // 500 rows in chunks of 128: four commits after the create.
    assert_eq!(report.lake_version, Some(4));

    let mut back = common::lake_events(&lake).await;
    back.sort_by_key(|e| e.event_id);
    let mut want = events.clone();
    want.sort_by_key(|e| e.event_id);
    assert_eq!(back, want);

    // Partition directories are ASCII dates.
    let parts: Vec<String> = std::fs::read_dir(dir.path().join("lake/events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("event_date="))
        .collect();
    assert!(parts.iter().any(|p| p == "event_date=2026-09-01"), "{parts:?}");

    // Sending the same file again: all duplicates, nothing written.
    let again = ing.ingest_reader(Format::Ndjson, body.as_bytes(), "t2", "file").await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 500));
    // A fresh ingestor (no cache) finds them in the lake too.
    let mut fresh = Ingestor::new(lake.clone(), IngestOptions::default());
    let third = fresh.ingest_body(Format::Ndjson, body.as_bytes(), "t3", "http").await.unwrap();
    assert_eq!((third.accepted, third.duplicates), (0, 500));
    assert_eq!(common::lake_events(&lake).await.len(), 500);
}

#[tokio::test]
async fn every_bad_input_kind_lands_in_rejected_events() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).await.unwrap();
    let good = common::events(3, 2);
    let base = good[0].to_value();
    let with = |k: &str, v: Value| {
        let mut m = base.as_object().cloned().unwrap();
        m.insert(k.into(), v);
        Value::Object(m).to_string()
    };
    let without = |k: &str| {
        let mut m = base.as_object().cloned().unwrap();
        m.remove(k);
        Value::Object(m).to_string()
    };
    let bad = vec![
        ("no_zone", with("occurred_at", "2026-10-01T08:00:00".into()), Some("occurred_at")),
        ("future", with("occurred_at", "2099-01-01T00:00:00Z".into()), Some("occurred_at")),
        ("unknown_type", with("type", "order_teleported".into()), Some("type")),
        ("missing", without("event_id"), Some("event_id")),
        ("wrong_type", with("name", Value::from(42)), Some("name")),
        ("malformed", "{\"event_id\": ".to_string(), None),
        ("too_large", with("name", Value::String("x".repeat(5000))), None),
    ];
    let mut body = String::new();
    body.push_str(&good[1].to_json());
    body.push('\n');
    for (_, line, _) in &bad {
        body.push_str(line);
        body.push('\n');
    }
    body.push_str(&good[2].to_json());
    body.push('\n');
    let mut opts = IngestOptions::default();
    opts.limits.max_record_bytes = 4000;
    let mut ing = Ingestor::new(lake.clone(), opts);
    let report = ing.ingest_body(Format::Ndjson, body.as_bytes(), "bad-batch", "http").await.unwrap();
    assert_eq!((report.accepted, report.rejected), (2, bad.len() as u64));
    for (i, (kind, _, field)) in bad.iter().enumerate() {
        match &report.outcomes[i + 1].outcome {
            Outcome::Rejected { field: f, .. } => assert_eq!(f.as_deref(), *field, "{kind}"),
            other => panic!("{kind}: {other:?}"),
        }
    }

    let batches = lake.read_all(REJECTED).await.unwrap();
    let mut rows = Vec::new();
    for b in &batches {
        let idx = b.column_by_name("record_index").unwrap().as_primitive::<arrow::datatypes::Int64Type>();
        let field = b.column_by_name("field").unwrap().as_string::<i32>();
        let reason = b.column_by_name("reason").unwrap().as_string::<i32>();
        let raw = b.column_by_name("raw").unwrap().as_string::<i32>();
        let batch = b.column_by_name("batch_id").unwrap().as_string::<i32>();
        for r in 0..b.num_rows() {
            let f = (!field.is_null(r)).then(|| field.value(r).to_string());
            rows.push((
                idx.value(r),
                f,
                reason.value(r).to_string(),
                raw.value(r).to_string(),
                batch.value(r).to_string(),
            ));
        }
    }
    rows.sort();
    assert_eq!(rows.len(), bad.len());
    for (i, (kind, line, field)) in bad.iter().enumerate() {
        let (idx, f, reason, raw, batch) = &rows[i];
        assert_eq!(*idx, i as i64 + 1, "{kind}");
        assert_eq!(f.as_deref(), *field, "{kind}: {reason}");
        assert_eq!(raw, line, "{kind}: raw text kept");
        assert_eq!(batch, "bad-batch");
        assert!(!reason.is_empty());
    }
}

#[tokio::test]
async fn csv_and_json_array_batches() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).await.unwrap();
    let events = common::events(60, 3);
    let arr = serde_json::to_vec(&events.iter().map(Event::to_value).collect::<Vec<_>>()).unwrap();
    let mut ing = Ingestor::new(lake.clone(), IngestOptions::default());
    let r = ing.ingest_body(Format::Json, &arr[..], "arr", "http").await.unwrap();
    assert_eq!(r.accepted, 60);

    let more = common::events(40, 4);
    let values: Vec<serde_json::Map<String, Value>> =
        more.iter().map(|e| e.to_value().as_object().cloned().unwrap()).collect();
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
    let csv = w.into_inner().unwrap();
    let r = ing.ingest_reader(Format::Csv, &csv[..], "csv", "file").await.unwrap();
    assert_eq!((r.accepted, r.rejected), (40, 0), "{:?}", r.outcomes);
    let back = common::lake_events(&lake).await;
    let ids: HashSet<_> = back.iter().map(|e| e.event_id).collect();
    assert_eq!(back.len(), 100);
    assert!(more.iter().chain(&events).all(|e| ids.contains(&e.event_id)));
    let want: Vec<_> = more.iter().map(|e| e.payload.clone()).collect();
    let mut got: Vec<_> = back.iter().filter(|e| more.iter().any(|m| m.event_id == e.event_id)).collect();
    got.sort_by_key(|e| e.event_id);
    assert_eq!(got.into_iter().map(|e| e.payload.clone()).collect::<Vec<_>>(), want);
}

#[tokio::test]
async fn maintenance_optimize_vacuum_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).await.unwrap();
    let events = common::events(300, 5);
    let body: String = events.iter().map(|e| e.to_json() + "\n").collect();
    let opts = IngestOptions { flush_rows: 50, ..IngestOptions::default() };
    Ingestor::new(lake.clone(), opts).ingest_reader(Format::Ndjson, body.as_bytes(), "m", "file").await.unwrap();
    let before = lake.check().await.unwrap();
    let rep = lake.optimize(EVENTS, None).await.unwrap();
    assert!(rep.files_removed > rep.files_added, "{rep:?}");
    let after = lake.check().await.unwrap();
    assert_eq!(after[0].rows, 300);
    assert!(after[0].files < before[0].files);
    // Nothing is old enough for a 7-day retention; with 0 h the compacted-away files go.
    assert!(lake.vacuum(EVENTS, 168, false).await.unwrap().is_empty());
    let gone = lake.vacuum(EVENTS, 0, false).await.unwrap();
    assert_eq!(gone.len() as u64, rep.files_removed);
    assert_eq!(common::lake_events(&lake).await.len(), 300);
    let v = lake.checkpoint(EVENTS).await.unwrap();
    assert!(dir.path().join(format!("events/_delta_log/{v:020}.checkpoint.parquet")).exists());
    assert_eq!(lake.check().await.unwrap()[0].rows, 300);
}

/// Every `events` data file is written clustered: rows ordered by (event_type, occurred_at, event_id), in
/// data pages of at most 4,096 rows, so that a scan filtered on one type decodes (nearly) only its own pages.
#[tokio::test]
async fn event_files_are_clustered_by_type_in_small_pages() {
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::file::metadata::PageIndexPolicy;

    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap();
    // 12,000 events of every sample type, all on one day, in time order (so the input is not by type).
    let base = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 9, 1, 0, 0, 0).unwrap();
    let mut events = common::events(12_000, 3);
    for (i, e) in events.iter_mut().enumerate() {
        e.occurred_at = base + chrono::Duration::seconds(i as i64);
        e.recorded_at = Some(e.occurred_at);
    }
    let types: HashSet<&str> = events.iter().map(Event::event_type).collect();
    assert!(types.len() > 5, "{types:?}");
    let body: String = events.iter().map(|e| e.to_json() + "\n").collect();
    let opts = IngestOptions { flush_rows: 20_000, keep_records: false, ..IngestOptions::default() };
    let report =
        Ingestor::new(lake.clone(), opts).ingest_reader(Format::Ndjson, body.as_bytes(), "c1", "file").await.unwrap();
    assert_eq!(report.accepted, 12_000);

    let day = dir.path().join("lake/events/event_date=2026-09-01");
    let files: Vec<_> = std::fs::read_dir(&day).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = std::fs::File::open(&files[0]).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required),
    )
    .unwrap();
    let meta = builder.metadata().clone();
    let mut keys: Vec<(String, i64, String)> = Vec::new();
    for batch in builder.build().unwrap() {
        let b = batch.unwrap();
        let ty = b.column_by_name("event_type").unwrap().as_string::<i32>().clone();
        let at = b.column_by_name("occurred_at").unwrap().as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let id = b.column_by_name("event_id").unwrap().as_string::<i32>().clone();
        for i in 0..b.num_rows() {
            keys.push((ty.value(i).to_owned(), at.value(i), id.value(i).to_owned()));
        }
    }
    assert_eq!(keys.len(), 12_000);
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "rows are not ordered by (event_type, occurred_at, event_id)");

    // Pages: the offset index of every column chunk has pages of at most 4,096 rows.
    let offsets = meta.offset_index().expect("page index written");
    let mut pages = 0;
    for (rg, columns) in offsets.iter().enumerate() {
        let rows = meta.row_group(rg).num_rows();
        for column in columns {
            let starts: Vec<i64> = column.page_locations().iter().map(|p| p.first_row_index).collect();
            let ends: Vec<i64> = starts.iter().skip(1).copied().chain([rows]).collect();
            for (s, e) in starts.iter().zip(&ends) {
                assert!(e - s <= 4096, "a page of {} rows", e - s);
            }
            pages += starts.len();
        }
    }
    let columns = meta.file_metadata().schema_descr().num_columns();
    assert!(pages >= columns * 3, "{pages} pages for {columns} columns of 12,000 rows");
}
