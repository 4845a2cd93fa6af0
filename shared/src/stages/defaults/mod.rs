//! Defaults: `dwell.parquet` + `articles.parquet` → `defaults.parquet`, the
//! ranked default recommendations for readers we know nothing about, from
//! the rule that predicts new readers' first reads best on the holdout.

pub mod selection;

use std::collections::{HashMap, HashSet};

use tracing::{info, instrument, warn};

use self::selection::{choose, score_rules, ListParams, Pair};
use crate::adapters::parquet::{ArticleColumns, Articles, DefaultColumns, Dwell};
use crate::context::Context;
use crate::contract::error::Result;
use crate::contract::layout::RunLayout;
use crate::contract::stage::{DefaultsInput, DefaultsOutput};
use crate::recommend::popularity::RECENT_INTERACTIONS;

/// Articles that never lead the default list: those excluded, and, when
/// the catalogue knows articles (any has a title), those it does not know:
/// a page view of a path no story has (a typo, a forged request) must not
/// become what every new reader is shown.
pub fn not_defaults<'a>(a: &ArticleColumns<'a>) -> HashSet<&'a str> {
    let catalogued = a.title.iter().any(Option::is_some);
    let out: HashSet<&str> = (0..a.external_id.len())
        .filter(|&i| a.exclude_reason[i].is_some() || (catalogued && a.title[i].is_none()))
        .map(|i| a.external_id[i])
        .collect();
    let untitled = (0..a.external_id.len())
        .filter(|&i| catalogued && a.title[i].is_none() && a.exclude_reason[i].is_none())
        .count();
    if untitled > 0 {
        info!(
            untitled,
            "articles the catalogue does not know are left out of the defaults"
        );
    }
    out
}

/// # Errors
/// Storage and Parquet errors.
#[instrument(skip_all, fields(stage = "defaults", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: DefaultsInput, ctx: &Context) -> Result<DefaultsOutput> {
    let layout = RunLayout::new(&input.run)?;
    let store = ctx.checked_store(&layout, &[&input.preprocess.files]);
    let dwell = Dwell::read(&store, &layout.dwell()).await?;
    let articles = Articles::read(&store, &layout.articles()).await?;
    let (d, a) = (dwell.columns()?, articles.columns()?);
    let published_ms: HashMap<&str, i64> = a
        .external_id
        .iter()
        .zip(&a.published_at_ms)
        .filter_map(|(id, p)| Some((*id, (*p)?)))
        .collect();
    let excluded = not_defaults(&a);
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
    let as_of = input.run.as_of;
    let leaderboard = match settings.holdout_cut(as_of) {
        Some(cut) => score_rules(&pairs, cut.timestamp_millis(), &params),
        None => Vec::new(),
    };
    for s in &leaderboard {
        info!(rule = %s.rule, questions = s.questions, hit_rate = s.hit_rate, mrr = s.mrr, "default rule measured");
    }
    // every pair of the window is before as-of; the rule sees them all
    let choice = choose(&leaderboard, &pairs, as_of.timestamp_millis() + 1, &params);
    if let Some(why) = &choice.fallback {
        warn!(rule = %choice.rule, fallback = %why, "default rule: fell back");
    }
    let (rule, ranked) = (choice.rule, choice.list);
    let key = layout.defaults();
    let out = DefaultColumns {
        external_id: ranked.iter().map(|(id, _)| id.as_str()).collect(),
        score: ranked.iter().map(|(_, s)| *s).collect(),
    };
    out.write(&store, &key).await?;
    let count = ranked.len() as u64;
    info!(count, rule = %rule, "defaults done");
    ctx.counts("defaults", &[("default_recs", count)]);
    Ok(DefaultsOutput {
        defaults_key: key.to_string(),
        files: store.written(),
        count,
        rule: Some(rule),
        leaderboard,
        fallback: choice.fallback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_article_the_catalogue_does_not_know_is_no_default_once_it_knows_some() {
        let mut a = ArticleColumns {
            external_id: vec!["1", "2", "3"],
            path: vec![Some("/article/1/a"), Some("/article/2/b"), Some("/article/3/c")],
            title: vec![Some("One"), None, Some("Three")],
            published_at_ms: vec![Some(1), None, Some(3)],
            exclude_reason: vec![None, None, Some("sponsored")],
            excerpt: vec![None; 3],
            section: vec![None; 3],
            tags: vec![None; 3],
        };
        let mut out: Vec<&str> = not_defaults(&a).into_iter().collect();
        out.sort_unstable();
        assert_eq!(out, ["2", "3"]);
        // a site without a catalogue: no article has a title, none is left out for it
        a.title = vec![None; 3];
        let out: Vec<&str> = not_defaults(&a).into_iter().collect();
        assert_eq!(out, ["3"]);
    }
}
