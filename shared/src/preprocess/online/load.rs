//! The online evaluation of a run: reads the widget's events of the last
//! `ONLINE_DAYS`, measures the reading after each click on the page events
//! preprocess already holds (so no stage reads the events twice), calls the
//! pure parts and writes `online.json`.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use tracing::{info, warn};

use super::{against_defaults, by_model, compare_newest, dwell_after, dwell_summary};
use crate::contract::context::Context;
use crate::contract::database::ModelType;
use crate::contract::error::{Error, Result};
use crate::contract::layout::RunLayout;
use crate::contract::online::{ModelFigures, OnlineEvaluation, UnknownModels};
use crate::contract::parquet::{col, Table, WidgetEventColumns, WidgetEvents};
use crate::contract::site::Site;
use crate::contract::stage::RunRef;
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
    events: &Table,
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
    let reading = click_reading(events, &w, since_ms, site, cap_ms)?;
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
/// clicker's page events on that article after the click. Only the rows of
/// readers who clicked are looked at closely.
///
/// # Errors
/// `Schema` errors (missing columns).
pub fn click_reading(
    events: &Table,
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
    let readers = events.strs_iter(col::CLIENT_ID)?;
    let times = events.times_iter(col::ACTIVITY_TIME)?;
    let paths = events.strs_iter(col::PAGE_PATH)?;
    let mut on_article: HashMap<(&str, String), Vec<i64>> = HashMap::new();
    for ((r, t), p) in readers.zip(times).zip(paths) {
        let (Some(r), Some(t), Some(p)) = (r, t, p) else {
            continue;
        };
        if !clickers.contains(r) {
            continue;
        }
        if let Some(a) = site.article_of(p) {
            if wanted.contains(&(r, a.external_id)) {
                on_article
                    .entry((r, a.external_id.to_string()))
                    .or_default()
                    .push(t);
            }
        }
    }
    for times in on_article.values_mut() {
        times.sort_unstable();
    }
    Ok(clicks
        .into_iter()
        .map(|i| {
            let secs = w.external_id[i]
                .and_then(|a| on_article.get(&(w.client_id[i], a.to_string())))
                .and_then(|times| dwell_after(times, w.time_ms[i], cap_ms, AFTER_CLICK_MS));
            (i, secs)
        })
        .collect())
}
