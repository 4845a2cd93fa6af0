//! EASE (Steck 2019): the closed-form item-item weights of a ridge
//! regression of each article's readers on the others'.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::ease::Ease;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams};
use crate::recommend::reads::Reads;

#[derive(Debug, Serialize, Deserialize)]
struct Params {
    lambda: f32,
}

/// EASE at `lambda`.
pub fn spec(lambda: f32) -> ModelSpec {
    ModelSpec::with(FAMILY.name(), &Params { lambda })
}

pub struct EaseFamily;
pub static FAMILY: EaseFamily = EaseFamily;

impl Family for EaseFamily {
    fn name(&self) -> &'static str {
        "ease"
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        [100.0, 500.0, 3000.0]
            .map(spec)
            .to_vec()
    }
    fn fit(&self, spec: &ModelSpec, reads: &Reads, p: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        let Params { lambda } = spec.params()?;
        Ok(Fitted::plain(Arc::new(Ease::fit(reads, lambda, p.ease_max_articles)?)))
    }
}
