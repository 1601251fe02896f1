//! The simulator driving the real operational core (`fieldhouse_ops::Ops`,
//! the same public API the HTTP handlers call): determinism of the outbox,
//! and the bulk load's outbox byte for byte. The small preset's bands, the
//! core's invariants and the KPI engine's figures over this core's outbox
//! are checked above the engine, in the workspace's
//! `tests/tests/sim_kpis.rs`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use fieldhouse_domain::event::Event;
use fieldhouse_ops::{BulkOptions, Ops, OpsConfig};
use fieldhouse_sim::{SimConfig, Size, simulate, simulate_bulk, simulate_unbatched};
use sha2::{Digest, Sha256};

/// A scratch directory, in memory where there is one: the core fsyncs every
/// commit, which these tests do not measure and a disk makes slow.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() }
}

/// Every outbox event in `seq` order, and a hash of their bodies.
fn outbox(dir: &Path) -> (Vec<Event>, String) {
    let ops = Ops::open(&dir.join("ops.db"), OpsConfig::default()).unwrap();
    let (mut events, mut seq, mut h) = (Vec::new(), 0, Sha256::new());
    loop {
        let rows = ops.outbox_after(seq, 10_000).unwrap();
        let Some(last) = rows.last() else { break };
        seq = last.seq;
        for r in rows {
            h.update(r.event.to_json().as_bytes());
            h.update(b"\n");
            events.push(r.event);
        }
    }
    (events, h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn small() -> SimConfig {
    SimConfig { months: 2, ..SimConfig::preset(Size::Small) }
}

#[test]
fn same_seed_gives_the_same_outbox_and_another_seed_does_not() {
    let cfg = SimConfig { months: 1, technicians: 8, ..small() };
    let (a, b, c) = (scratch(), scratch(), scratch());
    let sa = simulate(a.path(), &cfg, None).unwrap();
    let sb = simulate(b.path(), &cfg, None).unwrap();
    simulate(c.path(), &SimConfig { seed: 7, ..cfg.clone() }, None).unwrap();
    assert_eq!(sa, sb);
    let ((ea, ha), (eb, hb), (_, hc)) = (outbox(a.path()), outbox(b.path()), outbox(c.path()));
    assert!(ea.len() > 1000, "{} events", ea.len());
    assert_eq!(ea.len(), eb.len());
    assert_eq!(ha, hb, "same seed, same outbox");
    assert_ne!(ha, hc, "another seed, another outbox");
    // A second run into the same data directory is refused, not mixed in.
    assert!(simulate(a.path(), &cfg, None).is_err());
}

#[test]
fn bulk_load_gives_the_outbox_of_one_commit_per_operation_byte_for_byte() {
    // Two months so that refusals (stock-outs, duplicate mobile batches) happen inside batches.
    let cfg = SimConfig { technicians: 8, ..small() };
    let (unbatched, bulk, tiny) = (scratch(), scratch(), scratch());
    let s_unbatched = simulate_unbatched(unbatched.path(), &cfg, None).unwrap();
    let s_bulk = simulate(bulk.path(), &cfg, None).unwrap();
    // Batches of 7 operations: many boundaries, each batch commit durable.
    let options = BulkOptions { max_operations: 7, durable_batches: true, ..BulkOptions::default() };
    let s_tiny = simulate_bulk(tiny.path(), &cfg, None, options).unwrap();
    assert!(s_unbatched.stock_outs > 0, "refused consumptions inside batches: {s_unbatched:?}");
    assert_eq!(s_unbatched, s_bulk);
    assert_eq!(s_unbatched, s_tiny);
    let ((e, h), (eb, hb), (et, ht)) = (outbox(unbatched.path()), outbox(bulk.path()), outbox(tiny.path()));
    assert!(e.len() > 10_000, "{} events", e.len());
    assert_eq!((eb.len(), et.len()), (e.len(), e.len()));
    assert_eq!(hb, h, "bulk load, same outbox");
    assert_eq!(ht, h, "batches of 7, same outbox");
    // After the load the database is an ordinary one: durable commits again, another run refused.
    assert!(simulate(bulk.path(), &cfg, None).is_err());
}
