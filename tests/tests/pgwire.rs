//! The PostgreSQL wire protocol endpoint (`serve --pg-addr`) with a real
//! driver (tokio-postgres) and, where installed, `psql`, over loopback, on a
//! simulated month in a real lake with its entity tables:
//! - a token logs in; every KPI as `kpi.<name>` gives the rows the HTTP API
//!   gives; parameters go through the extended protocol; `SET
//!   fieldhouse.now` / `fieldhouse.as_of` set what the HTTP API's `now` and
//!   `as_of` set;
//! - a wrong token, DDL, DML, COPY and file reads are refused with their
//!   SQLSTATEs; the row limit holds;
//! - a partner's token sees its agent's rows only.
#![allow(clippy::unwrap_used)]

#[path = "pgwire/clients.rs"]
mod clients;
mod common;
#[path = "../../api/tests/support/mod.rs"]
mod support;

use chrono::DateTime;
use fieldhouse_engine::{Engine, MaintainOptions, Role};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use uuid::Uuid;

/// A simulated month with its entity tables built.
async fn world() -> common::Month {
    let month = common::simulated_month().await;
    Engine::open(month.dir.path()).unwrap().maintain_entities(MaintainOptions::default()).await.unwrap();
    month
}

/// Connect with `token` as the password.
async fn connect(port: u16, token: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=fh dbname=fieldhouse password={token} sslmode=disable"),
        NoTls,
    )
    .await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The rows of a simple-protocol query, as text (NULL = None), with the column names.
async fn text_rows(client: &Client, sql: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for m in client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}: {:?}", e.as_db_error())) {
        match m {
            SimpleQueryMessage::RowDescription(d) => columns = d.iter().map(|c| c.name().to_string()).collect(),
            SimpleQueryMessage::Row(r) => rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => {}
        }
    }
    (columns, rows)
}

