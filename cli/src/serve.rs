//! `fieldhouse serve`: the API (operations, KPIs, SQL, reports, event
//! ingest, OpenAPI, metrics) behind bearer tokens, the outbox relay (events
//! queryable within `relay_latency_secs`), the report scheduler and the
//! scheduled compaction of the lake (`compact_interval_secs`), in one
//! process, with graceful shutdown on Ctrl-C or SIGTERM.
//!
//! Settings: defaults, then `--config FILE` (or `<data-dir>/fieldhouse.toml`),
//! then `FIELDHOUSE_*` variables, then the flags below; see
//! `fieldhouse_api::config` for every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use clap::Args;
use fieldhouse_api::{ApiState, ServeConfig};
use fieldhouse_ingest::http::HttpState;
use fieldhouse_ingest::{IngestOptions, Lake, Metrics, Relay, RelayConfig};
use tokio::sync::watch;

/// Options of `fieldhouse serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML file of settings (default: <data-dir>/fieldhouse.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on (config `addr`, FIELDHOUSE_ADDR; default 127.0.0.1:8080).
    #[arg(long)]
    pub(crate) addr: Option<SocketAddr>,
    /// Also listen for the PostgreSQL wire protocol here (config `pg_addr`,
    /// FIELDHOUSE_PG_ADDR; default off), e.g. 127.0.0.1:5433. The password
    /// is a Fieldhouse token: `psql "host=127.0.0.1 port=5433 user=fh
    /// password=$TOKEN"`. Read-only, with the limits of /api/v1/sql; no TLS.
    #[arg(long, value_name = "ADDR")]
    pub(crate) pg_addr: Option<SocketAddr>,
    /// Seconds between outbox relay passes: how soon an operation is queryable in the lake.
    #[arg(long)]
    pub(crate) relay_latency: Option<u64>,
    /// Seconds between report-scheduler passes.
    #[arg(long)]
    pub(crate) report_tick: Option<u64>,
    /// Seconds between scheduled compactions of the lake tables (0: never; default 3600).
    #[arg(long)]
    pub(crate) compact_interval: Option<u64>,
    /// Do not bring the entity tables (lake/entities) up to date after each
    /// commit to `events`. KPIs then read the raw events once the tables fall
    /// behind. For a server whose entity tables another process maintains
    /// (`fieldhouse lake update-entities`), or to measure ingest alone
    /// (bench/live).
    #[arg(long)]
    pub(crate) no_entities: bool,
    /// Print the effective settings as TOML and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
}

