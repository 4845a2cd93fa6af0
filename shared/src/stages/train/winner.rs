//! The promoted model fitted on the whole window (ALS warm-started from the
//! current model's factors when they fit), checked, and written: every
//! article's list, and the factors of a factor model.

use std::time::Instant;

use tracing::{info, warn};

use super::current_model::CurrentModel;
use super::evaluation::EvalParams;
use super::evaluation::Fitting;
use super::inputs::Inputs;
use super::selection::{self, FitParams, Fitted};
use crate::adapters::parquet::{ArticleRecColumns, FactorColumns};
use crate::contract::checked_store::CheckedStore;
use crate::contract::error::{Error, Result};
use crate::contract::evaluation::ModelSpec;
use crate::contract::layout::RunLayout;
use crate::contract::stage::TrainOutput;
use crate::recommend::als::AlsParams;
use crate::recommend::families::{als, FAMILIES};
use crate::recommend::item_item::Serving;
use crate::recommend::neighbours::Neighbour;

/// The winner of the evaluation, or ALS as configured when nothing was
/// evaluated (holdout off or empty).
fn spec(output: &TrainOutput, als_params: &AlsParams) -> ModelSpec {
    output
        .evaluation
        .as_ref()
        .and_then(|e| e.winner.clone())
        .unwrap_or_else(|| als::configured(als_params))
}

/// The current model's article factors in `names`' order, when `spec` is
/// (or blends) ALS with as many factors and warm starts are on.
async fn warm_start(
    spec: &ModelSpec,
    names: &[String],
    current: Option<&CurrentModel>,
    on: bool,
) -> Result<Vec<Option<Vec<f32>>>> {
    let Some(factors) = als::factors(spec) else {
        return Ok(Vec::new());
    };
    let previous = match current {
        Some(c) if on => c.factors().await?,
        _ => None,
    };
    Ok(match previous {
        Some(p) if p.k == factors => names.iter().map(|a| p.rows.get(a).cloned()).collect(),
        Some(p) => {
            warn!(previous = p.k, now = factors, "factor count changed: cold start");
            Vec::new()
        }
        None => Vec::new(),
    })
}

/// Fits the winner ([`spec`]) on every reading and every article of the table (read in the
/// window, or listed in it), writes the lists and factors, and fills their
/// part of `output`.
///
/// # Errors
/// A fit that fails or gives values no stage writes; storage errors.
pub async fn fit_and_write(
    inputs: &Inputs,
    params: &EvalParams,
    as_of_ms: i64,
    current: Option<&CurrentModel>,
    store: &CheckedStore,
    layout: &RunLayout,
    output: &mut TrainOutput,
) -> Result<()> {
    let spec = spec(output, &params.als);
    let (table, facts) = (&inputs.table, &inputs.facts);
    let fitting = Fitting::of(table, &table.readings, |_| true);
    let names: Vec<String> = fitting
        .articles
        .iter()
        .map(|&a| table.articles[a as usize].clone())
        .collect();
    let start = warm_start(&spec, &names, current, params.als.warm_start).await?;
    output.warm_start_articles = start.iter().flatten().count() as u64;
    if output.warm_start_articles > 0 {
        output.warm_start_from = current.map(|c| c.run_id.clone());
    }
    let popularity = if spec.is_popularity() {
        fitting.popularity(table, facts, &table.readings, as_of_ms, params)
    } else {
        Vec::new()
    };
    let (decay, excluded) =
        fitting.serving_facts(facts, as_of_ms, params.half_life_days, params.undated_age_days);
    let params = params.clone();
    let terms = fitting.terms(facts);
    let embeddings = fitting.embeddings(facts);
    let fit_spec = spec.clone();
    let started = Instant::now();
    let (fitted, lists) = crate::contract::tasks::blocking(move || -> Result<_> {
        let start: Vec<Option<&[f32]>> = start.iter().map(|s| s.as_deref()).collect();
        let p = FitParams {
            als: &params.als,
            ease_max_articles: params.selection.ease_max_articles,
            rules_max_gap_hours: params.selection.rules_max_gap_hours,
            seed: params.seed,
            at_ms: as_of_ms,
            popularity: &popularity,
            warm_start: &start,
            terms: &terms,
            embeddings: &embeddings,
            families: FAMILIES,
        };
        let fitted: Fitted = selection::fit(&fit_spec, &fitting.reads, &p, |it, loss| {
            info!(iteration = it + 1, loss, "als iteration")
        })?;
        let prior = fitting.reads.prior();
        let serving = Serving {
            decay: &decay,
            excluded: &excluded,
            prior: &prior,
            k: params.k,
        };
        let sources: Vec<usize> = (0..fitting.reads.articles()).collect();
        let lists = fitted.model.neighbours(&sources, &serving);
        Ok((fitted, lists))
    })
    .await??;
    output.fit_secs = started.elapsed().as_secs_f64();
    check_fit(&spec, &fitted.loss, &lists)?;
    write_lists(&names, &lists, store, layout, output).await?;
    if let Some(f) = &fitted.factors {
        let values = f.as_standard_layout();
        let values = values
            .as_slice()
            .ok_or_else(|| Error::Bug("factors not contiguous".into()))?;
        let key = layout.factors();
        FactorColumns {
            external_id: names.iter().map(String::as_str).collect(),
            values: values.to_vec(),
            k: f.ncols(),
        }
        .write(store, &key)
        .await?;
        output.factors_key = Some(key.to_string());
        output.factors = f.ncols() as u32;
        output.iterations = fitted.loss.len() as u32;
    }
    output.loss = fitted.loss;
    output.model = Some(spec);
    Ok(())
}

/// `article_recs.parquet`: each source's list, in rank order.
async fn write_lists(
    names: &[String],
    lists: &[Vec<Neighbour>],
    store: &CheckedStore,
    layout: &RunLayout,
    output: &mut TrainOutput,
) -> Result<()> {
    let mut recs = ArticleRecColumns {
        source_external_id: Vec::new(),
        external_id: Vec::new(),
        score: Vec::new(),
    };
    for (src, list) in names.iter().zip(lists) {
        for n in list {
            recs.source_external_id.push(src.as_str());
            recs.external_id.push(names[n.index].as_str());
            recs.score.push(f64::from(n.score));
        }
    }
    let key = layout.article_recs();
    recs.write(store, &key).await?;
    output.recs_key = Some(key.to_string());
    Ok(())
}

/// A fit whose loss is not a number, or whose lists score outside [0, 1],
/// is never saved: something fed it values no stage writes.
///
/// # Errors
/// `Bug` naming the model and what is wrong.
pub(super) fn check_fit(spec: &ModelSpec, loss: &[f64], lists: &[Vec<Neighbour>]) -> Result<()> {
    if let Some((i, l)) = loss.iter().enumerate().find(|(_, l)| !l.is_finite()) {
        return Err(Error::Bug(format!(
            "the fit of {spec} has loss {l} at iteration {}: not saved",
            i + 1
        )));
    }
    let bad = lists
        .iter()
        .flatten()
        .find(|n| !(n.score.is_finite() && (0.0..=1.0).contains(&n.score)));
    if let Some(n) = bad {
        return Err(Error::Bug(format!(
            "{spec} scored a recommendation {}, outside [0, 1]: not saved",
            n.score
        )));
    }
    Ok(())
}
