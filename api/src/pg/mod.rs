//! The PostgreSQL wire protocol endpoint (`serve --pg-addr`): psql, Grafana,
//! Metabase, DBeaver and drivers read the lake and the KPIs as from a
//! read-only PostgreSQL database.
//!
//! - **Login**: the password is a Fieldhouse token (the user name is not
//!   checked); a role allowed `/api/v1/sql` may connect. A partner's session
//!   sees its agent's rows only, exactly as over HTTP.
//! - **What runs**: queries (and, unscoped, `EXPLAIN` of one), through the
//!   same read-only check, row limit (`sql_max_rows`), time limit
//!   (`sql_timeout_secs`), memory pool (`sql_memory_mib`, one per connection)
//!   and concurrency bound (`sql_concurrency`) as `POST /api/v1/sql`.
//!   `SET` is answered and ignored (a client cannot lift a limit); `SHOW`
//!   answers from fixed settings; `BEGIN`/`COMMIT`/`ROLLBACK` are accepted
//!   (every statement reads one lake version). Everything else is refused
//!   with SQLSTATE 25006 (read-only transaction), `COPY` with 42501.
//! - **What is there**: `events`, the views of `sql/views` (`orders`,
//!   `visits`, ...), and each KPI the role may read as the view
//!   `kpi.<name>` at its default parameters (e.g. `SELECT * FROM
//!   kpi.sla_response_compliance`); `pg_catalog` and `information_schema`
//!   for clients' discovery queries (psql `\dv`, `\d orders`).
//! - **Freshness**: a connection's session follows the lake: a statement
//!   after a new commit reads the new version (and the clock, within a minute).
//!   `SET fieldhouse.as_of = '<version | RFC 3339 instant | date>'` reads the
//!   lake as it was, `SET fieldhouse.now = '<RFC 3339>'` fixes the reference
//!   instant of SLA states and ages (as `as_of` and `now` of the HTTP API);
//!   `'latest'` goes back.
//!
//! Errors carry SQLSTATEs: 28P01 bad token, 42501 not allowed, 25006
//! read-only, 57014 time limit, 53200 memory limit, 42601/42000 bad SQL.
//! TLS is not offered: bind to loopback, or put a TLS proxy in front.

mod errors;
mod login;
mod query;
mod session;

use std::sync::{Arc, Weak};
use std::time::Instant;

use datafusion::prelude::SessionContext;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{PgCatalogSchemaProvider, PgCatalogStaticTables};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use fieldhouse_engine::{Caller, Engine, SessionOptions};
use pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ErrorHandler, PgWireServerHandlers};
use tokio::net::TcpListener;

use crate::state::ApiState;
use session::Catalogs;

pub use query::PgStatement;

/// The PostgreSQL version clients are told (what their SQL may assume).
const SERVER_VERSION: &str = "16.6";

/// Serve the PostgreSQL protocol on `listener` until `shutdown` completes
/// (connections in progress are dropped then).
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let statics = Arc::new(
        PgCatalogStaticTables::try_new().map_err(|e| std::io::Error::other(format!("pg_catalog tables: {e}")))?,
    );
    let mut params = DefaultServerParameterProvider::default();
    params.server_version = SERVER_VERSION.into();
    params.is_superuser = false;
    params.default_transaction_read_only = true;
    let server = Arc::new_cyclic(|me| PgServer {
        me: me.clone(),
        state,
        statics,
        parser: Arc::new(PostgresCompatibilityParser::new()),
        params: Arc::new(params),
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "pg: accept failed");
                        continue;
                    }
                };
                let handlers = Handlers(server.clone());
                tokio::spawn(async move {
                    if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                        tracing::debug!(%peer, error = %e, "pg: connection ended with an error");
                    }
                });
            }
        }
    }
}

/// What every connection shares.
struct PgServer {
    /// Itself (the extended protocol asks for its parser as an `Arc`).
    me: Weak<PgServer>,
    state: ApiState,
    statics: Arc<PgCatalogStaticTables>,
    parser: Arc<PostgresCompatibilityParser>,
    params: Arc<DefaultServerParameterProvider>,
}

/// The handlers of one connection (all the same server).
struct Handlers(Arc<PgServer>);

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.0.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.0.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.0.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        self.0.clone()
    }
}

/// One authenticated connection (kept in its session extensions).
struct PgConn {
    caller: Caller,
    /// Its own engine: the memory pool of one SQL query, per connection.
    engine: Engine,
    catalogs: Catalogs,
    pg_catalog: Arc<PgCatalogSchemaProvider<Catalogs, EmptyContextProvider>>,
    /// What `SET fieldhouse.as_of` / `fieldhouse.now` chose (default: latest, the wall clock).
    options: std::sync::Mutex<SessionOptions>,
    /// The session, the lake version it reads and when it was made.
    session: tokio::sync::Mutex<Option<(i64, Instant, Arc<SessionContext>)>>,
}
