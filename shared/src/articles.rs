//! Preprocessing's article side: which events are on articles, and the article
//! table (ids, canonical paths, metadata from the catalogue).

use std::collections::HashMap;

use polars::prelude::*;

use crate::catalog::CatalogEntry;
use crate::parquet::{col, ColType};
use crate::site::{ArticleKey, Site};

/// Keeps events on article pages, adding `external_id` and the canonical `path`.
/// Output columns: `client_id`, `external_id`, `path`, `activity_time`.
///
/// # Errors
/// Polars errors (missing columns).
pub fn article_events(events: &DataFrame, site: &dyn Site) -> PolarsResult<DataFrame> {
    let paths = events.column(col::PAGE_PATH)?.str()?;
    let mut ids: Vec<Option<&str>> = Vec::with_capacity(paths.len());
    let mut canon: Vec<Option<&str>> = Vec::with_capacity(paths.len());
    for p in paths.iter() {
        match p.and_then(|p| site.article_of(p)) {
            Some(a) => {
                ids.push(Some(a.external_id));
                canon.push(Some(a.canonical_path));
            }
            None => {
                ids.push(None);
                canon.push(None);
            }
        }
    }
    let mut df = events.select([col::CLIENT_ID, col::ACTIVITY_TIME])?;
    df.with_column(Column::new(col::EXTERNAL_ID.into(), ids))?;
    df.with_column(Column::new(col::PATH.into(), canon))?;
    df.lazy()
        .filter(col(col::EXTERNAL_ID).is_not_null())
        .select([
            col(col::CLIENT_ID),
            col(col::EXTERNAL_ID),
            col(col::PATH),
            col(col::ACTIVITY_TIME),
        ])
        .collect()
}

/// The articles among `kept_ids` with the canonical path most of their events
/// were on, sorted by id: what metadata is looked up for.
///
/// # Errors
/// Polars errors (missing columns).
pub fn kept_articles(article_events: &DataFrame, kept_ids: &[String]) -> PolarsResult<Vec<ArticleKey>> {
    let mut seen_path = most_seen_paths(article_events)?;
    let mut ids = kept_ids.to_vec();
    ids.sort();
    ids.dedup();
    Ok(ids
        .into_iter()
        .map(|id| ArticleKey {
            path: seen_path.remove(&id).unwrap_or_default(),
            external_id: id,
        })
        .collect())
}

/// The article table (schema `parquet::ARTICLES`) of the kept articles, in
/// their order. Metadata comes from the catalogue (cache, API or file); an
/// article missing there keeps the path it was seen on and no title or date.
///
/// # Errors
/// Polars errors.
pub fn article_table(kept: &[ArticleKey], catalog: &[CatalogEntry]) -> PolarsResult<DataFrame> {
    let by_id: HashMap<&str, &CatalogEntry> = catalog.iter().map(|e| (e.external_id.as_str(), e)).collect();
    let n = kept.len();
    let mut ids = Vec::with_capacity(n);
    let mut path = Vec::with_capacity(n);
    let mut title = Vec::with_capacity(n);
    let mut published = Vec::with_capacity(n);
    let mut exclude = Vec::with_capacity(n);
    for k in kept {
        let entry = by_id.get(k.external_id.as_str());
        ids.push(k.external_id.clone());
        path.push(
            entry
                .map(|e| e.path.clone())
                .filter(|p| !p.is_empty())
                .or_else(|| (!k.path.is_empty()).then(|| k.path.clone())),
        );
        title.push(entry.and_then(|e| e.title.clone()));
        published.push(entry.and_then(|e| e.published_at).map(|t| t.timestamp_millis()));
        exclude.push(entry.and_then(|e| e.exclude_reason.clone()));
    }
    DataFrame::new(
        n,
        vec![
            Column::new(col::EXTERNAL_ID.into(), ids),
            Column::new(col::PATH.into(), path),
            Column::new(col::TITLE.into(), title),
            Series::new(col::PUBLISHED_AT.into(), published)
                .cast(&ColType::DatetimeMs.dtype())?
                .into(),
            Column::new(col::EXCLUDE_REASON.into(), exclude),
        ],
    )
}

