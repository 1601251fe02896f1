//! The outbox relay: exactly once, resume, conflicts, two writers, kill -9.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use fieldhouse_domain::arrow_schema::to_record_batch;
use fieldhouse_ingest::lake::{EVENTS, REJECTED};
use fieldhouse_ingest::relay::OUTBOX_APP_ID;
use fieldhouse_ingest::{Lake, Outbox, Relay, RelayConfig};
use rand::Rng;

fn relay(ops: &Path, lake: &Lake, chunk: usize) -> Relay {
    Relay::new(ops, lake.clone()).with_config(RelayConfig { chunk_rows: chunk, ..RelayConfig::default() })
}

async fn txn_version(lake: &Lake) -> Option<i64> {
    Lake::txn_version(&lake.load(EVENTS).await.unwrap(), OUTBOX_APP_ID).await.unwrap()
}

fn outbox_ids(ops: &Path) -> HashSet<uuid::Uuid> {
    let outbox = Outbox::open(ops).unwrap();
    outbox.read_after(0, usize::MAX).unwrap().into_iter().filter_map(|r| r.event.ok()).map(|e| e.event_id).collect()
}

async fn assert_exactly_once(ops: &Path, lake: &Lake) {
    let events = common::lake_events(lake).await;
    let counts = common::id_counts(&events);
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicated event ids: {dups:?}");
    let in_lake: HashSet<_> = counts.keys().copied().collect();
    assert_eq!(in_lake, outbox_ids(ops));
    let max = Outbox::open(ops).unwrap().max_seq().unwrap();
    assert_eq!(txn_version(lake).await, Some(max));
}

#[tokio::test]
async fn relay_drains_in_order_resumes_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let ops = dir.path().join("ops.db");
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap();
    common::append_outbox(&ops, &common::events(230, 10));
    let stats = relay(&ops, &lake, 100).run_once().await.unwrap();
    assert_eq!((stats.start_version, stats.end_version, stats.events, stats.commits), (0, 230, 230, 3));
    // Nothing new: no commit.
    let again = relay(&ops, &lake, 100).run_once().await.unwrap();
    assert_eq!((again.commits, again.end_version), (0, 230));
    // More rows: resumes after the txn version.
    common::append_outbox(&ops, &common::events(20, 11));
    let third = relay(&ops, &lake, 100).run_once().await.unwrap();
    assert_eq!((third.start_version, third.end_version, third.events), (230, 250, 20));
    assert_exactly_once(&ops, &lake).await;
    // recorded_at is kept when set by the producer.
    let back = common::lake_events(&lake).await;
    assert!(back.iter().all(|e| e.recorded_at.is_some()));
}

#[tokio::test]
async fn a_bad_outbox_row_is_dead_lettered_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ops = dir.path().join("ops.db");
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap();
    common::append_outbox(&ops, &common::events(3, 12));
    {
        let conn = rusqlite::Connection::open(&ops).unwrap();
        conn.execute(
            "INSERT INTO outbox (event_id, event_type, occurred_at, body) VALUES ('x', 'order_opened', 'x', '{\"type\":\"order_opened\"}')",
            [],
        )
        .unwrap();
    }
    common::append_outbox(&ops, &common::events(2, 13));
    let stats = relay(&ops, &lake, 4).run_once().await.unwrap();
    assert_eq!((stats.events, stats.rejected, stats.end_version), (5, 1, 6));
    let rejected = lake.read_all(REJECTED).await.unwrap();
    assert_eq!(rejected.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    assert_eq!(common::lake_events(&lake).await.len(), 5);
}

