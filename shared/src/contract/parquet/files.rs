//! The run's files, typed: one struct of columns per file, read (schema and
//! nulls checked, naming the object) and written by one function each. A
//! stage reads `Dwell::read(...)` and works on its columns; nothing else
//! unpacks a frame by hand.
//!
//! A file holds its frame; the columns borrow from it (`columns()`), so a
//! read copies no string.

use polars::prelude::*;

use super::{
    col, read, read_columns, write, ColType, FileSchema, ARTICLES, ARTICLE_RECS, DEFAULTS, DWELL, FACTORS,
    WIDGET_EVENTS,
};
use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::storage::BlobStore;

/// A column that must have no nulls: the file is not ours if it has one.
fn required<T>(key: &ObjectKey, name: &str, values: Vec<Option<T>>) -> Result<Vec<T>> {
    let n = values.len();
    let out: Vec<T> = values.into_iter().flatten().collect();
    if out.len() == n {
        Ok(out)
    } else {
        Err(Error::Schema {
            key: key.to_string(),
            expected: format!("{name} without nulls"),
            found: format!("{} nulls in {name}", n - out.len()),
        })
    }
}

fn strs<'a>(df: &'a DataFrame, key: &ObjectKey, name: &str) -> Result<Vec<Option<&'a str>>> {
    super::strs(df, name).map_err(Error::frame(key))
}

fn i64s(df: &DataFrame, key: &ObjectKey, name: &str) -> Result<Vec<Option<i64>>> {
    super::i64s(df, name).map_err(Error::frame(key))
}

fn f64s(df: &DataFrame, key: &ObjectKey, name: &str) -> Result<Vec<Option<f64>>> {
    super::f64s(df, name).map_err(Error::frame(key))
}

fn u32s(df: &DataFrame, key: &ObjectKey, name: &str) -> Result<Vec<Option<u32>>> {
    df.column(name)
        .and_then(|c| c.u32().map(|c| c.iter().collect()))
        .map_err(Error::frame(key))
}

fn datetime_ms(name: &str, ms: &[Option<i64>]) -> PolarsResult<Column> {
    Ok(Series::new(name.into(), ms)
        .cast(&ColType::DatetimeMs.dtype())?
        .into())
}

