//! The KPI catalog on a cluster: Apache Ballista 55, DataFusion 55's
//! distributed engine.
//!
//! A session for a cluster ([`EngineConfig::cluster`](crate::EngineConfig))
//! is planned here and run there: the client (this process) plans the KPI's
//! SQL over the lake tables and the views, folds `fh_now()` into a constant,
//! and sends the optimised logical plan to the scheduler; the scheduler cuts
//! it into stages; the executors run them and exchange their partitions over
//! Arrow Flight.
//!
//! What crosses the wire is plain DataFusion: each lake table (the `events`
//! table, the entity tables) is a `ListingTable` over the exact Parquet files
//! of its Delta snapshot at the version the session reads (see
//! `Engine::listing_provider`), and every view is inlined. No codec of our
//! own is needed; the scheduler and every executor only need our scalar
//! functions (the SLA clock and the JSON accessors), which
//! [`server_state`] adds to Ballista's. So a scheduler and executors are
//! `fieldhouse cluster scheduler` / `fieldhouse cluster executor`
//! processes (or [`start_scheduler`] and [`start_executors`] in-process, for
//! tests), which must see the lake at the same path (a shared disk or S3).
//!
//! Plans are encoded and decoded recursively: a deep one (views over the raw
//! events) needs more than the 2 MiB of stack a tokio worker has by default,
//! so the runtimes that plan or serve for a cluster use [`STACK_BYTES`].
//!
//! Built with the feature `cluster` only (off by default).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use crate::{Error, Result, udf};

/// The stack of each runtime thread that plans for, or serves, a cluster.
pub const STACK_BYTES: usize = crate::CLUSTER_STACK_BYTES;

/// The default port of a scheduler.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

fn cluster_error(context: &str) -> impl Fn(ballista_core::error::BallistaError) -> Error + '_ {
    move |e| Error::Cluster { message: format!("{context}: {e}") }
}

/// The session state of a scheduler or an executor: Ballista's functions
/// and planner rules, and ours (the SLA clock, the JSON accessors; an
/// `fh_now()` that fails, because the client folds it into a constant
/// before the plan leaves it).
pub fn server_state(config: SessionConfig) -> datafusion::common::Result<SessionState> {
    use datafusion::execution::FunctionRegistry;
    let mut state = ballista_core::utils::default_session_builder(config)?;
    for f in udf::cluster_side() {
        state.register_udf(Arc::new(f))?;
    }
    Ok(state)
}

/// Ballista's settings, with its static planner: the adaptive one (on by
/// default since Ballista 55) re-plans a stage after its inputs ran and then
/// fails the sanity check of an ORDER BY over a UNION whose branches are
/// sorted on constants (`billing_leakage`), and the job never ends.
fn ballista_config(config: SessionConfig) -> SessionConfig {
    config.upgrade_for_ballista().with_ballista_adaptive_query_planner(false)
}

fn config_producer() -> ConfigProducer {
    Arc::new(|| ballista_config(SessionConfig::new_with_ballista()))
}

fn session_builder() -> SessionBuilder {
    Arc::new(server_state)
}

fn function_registry() -> Result<BallistaFunctionRegistry> {
    let state = server_state(ballista_config(SessionConfig::new_with_ballista()))
        .map_err(Error::query("building the executor"))?;
    Ok(BallistaFunctionRegistry::from(&state))
}

/// The `http://host:port` URL of scheduler `address` (`host:port`; the
/// port defaults to [`DEFAULT_SCHEDULER_PORT`]; an `http://` or `df://`
/// prefix is accepted).
pub fn scheduler_url(address: &str) -> Result<String> {
    let bare = address.trim().trim_start_matches("http://").trim_start_matches("df://").trim_end_matches('/');
    if bare.is_empty() || bare.contains('/') {
        return Err(Error::Cluster { message: format!("`{address}` is not a scheduler address (HOST:PORT)") });
    }
    Ok(if bare.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        format!("http://{bare}")
    } else {
        format!("http://{bare}:{DEFAULT_SCHEDULER_PORT}")
    })
}

/// A client session state whose queries run on the scheduler at `address`,
/// with this engine's settings (`config`) and runtime (memory pool and
/// spill for the client's own part: collecting the results).
pub(crate) fn client_state(address: &str, config: SessionConfig, runtime: Arc<RuntimeEnv>) -> Result<SessionState> {
    let url = scheduler_url(address)?;
    datafusion::execution::SessionStateBuilder::new()
        .with_default_features()
        .with_config(ballista_config(config))
        .with_runtime_env(runtime)
        .build()
        .upgrade_for_ballista(url)
        .map_err(Error::query("connecting to the cluster"))
}

