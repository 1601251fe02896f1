//! [`CachedView`]: a view computed at most once per session. The views over
//! the one wide `events` table are each referenced many times by one KPI
//! (`orders` joins to itself; every view of `orders` scans `events` a dozen
//! times), so each session computes a view on its first scan and serves
//! later scans from memory. Sessions are short-lived (one KPI, one query, or
//! one report run), so the cache never outlives the lake version it read.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::Result as DfResult;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::DataFrame;
use tokio::sync::OnceCell;

/// A view whose result is computed on the first scan and kept for the session.
#[derive(Debug)]
pub(crate) struct CachedView {
    name: String,
    df: DataFrame,
    schema: SchemaRef,
    partitions: usize,
    cell: OnceCell<Arc<MemTable>>,
}

impl CachedView {
    pub(crate) fn new(name: &str, df: DataFrame, partitions: usize) -> CachedView {
        // Every column nullable and without metadata: the batches a plan
        // produces may differ from its logical schema in both.
        let fields: Vec<Field> =
            df.schema().fields().iter().map(|f| Field::new(f.name(), f.data_type().clone(), true)).collect();
        let schema = Arc::new(Schema::new(fields));
        CachedView { name: name.to_string(), df, schema, partitions: partitions.max(1), cell: OnceCell::new() }
    }

    /// The batch with this view's schema (columns cast where a type differs).
    fn conform(&self, b: &RecordBatch) -> DfResult<RecordBatch> {
        let mut columns = Vec::with_capacity(b.num_columns());
        for (c, f) in b.columns().iter().zip(self.schema.fields()) {
            columns.push(if c.data_type() == f.data_type() { c.clone() } else { cast(c, f.data_type())? });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?)
    }

    async fn table(&self) -> DfResult<Arc<MemTable>> {
        self.cell
            .get_or_try_init(|| async {
                let started = std::time::Instant::now();
                let batches = self.df.clone().collect().await?;
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                tracing::debug!(view = %self.name, rows, ms = started.elapsed().as_millis() as u64, "view computed");
                // Spread the batches over partitions so later scans run in parallel.
                let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); self.partitions];
                for (i, b) in batches.into_iter().enumerate() {
                    parts[i % self.partitions].push(self.conform(&b)?);
                }
                Ok(Arc::new(MemTable::try_new(self.schema.clone(), parts)?))
            })
            .await
            .cloned()
    }
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
        self.table().await?.scan(state, projection, filters, limit).await
    }
}
