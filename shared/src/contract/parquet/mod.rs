//! The one owner of every intermediate Parquet file's schema. Column names appear
//! as literals only here ([`col`]); readers check the schema and report
//! `Schema` errors naming the object.

use std::io::Cursor;

use bytes::Bytes;
use polars::prelude::*;

mod files;

pub use files::{
    ArticleColumns, ArticleRecColumns, ArticleRecs, Articles, DefaultColumns, Defaults, Dwell, DwellColumns,
    FactorColumns, Factors, WidgetEventColumns, WidgetEvents,
};

use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::storage::BlobStore;

/// Column names.
pub mod col {
    pub const CLIENT_ID: &str = "client_id";
    /// Event time, UTC, millisecond precision.
    pub const ACTIVITY_TIME: &str = "activity_time";
    /// UTC calendar date of `activity_time`.
    pub const SESSION_DATE: &str = "session_date";
    pub const PAGE_PATH: &str = "page_path";
    pub const EVENT_NAME: &str = "event_name";
    /// Snowplow's event id: a UUID, as a lower-case hyphenated string.
    pub const EVENT_ID: &str = "event_id";
    /// The event id's 128 bits, high and low halves (in the hour cache).
    pub const EVENT_ID_HI: &str = "event_id_hi";
    pub const EVENT_ID_LO: &str = "event_id_lo";
    /// [`crate::fetch::dedup::fingerprint_hash`] of Snowplow's `event_fingerprint`
    /// (its hash of the event's payload); 0 when it computed none.
    pub const FINGERPRINT_HASH: &str = "fingerprint_hash";
    pub const EXTERNAL_ID: &str = "external_id";
    pub const PATH: &str = "path";
    pub const TITLE: &str = "title";
    pub const PUBLISHED_AT: &str = "published_at";
    pub const EXCLUDE_REASON: &str = "exclude_reason";
    pub const EXCERPT: &str = "excerpt";
    pub const SECTION: &str = "section";
    /// One tag per line.
    pub const TAGS: &str = "tags";
    /// Seconds of reading, summed over the reader's visits to the article.
    pub const DWELL_SECS: &str = "dwell_secs";
    pub const EVENTS: &str = "events";
    pub const FIRST_SEEN: &str = "first_seen";
    pub const LAST_SEEN: &str = "last_seen";
    pub const SCORE: &str = "score";
    pub const FACTORS: &str = "factors";
    pub const SOURCE_EXTERNAL_ID: &str = "source_external_id";
    /// A widget event's step: `seen` or `click`.
    pub const STEP: &str = "step";
    /// The model a widget event names (the database's `model.id`, as sent).
    pub const MODEL_ID: &str = "model_id";
    pub const MODEL_TYPE: &str = "model_type";
    /// A clicked recommendation's place in the widget, 1 first.
    pub const POSITION: &str = "position";
}

/// Column types used in our files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Str,
    /// Milliseconds since the epoch, UTC (stored without a zone annotation).
    DatetimeMs,
    Date,
    F64,
    U32,
    U64,
    ListF32,
}

impl ColType {
    pub fn dtype(self) -> DataType {
        match self {
            ColType::Str => DataType::String,
            ColType::DatetimeMs => DataType::Datetime(TimeUnit::Milliseconds, None),
            ColType::Date => DataType::Date,
            ColType::F64 => DataType::Float64,
            ColType::U32 => DataType::UInt32,
            ColType::U64 => DataType::UInt64,
            ColType::ListF32 => DataType::List(Box::new(DataType::Float32)),
        }
    }
}

/// The schema of one kind of file.
#[derive(Debug)]
pub struct FileSchema {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColType)],
    /// Whether column chunks carry min/max statistics: worth it for files
    /// others may query, not for ones this job only ever reads whole.
    pub statistics: bool,
    /// Whether pages are compressed (zstd, level 1).
    pub compressed: bool,
}

