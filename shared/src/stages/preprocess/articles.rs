//! The article table: the kept articles with their metadata.

use std::collections::HashMap;

use crate::adapters::parquet::ArticleColumns;
use crate::contract::error::Result;
use crate::contract::layout::ObjectKey;
use crate::contract::site::ArticleKey;
use crate::contract::site::CatalogEntry;

/// The article table (schema `parquet::ARTICLES`) of the kept articles, in
/// their order. Metadata comes from the catalogue (cache, API or file); an
/// article missing there keeps the path it was seen on and no title or date.
///
/// # Errors
/// `Schema` errors (never: the columns are built alike).
pub fn article_table(
    kept: &[ArticleKey],
    catalog: &[CatalogEntry],
    key: &ObjectKey,
) -> Result<polars::prelude::DataFrame> {
    let by_id: HashMap<&str, &CatalogEntry> = catalog.iter().map(|e| (e.external_id.as_str(), e)).collect();
    let entries: Vec<Option<&&CatalogEntry>> =
        kept.iter().map(|k| by_id.get(k.external_id.as_str())).collect();
    let tags: Vec<Option<String>> = entries
        .iter()
        .map(|e| e.and_then(|e| CatalogEntry::tags_text(&e.tags)))
        .collect();
    ArticleColumns {
        external_id: kept.iter().map(|k| k.external_id.as_str()).collect(),
        path: kept
            .iter()
            .zip(&entries)
            .map(|(k, e)| {
                e.map(|e| e.path.as_str())
                    .filter(|p| !p.is_empty())
                    .or_else(|| (!k.path.is_empty()).then_some(k.path.as_str()))
            })
            .collect(),
        title: entries
            .iter()
            .map(|e| e.and_then(|e| e.title.as_deref()))
            .collect(),
        published_at_ms: entries
            .iter()
            .map(|e| e.and_then(|e| e.published_at).map(|t| t.timestamp_millis()))
            .collect(),
        exclude_reason: entries
            .iter()
            .map(|e| e.and_then(|e| e.exclude_reason.as_deref()))
            .collect(),
        excerpt: entries
            .iter()
            .map(|e| e.and_then(|e| e.excerpt.as_deref()))
            .collect(),
        section: entries
            .iter()
            .map(|e| e.and_then(|e| e.section.as_deref()))
            .collect(),
        tags: tags.iter().map(Option::as_deref).collect(),
    }
    .frame(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::parquet::Articles;

    #[test]
    fn metadata_from_the_catalogue_or_the_path_read() {
        let kept = [
            ArticleKey {
                external_id: "1".into(),
                path: "/article/1/new-slug".into(),
            },
            ArticleKey {
                external_id: "2".into(),
                path: "/article/2/two".into(),
            },
        ];
        let catalog = [CatalogEntry {
            external_id: "2".into(),
            path: "/article/2/two-canonical".into(),
            title: Some("Two".into()),
            published_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            exclude_reason: Some("sponsored".into()),
            excerpt: Some("Two things".into()),
            section: Some("News".into()),
            tags: vec!["Budget ".into(), "".into(), "D.C.\nCouncil".into()],
        }];
        let key = crate::contract::layout::ObjectKey::from_listing("x").unwrap();
        let file = Articles::from_frame(article_table(&kept, &catalog, &key).unwrap(), &key).unwrap();
        let t = file.columns().unwrap();
        let path: Vec<_> = t.path.iter().flatten().copied().collect();
        assert_eq!(path, ["/article/1/new-slug", "/article/2/two-canonical"]);
        let title: Vec<_> = t.title.clone();
        assert_eq!(title, [None, Some("Two")]);
        assert_eq!(t.published_at_ms.iter().filter(|p| p.is_none()).count(), 1);
        assert_eq!(t.exclude_reason.iter().filter(|p| p.is_none()).count(), 1);
        let tags: Vec<_> = t.tags.clone();
        // one tag per line, each cleaned to one line
        assert_eq!(tags, [None, Some("Budget\nD.C. Council")]);
        let tags = CatalogEntry::tags_of(tags[1]);
        assert_eq!(tags, ["Budget", "D.C. Council"]);
    }
}
