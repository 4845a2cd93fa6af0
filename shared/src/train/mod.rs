//! Train: `dwell.parquet` + `articles.parquet` → `article_factors.parquet`,
//! implicit ALS factors of every article, and `evaluation.json`: the model's
//! figures on a temporal holdout against the popularity baseline, and the
//! quality gate's decision, which save obeys.
//!
//! Two fits per run: one on the window minus the holdout (always cold, so no
//! holdout read leaks in through a previous model), measured; then the
//! production model on the whole window, warm-started from the current
//! model's article factors when there is one.

pub mod evaluation;
pub mod gate;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::Duration;
use polars::prelude::*;
use tracing::{info, instrument, warn};

use self::evaluation::{ArticleFacts, DwellTable, EvalParams, Reading};
use crate::contract::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::evaluation::Metrics;
use crate::contract::layout::RunLayout;
use crate::contract::metrics::Unit;
use crate::contract::parquet::{self, col, factors_column, i64s, strs, ARTICLES, DWELL, FACTORS};
use crate::contract::stage::{RunRef, TrainInput, TrainOutput};
use crate::recommend::als;
use crate::recommend::popularity::RECENT_INTERACTIONS;

/// The dwell table with readers and articles numbered in id order, so the
/// same table always gives the same matrix.
///
/// # Errors
/// Polars errors (missing columns).
pub fn dwell_table(dwell: &DataFrame) -> PolarsResult<DwellTable> {
    let clients = strs(dwell, col::CLIENT_ID)?;
    let ids = strs(dwell, col::EXTERNAL_ID)?;
    let secs = parquet::f64s(dwell, col::DWELL_SECS)?;
    let first = i64s(dwell, col::FIRST_SEEN)?;
    let last = i64s(dwell, col::LAST_SEEN)?;
    let mut reader_ix: BTreeMap<&str, u32> = clients.iter().flatten().map(|c| (*c, 0)).collect();
    let mut article_ix: BTreeMap<&str, u32> = ids.iter().flatten().map(|a| (*a, 0)).collect();
    for (i, v) in reader_ix.values_mut().enumerate() {
        *v = i as u32;
    }
    for (i, v) in article_ix.values_mut().enumerate() {
        *v = i as u32;
    }
    let readings = (0..dwell.height())
        .filter_map(|i| {
            let last_seen_ms = last[i]?;
            Some(Reading {
                reader: reader_ix[clients[i]?],
                article: article_ix[ids[i]?],
                dwell_secs: secs[i]?,
                first_seen_ms: first[i].unwrap_or(last_seen_ms),
                last_seen_ms,
            })
        })
        .collect();
    Ok(DwellTable {
        readers: reader_ix.into_keys().map(str::to_string).collect(),
        articles: article_ix.into_keys().map(str::to_string).collect(),
        readings,
    })
}

/// Publish times and exclusions of the table's articles, from `articles.parquet`.
fn article_facts(table: &DwellTable, articles: &DataFrame) -> PolarsResult<ArticleFacts> {
    let ids = strs(articles, col::EXTERNAL_ID)?;
    let published = i64s(articles, col::PUBLISHED_AT)?;
    let excluded = strs(articles, col::EXCLUDE_REASON)?;
    let by_id: HashMap<&str, (Option<i64>, bool)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some(((*id)?, (published[i], excluded[i].is_some()))))
        .collect();
    let (published_ms, excluded) = table
        .articles
        .iter()
        .map(|a| by_id.get(a.as_str()).copied().unwrap_or((None, false)))
        .unzip();
    Ok(ArticleFacts {
        published_ms,
        excluded,
    })
}

