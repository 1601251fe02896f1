//! [`CachedView`]: a view computed at most once per session, for the columns
//! the session's queries read. The views over the one wide `events` table are
//! each referenced many times by one KPI (`orders` joins to itself; every
//! view of `orders` scans `events` a dozen times), so each session computes a
//! view on its first scan and serves later scans from memory. Sessions are
//! short-lived (one KPI, one query, or one report run), or share a view set
//! only for one lake version, so the cache never outlives the lake version it
//! read.
//!
//! **Columns.** A view is computed for the columns its readers need, not all
//! of them: a KPI that reads `orders` for `order_id` and `site_id` does not
//! pay for the business-time SLA arithmetic of the other columns (DataFusion
//! prunes the unused expressions of the view's plan). Before a query runs,
//! [`declare_needs`] walks its optimised plan and tells every view it scans
//! which columns that scan reads; the view computes the union on its first
//! scan. A later scan that needs a column not computed yet (another query of
//! a reused view set) recomputes the view for the union of everything asked
//! so far, so a long-lived set converges to the columns its readers use.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, DataFusionError, Result as DfResult};
use datafusion::datasource::{TableType, source_as_provider};
use datafusion::execution::SessionState;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::DataFrame;

/// A computed view: its columns (sorted indices into the view's schema), its
/// table, and the memory it holds, counted in the session's memory pool.
#[derive(Debug)]
struct Computed {
    cols: Vec<usize>,
    table: Arc<MemTable>,
    _reservation: MemoryReservation,
}

/// A view whose result is computed on the first scan and kept for the session.
///
/// It keeps the view's logical plan, not a `DataFrame`: a `DataFrame` holds
/// the session state that planned it, whose catalog holds this view, a
/// reference cycle that kept every session and its computed views in memory
/// for the life of the process (a live server grew by gigabytes an hour). The
/// plan runs with the state of the query that scans the view.
#[derive(Debug)]
pub(crate) struct CachedView {
    name: String,
    plan: LogicalPlan,
    schema: SchemaRef,
    partitions: usize,
    /// Columns (indices into `schema`) declared by the queries planned so far.
    wanted: Mutex<BTreeSet<usize>>,
    /// The computed columns (sorted indices), their table, and the table's
    /// share of the memory pool.
    computed: tokio::sync::Mutex<Option<Computed>>,
    /// How many times the view was computed (once, when every reader declared its columns first).
    computations: std::sync::atomic::AtomicUsize,
}

