//! The job's files, typed: one struct of columns per file, read (schema and
//! nulls checked, naming the object) and written by one function each. A
//! stage reads `Dwell::read(...)` and works on its columns; nothing else
//! unpacks a file by hand.
//!
//! A file holds its polars frame; the columns borrow its strings
//! (`columns()`), so a read copies no string.

use polars::prelude::DataFrame;

use super::frame::{
    date_column, datetime_ms_column, days, f32_rows, f32_rows_column, f64_column, f64s, frame, i64s,
    opt_datetime_ms_column, opt_str_column, opt_u32_column, required, str_column, strs, u32_column, u32s,
    u64_column, u64s,
};
use super::io::{read, read_columns, write};
use super::schema::{
    col, FileSchema, ARTICLES, ARTICLE_RECS, DEFAULTS, DUPLICATES, DWELL, FACTORS, HOUR_EVENTS, HOUR_KEYS,
    HOUR_PAIRS, HOUR_PATHS, WIDGET_EVENTS,
};
use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::storage::BlobStore;

/// A stored file of one schema: its frame and the key it was read from.
macro_rules! file {
    ($(#[$doc:meta])* $file:ident, $schema:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $file {
            df: DataFrame,
            key: String,
        }

        impl $file {
            pub const SCHEMA: &'static FileSchema = &$schema;

            /// # Errors
            /// `NotFound`, `Parquet` or `Schema` errors naming the key.
            pub async fn read(store: &dyn BlobStore, key: &ObjectKey) -> Result<$file> {
                Ok($file {
                    df: read(store, key, Self::SCHEMA).await?,
                    key: key.to_string(),
                })
            }

            /// A frame made here, as if read from `key`.
            ///
            /// # Errors
            /// `Schema` when the frame is of another schema.
            pub fn from_frame(df: DataFrame, key: &ObjectKey) -> Result<$file> {
                crate::adapters::parquet::check_whole_of(&df, Self::SCHEMA, key)?;
                Ok($file {
                    df,
                    key: key.to_string(),
                })
            }

            /// The file's frame.
            pub fn frame(&self) -> &DataFrame {
                &self.df
            }

            /// Rows in the file.
            pub fn len(&self) -> usize {
                self.df.height()
            }

            pub fn is_empty(&self) -> bool {
                self.df.height() == 0
            }

            /// # Errors
            /// `Parquet` or storage errors.
            pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
                write(store, key, Self::SCHEMA, &mut self.df.clone()).await
            }
        }
    };
}

file!(
    /// `dwell.parquet`: one row per reader x article, sorted by reader, then article.
    Dwell,
    DWELL
);

/// The columns of `dwell.parquet`; times are epoch ms, UTC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DwellColumns<'a> {
    pub client_id: Vec<&'a str>,
    pub external_id: Vec<&'a str>,
    /// Seconds of reading, summed over the reader's visits to the article.
    pub dwell_secs: Vec<f64>,
    pub events: Vec<u32>,
    /// The reader's first event on the article.
    pub first_seen_ms: Vec<i64>,
    pub last_seen_ms: Vec<i64>,
}

impl Dwell {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<DwellColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(DwellColumns {
            client_id: required(key, col::CLIENT_ID, strs(df, key, col::CLIENT_ID)?)?,
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            dwell_secs: required(key, col::DWELL_SECS, f64s(df, key, col::DWELL_SECS)?)?,
            events: required(key, col::EVENTS, u32s(df, key, col::EVENTS)?)?,
            first_seen_ms: required(key, col::FIRST_SEEN, i64s(df, key, col::FIRST_SEEN)?)?,
            last_seen_ms: required(key, col::LAST_SEEN, i64s(df, key, col::LAST_SEEN)?)?,
        })
    }

    /// Only the dwell seconds, without decoding the other columns.
    ///
    /// # Errors
    /// `NotFound`, `Parquet` or `Schema` errors naming the key.
    pub async fn read_seconds(store: &dyn BlobStore, key: &ObjectKey) -> Result<Vec<f64>> {
        let df = read_columns(store, key, &DWELL, &[col::DWELL_SECS]).await?;
        let k = key.to_string();
        required(&k, col::DWELL_SECS, f64s(&df, &k, col::DWELL_SECS)?)
    }
}