/// For each article, the canonical path most of its events were on (ties: the
/// smaller path), so a renamed slug does not split or flip the article.
fn most_seen_paths(article_events: &DataFrame) -> PolarsResult<HashMap<String, String>> {
    let counted = article_events
        .clone()
        .lazy()
        .group_by([col(col::EXTERNAL_ID), col(col::PATH)])
        .agg([len().alias("n")])
        .sort(
            [col::EXTERNAL_ID, "n", col::PATH],
            SortMultipleOptions::default().with_order_descending_multi([false, true, false]),
        )
        .collect()?;
    let ids = counted.column(col::EXTERNAL_ID)?.str()?;
    let paths = counted.column(col::PATH)?.str()?;
    let mut out = HashMap::new();
    for (id, p) in ids.iter().zip(paths.iter()) {
        if let (Some(id), Some(p)) = (id, p) {
            out.entry(id.to_string()).or_insert_with(|| p.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::StaticCatalog;

    fn events(paths: &[&str]) -> DataFrame {
        let n = paths.len();
        let mut df = df!(
            col::CLIENT_ID => vec!["r"; n],
            col::ACTIVITY_TIME => (0..n as i64).collect::<Vec<_>>(),
            col::PAGE_PATH => paths.to_vec()
        )
        .unwrap();
        df.apply(col::ACTIVITY_TIME, |c| {
            c.cast(&ColType::DatetimeMs.dtype()).unwrap()
        })
        .unwrap();
        df
    }

    #[test]
    fn keeps_article_paths_and_maps_amp_viewer_paths() {
        let df = article_events(
            &events(&[
                "/",
                "/article/12/a-story",
                "/v/s/site.example/article/12/a-story",
                "/section/news",
                "/article/newsletter/x",
            ]),
            &StaticCatalog::default(),
        )
        .unwrap();
        let ids: Vec<_> = df
            .column(col::EXTERNAL_ID)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(ids, ["12", "12"]);
        let paths: Vec<_> = df
            .column(col::PATH)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(paths, ["/article/12/a-story", "/article/12/a-story"]);
    }

    #[test]
    fn metadata_from_the_catalogue_or_the_most_seen_path() {
        let ev = article_events(
            &events(&[
                "/article/1/old-slug",
                "/article/1/new-slug",
                "/article/1/new-slug",
                "/article/2/two",
            ]),
            &StaticCatalog::default(),
        )
        .unwrap();
        let catalog = [CatalogEntry {
            external_id: "2".into(),
            path: "/article/2/two".into(),
            title: Some("Two".into()),
            published_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            exclude_reason: Some("sponsored".into()),
        }];
        let kept = kept_articles(&ev, &["2".into(), "1".into()]).unwrap();
        assert_eq!(
            kept.iter().map(|k| k.path.as_str()).collect::<Vec<_>>(),
            ["/article/1/new-slug", "/article/2/two"],
            "sorted by id, each on its most-read path"
        );
        let t = article_table(&kept, &catalog).unwrap();
        let t = crate::parquet::ARTICLES
            .conform(&crate::layout::ObjectKey::from_listing("x").unwrap(), &t)
            .unwrap();
        let path: Vec<_> = t
            .column(col::PATH)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect();
        assert_eq!(path, ["/article/1/new-slug", "/article/2/two"]);
        let title: Vec<_> = t.column(col::TITLE).unwrap().str().unwrap().iter().collect();
        assert_eq!(title, [None, Some("Two")]);
        assert_eq!(t.column(col::PUBLISHED_AT).unwrap().null_count(), 1);
        assert_eq!(t.column(col::EXCLUDE_REASON).unwrap().null_count(), 1);
    }
}