/// A stored file of one schema, its columns typed by `C`.
macro_rules! file {
    ($(#[$doc:meta])* $file:ident, $schema:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $file {
            frame: DataFrame,
            key: ObjectKey,
        }

        impl $file {
            pub const SCHEMA: &'static FileSchema = &$schema;

            /// # Errors
            /// `NotFound`, `Frame` or `Schema` errors naming the key.
            pub async fn read(store: &dyn BlobStore, key: &ObjectKey) -> Result<$file> {
                Ok($file {
                    frame: read(store, key, Self::SCHEMA).await?,
                    key: key.clone(),
                })
            }

            /// A frame made here, as if read from `key`.
            ///
            /// # Errors
            /// `Schema` when the frame does not match.
            pub fn from_frame(frame: &DataFrame, key: &ObjectKey) -> Result<$file> {
                Ok($file {
                    frame: Self::SCHEMA.conform(key, frame)?,
                    key: key.clone(),
                })
            }

            /// Rows in the file.
            pub fn len(&self) -> usize {
                self.frame.height()
            }

            pub fn is_empty(&self) -> bool {
                self.frame.height() == 0
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
        let (df, key) = (&self.frame, &self.key);
        let events = df
            .column(col::EVENTS)
            .and_then(|c| c.u32().map(|c| c.iter().collect::<Vec<_>>()))
            .map_err(Error::frame(key))?;
        Ok(DwellColumns {
            client_id: required(key, col::CLIENT_ID, strs(df, key, col::CLIENT_ID)?)?,
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            dwell_secs: required(key, col::DWELL_SECS, f64s(df, key, col::DWELL_SECS)?)?,
            events: required(key, col::EVENTS, events)?,
            first_seen_ms: required(key, col::FIRST_SEEN, i64s(df, key, col::FIRST_SEEN)?)?,
            last_seen_ms: required(key, col::LAST_SEEN, i64s(df, key, col::LAST_SEEN)?)?,
        })
    }

    /// Only the dwell seconds, without decoding the other columns.
    ///
    /// # Errors
    /// `NotFound`, `Frame` or `Schema` errors naming the key.
    pub async fn read_seconds(store: &dyn BlobStore, key: &ObjectKey) -> Result<Vec<f64>> {
        let df = read_columns(store, key, &DWELL, &[col::DWELL_SECS]).await?;
        required(key, col::DWELL_SECS, f64s(&df, key, col::DWELL_SECS)?)
    }
}

impl DwellColumns<'_> {
    /// The file's frame (schema [`DWELL`]).
    ///
    /// # Errors
    /// Polars errors (columns of different lengths).
    pub fn frame(&self) -> PolarsResult<DataFrame> {
        let first: Vec<Option<i64>> = self.first_seen_ms.iter().copied().map(Some).collect();
        let last: Vec<Option<i64>> = self.last_seen_ms.iter().copied().map(Some).collect();
        DataFrame::new(
            self.client_id.len(),
            vec![
                Column::new(col::CLIENT_ID.into(), &self.client_id),
                Column::new(col::EXTERNAL_ID.into(), &self.external_id),
                Column::new(col::DWELL_SECS.into(), &self.dwell_secs),
                Column::new(col::EVENTS.into(), &self.events),
                datetime_ms(col::FIRST_SEEN, &first)?,
                datetime_ms(col::LAST_SEEN, &last)?,
            ],
        )
    }

    /// # Errors
    /// `Frame` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &DWELL, &self.frame().map_err(Error::frame(key))?).await
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
        let (df, key) = (&self.frame, &self.key);
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
    /// The file's frame (schema [`ARTICLES`]).
    ///
    /// # Errors
    /// Polars errors (columns of different lengths).
    pub fn frame(&self) -> PolarsResult<DataFrame> {
        DataFrame::new(
            self.external_id.len(),
            vec![
                Column::new(col::EXTERNAL_ID.into(), &self.external_id),
                Column::new(col::PATH.into(), &self.path),
                Column::new(col::TITLE.into(), &self.title),
                datetime_ms(col::PUBLISHED_AT, &self.published_at_ms)?,
                Column::new(col::EXCLUDE_REASON.into(), &self.exclude_reason),
                Column::new(col::EXCERPT.into(), &self.excerpt),
                Column::new(col::SECTION.into(), &self.section),
                Column::new(col::TAGS.into(), &self.tags),
            ],
        )
    }

    /// # Errors
    /// `Frame` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &ARTICLES, &self.frame().map_err(Error::frame(key))?).await
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
        let (df, key) = (&self.frame, &self.key);
        Ok(DefaultColumns {
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            score: required(key, col::SCORE, f64s(df, key, col::SCORE)?)?,
        })
    }
}

impl DefaultColumns<'_> {
    /// # Errors
    /// `Frame` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let df = DataFrame::new(
            self.external_id.len(),
            vec![
                Column::new(col::EXTERNAL_ID.into(), &self.external_id),
                Column::new(col::SCORE.into(), &self.score),
            ],
        )
        .map_err(Error::frame(key))?;
        write(store, key, &DEFAULTS, &df).await
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
        let (df, key) = (&self.frame, &self.key);
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
    /// `Frame` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let df = DataFrame::new(
            self.external_id.len(),
            vec![
                Column::new(col::SOURCE_EXTERNAL_ID.into(), &self.source_external_id),
                Column::new(col::EXTERNAL_ID.into(), &self.external_id),
                Column::new(col::SCORE.into(), &self.score),
            ],
        )
        .map_err(Error::frame(key))?;
        write(store, key, &ARTICLE_RECS, &df).await
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
    /// `Schema` when an id is null; `Frame` when vectors differ in length or hold nulls.
    pub fn columns(&self) -> Result<FactorColumns<'_>> {
        let (df, key) = (&self.frame, &self.key);
        let (values, k) = super::factors_values(df, key)?;
        Ok(FactorColumns {
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            values,
            k,
        })
    }
}

