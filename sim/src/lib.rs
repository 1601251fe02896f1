//! A deterministic simulator of a service organisation. It generates a
//! world (customers, sites, equipment, contracts, technicians, parts) from a
//! seed and drives an operational core through months of service orders,
//! visits, parts, invoices, payments and warranty claims, through the same
//! operations the HTTP API offers.
//!
//! - [`config`]: presets (`small`, `default`, `large`), overrides, the run summary.
//! - [`dist`]: seeded random draws (ChaCha8).
//! - [`geo`]: cities, regions, time zones, distance and travel time.
//! - [`world`]: the generated organisation and the operations registering it.
//! - [`backend`]: the operations ([`Op`]) and the [`Backend`] trait that carries them.
//! - [`calls`]: the core's public calls ([`calls::Call`]) both real backends
//!   carry, and [`calls::Mapped`], which turns operations into calls.
//! - [`ops_core`]: the real operational core ([`fieldhouse_ops::Ops`]) in-process as a backend.
//! - [`http`]: the same core over its HTTP API (a running `fieldhouse serve`) as a backend.
//! - [`memory`]: an in-memory reference core that turns operations into events.
//! - [`driver`]: the time loop: failures, orders, dispatch, visits, stock,
//!   billing, payments, claims, mobile sync.
//! - [`metrics`]: KPIs computed from an event stream (first-time fix, attach
//!   rate, response breaches) and stream invariants, used by tests.

pub mod backend;
pub mod calls;
pub mod config;
pub mod dist;
pub mod driver;
pub mod error;
pub mod geo;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod ops_core;
pub mod world;

pub use backend::{Backend, Op, Outcome};
pub use config::{Progress, SimConfig, SimSummary, Size};
pub use driver::simulate_with;
pub use error::{Error, Result};
pub use http::simulate_http;

/// Simulate `cfg` into the operational database `<data_dir>/ops.db` (created
/// if missing; it must hold no events yet). Ids are seeded from `cfg.seed`,
/// so the same config gives an identical outbox. `progress` is called once
/// per simulated day.
///
/// The run is a bulk load ([`fieldhouse_ops::Ops::bulk`] with
/// [`bulk_options`]): operations are committed in batches, not one durable
/// commit each, and the outbox is byte for byte the one of
/// [`simulate_unbatched`]. A run that crashes (or fails) midway leaves the
/// database at its last committed batch, consistent but incomplete; since a
/// non-empty outbox is refused, rerun it into a fresh data directory.
pub fn simulate(
    data_dir: &std::path::Path,
    cfg: &SimConfig,
    progress: Option<&dyn Fn(Progress)>,
) -> Result<SimSummary> {
    simulate_bulk(data_dir, cfg, progress, bulk_options())
}

/// [`simulate`] with other batches (`options`); the outbox is the same.
pub fn simulate_bulk(
    data_dir: &std::path::Path,
    cfg: &SimConfig,
    progress: Option<&dyn Fn(Progress)>,
    options: fieldhouse_ops::BulkOptions,
) -> Result<SimSummary> {
    simulate_into(data_dir, cfg, progress, Some(options))
}

/// [`simulate`] with one transaction and one durable commit per operation,
/// as the HTTP API runs them: the reference the bulk load is tested
/// against, and the baseline it is measured against.
pub fn simulate_unbatched(
    data_dir: &std::path::Path,
    cfg: &SimConfig,
    progress: Option<&dyn Fn(Progress)>,
) -> Result<SimSummary> {
    simulate_into(data_dir, cfg, progress, None)
}

/// How [`simulate`] batches its operations.
pub fn bulk_options() -> fieldhouse_ops::BulkOptions {
    fieldhouse_ops::BulkOptions::default()
}

fn simulate_into(
    data_dir: &std::path::Path,
    cfg: &SimConfig,
    progress: Option<&dyn Fn(Progress)>,
    bulk: Option<fieldhouse_ops::BulkOptions>,
) -> Result<SimSummary> {
    std::fs::create_dir_all(data_dir).map_err(|source| Error::Io { path: data_dir.display().to_string(), source })?;
    let path = data_dir.join("ops.db");
    let open = |e| Error::Backend { op: "open", source: Box::new(e) };
    let ops = fieldhouse_ops::Ops::open(&path, fieldhouse_ops::OpsConfig { id_seed: Some(cfg.seed) }).map_err(open)?;
    let existing = ops.outbox_max_seq().map_err(open)?;
    if existing > 0 {
        return Err(Error::NotEmpty { path: path.display().to_string(), events: existing });
    }
    let load = bulk.map(|options| ops.bulk(options)).transpose().map_err(open)?;
    let mut core = ops_core::OpsCore::new(ops);
    let summary = simulate_with(&mut core, cfg, progress);
    // Commit the last batch also when the run failed: the database then
    // holds everything up to the failure, as without batching.
    let finished = load.map(fieldhouse_ops::BulkLoad::finish).transpose();
    let summary = summary?;
    let stats = finished.map_err(|e| Error::Backend { op: "bulk_commit", source: Box::new(e) })?;
    if let Some(s) = stats {
        tracing::debug!(
            operations = s.operations,
            batches = s.batches,
            rolled_back = s.rolled_back,
            "bulk simulation committed"
        );
    }
    Ok(summary)
}