/// Start a scheduler on `listener` (bound by the caller: any address, port
/// 0 for a free one) in this process: pull-staged scheduling, cluster state
/// in memory. It serves until the runtime stops.
pub async fn start_scheduler(listener: tokio::net::TcpListener) -> Result<SocketAddr> {
    let addr = listener.local_addr().map_err(|e| Error::Cluster { message: format!("scheduler address: {e}") })?;
    let config = SchedulerConfig {
        bind_host: addr.ip().to_string(),
        external_host: addr.ip().to_string(),
        bind_port: addr.port(),
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_session_builder: Some(session_builder()),
        override_config_producer: Some(config_producer()),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_memory(addr.to_string(), session_builder(), config_producer());
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
        .await
        .map_err(cluster_error("starting the scheduler"))?;
    tokio::spawn(async move {
        if let Err(e) = start_grpc_service_with_listener(listener, scheduler).await {
            tracing::error!(error = %e, "the scheduler stopped");
        }
    });
    tracing::info!(%addr, "Ballista scheduler listening");
    Ok(addr)
}

/// Start `count` executors in this process (each with `vcores` task slots,
/// its own Arrow Flight port on localhost and its own work directory),
/// polling the scheduler at `scheduler` for tasks. They run until the
/// runtime stops.
pub async fn start_executors(scheduler: SocketAddr, count: usize, vcores: usize) -> Result<()> {
    let url = format!("http://{scheduler}");
    let codec = BallistaCodec::<LogicalPlanNode, PhysicalPlanNode>::default();
    for _ in 0..count {
        // The scheduler may still be starting: retry for a while.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let client = loop {
            match SchedulerGrpcClient::connect(url.clone()).await {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(Error::Cluster { message: format!("cannot reach the scheduler at {url}: {e}") });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let runtime = Arc::new(RuntimeEnv::default());
        let runtime_producer: RuntimeProducer = Arc::new(move |_| Ok(runtime.clone()));
        ballista_executor::new_standalone_executor_from_builder(
            client,
            vcores.max(1),
            config_producer(),
            runtime_producer,
            codec.clone(),
            function_registry()?,
        )
        .await
        .map_err(cluster_error("starting an executor"))?;
    }
    Ok(())
}

/// A long-running executor process (`fieldhouse cluster executor`).
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `host:port`.
    pub scheduler: String,
    /// The address the executor's Arrow Flight service binds (other
    /// executors and clients fetch results from it).
    pub bind: SocketAddr,
    /// The host name the others reach this executor at (default: the bind
    /// address, or `localhost` when that is unspecified).
    pub external_host: Option<String>,
    /// Task slots (default: the number of cores).
    pub vcores: usize,
    /// Where shuffle files go (default: a temporary directory).
    pub work_dir: Option<PathBuf>,
}

/// Run an executor until it is stopped (Ctrl-C, SIGTERM).
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let url = scheduler_url(&options.scheduler)?;
    let hostport = url.trim_start_matches("http://");
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "50050"));
    let scheduler_port = port.parse().unwrap_or(DEFAULT_SCHEDULER_PORT);
    let external_host = options.external_host.clone().or_else(|| {
        let ip = options.bind.ip();
        (!ip.is_unspecified()).then(|| ip.to_string())
    });
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: external_host.or_else(|| Some("localhost".into())),
        port: options.bind.port(),
        scheduler_host: host.to_string(),
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: options.vcores,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: options.work_dir.as_ref().map(|p| p.display().to_string()),
        print_thread_info: false,
        override_function_registry: Some(Arc::new(function_registry()?)),
        override_config_producer: Some(config_producer()),
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(cluster_error("the executor"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scheduler_addresses_take_a_default_port_and_known_prefixes() {
        assert_eq!(scheduler_url("10.0.0.5:50050").unwrap(), "http://10.0.0.5:50050");
        assert_eq!(scheduler_url("sched").unwrap(), "http://sched:50050");
        assert_eq!(scheduler_url("df://sched:7000").unwrap(), "http://sched:7000");
        assert_eq!(scheduler_url("http://127.0.0.1:9/").unwrap(), "http://127.0.0.1:9");
        assert!(scheduler_url("").is_err());
        assert!(scheduler_url("host:1/x").is_err());
    }
}
