//! Running things: [`run_kpi`] (one catalog KPI with typed parameters) and
//! [`run_sql`] (read-only ad-hoc SQL), both returning a record-batch stream
//! under the engine's time limit, both planned in a session scoped to the
//! caller.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::StreamExt;
use tokio::time::Instant;

use crate::catalog::KpiDef;
use crate::compute::on_query_runtime;
use crate::scope::Caller;
use crate::session::{AsOf, Engine, SessionOptions, read_only};
use crate::{Error, Result};

/// One KPI to compute.
#[derive(Debug, Clone, Default)]
pub struct KpiRequest {
    /// The KPI's name in the catalog.
    pub name: String,
    /// Parameter values as text (name → value); parsed against the KPI header.
    pub params: BTreeMap<String, String>,
    /// Group-by dimensions, from the KPI's allowed list.
    pub by: Vec<String>,
    /// The lake state and reference instant.
    pub session: SessionOptions,
}

impl KpiRequest {
    /// A request for KPI `name` with no parameters, dimensions or as-of.
    pub fn new(name: impl Into<String>) -> KpiRequest {
        KpiRequest { name: name.into(), ..Default::default() }
    }

    /// Set parameter `name` to `value`.
    #[must_use]
    pub fn param(mut self, name: &str, value: impl Into<String>) -> KpiRequest {
        self.params.insert(name.to_string(), value.into());
        self
    }

    /// Group by dimension `dim`.
    #[must_use]
    pub fn by(mut self, dim: &str) -> KpiRequest {
        self.by.push(dim.to_string());
        self
    }

    /// Read the lake as of `as_of`.
    #[must_use]
    pub fn as_of(mut self, as_of: AsOf) -> KpiRequest {
        self.session.as_of = as_of;
        self
    }

    /// Use `now` as the reference instant.
    #[must_use]
    pub fn now(mut self, now: DateTime<Utc>) -> KpiRequest {
        self.session.now = Some(now);
        self
    }
}

/// Limits for ad-hoc SQL.
#[derive(Debug, Clone, Copy)]
pub struct SqlLimits {
    /// At most this many rows are returned (more are cut off).
    pub max_rows: usize,
    /// Time limit; `None` = the engine's `query_timeout`.
    pub timeout: Option<Duration>,
}

impl Default for SqlLimits {
    fn default() -> Self {
        SqlLimits { max_rows: 100_000, timeout: None }
    }
}

/// Compute KPI `request.name` for `caller` as a stream of batches.
pub async fn run_kpi(engine: &Engine, request: &KpiRequest, caller: &Caller) -> Result<SendableRecordBatchStream> {
    let def = engine.catalog().get(&request.name)?;
    if !def.allows(caller.role) {
        return Err(Error::Forbidden { message: format!("role `{}` may not read KPI `{}`", caller.role, def.name) });
    }
    let timeout = engine.config().query_timeout;
    let (engine, request, caller, def) = (engine.clone(), request.clone(), caller.clone(), def.clone());
    limited(timeout, async move {
        let ctx = engine.session(&caller, &request.session).await?;
        let df = plan_kpi(&ctx, &def, &request).await?;
        let stream = df.execute_stream().await.map_err(Error::query(format!("KPI `{}`", def.name)))?;
        tracing::debug!(kpi = %def.name, by = ?request.by, "kpi planned");
        Ok(stream)
    })
    .await
}

/// Plan and start a query with `planned` on the query runtime (see
/// [`crate::compute`]) under the time limit `timeout`, which counts from
/// this call (waiting for a query worker is in it) and covers planning and
/// the whole stream.
async fn limited<F>(timeout: Duration, planned: F) -> Result<SendableRecordBatchStream>
where
    F: Future<Output = Result<SendableRecordBatchStream>> + Send + 'static,
{
    let deadline = Instant::now() + timeout;
    on_query_runtime(async move {
        let stream = tokio::time::timeout_at(deadline, planned).await.map_err(|_| timeout_error(timeout))??;
        Ok(with_deadline(stream, deadline, timeout))
    })
    .await
}

/// Plan KPI `def` with the parameters and dimensions of `request` in `ctx`, a
/// session from [`Engine::session`] for the caller (whose audience the caller
/// of this function has checked). For running many KPIs in one session.
pub async fn plan_kpi(ctx: &SessionContext, def: &KpiDef, request: &KpiRequest) -> Result<DataFrame> {
    let params = def.bind(&request.params)?;
    let sql = def.render(&request.by)?;
    let context = format!("KPI `{}`", def.name);
    let df = ctx.sql_with_options(&sql, read_only()).await.map_err(Error::query(context.clone()))?;
    let df = df.with_param_values(params).map_err(Error::query(context.clone()))?;
    declare_view_needs(&df).map_err(Error::query(context))?;
    Ok(df)
}

/// Tell the session's views which of their columns `df` reads (see
/// [`crate::cached`]), so each is computed once and only for those.
fn declare_view_needs(df: &DataFrame) -> datafusion::error::Result<()> {
    let (state, plan) = df.clone().into_parts();
    let plan = DataFrame::new(state.clone(), plan).into_optimized_plan()?;
    crate::cached::declare_needs(&state, &plan)
}