impl DwellColumns<'_> {
    /// The file's frame (schema [`DWELL`]), as if read from `key`.
    ///
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn frame(&self, key: &ObjectKey) -> Result<DataFrame> {
        frame(
            &DWELL,
            key,
            vec![
                str_column(col::CLIENT_ID, &self.client_id),
                str_column(col::EXTERNAL_ID, &self.external_id),
                f64_column(col::DWELL_SECS, self.dwell_secs.clone()),
                u32_column(col::EVENTS, self.events.clone()),
                datetime_ms_column(col::FIRST_SEEN, self.first_seen_ms.clone()),
                datetime_ms_column(col::LAST_SEEN, self.last_seen_ms.clone()),
            ],
        )
    }

    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &DWELL, &mut self.frame(key)?).await
    }
}

file!(
    /// `articles.parquet`: the articles of the run, with their metadata.
    Articles,
    ARTICLES
);

/// The columns of `articles.parquet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleColumns<'a> {
    pub external_id: Vec<&'a str>,
    pub path: Vec<Option<&'a str>>,
    pub title: Vec<Option<&'a str>>,
    /// Epoch ms, UTC.
    pub published_at_ms: Vec<Option<i64>>,
    /// Why the article must never be recommended.
    pub exclude_reason: Vec<Option<&'a str>>,
    pub excerpt: Vec<Option<&'a str>>,
    pub section: Vec<Option<&'a str>>,
    /// One tag per line.
    pub tags: Vec<Option<&'a str>>,
}

impl Articles {
    /// # Errors
    /// `Schema` when an external id is null.
    pub fn columns(&self) -> Result<ArticleColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(ArticleColumns {
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            path: strs(df, key, col::PATH)?,
            title: strs(df, key, col::TITLE)?,
            published_at_ms: i64s(df, key, col::PUBLISHED_AT)?,
            exclude_reason: strs(df, key, col::EXCLUDE_REASON)?,
            excerpt: strs(df, key, col::EXCERPT)?,
            section: strs(df, key, col::SECTION)?,
            tags: strs(df, key, col::TAGS)?,
        })
    }
}

impl ArticleColumns<'_> {
    /// The file's frame (schema [`ARTICLES`]), as if read from `key`.
    ///
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn frame(&self, key: &ObjectKey) -> Result<DataFrame> {
        frame(
            &ARTICLES,
            key,
            vec![
                str_column(col::EXTERNAL_ID, &self.external_id),
                opt_str_column(col::PATH, &self.path),
                opt_str_column(col::TITLE, &self.title),
                opt_datetime_ms_column(col::PUBLISHED_AT, &self.published_at_ms),
                opt_str_column(col::EXCLUDE_REASON, &self.exclude_reason),
                opt_str_column(col::EXCERPT, &self.excerpt),
                opt_str_column(col::SECTION, &self.section),
                opt_str_column(col::TAGS, &self.tags),
            ],
        )
    }

    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &ARTICLES, &mut self.frame(key)?).await
    }
}

file!(
    /// `defaults.parquet`: the default recommendations, best first.
    Defaults,
    DEFAULTS
);

/// The columns of `defaults.parquet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefaultColumns<'a> {
    pub external_id: Vec<&'a str>,
    pub score: Vec<f64>,
}

impl Defaults {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<DefaultColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(DefaultColumns {
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            score: required(key, col::SCORE, f64s(df, key, col::SCORE)?)?,
        })
    }
}

impl DefaultColumns<'_> {
    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let mut df = frame(
            &DEFAULTS,
            key,
            vec![
                str_column(col::EXTERNAL_ID, &self.external_id),
                f64_column(col::SCORE, self.score.clone()),
            ],
        )?;
        write(store, key, &DEFAULTS, &mut df).await
    }
}

file!(
    /// `article_recs.parquet`: the article model's lists, as saved (train).
    ArticleRecs,
    ARTICLE_RECS
);

/// The columns of `article_recs.parquet`: each source's list, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleRecColumns<'a> {
    pub source_external_id: Vec<&'a str>,
    pub external_id: Vec<&'a str>,
    pub score: Vec<f64>,
}

impl ArticleRecs {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<ArticleRecColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(ArticleRecColumns {
            source_external_id: required(
                key,
                col::SOURCE_EXTERNAL_ID,
                strs(df, key, col::SOURCE_EXTERNAL_ID)?,
            )?,
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            score: required(key, col::SCORE, f64s(df, key, col::SCORE)?)?,
        })
    }
}

impl ArticleRecColumns<'_> {
    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let mut df = frame(
            &ARTICLE_RECS,
            key,
            vec![
                str_column(col::SOURCE_EXTERNAL_ID, &self.source_external_id),
                str_column(col::EXTERNAL_ID, &self.external_id),
                f64_column(col::SCORE, self.score.clone()),
            ],
        )?;
        write(store, key, &ARTICLE_RECS, &mut df).await
    }
}