/// `events.parquet`: one row per kept, de-duplicated page event.
pub const EVENTS: FileSchema = FileSchema {
    name: "events",
    columns: &[
        (col::CLIENT_ID, ColType::Str),
        (col::ACTIVITY_TIME, ColType::DatetimeMs),
        (col::SESSION_DATE, ColType::Date),
        (col::PAGE_PATH, ColType::Str),
        (col::EVENT_NAME, ColType::Str),
        (col::EVENT_ID, ColType::Str),
    ],
    statistics: true,
    compressed: true,
};

/// An hour's parsed events in the fetch cache (`cache/<site>/hours/...`):
/// the columns of [`EVENTS`], with the event id as its 128 bits and the
/// fingerprint only as the hash that de-duplication compares. The two as
/// hex strings were most of the cache's bytes and of the time spent writing
/// it. It is not compressed: its 24 random bytes a row do not compress, so
/// zstd made it only a fifth smaller (29 bytes a row against 37; with the
/// strings and zstd it was 42) for almost half the time spent writing it
/// (see the fetch bench). Only fetch reads it, always whole.
pub const HOUR_EVENTS: FileSchema = FileSchema {
    name: "hour events",
    columns: &[
        (col::CLIENT_ID, ColType::Str),
        (col::ACTIVITY_TIME, ColType::DatetimeMs),
        (col::SESSION_DATE, ColType::Date),
        (col::PAGE_PATH, ColType::Str),
        (col::EVENT_NAME, ColType::Str),
        (col::EVENT_ID_HI, ColType::U64),
        (col::EVENT_ID_LO, ColType::U64),
        (col::FINGERPRINT_HASH, ColType::U64),
    ],
    statistics: false,
    compressed: false,
};

/// `widget_events.parquet` (and each hour's `widget.parquet` in the fetch
/// cache): the recommendation widget's events, by time; `external_id` is the
/// clicked article (clicks only), `page_path` the page the widget was on.
pub const WIDGET_EVENTS: FileSchema = FileSchema {
    name: "widget events",
    columns: &[
        (col::CLIENT_ID, ColType::Str),
        (col::ACTIVITY_TIME, ColType::DatetimeMs),
        (col::PAGE_PATH, ColType::Str),
        (col::STEP, ColType::Str),
        (col::MODEL_ID, ColType::Str),
        (col::MODEL_TYPE, ColType::Str),
        (col::EXTERNAL_ID, ColType::Str),
        (col::POSITION, ColType::U32),
        (col::EVENT_ID, ColType::Str),
    ],
    statistics: true,
    compressed: true,
};

/// `articles.parquet`: the articles that survived preprocessing, with metadata.
pub const ARTICLES: FileSchema = FileSchema {
    name: "articles",
    columns: &[
        (col::EXTERNAL_ID, ColType::Str),
        (col::PATH, ColType::Str),
        (col::TITLE, ColType::Str),
        (col::PUBLISHED_AT, ColType::DatetimeMs),
        (col::EXCLUDE_REASON, ColType::Str),
        (col::EXCERPT, ColType::Str),
        (col::SECTION, ColType::Str),
        (col::TAGS, ColType::Str),
    ],
    statistics: true,
    compressed: true,
};

/// `dwell.parquet`: one row per reader x article.
pub const DWELL: FileSchema = FileSchema {
    name: "dwell",
    columns: &[
        (col::CLIENT_ID, ColType::Str),
        (col::EXTERNAL_ID, ColType::Str),
        (col::DWELL_SECS, ColType::F64),
        (col::EVENTS, ColType::U32),
        (col::FIRST_SEEN, ColType::DatetimeMs),
        (col::LAST_SEEN, ColType::DatetimeMs),
    ],
    statistics: true,
    compressed: true,
};

/// `defaults.parquet`: default recommendations, best first.
pub const DEFAULTS: FileSchema = FileSchema {
    name: "defaults",
    columns: &[(col::EXTERNAL_ID, ColType::Str), (col::SCORE, ColType::F64)],
    statistics: true,
    compressed: true,
};

