//! Model selection: every candidate (each family over a small grid) is fitted
//! on the training part and answers the same holdout questions with its
//! served lists; the best by MRR (ties: hit rate) wins and is refitted on the
//! whole window. Nothing is assumed: the popularity baseline is a candidate
//! too, and a family wins only where it measures best.

use std::sync::Arc;
use std::time::Instant;

use crate::contract::error::Result;
use crate::contract::evaluation::{Candidate, HoldoutMetrics, ModelSpec};
use crate::recommend::als::AlsParams;
use crate::recommend::families::{hybrid, FAMILIES};
use crate::recommend::family::{self, Family, GridParams, Role};
pub use crate::recommend::family::{FitParams, Fitted};
use crate::recommend::hybrid::Hybrid;
use crate::recommend::item_item::ItemItem;
use crate::recommend::reads::Reads;
use crate::settings::SelectionParams;
use crate::stages::train::evaluation::Holdout;

/// The candidates measured, cheapest first (the order of [`FAMILIES`]), so
/// a time budget cuts the expensive ones. The popularity baseline always
/// comes first.
pub fn grid(selection: &SelectionParams, als: &AlsParams) -> Vec<ModelSpec> {
    let p = GridParams {
        als,
        embeddings: selection.embeddings.is_some(),
    };
    FAMILIES
        .iter()
        .filter(|f| f.always() || selection.families.iter().any(|x| x == f.name()))
        .flat_map(|f| f.grid(&p))
        .collect()
}

/// # Errors
/// `Bug` when EASE's Gram matrix cannot be factorised; `InvalidInput` for
/// content without any article text, embeddings without any vector, a
/// family not registered.
pub fn fit(
    spec: &ModelSpec,
    reads: &Reads,
    p: &FitParams<'_>,
    mut on_iteration: impl FnMut(u32, f64),
) -> Result<Fitted> {
    family::fit(spec, reads, p, &mut on_iteration)
}

fn role(spec: &ModelSpec) -> Option<Role> {
    family::find(FAMILIES, spec.family()).map(Family::role)
}

/// A measured model kept for the blends, with its (MRR, hit rate).
type Kept = (ModelSpec, Arc<dyn ItemItem>, (f64, f64));

/// The leaderboard (best first, then what was skipped) and the winner with
/// its evaluation loss. `budget_secs` bounds the measuring; a candidate is
/// started only while time is left. With `blend` (`hybrid` among the families), the
/// best collaborative candidate is then blended with content over
/// [`hybrid::KS`].
pub fn select(
    holdout: &Holdout,
    specs: &[ModelSpec],
    blend: bool,
    p: &FitParams<'_>,
    k: usize,
    budget_secs: f64,
    mut on_candidate: impl FnMut(&Candidate),
) -> (Vec<Candidate>, Option<(ModelSpec, Vec<f64>)>) {
    let started = Instant::now();
    let serving = holdout.serving(k);
    let mut board: Vec<(Candidate, Vec<f64>)> = Vec::with_capacity(specs.len());
    let skipped = |spec: &ModelSpec, secs: f64, why: String| Candidate {
        spec: spec.clone(),
        metrics: None,
        secs,
        skipped: Some(why),
        slices: None,
    };
    let out_of_time =
        |board: &[(Candidate, Vec<f64>)]| started.elapsed().as_secs_f64() > budget_secs && !board.is_empty();
    let measure = |spec: &ModelSpec, model: &dyn ItemItem, t: Instant| {
        let lists = model.neighbours(&holdout.sources, &serving);
        Candidate {
            spec: spec.clone(),
            metrics: Some(holdout.measure(&lists, k)),
            secs: t.elapsed().as_secs_f64(),
            skipped: None,
            slices: Some(holdout.measure_slices(&lists, k)),
        }
    };
    // kept for the blends: the best text model, and the best collaborative model so far
    let mut text: Option<Kept> = None;
    let mut best_collaborative: Option<Kept> = None;
    for spec in specs {
        let candidate = if out_of_time(&board) {
            (
                skipped(spec, 0.0, format!("time budget of {budget_secs:.0} s spent")),
                Vec::new(),
            )
        } else if let Some(why) = family::find(p.families, spec.family()).and_then(|f| f.unavailable(p)) {
            (skipped(spec, 0.0, why.into()), Vec::new())
        } else {
            let t = Instant::now();
            match fit(spec, &holdout.fitting.reads, p, |_, _| {}) {
                Ok(fitted) => {
                    let c = measure(spec, fitted.model.as_ref(), t);
                    let m = c.metrics.map(|m| (m.mrr, m.hit_rate)).unwrap_or_default();
                    let role = role(spec);
                    if role == Some(Role::Text) && text.as_ref().is_none_or(|b| m > b.2) {
                        text = Some((spec.clone(), fitted.model.clone(), m));
                    } else if role == Some(Role::Collaborative)
                        && best_collaborative.as_ref().is_none_or(|b| m > b.2)
                    {
                        best_collaborative = Some((spec.clone(), fitted.model.clone(), m));
                    }
                    (c, fitted.loss)
                }
                Err(e) => (
                    skipped(spec, t.elapsed().as_secs_f64(), format!("fit failed: {e}")),
                    Vec::new(),
                ),
            }
        };
        on_candidate(&candidate.0);
        board.push(candidate);
    }
    if let (true, Some((text_spec, text, _)), Some((base, model, _))) = (blend, text, best_collaborative) {
        let readers = holdout.fitting.reads.readers_per_article();
        for k_readers in hybrid::KS {
            let spec = hybrid::spec(
                &base,
                k_readers,
                text_spec.family() == crate::recommend::families::embedding::FAMILY.name(),
            );
            let candidate = if out_of_time(&board) {
                skipped(&spec, 0.0, format!("time budget of {budget_secs:.0} s spent"))
            } else {
                let t = Instant::now();
                let h = Hybrid::new(model.clone(), text.clone(), readers.clone(), k_readers);
                measure(&spec, &h, t)
            };
            on_candidate(&candidate);
            board.push((candidate, Vec::new()));
        }
    }
    // best first: MRR, then hit rate, then the earlier (cheaper) candidate
    let key = |m: &Option<HoldoutMetrics>| m.map(|m| (m.mrr, m.hit_rate));
    let mut order: Vec<usize> = (0..board.len()).collect();
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(&board[a].0.metrics), key(&board[b].0.metrics));
        match (ka, kb) {
            (Some(x), Some(y)) => y.0.total_cmp(&x.0).then(y.1.total_cmp(&x.1)).then(a.cmp(&b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(&b),
        }
    });
    let winner = order
        .first()
        .filter(|&&i| board[i].0.metrics.is_some())
        .map(|&i| (board[i].0.spec.clone(), board[i].1.clone()));
    let mut slots: Vec<Option<(Candidate, Vec<f64>)>> = board.into_iter().map(Some).collect();
    let leaderboard = order
        .iter()
        .filter_map(|&i| slots[i].take().map(|c| c.0))
        .collect();
    (leaderboard, winner)
}

#[cfg(test)]
mod tests;