file!(
    /// `article_factors.parquet`: one latent vector per article.
    Factors,
    FACTORS
);

/// The columns of `article_factors.parquet`: `values` holds the vectors
/// row-major, `k` each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactorColumns<'a> {
    pub external_id: Vec<&'a str>,
    pub values: Vec<f32>,
    pub k: usize,
}

impl Factors {
    /// # Errors
    /// `Schema` when an id is null, or when vectors differ in length or hold nulls.
    pub fn columns(&self) -> Result<FactorColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        let (values, k) = f32_rows(df, key, col::FACTORS)?;
        Ok(FactorColumns {
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            values,
            k,
        })
    }
}

impl FactorColumns<'_> {
    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let mut df = frame(
            &FACTORS,
            key,
            vec![
                str_column(col::EXTERNAL_ID, &self.external_id),
                f32_rows_column(col::FACTORS, &self.values, self.k)?,
            ],
        )?;
        write(store, key, &FACTORS, &mut df).await
    }
}

file!(
    /// `widget_events.parquet`, and each cached hour's `widget.parquet`.
    WidgetEvents,
    WIDGET_EVENTS
);

/// The columns of a widget events file; times are epoch ms, UTC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WidgetEventColumns<'a> {
    pub client_id: Vec<&'a str>,
    pub time_ms: Vec<i64>,
    /// The page the widget was on.
    pub page_path: Vec<&'a str>,
    /// `seen` or `click` ([`crate::stages::fetch::snowplow::widget::WidgetStep`]).
    pub step: Vec<&'a str>,
    pub model_id: Vec<&'a str>,
    pub model_type: Vec<&'a str>,
    /// The clicked article (clicks only).
    pub external_id: Vec<Option<&'a str>>,
    /// The clicked recommendation's place, 1 first, when the widget sent it.
    pub position: Vec<Option<u32>>,
    pub event_id: Vec<&'a str>,
}

impl WidgetEvents {
    /// # Errors
    /// `Schema` when a required column has nulls.
    pub fn columns(&self) -> Result<WidgetEventColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        let step = required(key, col::STEP, strs(df, key, col::STEP)?)?;
        if let Some(bad) = step.iter().find(|s| !matches!(**s, "seen" | "click")) {
            return Err(Error::Schema {
                key: key.to_string(),
                expected: format!("{} of seen or click", col::STEP),
                found: format!("{bad:?}"),
            });
        }
        Ok(WidgetEventColumns {
            client_id: required(key, col::CLIENT_ID, strs(df, key, col::CLIENT_ID)?)?,
            time_ms: required(key, col::ACTIVITY_TIME, i64s(df, key, col::ACTIVITY_TIME)?)?,
            page_path: required(key, col::PAGE_PATH, strs(df, key, col::PAGE_PATH)?)?,
            step,
            model_id: required(key, col::MODEL_ID, strs(df, key, col::MODEL_ID)?)?,
            model_type: required(key, col::MODEL_TYPE, strs(df, key, col::MODEL_TYPE)?)?,
            external_id: strs(df, key, col::EXTERNAL_ID)?,
            position: u32s(df, key, col::POSITION)?,
            event_id: required(key, col::EVENT_ID, strs(df, key, col::EVENT_ID)?)?,
        })
    }
}

impl WidgetEventColumns<'_> {
    pub fn len(&self) -> usize {
        self.client_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.client_id.is_empty()
    }

    /// The file's frame (schema [`WIDGET_EVENTS`]), as if read from `key`.
    ///
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn frame(&self, key: &ObjectKey) -> Result<DataFrame> {
        frame(
            &WIDGET_EVENTS,
            key,
            vec![
                str_column(col::CLIENT_ID, &self.client_id),
                datetime_ms_column(col::ACTIVITY_TIME, self.time_ms.clone()),
                str_column(col::PAGE_PATH, &self.page_path),
                str_column(col::STEP, &self.step),
                str_column(col::MODEL_ID, &self.model_id),
                str_column(col::MODEL_TYPE, &self.model_type),
                opt_str_column(col::EXTERNAL_ID, &self.external_id),
                opt_u32_column(col::POSITION, &self.position),
                str_column(col::EVENT_ID, &self.event_id),
            ],
        )
    }

    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &WIDGET_EVENTS, &mut self.frame(key)?).await
    }
}

mod hour_files;
pub use self::hour_files::*;
