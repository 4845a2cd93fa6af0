//! Implicit matrix factorisation (ALS), served by the cosine of the article
//! factors; warm-started from the current model's factors when they fit.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::als::{self, AlsParams};
use crate::recommend::factor_cosine::FactorCosine;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams};
use crate::recommend::reads::Reads;

#[derive(Debug, Serialize, Deserialize)]
struct Params {
    factors: usize,
    regularization: f32,
}

pub struct Als;
pub static FAMILY: Als = Als;

/// The number of factors of an ALS spec, or of the ALS base of a blend.
pub fn factors(spec: &ModelSpec) -> Option<usize> {
    let spec = spec.nested("base").unwrap_or_else(|| spec.clone());
    (spec.family() == FAMILY.name())
        .then(|| spec.params::<Params>().ok().map(|p| p.factors))
        .flatten()
}

/// The spec of ALS as configured (what is fitted when nothing is evaluated).
pub fn configured(als: &AlsParams) -> ModelSpec {
    ModelSpec::with(
        FAMILY.name(),
        &Params {
            factors: als.factors,
            regularization: als.regularization,
        },
    )
}

impl Family for Als {
    fn name(&self) -> &'static str {
        "als"
    }
    fn grid(&self, p: &GridParams<'_>) -> Vec<ModelSpec> {
        let mut factors = vec![32, p.als.factors, 128];
        factors.sort_unstable();
        factors.dedup();
        factors
            .into_iter()
            .map(|factors| {
                let params = Params {
                    factors,
                    regularization: p.als.regularization,
                };
                ModelSpec::with(self.name(), &params)
            })
            .collect()
    }
    fn fit(
        &self,
        spec: &ModelSpec,
        reads: &Reads,
        p: &FitParams<'_>,
        on_iteration: &mut dyn FnMut(u32, f64),
    ) -> Result<Fitted> {
        let Params {
            factors,
            regularization,
        } = spec.params()?;
        let warm = p.warm_start.iter().any(|s| s.is_some_and(|v| v.len() == factors));
        let params = AlsParams {
            factors,
            regularization,
            iterations: if warm {
                p.als.warm_iterations
            } else {
                p.als.iterations
            },
            ..p.als.clone()
        };
        let matrix = reads.confidence_matrix(params.alpha);
        let f = als::fit_warm(&matrix, &params, p.seed, p.warm_start, on_iteration);
        Ok(Fitted {
            model: Arc::new(FactorCosine::new(f.articles.view(), &reads.readers_per_article())),
            loss: f.loss,
            factors: Some(f.articles),
        })
    }
}
