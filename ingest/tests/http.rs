//! `POST /api/v1/events` through the router (no socket) and over a real socket.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fieldhouse_ingest::http::{HttpState, router};
use fieldhouse_ingest::{IngestOptions, Lake, Metrics};
use serde_json::Value;
use tower::ServiceExt;

async fn state(dir: &std::path::Path, body_limit: usize) -> HttpState {
    let lake = Lake::open(dir.join("lake").to_str().unwrap()).await.unwrap();
    let mut opts = IngestOptions::default();
    opts.limits.max_body_bytes = body_limit;
    HttpState::new(lake, &dir.join("ingest.db"), opts, Arc::new(Metrics::default())).unwrap()
}

async fn post(
    app: &axum::Router,
    body: impl Into<Body>,
    content_type: &str,
    key: Option<&str>,
) -> (StatusCode, Value, bool) {
    let mut req = Request::post("/api/v1/events").header("content-type", content_type);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = app.clone().oneshot(req.body(body.into()).unwrap()).await.unwrap();
    let status = resp.status();
    let replayed = resp.headers().contains_key("idempotency-replayed");
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json, replayed)
}

#[tokio::test]
async fn batches_idempotency_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path(), 64 * 1024).await;
    let metrics = st.metrics().clone();
    let app = router(st);
    let events = common::events(20, 30);
    let body: String = events.iter().map(|e| e.to_json() + "\n").collect::<String>() + "{broken\n";

    let (s, first, replayed) = post(&app, body.clone(), "application/x-ndjson", Some("k1")).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert!(!replayed);
    assert_eq!((first["accepted"].as_u64(), first["rejected"].as_u64()), (Some(20), Some(1)));
    assert_eq!(first["outcomes"][20]["status"], "rejected");
    assert_eq!(first["outcomes"][0]["status"], "accepted");

    // Same key, same body: the original answer (not "20 duplicates").
    let (s, again, replayed) = post(&app, body.clone(), "application/x-ndjson", Some("k1")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(replayed);
    assert_eq!(again, first);

    // Same key, different body: 422.
    let (s, err, _) = post(&app, events[0].to_json(), "application/x-ndjson", Some("k1")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"], "idempotency_key_reused");

    // New key, same events: duplicates, counted.
    let (s, dup, _) = post(&app, body.clone(), "application/x-ndjson", Some("k2")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(dup["duplicates"].as_u64(), Some(20));

    // Only bad records: still 200 with the report.
    let (s, bad, _) = post(&app, "{\"type\":\"nope\"}\n", "application/x-ndjson", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bad["rejected"].as_u64(), Some(1));

    // Malformed bodies: 400.
    let (s, e, _) = post(&app, "[{\"a\":", "application/json", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"], "malformed_body");
    let (s, _, _) = post(&app, "a,b\n1,2\n", "text/csv", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Above the body limit: 413.
    let big = "x".repeat(70 * 1024);
    let (s, _, _) = post(&app, big, "application/x-ndjson", None).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    let m = metrics.snapshot();
    assert_eq!((m.accepted, m.duplicates, m.rejected), (20, 20, 3));
    assert_eq!(
        common::lake_events(&Lake::open(dir.path().join("lake").to_str().unwrap()).await.unwrap()).await.len(),
        20
    );
}

#[tokio::test]
async fn idempotency_keys_survive_a_restart_and_a_real_socket_works() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = common::events(5, 31).iter().map(|e| e.to_json() + "\n").collect();
    let first = {
        let app = router(state(dir.path(), 1 << 20).await);
        post(&app, body.clone(), "application/x-ndjson", Some("durable")).await.1
    };
    // A new state over the same files (a restarted server).
    let app = router(state(dir.path(), 1 << 20).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // A minimal HTTP/1.1 client over the socket.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /api/v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\nidempotency-key: durable\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        body.len(),
        body
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    sock.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.to_ascii_lowercase().contains("idempotency-replayed: true"), "{resp}");
    let json: Value = serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json, first);
}