#[tokio::test]
async fn a_stale_writer_of_the_same_app_id_conflicts_instead_of_double_committing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).await.unwrap();
    let batch = to_record_batch(&common::events(10, 14)).unwrap();
    let stale = lake.load(EVENTS).await.unwrap();
    Lake::append(stale.clone(), EVENTS, vec![batch.clone()], Some((OUTBOX_APP_ID, 10))).await.unwrap();
    let err = Lake::append(stale.clone(), EVENTS, vec![batch.clone()], Some((OUTBOX_APP_ID, 10))).await.unwrap_err();
    assert!(err.is_commit_conflict(), "{err:?}");
    // A writer without a txn (external batches) is not blocked by the relay's commit.
    Lake::append(stale, EVENTS, vec![to_record_batch(&common::events(1, 15)).unwrap()], None).await.unwrap();
    assert_eq!(txn_version(&lake).await, Some(10));
    assert_eq!(common::lake_events(&lake).await.len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_against_one_table_commit_each_range_once() {
    let dir = tempfile::tempdir().unwrap();
    let ops = dir.path().join("ops.db");
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap();
    common::append_outbox(&ops, &common::events(400, 16));
    let (a, b) = (relay(&ops, &lake, 9), relay(&ops, &lake, 13));
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    // Each outbox row was committed by exactly one of them.
    assert_eq!(ra.events + rb.events, 400, "{ra:?} {rb:?}");
    assert_exactly_once(&ops, &lake).await;
    eprintln!("relay a: {ra:?}\nrelay b: {rb:?}");
}

const CHILD_ENV: &str = "FIELDHOUSE_INGEST_CRASH_CHILD";

/// Not a test on its own: the body of the child process the crash test kills.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (ops, lake) = spec.split_once('|').unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let lake = Lake::open(lake).await.unwrap();
        let relay = relay(Path::new(ops), &lake, 7);
        loop {
            relay.run_once().await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_across_kill_9_at_random_points() {
    let dir = tempfile::tempdir().unwrap();
    let ops = dir.path().join("ops.db");
    let lake_dir = dir.path().join("lake");
    let lake = Lake::open(lake_dir.to_str().unwrap()).await.unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let rounds = 15;
    for round in 0..rounds {
        common::append_outbox(&ops, &common::events(60, 100 + round));
        let mut child = std::process::Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{}|{}", ops.display(), lake_dir.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let wait_ms = rng.random_range(50..900);
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        // SIGKILL: no destructor, no flush, wherever the child is.
        child.kill().unwrap();
        child.wait().unwrap();
        // The table always opens, never holds a duplicate, and its txn version
        // only names rows that are in it.
        let events = common::lake_events(&lake).await;
        let counts = common::id_counts(&events);
        assert!(counts.values().all(|n| *n == 1), "round {round}: duplicates after kill");
        let v = txn_version(&lake).await.unwrap_or(0);
        assert_eq!(events.len() as i64, v, "round {round}: rows in lake = txn version");
        eprintln!("round {round}: killed after {wait_ms} ms, txn version {v}");
    }
    // Drain what is left and compare with the outbox.
    relay(&ops, &lake, 50).run_once().await.unwrap();
    assert_exactly_once(&ops, &lake).await;
    assert_eq!(common::lake_events(&lake).await.len(), 60 * rounds as usize);
    let version = lake.load(EVENTS).await.unwrap().version().unwrap();
    eprintln!("table version after the crash rounds: {version}");
}

#[tokio::test]
async fn a_chunk_of_only_bad_rows_still_advances_the_txn_version() {
    let dir = tempfile::tempdir().unwrap();
    let ops = dir.path().join("ops.db");
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap();
    common::append_outbox(&ops, &common::events(1, 17));
    {
        let conn = rusqlite::Connection::open(&ops).unwrap();
        conn.execute(
            "INSERT INTO outbox (event_id, event_type, occurred_at, body) VALUES ('y', 't', 'x', 'garbage')",
            [],
        )
        .unwrap();
    }
    common::append_outbox(&ops, &common::events(1, 18));
    let stats = relay(&ops, &lake, 1).run_once().await.unwrap();
    assert_eq!((stats.events, stats.rejected, stats.commits, stats.end_version), (2, 1, 3, 3));
    assert_eq!(txn_version(&lake).await, Some(3));
    assert_eq!(relay(&ops, &lake, 1).run_once().await.unwrap().commits, 0);
}

#[tokio::test]
async fn a_checkpoint_is_written_every_100_commits() {
    let dir = tempfile::tempdir().unwrap();
    let ops = dir.path().join("ops.db");
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap();
    common::append_outbox(&ops, &common::events(101, 19));
    let stats = relay(&ops, &lake, 1).run_once().await.unwrap();
    assert_eq!(stats.commits, 101);
    let log = dir.path().join("lake/events/_delta_log");
    // The 100th commit (version 99, deltalake counts `version + 1`) checkpoints.
    assert!(log.join("00000000000000000099.checkpoint.parquet").exists());
    assert!(log.join("_last_checkpoint").exists());
    assert_exactly_once(&ops, &lake).await;
}
