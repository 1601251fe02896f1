//! The entity tables read by an outside engine (issue 22: "the lake read by
//! Spark"; Spark's Delta reader comes from Maven Central, which these
//! machines cannot reach, so the Delta kernel's Python bindings read them):
//! every entity table of a simulated month has, for Python `deltalake`, the
//! rows the engine's view over it has. Skipped, with a notice, when
//! `python3` is not installed (CI has it).
#![allow(clippy::unwrap_used)]

mod common;

use fieldhouse_engine::entity::MaintainOptions;
use fieldhouse_engine::{AsOf, Caller, Engine, SessionOptions, Source};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_deltalake_reads_every_entity_table() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("NOTICE: python3 not found; skipping the outside-reader test");
        return;
    }
    let month = common::simulated_month().await;
    let engine = Engine::open(month.dir.path()).unwrap();
    engine.maintain_entities(MaintainOptions::default()).await.unwrap();

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/read_entities.sh");
    let out = std::process::Command::new("bash").arg(script).arg(month.dir.path().join("lake")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python reader failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let read: Vec<(String, usize)> = stdout
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_string(), w.next().unwrap().parse().unwrap())
        })
        .collect();
    let entities: Vec<String> = engine.view_names().filter(|n| engine.is_entity(n)).map(str::to_string).collect();
    assert!(entities.len() >= 20, "the lake has its entity tables: {entities:?}");
    assert_eq!(read.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), {
        let mut e = entities.clone();
        e.sort();
        e
    });
    let options = SessionOptions { as_of: AsOf::Latest, now: Some(month.now), source: Source::Auto };
    let ctx = engine.session(&Caller::admin(), &options).await.unwrap();
    let mut total = 0;
    for (name, rows) in &read {
        let batches = ctx.sql(&format!("SELECT count(*) AS n FROM {name}")).await.unwrap().collect().await.unwrap();
        let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(batches[0].column(0)).value(0);
        assert_eq!(usize::try_from(n).unwrap(), *rows, "entity table `{name}`: engine vs Python deltalake");
        total += rows;
    }
    assert!(total > 1000, "the tables hold the month ({total} rows)");
}
