//! The defaults' rule as an article model: the same list for every article.
//! The baseline every model must beat, measured on every run.

use std::sync::Arc;

use crate::contract::error::Result;
use crate::contract::evaluation::{ModelSpec, POPULARITY};
use crate::recommend::baselines::SameForAll;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams, Role};
use crate::recommend::reads::Reads;

pub struct Popularity;
pub static FAMILY: Popularity = Popularity;

impl Family for Popularity {
    fn name(&self) -> &'static str {
        POPULARITY
    }
    fn role(&self) -> Role {
        Role::Baseline
    }
    fn always(&self) -> bool {
        true
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        vec![ModelSpec::popularity()]
    }
    fn fit(&self, _: &ModelSpec, _: &Reads, p: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        Ok(Fitted::plain(Arc::new(SameForAll::new(p.popularity.to_vec()))))
    }
}
