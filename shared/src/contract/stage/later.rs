//! The inputs and outputs of the stages after fetch: preprocess, defaults,
//! train and save.

use serde::{Deserialize, Serialize};

use super::{FetchOutput, RunRef};
use crate::contract::integrity::Files;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreprocessInput {
    pub run: RunRef,
    /// Where preprocess finds fetch's files and their digests.
    pub fetch: FetchOutput,
}

/// Events, readers and articles after each preprocessing step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    pub events: u64,
    pub article_events: u64,
    pub readers_before_filter: u64,
    pub articles_before_filter: u64,
    pub filter_passes: u32,
    pub readers: u64,
    pub articles: u64,
    pub pairs: u64,
}

/// Where the kept articles' metadata came from this run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataCounts {
    /// Settled in the database (published over a day ago): not looked up.
    pub cached: u64,
    /// Asked of the site (new, undated, or published within the last day).
    pub looked_up: u64,
    pub found: u64,
    /// The site does not know them (with a reason: never recommended).
    pub unknown: u64,
    /// Found or unknown with an exclusion reason.
    pub excluded: u64,
    /// The lookup failed: no metadata this run; asked again next run.
    pub failed: u64,
    /// Stories the site listed as published within the window.
    #[serde(default)]
    pub listed: u64,
    /// Of those, the ones no kept reader read: sources and candidates all
    /// the same (content speaks for them).
    #[serde(default)]
    pub unread: u64,
    /// 1 when the listing failed this run (the run goes on with the articles read).
    #[serde(default)]
    pub listing_failed: u64,
}

/// A site's current model, as the database had it when preprocess ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentModel {
    pub id: i64,
    /// The run that saved it: its files (factors, evaluation) are under its prefix.
    pub run_id: String,
    /// The digest of its run's `evaluation.json`, as save recorded it (none
    /// for models saved before digests were): train reads that file, and
    /// through it the factors, only as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_digest: Option<crate::contract::integrity::Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreprocessOutput {
    pub articles_key: String,
    pub dwell_key: String,
    /// The files written, with digests.
    #[serde(default)]
    pub files: Files,
    pub funnel: Funnel,
    #[serde(default)]
    pub metadata: MetadataCounts,
    /// The site's current article model, read here so that train, which
    /// needs it for its warm start and the gate, needs no database.
    #[serde(default)]
    pub current_article_model: Option<CurrentModel>,
    /// `online.json`: the online evaluation, when the run had a widget events file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultsInput {
    pub run: RunRef,
    /// Where defaults finds preprocess's files and their digests.
    pub preprocess: PreprocessOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefaultsOutput {
    pub defaults_key: String,
    /// The files written, with digests.
    #[serde(default)]
    pub files: Files,
    pub count: u64,
    /// The rule that scored best on the readers the training part does not
    /// know (the original rule when there is no holdout).
    #[serde(default)]
    pub rule: Option<crate::contract::evaluation::DefaultsRule>,
    /// Every rule's figures, best first.
    #[serde(default)]
    pub leaderboard: Vec<crate::contract::evaluation::RuleScore>,
    /// Why `rule` is not the best measured rule: that one could not fill a
    /// list on the whole window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainInput {
    pub run: RunRef,
    /// Where train learns the site's current model (it opens no database).
    pub preprocess: PreprocessOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutput {
    /// The chosen family and settings of the saved model (its lists are
    /// `recs_key`); `None` when nothing was refitted (the gate refused).
    #[serde(default)]
    pub model: Option<crate::contract::evaluation::ModelSpec>,
    /// `article_recs.parquet`: the lists save writes, when the gate promoted.
    #[serde(default)]
    pub recs_key: Option<String>,
    /// Seconds the production fit and its lists took.
    #[serde(default)]
    pub fit_secs: f64,
    /// `article_factors.parquet`, when the saved model is ALS (a later
    /// run's warm start).
    #[serde(default)]
    pub factors_key: Option<String>,
    /// `evaluation.json`: this output, where save reads the gate's decision.
    pub evaluation_key: String,
    /// The files written, with digests: in `evaluation.json` the lists and
    /// factors; on the wire also `evaluation.json` itself.
    #[serde(default)]
    pub files: Files,
    /// `online.json`, when the run had widget events to look at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_key: Option<String>,
    /// The online evaluation in brief.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<crate::contract::online::OnlineHeadline>,
    pub readers: u64,
    pub articles: u64,
    pub nonzeros: u64,
    /// ALS only: factors and iterations of the production fit.
    #[serde(default)]
    pub factors: u32,
    #[serde(default)]
    pub iterations: u32,
    /// Loss after each iteration of the production model (ALS).
    #[serde(default)]
    pub loss: Vec<f64>,
    /// The run the production model started from, when warm-started.
    pub warm_start_from: Option<String>,
    /// Articles whose factors came from that run.
    pub warm_start_articles: u64,
    /// The holdout figures of the model and of the popularity baseline.
    pub evaluation: Option<crate::contract::evaluation::Evaluation>,
    /// The current model's own holdout figures, when it was evaluated.
    pub current_model: Option<crate::contract::evaluation::HoldoutMetrics>,
    pub gate: crate::contract::evaluation::GateDecision,
}

/// Save reads the run's files, checked against the digests the earlier
/// stages' outputs (the state) carry; those outputs also feed the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveInput {
    pub run: RunRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchOutput>,
    pub preprocess: PreprocessOutput,
    /// The defaults and train outputs (the state's `model`).
    pub model: ModelOutputs,
}

/// What the Parallel state of defaults and train hands on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutputs {
    pub defaults: DefaultsOutput,
    pub train: TrainOutput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveOutput {
    /// The article model this run saved; `None` when the quality gate kept
    /// the current one.
    pub article_model_id: Option<i64>,
    /// Why the current article model was kept: the quality gate's reason,
    /// or too few recommendations to replace it with.
    #[serde(default)]
    pub article_model_rejected: Option<String>,
    /// The defaults the API serves: this run's, or the current ones when
    /// `defaults_rejected` says why this run's did not replace them (0: none).
    pub popularity_model_id: i64,
    /// Why this run's default list did not replace the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults_rejected: Option<String>,
    pub articles_upserted: u64,
    pub recs_written: u64,
    pub default_recs_written: u64,
    /// False when this run's models were already saved (a retried save).
    pub newly_saved: bool,
    /// Pending models of runs that died midway, deleted by this save.
    #[serde(default)]
    pub pending_discarded: u64,
    /// Retired models beyond `KEEP_MODELS`, deleted by this save.
    #[serde(default)]
    pub models_pruned: u64,
    /// The run report (HTML) beside the run's files.
    #[serde(default)]
    pub report_key: String,
}
