//! `fieldhouse`: the one binary. Parses arguments, starts logging, calls the libraries.

use std::process::ExitCode;

use clap::Parser;

mod cli;
#[cfg(feature = "cluster")]
mod cmd_cluster;
mod cmd_engine;
mod cmd_ingest;
mod cmd_report;
mod cmd_sim;
mod cmd_token;
mod demo;
mod lake;
mod serve;

/// mimalloc instead of glibc malloc: ingest and the KPI engine allocate from
/// many threads at once, and glibc's arena locks showed as ~20 % of ingest time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.verbose, args.log_format);
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
