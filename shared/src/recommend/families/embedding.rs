//! Cosine of the articles' vectors from the operator's static embedding
//! model (`CONTENT_EMBEDDINGS`); measured only when one is configured.

use std::sync::Arc;

use crate::contract::error::{Error, Result};
use crate::contract::evaluation::ModelSpec;
use crate::recommend::content_embedding::EmbeddingCosine;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams, Role};
use crate::recommend::reads::Reads;

/// Why embeddings cannot be fitted.
pub const NO_VECTORS: &str = "no article has a vector from the CONTENT_EMBEDDINGS model";

pub struct Embedding;
pub static FAMILY: Embedding = Embedding;

/// Neighbours of the articles' text vectors; `None` when no article has one.
pub fn model(vectors: &[Vec<f32>]) -> Option<EmbeddingCosine> {
    vectors
        .iter()
        .any(|v| !v.is_empty())
        .then(|| EmbeddingCosine::new(vectors))
}

impl Family for Embedding {
    fn name(&self) -> &'static str {
        "embedding"
    }
    fn role(&self) -> Role {
        Role::Text
    }
    fn grid(&self, p: &GridParams<'_>) -> Vec<ModelSpec> {
        if p.embeddings {
            vec![ModelSpec::named(self.name())]
        } else {
            Vec::new()
        }
    }
    fn unavailable(&self, p: &FitParams<'_>) -> Option<&'static str> {
        p.embeddings.iter().all(Vec::is_empty).then_some(NO_VECTORS)
    }
    fn fit(&self, _: &ModelSpec, _: &Reads, p: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        let model = model(p.embeddings).ok_or_else(|| Error::InvalidInput(NO_VECTORS.into()))?;
        Ok(Fitted::plain(Arc::new(model)))
    }
}
