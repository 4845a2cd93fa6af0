//! Defaults: `dwell.parquet` + `articles.parquet` → `defaults.parquet`, the
//! ranked default recommendations for readers we know nothing about.

use std::collections::{HashMap, HashSet};

use tracing::{info, instrument};

use crate::contract::context::Context;
use crate::contract::error::Result;
use crate::contract::layout::RunLayout;
use crate::contract::parquet::{ArticleColumns, Articles, DefaultColumns, Dwell, DwellColumns};
use crate::contract::stage::{DefaultsInput, DefaultsOutput};
use crate::recommend::popularity::{rank, DefaultsParams, Interaction, RECENT_INTERACTIONS};

/// # Errors
/// Storage and frame errors.
#[instrument(skip_all, fields(stage = "defaults", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: DefaultsInput, ctx: &Context) -> Result<DefaultsOutput> {
    let layout = RunLayout::new(&input.run)?;
    let dwell = Dwell::read(ctx.store.as_ref(), &layout.dwell()).await?;
    let articles = Articles::read(ctx.store.as_ref(), &layout.articles()).await?;
    let params = DefaultsParams {
        recent_interactions: RECENT_INTERACTIONS,
        half_life_days: ctx.settings.defaults_half_life_days,
        max_recs: ctx.settings.max_recs,
        as_of_ms: input.run.as_of.timestamp_millis(),
    };
    let ranked = compute(&dwell.columns()?, &articles.columns()?, &params);
    let key = layout.defaults();
    let out = DefaultColumns {
        external_id: ranked.iter().map(|(id, _)| id.as_str()).collect(),
        score: ranked.iter().map(|(_, s)| *s).collect(),
    };
    out.write(ctx.store.as_ref(), &key).await?;
    let count = ranked.len() as u64;
    info!(count, "defaults done");
    ctx.counts("defaults", &[("default_recs", count)]);
    Ok(DefaultsOutput {
        defaults_key: key.to_string(),
        count,
    })
}

/// The original job's rule over the run's reading, excluded articles left out.
fn compute(
    dwell: &DwellColumns<'_>,
    articles: &ArticleColumns<'_>,
    params: &DefaultsParams,
) -> Vec<(String, f64)> {
    let published_ms: HashMap<&str, i64> = articles
        .external_id
        .iter()
        .zip(&articles.published_at_ms)
        .filter_map(|(id, p)| Some((*id, (*p)?)))
        .collect();
    let excluded: HashSet<&str> = articles
        .external_id
        .iter()
        .zip(&articles.exclude_reason)
        .filter_map(|(id, e)| e.and(Some(*id)))
        .collect();
    let eligible: Vec<Interaction<'_>> = (0..dwell.client_id.len())
        .filter(|&i| !excluded.contains(dwell.external_id[i]))
        .map(|i| Interaction {
            client_id: dwell.client_id[i],
            external_id: dwell.external_id[i],
            dwell_secs: dwell.dwell_secs[i],
            last_seen_ms: dwell.last_seen_ms[i],
        })
        .collect();
    rank(&eligible, &published_ms, params)
}
