//! A real server on 127.0.0.1:0 over a temp data directory (real SQLite,
//! a real Delta lake), tokens for every role, and a minimal HTTP/1.1 client.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fieldhouse_api::{ApiState, ServeConfig, TokenStore, app, serve_on};
use fieldhouse_engine::{Engine, Role};
use fieldhouse_ops::{Ops, OpsConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_string()
    }
    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or_default().to_string()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request; `headers` are extra `Name: value` lines.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or(b"");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let mut has_ct = false;
    for (k, v) in headers {
        has_ct |= k.eq_ignore_ascii_case("content-type");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_ct && !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    // A guard against a hang, not a speed check: a partner's cold dashboard page takes
    // about 2 minutes in a debug build on 2 busy cores.
    let _ = tokio::time::timeout(Duration::from_secs(600), s.read_to_end(&mut buf)).await.unwrap();
    let split = find(&buf, b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let rest = &buf[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if headers.get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        let mut r = rest;
        while let Some(i) = find(r, b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&r[..i]).trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&r[i + 2..i + 2 + n]);
            r = &r[i + 2 + n + 2..];
        }
        out
    } else {
        rest.to_vec()
    };
    Resp { status, headers, body }
}

/// A running server with a token per role.
pub struct Server {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub tokens: BTreeMap<&'static str, String>,
    pub state: ApiState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<fieldhouse_api::Result<()>>>,
}

impl Server {
    pub fn token(&self, who: &str) -> &str {
        self.tokens.get(who).unwrap_or_else(|| panic!("no token {who}"))
    }

    pub async fn get(&self, path: &str, who: Option<&str>) -> Resp {
        request(self.addr, "GET", path, who.map(|w| self.token(w)), &[], None).await
    }

    pub async fn get_with(&self, path: &str, who: &str, headers: &[(&str, &str)]) -> Resp {
        request(self.addr, "GET", path, Some(self.token(who)), headers, None).await
    }

    pub async fn post(&self, path: &str, who: Option<&str>, body: &str) -> Resp {
        request(self.addr, "POST", path, who.map(|w| self.token(w)), &[], Some(body.as_bytes())).await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// Small limits so runaway queries are stopped soon in tests (debug builds
/// are slow: a partner's scoped session takes seconds).
pub fn test_config() -> ServeConfig {
    ServeConfig { sql_timeout_secs: 60, sql_memory_mib: 256, sql_max_rows: 1000, ..ServeConfig::default() }
}

/// Start a server over `dir` (whose lake the caller has written, or not).
pub async fn start_in(dir: tempfile::TempDir, config: ServeConfig, agents: &[(&'static str, Uuid)]) -> Server {
    start_with(dir, config, agents, false).await
}

/// [`start_in`], with the dashboard mounted as `fieldhouse serve` mounts it
/// (cookie login `fh_session=<token>` over the same token store and KPI cache)
/// when `dashboard` is true.
pub async fn start_with(
    dir: tempfile::TempDir,
    config: ServeConfig,
    agents: &[(&'static str, Uuid)],
    dashboard: bool,
) -> Server {
    let ops = Ops::open(&dir.path().join("ops.db"), OpsConfig::default()).unwrap();
    let store = Arc::new(TokenStore::open_in(dir.path()).unwrap());
    let mut tokens = BTreeMap::new();
    for role in Role::ALL.iter().filter(|r| **r != Role::Partner) {
        tokens.insert(role.as_str(), store.create(*role, None, None).unwrap().secret);
    }
    for (name, agent) in agents {
        tokens.insert(*name, store.create(Role::Partner, Some(*agent), Some(name)).unwrap().secret);
    }
    let engine = Engine::open(dir.path()).unwrap();
    let state = ApiState::new(ops, engine, store, dir.path(), config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = if dashboard {
        let board = fieldhouse_api::dashboard::DashboardState {
            engine: state.engine.clone(),
            cache: state.cache.clone(),
            auth: state.tokens.clone(),
            max_stale: std::time::Duration::from_secs(state.config.dashboard_max_stale_secs),
        };
        fieldhouse_api::app_with(state.clone(), axum::Router::new(), fieldhouse_api::dashboard::router(board))
    } else {
        app(state.clone())
    };
    let task = tokio::spawn(serve_on(
        listener,
        router,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    Server { addr, dir, tokens, state, stop: Some(stop), task: Some(task) }
}

/// Write a report folder with a manifest, as the report runner does.
pub fn write_report(
    data_dir: &Path,
    report: &str,
    period: &str,
    agent: Option<Uuid>,
    audience: &[&str],
    file: &str,
    body: &str,
) {
    let mut dir = data_dir.join("reports").join(report).join(period);
    if let Some(a) = agent {
        dir = dir.join(a.to_string());
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), body).unwrap();
    let manifest = serde_json::json!({
        "report": report, "title": report, "period": period, "period_start": "2026-10-01",
        "period_end": "2026-11-01", "time_zone": "UTC", "agent": agent, "lake_version": 0,
        "audience": audience, "files": [file],
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}
