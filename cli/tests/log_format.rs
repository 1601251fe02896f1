//! `--log-format json`: every log line the binary writes is one JSON object
//! with a timestamp, a level and its fields; the default stays text. (The
//! command's own status lines on standard error are not log lines.)
#![allow(clippy::unwrap_used)]

use std::process::Command;

/// Land an empty batch in a fresh data directory (creating the lake's tables
/// logs at info and debug) with `args` first; its standard error.
fn stderr_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldhouse"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .args(["-v", "ingest", "--file"])
        .arg(&empty)
        .env_remove("RUST_LOG")
        .env_remove("FIELDHOUSE_LOG_FORMAT")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr).unwrap()
}

/// A line of the human format: `2026-12-06T11:26:54.707093Z  INFO target: ...`.
fn is_text_log_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let stamp = words.next().unwrap_or_default();
    let level = words.next().unwrap_or_default();
    stamp.len() > 20
        && chrono::DateTime::parse_from_rfc3339(stamp).is_ok()
        && ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level)
}

#[test]
fn json_log_lines_are_json_objects_and_text_stays_the_default() {
    let json = stderr_of(&["--log-format", "json"]);
    let mut logged = 0;
    for line in json.lines() {
        assert!(!is_text_log_line(line), "a text log line in JSON mode: {line}");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            assert!(v["timestamp"].is_string() && v["level"].is_string() && v["fields"].is_object(), "{line}");
            logged += 1;
        }
    }
    assert!(logged >= 2, "JSON log lines: {logged}\n{json}");
    let text = stderr_of(&[]);
    let lines = text.lines().filter(|l| is_text_log_line(l)).count();
    assert!(lines >= 2, "text log lines: {lines}\n{text}");
    assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()), "{text}");
}