/// # Errors
/// `Empty` when the dwell table is empty; storage, frame and database errors.
#[instrument(skip_all, fields(stage = "train", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: TrainInput, ctx: &Context) -> Result<TrainOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let store = ctx.store.as_ref();
    let dwell_key = layout.dwell();
    let dwell = parquet::read(store, &dwell_key, &DWELL).await?;
    let table = dwell_table(&dwell).map_err(Error::frame(&dwell_key))?;
    drop(dwell);
    if table.readings.is_empty() {
        return Err(Error::Empty {
            stage: "train",
            what: "the dwell table has no interactions".into(),
        });
    }
    let articles_key = layout.articles();
    let articles = parquet::read(store, &articles_key, &ARTICLES).await?;
    let facts = article_facts(&table, &articles).map_err(Error::frame(&articles_key))?;
    drop(articles);

    let current = current_model(ctx, run, input.preprocess.current_article_model.as_ref()).await?;
    let settings = &ctx.settings;
    let holdout = settings.quality.holdout_days;
    let evaluation = if holdout > 0.0 && holdout < f64::from(settings.days_of_data) {
        let params = EvalParams {
            cut_ms: (run.as_of - Duration::milliseconds((holdout * 86_400_000.0) as i64)).timestamp_millis(),
            k: settings.max_recs,
            max_questions: settings.quality.max_questions,
            seed: settings.seed,
            als: settings.als.clone(),
            half_life_days: settings.half_life_days,
            defaults_half_life_days: settings.defaults_half_life_days,
            recent_interactions: RECENT_INTERACTIONS,
            undated_age_days: f64::from(settings.days_of_data),
        };
        let (table, facts) = (table.clone(), facts.clone());
        crate::contract::tasks::blocking(move || {
            evaluation::evaluate(&table, &facts, &params, |it, loss| {
                info!(iteration = it + 1, loss, "als iteration (evaluation model)")
            })
        })
        .await?
    } else {
        warn!(
            holdout_days = holdout,
            days_of_data = settings.days_of_data,
            "no evaluation: the holdout is off or not shorter than the window"
        );
        None
    };
    let current_metrics = current.as_ref().and_then(|c| c.metrics);
    let gate = gate::quality_gate(
        evaluation.as_ref(),
        current_metrics.as_ref(),
        &settings.quality.gate,
    );
    if gate.promote {
        info!(reason = %gate.reason, "quality gate: promote");
    } else {
        warn!(reason = %gate.reason, "quality gate: the current model stays");
    }

    let matrix = table.matrix(settings.als.alpha);
    let nnz = matrix.nnz() as u64;
    let k = settings.als.factors;
    let previous = current.as_ref().and_then(|c| c.factors.as_ref());
    let start: Vec<Option<Vec<f32>>> = match previous {
        Some(p) if p.k == k => table.articles.iter().map(|a| p.rows.get(a).cloned()).collect(),
        Some(p) => {
            warn!(previous = p.k, now = k, "factor count changed: cold start");
            Vec::new()
        }
        None => Vec::new(),
    };
    let warm_start_articles = start.iter().flatten().count() as u64;
    let mut params = settings.als.clone();
    if warm_start_articles > 0 {
        params.iterations = settings.als.warm_iterations;
    }
    let seed = settings.seed;
    let fitted = crate::contract::tasks::blocking(move || {
        let start: Vec<Option<&[f32]>> = start.iter().map(|s| s.as_deref()).collect();
        als::fit_warm(&matrix, &params, seed, &start, |it, loss| {
            info!(iteration = it + 1, loss, "als iteration")
        })
    })
    .await?;

    let key = layout.factors();
    let values = fitted.articles.as_standard_layout();
    let values = values
        .as_slice()
        .ok_or_else(|| Error::Bug("factors not contiguous".into()))?;
    let n = table.articles.len();
    let df = DataFrame::new(
        n,
        vec![
            Column::new(col::EXTERNAL_ID.into(), table.articles.clone()),
            factors_column(values, k),
        ],
    )
    .map_err(Error::frame(&key))?;
    parquet::write(store, &key, &FACTORS, &df).await?;

    let output = TrainOutput {
        factors_key: key.to_string(),
        evaluation_key: layout.evaluation().to_string(),
        readers: table.readers.len() as u64,
        articles: n as u64,
        nonzeros: nnz,
        factors: k as u32,
        iterations: fitted.loss.len() as u32,
        loss: fitted.loss,
        warm_start_from: (warm_start_articles > 0)
            .then(|| current.as_ref().map(|c| c.run_id.clone()))
            .flatten(),
        warm_start_articles,
        evaluation,
        current_model: current_metrics,
        gate,
    };
    let json = serde_json::to_vec_pretty(&output).map_err(|e| Error::Bug(format!("evaluation json: {e}")))?;
    store.put(&layout.evaluation(), Bytes::from(json)).await?;
    report(ctx, &output);
    Ok(output)
}

