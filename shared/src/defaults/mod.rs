//! Defaults: `dwell.parquet` + `articles.parquet` → `defaults.parquet`, the
//! ranked default recommendations for readers we know nothing about, from
//! the rule that predicts new readers' first reads best on the holdout.

pub mod selection;

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use tracing::{info, instrument};

use self::selection::{list, score_rules, DefaultsRule, ListParams, Pair};
use crate::contract::context::Context;
use crate::contract::error::Result;
use crate::contract::layout::RunLayout;
use crate::contract::parquet::{Articles, DefaultColumns, Dwell};
use crate::contract::stage::{DefaultsInput, DefaultsOutput};
use crate::recommend::popularity::RECENT_INTERACTIONS;

/// # Errors
/// Storage and Parquet errors.
#[instrument(skip_all, fields(stage = "defaults", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: DefaultsInput, ctx: &Context) -> Result<DefaultsOutput> {
    let layout = RunLayout::new(&input.run)?;
    let dwell = Dwell::read(ctx.store.as_ref(), &layout.dwell()).await?;
    let articles = Articles::read(ctx.store.as_ref(), &layout.articles()).await?;
    let (d, a) = (dwell.columns()?, articles.columns()?);
    let published_ms: HashMap<&str, i64> = a
        .external_id
        .iter()
        .zip(&a.published_at_ms)
        .filter_map(|(id, p)| Some((*id, (*p)?)))
        .collect();
    let excluded: HashSet<&str> = a
        .external_id
        .iter()
        .zip(&a.exclude_reason)
        .filter_map(|(id, e)| e.and(Some(*id)))
        .collect();
    let pairs: Vec<Pair<'_>> = (0..d.client_id.len())
        .map(|i| Pair {
            client_id: d.client_id[i],
            external_id: d.external_id[i],
            dwell_secs: d.dwell_secs[i],
            first_seen_ms: d.first_seen_ms[i],
            last_seen_ms: d.last_seen_ms[i],
        })
        .collect();
    let settings = &ctx.settings;
    let params = ListParams {
        published_ms: &published_ms,
        excluded: &excluded,
        recent_interactions: RECENT_INTERACTIONS,
        half_life_days: settings.defaults_half_life_days,
        max_recs: settings.max_recs,
    };
    let holdout = settings.quality.holdout_days;
    let as_of = input.run.as_of;
    let leaderboard = if holdout > 0.0 && holdout < f64::from(settings.days_of_data) {
        let cut = (as_of - Duration::milliseconds((holdout * 86_400_000.0) as i64)).timestamp_millis();
        score_rules(&pairs, cut, &params)
    } else {
        Vec::new()
    };
    let rule = leaderboard
        .first()
        .filter(|s| s.questions > 0)
        .map_or(DefaultsRule::Original, |s| s.rule);
    for s in &leaderboard {
        info!(rule = %s.rule, questions = s.questions, hit_rate = s.hit_rate, mrr = s.mrr, "default rule measured");
    }
    // every pair of the window is before as-of; the rule sees them all
    let ranked = list(rule, &pairs, as_of.timestamp_millis() + 1, &params);
    let key = layout.defaults();
    let out = DefaultColumns {
        external_id: ranked.iter().map(|(id, _)| id.as_str()).collect(),
        score: ranked.iter().map(|(_, s)| *s).collect(),
    };
    out.write(ctx.store.as_ref(), &key).await?;
    let count = ranked.len() as u64;
    info!(count, rule = %rule, "defaults done");
    ctx.counts("defaults", &[("default_recs", count)]);
    Ok(DefaultsOutput {
        defaults_key: key.to_string(),
        count,
        rule: Some(rule),
        leaderboard,
    })
}