/// `article_factors.parquet`: one latent vector per article.
pub const ARTICLE_RECS: FileSchema = FileSchema {
    name: "article_recs",
    columns: &[
        (col::SOURCE_EXTERNAL_ID, ColType::Str),
        (col::EXTERNAL_ID, ColType::Str),
        (col::SCORE, ColType::F64),
    ],
    statistics: true,
    compressed: true,
};
pub const FACTORS: FileSchema = FileSchema {
    name: "article_factors",
    columns: &[(col::EXTERNAL_ID, ColType::Str), (col::FACTORS, ColType::ListF32)],
    statistics: true,
    compressed: true,
};

impl FileSchema {
    fn describe(&self) -> String {
        self.columns
            .iter()
            .map(|(n, t)| format!("{n}: {}", t.dtype()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn writer<W: std::io::Write>(&self, sink: W) -> ParquetWriter<W> {
        let statistics = if self.statistics {
            StatisticsOptions::default()
        } else {
            StatisticsOptions::empty()
        };
        let compression = if self.compressed {
            compression()
        } else {
            ParquetCompression::Uncompressed
        };
        ParquetWriter::new(sink)
            .with_compression(compression)
            .with_statistics(statistics)
    }

    /// The polars schema of this file.
    pub fn polars_schema(&self) -> Schema {
        self.columns
            .iter()
            .map(|(n, t)| Field::new((*n).into(), t.dtype()))
            .collect()
    }

    fn describe_frame(df: &DataFrame) -> String {
        df.schema()
            .iter()
            .map(|(n, t)| format!("{n}: {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Puts the frame's columns in schema order and checks names and types.
    ///
    /// # Errors
    /// `Schema` when a column is missing or has another type.
    pub fn conform(&self, key: &ObjectKey, df: &DataFrame) -> Result<DataFrame> {
        let mismatch = || Error::Schema {
            key: key.to_string(),
            expected: self.describe(),
            found: Self::describe_frame(df),
        };
        let mut cols = Vec::with_capacity(self.columns.len());
        for (name, t) in self.columns {
            let c = df.column(name).map_err(|_| mismatch())?;
            if c.dtype() != &t.dtype() {
                return Err(mismatch());
            }
            cols.push(c.clone());
        }
        DataFrame::new(df.height(), cols).map_err(Error::frame(key))
    }
}

/// zstd at level 1: on fetch's hour files it was both faster (1.4x) and
/// smaller than the default level 3 (see the fetch bench).
fn compression() -> ParquetCompression {
    ParquetCompression::Zstd(polars_parquet::write::ZstdLevel::try_new(1).ok())
}

/// Serialises a frame of the given schema to Parquet and stores it.
///
/// # Errors
/// `Schema` when the frame does not match; `Frame` or storage errors.
pub async fn write(
    store: &dyn BlobStore,
    key: &ObjectKey,
    schema: &FileSchema,
    df: &DataFrame,
) -> Result<()> {
    let mut df = schema.conform(key, df)?;
    let mut buf = Vec::new();
    schema
        .writer(&mut buf)
        .finish(&mut df)
        .map_err(Error::frame(key))?;
    store.put(key, Bytes::from(buf)).await
}

/// Rows gathered before a row group is written: big enough for efficient
/// reads, small enough to bound the writer's memory.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Writes a Parquet file of one schema frame by frame, gathering small frames
/// into row groups of up to [`ROW_GROUP_ROWS`] rows, so only that many rows and
/// the compressed output are in memory.
pub struct StreamWriter<'a> {
    inner: polars::io::parquet::write::BatchedWriter<&'a mut Vec<u8>>,
    schema: &'static FileSchema,
    key: ObjectKey,
    pending: Option<DataFrame>,
    rows: u64,
}

impl<'a> StreamWriter<'a> {
    /// # Errors
    /// `Frame` if polars cannot start the file.
    pub fn new(
        buf: &'a mut Vec<u8>,
        schema: &'static FileSchema,
        key: &ObjectKey,
    ) -> Result<StreamWriter<'a>> {
        let inner = schema
            .writer(buf)
            .batched(&schema.polars_schema())
            .map_err(Error::frame(key))?;
        Ok(StreamWriter {
            inner,
            schema,
            key: key.clone(),
            pending: None,
            rows: 0,
        })
    }

    /// # Errors
    /// `Schema` when the frame does not match; `Frame` on write failure.
    pub fn write(&mut self, df: &DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let df = self.schema.conform(&self.key, df)?;
        self.rows += df.height() as u64;
        let pending = match self.pending.take() {
            None => df,
            Some(mut p) => {
                p.vstack_mut(&df).map_err(Error::frame(&self.key))?;
                p
            }
        };
        if pending.height() >= ROW_GROUP_ROWS {
            self.flush(pending)
        } else {
            self.pending = Some(pending);
            Ok(())
        }
    }

    fn flush(&mut self, mut df: DataFrame) -> Result<()> {
        df.rechunk_mut();
        self.inner.write_batch(&df).map_err(Error::frame(&self.key))
    }

    /// Finishes the file; returns the rows written.
    ///
    /// # Errors
    /// `Frame` on write failure.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(p) = self.pending.take() {
            self.flush(p)?;
        }
        self.inner.finish().map_err(Error::frame(&self.key))?;
        Ok(self.rows)
    }
}

/// Reads a stored Parquet file and checks it has the given schema.
///
/// # Errors
/// `NotFound`, `Frame` (not Parquet) or `Schema` errors naming the key.
pub async fn read(store: &dyn BlobStore, key: &ObjectKey, schema: &FileSchema) -> Result<DataFrame> {
    let bytes = store.get(key).await?;
    let df = ParquetReader::new(Cursor::new(bytes))
        .finish()
        .map_err(Error::frame(key))?;
    schema.conform(key, &df)
}

/// Reads only the named columns of a stored Parquet file (the others are not
/// decoded), checking that each exists with the schema's type.
///
/// # Errors
/// `NotFound`, `Frame` or `Schema` errors naming the key; `Bug` for a column
/// the schema does not have.
pub async fn read_columns(
    store: &dyn BlobStore,
    key: &ObjectKey,
    schema: &FileSchema,
    columns: &[&str],
) -> Result<DataFrame> {
    let mut wanted = Vec::with_capacity(columns.len());
    for name in columns {
        let (_, t) = schema
            .columns
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Bug(format!("{} has no column {name}", schema.name)))?;
        wanted.push((*name, *t));
    }
    let bytes = store.get(key).await?;
    let df = ParquetReader::new(Cursor::new(bytes))
        .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
        .finish()
        .map_err(Error::frame(key))?;
    let mut cols = Vec::with_capacity(wanted.len());
    for (name, t) in wanted {
        match df.column(name) {
            Ok(c) if c.dtype() == &t.dtype() => cols.push(c.clone()),
            _ => {
                return Err(Error::Schema {
                    key: key.to_string(),
                    expected: schema.describe(),
                    found: FileSchema::describe_frame(&df),
                })
            }
        }
    }
    DataFrame::new(df.height(), cols).map_err(Error::frame(key))
}

/// A `Datetime(ms)` column from epoch milliseconds.
///
/// # Errors
/// `Frame` if polars cannot cast (it always can).
pub fn datetime_ms_column(name: &str, ms: Vec<Option<i64>>, key: &ObjectKey) -> Result<Column> {
    Series::new(name.into(), ms)
        .cast(&ColType::DatetimeMs.dtype())
        .map(Column::from)
        .map_err(Error::frame(key))
}

/// A `Date` column from days since the epoch.
///
/// # Errors
/// `Frame` if polars cannot cast (it always can).
pub fn date_column(name: &str, days: Vec<i32>, key: &ObjectKey) -> Result<Column> {
    Series::new(name.into(), days)
        .cast(&ColType::Date.dtype())
        .map(Column::from)
        .map_err(Error::frame(key))
}

/// A string column's values.
///
/// # Errors
/// Polars errors (missing column, wrong type).
pub fn strs<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<Vec<Option<&'a str>>> {
    Ok(df.column(name)?.str()?.iter().collect())
}

