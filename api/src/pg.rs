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

use std::fmt::Debug;
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type};
use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::catalog::{CatalogProviderList, MemorySchemaProvider};
use datafusion::common::TableReference;
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use datafusion_pg_catalog::pg_catalog::catalog_info::CatalogInfo;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{PgCatalogSchemaProvider, PgCatalogStaticTables};
use datafusion_pg_catalog::setup_pg_catalog;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use fieldhouse_engine::{Caller, Engine, KpiRequest, SessionOptions, SqlLimits};
use futures::{Sink, StreamExt, stream};
use pgwire::api::auth::{DefaultServerParameterProvider, StartupHandler, finish_authentication};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ErrorHandler, PgWireConnectionState, PgWireServerHandlers, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::types::format::FormatOptions;
use tokio::net::TcpListener;

use crate::error::engine_error;
use crate::server::ApiState;

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

/// The catalogs of a connection's current session, held weakly: `pg_catalog`
/// lives in them, and a strong reference back would keep every session (and
/// its computed views) alive forever. One per connection, pointed at each new
/// session, so the table oids psql reads stay the same across statements.
#[derive(Clone, Default)]
struct Catalogs(Arc<RwLock<Option<Weak<dyn CatalogProviderList>>>>);

impl Debug for Catalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalogs")
    }
}

impl Catalogs {
    fn set(&self, list: &Arc<dyn CatalogProviderList>) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::downgrade(list));
    }

    fn get(&self) -> Result<Arc<dyn CatalogProviderList>, DataFusionError> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(Weak::upgrade)
            .ok_or_else(|| DataFusionError::Execution("the session has ended".into()))
    }
}

#[async_trait]
impl CatalogInfo for Catalogs {
    async fn catalog_names(&self) -> Result<Vec<String>, DataFusionError> {
        self.get()?.catalog_names().await
    }

    async fn schema_names(&self, catalog: &str) -> Result<Option<Vec<String>>, DataFusionError> {
        self.get()?.schema_names(catalog).await
    }

    async fn table_names(&self, catalog: &str, schema: &str) -> Result<Option<Vec<String>>, DataFusionError> {
        self.get()?.table_names(catalog, schema).await
    }

    async fn table_schema(
        &self,
        catalog: &str,
        schema: &str,
        table: &str,
    ) -> Result<Option<SchemaRef>, DataFusionError> {
        self.get()?.table_schema(catalog, schema, table).await
    }

