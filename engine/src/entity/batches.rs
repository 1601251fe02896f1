//! Arrow helpers of entity maintenance: rows sorted by key, key values as
//! text, and the types and casts that make a view's output a Delta table's.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use fieldhouse_domain::arrow_schema::timestamp_type;

use crate::{Error, Result};

/// `batches` as one batch sorted by `key` (nulls first).
pub(super) fn sorted_by(key: &str, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let arrow = |e: arrow::error::ArrowError| Error::Query {
        context: "sorting entity rows".into(),
        source: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
    };
    let Some(first) = batches.first() else { return Ok(batches) };
    let all = arrow::compute::concat_batches(&first.schema(), &batches).map_err(arrow)?;
    let Some(column) = all.column_by_name(key) else { return Ok(vec![all]) };
    let order = arrow::compute::sort_to_indices(column, None, None).map_err(arrow)?;
    Ok(vec![arrow::compute::take_record_batch(&all, &order).map_err(arrow)?])
}

/// The values of `column` as text (`None` for a null).
pub(super) fn text_values(column: &arrow::array::ArrayRef, context: &str) -> Result<Vec<Option<String>>> {
    let c = cast(column, &DataType::Utf8).map_err(|e| Error::Query {
        context: context.into(),
        source: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
    })?;
    let s = c.as_string::<i32>();
    Ok((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_string())).collect())
}

/// Arrow types a Delta table of protocol (1, 2) holds: plain strings, signed
/// integers, microsecond UTC timestamps.
fn delta_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Timestamp(_, _) => timestamp_type(),
        DataType::Dictionary(_, v) => delta_type(v),
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) | DataType::LargeListView(f) => {
            DataType::List(Arc::new(Field::new(f.name(), delta_type(f.data_type()), true)))
        }
        DataType::Struct(fs) => DataType::Struct(
            fs.iter().map(|f| Field::new(f.name(), delta_type(f.data_type()), true)).collect::<Fields>(),
        ),
        other => other.clone(),
    }
}

/// The schema of an entity table for a view's output schema.
pub(super) fn delta_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema.fields().iter().map(|f| Field::new(f.name(), delta_type(f.data_type()), true)).collect::<Vec<_>>(),
    ))
}

/// `batches` cast to `schema` (column by column, by position).
pub(super) fn conform(schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let arrow = |e: arrow::error::ArrowError| Error::Query {
        context: "converting entity rows".into(),
        source: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
    };
    let mut out = Vec::with_capacity(batches.len().max(1));
    for b in batches {
        if b.num_rows() == 0 {
            continue;
        }
        let mut columns = Vec::with_capacity(b.num_columns());
        for (c, f) in b.columns().iter().zip(schema.fields()) {
            columns.push(if c.data_type() == f.data_type() {
                c.clone()
            } else {
                cast(c, f.data_type()).map_err(arrow)?
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        out.push(RecordBatch::try_new_with_options(schema.clone(), columns, &options).map_err(arrow)?);
    }
    if out.is_empty() {
        out.push(RecordBatch::new_empty(schema.clone()));
    }
    Ok(out)
}
