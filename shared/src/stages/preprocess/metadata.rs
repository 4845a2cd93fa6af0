//! The metadata cache: article metadata kept in the database, asked of the
//! site only for articles that are new, undated or published within the last
//! day; a successful answer replaces what was stored.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::warn;

use crate::context::Context;
use crate::contract::database::ArticleRow;
use crate::contract::error::Result;
use crate::contract::site::{ArticleKey, CatalogEntry, Lookup, Site};
use crate::contract::stage::MetadataCounts;

/// Cached metadata of articles published more recently than this is looked
/// up again: headlines and dates still change in a story's first day.
const FRESH_FOR: TimeDelta = TimeDelta::days(1);

/// Whether an article's cached metadata must be looked up again: never
/// looked up, no publish time yet, or published within the last day.
pub(super) fn needs_refresh(cached: Option<&ArticleRow>, as_of: DateTime<Utc>) -> bool {
    match cached {
        None => true,
        Some(row) => row.published_at.is_none_or(|p| p > as_of - FRESH_FOR),
    }
}

/// Metadata of the kept articles: from the database where it is settled, from
/// the site for the rest (which then goes into the database).
pub(super) async fn article_metadata(
    ctx: &Context,
    site: &dyn Site,
    site_name: &str,
    kept: &[ArticleKey],
    as_of: DateTime<Utc>,
) -> Result<(Vec<CatalogEntry>, MetadataCounts)> {
    let ids: Vec<String> = kept.iter().map(|k| k.external_id.clone()).collect();
    let cached: HashMap<String, ArticleRow> = ctx
        .db()?
        .articles(site_name, &ids)
        .await?
        .into_iter()
        .map(|r| (r.external_id.clone(), r))
        .collect();
    let stale: Vec<ArticleKey> = kept
        .iter()
        .filter(|k| needs_refresh(cached.get(&k.external_id), as_of))
        .cloned()
        .collect();
    let mut counts = MetadataCounts {
        cached: (kept.len() - stale.len()) as u64,
        looked_up: stale.len() as u64,
        ..MetadataCounts::default()
    };
    let lookups = if stale.is_empty() {
        Vec::new()
    } else {
        site.metadata(&stale).await
    };
    let mut fresh = Vec::with_capacity(stale.len());
    for (k, lookup) in stale.iter().zip(lookups) {
        match lookup {
            Lookup::Found(e) => {
                counts.found += 1;
                let (e, cut) = e.bounded();
                if cut {
                    warn!(article = %k.external_id, source = site.source(), "metadata text cut to what is kept");
                }
                fresh.push(ArticleRow {
                    external_id: k.external_id.clone(),
                    title: e.title,
                    path: Some(e.path)
                        .filter(|p| !p.is_empty())
                        .or_else(|| Some(k.path.clone())),
                    published_at: e.published_at,
                    exclude_reason: e.exclude_reason,
                    excerpt: e.excerpt,
                    section: e.section,
                    tags: CatalogEntry::tags_text(&e.tags),
                });
            }
            Lookup::Unknown { exclude_reason } => {
                counts.unknown += 1;
                fresh.push(ArticleRow {
                    external_id: k.external_id.clone(),
                    title: None,
                    path: Some(k.path.clone()),
                    published_at: None,
                    exclude_reason,
                    ..ArticleRow::default()
                });
            }
            Lookup::Failed(why) => {
                counts.failed += 1;
                warn!(article = %k.external_id, source = site.source(), error = %why, "no metadata this run");
            }
        }
    }
    counts.excluded = fresh.iter().filter(|r| r.exclude_reason.is_some()).count() as u64;
    if !fresh.is_empty() {
        // answers replace what was stored: a later answer always wins
        ctx.db()?.replace_metadata(site_name, &fresh).await?;
    }
    let mut merged: HashMap<String, ArticleRow> = cached;
    for row in fresh {
        merged.insert(row.external_id.clone(), row);
    }
    let catalog = merged
        .into_values()
        .map(|r| CatalogEntry {
            external_id: r.external_id,
            path: r.path.unwrap_or_default(),
            title: r.title,
            published_at: r.published_at,
            exclude_reason: r.exclude_reason,
            excerpt: r.excerpt,
            section: r.section,
            tags: CatalogEntry::tags_of(r.tags.as_deref()),
        })
        .collect();
    Ok((catalog, counts))
}
