//! A test-only family, registered in one line like any other: the least
//! read articles for every article, which selection must measure and rank
//! below popularity.

use std::sync::Arc;

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::baselines::SameForAll;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams, Role};
use crate::recommend::reads::Reads;

pub struct LeastRead;
pub static FAMILY: LeastRead = LeastRead;

impl Family for LeastRead {
    fn name(&self) -> &'static str {
        "least_read"
    }
    fn role(&self) -> Role {
        Role::Baseline
    }
    fn by_default(&self) -> bool {
        false
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        vec![ModelSpec::named(self.name())]
    }
    fn fit(&self, _: &ModelSpec, reads: &Reads, _: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        let most = SameForAll::most_read(reads);
        let top = most.scores().iter().copied().fold(0.0f32, f32::max);
        Ok(Fitted::plain(Arc::new(SameForAll::new(
            most.scores().iter().map(|s| top - s).collect(),
        ))))
    }
}