    async fn table_type(&self, catalog: &str, schema: &str, table: &str) -> Result<Option<TableType>, DataFusionError> {
        self.get()?.table_type(catalog, schema, table).await
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

/// A session is made again after this long even if the lake has not moved,
/// so the SLA states and ages of a long-lived connection follow the clock.
const SESSION_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

impl PgServer {
    fn conn<C: ClientInfo>(&self, client: &C) -> PgWireResult<Arc<PgConn>> {
        client.session_extensions().get::<PgConn>().ok_or_else(|| user_error("28000", "not logged in".to_string()))
    }

    fn redact(&self) -> Vec<String> {
        let d = self.state.data_dir.display().to_string();
        let canon = self.state.data_dir.canonicalize().map(|p| p.display().to_string()).unwrap_or_default();
        vec![d, canon]
    }

    /// An engine or DataFusion error as a PostgreSQL error.
    fn pg_error(&self, e: &(dyn std::error::Error + 'static)) -> PgWireError {
        let redact = self.redact();
        let redact: Vec<&str> = redact.iter().map(String::as_str).collect();
        let api = engine_error(e, &redact);
        let code = match api.code.as_str() {
            "refused" => "25006",
            "forbidden" => "42501",
            "query_timeout" => "57014",
            "query_too_large" => "53200",
            "bad_query" if api.message.contains("not found") => "42P01",
            "bad_query" => "42601",
            "unsupported" => "0A000",
            "kpi_not_found" => "42P01",
            "bad_parameter" => "22023",
            _ => "XX000",
        };
        user_error(code, api.message)
    }

    /// Log in: the password is a Fieldhouse token of a role that may use SQL.
    async fn login(&self, token: String) -> PgWireResult<PgConn> {
        let tokens = self.state.tokens.clone();
        let caller = tokio::task::spawn_blocking(move || tokens.authenticate(&token))
            .await
            .map_err(|e| user_error("XX000", format!("checking the token: {e}")))?;
        let Some(caller) = caller else {
            self.state.metrics.auth_failure();
            return Err(user_fatal(
                "28P01",
                "password authentication failed: the password must be a valid Fieldhouse token",
            ));
        };
        if !crate::routes::SQL.contains(&caller.role) {
            return Err(user_fatal("42501", &format!("role `{}` may not use SQL", caller.role)));
        }
        let mut cfg = self.state.engine.config().clone();
        cfg.memory_limit = self.state.config.sql_memory_mib << 20;
        cfg.query_timeout = self.state.config.sql_timeout();
        let engine = Engine::new(cfg).map_err(|e| self.pg_error(&e))?.following(&self.state.engine);
        let catalogs = Catalogs::default();
        let pg_catalog = Arc::new(
            PgCatalogSchemaProvider::try_new(catalogs.clone(), self.statics.clone(), EmptyContextProvider)
                .map_err(|e| self.pg_error(&e))?,
        );
        tracing::info!(role = %caller.role, agent = ?caller.agent_id, "pg: logged in");
        Ok(PgConn {
            caller,
            engine,
            catalogs,
            pg_catalog,
            options: std::sync::Mutex::new(SessionOptions::default()),
            session: tokio::sync::Mutex::new(None),
        })
    }

    /// The connection's session at the lake's latest version.
    async fn session(&self, conn: &PgConn) -> PgWireResult<Arc<SessionContext>> {
        let version = conn.engine.lake_version().await.map_err(|e| self.pg_error(&e))?;
        let mut slot = conn.session.lock().await;
        if let Some((v, made, ctx)) = slot.as_ref()
            && *v == version
            && made.elapsed() < SESSION_MAX_AGE
        {
            return Ok(ctx.clone());
        }
        let options = conn.options.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let ctx = conn.engine.session(&conn.caller, &options).await.map_err(|e| self.pg_error(&e))?;
        ctx.state_ref().write().config_mut().options_mut().catalog.information_schema = true;
        // The pg_* functions and types; its pg_catalog (which holds the catalogs
        // strongly) is then replaced by the connection's, which does not.
        setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider).map_err(|e| self.pg_error(&*e))?;
        conn.catalogs.set(&ctx.state().catalog_list().clone());
        let catalog = ctx.catalog("datafusion").ok_or_else(|| user_error("XX000", "no catalog".into()))?;
        catalog.register_schema("pg_catalog", conn.pg_catalog.clone()).map_err(|e| self.pg_error(&e))?;
        ctx.register_udf(version_udf());
        self.register_kpis(&ctx, conn, &options).await?;
        let ctx = Arc::new(ctx);
        *slot = Some((version, Instant::now(), ctx.clone()));
        Ok(ctx)
    }

    /// Every KPI the caller may read as the view `kpi.<name>`, at its default
    /// parameters, answered from the server's KPI cache (the one the HTTP API
    /// and the dashboard use): a KPI read again at the same lake version is
    /// not computed again.
    async fn register_kpis(&self, ctx: &SessionContext, conn: &PgConn, options: &SessionOptions) -> PgWireResult<()> {
        let catalog = ctx.catalog("datafusion").ok_or_else(|| user_error("XX000", "no catalog".into()))?;
        catalog.register_schema("kpi", Arc::new(MemorySchemaProvider::new())).map_err(|e| self.pg_error(&e))?;
        for def in conn.engine.catalog().list() {
            if !def.allows(conn.caller.role) {
                continue;
            }
            // The answer's columns, from the plan (nothing is computed here).
            let request = KpiRequest { session: options.clone(), ..KpiRequest::new(&def.name) };
            let df = fieldhouse_engine::plan_kpi(ctx, def, &request).await.map_err(|e| self.pg_error(&e))?;
            let table = KpiTable {
                state: self.state.clone(),
                request,
                caller: conn.caller.clone(),
                // Every column nullable: the computed batches may say nullable where the plan does not.
                schema: Arc::new(datafusion::arrow::datatypes::Schema::new(
                    df.schema()
                        .as_arrow()
                        .fields()
                        .iter()
                        .map(|f| f.as_ref().clone().with_nullable(true))
                        .collect::<Vec<_>>(),
                )),
            };
            ctx.register_table(TableReference::partial("kpi", def.name.as_str()), Arc::new(table))
                .map_err(|e| self.pg_error(&e))?;
        }
        Ok(())
    }

    /// What a statement is, and whether the caller may run it.
    fn classify(&self, conn: &PgConn, statement: Statement) -> PgWireResult<Kind> {
        Ok(match statement {
            Statement::Set(Set::SingleAssignment { variable, values, .. })
                if variable.to_string().to_ascii_lowercase().starts_with("fieldhouse.") =>
            {
                let name = variable.to_string().to_ascii_lowercase();
                let value = match values.as_slice() {
                    [Expr::Value(v)] => match &v.value {
                        Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    [other] => other.to_string(),
                    _ => return Err(user_error("22023", format!("SET {name}: one value expected"))),
                };
                Kind::Option(name, value)
            }
            // Client settings (DateStyle, extra_float_digits ...) and limits: answered, not applied.
            Statement::Set(_) => Kind::Done(Tag::new("SET")),
            Statement::StartTransaction { .. } => Kind::Begin,
            Statement::Commit { .. } => Kind::End("COMMIT"),
            Statement::Rollback { .. } => Kind::End("ROLLBACK"),
            Statement::Discard { .. } => Kind::Done(Tag::new("DISCARD ALL")),
            Statement::Deallocate { .. } => Kind::Done(Tag::new("DEALLOCATE")),
            Statement::ShowVariable { variable } => {
                let name = variable.iter().map(|i| i.value.to_ascii_lowercase()).collect::<Vec<_>>().join(" ");
                Kind::Run(Box::new(show_query(&name, self.state.config.sql_timeout_secs)?))
            }
            Statement::ShowTables { .. } | Statement::ShowColumns { .. } => Kind::Run(Box::new(statement)),
            Statement::Copy { .. } => {
                return Err(user_error("42501", "COPY is not allowed: the endpoint is read-only".into()));
            }
            other => {
                fieldhouse_engine::check_statement(&other, conn.caller.agent_id.is_none())
                    .map_err(|e| self.pg_error(&e))?;
                Kind::Run(Box::new(other))
            }
        })
    }

    /// Plan `statement` in the connection's current session.
    async fn plan(&self, ctx: &SessionContext, statement: &Statement) -> PgWireResult<LogicalPlan> {
        ctx.state()
            .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
            .await
            .map_err(|e| self.pg_error(&fieldhouse_engine::Error::Query { context: "planning SQL".into(), source: e }))
    }

    /// Run a plan under the SQL limits and encode its rows as `format` says;
    /// the rows hold `permit` (one of `sql_concurrency`) until sent.
    async fn run(
        &self,
        ctx: &SessionContext,
        plan: LogicalPlan,
        format: &Format,
        options: Arc<FormatOptions>,
        permit: Permit,
    ) -> PgWireResult<Response> {
        let started = Instant::now();
        let metrics = self.state.metrics.clone();
        let limits =
            SqlLimits { max_rows: self.state.config.sql_max_rows, timeout: Some(self.state.config.sql_timeout()) };
        let stream = match fieldhouse_engine::run_plan(ctx, plan, limits, self.state.config.sql_timeout()).await {
            Ok(s) => s,
            Err(e) => {
                metrics.query("pg", "error", started.elapsed());
                return Err(self.pg_error(&e));
            }
        };
        let fields = Arc::new(arrow_schema_to_pg_fields(&stream.schema(), format, Some(options))?);
        let redact = self.redact();
        let rows_fields = fields.clone();
        let rows = stream
            .map(move |batch| {
                let _held = &permit;
                let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> = match batch {
                    Ok(b) => encode_recordbatch(rows_fields.clone(), b),
                    Err(e) => {
                        let r: Vec<&str> = redact.iter().map(String::as_str).collect();
                        let api = engine_error(&e, &r);
                        let code = if api.code == "query_timeout" {
                            "57014"
                        } else if api.code == "query_too_large" {
                            "53200"
                        } else {
                            "XX000"
                        };
                        Box::new(std::iter::once(Err(user_error(code, api.message))))
                    }
                };
                stream::iter(rows)
            })
            .flatten()
            .map(Some)
            .chain(stream::once(async move {
                metrics.query("pg", "ok", started.elapsed());
                None
            }))
            .filter_map(|row| async move { row });
        Ok(Response::Query(QueryResponse::new(fields, rows)))
    }

    /// Answer one statement of either protocol. `permit`: the query slot of
    /// the statements of one message, taken at the first that runs: the rows
    /// of a simple query's statements are sent only after all are answered,
    /// so a slot each would wait forever for more than `sql_concurrency`.
    async fn answer<C: ClientInfo>(
        &self,
        client: &C,
        kind: Kind,
        params: Option<&Portal<PgStatement>>,
        format: &Format,
        permit: &mut Option<Permit>,
    ) -> PgWireResult<Response> {
        match kind {
            Kind::Done(tag) => Ok(Response::Execution(tag)),
            Kind::Begin => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
            Kind::End(tag) => Ok(Response::TransactionEnd(Tag::new(tag))),
            Kind::Option(name, value) => {
                let conn = self.conn(client)?;
                {
                    let mut options = conn.options.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let latest = value.eq_ignore_ascii_case("latest") || value.eq_ignore_ascii_case("default");
                    match name.as_str() {
                        "fieldhouse.as_of" if latest => options.as_of = fieldhouse_engine::AsOf::Latest,
                        "fieldhouse.as_of" => {
                            options.as_of = value.parse().map_err(|e: fieldhouse_engine::Error| {
                                user_error("22023", format!("SET fieldhouse.as_of: {e}"))
                            })?;
                        }
                        "fieldhouse.now" if latest => options.now = None,
                        "fieldhouse.now" => {
                            let now = chrono::DateTime::parse_from_rfc3339(&value).map_err(|_| {
                                user_error("22023", format!("SET fieldhouse.now: `{value}` is not an RFC 3339 instant"))
                            })?;
                            options.now = Some(now.with_timezone(&chrono::Utc));
                        }
                        _ => {
                            return Err(user_error(
                                "42704",
                                format!(
                                    "unrecognized configuration parameter \"{name}\" (fieldhouse.as_of, fieldhouse.now)"
                                ),
                            ));
                        }
                    }
                }
                *conn.session.lock().await = None;
                Ok(Response::Execution(Tag::new("SET")))
            }
            Kind::Run(statement) => {
                let conn = self.conn(client)?;
                let ctx = self.session(&conn).await?;
                let mut plan = self.plan(&ctx, &statement).await?;
                if let Some(portal) = params {
                    let values = decode_parameters(portal, &plan)?;
                    plan = plan.replace_params_with_values(&values).map_err(|e| self.pg_error(&e))?;
                }
                let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                let slot = match permit {
                    Some(p) => p.clone(),
                    None => {
                        let p = self.state.sql_slots.clone().acquire_owned().await;
                        let p = Arc::new(p.map_err(|e| user_error("XX000", e.to_string()))?);
                        *permit = Some(p.clone());
                        p
                    }
                };
                self.run(&ctx, plan, format, options, slot).await
            }
        }
    }
}

/// A KPI as a table: its rows from the server's KPI cache (computed on a miss).
struct KpiTable {
    state: ApiState,
    request: KpiRequest,
    caller: Caller,
    schema: SchemaRef,
}

impl Debug for KpiTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KpiTable").field("kpi", &self.request.name).finish()
    }
}

#[async_trait]
impl TableProvider for KpiTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        _filters: &[datafusion::prelude::Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let answer = self
            .state
            .cache
            .run(&self.state.engine, &self.request, &self.caller)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        // In the planned columns' types (the cache keeps what the computation gave).
        let batches = answer
            .batches
            .iter()
            .map(|b| {
                let columns = b
                    .columns()
                    .iter()
                    .zip(self.schema.fields())
                    .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                    .collect::<Result<Vec<_>, _>>()?;
                datafusion::arrow::record_batch::RecordBatch::try_new(self.schema.clone(), columns)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let exec = datafusion::datasource::memory::MemorySourceConfig::try_new_exec(
            &[batches],
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}

/// A query slot (of `sql_concurrency`), shared by the statements of one message.
type Permit = Arc<tokio::sync::OwnedSemaphorePermit>;

/// A statement's kind once classified.
#[derive(Debug, Clone)]
enum Kind {
    /// Run through the engine.
    Run(Box<Statement>),
    /// Answered with this tag, nothing done (SET, DISCARD ...).
    Done(Tag),
    Begin,
    End(&'static str),
    /// `SET fieldhouse.as_of` or `fieldhouse.now`: name and value.
    Option(String, String),
}

/// A statement of the extended protocol, with its plan at Parse time (for
/// Describe); Execute plans it again in the session of that moment.
#[derive(Debug, Clone)]
pub struct PgStatement {
    kind: Kind,
    plan: Option<LogicalPlan>,
}

/// `version()` as PostgreSQL words it (clients read the major version from it).
fn version_udf() -> datafusion::logical_expr::ScalarUDF {
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    let text = format!(
        "PostgreSQL {SERVER_VERSION} (Fieldhouse {}, Apache DataFusion {}; read-only)",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    );
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(datafusion::scalar::ScalarValue::Utf8(Some(text.clone()))))),
    )
}

/// `SHOW name` as a query of the fixed settings clients ask for.
fn show_query(name: &str, timeout_secs: u64) -> PgWireResult<Statement> {
    let timeout = format!("{timeout_secs}s");
    let value = match name {
        "server_version" => SERVER_VERSION,
        "server_encoding" | "client_encoding" => "UTF8",
        "standard_conforming_strings"
        | "integer_datetimes"
        | "transaction_read_only"
        | "default_transaction_read_only" => "on",
        "timezone" | "time zone" => "UTC",
        "datestyle" => "ISO, MDY",
        "search_path" => "public",
        "transaction_isolation" | "transaction isolation level" | "default_transaction_isolation" => "read committed",
        "statement_timeout" => timeout.as_str(),
        "max_identifier_length" => "63",
        "lc_collate" | "lc_ctype" => "C.UTF-8",
        "max_index_keys" => "32",
        _ => return Err(user_error("42704", format!("unrecognized configuration parameter \"{name}\""))),
    };
    let column = name.replace(' ', "_");
    let sql = format!("SELECT '{value}' AS \"{column}\"");
    let mut statements = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
        &sql,
    )
    .map_err(|e| user_error("XX000", e.to_string()))?;
    statements.pop().ok_or_else(|| user_error("XX000", "no statement".into()))
}

/// The plan's parameters (`$1`, `$2` ...) in order, with their inferred types.
fn parameter_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let types = plan.get_parameter_types().map_err(|e| user_error("42P18", e.to_string()))?;
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .filter_map(|(k, t)| k.trim_start_matches('$').parse::<usize>().ok().map(|n| (n, t)))
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let last = numbered.last().map_or(0, |(n, _)| *n);
    let mut out = vec![None; last];
    for (n, t) in numbered {
        if n >= 1 {
            out[n - 1] = t;
        }
    }
    Ok(out)
}

