//! `fieldhouse token create|list|revoke`: the bearer tokens of the API, kept
//! in `<data-dir>/auth.db` as SHA-256 hashes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use fieldhouse_api::TokenStore;
use fieldhouse_engine::Role;
use uuid::Uuid;

/// `fieldhouse token ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it once (only its SHA-256 is stored).
    ///
    /// Roles: admin (everything), manager (KPIs, reports, master data, orders),
    /// dispatcher (orders, dispatch, stock, event batches), technician (orders,
    /// mobile sync), engineer (failure KPIs, SQL), finance (billing KPIs,
    /// invoices, claims, SQL), partner (one service agent's own rows only; needs --agent).
    #[command(
        after_help = "Example:\n  fieldhouse token create --role partner --agent 0192... --name acme-service\n  \
                            curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/api/v1/kpis"
    )]
    Create {
        /// admin, manager, dispatcher, technician, engineer, finance or partner.
        #[arg(long)]
        role: Role,
        /// The service agent (UUID) a partner token is bound to; partner tokens only.
        #[arg(long, value_name = "ID")]
        agent: Option<Uuid>,
        /// A name to recognise the token by in `token list` (default: role and id).
        #[arg(long, value_name = "N")]
        name: Option<String>,
        /// Print only the token (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List tokens: id, name, role, agent, created, revoked (never the secrets).
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (or a unique prefix of at least 8 characters);
    /// a running server refuses it from the next request on.
    Revoke {
        /// The token id from `token list`.
        id: String,
    },
}

pub(crate) fn run(data_dir: &Path, cmd: TokenCommand) -> Result<ExitCode> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let store = TokenStore::open_in(data_dir).context("opening the token store")?;
    match cmd {
        TokenCommand::Create { role, agent, name, quiet } => {
            let t = store.create(role, agent, name.as_deref())?;
            if quiet {
                println!("{}", t.secret);
            } else {
                println!("{}", t.secret);
                eprintln!(
                    "token {} ({}, role {}{}) created; it is shown only now",
                    t.info.id,
                    t.info.name,
                    t.info.role,
                    t.info.agent_id.map(|a| format!(", agent {a}")).unwrap_or_default()
                );
            }
        }
        TokenCommand::List { json } => {
            let tokens = store.list()?;
            if json {
                for t in &tokens {
                    println!("{}", serde_json::to_string(t)?);
                }
            } else {
                println!("{:<36}  {:<20}  {:<10}  {:<36}  {:<20}  revoked", "id", "name", "role", "agent", "created");
                for t in &tokens {
                    println!(
                        "{:<36}  {:<20}  {:<10}  {:<36}  {:<20}  {}",
                        t.id,
                        t.name,
                        t.role.as_str(),
                        t.agent_id.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
                        t.created_at.format("%Y-%m-%d %H:%M:%S"),
                        t.revoked_at.map(|r| r.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let t = store.revoke(&id)?;
            println!("revoked token {} ({}, role {})", t.id, t.name, t.role);
        }
    }
    Ok(ExitCode::SUCCESS)
}
