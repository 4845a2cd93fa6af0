//! Train: `dwell.parquet` + `articles.parquet` -> `article_recs.parquet`,
//! every article's list from the model that measured best, and
//! `evaluation.json`: the leaderboard of every candidate on a temporal
//! holdout against the popularity baseline, and the quality gate's
//! decision, which save obeys.
//!
//! Each candidate is fitted on the window minus the holdout (always cold, so
//! no holdout read leaks in through a previous model) and measured; the
//! winner is refitted on the whole window (ALS warm-started from the current
//! model's article factors when there is one), only when the gate promotes.

mod current_model;
pub mod evaluation;
pub mod gate;
mod inputs;
mod metrics;
pub mod selection;
mod winner;

use bytes::Bytes;
use tracing::{info, instrument, warn};

use self::current_model::{current_model, CurrentModel};
use self::evaluation::{ArticleFacts, DwellTable, EvalParams, Holdout};
use self::inputs::Inputs;
pub use self::inputs::{dwell_table, embedding_model};
use self::selection::FitParams;
use crate::context::Context;
use crate::contract::checked_store::CheckedStore;
use crate::contract::error::{Error, Result};
use crate::contract::evaluation::{Evaluation, GateDecision, ModelSpec};
use crate::contract::layout::RunLayout;
use crate::contract::online::OnlineEvaluation;
use crate::contract::stage::{TrainInput, TrainOutput};
use crate::contract::storage::BlobStore;
use crate::recommend::als::{AlsParams, Loss};
use crate::recommend::families::{hybrid, FAMILIES};
use crate::recommend::family::Family;
use crate::recommend::popularity::RECENT_INTERACTIONS;
use crate::settings::Settings;

/// # Errors
/// `Empty` when the dwell table is empty; storage, Parquet and database errors.
#[instrument(skip_all, fields(stage = "train", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: TrainInput, ctx: &Context) -> Result<TrainOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let checked = ctx.checked_store(&layout, &[&input.preprocess.files]);
    let inputs = inputs::load(ctx, &checked, &layout, &input.preprocess).await?;
    let current = current_model(ctx, run, input.preprocess.current_article_model.as_ref()).await?;
    let params = eval_params(&ctx.settings, run.as_of);
    let evaluation = evaluate_if_on(&ctx.settings, &inputs, &params).await?;
    let current_metrics = current.as_ref().and_then(|c| c.metrics);
    let gate = decide(ctx, evaluation.as_ref(), current.as_ref(), inputs.online.as_ref());
    let mut output = before_fit(&layout, &inputs, evaluation, current_metrics, gate);
    if output.gate.promote {
        let as_of_ms = run.as_of.timestamp_millis();
        winner::fit_and_write(
            &inputs,
            &params,
            as_of_ms,
            current.as_ref(),
            &checked,
            &layout,
            &mut output,
        )
        .await?;
    }
    write_evaluation(&checked, &layout, &mut output).await?;
    metrics::report(ctx, &output);
    Ok(output)
}

/// What evaluation and the final fit read of the settings; the holdout
/// starts at the cut.
fn eval_params(settings: &Settings, as_of: chrono::DateTime<chrono::Utc>) -> EvalParams {
    EvalParams {
        cut_ms: settings.holdout_start(as_of).timestamp_millis(),
        k: settings.max_recs,
        max_questions: settings.quality.max_questions,
        seed: settings.seed,
        als: settings.als.clone(),
        selection: settings.quality.selection.clone(),
        half_life_days: settings.half_life_days,
        defaults_half_life_days: settings.defaults_half_life_days,
        recent_interactions: RECENT_INTERACTIONS,
        undated_age_days: f64::from(settings.days_of_data),
        cold_readers: settings.quality.cold_readers,
    }
}

/// Every candidate on the holdout, off the async runtime; `None` when the
/// holdout is off or not shorter than the window.
///
/// # Errors
/// `Bug` when the measuring task fails.
async fn evaluate_if_on(
    settings: &Settings,
    inputs: &Inputs,
    params: &EvalParams,
) -> Result<Option<Evaluation>> {
    if !settings.evaluates() {
        warn!(
            holdout_days = settings.quality.holdout_days,
            days_of_data = settings.days_of_data,
            "no evaluation: the holdout is off or not shorter than the window"
        );
        return Ok(None);
    }
    let (table, facts, params) = (inputs.table.clone(), inputs.facts.clone(), params.clone());
    crate::contract::tasks::blocking(move || evaluate(&table, &facts, &params)).await
}

