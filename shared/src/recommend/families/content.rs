//! TF-IDF cosine over the articles' title, excerpt and terms.

use std::sync::Arc;

use crate::contract::error::{Error, Result};
use crate::contract::evaluation::ModelSpec;
use crate::recommend::content_tfidf::ContentTfidf;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams, Role};
use crate::recommend::reads::Reads;

/// Why content cannot be fitted.
pub const NO_TEXT: &str = "no article has text (title, excerpt, section or tags)";

pub struct Content;
pub static FAMILY: Content = Content;

/// Content neighbours of the articles' terms; `None` when no article has text.
pub fn model(terms: &[Vec<String>]) -> Option<ContentTfidf> {
    terms
        .iter()
        .any(|t| !t.is_empty())
        .then(|| ContentTfidf::fit(terms))
}

impl Family for Content {
    fn name(&self) -> &'static str {
        "content"
    }
    fn role(&self) -> Role {
        Role::Text
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        vec![ModelSpec::named(self.name())]
    }
    fn unavailable(&self, p: &FitParams<'_>) -> Option<&'static str> {
        p.terms.iter().all(Vec::is_empty).then_some(NO_TEXT)
    }
    fn fit(&self, _: &ModelSpec, _: &Reads, p: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        let model = model(p.terms).ok_or_else(|| Error::InvalidInput(NO_TEXT.into()))?;
        Ok(Fitted::plain(Arc::new(model)))
    }
}
