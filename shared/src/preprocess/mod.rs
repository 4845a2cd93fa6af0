//! Preprocess: `events.parquet` + the site's catalogue → `articles.parquet` and
//! `dwell.parquet` for the 2-core of readers and articles; reports the funnel.
//! `articles.parquet` also holds the stories the site lists as published in
//! the window that no kept reader read: the candidate window, so a story
//! published minutes before the run gets a list and can be recommended.

pub mod articles;
pub mod dwell;
pub mod kcore;
mod metadata;
pub mod online;
#[cfg(test)]
mod tests;
pub mod transform;

use std::sync::Arc;

use tracing::{info, instrument, warn};

use self::metadata::article_metadata;
use self::transform::transform;
use crate::adapters::site::{self};
use crate::contract::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::layout::RunLayout;
use crate::contract::parquet::{self, col, EVENTS};
use crate::contract::site::{ArticleKey, CatalogEntry, Site};
use crate::contract::stage::{MetadataCounts, PreprocessInput, PreprocessOutput};
use crate::preprocess::articles::article_table;

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

/// The columns of `events.parquet` preprocessing reads; event ids and the
/// rest are fetch's business and are not decoded.
pub const EVENT_COLUMNS: [&str; 3] = [col::CLIENT_ID, col::ACTIVITY_TIME, col::PAGE_PATH];

/// # Errors
/// `Empty` when no reader x article pair survives filtering; storage, Parquet,
/// catalogue and database errors. A failing metadata lookup is not an error:
/// the article is counted and goes on without metadata.
#[instrument(skip_all, fields(stage = "preprocess", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: PreprocessInput, ctx: &Context) -> Result<PreprocessOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let store = ctx.checked_store(&layout, &[&input.fetch.files]);
    let events = parquet::read_columns(&store, &layout.events(), &EVENTS, &EVENT_COLUMNS).await?;
    let site = site::open(&ctx.settings, ctx.store.as_ref()).await?;
    let cap = ctx.settings.dwell_cap_secs;
    let key = layout.dwell();
    let k2 = key.clone();
    let online = if input.fetch.widget_events_key.is_some() {
        self::online::load::online_evaluation(ctx, &store, run, &events, site.as_ref()).await?
    } else {
        warn!("fetch kept no widget events (a run from before it did): no online evaluation");
        None
    };
    let rule: Arc<dyn Site> = site.clone();
    let prepared =
        crate::contract::tasks::blocking(move || transform(&events, rule.as_ref(), cap, &k2)).await??;
    let funnel = prepared.funnel;
    if funnel.pairs == 0 {
        return Err(Error::Empty {
            stage: "preprocess",
            what: "no reader x article pairs left after the 2-core filter".into(),
        });
    }
    let (mut catalog, mut metadata) =
        article_metadata(ctx, site.as_ref(), &run.site, &prepared.kept, run.as_of).await?;
    let since = run.as_of - chrono::TimeDelta::days(i64::from(ctx.settings.days_of_data));
    let mut articles = prepared.kept.clone();
    match site.published(since, run.as_of).await {
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
    parquet::write(&store, &key, &prepared.dwell).await?;
    parquet::write(&store, &layout.articles(), &articles_table).await?;
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
