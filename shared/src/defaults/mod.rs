//! Defaults: `dwell.parquet` + `articles.parquet` → `defaults.parquet`, the
//! ranked default recommendations for readers we know nothing about.

use std::collections::HashMap;

use polars::prelude::*;
use tracing::{info, instrument};

use crate::contract::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::layout::RunLayout;
use crate::contract::metrics::Unit;
use crate::contract::parquet::{self, col, i64s, strs, ARTICLES, DEFAULTS, DWELL};
use crate::contract::stage::{DefaultsInput, DefaultsOutput};
use crate::recommend::popularity::{rank, DefaultsParams, Interaction, RECENT_INTERACTIONS};

/// # Errors
/// Storage and frame errors.
#[instrument(skip_all, fields(stage = "defaults", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: DefaultsInput, ctx: &Context) -> Result<DefaultsOutput> {
    let layout = RunLayout::new(&input.run)?;
    let dwell = parquet::read(ctx.store.as_ref(), &layout.dwell(), &DWELL).await?;
    let articles = parquet::read(ctx.store.as_ref(), &layout.articles(), &ARTICLES).await?;
    let params = DefaultsParams {
        recent_interactions: RECENT_INTERACTIONS,
        half_life_days: ctx.settings.defaults_half_life_days,
        max_recs: ctx.settings.max_recs,
        as_of_ms: input.run.as_of.timestamp_millis(),
    };
    let key = layout.defaults();
    let ranked = compute(&dwell, &articles, &params).map_err(Error::frame(&key))?;
    let (ids, scores): (Vec<String>, Vec<f64>) = ranked.into_iter().unzip();
    let count = ids.len() as u64;
    let df = DataFrame::new(
        ids.len(),
        vec![
            Column::new(col::EXTERNAL_ID.into(), ids),
            Column::new(col::SCORE.into(), scores),
        ],
    )
    .map_err(Error::frame(&key))?;
    parquet::write(ctx.store.as_ref(), &key, &DEFAULTS, &df).await?;
    info!(count, "defaults done");
    ctx.metric("defaults", "default_recs", count as f64, Unit::Count);
    Ok(DefaultsOutput {
        defaults_key: key.to_string(),
        count,
    })
}

fn compute(
    dwell: &DataFrame,
    articles: &DataFrame,
    params: &DefaultsParams,
) -> PolarsResult<Vec<(String, f64)>> {
    let clients = strs(dwell, col::CLIENT_ID)?;
    let ids = strs(dwell, col::EXTERNAL_ID)?;
    let secs = parquet::f64s(dwell, col::DWELL_SECS)?;
    let seen = i64s(dwell, col::LAST_SEEN)?;
    let interactions: Vec<Interaction<'_>> = (0..dwell.height())
        .filter_map(|i| {
            Some(Interaction {
                client_id: clients[i]?,
                external_id: ids[i]?,
                dwell_secs: secs[i]?,
                last_seen_ms: seen[i]?,
            })
        })
        .collect();
    let art_ids = strs(articles, col::EXTERNAL_ID)?;
    let published = i64s(articles, col::PUBLISHED_AT)?;
    let excluded = strs(articles, col::EXCLUDE_REASON)?;
    let published_ms: HashMap<&str, i64> = art_ids
        .iter()
        .zip(&published)
        .filter_map(|(id, p)| Some(((*id)?, (*p)?)))
        .collect();
    let excluded_ids: std::collections::HashSet<&str> = art_ids
        .iter()
        .zip(&excluded)
        .filter_map(|(id, e)| e.and(*id))
        .collect();
    let eligible: Vec<Interaction<'_>> = interactions
        .into_iter()
        .filter(|i| !excluded_ids.contains(i.external_id))
        .collect();
    Ok(rank(&eligible, &published_ms, params))
}
