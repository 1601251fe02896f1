//! Fixtures shared by the end-to-end tests of this folder.

// Each test file compiles this module on its own and uses only some fixtures.
#![allow(dead_code)]

use std::path::Path;

use fieldhouse_domain::event::Event;
use fieldhouse_ops::{Ops, OpsConfig};
use serde_json::{Map, Value};

/// A simulated month of the small organisation, in the lake of a fresh data
/// directory (one commit of `events`).
pub(crate) struct Month {
    pub(crate) dir: tempfile::TempDir,
    /// Every event, as the JSON object of the event contract.
    pub(crate) events: Vec<Map<String, Value>>,
    /// The end of the simulated month (midnight UTC).
    pub(crate) now: chrono::DateTime<chrono::Utc>,
}

/// Simulate one month of the `small` preset into a new lake.
pub(crate) async fn simulated_month() -> Month {
    use fieldhouse_sim::memory::MemoryCore;
    use fieldhouse_sim::{SimConfig, Size, simulate_with};
    let cfg = SimConfig { months: 1, ..SimConfig::preset(Size::Small) };
    let mut core = MemoryCore::new();
    simulate_with(&mut core, &cfg, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), core.events()).await.unwrap();
    let events = core
        .events()
        .iter()
        .map(|e| match serde_json::from_str(&e.to_json()).unwrap() {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        })
        .collect();
    Month { dir, events, now: cfg.end().and_hms_opt(0, 0, 0).unwrap().and_utc() }
}

/// A scratch directory, in memory where there is one: the operational core
/// fsyncs every commit, which these tests do not measure and a disk makes slow.
pub(crate) fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() }
}

/// Every outbox event of `<dir>/ops.db`, in `seq` order.
pub(crate) fn outbox(dir: &Path) -> Vec<Event> {
    let ops = Ops::open(&dir.join("ops.db"), OpsConfig::default()).unwrap();
    let (mut events, mut seq) = (Vec::new(), 0);
    loop {
        let rows = ops.outbox_after(seq, 10_000).unwrap();
        let Some(last) = rows.last() else { break };
        seq = last.seq;
        events.extend(rows.into_iter().map(|r| r.event));
    }
    events
}

/// The rows of `batches`, one JSON line each, sorted.
pub(crate) fn lines(batches: &[arrow::array::RecordBatch]) -> Vec<String> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }
    let mut out: Vec<String> = String::from_utf8(buf).unwrap().lines().map(str::to_string).collect();
    out.sort();
    out
}

/// Two answer rows are the same: equal text, but for floating-point values,
/// which may differ in the last place of a rounded figure (a float sum
/// depends on the order of its rows, and the entity tables hand rows over in
/// another order than the views over the raw events).
pub(crate) fn same_row(a: &str, b: &str, what: &str) {
    if a == b {
        return;
    }
    let (x, y): (Map<String, Value>, Map<String, Value>) =
        (serde_json::from_str(a).unwrap(), serde_json::from_str(b).unwrap());
    assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{what}:\n{a}\n{b}");
    for (k, u) in &x {
        let v = &y[k];
        match (u, v) {
            (Value::Number(p), Value::Number(q)) if p.is_f64() || q.is_f64() => {
                let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
                assert!((p - q).abs() <= 0.0100001 + 1e-9 * p.abs(), "{what}: `{k}` {p} vs {q}\n{a}\n{b}");
            }
            _ => assert_eq!(u, v, "{what}: `{k}`\n{a}\n{b}"),
        }
    }
}
