//! Metadata from a static catalogue file (`catalog/<site>/articles.jsonl` in the
//! store): for sites without an API, and for local runs.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::adapters::site::catalog_file;
use crate::contract::error::{Error, Result};
use crate::contract::layout;
use crate::contract::site::{ArticleKey, CatalogEntry, Lookup, Site};
use crate::contract::storage::BlobStore;

#[derive(Debug, Default)]
pub struct StaticCatalog {
    entries: HashMap<String, CatalogEntry>,
    /// Lines naming an id an earlier line named too (the last one is kept).
    duplicates: usize,
}

impl StaticCatalog {
    /// The catalogue of these entries; of entries with the same id, the
    /// last (a file appended to as articles change), the others counted.
    pub fn new(entries: Vec<CatalogEntry>) -> StaticCatalog {
        let n = entries.len();
        let entries: HashMap<String, CatalogEntry> =
            entries.into_iter().map(|e| (e.external_id.clone(), e)).collect();
        StaticCatalog {
            duplicates: n - entries.len(),
            entries,
        }
    }

    /// Entries whose id a later entry repeats (and replaces).
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// The site's catalogue from the store; a site without one has an empty
    /// catalogue (its articles simply have no titles or dates).
    ///
    /// # Errors
    /// Storage errors; `InvalidInput` naming the first bad line.
    pub async fn load(store: &dyn BlobStore, site: &str) -> Result<StaticCatalog> {
        let key = layout::catalog(site)?;
        match store.get(&key).await {
            Ok(bytes) => {
                let catalog = StaticCatalog::new(catalog_file::parse(&String::from_utf8_lossy(&bytes))?);
                if catalog.duplicates > 0 {
                    tracing::warn!(
                        %key,
                        duplicates = catalog.duplicates,
                        "catalogue lines repeat an earlier line's id: the last one of each id is kept"
                    );
                }
                Ok(catalog)
            }
            Err(Error::NotFound { .. }) => Ok(StaticCatalog::default()),
            Err(e) => Err(e),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[async_trait]
impl Site for StaticCatalog {
    fn source(&self) -> &str {
        "static catalogue"
    }

    async fn metadata(&self, articles: &[ArticleKey]) -> Vec<Lookup> {
        articles
            .iter()
            .map(|a| match self.entries.get(&a.external_id) {
                Some(e) => Lookup::Found(e.clone()),
                None => Lookup::Unknown { exclude_reason: None },
            })
            .collect()
    }

    async fn published(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> std::result::Result<Vec<CatalogEntry>, String> {
        let mut out: Vec<CatalogEntry> = self
            .entries
            .values()
            .filter(|e| e.published_at.is_some_and(|p| p >= since && p <= until))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn known_articles_have_metadata_and_unknown_ones_are_not_excluded() {
        let entry = CatalogEntry {
            external_id: "7".into(),
            path: "/article/7/seven".into(),
            title: Some("Seven".into()),
            published_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            ..CatalogEntry::default()
        };
        let cat = StaticCatalog::new(vec![entry.clone()]);
        assert_eq!(cat.duplicates(), 0);
        let twice = StaticCatalog::new(vec![
            entry.clone(),
            CatalogEntry::default(),
            entry.clone(),
            entry.clone(),
        ]);
        assert_eq!((twice.len(), twice.duplicates()), (2, 2));
        let key = |id: &str| ArticleKey {
            external_id: id.into(),
            path: format!("/article/{id}/x"),
        };
        assert_eq!(
            cat.metadata(&[key("7"), key("8")]).await,
            [Lookup::Found(entry), Lookup::Unknown { exclude_reason: None }]
        );
    }

    #[tokio::test]
    async fn the_window_lists_the_stories_published_in_it() {
        let at = |id: &str, t: Option<&str>| CatalogEntry {
            external_id: id.into(),
            path: format!("/article/{id}/x"),
            published_at: t.map(|t| t.parse().unwrap()),
            ..CatalogEntry::default()
        };
        let cat = StaticCatalog::new(vec![
            at("1", Some("2026-01-01T00:00:00Z")),
            at("2", Some("2026-01-02T00:00:00Z")),
            at("3", Some("2026-01-03T00:00:00Z")),
            at("4", None),
            at("5", Some("2026-01-03T00:00:00.001Z")),
        ]);
        let listed = cat
            .published(
                "2026-01-01T00:00:00Z".parse().unwrap(),
                "2026-01-03T00:00:00Z".parse().unwrap(),
            )
            .await
            .unwrap();
        let ids: Vec<&str> = listed.iter().map(|e| e.external_id.as_str()).collect();
        assert_eq!(
            ids,
            ["1", "2", "3"],
            "since and until included (a story of the run's minute), undated never"
        );
    }

    #[tokio::test]
    async fn a_missing_file_is_an_empty_catalogue_and_a_bad_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::adapters::storage::LocalDir::new(dir.path());
        assert!(StaticCatalog::load(&store, "s").await.unwrap().is_empty());
        store
            .put(
                &layout::catalog("s").unwrap(),
                bytes::Bytes::from_static(b"{\"external_id\": 1}\n"),
            )
            .await
            .unwrap();
        let err = StaticCatalog::load(&store, "s").await.unwrap_err();
        assert!(err.to_string().contains("catalogue line 1"), "{err}");
    }
}
