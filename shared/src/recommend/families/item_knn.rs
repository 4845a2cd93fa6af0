//! Item-based nearest neighbours: cosine of the articles' reader columns,
//! shrunk towards zero for articles few read.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams};
use crate::recommend::item_knn::ItemKnn;
use crate::recommend::reads::Reads;

#[derive(Debug, Serialize, Deserialize)]
struct Params {
    shrinkage: f32,
}

pub struct Knn;
pub static FAMILY: Knn = Knn;

impl Family for Knn {
    fn name(&self) -> &'static str {
        "item_knn"
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        [0.0, 10.0, 100.0]
            .map(|shrinkage| ModelSpec::with(self.name(), &Params { shrinkage }))
            .to_vec()
    }
    fn fit(&self, spec: &ModelSpec, reads: &Reads, _: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        let Params { shrinkage } = spec.params()?;
        Ok(Fitted::plain(Arc::new(ItemKnn::fit(reads.clone(), shrinkage))))
    }
}
