//! The runtime queries run on, apart from the caller's.
//!
//! A server answers HTTP on its own runtime; a query's operators are CPU
//! work that, on the same runtime, holds its workers between the polls of a
//! cheap request (on 2 cores a dashboard page drawn from stored answers
//! waited seconds behind the computations of each new lake version). So
//! [`run_kpi`](crate::run_kpi), [`run_sql`](crate::run_sql) and
//! [`run_plan`](crate::run_plan) plan and drive their plans on this
//! process-wide runtime (a worker per core, the stack of a cluster plan) and
//! hand the batches over a small channel: the caller's runtime only moves
//! finished batches, and the operating system shares the cores between the
//! two. As DataFusion's `thread_pools` example advises for a server.
//!
//! Dropping the returned stream stops the query (its sender fails, the task
//! ends and drops the plan); an error before the first batch (planning,
//! a refusal, the time limit) is returned as the `Err` of the call, as
//! before.

use std::future::Future;
use std::sync::OnceLock;

use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};

use crate::{Error, Result};

/// Batches in flight between the query and its reader.
const IN_FLIGHT: usize = 2;

/// The query runtime: made on first use, kept for the process.
pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("fh-query")
        .thread_stack_size(crate::CLUSTER_STACK_BYTES)
        .enable_all()
        .build()
        .map_err(|source| Error::Io { path: "query runtime".into(), source })?;
    // Another caller may have made one meanwhile: keep the first, drop ours off any runtime thread.
    if let Err(ours) = RUNTIME.set(rt) {
        std::thread::spawn(move || drop(ours));
    }
    RUNTIME.get().ok_or_else(|| Error::Refused { message: "no query runtime".into() })
}

/// Run `start` (which plans and starts a query) on the query runtime and
/// stream its batches back.
pub(crate) async fn on_query_runtime<F>(start: F) -> Result<SendableRecordBatchStream>
where
    F: Future<Output = Result<SendableRecordBatchStream>> + Send + 'static,
{
    let rt = runtime()?;
    let (started_tx, started_rx) = oneshot::channel();
    let (mut tx, rx) = mpsc::channel(IN_FLIGHT);
    rt.spawn(async move {
        let mut stream = match start.await {
            Ok(s) => s,
            Err(e) => {
                let _ = started_tx.send(Err(e));
                return;
            }
        };
        if started_tx.send(Ok(stream.schema())).is_err() {
            return;
        }
        while let Some(batch) = stream.next().await {
            let failed = batch.is_err();
            // The reader is gone: stop the query.
            if tx.send(batch).await.is_err() || failed {
                return;
            }
        }
    });
    let schema =
        started_rx.await.map_err(|_| Error::Refused { message: "the query stopped before it started".into() })??;
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rx)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::error::DataFusionError;

    use super::*;

    fn batches(n: i64) -> SendableRecordBatchStream {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let s = schema.clone();
        let items = futures::stream::iter(0..n).map(move |i| {
            // Where the query runs: the thread's name.
            assert_eq!(std::thread::current().name(), Some("fh-query"));
            Ok(RecordBatch::try_new(s.clone(), vec![Arc::new(Int64Array::from(vec![i]))])?)
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, items))
    }

    #[tokio::test]
    async fn a_query_runs_on_the_query_runtime_and_its_batches_come_back_in_order() {
        let stream = on_query_runtime(async { Ok(batches(5)) }).await.unwrap();
        let got: Vec<i64> = stream
            .map(|b| b.unwrap().column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0))
            .collect()
            .await;
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn an_error_before_the_first_batch_is_the_calls_error() {
        let err = on_query_runtime(async { Err(Error::Refused { message: "no".into() }) }).await.err().unwrap();
        assert!(matches!(err, Error::Refused { ref message } if message == "no"), "{err:?}");
    }

    #[tokio::test]
    async fn an_error_in_the_stream_reaches_the_reader_and_ends_it() {
        let stream = on_query_runtime(async {
            let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
            let items = futures::stream::iter(vec![
                Err(DataFusionError::Execution("broken".into())),
                Ok(RecordBatch::new_empty(schema.clone())),
            ]);
            Ok(Box::pin(RecordBatchStreamAdapter::new(schema, items)) as SendableRecordBatchStream)
        })
        .await
        .unwrap();
        let got: Vec<_> = stream.collect().await;
        assert_eq!(got.len(), 1);
        assert!(got[0].as_ref().is_err_and(|e| e.to_string().contains("broken")));
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_query() {
        let (seen_tx, mut seen_rx) = mpsc::unbounded::<i64>();
        let stream = on_query_runtime(async move {
            let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
            let s = schema.clone();
            let items = futures::stream::iter(0..1_000_000_i64).map(move |i| {
                let _ = seen_tx.unbounded_send(i);
                Ok(RecordBatch::try_new(s.clone(), vec![Arc::new(Int64Array::from(vec![i]))])?)
            });
            Ok(Box::pin(RecordBatchStreamAdapter::new(schema, items)) as SendableRecordBatchStream)
        })
        .await
        .unwrap();
        drop(stream);
        // The task ends (its sender closes) after at most the batches in flight and one more.
        let mut produced = 0;
        while seen_rx.next().await.is_some() {
            produced += 1;
        }
        assert!(produced <= IN_FLIGHT as i64 + 3, "{produced} batches made after the reader left");
    }
}
