//! `fieldhouse cluster scheduler` and two `fieldhouse cluster executor`
//! processes on loopback, and `fieldhouse kpi --engine ballista` against them:
//! the same CSV as the local engine for KPIs of a simulated month; the
//! command's refusals (no scheduler given, an agent's slice) are clear.
#![cfg(feature = "cluster")]
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fieldhouse");

fn fieldhouse(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--data-dir").arg(dir).args(args).env_remove("FIELDHOUSE_CLUSTER_SCHEDULER").output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = fieldhouse(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A CSV answer with its rows sorted (rows that tie on a KPI's ORDER BY may come in any order).
fn sorted(csv: &str) -> Vec<String> {
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    if lines.len() > 1 {
        lines[1..].sort();
    }
    lines
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The nodes, killed when the test ends (also when it fails).
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn kpis_on_a_cluster_of_fieldhouse_nodes_equal_the_local_engine() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["simulate", "--size", "small", "--months", "1", "--quiet"]);
    ok(&data, &["ingest"]);

    let port = free_port();
    let scheduler = format!("127.0.0.1:{port}");
    let mut nodes = Nodes(Vec::new());
    let node = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    nodes.0.push(node(&["cluster", "scheduler", "--bind", &scheduler]));
    for i in 0..2 {
        let bind = format!("127.0.0.1:{}", free_port());
        let work = dir.path().join(format!("work-{i}"));
        nodes.0.push(node(&[
            "cluster",
            "executor",
            "--scheduler",
            &scheduler,
            "--bind",
            &bind,
            "--vcores",
            "1",
            "--work-dir",
            work.to_str().unwrap(),
        ]));
    }

    let now = "2026-02-01T00:00:00Z";
    let local = |kpi: &str| ok(&data, &["kpi", kpi, "--now", now, "--format", "csv"]);
    let remote = |kpi: &str| {
        fieldhouse(
            &data,
            &["kpi", kpi, "--now", now, "--format", "csv", "--engine", "ballista", "--scheduler", &scheduler],
        )
    };
    // The nodes take a moment to start: the first KPI is retried for a while.
    let started = Instant::now();
    let first = loop {
        let out = remote("first_time_fix_rate");
        if out.status.success() {
            break String::from_utf8(out.stdout).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the cluster never answered: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(sorted(&first), sorted(&local("first_time_fix_rate")));
    assert!(first.lines().count() > 1, "an answer with rows: {first}");
    for kpi in ["backlog", "billing_leakage", "claim_settlement", "technician_scorecard"] {
        let out = remote(kpi);
        assert!(out.status.success(), "{kpi}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(sorted(&String::from_utf8(out.stdout).unwrap()), sorted(&local(kpi)), "KPI `{kpi}` on the cluster");
    }

    // Refusals that say what to do.
    let out = fieldhouse(&data, &["kpi", "backlog", "--engine", "ballista"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scheduler"), "{}", String::from_utf8_lossy(&out.stderr));
    let agent = "019b71b4-4c00-7000-8000-000000000000";
    let out =
        fieldhouse(&data, &["kpi", "backlog", "--engine", "ballista", "--scheduler", &scheduler, "--agent", agent]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("local engine"), "{}", String::from_utf8_lossy(&out.stderr));
}
