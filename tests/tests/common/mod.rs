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