fn wire_types(types: &[Option<DataType>]) -> PgWireResult<Vec<Type>> {
    types.iter().map(|t| t.as_ref().map_or(Ok(Type::UNKNOWN), into_pg_type)).collect()
}

fn decode_parameters(
    portal: &Portal<PgStatement>,
    plan: &LogicalPlan,
) -> PgWireResult<datafusion::common::ParamValues> {
    let types = parameter_types(plan)?;
    let wire = wire_types(&types)?;
    let inferred: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
    let server: Vec<Option<&Type>> = wire.iter().map(Some).collect();
    deserialize_parameters_with_server_types(portal, &inferred, &server)
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), message)))
}

fn user_fatal(code: &str, message: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".into(), code.into(), message.into())))
}

#[async_trait]
impl StartupHandler for PgServer {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use futures::SinkExt;
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                pgwire::api::auth::protocol_negotiation(client, startup).await?;
                pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let token = pwd.into_password()?.password;
                let conn = self.login(token).await?;
                client.session_extensions().insert(conn);
                let (pid, secret) = RandomPidSecretKeyGenerator::default().generate(client);
                client.set_pid_and_secret_key(pid, secret);
                finish_authentication(client, self.params.as_ref()).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[async_trait]
impl SimpleQueryHandler for PgServer {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.conn(client)?;
        let statements = self.parser.parse(query).map_err(|e| user_error("42601", e.to_string()))?;
        let mut out = Vec::with_capacity(statements.len());
        let mut permit = None;
        for statement in statements {
            let kind = self.classify(&conn, statement)?;
            out.push(self.answer(client, kind, None, &Format::UnifiedText, &mut permit).await?);
        }
        Ok(out)
    }
}

