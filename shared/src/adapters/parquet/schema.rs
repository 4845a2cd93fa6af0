//! The one owner of every Parquet file's schema. Column names appear as
//! literals only here ([`col`]); readers check a file against its schema
//! and report `Schema` errors naming the object.

use polars::prelude::{DataType, TimeUnit};

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
    /// `fetch::dedup::fingerprint_hash` of Snowplow's `event_fingerprint`
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
    /// The UTC hour an event's time falls in (its start).
    pub const BUCKET: &str = "bucket";
    /// A reading session's first and last event (epoch ms, UTC).
    pub const START: &str = "start";
    pub const END: &str = "end";
    /// Page events on an article's page read on a path.
    pub const READS: &str = "reads";
    /// The row of an hour's pairs file an event counted in.
    pub const PAIR_ROW: &str = "pair_row";
    /// The hour partition (its start) a row of the window refers to.
    pub const HOUR: &str = "hour";
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
    /// The polars type a column of this kind is built with.
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

    /// Whether a column read as `dtype` is of this kind (a datetime of
    /// another zone annotation still counts: the values are UTC).
    pub fn holds(self, dtype: &DataType) -> bool {
        match (self, dtype) {
            (ColType::DatetimeMs, DataType::Datetime(TimeUnit::Milliseconds, _)) => true,
            (t, d) => t.dtype() == *d,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColType::Str => "string",
            ColType::DatetimeMs => "datetime[ms]",
            ColType::Date => "date",
            ColType::F64 => "f64",
            ColType::U32 => "u32",
            ColType::U64 => "u64",
            ColType::ListF32 => "list[f32]",
        }
    }
}

/// A file kind: its columns, in order, and how it is written.
#[derive(Debug)]
pub struct FileSchema {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColType)],
    /// Min/max statistics per column chunk (what readers may skip on).
    pub statistics: bool,
    /// zstd (level 1); otherwise uncompressed.
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

    pub fn names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }
}

/// An hour's parsed events in the fetch cache (`cache/<site>/hours/...`), the
/// raw side of the hour: the later stages read its aggregates
/// ([`HOUR_PAIRS`], [`HOUR_PATHS`], [`HOUR_KEYS`]), and only the online
/// evaluation reads these rows, of the few hours after a click. The event id
/// is kept as its 128 bits and the fingerprint as the hash that
/// de-duplication compares. Not compressed: its random id bytes do not
/// compress, and only fetch writes it.
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

/// An hour partition's reading, what dwell is built from: one row per
/// reader x article x UTC hour of event time x reading session (a run of
/// events no more than the dwell cap apart), with its first and last event
/// and how many events it had. Sessions of one reader and article from
/// different rows join when the gap between them is under the cap, so the
/// window's dwell is the same as from its events (`preprocess::merge`).
pub const HOUR_PAIRS: FileSchema = FileSchema {
    name: "hour pairs",
    columns: &[
        (col::CLIENT_ID, ColType::Str),
        (col::EXTERNAL_ID, ColType::Str),
        (col::BUCKET, ColType::DatetimeMs),
        (col::START, ColType::DatetimeMs),
        (col::END, ColType::DatetimeMs),
        (col::EVENTS, ColType::U32),
    ],
    statistics: false,
    compressed: true,
};

/// An hour partition's article pages: page events on each article by the
/// canonical path they were on and the UTC hour of their time (the path an
/// article is known by is the one most read over the window).
pub const HOUR_PATHS: FileSchema = FileSchema {
    name: "hour paths",
    columns: &[
        (col::EXTERNAL_ID, ColType::Str),
        (col::PATH, ColType::Str),
        (col::BUCKET, ColType::DatetimeMs),
        (col::READS, ColType::U64),
    ],
    statistics: false,
    compressed: true,
};

/// An hour partition's event identities, for de-duplication across hours:
/// the event id's 128 bits spread with the fingerprint's hash, the hour of
/// its time, and the pairs row it counted in (`u32::MAX`: not an article
/// page). Its random bytes do not compress.
pub const HOUR_KEYS: FileSchema = FileSchema {
    name: "hour keys",
    columns: &[
        (col::EVENT_ID_HI, ColType::U64),
        (col::EVENT_ID_LO, ColType::U64),
        (col::BUCKET, ColType::DatetimeMs),
        (col::PAIR_ROW, ColType::U32),
    ],
    statistics: false,
    compressed: false,
};

/// The window's events found again in a later hour (Snowplow delivers at
/// least once): the hour partition and pairs row each was counted in, which
/// preprocess takes back out.
pub const DUPLICATES: FileSchema = FileSchema {
    name: "duplicates",
    columns: &[(col::HOUR, ColType::DatetimeMs), (col::PAIR_ROW, ColType::U32)],
    statistics: false,
    compressed: true,
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

/// `article_recs.parquet`: each source article's list, best first.
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

/// `article_factors.parquet`: one latent vector per article.
pub const FACTORS: FileSchema = FileSchema {
    name: "article_factors",
    columns: &[(col::EXTERNAL_ID, ColType::Str), (col::FACTORS, ColType::ListF32)],
    statistics: true,
    compressed: true,
};
