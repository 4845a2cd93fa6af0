//! Train: `dwell.parquet` + `articles.parquet` → `article_factors.parquet`,
//! implicit ALS factors of every article, and `evaluation.json`: the model's
//! figures on a temporal holdout against the popularity baseline, and the
//! quality gate's decision, which save obeys.
//!
//! Two fits per run: one on the window minus the holdout (always cold, so no
//! holdout read leaks in through a previous model), measured; then the
//! production model on the whole window, warm-started from the current
//! model's article factors when there is one.

mod current_model;
pub mod evaluation;
pub mod gate;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::Duration;
use tracing::{info, instrument, warn};

use self::current_model::current_model;
use self::evaluation::{ArticleFacts, DwellTable, EvalParams, Reading};
use crate::contract::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::layout::RunLayout;
use crate::contract::metrics::Unit;
use crate::contract::parquet::{ArticleColumns, Articles, Dwell, DwellColumns, FactorColumns};
use crate::contract::stage::{TrainInput, TrainOutput};
use crate::recommend::als;
use crate::recommend::popularity::RECENT_INTERACTIONS;

/// The dwell table with readers and articles numbered in id order, so the
/// same table always gives the same matrix.
pub fn dwell_table(dwell: &DwellColumns<'_>) -> DwellTable {
    let mut reader_ix: BTreeMap<&str, u32> = dwell.client_id.iter().map(|c| (*c, 0)).collect();
    let mut article_ix: BTreeMap<&str, u32> = dwell.external_id.iter().map(|a| (*a, 0)).collect();
    for (i, v) in reader_ix.values_mut().enumerate() {
        *v = i as u32;
    }
    for (i, v) in article_ix.values_mut().enumerate() {
        *v = i as u32;
    }
    let readings = (0..dwell.client_id.len())
        .map(|i| Reading {
            reader: reader_ix[dwell.client_id[i]],
            article: article_ix[dwell.external_id[i]],
            dwell_secs: dwell.dwell_secs[i],
            first_seen_ms: dwell.first_seen_ms[i],
            last_seen_ms: dwell.last_seen_ms[i],
        })
        .collect();
    DwellTable {
        readers: reader_ix.into_keys().map(str::to_string).collect(),
        articles: article_ix.into_keys().map(str::to_string).collect(),
        readings,
    }
}

/// Publish times and exclusions of the table's articles.
fn article_facts(table: &DwellTable, articles: &ArticleColumns<'_>) -> ArticleFacts {
    let by_id: HashMap<&str, (Option<i64>, bool)> = (0..articles.external_id.len())
        .map(|i| {
            (
                articles.external_id[i],
                (articles.published_at_ms[i], articles.exclude_reason[i].is_some()),
            )
        })
        .collect();
    let (published_ms, excluded) = table
        .articles
        .iter()
        .map(|a| by_id.get(a.as_str()).copied().unwrap_or((None, false)))
        .unzip();
    ArticleFacts {
        published_ms,
        excluded,
    }
}

/// # Errors
/// `Empty` when the dwell table is empty; storage, frame and database errors.
#[instrument(skip_all, fields(stage = "train", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: TrainInput, ctx: &Context) -> Result<TrainOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let store = ctx.store.as_ref();
    let dwell = Dwell::read(store, &layout.dwell()).await?;
    let table = dwell_table(&dwell.columns()?);
    drop(dwell);
    if table.readings.is_empty() {
        return Err(Error::Empty {
            stage: "train",
            what: "the dwell table has no interactions".into(),
        });
    }
    let articles = Articles::read(store, &layout.articles()).await?;
    let facts = article_facts(&table, &articles.columns()?);
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
    FactorColumns {
        external_id: table.articles.iter().map(String::as_str).collect(),
        values: values.to_vec(),
        k,
    }
    .write(store, &key)
    .await?;

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
