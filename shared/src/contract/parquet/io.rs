//! Parquet bytes to and from [`Table`]s, through polars' Parquet reader and
//! writer (the same encoder polars' DataFrame writer drives, so the files
//! are the same files: pages, dictionaries, statistics and the `ARROW:schema`
//! footer that tells the reader our types back).

use std::io::Cursor;

use bytes::Bytes;
use polars_arrow::datatypes::{ArrowSchema, Field};
use polars_buffer::Buffer;
use polars_error::{PolarsError, PolarsResult};
use polars_parquet::read::{
    column_iter_to_arrays, infer_schema, read_metadata, BasicDecompressor, FileMetadata, PageReader,
};
use polars_parquet::write::{
    array_to_columns, compress, get_dtype_encoding, CompressedPage, CompressionOptions, DynIter,
    DynStreamingIterator, Encoding, FallibleStreamingIterator, FileWriter, ParquetType, StatisticsOptions,
    Version, WriteOptions, ZstdLevel,
};
use rayon::prelude::*;

use super::table::{concatenated, ArrayRef, Table};
use super::{ColType, FileSchema};
use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::storage::BlobStore;

/// Rows a row group holds at most when a whole table is written at once
/// (polars' default): big enough for efficient reads, small enough to bound
/// the encoder's memory.
const WRITE_ROW_GROUP_ROWS: usize = 512 * 512;

/// Rows gathered by a [`StreamWriter`] before it writes a row group.
const STREAM_ROW_GROUP_ROWS: usize = 128 * 1024;

impl FileSchema {
    fn arrow_schema(&self) -> ArrowSchema {
        self.columns
            .iter()
            .map(|&(name, t)| (name.into(), Field::new(name.into(), t.arrow(), true)))
            .collect()
    }

    fn write_options(&self) -> WriteOptions {
        WriteOptions {
            statistics: if self.statistics {
                StatisticsOptions::default()
            } else {
                StatisticsOptions::empty()
            },
            version: Version::V1,
            compression: if self.compressed {
                zstd_level_1()
            } else {
                CompressionOptions::Uncompressed
            },
            data_page_size: None,
        }
    }
}

/// zstd at level 1: on fetch's hour files it was both faster (1.4x) and
/// smaller than the default level 3 (see the fetch bench).
pub fn zstd_level_1() -> CompressionOptions {
    CompressionOptions::Zstd(ZstdLevel::try_new(1).ok())
}

/// Encodes row groups of one schema into a Parquet file.
pub struct Encoder<W: std::io::Write> {
    writer: FileWriter<W>,
    options: WriteOptions,
    fields: Vec<ParquetType>,
    encodings: Vec<Vec<Encoding>>,
}

impl<W: std::io::Write> Encoder<W> {
    /// An encoder with the schema's own compression and statistics.
    ///
    /// # Errors
    /// Parquet errors (a schema Parquet cannot hold).
    pub fn new(sink: W, schema: &FileSchema) -> PolarsResult<Encoder<W>> {
        Self::with_options(sink, schema, schema.write_options())
    }

    /// An encoder with other options (the fetch bench compares them).
    ///
    /// # Errors
    /// Parquet errors (a schema Parquet cannot hold).
    pub fn with_options(sink: W, schema: &FileSchema, options: WriteOptions) -> PolarsResult<Encoder<W>> {
        let arrow = schema.arrow_schema();
        let encodings = arrow
            .iter_values()
            .map(|f| get_dtype_encoding(&f.dtype))
            .collect();
        let writer = FileWriter::try_new(sink, arrow, options)?;
        let fields = writer.parquet_schema().fields().to_vec();
        Ok(Encoder {
            writer,
            options,
            fields,
            encodings,
        })
    }

    /// Writes one row group of `arrays` (one a column, `rows` long): its
    /// columns encoded and compressed side by side.
    ///
    /// # Errors
    /// Parquet or I/O errors.
    pub fn row_group(&mut self, arrays: &[ArrayRef], rows: usize) -> PolarsResult<()> {
        let options = self.options;
        let columns = arrays
            .par_iter()
            .zip(self.fields.par_iter())
            .zip(self.encodings.par_iter())
            .map(|((array, field), encoding)| encode_column(array, field, encoding, options))
            .collect::<PolarsResult<Vec<_>>>()?;
        let leaves = columns.into_iter().flatten().map(|pages| {
            Ok(DynStreamingIterator::new(Pages {
                pages: pages.into_iter(),
                current: None,
            }))
        });
        self.writer.write(rows as u64, DynIter::new(leaves))
    }

    /// Writes the footer; returns the file's size.
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(mut self) -> PolarsResult<u64> {
        self.writer.end(None)
    }
}

