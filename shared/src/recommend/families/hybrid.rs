//! `w * base + (1 - w) * text`, `w = n / (n + k)` for a source read by `n`
//! readers: the text model speaks for the little-read articles. The text
//! part is TF-IDF, or the embeddings when `embedding`. Selection blends the
//! best collaborative candidate with the better text one over [`KS`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::error::{Error, Result};
use crate::contract::evaluation::ModelSpec;
use crate::recommend::family::{self, Family, FitParams, Fitted, GridParams, Role};
use crate::recommend::hybrid::Hybrid;
use crate::recommend::item_item::ItemItem;
use crate::recommend::reads::Reads;

/// The blends measured: `k` readers at which text and readers weigh the
/// same. The two ends, the collaborative model alone and the text alone, are
/// candidates of their own, so the blend chosen can never be worse on the
/// holdout than either.
pub const KS: [f32; 3] = [2.0, 10.0, 50.0];

#[derive(Debug, Serialize, Deserialize)]
struct Params {
    base: ModelSpec,
    k: f32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    embedding: bool,
}

pub struct Blend;
pub static FAMILY: Blend = Blend;

/// The blend of `base` with the text model (`embedding`: the vectors) at `k`.
pub fn spec(base: &ModelSpec, k: f32, embedding: bool) -> ModelSpec {
    let params = Params {
        base: base.clone(),
        k,
        embedding,
    };
    ModelSpec::with(FAMILY.name(), &params)
}

/// Whether a blend's text part is the embeddings.
pub fn uses_embedding(spec: &ModelSpec) -> bool {
    spec.params::<Params>().is_ok_and(|p| p.embedding)
}

impl Family for Blend {
    fn name(&self) -> &'static str {
        "hybrid"
    }
    fn role(&self) -> Role {
        Role::Blend
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        Vec::new()
    }
    fn fit(
        &self,
        spec: &ModelSpec,
        reads: &Reads,
        p: &FitParams<'_>,
        on_iteration: &mut dyn FnMut(u32, f64),
    ) -> Result<Fitted> {
        let Params { base, k, embedding } = spec.params()?;
        if family::find(p.families, base.family()).is_some_and(|f| f.role() == Role::Blend) {
            return Err(Error::InvalidInput(format!("{spec}: a blend's base cannot be a blend")));
        }
        let text_family = if embedding {
            super::embedding::FAMILY.name()
        } else {
            super::content::FAMILY.name()
        };
        let text = family::fit(&ModelSpec::named(text_family), reads, p, &mut |_, _| {})?;
        let base = family::fit(&base, reads, p, on_iteration)?;
        let model: Arc<dyn ItemItem> =
            Arc::new(Hybrid::new(base.model, text.model, reads.readers_per_article(), k));
        Ok(Fitted { model, ..base })
    }
}
