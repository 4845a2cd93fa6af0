//! What a model family is to model selection: a name, the grid of settings
//! measured, and how a spec of it is fitted into an [`ItemItem`] model. Each
//! family is one file in [`super::families`], registered there in one line.

use std::sync::Arc;

use ndarray::Array2;

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::als::AlsParams;
use crate::recommend::item_item::ItemItem;
use crate::recommend::reads::Reads;

/// What part a family plays in selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The same list for every article (popularity and the like).
    Baseline,
    /// Learned from who read what.
    Collaborative,
    /// From the articles' text; blended with the best collaborative model.
    Text,
    /// The blend of the best collaborative and text models (`hybrid`):
    /// measured after the others, never in the grid.
    Blend,
}

/// The settings the grids read.
#[derive(Debug, Clone)]
pub struct GridParams<'a> {
    pub als: &'a AlsParams,
    /// Whether an embedding model is configured (`CONTENT_EMBEDDINGS`).
    pub embeddings: bool,
}

/// What a fit needs besides the reads.
#[derive(Clone)]
pub struct FitParams<'a> {
    pub als: &'a AlsParams,
    /// EASE's article limit (`EASE_MAX_ARTICLES`).
    pub ease_max_articles: usize,
    /// Sequential rules' longest gap between two reads (`RULES_MAX_GAP_HOURS`).
    pub rules_max_gap_hours: f64,
    pub seed: u64,
    /// Reference time of trending (the cut, or the run's as-of).
    pub at_ms: i64,
    /// The defaults' rule per article (the popularity candidate).
    pub popularity: &'a [f32],
    /// A previous ALS model's article factors to start from.
    pub warm_start: &'a [Option<&'a [f32]>],
    /// Each article's text terms (content and hybrid).
    pub terms: &'a [Vec<String>],
    /// Each article's text vector, empty for none (embedding and hybrid).
    pub embeddings: &'a [Vec<f32>],
    /// Every family, for a blend to fit its base.
    pub families: &'a [&'static dyn Family],
}

/// A fitted candidate: its model and, for ALS, its loss and factors.
pub struct Fitted {
    pub model: Arc<dyn ItemItem>,
    pub loss: Vec<f64>,
    pub factors: Option<Array2<f32>>,
}

impl Fitted {
    /// A model without loss or factors.
    pub fn plain(model: Arc<dyn ItemItem>) -> Fitted {
        Fitted {
            model,
            loss: Vec::new(),
            factors: None,
        }
    }
}

/// A model family.
pub trait Family: Sync {
    /// Its name in `MODEL_FAMILIES` and in every spec of it.
    fn name(&self) -> &'static str;

    fn role(&self) -> Role {
        Role::Collaborative
    }

    /// Measured on every run, whatever `MODEL_FAMILIES` says (popularity).
    fn always(&self) -> bool {
        false
    }

    /// In `MODEL_FAMILIES`' default.
    fn by_default(&self) -> bool {
        true
    }

    /// The specs measured, cheapest first.
    fn grid(&self, p: &GridParams<'_>) -> Vec<ModelSpec>;

    /// Why it cannot be fitted on these articles, checked before fitting
    /// (content without any text).
    fn unavailable(&self, _p: &FitParams<'_>) -> Option<&'static str> {
        None
    }

    /// # Errors
    /// A spec whose parameters do not fit the family, or a fit that fails.
    fn fit(
        &self,
        spec: &ModelSpec,
        reads: &Reads,
        p: &FitParams<'_>,
        on_iteration: &mut dyn FnMut(u32, f64),
    ) -> Result<Fitted>;
}

/// The family named `name` in `families`.
pub fn find(families: &[&'static dyn Family], name: &str) -> Option<&'static dyn Family> {
    families.iter().copied().find(|f| f.name() == name)
}

/// Fits `spec` with its family from `p.families`.
///
/// # Errors
/// `InvalidInput` for a family not registered; the family's own errors.
pub fn fit(
    spec: &ModelSpec,
    reads: &Reads,
    p: &FitParams<'_>,
    on_iteration: &mut dyn FnMut(u32, f64),
) -> Result<Fitted> {
    let family = find(p.families, spec.family()).ok_or_else(|| {
        crate::contract::error::Error::InvalidInput(format!("no model family is named {:?}", spec.family()))
    })?;
    family.fit(spec, reads, p, on_iteration)
}