/// A leaf's pages, encoded and compressed already, as the file writer takes them.
struct Pages {
    pages: std::vec::IntoIter<CompressedPage>,
    current: Option<CompressedPage>,
}

impl FallibleStreamingIterator for Pages {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> PolarsResult<()> {
        self.current = self.pages.next();
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.pages.size_hint()
    }
}

/// One column's pages, each leaf's apart (a list has one leaf, the others are leaves).
fn encode_column(
    array: &ArrayRef,
    field: &ParquetType,
    encoding: &[Encoding],
    options: WriteOptions,
) -> PolarsResult<Vec<Vec<CompressedPage>>> {
    array_to_columns(array, field.clone(), options, encoding)?
        .into_iter()
        .map(|pages| {
            pages
                .map(|page| Ok(compress(page?, Vec::new(), options.compression)?))
                .collect()
        })
        .collect()
}

/// The whole table as a Parquet file of its schema.
///
/// # Errors
/// `Schema` when the table lacks some of its schema's columns; `Parquet` errors.
pub fn encode(table: &Table) -> Result<Vec<u8>> {
    let key = table.key();
    table.check_whole_of(table.schema(), key)?;
    let arrays = table.arrays()?;
    let mut buf = Vec::new();
    let mut encoder = Encoder::new(&mut buf, table.schema()).map_err(Error::parquet(key))?;
    let rows = table.len();
    let mut start = 0;
    while start < rows {
        let n = WRITE_ROW_GROUP_ROWS.min(rows - start);
        let group: Vec<ArrayRef> = arrays.iter().map(|a| a.sliced(start, n)).collect();
        encoder.row_group(&group, n).map_err(Error::parquet(key))?;
        start += n;
    }
    encoder.finish().map_err(Error::parquet(key))?;
    Ok(buf)
}

/// Stores the table at `key` as a Parquet file of its schema.
///
/// # Errors
/// `Schema` when the table lacks some of its columns; `Parquet` or storage errors.
pub async fn write(store: &dyn BlobStore, key: &ObjectKey, table: &Table) -> Result<()> {
    let bytes = encode(table)?;
    store.put(key, Bytes::from(bytes)).await
}

/// Writes a Parquet file of one schema table by table, gathering small tables
/// into row groups of up to [`STREAM_ROW_GROUP_ROWS`] rows, so only that many
/// rows and the compressed output are in memory.
pub struct StreamWriter<'a> {
    encoder: Encoder<&'a mut Vec<u8>>,
    schema: &'static FileSchema,
    key: ObjectKey,
    /// Each column's chunks waiting for the next row group.
    pending: Vec<Vec<ArrayRef>>,
    pending_rows: usize,
    rows: u64,
}

impl<'a> StreamWriter<'a> {
    /// # Errors
    /// `Parquet` if the file cannot be started.
    pub fn new(
        buf: &'a mut Vec<u8>,
        schema: &'static FileSchema,
        key: &ObjectKey,
    ) -> Result<StreamWriter<'a>> {
        Ok(StreamWriter {
            encoder: Encoder::new(buf, schema).map_err(Error::parquet(key))?,
            schema,
            key: key.clone(),
            pending: vec![Vec::new(); schema.columns.len()],
            pending_rows: 0,
            rows: 0,
        })
    }

    /// # Errors
    /// `Schema` when the table is of another schema or lacks columns;
    /// `Parquet` on write failure.
    pub fn write(&mut self, table: &Table) -> Result<()> {
        if table.is_empty() {
            return Ok(());
        }
        table.check_whole_of(self.schema, &self.key)?;
        for (pending, (name, _)) in self.pending.iter_mut().zip(self.schema.columns) {
            pending.extend(table.chunks(name)?.iter().cloned());
        }
        self.rows += table.len() as u64;
        self.pending_rows += table.len();
        if self.pending_rows >= STREAM_ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.pending_rows);
        let columns = self
            .pending
            .iter_mut()
            .zip(self.schema.columns)
            .map(|(chunks, &(_, ty))| concatenated(&std::mem::take(chunks), ty, &self.key))
            .collect::<Result<Vec<_>>>()?;
        self.encoder
            .row_group(&columns, rows)
            .map_err(Error::parquet(&self.key))
    }

    /// Finishes the file; returns the rows written.
    ///
    /// # Errors
    /// `Parquet` on write failure.
    pub fn finish(mut self) -> Result<u64> {
        if self.pending_rows > 0 {
            self.flush()?;
        }
        self.encoder.finish().map_err(Error::parquet(&self.key))?;
        Ok(self.rows)
    }
}

