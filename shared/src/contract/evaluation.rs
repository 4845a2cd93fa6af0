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
    /// The chosen model's figures.
    pub model: HoldoutMetrics,
    /// The popularity baseline's (the defaults' rule on the training part).
    pub popularity: HoldoutMetrics,
    /// Training loss per iteration of the chosen model's evaluation fit (ALS).
    pub loss: Vec<f64>,
    /// Every candidate measured, best first, and those not reached.
    #[serde(default)]
    pub leaderboard: Vec<Candidate>,
    /// The best candidate by MRR (ties: hit rate), refitted on the whole window.
    #[serde(default)]
    pub winner: Option<ModelSpec>,
    /// A question is cold when its source or its answer had fewer than this
    /// many readers before the cut (or was published after it).
    #[serde(default)]
    pub cold_readers: u32,
    /// The chosen model's figures on the cold and warm questions.
    #[serde(default)]
    pub model_slices: Option<Slices>,
    /// The popularity baseline's.
    #[serde(default)]
    pub popularity_slices: Option<Slices>,
}

/// Figures on the holdout's two slices: questions about fresh or barely read
/// articles (cold), and the rest (warm). Together they are all the questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slices {
    pub cold: HoldoutMetrics,
    pub warm: HoldoutMetrics,
}

/// A model family with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum ModelSpec {
    /// The default recommendations' rule (the baseline every model must beat).
    Popularity,
    MostRead,
    Trending {
        half_life_hours: f64,
    },
    Als {
        factors: usize,
        regularization: f32,
    },
    ItemKnn {
        shrinkage: f32,
    },
    SequentialRules {
        window: usize,
        reverse: f32,
    },
    Ease {
        lambda: f32,
    },
    /// TF-IDF cosine over the articles' title, excerpt and terms.
    Content,
    /// Cosine of the articles' vectors from the operator's static embedding
    /// model (`CONTENT_EMBEDDINGS`).
    Embedding,
    /// `w * base + (1 - w) * content`, `w = n / (n + k)` for a source read
    /// by `n` readers: content speaks for the little-read articles. The
    /// content part is TF-IDF, or the embeddings when `embedding`.
    Hybrid {
        base: Box<ModelSpec>,
        k: f32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        embedding: bool,
    },
}

impl ModelSpec {
    pub fn family(&self) -> &'static str {
        match self {
            ModelSpec::Popularity => "popularity",
            ModelSpec::MostRead => "most_read",
            ModelSpec::Trending { .. } => "trending",
            ModelSpec::Als { .. } => "als",
            ModelSpec::ItemKnn { .. } => "item_knn",
            ModelSpec::SequentialRules { .. } => "sequential_rules",
            ModelSpec::Ease { .. } => "ease",
            ModelSpec::Content => "content",
            ModelSpec::Embedding => "embedding",
            ModelSpec::Hybrid { .. } => "hybrid",
        }
    }

    /// The same list for every article.
    pub fn is_baseline(&self) -> bool {
        matches!(
            self,
            ModelSpec::Popularity | ModelSpec::MostRead | ModelSpec::Trending { .. }
        )
    }
}

impl std::fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSpec::Popularity | ModelSpec::MostRead => f.write_str(self.family()),
            ModelSpec::Trending { half_life_hours } => write!(f, "trending(half_life={half_life_hours}h)"),
            ModelSpec::Als {
                factors,
                regularization,
            } => write!(f, "als(factors={factors},reg={regularization})"),
            ModelSpec::ItemKnn { shrinkage } => write!(f, "item_knn(shrinkage={shrinkage})"),
            ModelSpec::SequentialRules { window, reverse } => {
                write!(f, "sequential_rules(window={window},reverse={reverse})")
            }
            ModelSpec::Ease { lambda } => write!(f, "ease(lambda={lambda})"),
            ModelSpec::Content | ModelSpec::Embedding => f.write_str(self.family()),
            ModelSpec::Hybrid {
                base,
                k,
                embedding: false,
            } => write!(f, "hybrid({base},k={k})"),
            ModelSpec::Hybrid {
                base,
                k,
                embedding: true,
            } => write!(f, "hybrid({base},embedding,k={k})"),
        }
    }
}

/// One line of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub spec: ModelSpec,
    /// `None` when it was not measured (see `skipped`).
    pub metrics: Option<HoldoutMetrics>,
    /// Seconds to fit and answer the holdout.
    pub secs: f64,
    /// Why it was not measured (the time budget, a failed fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The same figures on the cold and the warm questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Slices>,
}

/// The gate's decision, with the reason a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateDecision {
    pub promote: bool,
    pub reason: String,
    /// The online check's finding, when the serving article model's
    /// click-through rate fell significantly below its predecessor's: it does
    /// not stop promotion, it says a rollback is worth a look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_warning: Option<String>,
}

/// A rule for the default list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum DefaultsRule {
    /// Dwell per reader over the most recent interactions, publish-decayed.
    Original,
    /// Readers per article whose first read is within the last `hours` (all: `None`).
    MostRead { hours: Option<f64> },
    /// Reads weighted by `0.5 ^ (hours ago / half_life_hours)`.
    Trending { half_life_hours: f64 },
}

impl std::fmt::Display for DefaultsRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefaultsRule::Original => f.write_str("original"),
            DefaultsRule::MostRead { hours: None } => f.write_str("most_read(window)"),
            DefaultsRule::MostRead { hours: Some(h) } => write!(f, "most_read({h}h)"),
            DefaultsRule::Trending { half_life_hours } => write!(f, "trending(half_life={half_life_hours}h)"),
        }
    }
}

/// A rule's figures on the unknown readers' first reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleScore {
    pub rule: DefaultsRule,
    pub questions: u64,
    pub hit_rate: f64,
    pub mrr: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec is stored (evaluation.json, the model table): a hybrid
    /// written before embeddings existed still reads as the TF-IDF blend,
    /// and that blend is written the same as before.
    #[test]
    fn a_hybrid_spec_reads_and_writes_as_before_and_names_its_text_part() {
        let old = r#"{"family":"hybrid","base":{"family":"ease","lambda":500.0},"k":10.0}"#;
        let spec: ModelSpec = serde_json::from_str(old).unwrap();
        let tfidf = ModelSpec::Hybrid {
            base: Box::new(ModelSpec::Ease { lambda: 500.0 }),
            k: 10.0,
            embedding: false,
        };
        assert_eq!(spec, tfidf);
        assert_eq!(serde_json::to_string(&tfidf).unwrap(), old);
        assert_eq!(tfidf.to_string(), "hybrid(ease(lambda=500),k=10)");
        let vectors = ModelSpec::Hybrid {
            base: Box::new(ModelSpec::Ease { lambda: 500.0 }),
            k: 10.0,
            embedding: true,
        };
        let json = serde_json::to_string(&vectors).unwrap();
        assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), vectors);
        assert_eq!(vectors.to_string(), "hybrid(ease(lambda=500),embedding,k=10)");
        assert_eq!(
            serde_json::to_string(&ModelSpec::Embedding).unwrap(),
            r#"{"family":"embedding"}"#
        );
    }
}
