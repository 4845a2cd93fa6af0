//! The online evaluation of a run: reads the widget's events of the last
//! `ONLINE_DAYS`, measures the reading after each click on the clicker's
//! page events of the hour partitions just after it (a few hours' files,
//! one at a time, never the window's events), calls the pure parts and
//! writes `online.json`.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use tracing::{info, warn};

use super::{against_defaults, by_model, compare_newest, dwell_after, dwell_summary};
use crate::adapters::parquet::{HourEvents, WidgetEventColumns, WidgetEvents};
use crate::context::Context;
use crate::contract::checked_store::CheckedStore;
use crate::contract::database::ModelType;
use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::layout::RunLayout;
use crate::contract::online::{ModelFigures, OnlineEvaluation, UnknownModels};
use crate::contract::partials::WindowPartials;
use crate::contract::site::Site;
use crate::contract::stage::RunRef;
use crate::contract::stage::HOUR_MS;
use crate::contract::storage::BlobStore;

/// A click's reading is looked for this long after it.
pub const AFTER_CLICK_MS: i64 = 30 * 60 * 1000;

/// The run's online evaluation, written to `online.json`; `None` when the
/// run has no widget events file (a run whose fetch predates them).
/// `events` are the run's page events (`client_id`, `activity_time`,
/// `page_path`), `site` maps their paths to articles.
///
/// # Errors
/// Storage and Parquet errors.
pub async fn online_evaluation(
    ctx: &Context,
    store: &dyn BlobStore,
    run: &RunRef,
    partials: &WindowPartials,
    site: &dyn Site,
) -> Result<Option<OnlineEvaluation>> {
    let layout = RunLayout::new(run)?;
    let file = match WidgetEvents::read(store, &layout.widget_events()).await {
        Ok(f) => f,
        Err(Error::NotFound { key }) => {
            warn!(%key, "no widget events file: no online evaluation");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let all = file.columns()?;
    // only models the database knows: the page can name any
    let known: HashSet<(String, String)> = ctx
        .db()?
        .models(&run.site)
        .await?
        .into_iter()
        .map(|m| (m.id.to_string(), m.model_type))
        .collect();
    let (w, unknown_models) = known_only(&all, &known);
    if unknown_models.events > 0 {
        warn!(
            events = unknown_models.events,
            models = unknown_models.models,
            "widget events name models the database does not know: left out"
        );
    }
    let o = &ctx.settings.online;
    let until_ms = run.as_of.timestamp_millis();
    let since_ms = until_ms - (o.days * 86_400_000.0) as i64;
    let period_ms = i64::from(o.period_hours) * 3_600_000;
    let cap_ms = (ctx.settings.dwell_cap_secs * 1000.0) as i64;
    let reading = click_reading(ctx, partials, &w, since_ms, site, cap_ms).await?;
    let e = OnlineEvaluation {
        unknown_models,
        ..assemble(
            &w,
            &reading,
            since_ms,
            until_ms,
            period_ms,
            o.min_impressions,
            o.alpha,
        )
    };
    let json = serde_json::to_vec_pretty(&e).map_err(|e| Error::Bug(format!("online json: {e}")))?;
    store.put(&layout.online(), Bytes::from(json)).await?;
    info!(
        widget_events = e.widget_events,
        models = e.models.len(),
        "online evaluation"
    );
    Ok(Some(e))
}

/// The rows of `w` whose (model id, model type) is `known`, and what the
/// others were.
pub fn known_only<'a>(
    w: &WidgetEventColumns<'a>,
    known: &HashSet<(String, String)>,
) -> (WidgetEventColumns<'a>, UnknownModels) {
    let mut out = WidgetEventColumns::default();
    let mut unknown: HashSet<(&str, &str)> = HashSet::new();
    let mut events = 0;
    for i in 0..w.len() {
        let pair = (w.model_id[i], w.model_type[i]);
        if !known.contains(&(pair.0.to_string(), pair.1.to_string())) {
            events += 1;
            unknown.insert(pair);
            continue;
        }
        out.client_id.push(w.client_id[i]);
        out.time_ms.push(w.time_ms[i]);
        out.page_path.push(w.page_path[i]);
        out.step.push(w.step[i]);
        out.model_id.push(w.model_id[i]);
        out.model_type.push(w.model_type[i]);
        out.external_id.push(w.external_id[i]);
        out.position.push(w.position[i]);
        out.event_id.push(w.event_id[i]);
    }
    let unknown = UnknownModels {
        events,
        models: unknown.len() as u64,
    };
    (out, unknown)
}

/// The pure assembly: figures per model, the reading after their clicks
/// (`reading` by widget event row), and the comparisons.
pub fn assemble(
    w: &WidgetEventColumns<'_>,
    reading: &HashMap<usize, Option<f64>>,
    since_ms: i64,
    until_ms: i64,
    period_ms: i64,
    min_impressions: u64,
    alpha: f64,
) -> OnlineEvaluation {
    let in_time = |i: usize| w.time_ms[i] >= since_ms && w.time_ms[i] < until_ms;
    let models = by_model(w, since_ms, period_ms);
    let comparisons = [ModelType::Article, ModelType::Popularity]
        .into_iter()
        .filter_map(|t| compare_newest(&models, t.as_str(), min_impressions, alpha))
        .collect();
    let against_defaults = against_defaults(&models, min_impressions, alpha);
    // each model's clicks' readings, in one pass over the events
    let mut secs: HashMap<(&str, &str), Vec<Option<f64>>> = HashMap::new();
    for i in (0..w.len()).filter(|&i| in_time(i) && w.step[i] == "click") {
        secs.entry((w.model_id[i], w.model_type[i]))
            .or_default()
            .push(reading.get(&i).copied().flatten());
    }
    let models = models
        .into_iter()
        .map(|m| {
            let of_model = secs.get(&(m.model_id.as_str(), m.model_type.as_str()));
            ModelFigures {
                dwell_after_click: dwell_summary(of_model.map_or(&[][..], Vec::as_slice)),
                online: m,
            }
        })
        .collect();
    OnlineEvaluation {
        since_ms,
        until_ms,
        period_ms,
        widget_events: (0..w.len()).filter(|&i| in_time(i)).count() as u64,
        models,
        comparisons,
        against_defaults,
        unknown_models: UnknownModels::default(),
    }
}

/// Each click's reading of the clicked article (by widget event row): the
/// clicker's page events on that article after the click, from the hour
/// partitions a reading after a click can be in (the click's hour to an
/// hour past the horizon, for events that arrive late), each read once,
/// checked against its digest, and only the clickers' events kept.
///
/// # Errors
/// Storage, `Corrupt` and `Schema` errors.
pub async fn click_reading(
    ctx: &Context,
    partials: &WindowPartials,
    w: &WidgetEventColumns<'_>,
    since_ms: i64,
    site: &dyn Site,
    cap_ms: i64,
) -> Result<HashMap<usize, Option<f64>>> {
    let clicks: Vec<usize> = (0..w.len())
        .filter(|&i| w.step[i] == "click" && w.time_ms[i] >= since_ms && w.external_id[i].is_some())
        .collect();
    if clicks.is_empty() {
        return Ok(HashMap::new());
    }
    let wanted: HashSet<(&str, &str)> = clicks
        .iter()
        .filter_map(|&i| Some((w.client_id[i], w.external_id[i]?)))
        .collect();
    let clickers: HashSet<&str> = wanted.iter().map(|(c, _)| *c).collect();
    let hours: HashSet<i64> = clicks
        .iter()
        .flat_map(|&i| {
            let first = w.time_ms[i].div_euclid(HOUR_MS) * HOUR_MS;
            let last = (w.time_ms[i] + AFTER_CLICK_MS).div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS;
            (first..=last).step_by(HOUR_MS as usize)
        })
        .collect();
    let mut on_article: HashMap<(String, String), Vec<i64>> = HashMap::new();
    for h in partials
        .hours
        .iter()
        .filter(|h| hours.contains(&h.hour.timestamp_millis()))
    {
        let key = ObjectKey::from_listing(&h.events_key)?;
        let store = CheckedStore::new(ctx.store.clone(), h.files.clone(), vec![key.folder()]);
        let file = HourEvents::read(&store, &key).await?;
        let e = file.columns()?;
        for i in 0..e.client_id.len() {
            let r = e.client_id[i];
            if !clickers.contains(r) {
                continue;
            }
            if let Some(a) = site.article_of(e.page_path[i]) {
                if wanted.contains(&(r, a.external_id)) {
                    on_article
                        .entry((r.to_string(), a.external_id.to_string()))
                        .or_default()
                        .push(e.time_ms[i]);
                }
            }
        }
    }
    for times in on_article.values_mut() {
        times.sort_unstable();
        times.dedup();
    }
    Ok(clicks
        .into_iter()
        .map(|i| {
            let secs = w.external_id[i]
                .and_then(|a| on_article.get(&(w.client_id[i].to_string(), a.to_string())))
                .and_then(|times| dwell_after(times, w.time_ms[i], cap_ms, AFTER_CLICK_MS));
            (i, secs)
        })
        .collect())
}