/// One value in a form both protocols agree on: numbers to 6 decimals,
/// instants as microseconds since the epoch, booleans as true/false.
fn canonical(text: Option<&str>) -> String {
    let Some(t) = text else { return "NULL".into() };
    if let Ok(n) = t.parse::<f64>() {
        return format!("{n:.6}");
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(d) = DateTime::parse_from_str(t, format) {
            return d.timestamp_micros().to_string();
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return d.timestamp_micros().to_string();
    }
    match t {
        "t" => "true".into(),
        "f" => "false".into(),
        other => other.to_string(),
    }
}

fn json_cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn code(e: &tokio_postgres::Error) -> Option<&SqlState> {
    e.code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_reads_the_lake_and_every_kpi_over_the_postgresql_protocol() {
    let w = world().await;
    let agent = w
        .events
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("order_assigned"))
        .find_map(|e| e.get("agent_id").and_then(Value::as_str))
        .map(|a| Uuid::parse_str(a).unwrap())
        .expect("an order assigned to a service agent's technician");
    let config = fieldhouse_api::ServeConfig { sql_max_rows: 100_000, ..support::test_config() };
    let server = support::start_in(w.dir, config, &[("partner", agent)]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pg = tokio::spawn(fieldhouse_api::pg::serve(listener, server.state.clone(), async move {
        let _ = stopped.await;
    }));

    // A wrong token: 28P01 at login.
    let Err(bad) = connect(port, &format!("fh_{}", "0".repeat(64))).await else { panic!("a wrong token logged in") };
    assert_eq!(code(&bad), Some(&SqlState::INVALID_PASSWORD), "{bad}");

    let admin = connect(port, server.token("admin")).await.unwrap();
    // The lake: every event, and a parameter through the extended protocol.
    let (_, rows) = text_rows(&admin, "SELECT count(*) FROM events").await;
    assert_eq!(rows, vec![vec![Some(w.events.len().to_string())]]);
    let opened = w.events.iter().filter(|e| e.get("type").and_then(Value::as_str) == Some("order_opened")).count();
    let row =
        admin.query_one("SELECT count(*) AS n FROM events WHERE event_type = $1", &[&"order_opened"]).await.unwrap();
    assert_eq!(row.get::<_, i64>("n"), i64::try_from(opened).unwrap());
    let version: String = admin.query_one("SELECT version()", &[]).await.unwrap().get(0);
    assert!(version.starts_with("PostgreSQL 16"), "{version}");

    // Every KPI as a view: the HTTP API's rows, at the same reference instant.
    let now = w.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    admin.batch_execute(&format!("SET fieldhouse.now = '{now}'")).await.unwrap();
    let kpis: Vec<String> =
        server.state.engine.catalog().list().filter(|k| k.allows(Role::Admin)).map(|k| k.name.clone()).collect();
    assert!(kpis.len() >= 20, "{kpis:?}");
    for name in &kpis {
        let (columns, rows) = text_rows(&admin, &format!("SELECT * FROM kpi.{name}")).await;
        let http = server.get(&format!("/api/v1/kpis/{name}?now={now}"), Some("admin")).await;
        assert_eq!(http.status, 200, "{name}: {}", http.text());
        let Value::Array(objects) = http.json() else { panic!("{name}: not a list") };
        let mut want: Vec<Vec<String>> = objects
            .iter()
            .map(|o| columns.iter().map(|c| canonical(json_cell(&o[c.as_str()]).as_deref())).collect())
            .collect();
        let mut got: Vec<Vec<String>> =
            rows.iter().map(|r| r.iter().map(|v| canonical(v.as_deref())).collect()).collect();
        want.sort();
        got.sort();
        assert_eq!(got.len(), want.len(), "{name}: rows over pg vs HTTP");
        assert_eq!(got, want, "{name}: columns {columns:?}");
    }
    // As of version 0 (the table's creation, before the one commit of events): none; then the latest again.
    admin.batch_execute("SET fieldhouse.as_of = '0'").await.unwrap();
    let (_, first) = text_rows(&admin, "SELECT count(*) FROM events").await;
    assert_eq!(first, vec![vec![Some("0".to_string())]]);
    admin.batch_execute("SET fieldhouse.as_of = 'latest'").await.unwrap();
    let (_, latest) = text_rows(&admin, "SELECT count(*) FROM events").await;
    assert_eq!(latest, vec![vec![Some(w.events.len().to_string())]]);

    // What Grafana, Metabase, psql and DBeaver send on connect and when browsing: all answered.
    let mut sent = 0;
    let mut failed = Vec::new();
    for (client, queries) in [
        ("grafana", clients::GRAFANA),
        ("metabase", clients::METABASE),
        ("psql", clients::PSQL),
        ("dbeaver", clients::DBEAVER),
    ] {
        for q in queries {
            // A known gap of datafusion-pg-catalog 0.19: DBeaver's array-type probe compares
            // pg_type.typinput (a name) with a regproc cast (an oid).
            let known_gap = client == "dbeaver" && q.contains("'pg_catalog.array_in'::regproc");
            if let Err(e) = admin.simple_query(q).await
                && !known_gap
            {
                failed.push(format!("{client}: {q}\n  {:?}", e.as_db_error().map(|d| d.message())));
            }
            sent += 1;
        }
    }
    assert!(sent > 40, "{sent} client queries");
    assert!(failed.is_empty(), "{} of {sent} client queries failed:\n{}", failed.len(), failed.join("\n"));

    // More statements in one message than queries may run at once: one slot for all of them.
    let many = vec!["SELECT 1"; server.state.config.sql_concurrency + 2].join("; ");
    let answered = tokio::time::timeout(std::time::Duration::from_secs(60), admin.simple_query(&many))
        .await
        .expect("statements of one message wait for each other's slots")
        .unwrap();
    let rows = answered.iter().filter(|m| matches!(m, SimpleQueryMessage::Row(_))).count();
    assert_eq!(rows, server.state.config.sql_concurrency + 2);

    // Refusals, each with its SQLSTATE; the connection stays usable.
    for (sql, want) in [
        ("CREATE TABLE x (a INT)", SqlState::READ_ONLY_SQL_TRANSACTION),
        ("INSERT INTO events SELECT * FROM events", SqlState::READ_ONLY_SQL_TRANSACTION),
        ("DROP TABLE events", SqlState::READ_ONLY_SQL_TRANSACTION),
        ("COPY events TO '/tmp/fieldhouse-pg-test.csv'", SqlState::INSUFFICIENT_PRIVILEGE),
        // DataFusion's own DDL is no PostgreSQL: it does not even parse.
        ("CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'", SqlState::SYNTAX_ERROR),
        ("SET fieldhouse.as_of = 'yesterday-ish'", SqlState::INVALID_PARAMETER_VALUE),
    ] {
        let e = admin.batch_execute(sql).await.err().unwrap_or_else(|| panic!("{sql} ran"));
        assert_eq!(code(&e), Some(&want), "{sql}: {e}");
    }
    let Err(e) = admin.simple_query("SELECT * FROM read_csv('/etc/passwd')").await else { panic!("a file was read") };
    assert!(!e.to_string().contains("root:"), "{e}");
    assert!(std::path::Path::new("/tmp/fieldhouse-pg-test.csv").metadata().is_err());
    // SET of a client setting is answered and not applied; the row limit holds.
    admin.batch_execute("SET statement_timeout = 0").await.unwrap();
    let limited = fieldhouse_api::ServeConfig { sql_max_rows: 100_000, ..support::test_config() }.sql_max_rows;
    let (_, all) = text_rows(&admin, "SELECT event_id FROM events").await;
    assert_eq!(all.len(), w.events.len().min(limited));

    // A partner: only its agent's orders, no EXPLAIN.
    let partner = connect(port, server.token("partner")).await.unwrap();
    let (_, agents) = text_rows(&partner, "SELECT DISTINCT agent_id FROM orders WHERE agent_id IS NOT NULL").await;
    assert_eq!(agents, vec![vec![Some(agent.to_string())]]);
    let (_, mine) = text_rows(&partner, "SELECT count(*) FROM events").await;
    let mine: usize = mine[0][0].as_deref().unwrap().parse().unwrap();
    assert!(mine > 0 && mine < w.events.len(), "{mine} of {}", w.events.len());
    let Err(e) = partner.batch_execute("EXPLAIN SELECT * FROM events").await else { panic!("a partner saw a plan") };
    assert_eq!(code(&e), Some(&SqlState::READ_ONLY_SQL_TRANSACTION), "{e}");

    // psql, where installed: \dt lists the lake's table, \d a view's columns.
    if let Ok(out) = std::process::Command::new("psql")
        .args([
            &format!("host=127.0.0.1 port={port} user=fh dbname=fieldhouse sslmode=disable"),
            "-c",
            "\\dt",
            "-c",
            "\\d orders",
            "-c",
            "SELECT met + breached AS judged FROM kpi.sla_response_compliance",
        ])
        .env("PGPASSWORD", server.token("admin"))
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("events") && text.contains("order_id") && text.contains("judged"), "{text}");
    } else {
        eprintln!("psql is not installed: checked with tokio-postgres only");
    }

    let _ = stop.send(());
    pg.await.unwrap().unwrap();
    eprintln!("checked over pg: {} KPIs, {sent} client queries", kpis.len());
    server.stop().await;
}
