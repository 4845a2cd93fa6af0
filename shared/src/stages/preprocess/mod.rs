//! Preprocess: the window's hour partitions (`partials.json`: each hour's
//! reading sessions, merged into dwell per reader x article, see [`merge`]) +
//! the site's catalogue → `articles.parquet` and `dwell.parquet` for the
//! 2-core of readers and articles; reports the funnel. Memory holds the
//! window's sessions (about its reader x article pairs), never its events.
//! `articles.parquet` also holds the stories the site lists as published in
//! the window that no kept reader read: the candidate window, so a story
//! published minutes before the run gets a list and can be recommended.

pub mod articles;
pub mod dwell;
pub mod kcore;
pub mod merge;
mod metadata;
pub mod online;
#[cfg(test)]
mod tests;
pub mod transform;

use tracing::{info, instrument, warn};

use self::metadata::article_metadata;
use self::transform::transform;
use crate::adapters::parquet::{self, Duplicates, HourPairs, HourPaths};
use crate::context::Context;
use crate::contract::checked_store::CheckedStore;
use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::layout::RunLayout;
use crate::contract::partials::WindowPartials;
use crate::contract::site::{ArticleKey, CatalogEntry};
use crate::contract::stage::{MetadataCounts, PreprocessInput, PreprocessOutput};
use crate::stages::preprocess::articles::article_table;
use crate::stages::preprocess::merge::{Merged, Merger};

/// The listed stories no kept reader read, in id order, counted in `counts`.
fn unread_stories(
    kept: &[ArticleKey],
    mut listed: Vec<CatalogEntry>,
    counts: &mut MetadataCounts,
) -> Vec<CatalogEntry> {
    counts.listed = listed.len() as u64;
    let read: std::collections::HashSet<&str> = kept.iter().map(|k| k.external_id.as_str()).collect();
    listed.retain(|e| !read.contains(e.external_id.as_str()));
    let mut listed: Vec<CatalogEntry> = listed.into_iter().map(|e| e.bounded().0).collect();
    listed.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    listed.dedup_by(|a, b| a.external_id == b.external_id);
    counts.unread = listed.len() as u64;
    listed
}

/// Hour partitions read at a time (their files are fetched while the
/// merge adds the ones before).
const READ_AHEAD: usize = 8;

/// The window's partitions as fetch listed them.
///
/// # Errors
/// Storage errors; `Corrupt` when it is not the file fetch wrote.
async fn window_partials(
    store: &dyn crate::contract::storage::BlobStore,
    layout: &RunLayout,
) -> Result<WindowPartials> {
    let key = layout.partials();
    let body = store.get(&key).await?;
    serde_json::from_slice(&body).map_err(|e| Error::Corrupt {
        key: key.to_string(),
        why: format!("it is not the window's partitions: {e}"),
    })
}

/// Merges the window's partitions, each file checked against its digest,
/// with the duplicates fetch found taken back out.
///
/// # Errors
/// Storage, `Corrupt` and `Schema` errors naming the file.
async fn merged(ctx: &Context, partials: &WindowPartials, duplicates: &Duplicates) -> Result<Merged> {
    let window = partials.window;
    use futures::{StreamExt, TryStreamExt};
    let d = duplicates.columns()?;
    let mut taken_out: std::collections::HashMap<i64, Vec<u32>> = std::collections::HashMap::new();
    for (h, r) in d.hour_ms.iter().zip(&d.pair_row) {
        taken_out.entry(*h).or_default().push(*r);
    }
    let cap_ms = (ctx.settings.dwell_cap_secs * 1000.0).round() as i64;
    let mut merger = Merger::new(cap_ms);
    let read = |h: crate::contract::partials::HourPartial,
                inner: std::sync::Arc<dyn crate::contract::storage::BlobStore>| async move {
        let pairs_key = ObjectKey::from_listing(&h.pairs_key)?;
        let paths_key = ObjectKey::from_listing(&h.paths_key)?;
        let store = CheckedStore::new(inner, h.files.clone(), vec![pairs_key.folder()]);
        let pairs = HourPairs::read(&store, &pairs_key).await?;
        let paths = HourPaths::read(&store, &paths_key).await?;
        Ok::<_, Error>((h, pairs, paths))
    };
    let mut hours = futures::stream::iter(partials.hours.iter().cloned())
        .map(|h| read(h, ctx.store.clone()))
        .buffered(READ_AHEAD);
    while let Some((h, pairs, paths)) = hours.try_next().await? {
        let none = Vec::new();
        let out = taken_out.get(&h.hour.timestamp_millis()).unwrap_or(&none);
        merger.add_hour(&pairs.columns()?, &paths.columns()?, out, |b| {
            window.includes_bucket(b, h.filling)
        });
    }
    Ok(merger.finish())
}

