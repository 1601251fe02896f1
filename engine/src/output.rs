//! Writing results: a text table, CSV, JSON (an array of objects) or Parquet,
//! for the CLI, the API and reports alike.

use std::io::Write;
use std::str::FromStr;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::{Error, Result};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// An aligned text table.
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects (NULLs left out).
    Json,
    /// A Parquet file.
    Parquet,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        Ok(match s {
            "table" => Format::Table,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "parquet" => Format::Parquet,
            other => {
                return Err(Error::Parameter {
                    name: "format".into(),
                    message: format!("`{other}` is not one of table, csv, json, parquet"),
                });
            }
        })
    }
}

fn write_err(e: impl std::fmt::Display) -> Error {
    Error::Io { path: "output".into(), source: std::io::Error::other(e.to_string()) }
}

/// Write `batches` (all of `schema`) to `out` in `format`.
pub fn write_batches(batches: &[RecordBatch], schema: &SchemaRef, format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => {
            let text = if batches.is_empty() {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                format!("{}\n(no rows)", names.join(" | "))
            } else {
                arrow::util::pretty::pretty_format_batches(batches).map_err(write_err)?.to_string()
            };
            writeln!(out, "{text}").map_err(write_err)?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut *out);
            if batches.is_empty() {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                drop(w);
                writeln!(out, "{}", names.join(",")).map_err(write_err)?;
            } else {
                for b in batches {
                    w.write(b).map_err(write_err)?;
                }
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(Vec::new());
            for b in batches {
                w.write(b).map_err(write_err)?;
            }
            w.finish().map_err(write_err)?;
            let bytes = w.into_inner();
            out.write_all(if bytes.is_empty() { b"[]" } else { &bytes }).map_err(write_err)?;
            writeln!(out).map_err(write_err)?;
        }
        Format::Parquet => {
            let mut buf = Vec::new();
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, schema.clone(), None).map_err(write_err)?;
            for b in batches {
                w.write(b).map_err(write_err)?;
            }
            w.close().map_err(write_err)?;
            out.write_all(&buf).map_err(write_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn every_format_writes() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, true),
            Field::new("met", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![Some("North"), None])), Arc::new(Int64Array::from(vec![2, 3]))],
        )
        .unwrap();
        let text = |f: Format| {
            let mut out = Vec::new();
            write_batches(std::slice::from_ref(&batch), &schema, f, &mut out).unwrap();
            out
        };
        assert!(String::from_utf8(text(Format::Table)).unwrap().contains("| North  | 2   |"));
        assert_eq!(String::from_utf8(text(Format::Csv)).unwrap(), "region,met\nNorth,2\n,3\n");
        assert_eq!(String::from_utf8(text(Format::Json)).unwrap(), "[{\"region\":\"North\",\"met\":2},{\"met\":3}]\n");
        assert_eq!(&text(Format::Parquet)[..4], b"PAR1");
        let mut out = Vec::new();
        write_batches(&[], &schema, Format::Csv, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "region,met\n");
        assert!("xml".parse::<Format>().is_err());
    }
}
