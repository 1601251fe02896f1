//! The simulator against the in-memory reference core: determinism, the
//! small preset's distributions, and the core's invariants.
#![allow(clippy::unwrap_used)]

use chrono::NaiveTime;
use fieldhouse_sim::memory::MemoryCore;
use fieldhouse_sim::metrics::{invariant_violations, stream_stats};
use fieldhouse_sim::{SimConfig, Size, simulate_with};
use sha2::{Digest, Sha256};

fn run(cfg: &SimConfig) -> (MemoryCore, fieldhouse_sim::SimSummary) {
    let mut core = MemoryCore::new();
    let summary = simulate_with(&mut core, cfg, None).unwrap();
    (core, summary)
}

fn digest(core: &MemoryCore) -> String {
    let mut h = Sha256::new();
    for e in core.events() {
        h.update(e.to_json().as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn small_preset_is_deterministic_realistic_and_valid() {
    let cfg = SimConfig::preset(Size::Small);
    let (core, summary) = run(&cfg);
    let horizon = cfg.end().and_time(NaiveTime::MIN).and_utc();
    let stats = stream_stats(core.events(), horizon);
    eprintln!("{summary:#?}\n{stats:#?}");
    assert_eq!(summary.refused, 0, "the core refused operations");
    assert_eq!(summary.events, stats.events);
    assert!((1500..10_000).contains(&stats.orders), "orders {}", stats.orders);
    assert!((0.65..=0.85).contains(&stats.first_time_fix_rate), "FTF {}", stats.first_time_fix_rate);
    assert!((0.60..=0.80).contains(&stats.part_attach_rate), "attach {}", stats.part_attach_rate);
    assert!((0.05..=0.30).contains(&stats.response_breach_share), "breach {}", stats.response_breach_share);
    assert!(stats.mobile_events > 0 && stats.claims > 0 && stats.claims_rejected > 0 && stats.payments > 0);
    let violations = invariant_violations(core.events());
    assert!(violations.is_empty(), "{:?}", &violations[..violations.len().min(10)]);

    let (again, _) = run(&cfg);
    assert_eq!(digest(&core), digest(&again), "same seed, same events");
    let (other, _) = run(&SimConfig { seed: 7, ..cfg });
    assert_ne!(digest(&core), digest(&other), "another seed, other events");
}