fn report(ctx: &Context, out: &TrainOutput) {
    let final_loss = out.loss.last().copied().unwrap_or(f64::NAN);
    info!(
        readers = out.readers,
        articles = out.articles,
        nnz = out.nonzeros,
        final_loss,
        warm_start_articles = out.warm_start_articles,
        "train done"
    );
    ctx.metric("train", "final_loss", final_loss, Unit::None);
    ctx.metric("train", "nonzeros", out.nonzeros as f64, Unit::Count);
    ctx.metric("train", "iterations", f64::from(out.iterations), Unit::Count);
    ctx.metric(
        "train",
        "promoted",
        f64::from(u8::from(out.gate.promote)),
        Unit::Count,
    );
    if let Some(e) = &out.evaluation {
        for (who, m) in [("model", &e.model), ("popularity", &e.popularity)] {
            info!(
                who,
                questions = m.questions,
                hit_rate = m.hit_rate,
                mrr = m.mrr,
                auc = m.auc,
                coverage = m.coverage,
                "holdout evaluation"
            );
            ctx.metric("train", &format!("{who}_hit_rate"), m.hit_rate, Unit::None);
            ctx.metric("train", &format!("{who}_mrr"), m.mrr, Unit::None);
            ctx.metric("train", &format!("{who}_auc"), m.auc, Unit::None);
            ctx.metric("train", &format!("{who}_coverage"), m.coverage, Unit::None);
        }
    }
}

/// The site's current article model (as preprocess found it in the
/// database), as far as the store still holds its run's files (run prefixes
/// expire: then there is nothing to start from or compare with).
struct CurrentModel {
    run_id: String,
    metrics: Option<Metrics>,
    factors: Option<PreviousFactors>,
}

struct PreviousFactors {
    k: usize,
    rows: HashMap<String, Vec<f32>>,
}

async fn current_model(
    ctx: &Context,
    run: &RunRef,
    model: Option<&crate::contract::stage::CurrentModel>,
) -> Result<Option<CurrentModel>> {
    let Some(model) = model else {
        return Ok(None);
    };
    // a re-run of a run that was already saved must not start from itself
    if model.run_id == run.run_id {
        return Ok(None);
    }
    let layout = RunLayout::new(&RunRef {
        site: run.site.clone(),
        run_id: model.run_id.clone(),
        as_of: run.as_of,
    })?;
    let store = ctx.store.as_ref();
    let metrics = match store.get(&layout.evaluation()).await {
        Ok(b) => serde_json::from_slice::<TrainOutput>(&b)
            .map_err(
                |e| warn!(run_id = %model.run_id, error = %e, "unreadable evaluation of the current model"),
            )
            .ok()
            .and_then(|o| o.evaluation.map(|e| e.model)),
        Err(Error::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let factors = if ctx.settings.als.warm_start {
        match parquet::read(store, &layout.factors(), &FACTORS).await {
            Ok(df) => {
                let key = layout.factors();
                let ids = strs(&df, col::EXTERNAL_ID).map_err(Error::frame(&key))?;
                let (values, k) = parquet::factors_values(&df, &key)?;
                let rows = ids
                    .iter()
                    .zip(values.chunks_exact(k.max(1)))
                    .filter_map(|(id, v)| Some(((*id)?.to_string(), v.to_vec())))
                    .collect();
                Some(PreviousFactors { k, rows })
            }
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok(Some(CurrentModel {
        run_id: model.run_id.clone(),
        metrics,
        factors,
    }))
}