/// The quality gate's decision, with the online check's warning.
fn decide(
    ctx: &Context,
    evaluation: Option<&Evaluation>,
    current: Option<&CurrentModel>,
    online: Option<&OnlineEvaluation>,
) -> GateDecision {
    let settings = &ctx.settings;
    let current_metrics = current.and_then(|c| c.metrics);
    let mut gate = gate::quality_gate(evaluation, current_metrics.as_ref(), &settings.quality.gate);
    if settings.online.gate {
        gate.online_warning = online.and_then(OnlineEvaluation::warning);
    }
    if let Some(w) = &gate.online_warning {
        warn!(warning = %w, "quality gate: online check");
    }
    if gate.promote {
        info!(reason = %gate.reason, "quality gate: promote");
    } else {
        warn!(reason = %gate.reason, "quality gate: the current model stays");
    }
    gate
}

/// The stage's output before any fit: the table's size, the evaluation and
/// the gate's decision.
fn before_fit(
    layout: &RunLayout,
    inputs: &Inputs,
    evaluation: Option<Evaluation>,
    current_model: Option<crate::contract::evaluation::HoldoutMetrics>,
    gate: GateDecision,
) -> TrainOutput {
    let (table, online) = (&inputs.table, inputs.online.as_ref());
    TrainOutput {
        model: None,
        recs_key: None,
        fit_secs: 0.0,
        factors_key: None,
        evaluation_key: layout.evaluation().to_string(),
        files: Default::default(),
        online_key: online.map(|_| layout.online().to_string()),
        online: online.map(OnlineEvaluation::headline),
        // dwell_table numbers the readers of its readings, the articles read or listed
        readers: table.readers.len() as u64,
        articles: table.articles.len() as u64,
        nonzeros: table.readings.len() as u64,
        factors: 0,
        iterations: 0,
        loss: Vec::new(),
        warm_start_from: None,
        warm_start_articles: 0,
        evaluation,
        current_model,
        gate,
    }
}

/// `evaluation.json`: the whole output, with the digests of the lists and
/// factors written (the wire's output adds the file's own).
///
/// # Errors
/// Storage errors.
async fn write_evaluation(store: &CheckedStore, layout: &RunLayout, output: &mut TrainOutput) -> Result<()> {
    output.files = store.written();
    let json =
        serde_json::to_vec_pretty(&*output).map_err(|e| Error::Bug(format!("evaluation json: {e}")))?;
    store.put(&layout.evaluation(), Bytes::from(json)).await?;
    output.files = store.written();
    Ok(())
}

/// Every candidate on the holdout, and the winner. `None` when either side
/// of the cut is empty.
pub fn evaluate(table: &DwellTable, facts: &ArticleFacts, params: &EvalParams) -> Option<Evaluation> {
    let h = Holdout::split(table, facts, params)?;
    let specs = selection::grid(&params.selection, &params.als);
    // a candidate's loss curve is shown nowhere: its last value guards the fit
    let als = AlsParams {
        loss: Loss::LastIteration,
        ..params.als.clone()
    };
    let fit = FitParams {
        als: &als,
        ease_max_articles: params.selection.ease_max_articles,
        rules_max_gap_hours: params.selection.rules_max_gap_hours,
        seed: params.seed,
        at_ms: params.cut_ms,
        popularity: &h.popularity,
        warm_start: &[],
        terms: &h.terms,
        embeddings: &h.embeddings,
        families: FAMILIES,
    };
    let blend = params
        .selection
        .families
        .iter()
        .any(|f| f == hybrid::FAMILY.name());
    let (leaderboard, winner) = selection::select(
        &h,
        &specs,
        blend,
        &fit,
        params.k,
        params.selection.budget_secs,
        |c| match (&c.metrics, &c.skipped) {
            (Some(m), _) => info!(
                candidate = %c.spec,
                hit_rate = m.hit_rate,
                mrr = m.mrr,
                auc = m.auc,
                coverage = m.coverage,
                secs = c.secs,
                "candidate measured"
            ),
            (None, reason) => {
                warn!(candidate = %c.spec, reason = reason.as_deref().unwrap_or(""), "candidate skipped")
            }
        },
    );
    let find = |spec: &ModelSpec| leaderboard.iter().find(|c| c.spec == *spec);
    let of = |spec: ModelSpec| find(&spec).and_then(|c| c.metrics).unwrap_or_default();
    let slices_of = |spec: &ModelSpec| find(spec).and_then(|c| c.slices);
    let (winner, loss) = winner.map_or((None, Vec::new()), |(w, l)| (Some(w), l));
    Some(Evaluation {
        holdout_start_ms: params.cut_ms,
        train_readings: h.train_readings,
        holdout_readings: h.holdout_readings,
        questions_found: h.questions_found,
        k: params.k as u32,
        model: winner.clone().map(of).unwrap_or_default(),
        popularity: of(ModelSpec::popularity()),
        cold_readers: params.cold_readers,
        model_slices: winner.as_ref().and_then(slices_of),
        popularity_slices: slices_of(&ModelSpec::popularity()),
        loss,
        leaderboard,
        winner,
    })
}
