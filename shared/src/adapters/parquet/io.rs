//! Parquet bytes to and from polars `DataFrame`s (`ParquetReader`,
//! `ParquetWriter`), each checked against its file's schema.
//!
//! Every file the job reads is checked against the digest its writer
//! recorded before it gets here (`contract::checked_store`), so the decoder
//! only ever sees bytes this writer produced: a damaged file is refused
//! before it is decoded, never by a decoder that might panic on it.

use std::io::Cursor;

use bytes::Bytes;
use polars::prelude::{
    DataFrame, ParquetCompression, ParquetReader, ParquetWriter, PolarsError, SerReader, StatisticsOptions,
};

use super::schema::FileSchema;
use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::storage::BlobStore;

/// The error of polars naming the object.
pub(crate) fn parquet_error(key: &impl std::fmt::Display) -> impl FnOnce(PolarsError) -> Error + '_ {
    move |source| Error::Parquet {
        key: key.to_string(),
        source: Box::new(source),
    }
}

/// Refuses a frame that is not exactly the schema's columns, in its order,
/// of its types.
///
/// # Errors
/// `Schema` naming the key and what differs.
pub fn check_whole_of(df: &DataFrame, schema: &FileSchema, key: &impl std::fmt::Display) -> Result<()> {
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    let ok = names == schema.names()
        && schema
            .columns
            .iter()
            .zip(df.columns())
            .all(|((_, t), c)| t.holds(c.dtype()));
    if ok {
        Ok(())
    } else {
        Err(Error::Schema {
            key: key.to_string(),
            expected: format!("a {} table ({})", schema.name, schema.describe()),
            found: df
                .columns()
                .iter()
                .map(|c| format!("{}: {}", c.name(), c.dtype()))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The file's bytes: zstd and statistics as its schema says.
///
/// # Errors
/// `Schema` when the frame is not of the schema; `Parquet` when polars
/// cannot write it.
pub fn encode(df: &mut DataFrame, schema: &FileSchema, key: &ObjectKey) -> Result<Vec<u8>> {
    check_whole_of(df, schema, key)?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(if schema.compressed {
            ParquetCompression::Zstd(None)
        } else {
            ParquetCompression::Uncompressed
        })
        .with_statistics(if schema.statistics {
            StatisticsOptions::default()
        } else {
            StatisticsOptions::empty()
        })
        .finish(df)
        .map_err(parquet_error(key))?;
    Ok(buf)
}

/// The frame of a file's bytes: `columns` of it (all when `None`), each
/// checked to be there and of the schema's type.
///
/// # Errors
/// `Parquet` when the bytes are not Parquet (empty, truncated, text);
/// `Schema` when a column is missing or of another type.
pub fn decode(
    bytes: Bytes,
    key: &ObjectKey,
    schema: &FileSchema,
    columns: Option<&[&str]>,
) -> Result<DataFrame> {
    let wanted: Vec<(&str, super::schema::ColType)> = match columns {
        None => schema.columns.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| {
                schema
                    .columns
                    .iter()
                    .find(|(c, _)| c == n)
                    .copied()
                    .ok_or_else(|| Error::Bug(format!("{n} is not a column of {}", schema.name)))
            })
            .collect::<Result<_>>()?,
    };
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    let file_schema = reader.schema().map_err(parquet_error(key))?;
    for (name, t) in &wanted {
        let found = file_schema
            .get(name)
            .map(polars::prelude::DataType::from_arrow_field);
        match found {
            Some(d) if t.holds(&d) => {}
            Some(d) => {
                return Err(Error::Schema {
                    key: key.to_string(),
                    expected: format!("{name}: {}", t.name()),
                    found: format!("{name}: {d}"),
                })
            }
            None => {
                return Err(Error::Schema {
                    key: key.to_string(),
                    expected: format!("a {} file ({})", schema.name, schema.describe()),
                    found: format!("no column {name}"),
                })
            }
        }
    }
    let names: Vec<String> = wanted.iter().map(|(n, _)| (*n).to_string()).collect();
    reader
        .with_columns(Some(names))
        .finish()
        .map_err(parquet_error(key))
}

/// Reads and decodes a whole file.
///
/// # Errors
/// `NotFound`, storage, `Parquet` or `Schema` errors naming the key.
pub async fn read(store: &dyn BlobStore, key: &ObjectKey, schema: &FileSchema) -> Result<DataFrame> {
    decode(store.get(key).await?, key, schema, None)
}

/// Reads only some columns of a file.
///
/// # Errors
/// As [`read`].
pub async fn read_columns(
    store: &dyn BlobStore,
    key: &ObjectKey,
    schema: &FileSchema,
    columns: &[&str],
) -> Result<DataFrame> {
    decode(store.get(key).await?, key, schema, Some(columns))
}

/// Encodes and stores a frame of the schema.
///
/// # Errors
/// As [`encode`], and storage errors.
pub async fn write(
    store: &dyn BlobStore,
    key: &ObjectKey,
    schema: &FileSchema,
    df: &mut DataFrame,
) -> Result<()> {
    let bytes = encode(df, schema, key)?;
    store.put(key, Bytes::from(bytes)).await
}
