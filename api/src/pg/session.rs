//! The session a connection's statements run in: made again when the lake
//! moves (or the clock), with `pg_catalog` over the session's catalogs,
//! `version()`, and each KPI the caller may read as the view `kpi.<name>`.

use std::fmt::Debug;
use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::catalog::{CatalogProviderList, MemorySchemaProvider};
use datafusion::common::TableReference;
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion_pg_catalog::pg_catalog::catalog_info::CatalogInfo;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::setup_pg_catalog;
use fieldhouse_engine::{Caller, KpiRequest, SessionOptions};
use pgwire::error::PgWireResult;

use super::errors::user_error;
use super::{PgConn, PgServer, SERVER_VERSION};
use crate::state::ApiState;

/// The catalogs of a connection's current session, held weakly: `pg_catalog`
/// lives in them, and a strong reference back would keep every session (and
/// its computed views) alive forever. One per connection, pointed at each new
/// session, so the table oids psql reads stay the same across statements.
#[derive(Clone, Default)]
pub(super) struct Catalogs(Arc<RwLock<Option<Weak<dyn CatalogProviderList>>>>);

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

/// A session is made again after this long even if the lake has not moved,
/// so the SLA states and ages of a long-lived connection follow the clock.
const SESSION_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

impl PgServer {
    /// The connection's session at the lake's latest version.
    pub(super) async fn session(&self, conn: &PgConn) -> PgWireResult<Arc<SessionContext>> {
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
