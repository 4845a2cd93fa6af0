//! The one owner of every intermediate Parquet file's schema. Column names appear
//! as literals only here ([`col`]); readers check the schema and report
//! `Schema` errors naming the object.

use polars_arrow::datatypes::{ArrowDataType, Field, TimeUnit};

#[cfg(test)]
mod compat;
mod files;
mod io;
mod table;

pub use files::{
    ArticleColumns, ArticleRecColumns, ArticleRecs, Articles, DefaultColumns, Defaults, Dwell, DwellColumns,
    FactorColumns, Factors, WidgetEventColumns, WidgetEvents,
};
pub use io::{decode, encode, read, read_columns, write, zstd_level_1, Encoder, StreamWriter};
pub use polars_arrow::bitmap::Bitmap;
pub use polars_parquet::write::{CompressionOptions, StatisticsOptions, Version, WriteOptions, ZstdLevel};
pub use table::{
    coded_str_array, date_array, datetime_ms_array, f32_rows_array, opt_datetime_ms_array, opt_str_array,
    opt_values_array, str_array, values_array, ArrayRef, StrColumn, Table,
};

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
    /// The arrow type of the column in memory (and in the file's footer).
    pub fn arrow(self) -> ArrowDataType {
        match self {
            ColType::Str => ArrowDataType::Utf8View,
            ColType::DatetimeMs => ArrowDataType::Timestamp(TimeUnit::Millisecond, None),
            ColType::Date => ArrowDataType::Date32,
            ColType::F64 => ArrowDataType::Float64,
            ColType::U32 => ArrowDataType::UInt32,
            ColType::U64 => ArrowDataType::UInt64,
            ColType::ListF32 => {
                ArrowDataType::LargeList(Box::new(Field::new("item".into(), ArrowDataType::Float32, true)))
            }
        }
    }

    /// Whether an array of this arrow type is a column of this type.
    pub fn holds(self, dtype: &ArrowDataType) -> bool {
        match (self, dtype) {
            (ColType::ListF32, ArrowDataType::LargeList(item)) => item.dtype == ArrowDataType::Float32,
            (t, d) => t.arrow() == *d,
        }
    }

    /// Whether a file's column of this arrow type is read as this type:
    /// strings of any arrow flavour (another writer's), lists of either
    /// offset width.
    fn reads(self, dtype: &ArrowDataType) -> bool {
        match (self, dtype) {
            (ColType::Str, ArrowDataType::Utf8 | ArrowDataType::LargeUtf8 | ArrowDataType::Utf8View) => true,
            (ColType::ListF32, ArrowDataType::List(item) | ArrowDataType::LargeList(item)) => {
                item.dtype == ArrowDataType::Float32
            }
            (t, d) => t.holds(d),
        }
    }

    /// The type's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            ColType::Str => "str",
            ColType::DatetimeMs => "datetime[ms]",
            ColType::Date => "date",
            ColType::F64 => "f64",
            ColType::U32 => "u32",
            ColType::U64 => "u64",
            ColType::ListF32 => "list[f32]",
        }
    }

    /// An arrow type's name in messages: ours by name, another as arrow says it.
    pub fn describe_arrow(dtype: &ArrowDataType) -> String {
        const ALL: [ColType; 7] = [
            ColType::Str,
            ColType::DatetimeMs,
            ColType::Date,
            ColType::F64,
            ColType::U32,
            ColType::U64,
            ColType::ListF32,
        ];
        ALL.iter()
            .find(|t| t.holds(dtype))
            .map_or_else(|| format!("{dtype:?}"), |t| t.name().to_string())
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

impl FileSchema {
    /// The columns and their types, for messages.
    pub fn describe(&self) -> String {
        self.columns
            .iter()
            .map(|(n, t)| format!("{n}: {}", t.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::adapters::storage::LocalDir;
    use crate::contract::error::Error;
    use crate::contract::layout::ObjectKey;
    use crate::contract::storage::BlobStore;

    fn key() -> ObjectKey {
        ObjectKey::from_listing("t/defaults.parquet").unwrap()
    }

    fn defaults(ids: &[&str], scores: Vec<f64>) -> Table {
        Table::new(&DEFAULTS, &key(), vec![str_array(ids), values_array(scores)]).unwrap()
    }

    #[tokio::test]
    async fn round_trip_and_schema_check() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let df = defaults(&["a", "b"], vec![1.0, 0.5]);
        write(&store, &key(), &df).await.unwrap();
        let back = read(&store, &key(), &DEFAULTS).await.unwrap();
        assert_eq!(back.names(), [col::EXTERNAL_ID, col::SCORE]);
        assert_eq!(back.len(), 2);

        // the same bytes read as another kind of file are a schema error naming the key
        let err = read(&store, &key(), &FACTORS).await.unwrap_err().to_string();
        assert!(
            err.contains("t/defaults.parquet") && err.contains("factors"),
            "{err}"
        );

        // streaming: tables become row groups of one file; an empty file is valid
        let mut buf = Vec::new();
        let mut w = StreamWriter::new(&mut buf, &DEFAULTS, &key()).unwrap();
        w.write(&df).unwrap();
        w.write(&defaults(&[], vec![])).unwrap();
        w.write(&df).unwrap();
        assert_eq!(w.finish().unwrap(), 4);
        store.put(&key(), Bytes::from(buf)).await.unwrap();
        assert_eq!(read(&store, &key(), &DEFAULTS).await.unwrap().len(), 4);
        let mut buf = Vec::new();
        assert_eq!(
            StreamWriter::new(&mut buf, &DEFAULTS, &key())
                .unwrap()
                .finish()
                .unwrap(),
            0
        );
        store.put(&key(), Bytes::from(buf)).await.unwrap();
        assert_eq!(read(&store, &key(), &DEFAULTS).await.unwrap().len(), 0);

        let wrong = Table::new(
            &DEFAULTS,
            &key(),
            vec![str_array(&["a"]), values_array(vec![1i64])],
        );
        assert!(matches!(wrong, Err(Error::Schema { .. })));
    }
}