pub(crate) fn run(data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    let mut config = ServeConfig::load(data_dir, args.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(a) = args.addr {
        config.addr = a;
    }
    if let Some(a) = args.pg_addr {
        config.pg_addr = Some(a);
    }
    if let Some(l) = args.relay_latency {
        config.relay_latency_secs = l;
    }
    if let Some(t) = args.report_tick {
        config.report_tick_secs = t;
    }
    if let Some(c) = args.compact_interval {
        config.compact_interval_secs = c;
    }
    if args.print_config {
        print!("{}", config.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    serve_with(data_dir, config, !args.no_entities)
}

/// Serve with the data directory's settings on `addr` (and the PostgreSQL
/// protocol on `pg_addr`) until Ctrl-C (used by the demo).
pub(crate) fn serve_blocking(data_dir: &Path, addr: SocketAddr, pg_addr: Option<SocketAddr>) -> Result<ExitCode> {
    let mut config = ServeConfig::load(data_dir, None, |k| std::env::var(k).ok())?;
    config.addr = addr;
    config.pg_addr = pg_addr.or(config.pg_addr);
    serve_with(data_dir, config, true)
}

pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn serve_with(data_dir: &Path, config: ServeConfig, maintain_entities: bool) -> Result<ExitCode> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let rt = crate::cli::runtime()?;
    rt.block_on(async move {
        let addr = config.addr;
        let config_pg_addr = config.pg_addr;
        let grace = Duration::from_secs(config.shutdown_grace_secs);
        let latency = Duration::from_secs(config.relay_latency_secs);
        let report_tick = Duration::from_secs(config.report_tick_secs);
        let compact_every = Duration::from_secs(config.compact_interval_secs);
        let location = crate::lake::from_config(data_dir, &config)?;
        let lake =
            Lake::open(location.url().as_str()).await.with_context(|| format!("opening the lake at {location}"))?;
        // The engine reads `lake/events`: make sure it exists before the first request.
        lake.ensure_tables().await.context("creating the lake tables")?;
        let metrics = Arc::new(Metrics::default());
        let ingest_state =
            HttpState::new(lake.clone(), &data_dir.join("ingest.db"), IngestOptions::default(), metrics.clone())?;
        let ingest_metrics = metrics.clone();
        let state = ApiState::open(data_dir, config, location.url().clone())
            .context("opening the data directory")?
            .with_metrics_text(Arc::new(move || ingest_metrics.render_prometheus()));

        // The dashboard: its own cookie login over the same token store, so it
        // is merged as a public router (not behind the bearer-token check).
        let dashboard_state = fieldhouse_api::dashboard::DashboardState {
            engine: state.engine.clone(),
            cache: state.cache.clone(),
            auth: state.tokens.clone(),
            max_stale: std::time::Duration::from_secs(state.config.dashboard_max_stale_secs),
        };
        // Warm the KPI cache with every token holder's home page, so the first
        // paint is served from memory while the lake has not moved on.
        let callers: Vec<fieldhouse_engine::Caller> = {
            let mut c: Vec<_> = state
                .tokens
                .list()
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t.revoked_at.is_none())
                .map(|t| fieldhouse_engine::Caller { role: t.role, agent_id: t.agent_id })
                .collect();
            c.sort_by_key(|x| (x.role, x.agent_id));
            c.dedup();
            c
        };
        let warm_state = dashboard_state.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            fieldhouse_api::dashboard::warm(&warm_state, &callers).await;
            tracing::info!(
                callers = callers.len(),
                ms = started.elapsed().as_millis() as u64,
                "dashboard cache warmed"
            );
        });
        let entity_engine = state.engine.clone();
        let pg_listener = match config_pg_addr {
            Some(a) => Some(tokio::net::TcpListener::bind(a).await.with_context(|| format!("binding {a} (--pg-addr)"))?),
            None => None,
        };
        let pg_state = state.clone();
        let public = Router::new().merge(fieldhouse_api::dashboard::router(dashboard_state));
        let app = fieldhouse_api::app_with(state, fieldhouse_ingest::http::router(ingest_state), public);

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };

        let compact_task = (!compact_every.is_zero()).then(|| {
            let rx = stop_rx.clone();
            let lake = lake.clone();
            tokio::spawn(async move { lake.compact_forever(compact_every, stopped(rx)).await })
        });
        // The entity tables follow every commit to `events` (relay, HTTP and file batches alike).
        let entity_task = maintain_entities.then(|| {
            let rx = stop_rx.clone();
            tokio::spawn(async move {
                entity_engine.maintain_forever(Duration::from_millis(500), compact_every, stopped(rx)).await
            })
        });
        let relay = Relay::new(data_dir.join("ops.db"), lake)
            .with_config(RelayConfig { latency, ..RelayConfig::default() })
            .with_metrics(metrics);
        let relay_task = tokio::spawn({
            let rx = stop_rx.clone();
            async move { relay.run_forever(stopped(rx)).await }
        });
        // The report scheduler's own engine (default settings) over the same lake.
        let mut reports_config = fieldhouse_engine::EngineConfig::new(data_dir);
        reports_config.lake = location.url().clone();
        let reports_engine = fieldhouse_engine::Engine::new(reports_config);
        let reports_task = match reports_engine.map(fieldhouse_reports::EngineSource::new) {
            Ok(source) => {
                let rx = stop_rx.clone();
                let dir = data_dir.to_path_buf();
                Some(tokio::spawn(async move {
                    fieldhouse_reports::scheduler::serve(Arc::new(source), dir, report_tick, stopped(rx)).await
                }))
            }
            Err(e) => {
                tracing::warn!(error = %e, "report scheduler not started");
                None
            }
        };

        let pg_task = match pg_listener {
            Some(l) => {
                println!(
                    "PostgreSQL protocol on {} (password: a Fieldhouse token; psql \"host={} port={} user=fh password=TOKEN\")",
                    l.local_addr()?,
                    l.local_addr()?.ip(),
                    l.local_addr()?.port()
                );
                let rx = stop_rx.clone();
                Some(tokio::spawn(async move { fieldhouse_api::pg::serve(l, pg_state, stopped(rx)).await }))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        println!(
            "Fieldhouse is serving on http://{}  (health: /healthz; API: /api/v1/openapi.json with a bearer token)",
            listener.local_addr()?
        );
        let shutdown = async move {
            stop_signal().await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        };
        fieldhouse_api::serve_on(listener, app, shutdown, grace).await?;
        let _ = relay_task.await;
        if let Some(t) = entity_task {
            let _ = t.await;
        }
        if let Some(t) = compact_task {
            let _ = t.await;
        }
        if let Some(t) = reports_task {
            let _ = t.await;
        }
        if let Some(t) = pg_task {
            let _ = t.await;
        }
        Ok(ExitCode::SUCCESS)
    })
}
