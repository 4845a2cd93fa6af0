//! What an offline evaluation reports, on the wire between train and save
//! and in `evaluation.json`.

use serde::{Deserialize, Serialize};

/// Figures of one recommender on the holdout questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldoutMetrics {
    /// Questions asked (after sampling).
    pub questions: u64,
    /// Share of questions whose next article is in the top `k`.
    pub hit_rate: f64,
    /// Mean of `1 / rank` of the next article, 0 when it is not in the top `k`.
    pub mrr: f64,
    /// Mean over questions whose next article the model knows of the share of
    /// other candidates scored below it (ties count half).
    pub auc: f64,
    /// Share of recommendable articles that appear in at least one top-`k` list.
    pub coverage: f64,
}

/// The evaluation of one run, written beside its outputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Epoch ms of the cut: holdout reads start here.
    pub holdout_start_ms: i64,
    pub train_readings: u64,
    pub holdout_readings: u64,
    /// Questions the holdout gave, before sampling.
    pub questions_found: u64,
    /// Recommendation list length the metrics are measured at.
    pub k: u32,
    pub model: HoldoutMetrics,
    pub popularity: HoldoutMetrics,
    /// Training loss per iteration of the evaluation model.
    pub loss: Vec<f64>,
}

/// The gate's decision, with the reason a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateDecision {
    pub promote: bool,
    pub reason: String,
}
