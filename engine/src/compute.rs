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
//! Dropping the returned stream, or the call before it returns, aborts the
//! task and with it the plan (an aggregation's first batch may be the whole
//! computation away: waiting for the next send to fail would keep a query
//! of a gone client running past every concurrency limit). A query whose
//! task ends without saying so (a panic) ends its stream with an error,
//! never as a cut-short answer. An error of planning or starting is the
//! `Err` of the call, as before; one while running comes through the
//! stream.

use std::future::Future;
use std::sync::OnceLock;

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
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
    process_runtime(&RUNTIME, "query runtime", || {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.thread_name("fh-query").thread_stack_size(crate::CLUSTER_STACK_BYTES).enable_all();
        Ok(builder)
    })
}

/// The runtime kept in `cell`, made by `builder` on first use (`what` names
/// it in errors).
pub(crate) fn process_runtime(
    cell: &'static OnceLock<tokio::runtime::Runtime>,
    what: &str,
    builder: impl FnOnce() -> Result<tokio::runtime::Builder>,
) -> Result<&'static tokio::runtime::Runtime> {
    if let Some(rt) = cell.get() {
        return Ok(rt);
    }
    let rt = builder()?.build().map_err(|source| Error::Io { path: what.into(), source })?;
    // Another caller may have made one meanwhile: keep the first, drop ours off any runtime thread.
    if let Err(ours) = cell.set(rt) {
        std::thread::spawn(move || drop(ours));
    }
    cell.get().ok_or_else(|| Error::Refused { message: format!("no {what}") })
}

/// Run `start` (which plans and starts a query) on the query runtime and
/// stream its batches back.
pub(crate) async fn on_query_runtime<F>(start: F) -> Result<SendableRecordBatchStream>
where
    F: Future<Output = Result<SendableRecordBatchStream>> + Send + 'static,
{
    let rt = runtime()?;
    let (started_tx, started_rx) = oneshot::channel();
    // `None`: the stream's end, sent after its last batch.
    let (mut tx, rx) = mpsc::channel::<Option<datafusion::error::Result<RecordBatch>>>(IN_FLIGHT);
    let task = rt.spawn(async move {
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
            if tx.send(Some(batch)).await.is_err() {
                return;
            }
            // An error ends the stream (said, not a panic).
            if failed {
                break;
            }
        }
        let _ = tx.send(None).await;
    });
    let guard = AbortOnDrop(task.abort_handle());
    let schema = started_rx.await.map_err(|_| stopped("before it started"))??;
    let batches = futures::stream::unfold((rx, Some(guard)), |(mut rx, guard)| async move {
        let guard = guard?;
        match rx.next().await {
            Some(Some(batch)) => Some((batch, (rx, Some(guard)))),
            Some(None) => None,
            // The task ended without the end marker: it panicked.
            None => Some((Err(DataFusionError::External(Box::new(stopped("while running")))), (rx, None))),
        }
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
}

/// A query task that ended without finishing (a panic: see the log).
fn stopped(when: &str) -> Error {
    Error::Query {
        context: format!("the query stopped unexpectedly {when}"),
        source: DataFusionError::Internal("the query task ended without an answer".into()),
    }
}

/// Aborts the query task when the reader drops it.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// One column `n`.
    fn schema() -> arrow::datatypes::SchemaRef {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
    }

    fn batches(n: i64) -> SendableRecordBatchStream {
        let schema = schema();
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
            let schema = schema();
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

    /// A stream whose first batch never comes (an aggregation still
    /// computing), which says when it is dropped.
    fn pending_until_dropped(dropped: oneshot::Sender<()>) -> SendableRecordBatchStream {
        struct Pending(Option<oneshot::Sender<()>>);
        impl Drop for Pending {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        let schema = schema();
        let pending = Pending(Some(dropped));
        let items = futures::stream::pending::<datafusion::error::Result<RecordBatch>>().map(move |b| {
            let _ = &pending;
            b
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, items))
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_a_query_that_has_no_batch_yet() {
        let (dropped_tx, dropped_rx) = oneshot::channel();
        let stream = on_query_runtime(async move { Ok(pending_until_dropped(dropped_tx)) }).await.unwrap();
        drop(stream);
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), dropped_rx).await;
        assert!(matches!(stopped, Ok(Ok(()))), "the plan was not dropped: {stopped:?}");
    }

    #[tokio::test]
    async fn a_query_that_panics_ends_its_stream_with_an_error_not_a_short_answer() {
        let stream = on_query_runtime(async {
            let schema = schema();
            let s = schema.clone();
            let items = futures::stream::iter(0..3_i64).map(move |i| {
                assert!(i < 1, "an operator panics");
                Ok(RecordBatch::try_new(s.clone(), vec![Arc::new(Int64Array::from(vec![i]))])?)
            });
            Ok(Box::pin(RecordBatchStreamAdapter::new(schema, items)) as SendableRecordBatchStream)
        })
        .await
        .unwrap();
        let got: Vec<_> = stream.collect().await;
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].is_ok());
        assert!(got[1].as_ref().is_err_and(|e| e.to_string().contains("stopped unexpectedly")), "{got:?}");
    }

    #[tokio::test]
    async fn a_panic_while_planning_is_an_error_of_the_call() {
        let err = on_query_runtime(async {
            if std::hint::black_box(true) {
                panic!("planning panics");
            }
            Ok(batches(1))
        })
        .await
        .err()
        .unwrap();
        assert!(matches!(err, Error::Query { .. }), "{err:?}");
    }
}
