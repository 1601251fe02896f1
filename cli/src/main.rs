//! `fieldhouse`: the one binary. Parses arguments, starts logging, calls the libraries.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd_engine;
mod cmd_ingest;
mod cmd_report;
mod cmd_sim;
mod cmd_token;
mod demo;
mod serve;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.verbose);
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