/// The named columns (all when `None`) of a Parquet file of `schema`, each
/// checked against the schema's type: the others are not decoded.
///
/// # Errors
/// `Parquet` when the bytes are not Parquet; `Schema` when a column is
/// missing or of another type; `Bug` for a column the schema does not have.
pub fn decode(
    bytes: Bytes,
    key: &ObjectKey,
    schema: &'static FileSchema,
    columns: Option<&[&str]>,
) -> Result<Table> {
    let mut wanted: Vec<(&'static str, ColType)> = Vec::new();
    match columns {
        None => wanted.extend_from_slice(schema.columns),
        Some(names) => {
            for name in names {
                let found = schema.columns.iter().find(|(n, _)| n == name);
                let &(n, t) =
                    found.ok_or_else(|| Error::Bug(format!("{} has no column {name}", schema.name)))?;
                wanted.push((n, t));
            }
        }
    }
    // polars' page decoder panics on some corrupt pages (a flipped byte in a
    // page header, say): that is a bad file, not a bug of ours
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_wanted(bytes, key, schema, &wanted)
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(Error::Parquet {
            key: key.to_string(),
            source: PolarsError::ComputeError(format!("corrupt file: the decoder failed ({why})").into()),
        })
    })
}

fn decode_wanted(
    bytes: Bytes,
    key: &ObjectKey,
    schema: &'static FileSchema,
    wanted: &[(&'static str, ColType)],
) -> Result<Table> {
    let buffer = Buffer::from_owner(bytes);
    let metadata = read_metadata(&mut Cursor::new(buffer.clone())).map_err(Error::parquet(key))?;
    let file_schema = infer_schema(&metadata).map_err(Error::parquet(key))?;
    let mismatch = || Error::Schema {
        key: key.to_string(),
        expected: schema.describe(),
        found: file_schema
            .iter_values()
            .map(|f| format!("{}: {}", f.name, ColType::describe_arrow(&f.dtype)))
            .collect::<Vec<_>>()
            .join(", "),
    };
    for (name, t) in wanted {
        match file_schema.get(name) {
            Some(f) if t.reads(&f.dtype) => {}
            _ => return Err(mismatch()),
        }
    }
    let columns = wanted
        .par_iter()
        .map(|&(name, t)| {
            let chunks = read_column(&metadata, &buffer, name, t).map_err(Error::parquet(key))?;
            let rows: usize = chunks.iter().map(|a| a.len()).sum();
            if rows != metadata.num_rows {
                return Err(Error::Parquet {
                    key: key.to_string(),
                    source: PolarsError::ComputeError(
                        format!(
                            "corrupt file: {name} has {rows} values for {} rows",
                            metadata.num_rows
                        )
                        .into(),
                    ),
                });
            }
            Ok((name, t, chunks))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Table::from_chunks(schema, key, columns, metadata.num_rows))
}

/// One column's arrays, a row group (or more) at a time, as `t`'s arrow type.
fn read_column(
    metadata: &FileMetadata,
    file: &Buffer<u8>,
    name: &str,
    t: ColType,
) -> PolarsResult<Vec<ArrayRef>> {
    let field = Field::new(name.into(), t.arrow(), true);
    let mut chunks = Vec::with_capacity(metadata.row_groups.len());
    for group in &metadata.row_groups {
        let Some(parts) = group.columns_under_root_iter(name) else {
            polars_error::polars_bail!(ColumnNotFound: "{name} in a row group");
        };
        let (pages, types): (Vec<_>, Vec<_>) = parts
            .map(|meta| {
                let range = meta.byte_range();
                let chunk = file.clone().sliced(range.start as usize..range.end as usize);
                let pages = PageReader::new(Cursor::new(chunk), meta, Vec::new(), usize::MAX);
                (
                    BasicDecompressor::new(pages, Vec::new()),
                    &meta.descriptor().descriptor.primitive_type,
                )
            })
            .unzip();
        let (arrays, _) = column_iter_to_arrays(pages, types, field.clone(), None)?;
        chunks.extend(arrays);
    }
    Ok(chunks)
}

/// Reads a stored Parquet file and checks it has the given schema.
///
/// # Errors
/// `NotFound`, `Parquet` (not Parquet) or `Schema` errors naming the key.
pub async fn read(store: &dyn BlobStore, key: &ObjectKey, schema: &'static FileSchema) -> Result<Table> {
    let bytes = store.get(key).await?;
    decode(bytes, key, schema, None)
}

/// Reads only the named columns of a stored Parquet file (the others are not
/// decoded), checking that each exists with the schema's type.
///
/// # Errors
/// `NotFound`, `Parquet` or `Schema` errors naming the key; `Bug` for a column
/// the schema does not have.
pub async fn read_columns(
    store: &dyn BlobStore,
    key: &ObjectKey,
    schema: &'static FileSchema,
    columns: &[&str],
) -> Result<Table> {
    let bytes = store.get(key).await?;
    decode(bytes, key, schema, Some(columns))
}