/// A numeric or datetime column's values as `i64` (datetimes: epoch ms).
///
/// # Errors
/// Polars errors (missing column, not castable).
pub fn i64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().collect())
}

/// An unsigned 64-bit column's values.
///
/// # Errors
/// Polars errors (missing column, wrong type).
pub fn u64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<u64>>> {
    Ok(df.column(name)?.u64()?.iter().collect())
}

/// A float column's values.
///
/// # Errors
/// Polars errors (missing column, wrong type).
pub fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(df.column(name)?.f64()?.iter().collect())
}

/// The factors column from a row-major `rows x k` buffer.
pub fn factors_column(values: &[f32], k: usize) -> Column {
    let rows = values.len() / k.max(1);
    let mut b = ListPrimitiveChunkedBuilder::<Float32Type>::new(
        col::FACTORS.into(),
        rows,
        values.len(),
        DataType::Float32,
    );
    for row in values.chunks(k.max(1)) {
        b.append_slice(row);
    }
    b.finish().into_series().into()
}

/// The factors column as a row-major buffer and the vector length.
///
/// # Errors
/// `Frame` when rows have different lengths or hold nulls.
pub fn factors_values(df: &DataFrame, key: &ObjectKey) -> Result<(Vec<f32>, usize)> {
    let bad = |what: &str| Error::Frame {
        key: key.to_string(),
        source: PolarsError::ComputeError(what.to_string().into()),
    };
    let list = df
        .column(col::FACTORS)
        .and_then(|c| c.list())
        .map_err(Error::frame(key))?;
    let mut values = Vec::new();
    let mut k = None;
    for i in 0..list.len() {
        let row = list.get_as_series(i).ok_or_else(|| bad("null factor vector"))?;
        let ca = row.f32().map_err(Error::frame(key))?;
        if ca.null_count() > 0 {
            return Err(bad("null in a factor vector"));
        }
        match k {
            None => k = Some(ca.len()),
            Some(k) if k != ca.len() => return Err(bad("factor vectors of different lengths")),
            Some(_) => {}
        }
        values.extend(ca.into_no_null_iter());
    }
    Ok((values, k.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::storage::LocalDir;

    fn key() -> ObjectKey {
        ObjectKey::from_listing("t/defaults.parquet").unwrap()
    }

    #[tokio::test]
    async fn round_trip_and_schema_check() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let df = df!(col::SCORE => [1.0, 0.5], col::EXTERNAL_ID => ["a", "b"]).unwrap();
        write(&store, &key(), &DEFAULTS, &df).await.unwrap();
        let back = read(&store, &key(), &DEFAULTS).await.unwrap();
        let names: Vec<&str> = back.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, [col::EXTERNAL_ID, col::SCORE]);
        assert_eq!(back.height(), 2);

        // the same bytes read as another kind of file are a schema error naming the key
        let err = read(&store, &key(), &FACTORS).await.unwrap_err().to_string();
        assert!(
            err.contains("t/defaults.parquet") && err.contains("factors"),
            "{err}"
        );

        // streaming: frames become row groups of one file; an empty file is valid
        let mut buf = Vec::new();
        let mut w = StreamWriter::new(&mut buf, &DEFAULTS, &key()).unwrap();
        w.write(&df).unwrap();
        w.write(&df.slice(0, 0)).unwrap();
        w.write(&df).unwrap();
        assert_eq!(w.finish().unwrap(), 4);
        store.put(&key(), Bytes::from(buf)).await.unwrap();
        assert_eq!(read(&store, &key(), &DEFAULTS).await.unwrap().height(), 4);
        let mut buf = Vec::new();
        assert_eq!(
            StreamWriter::new(&mut buf, &DEFAULTS, &key())
                .unwrap()
                .finish()
                .unwrap(),
            0
        );
        store.put(&key(), Bytes::from(buf)).await.unwrap();
        assert_eq!(read(&store, &key(), &DEFAULTS).await.unwrap().height(), 0);

        let wrong = df!(col::EXTERNAL_ID => ["a"], col::SCORE => [1i64]).unwrap();
        assert!(matches!(
            write(&store, &key(), &DEFAULTS, &wrong).await,
            Err(Error::Schema { .. })
        ));
    }
}
