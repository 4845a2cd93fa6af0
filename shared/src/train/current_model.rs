//! The site's current model as train sees it: from its run's files in the
//! store (its factors for a warm start, its holdout figures for the gate),
//! while they last.

use std::collections::HashMap;

use tracing::warn;

use crate::contract::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::evaluation::HoldoutMetrics;
use crate::contract::layout::RunLayout;
use crate::contract::parquet::Factors;
use crate::contract::stage::{RunRef, TrainOutput};

/// The site's current article model (as preprocess found it in the
/// database), as far as the store still holds its run's files (run prefixes
/// expire: then there is nothing to start from or compare with).
pub(super) struct CurrentModel {
    pub(super) run_id: String,
    pub(super) metrics: Option<HoldoutMetrics>,
    pub(super) factors: Option<PreviousFactors>,
}

pub(super) struct PreviousFactors {
    pub(super) k: usize,
    pub(super) rows: HashMap<String, Vec<f32>>,
}

pub(super) async fn current_model(
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
    let layout = RunLayout::of(&run.site, &model.run_id)?;
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
        match Factors::read(store, &layout.factors()).await {
            Ok(file) => {
                let f = file.columns()?;
                let rows = f
                    .external_id
                    .iter()
                    .zip(f.values.chunks_exact(f.k.max(1)))
                    .map(|(id, v)| ((*id).to_string(), v.to_vec()))
                    .collect();
                Some(PreviousFactors { k: f.k, rows })
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
