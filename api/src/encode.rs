//! Result formats, chosen by `format=` or `Accept`, written batch by batch
//! into a streaming response body: a large result never has to be held
//! whole (JSON array, NDJSON, CSV, Arrow IPC stream, Parquet with one row
//! group per batch).
//!
//! The first batch is read before the response head is sent, so an error
//! that shows up at once (a bad query, a time or memory limit) still gets
//! its status code; an error later aborts the body (the client sees a
//! truncated transfer, never a complete-looking answer).

use std::pin::Pin;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt};

use crate::error::ApiError;

/// A format of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFormat {
    /// A JSON array of row objects (NULLs left out).
    Json,
    /// One JSON object per line.
    Ndjson,
    /// CSV with a header row.
    Csv,
    /// The Arrow IPC stream format.
    Arrow,
    /// A Parquet file.
    Parquet,
}

impl OutFormat {
    pub const ALL: &'static [OutFormat] =
        &[OutFormat::Json, OutFormat::Ndjson, OutFormat::Csv, OutFormat::Arrow, OutFormat::Parquet];

    pub fn name(self) -> &'static str {
        match self {
            OutFormat::Json => "json",
            OutFormat::Ndjson => "ndjson",
            OutFormat::Csv => "csv",
            OutFormat::Arrow => "arrow",
            OutFormat::Parquet => "parquet",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            OutFormat::Json => "application/json",
            OutFormat::Ndjson => "application/x-ndjson",
            OutFormat::Csv => "text/csv; charset=utf-8",
            OutFormat::Arrow => "application/vnd.apache.arrow.stream",
            OutFormat::Parquet => "application/vnd.apache.parquet",
        }
    }

    fn from_media(m: &str) -> Option<OutFormat> {
        Some(match m {
            "application/json" | "application/*" | "*/*" => OutFormat::Json,
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => OutFormat::Ndjson,
            "text/csv" | "text/*" => OutFormat::Csv,
            "application/vnd.apache.arrow.stream" | "application/vnd.apache.arrow" => OutFormat::Arrow,
            "application/vnd.apache.parquet" | "application/x-parquet" | "application/parquet" => OutFormat::Parquet,
            _ => return None,
        })
    }

    /// `format=` wins; else the first acceptable media type of `Accept` (by
    /// q-value); else JSON. An `Accept` naming nothing we write is 406.
    pub fn negotiate(format: Option<&str>, accept: Option<&str>) -> Result<OutFormat, ApiError> {
        if let Some(f) = format {
            return OutFormat::ALL.iter().copied().find(|o| o.name() == f.trim()).ok_or_else(|| {
                ApiError::bad_parameter(
                    "format",
                    format!(
                        "`{f}` is not one of {}",
                        OutFormat::ALL.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
                    ),
                )
            });
        }
        let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(OutFormat::Json) };
        let mut choices: Vec<(f32, usize, OutFormat)> = Vec::new();
        for (i, part) in accept.split(',').enumerate() {
            let mut bits = part.split(';');
            let media = bits.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = bits
                .filter_map(|b| b.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(f) = OutFormat::from_media(&media)
                && q > 0.0
            {
                choices.push((q, i, f));
            }
        }
        choices.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        choices.first().map(|c| c.2).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not_acceptable",
                "no acceptable format; results come as application/json, application/x-ndjson, text/csv, \
                 application/vnd.apache.arrow.stream or application/vnd.apache.parquet (or use format=)",
            )
        })
    }
}

type EncResult = Result<Bytes, String>;

/// Writes one format incrementally.
enum Encoder {
    Json { first: bool },
    Ndjson,
    Csv { header: bool },
    Arrow(Box<arrow::ipc::writer::StreamWriter<Vec<u8>>>),
    Parquet(Box<parquet::arrow::ArrowWriter<Vec<u8>>>),
}

fn ndjson(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
    w.write(batch).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(w.into_inner())
}

impl Encoder {
    fn new(format: OutFormat, schema: &SchemaRef) -> Result<(Encoder, Bytes), String> {
        Ok(match format {
            OutFormat::Json => (Encoder::Json { first: true }, Bytes::from_static(b"[")),
            OutFormat::Ndjson => (Encoder::Ndjson, Bytes::new()),
            OutFormat::Csv => (Encoder::Csv { header: true }, Bytes::new()),
            OutFormat::Arrow => {
                let mut w = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), schema).map_err(|e| e.to_string())?;
                let head = std::mem::take(w.get_mut());
                (Encoder::Arrow(Box::new(w)), Bytes::from(head))
            }
            OutFormat::Parquet => {
                let w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), None)
                    .map_err(|e| e.to_string())?;
                (Encoder::Parquet(Box::new(w)), Bytes::new())
            }
        })
    }

    fn batch(&mut self, batch: &RecordBatch) -> EncResult {
        if batch.num_rows() == 0 {
            return Ok(Bytes::new());
        }
        Ok(Bytes::from(match self {
            Encoder::Json { first } => {
                let lines = ndjson(batch)?;
                let mut out = Vec::with_capacity(lines.len() + 1);
                for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    out.extend_from_slice(line);
                }
                out
            }
            Encoder::Ndjson => ndjson(batch)?,
            Encoder::Csv { header } => {
                let mut out = Vec::new();
                let mut w = arrow::csv::WriterBuilder::new().with_header(*header).build(&mut out);
                w.write(batch).map_err(|e| e.to_string())?;
                drop(w);
                *header = false;
                out
            }
            Encoder::Arrow(w) => {
                w.write(batch).map_err(|e| e.to_string())?;
                std::mem::take(w.get_mut())
            }
            Encoder::Parquet(w) => {
                w.write(batch).map_err(|e| e.to_string())?;
                w.flush().map_err(|e| e.to_string())?;
                std::mem::take(w.inner_mut())
            }
        }))
    }

    fn finish(&mut self, schema: &SchemaRef) -> EncResult {
        Ok(Bytes::from(match self {
            Encoder::Json { .. } => b"]\n".to_vec(),
            Encoder::Ndjson => Vec::new(),
            Encoder::Csv { header } => {
                if *header {
                    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                    format!("{}\n", names.join(",")).into_bytes()
                } else {
                    Vec::new()
                }
            }
            Encoder::Arrow(w) => {
                w.finish().map_err(|e| e.to_string())?;
                std::mem::take(w.get_mut())
            }
            Encoder::Parquet(w) => {
                w.finish().map_err(|e| e.to_string())?;
                std::mem::take(w.inner_mut())
            }
        }))
    }
}

