//! `fieldhouse cluster scheduler|executor`: the nodes of an Apache Ballista
//! cluster that runs the KPI catalog (`fieldhouse kpi --engine ballista`,
//! `serve` with `cluster_scheduler`), with Fieldhouse's functions built in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use fieldhouse_engine::cluster::{ExecutorOptions, run_executor, start_scheduler};

/// A node of the cluster.
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// The scheduler: receives the plans of `kpi --engine ballista` (and of a
    /// server configured with `cluster_scheduler`), cuts them into stages and
    /// hands their tasks to the executors. Runs until Ctrl-C or SIGTERM.
    #[command(after_help = "Example, one machine:\n  \
        fieldhouse cluster scheduler &\n  \
        fieldhouse cluster executor --bind 127.0.0.1:50051 &\n  \
        fieldhouse cluster executor --bind 127.0.0.1:50061 &\n  \
        fieldhouse kpi first_time_fix_rate --engine ballista --scheduler 127.0.0.1:50050")]
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
    },
    /// An executor: runs the tasks the scheduler hands out, reading the lake
    /// at the paths the plans name (every executor must see the lake at the
    /// same location as the client: a shared disk or S3), and serves its
    /// partitions to the others over Arrow Flight. Runs until Ctrl-C or SIGTERM.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050", env = "FIELDHOUSE_CLUSTER_SCHEDULER")]
        scheduler: String,
        /// Address of this executor's Arrow Flight service.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: SocketAddr,
        /// The host name the scheduler, the other executors and the clients
        /// reach this executor at (default: the --bind address).
        #[arg(long)]
        external_host: Option<String>,
        /// Task slots (0: one per core).
        #[arg(long, default_value_t = 0)]
        vcores: usize,
        /// Where shuffle files go (default: a temporary directory).
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

/// `fieldhouse cluster ...`
pub(crate) fn run(_data_dir: &Path, cmd: ClusterCommand) -> Result<ExitCode> {
    let rt = crate::cli::runtime()?;
    rt.block_on(async move {
        match cmd {
            ClusterCommand::Scheduler { bind } => {
                let listener =
                    tokio::net::TcpListener::bind(bind).await.with_context(|| format!("listening on {bind}"))?;
                let addr = start_scheduler(listener).await?;
                eprintln!("Ballista scheduler listening on {addr}; stop with Ctrl-C");
                crate::serve::stop_signal().await;
            }
            ClusterCommand::Executor { scheduler, bind, external_host, vcores, work_dir } => {
                if let Some(dir) = &work_dir {
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                eprintln!("Ballista executor on {bind}, scheduler {scheduler}; stop with Ctrl-C");
                run_executor(ExecutorOptions { scheduler, bind, external_host, vcores, work_dir }).await?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