impl CachedView {
    pub(crate) fn new(name: &str, df: DataFrame, partitions: usize) -> CachedView {
        // Every column nullable and without metadata: the batches a plan
        // produces may differ from its logical schema in both.
        let fields: Vec<Field> =
            df.schema().fields().iter().map(|f| Field::new(f.name(), f.data_type().clone(), true)).collect();
        let schema = Arc::new(Schema::new(fields));
        let (_, plan) = df.into_parts();
        CachedView {
            name: name.to_string(),
            plan,
            schema,
            partitions: partitions.max(1),
            wanted: Mutex::new(BTreeSet::new()),
            computed: tokio::sync::Mutex::new(None),
            computations: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Compute every column on the first scan. For small views read by
    /// several others planned one after the other (the partner scope's id
    /// sets): each reader would otherwise add its columns after the view was
    /// computed, and the view would be computed again for every reader.
    #[must_use]
    pub(crate) fn all_columns(self) -> CachedView {
        self.want(None);
        self
    }

    /// A query will read these columns (`None`: all of them). Whether a column was not wanted before.
    fn want(&self, projection: Option<&[usize]>) -> bool {
        let mut wanted = self.wanted.lock().unwrap_or_else(PoisonError::into_inner);
        let before = wanted.len();
        match projection {
            Some(p) => wanted.extend(p.iter().copied()),
            None => wanted.extend(0..self.schema.fields().len()),
        }
        wanted.len() > before
    }

    /// The view's plan, for the columns `cols` (indices into its schema), in `state`.
    fn projected(&self, state: &SessionState, cols: &[usize]) -> DfResult<DataFrame> {
        let exprs: Vec<Expr> = cols
            .iter()
            .map(|&i| {
                let (qualifier, field) = self.plan.schema().qualified_field(i);
                Expr::Column(Column::new(qualifier.cloned(), field.name()))
            })
            .collect();
        DataFrame::new(state.clone(), self.plan.clone()).select(exprs)
    }

    /// The batch with the schema `schema` (columns cast where a type differs).
    fn conform(schema: &SchemaRef, b: &RecordBatch) -> DfResult<RecordBatch> {
        let mut columns = Vec::with_capacity(b.num_columns());
        for (c, f) in b.columns().iter().zip(schema.fields()) {
            columns.push(if c.data_type() == f.data_type() { c.clone() } else { cast(c, f.data_type())? });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
    }

    /// A table holding at least the columns `need`, with its column list.
    ///
    /// The table's memory is reserved in `pool` (not refusable: the table is
    /// already there), so that the sorts, joins and aggregations that read it
    /// spill sooner instead of the process outgrowing the pool.
    async fn table_for(&self, need: &[usize], state: &dyn Session) -> DfResult<(Vec<usize>, Arc<MemTable>)> {
        let Some(state) = state.as_any().downcast_ref::<SessionState>() else {
            return Err(DataFusionError::Internal(format!("view `{}` scanned outside a SessionState", self.name)));
        };
        let pool = &state.runtime_env().memory_pool;
        let mut computed = self.computed.lock().await;
        if let Some(c) = computed.as_ref()
            && need.iter().all(|i| c.cols.binary_search(i).is_ok())
        {
            return Ok((c.cols.clone(), c.table.clone()));
        }
        let mut cols: BTreeSet<usize> = need.iter().copied().collect();
        cols.extend(self.wanted.lock().unwrap_or_else(PoisonError::into_inner).iter().copied());
        if let Some(before) = computed.as_ref() {
            cols.extend(before.cols.iter().copied());
        }
        if cols.is_empty() {
            // A scan for the row count alone (`count(*)`) still needs one column.
            cols.insert(0);
        }
        let cols: Vec<usize> = cols.into_iter().collect();
        let started = std::time::Instant::now();
        let df = self.projected(state, &cols)?;
        declare_needs(state, &df.clone().into_optimized_plan()?)?;
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let batches = datafusion::physical_plan::collect(plan.clone(), task).await?;
        if tracing::enabled!(tracing::Level::TRACE) {
            // The view's own plan with its metrics (EXPLAIN ANALYZE of a query
            // shows a computed view as one table scan).
            let shown =
                datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(plan.as_ref()).indent(true);
            tracing::trace!(view = %self.name, "view plan with metrics:\n{shown}");
        }
        let computations = self.computations.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        // The batches of one operator's output are often slices of shared
        // buffers: count each slice's part, not each buffer once per slice.
        let bytes: usize = batches
            .iter()
            .flat_map(|b| b.columns().iter())
            .map(|c| c.to_data().get_slice_memory_size().unwrap_or_else(|_| c.get_array_memory_size()))
            .sum();
        tracing::debug!(
            view = %self.name,
            rows,
            mib = bytes >> 20,
            columns = cols.len(),
            of = self.schema.fields().len(),
            ms = started.elapsed().as_millis() as u64,
            computations,
            "view computed"
        );
        let schema = Arc::new(self.schema.project(&cols)?);
        // Spread the batches over partitions so later scans run in parallel.
        let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); self.partitions];
        for (i, b) in batches.into_iter().enumerate() {
            parts[i % self.partitions].push(CachedView::conform(&schema, &b)?);
        }
        let table = Arc::new(MemTable::try_new(schema, parts)?);
        // The table replaces any earlier one (whose reservation is freed with it).
        let reservation = MemoryConsumer::new(format!("view {}", self.name)).register(pool);
        reservation.grow(bytes);
        *computed = Some(Computed { cols: cols.clone(), table: table.clone(), _reservation: reservation });
        Ok((cols, table))
    }
}

/// Tell every [`CachedView`] that `plan` scans which columns it reads, so
/// each view is computed once, for all of them. Call on the optimised plan
/// (projections pushed into the scans) before executing it.
///
/// Through views that read views: a view whose wanted columns grew declares
/// what its own plan reads of the views under it, now. Declared only when the
/// view is computed, a view under two readers (`orders_core` under `orders`
/// and `order_followups`) was computed for the first reader's columns and then
/// again for the union (twice the raw-events work of a KPI reading both).
pub(crate) fn declare_needs(state: &SessionState, plan: &LogicalPlan) -> DfResult<()> {
    let mut grown: Vec<Arc<dyn TableProvider>> = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && let Some(view) = provider.downcast_ref::<CachedView>()
            && view.want(scan.projection.as_deref())
        {
            grown.push(provider);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    for provider in grown {
        if let Some(view) = provider.downcast_ref::<CachedView>() {
            let cols: Vec<usize> = view.wanted.lock().unwrap_or_else(PoisonError::into_inner).iter().copied().collect();
            declare_needs(state, &view.projected(state, &cols)?.into_optimized_plan()?)?;
        }
    }
    Ok(())
}

#[async_trait]
impl TableProvider for CachedView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let need: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let (cols, table) = self.table_for(&need, state).await?;
        // The requested columns, as positions in the computed table.
        let mapped: Vec<usize> = need.iter().filter_map(|c| cols.binary_search(c).ok()).collect();
        table.scan(state, Some(&mapped), filters, limit).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::Ordering;

    use arrow::array::Int64Array;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A view read by two views, each for other columns, is computed once, for both.
    #[tokio::test]
    async fn a_view_under_two_readers_is_computed_once_for_both() {
        let ctx = SessionContext::new();
        let column = |v: i64| Arc::new(Int64Array::from(vec![v, v + 1])) as arrow::array::ArrayRef;
        let batch = RecordBatch::try_from_iter([("a", column(1)), ("b", column(10)), ("c", column(100))]).unwrap();
        ctx.register_batch("t", batch).unwrap();
        let view = |sql: &'static str, name: &'static str| {
            let ctx = ctx.clone();
            async move {
                let v = Arc::new(CachedView::new(name, ctx.sql(sql).await.unwrap(), 1));
                ctx.register_table(name, v.clone()).unwrap();
                v
            }
        };
        let base = view("SELECT a, b, c FROM t", "base").await;
        let _first = view("SELECT a FROM base", "first").await;
        let _second = view("SELECT b FROM base", "second").await;

        let df = ctx.sql("SELECT f.a, s.b FROM first f CROSS JOIN second s").await.unwrap();
        let (state, plan) = df.clone().into_parts();
        declare_needs(&state, &DataFrame::new(state.clone(), plan).into_optimized_plan().unwrap()).unwrap();
        assert_eq!(df.collect().await.unwrap().iter().map(RecordBatch::num_rows).sum::<usize>(), 4);
        assert_eq!(base.computations.load(Ordering::Relaxed), 1, "base computed once, for `a` and `b`");
        let cols = base.computed.lock().await.as_ref().unwrap().cols.clone();
        assert_eq!(cols, vec![0, 1], "not `c`");
    }
}