/// A stream of batches.
pub type Batches = Pin<Box<dyn Stream<Item = Result<RecordBatch, DataFusionError>> + Send>>;

/// Read the first batch of `batches`: `Err` is the error that came first.
pub async fn first_batch(mut batches: Batches) -> Result<(Option<RecordBatch>, Batches), DataFusionError> {
    match batches.next().await {
        None => Ok((None, batches)),
        Some(Ok(b)) => Ok((Some(b), batches)),
        Some(Err(e)) => Err(e),
    }
}

struct State<F> {
    encoder: Encoder,
    batches: futures::stream::BoxStream<'static, Result<RecordBatch, DataFusionError>>,
    schema: SchemaRef,
    rows: usize,
    on_end: Option<F>,
    done: bool,
}

impl<F: FnOnce(usize, Option<String>)> State<F> {
    fn finish(&mut self, err: Option<String>) {
        self.done = true;
        if let Some(f) = self.on_end.take() {
            f(self.rows, err);
        }
    }
}

/// A response streaming `first` then `rest` in `format`. `on_end` is called
/// once with the number of rows and whether the stream ended in an error.
pub fn respond(
    format: OutFormat,
    schema: SchemaRef,
    first: Option<RecordBatch>,
    rest: Batches,
    filename: Option<&str>,
    on_end: impl FnOnce(usize, Option<String>) + Send + 'static,
) -> Result<Response, ApiError> {
    let (encoder, head) = Encoder::new(format, &schema).map_err(|e| ApiError::internal(&std::io::Error::other(e)))?;
    let pending: futures::stream::BoxStream<'static, Result<RecordBatch, DataFusionError>> =
        futures::stream::iter(first.map(Ok)).chain(rest).boxed();
    let state = State { encoder, batches: pending, schema, rows: 0, on_end: Some(on_end), done: false };
    let body = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(head) }).chain(futures::stream::unfold(
        state,
        |mut s| async move {
            if s.done {
                return None;
            }
            match s.batches.next().await {
                Some(Ok(b)) => {
                    s.rows += b.num_rows();
                    match s.encoder.batch(&b) {
                        Ok(bytes) => Some((Ok(bytes), s)),
                        Err(e) => {
                            s.finish(Some(e.clone()));
                            Some((Err(std::io::Error::other(e)), s))
                        }
                    }
                }
                Some(Err(e)) => {
                    let text = e.to_string();
                    s.finish(Some(text.clone()));
                    Some((Err(std::io::Error::other(text)), s))
                }
                None => {
                    let schema = s.schema.clone();
                    let r = s.encoder.finish(&schema);
                    match r {
                        Ok(bytes) => {
                            s.finish(None);
                            Some((Ok(bytes), s))
                        }
                        Err(e) => {
                            s.finish(Some(e.clone()));
                            Some((Err(std::io::Error::other(e)), s))
                        }
                    }
                }
            }
        },
    ));
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    if let Some(name) = filename
        && matches!(format, OutFormat::Csv | OutFormat::Parquet | OutFormat::Arrow)
    {
        let ext = match format {
            OutFormat::Csv => "csv",
            OutFormat::Parquet => "parquet",
            _ => "arrows",
        };
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn negotiation() {
        let n = |f: Option<&str>, a: Option<&str>| OutFormat::negotiate(f, a);
        assert_eq!(n(None, None).unwrap(), OutFormat::Json);
        assert_eq!(n(None, Some("text/html,application/xhtml+xml,*/*;q=0.8")).unwrap(), OutFormat::Json);
        assert_eq!(n(None, Some("application/json;q=0.5, text/csv")).unwrap(), OutFormat::Csv);
        assert_eq!(n(Some("parquet"), Some("text/csv")).unwrap(), OutFormat::Parquet);
        assert_eq!(n(None, Some("application/vnd.apache.arrow.stream")).unwrap(), OutFormat::Arrow);
        assert_eq!(n(None, Some("image/png")).unwrap_err().status, StatusCode::NOT_ACCEPTABLE);
        let e = n(Some("xml"), None).unwrap_err();
        assert!(e.message.contains("`format`"), "{}", e.message);
    }
}