/// # Errors
/// `Empty` when no reader x article pair survives filtering; storage, Parquet,
/// catalogue and database errors. A failing metadata lookup is not an error:
/// the article is counted and goes on without metadata.
#[instrument(skip_all, fields(stage = "preprocess", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: PreprocessInput, ctx: &Context) -> Result<PreprocessOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let store = ctx.checked_store(&layout, &[&input.fetch.files]);
    let partials = window_partials(&store, &layout).await?;
    let duplicates = Duplicates::read(&store, &layout.duplicates()).await?;
    let site = ctx.site().await?;
    let key = layout.dwell();
    let online = if input.fetch.widget_events_key.is_some() {
        self::online::load::online_evaluation(ctx, &store, run, &partials, site.as_ref()).await?
    } else {
        warn!("fetch kept no widget events (a run from before it did): no online evaluation");
        None
    };
    let merged = merged(ctx, &partials, &duplicates).await?;
    drop(partials);
    let (events, k2) = (input.fetch.counts.kept, key.clone());
    let prepared = crate::contract::tasks::blocking(move || transform(merged, events, &k2)).await??;
    let funnel = prepared.funnel;
    if funnel.pairs == 0 {
        return Err(Error::Empty {
            stage: "preprocess",
            what: "no reader x article pairs left after the 2-core filter".into(),
        });
    }
    let (mut catalog, mut metadata) =
        article_metadata(ctx, site.as_ref(), &run.site, &prepared.kept, run.as_of).await?;
    // the stories published in the events' own window are the candidates
    let window = run.window(ctx.settings.days_of_data);
    let mut articles = prepared.kept.clone();
    match site.published(window.start, window.end).await {
        Ok(listed) => {
            let unread = unread_stories(&prepared.kept, listed, &mut metadata);
            articles.extend(unread.iter().map(|e| ArticleKey {
                external_id: e.external_id.clone(),
                path: e.path.clone(),
            }));
            catalog.extend(unread);
        }
        Err(why) => {
            metadata.listing_failed = 1;
            warn!(source = site.source(), error = %why, "no listing of the window's stories this run: only the articles read are candidates");
        }
    }
    let articles_table = article_table(&articles, &catalog, &layout.articles())?;
    let db = ctx.db()?;
    let current_article_model = match db
        .current_model(&run.site, crate::contract::database::ModelType::Article)
        .await?
    {
        Some(m) => Some(crate::contract::stage::CurrentModel {
            evaluation_digest: db
                .evaluation_digest(m.id)
                .await?
                .map(crate::contract::integrity::Digest::from_stored),
            id: m.id,
            run_id: m.run_id,
        }),
        None => None,
    };
    let mut dwell = prepared.dwell;
    let mut articles_table = articles_table;
    parquet::write(&store, &key, parquet::Dwell::SCHEMA, &mut dwell).await?;
    parquet::write(
        &store,
        &layout.articles(),
        parquet::Articles::SCHEMA,
        &mut articles_table,
    )
    .await?;
    info!(?funnel, ?metadata, source = site.source(), "preprocess done");
    ctx.counts(
        "preprocess",
        &[
            ("readers", funnel.readers),
            ("articles", funnel.articles),
            ("pairs", funnel.pairs),
            ("metadata_looked_up", metadata.looked_up),
            ("metadata_failed", metadata.failed),
            ("unread_candidates", metadata.unread),
            ("listing_failed", metadata.listing_failed),
        ],
    );
    Ok(PreprocessOutput {
        articles_key: layout.articles().to_string(),
        dwell_key: key.to_string(),
        files: store.written(),
        funnel,
        metadata,
        current_article_model,
        online_key: online.map(|_| layout.online().to_string()),
    })
}
