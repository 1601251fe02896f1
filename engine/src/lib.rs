//! The KPI engine: a DataFusion session over the lake, views and KPIs from
//! `sql/`, business-time UDFs, per-caller scoping.
//!
//! - [`session`]: [`Engine`] and the one function that builds a session:
//!   lake tables (latest or as of a version/instant), the caller's row scope,
//!   UDFs, views; memory pool, spill and time limit.
//! - [`udf`]: `business_seconds`, `sla_deadline`, `sla_state` over the SLA
//!   clock of `fieldhouse_domain`; JSON accessors for the payload; `fh_now()`.
//! - [`scope`]: [`Caller`], [`Role`] and what an agent-bound caller may see.
//! - [`catalog`]: the KPI files of `sql/kpi/`: header, typed parameters,
//!   allowed dimensions, audience.
//! - [`entity`]: the views kept as Delta tables of the lake, brought up to
//!   date after every commit by recomputing the touched keys.
//! - [`cache`]: [`cache::KpiCache`], KPI answers kept per lake version.
//! - `cluster` (feature `cluster`): sessions that run on an Apache Ballista
//!   cluster, and its scheduler and executors with our functions.
//! - [`run`]: [`run_kpi`] and read-only [`run_sql`], as record-batch streams.
//! - [`output`]: results as a text table, CSV, JSON or Parquet.
//! - [`sqlfiles`]: the SQL files, embedded in the binary or read from disk.
//! - [`error`]: the one error type.
//! - `testing` (feature `testing`): write events to a Delta table for tests.

pub mod cache;
mod cached;
pub mod catalog;
#[cfg(feature = "cluster")]
pub mod cluster;
mod compute;
pub mod entity;
pub mod error;
pub mod output;
pub mod run;
pub mod scope;
pub mod session;
pub mod sqlfiles;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod udf;

pub use catalog::{Catalog, KpiDef, ParamDef, ParamType};
pub use datafusion::execution::SendableRecordBatchStream;
pub use entity::{EntityReport, MaintainOptions};
pub use error::{Error, Result};
pub use run::{KpiRequest, SqlLimits, check_statement, collect, plan_kpi, run_kpi, run_plan, run_sql};
pub use scope::{Caller, Role};
pub use session::{
    AsOf, Engine, EngineConfig, SessionOptions, Source, datafusion_env, default_memory_limit, local_lake,
};

/// Whether this build can run sessions on a cluster (feature `cluster`; see
/// [`EngineConfig::cluster`]).
pub const CLUSTER_AVAILABLE: bool = cfg!(feature = "cluster");

/// The thread stack a runtime that plans for, or serves, a cluster needs:
/// plans are encoded and decoded recursively, and a deep one (views over
/// the raw events) needs more than the 2 MiB of a tokio worker's default.
pub const CLUSTER_STACK_BYTES: usize = 64 << 20;
