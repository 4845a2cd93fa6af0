//! The run's files, typed: one struct of columns per file, read (schema and
//! nulls checked, naming the object) and written by one function each. A
//! stage reads `Dwell::read(...)` and works on its columns; nothing else
//! unpacks a file by hand.
//!
//! A file holds its table; the columns borrow from it (`columns()`), so a
//! read copies no string.

use super::table::{
    datetime_ms_array, opt_datetime_ms_array, opt_str_array, opt_values_array, str_array, values_array, Table,
};
use super::{
    col, read, read_columns, write, FileSchema, ARTICLES, ARTICLE_RECS, DEFAULTS, DWELL, FACTORS,
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

/// A stored file of one schema, its columns typed by `C`.
macro_rules! file {
    ($(#[$doc:meta])* $file:ident, $schema:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $file {
            table: Table,
        }

        impl $file {
            pub const SCHEMA: &'static FileSchema = &$schema;

            /// # Errors
            /// `NotFound`, `Parquet` or `Schema` errors naming the key.
            pub async fn read(store: &dyn BlobStore, key: &ObjectKey) -> Result<$file> {
                Ok($file {
                    table: read(store, key, Self::SCHEMA).await?,
                })
            }

            /// A table made here, as if read from its key.
            ///
            /// # Errors
            /// `Schema` when the table is of another schema or lacks columns.
            pub fn from_table(table: Table) -> Result<$file> {
                table.check_whole_of(Self::SCHEMA, table.key())?;
                Ok($file { table })
            }

            /// The file's table.
            pub fn table(&self) -> &Table {
                &self.table
            }

            /// Rows in the file.
            pub fn len(&self) -> usize {
                self.table.len()
            }

            pub fn is_empty(&self) -> bool {
                self.table.is_empty()
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
        let (t, key) = (&self.table, self.table.key());
        let events = t.u32s(col::EVENTS)?;
        Ok(DwellColumns {
            client_id: required(key, col::CLIENT_ID, t.strs(col::CLIENT_ID)?)?,
            external_id: required(key, col::EXTERNAL_ID, t.strs(col::EXTERNAL_ID)?)?,
            dwell_secs: required(key, col::DWELL_SECS, t.f64s(col::DWELL_SECS)?)?,
            events: required(key, col::EVENTS, events)?,
            first_seen_ms: required(key, col::FIRST_SEEN, t.i64s(col::FIRST_SEEN)?)?,
            last_seen_ms: required(key, col::LAST_SEEN, t.i64s(col::LAST_SEEN)?)?,
        })
    }

    /// Only the dwell seconds, without decoding the other columns.
    ///
    /// # Errors
    /// `NotFound`, `Parquet` or `Schema` errors naming the key.
    pub async fn read_seconds(store: &dyn BlobStore, key: &ObjectKey) -> Result<Vec<f64>> {
        let t = read_columns(store, key, &DWELL, &[col::DWELL_SECS]).await?;
        required(key, col::DWELL_SECS, t.f64s(col::DWELL_SECS)?)
    }
}

impl DwellColumns<'_> {
    /// The file's table (schema [`DWELL`]), as if read from `key`.
    ///
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn table(&self, key: &ObjectKey) -> Result<Table> {
        Table::new(
            &DWELL,
            key,
            vec![
                str_array(&self.client_id),
                str_array(&self.external_id),
                values_array(self.dwell_secs.clone()),
                values_array(self.events.clone()),
                datetime_ms_array(self.first_seen_ms.clone()),
                datetime_ms_array(self.last_seen_ms.clone()),
            ],
        )
    }

    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &self.table(key)?).await
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
        let (t, key) = (&self.table, self.table.key());
        Ok(ArticleColumns {
            external_id: required(key, col::EXTERNAL_ID, t.strs(col::EXTERNAL_ID)?)?,
            path: t.strs(col::PATH)?,
            title: t.strs(col::TITLE)?,
            published_at_ms: t.i64s(col::PUBLISHED_AT)?,
            exclude_reason: t.strs(col::EXCLUDE_REASON)?,
            excerpt: t.strs(col::EXCERPT)?,
            section: t.strs(col::SECTION)?,
            tags: t.strs(col::TAGS)?,
        })
    }
}

