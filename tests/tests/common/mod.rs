//! Fixtures shared by the end-to-end tests of this folder.

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