#[async_trait]
impl QueryParser for PgServer {
    type Statement = PgStatement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<PgStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let conn = self.conn(client)?;
        let mut statements = self.parser.parse(sql).map_err(|e| user_error("42601", e.to_string()))?;
        if statements.len() > 1 {
            return Err(user_error("42601", "one statement at a time in the extended protocol".into()));
        }
        let Some(statement) = statements.pop() else { return Ok(None) };
        let kind = self.classify(&conn, statement)?;
        let plan = match &kind {
            Kind::Run(s) => {
                let ctx = self.session(&conn).await?;
                Some(self.plan(&ctx, s).await?)
            }
            _ => None,
        };
        Ok(Some(PgStatement { kind, plan }))
    }

    fn get_parameter_types(&self, stmt: &PgStatement) -> PgWireResult<Vec<Type>> {
        match &stmt.plan {
            Some(plan) => wire_types(&parameter_types(plan)?),
            None => Ok(vec![]),
        }
    }

    fn get_result_schema(&self, stmt: &PgStatement, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        match &stmt.plan {
            Some(plan) => {
                arrow_schema_to_pg_fields(plan.schema().as_arrow(), format.unwrap_or(&Format::UnifiedText), None)
            }
            None => Ok(vec![]),
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for PgServer {
    type Statement = PgStatement;
    type QueryParser = PgServer;

    fn query_parser(&self) -> Arc<PgServer> {
        // The handlers hold the server in an Arc while a connection runs.
        self.me.upgrade().unwrap_or_else(|| {
            Arc::new_cyclic(|me| PgServer {
                me: me.clone(),
                state: self.state.clone(),
                statics: self.statics.clone(),
                parser: self.parser.clone(),
                params: self.params.clone(),
            })
        })
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<PgStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = PgStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let kind = portal.statement.statement.kind.clone();
        self.answer(client, kind, Some(portal), &portal.result_column_format, &mut None).await
    }
}

impl ErrorHandler for PgServer {
    fn on_error<C: ClientInfo>(&self, _client: &C, error: &mut PgWireError) {
        tracing::debug!(error = %error, "pg: error sent");
    }
}