impl ArticleColumns<'_> {
    /// The file's table (schema [`ARTICLES`]), as if read from `key`.
    ///
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn table(&self, key: &ObjectKey) -> Result<Table> {
        Table::new(
            &ARTICLES,
            key,
            vec![
                str_array(&self.external_id),
                opt_str_array(&self.path),
                opt_str_array(&self.title),
                opt_datetime_ms_array(&self.published_at_ms),
                opt_str_array(&self.exclude_reason),
                opt_str_array(&self.excerpt),
                opt_str_array(&self.section),
                opt_str_array(&self.tags),
            ],
        )
    }

    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &self.table(key)?).await
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
        let (t, key) = (&self.table, self.table.key());
        Ok(DefaultColumns {
            external_id: required(key, col::EXTERNAL_ID, t.strs(col::EXTERNAL_ID)?)?,
            score: required(key, col::SCORE, t.f64s(col::SCORE)?)?,
        })
    }
}

impl DefaultColumns<'_> {
    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let table = Table::new(
            &DEFAULTS,
            key,
            vec![str_array(&self.external_id), values_array(self.score.clone())],
        )?;
        write(store, key, &table).await
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
        let (t, key) = (&self.table, self.table.key());
        Ok(ArticleRecColumns {
            source_external_id: required(key, col::SOURCE_EXTERNAL_ID, t.strs(col::SOURCE_EXTERNAL_ID)?)?,
            external_id: required(key, col::EXTERNAL_ID, t.strs(col::EXTERNAL_ID)?)?,
            score: required(key, col::SCORE, t.f64s(col::SCORE)?)?,
        })
    }
}

impl ArticleRecColumns<'_> {
    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let table = Table::new(
            &ARTICLE_RECS,
            key,
            vec![
                str_array(&self.source_external_id),
                str_array(&self.external_id),
                values_array(self.score.clone()),
            ],
        )?;
        write(store, key, &table).await
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
        let (t, key) = (&self.table, self.table.key());
        let (values, k) = t.f32_rows(col::FACTORS)?;
        Ok(FactorColumns {
            external_id: required(key, col::EXTERNAL_ID, t.strs(col::EXTERNAL_ID)?)?,
            values,
            k,
        })
    }
}

impl FactorColumns<'_> {
    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let table = Table::new(
            &FACTORS,
            key,
            vec![
                str_array(&self.external_id),
                super::table::f32_rows_array(&self.values, self.k)?,
            ],
        )?;
        write(store, key, &table).await
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
        let df = Table::new(
            &DEFAULTS,
            &key("d.parquet"),
            vec![opt_str_array(&[Some("a"), None]), values_array(vec![1.0, 0.5])],
        )
        .unwrap();
        write(&store, &key("d.parquet"), &df).await.unwrap();
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
        let (t, key) = (&self.table, self.table.key());
        let step = required(key, col::STEP, t.strs(col::STEP)?)?;
        if let Some(bad) = step.iter().find(|s| !matches!(**s, "seen" | "click")) {
            return Err(Error::Schema {
                key: key.to_string(),
                expected: format!("{} of seen or click", col::STEP),
                found: format!("{bad:?}"),
            });
        }
        Ok(WidgetEventColumns {
            client_id: required(key, col::CLIENT_ID, t.strs(col::CLIENT_ID)?)?,
            time_ms: required(key, col::ACTIVITY_TIME, t.i64s(col::ACTIVITY_TIME)?)?,
            page_path: required(key, col::PAGE_PATH, t.strs(col::PAGE_PATH)?)?,
            step,
            model_id: required(key, col::MODEL_ID, t.strs(col::MODEL_ID)?)?,
            model_type: required(key, col::MODEL_TYPE, t.strs(col::MODEL_TYPE)?)?,
            external_id: t.strs(col::EXTERNAL_ID)?,
            position: t.u32s(col::POSITION)?,
            event_id: required(key, col::EVENT_ID, t.strs(col::EVENT_ID)?)?,
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

    /// The file's table (schema [`WIDGET_EVENTS`]), as if read from `key`.
    ///
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn table(&self, key: &ObjectKey) -> Result<Table> {
        Table::new(
            &WIDGET_EVENTS,
            key,
            vec![
                str_array(&self.client_id),
                datetime_ms_array(self.time_ms.clone()),
                str_array(&self.page_path),
                str_array(&self.step),
                str_array(&self.model_id),
                str_array(&self.model_type),
                opt_str_array(&self.external_id),
                opt_values_array(&self.position),
                str_array(&self.event_id),
            ],
        )
    }

    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        write(store, key, &self.table(key)?).await
    }
}