/// Run read-only SQL for `caller` in a session as of `session.as_of`.
pub async fn run_sql(
    engine: &Engine,
    sql: &str,
    caller: &Caller,
    limits: SqlLimits,
    session: &SessionOptions,
) -> Result<SendableRecordBatchStream> {
    // EXPLAIN [ANALYZE] of a query for unscoped readers: a plan names the
    // lake's files and the scope's own SQL, which are not a partner's to see.
    check_single_query(sql, caller.scope()?.is_none())?;
    let timeout = limits.timeout.unwrap_or(engine.config().query_timeout);
    let (engine, sql, caller, session) = (engine.clone(), sql.to_string(), caller.clone(), session.clone());
    limited(timeout, async move {
        let ctx: SessionContext = engine.session(&caller, &session).await?;
        let df = ctx.sql_with_options(&sql, read_only()).await.map_err(refusal)?;
        execute_limited(df, limits.max_rows).await
    })
    .await
}

/// Run `plan`, planned in `ctx` (a session from [`Engine::session`]), under
/// the rules of [`run_sql`]: read-only (no DDL, DML or statements), at most
/// `limits.max_rows` rows, the time limit (`limits.timeout`, else
/// `default_timeout`) over planning and the whole stream. For front ends that
/// parse the SQL themselves (the PostgreSQL endpoint); the caller checks the
/// statement first with [`check_statement`].
pub async fn run_plan(
    ctx: &SessionContext,
    plan: LogicalPlan,
    limits: SqlLimits,
    default_timeout: Duration,
) -> Result<SendableRecordBatchStream> {
    read_only().verify_plan(&plan).map_err(refusal)?;
    let ctx = ctx.clone();
    limited(limits.timeout.unwrap_or(default_timeout), async move {
        let df = ctx.execute_logical_plan(plan).await.map_err(refusal)?;
        execute_limited(df, limits.max_rows).await
    })
    .await
}

/// `df` cut to `max_rows` rows (a plan's lines are not cut, and EXPLAIN
/// [ANALYZE] must stay the plan's root), its view needs declared, started.
async fn execute_limited(df: DataFrame, max_rows: usize) -> Result<SendableRecordBatchStream> {
    let explain = matches!(df.logical_plan(), LogicalPlan::Explain(_) | LogicalPlan::Analyze(_));
    let df = if explain { df } else { df.limit(0, Some(max_rows)).map_err(Error::query("limiting rows"))? };
    declare_view_needs(&df).map_err(Error::query("planning SQL"))?;
    df.execute_stream().await.map_err(Error::query("running SQL"))
}

/// Drain a stream into batches.
pub async fn collect(mut stream: SendableRecordBatchStream) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    while let Some(b) = stream.next().await {
        out.push(b.map_err(Error::query("reading results"))?);
    }
    Ok(out)
}

fn timeout_error(t: Duration) -> Error {
    Error::Timeout { seconds: t.as_secs().max(1) }
}

/// One statement, and a query (or, with `allow_explain`, `EXPLAIN [ANALYZE]`
/// of a query): the parser sees it before DataFusion does, so the refusal
/// names the statement.
fn check_single_query(sql: &str, allow_explain: bool) -> Result<()> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| Error::Refused { message: format!("cannot parse SQL: {e}") })?;
    match statements.as_slice() {
        [one] => check_statement(one, allow_explain),
        [] => Err(Error::Refused { message: "no statement".into() }),
        _ => Err(Error::Refused { message: "one statement at a time".into() }),
    }
}

/// A query (or, with `allow_explain`, `EXPLAIN [ANALYZE]` of a query), else
/// the refusal naming the statement. What [`run_sql`] allows, for a
/// statement parsed by another front end (see [`run_plan`]).
pub fn check_statement(statement: &datafusion::sql::sqlparser::ast::Statement, allow_explain: bool) -> Result<()> {
    use datafusion::sql::sqlparser::ast::Statement;
    match statement {
        Statement::Query(_) => Ok(()),
        Statement::Explain { statement, .. } if allow_explain && matches!(**statement, Statement::Query(_)) => Ok(()),
        one => Err(Error::Refused {
            message: format!(
                "only read-only queries (SELECT, WITH ... SELECT) are allowed, not `{}`",
                one.to_string().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
            ),
        }),
    }
}

fn refusal(e: datafusion::error::DataFusionError) -> Error {
    let text = e.to_string();
    if text.contains("not supported") || text.contains("Unsupported") {
        Error::Refused { message: text }
    } else {
        Error::Query { context: "planning SQL".into(), source: e }
    }
}

/// Fail the stream with [`Error::Timeout`] once `deadline` passes.
fn with_deadline(stream: SendableRecordBatchStream, deadline: Instant, timeout: Duration) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let s = futures::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((Err(datafusion::error::DataFusionError::External(Box::new(timeout_error(timeout)))), None)),
        }
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, s))
}