impl FactorColumns<'_> {
    /// # Errors
    /// `Frame` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let df = DataFrame::new(
            self.external_id.len(),
            vec![
                Column::new(col::EXTERNAL_ID.into(), &self.external_id),
                super::factors_column(&self.values, self.k),
            ],
        )
        .map_err(Error::frame(key))?;
        write(store, key, &FACTORS, &df).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::storage::LocalDir;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::from_listing(name).unwrap()
    }

    #[tokio::test]
    async fn every_file_round_trips_through_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let dwell = DwellColumns {
            client_id: vec!["a", "b"],
            external_id: vec!["1", "2"],
            dwell_secs: vec![30.0, 45.5],
            events: vec![3, 4],
            first_seen_ms: vec![1_000, 2_000],
            last_seen_ms: vec![31_000, 47_500],
        };
        dwell.write(&store, &key("r/dwell.parquet")).await.unwrap();
        let back = Dwell::read(&store, &key("r/dwell.parquet")).await.unwrap();
        assert_eq!(back.columns().unwrap(), dwell);
        assert_eq!(
            Dwell::read_seconds(&store, &key("r/dwell.parquet"))
                .await
                .unwrap(),
            [30.0, 45.5]
        );
        let articles = ArticleColumns {
            external_id: vec!["1", "2"],
            path: vec![Some("/article/1/a"), None],
            title: vec![None, Some("Two")],
            published_at_ms: vec![Some(5), None],
            exclude_reason: vec![None, Some("sponsored")],
            excerpt: vec![Some("What happened"), None],
            section: vec![Some("News"), None],
            tags: vec![Some("Budget\nSchools"), None],
        };
        articles.write(&store, &key("r/articles.parquet")).await.unwrap();
        let back = Articles::read(&store, &key("r/articles.parquet")).await.unwrap();
        assert_eq!(back.columns().unwrap(), articles);
        let defaults = DefaultColumns {
            external_id: vec!["2", "1"],
            score: vec![1.0, 0.5],
        };
        defaults.write(&store, &key("r/defaults.parquet")).await.unwrap();
        let back = Defaults::read(&store, &key("r/defaults.parquet")).await.unwrap();
        assert_eq!(back.columns().unwrap(), defaults);
        let factors = FactorColumns {
            external_id: vec!["1", "2"],
            values: vec![0.1, 0.2, 0.3, 0.4],
            k: 2,
        };
        factors.write(&store, &key("r/f.parquet")).await.unwrap();
        let back = Factors::read(&store, &key("r/f.parquet")).await.unwrap();
        assert_eq!(back.columns().unwrap(), factors);
        // another file's bytes are a schema error naming the key
        let err = Dwell::read(&store, &key("r/f.parquet"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("r/f.parquet"), "{err}");
    }

    #[tokio::test]
    async fn a_null_where_a_file_has_none_is_an_error_naming_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let df = df!(col::EXTERNAL_ID => [Some("a"), None], col::SCORE => [1.0, 0.5]).unwrap();
        write(&store, &key("d.parquet"), &DEFAULTS, &df).await.unwrap();
        let file = Defaults::read(&store, &key("d.parquet")).await.unwrap();
        let err = file.columns().unwrap_err().to_string();
        assert!(err.contains("1 nulls in external_id"), "{err}");
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
    /// `seen` or `click` ([`crate::fetch::snowplow::widget::WidgetStep`]).
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
        let (df, key) = (&self.frame, &self.key);
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

    /// The file's frame (schema [`WIDGET_EVENTS`]).
    ///
    /// # Errors
    /// Polars errors (columns of different lengths).
    pub fn frame(&self) -> PolarsResult<DataFrame> {
        let times: Vec<Option<i64>> = self.time_ms.iter().copied().map(Some).collect();
        DataFrame::new(
            self.client_id.len(),
            vec![
                Column::new(col::CLIENT_ID.into(), &self.client_id),
                datetime_ms(col::ACTIVITY_TIME, &times)?,
                Column::new(col::PAGE_PATH.into(), &self.page_path),
                Column::new(col::STEP.into(), &self.step),
                Column::new(col::MODEL_ID.into(), &self.model_id),
                Column::new(col::MODEL_TYPE.into(), &self.model_type),
                Column::new(col::EXTERNAL_ID.into(), &self.external_id),
                Column::new(col::POSITION.into(), &self.position),
                Column::new(col::EVENT_ID.into(), &self.event_id),
            ],
        )
    }

    /// # Errors
    /// `Frame` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(
            store,
            key,
            &WIDGET_EVENTS,
            &self.frame().map_err(Error::frame(key))?,
        )
        .await
    }
}
