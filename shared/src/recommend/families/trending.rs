//! Reads weighted by how recent they are, `0.5 ^ (hours ago / half life)`,
//! for every article.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::baselines::SameForAll;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams, Role};
use crate::recommend::reads::Reads;

#[derive(Debug, Serialize, Deserialize)]
struct Params {
    half_life_hours: f64,
}

pub struct Trending;
pub static FAMILY: Trending = Trending;

impl Family for Trending {
    fn name(&self) -> &'static str {
        "trending"
    }
    fn role(&self) -> Role {
        Role::Baseline
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        [6.0, 24.0]
            .map(|half_life_hours| ModelSpec::with(self.name(), &Params { half_life_hours }))
            .to_vec()
    }
    fn fit(&self, spec: &ModelSpec, reads: &Reads, p: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        let Params { half_life_hours } = spec.params()?;
        Ok(Fitted::plain(Arc::new(SameForAll::trending(reads, p.at_ms, half_life_hours))))
    }
}
