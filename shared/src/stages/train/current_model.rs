//! The site's current model as train sees it: from its run's files in the
//! store (its holdout figures for the gate, its factors for a warm start),
//! while they last, read only as its run wrote them: its `evaluation.json`
//! against the digest save recorded in the database, its factors against
//! the digest that evaluation lists.

use std::collections::HashMap;

use tracing::warn;

use crate::adapters::parquet::Factors;
use crate::context::Context;
use crate::contract::checked_store::CheckedStore;
use crate::contract::error::{Error, Result};
use crate::contract::evaluation::HoldoutMetrics;
use crate::contract::integrity::Files;
use crate::contract::layout::{ObjectKey, RunLayout};
use crate::contract::stage::{RunRef, TrainOutput};

/// The site's current article model (as preprocess found it in the
/// database), as far as the store still holds its run's files (run prefixes
/// expire: then there is nothing to start from or compare with).
pub(super) struct CurrentModel {
    pub(super) run_id: String,
    pub(super) metrics: Option<HoldoutMetrics>,
    /// Its factors' file, when its run wrote one; read on demand.
    factors: Option<ObjectKey>,
    /// What its run's files are checked against.
    store: CheckedStore,
}

pub(super) struct PreviousFactors {
    pub(super) k: usize,
    pub(super) rows: HashMap<String, Vec<f32>>,
}

/// How to go on when a current model's file is damaged.
const DAMAGED: &str = "its model's files are damaged: restore the file, or `article-rec rollback \
                       --model article` (on AWS `aws rollback`) to the model before it";

fn damaged(e: Error) -> Error {
    match e {
        Error::Corrupt { key, why } => Error::Corrupt {
            key,
            why: format!("{why}; {DAMAGED}"),
        },
        e => e,
    }
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
    let evaluation_key = layout.evaluation();
    let mut expected = Files::new();
    // a model saved before digests were recorded is read as it is
    let guarded = match &model.evaluation_digest {
        Some(d) => {
            expected.insert(&evaluation_key, d.clone());
            vec![layout.prefix()]
        }
        None => Vec::new(),
    };
    let checked = CheckedStore::new(ctx.store.clone(), expected.clone(), guarded.clone());
    let evaluation = match crate::contract::storage::BlobStore::get(&checked, &evaluation_key).await {
        Ok(b) => match serde_json::from_slice::<TrainOutput>(&b) {
            Ok(o) => Some(o),
            Err(e) if model.evaluation_digest.is_some() => {
                return Err(damaged(Error::Corrupt {
                    key: evaluation_key.to_string(),
                    why: format!("it is not a train output: {e}"),
                }))
            }
            Err(e) => {
                warn!(run_id = %model.run_id, error = %e, "unreadable evaluation of the current model");
                None
            }
        },
        Err(Error::NotFound { .. }) => None,
        Err(e) => return Err(damaged(e)),
    };
    let factors = evaluation
        .as_ref()
        .and_then(|o| o.factors_key.as_ref())
        .map(|_| layout.factors());
    if let Some(o) = &evaluation {
        expected.extend(&o.files);
    }
    Ok(Some(CurrentModel {
        run_id: model.run_id.clone(),
        metrics: evaluation.and_then(|o| o.evaluation.map(|e| e.model)),
        factors,
        store: CheckedStore::new(ctx.store.clone(), expected, guarded),
    }))
}

impl CurrentModel {
    /// Its article factors (a warm start's), when its run wrote them and
    /// the store still has them.
    ///
    /// # Errors
    /// `Corrupt` naming the file when it is not as its run wrote it, or
    /// holds a value that is not a number.
    pub(super) async fn factors(&self) -> Result<Option<PreviousFactors>> {
        let Some(key) = &self.factors else {
            return Ok(None);
        };
        let file = match Factors::read(&self.store, key).await {
            Ok(file) => file,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(damaged(e)),
        };
        let f = file.columns()?;
        if let Some(v) = f.values.iter().find(|v| !v.is_finite()) {
            return Err(damaged(Error::Corrupt {
                key: key.to_string(),
                why: format!("it holds a factor of {v}"),
            }));
        }
        let rows = f
            .external_id
            .iter()
            .zip(f.values.chunks_exact(f.k.max(1)))
            .map(|(id, v)| ((*id).to_string(), v.to_vec()))
            .collect();
        Ok(Some(PreviousFactors { k: f.k, rows }))
    }
}
