//! The lake read by an outside engine: Python `deltalake` (delta-rs bindings).
//! Skipped, with a notice, when `python3` is not installed.
#![allow(clippy::unwrap_used)]

mod common;

use fieldhouse_ingest::{Format, IngestOptions, Ingestor, Lake};
use sha2::Digest;

#[tokio::test]
async fn python_deltalake_reads_the_lake() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("NOTICE: python3 not found; skipping the outside-reader test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).await.unwrap();
    let events = common::events(1000, 40);
    let body: String = events.iter().map(|e| e.to_json() + "\n").collect();
    let opts = IngestOptions { flush_rows: 300, keep_records: false, ..IngestOptions::default() };
    let r = Ingestor::new(lake, opts).ingest_reader(Format::Ndjson, body.as_bytes(), "py", "file").await.unwrap();
    assert_eq!(r.accepted, 1000);
    let mut ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    ids.sort();
    let sum: String = sha2::Sha256::digest(ids.join("\n").as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_with_python.sh");
    let out = std::process::Command::new("bash").arg(script).arg(dir.path()).arg("1000").arg(&sum).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "python reader failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("read 1000 rows"), "{stdout}");
}
