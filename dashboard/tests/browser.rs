//! The dashboard in a real headless browser: Debian's `chromium` driven
//! over `chromedriver` (WebDriver, via fantoccini), the router served on a
//! real 127.0.0.1 socket. Logs in through the form, checks the charts and
//! the numbers, changes a filter and reads the changed number, looks at the
//! page at phone width, reads the browser console (no errors allowed), and
//! saves screenshots under cargo's test temp dir (the paths are printed).
//!
//! Without chromium this test fails when `CI` is set and otherwise prints a
//! NOTICE and passes (install: `apt-get install chromium chromium-driver`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_driver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port}");
}

/// The browser console since the last call (chromedriver's `se/log`), read
/// with a plain HTTP/1.1 request.
async fn console_log(driver_port: u16, session: &str) -> Vec<Value> {
    let body = r#"{"type":"browser"}"#;
    let request = format!(
        "POST /session/{session}/se/log HTTP/1.1\r\nHost: 127.0.0.1:{driver_port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", driver_port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read the head, then exactly Content-Length bytes (the driver may keep the connection open).
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            response.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&response).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok());
                if n == 0 || length.is_some_and(|len| body.len() >= len) {
                    return (head.to_string(), body.to_string());
                }
            } else if n == 0 {
                panic!("se/log closed without an answer");
            }
        }
    };
    let (head, body) = tokio::time::timeout(Duration::from_secs(20), read).await.expect("se/log answers");
    assert!(head.starts_with("HTTP/1.1 200"), "se/log answered {head}");
    let v: Value = serde_json::from_str(body.trim()).unwrap();
    v["value"].as_array().cloned().unwrap_or_default()
}

fn artifact(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

async fn value(c: &fantoccini::Client, id: &str) -> f64 {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.attr("data-value").await.unwrap().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{CHROMIUM} or {CHROMEDRIVER} is missing (CI is set): apt-get install chromium chromium-driver");
        }
        eprintln!(
            "\n*** NOTICE: {CHROMIUM} or {CHROMEDRIVER} not installed: the headless-browser test of the \
             dashboard did NOT run. Install with `apt-get install chromium chromium-driver`. ***\n"
        );
        return;
    }
    let lake = october_lake();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = fieldhouse_dashboard::router(state(lake.path()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (_driver, port) = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1800",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!() };
    let c = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let session = c.session_id().await.unwrap().unwrap();

    // Not logged in: `/` sends us to the login form.
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    c.find(Locator::Id("token")).await.unwrap().send_keys(MANAGER).await.unwrap();
    c.find(Locator::Css("form.login button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("sla-trend")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/");

    // October, all regions: the charts are there, SLA response 50 % (3 met of 6).
    c.goto(&format!("{base}/dashboard/management?from=2026-10-01&until=2026-10-31")).await.unwrap();
    let charts = c.find_all(Locator::Css("section.card .chart svg")).await.unwrap();
    assert_eq!(charts.len(), 6, "one chart per management section");
    let width = c
        .execute("return document.querySelector('section.card .chart svg').getBoundingClientRect().width;", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(0.0);
    assert!(width > 200.0, "the chart is drawn at a readable size ({width}px)");
    assert_eq!(value(&c, "sla-trend-value").await, 50.0);
    assert_eq!(value(&c, "backlog-value").await, 2.0);
    let shot = artifact("management.png");
    std::fs::write(&shot, c.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", shot.display());

    // Filter to region South with the form: 2 met of 3 → 66.67 %, backlog O5 only.
    c.find(Locator::Id("filter-region")).await.unwrap().select_by_value("South").await.unwrap();
    c.find(Locator::Id("apply")).await.unwrap().click().await.unwrap();
    let mut south = 0.0;
    for _ in 0..100 {
        let moved = c.current_url().await.unwrap().query().unwrap_or_default().contains("region=South");
        if moved && let Ok(e) = c.find(Locator::Id("sla-trend-value")).await {
            south = e.attr("data-value").await.unwrap().unwrap_or_default().parse().unwrap_or(0.0);
            if south != 50.0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(south, 66.67);
    assert!(c.current_url().await.unwrap().query().unwrap_or_default().contains("region=South"));
    let text = c.find(Locator::Id("sla-trend-value")).await.unwrap().text().await.unwrap();
    assert!(text.starts_with("66.67 %"), "{text}");
    assert_eq!(value(&c, "backlog-value").await, 1.0);

    // A phone: the cards stack and nothing scrolls sideways.
    c.set_window_size(390, 844).await.unwrap();
    let overflow = c
        .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
        .await
        .unwrap();
    assert!(overflow.as_f64().unwrap_or(1.0) <= 0.0, "horizontal overflow on a phone: {overflow}");
    let shot = artifact("management-phone.png");
    std::fs::write(&shot, c.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", shot.display());

    // No console errors on any page loaded.
    let log = console_log(port, &session).await;
    let errors: Vec<&Value> = log.iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    c.close().await.unwrap();
    server.abort();
}
