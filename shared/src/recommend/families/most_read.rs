//! The articles most readers read in the window, for every article.

use std::sync::Arc;

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::baselines::SameForAll;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams, Role};
use crate::recommend::reads::Reads;

pub struct MostRead;
pub static FAMILY: MostRead = MostRead;

impl Family for MostRead {
    fn name(&self) -> &'static str {
        "most_read"
    }
    fn role(&self) -> Role {
        Role::Baseline
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        vec![ModelSpec::named(self.name())]
    }
    fn fit(&self, _: &ModelSpec, reads: &Reads, _: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        Ok(Fitted::plain(Arc::new(SameForAll::most_read(reads))))
    }
}
