//! What readers open next after an article, within a window of reads.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::error::Result;
use crate::contract::evaluation::ModelSpec;
use crate::recommend::family::{Family, FitParams, Fitted, GridParams};
use crate::recommend::reads::Reads;
use crate::recommend::sequential_rules::{RuleParams, SequentialRules};

#[derive(Debug, Serialize, Deserialize)]
struct Params {
    window: usize,
    reverse: f32,
}

pub struct Rules;
pub static FAMILY: Rules = Rules;

impl Family for Rules {
    fn name(&self) -> &'static str {
        "sequential_rules"
    }
    fn grid(&self, _: &GridParams<'_>) -> Vec<ModelSpec> {
        [(1, 0.0), (3, 0.0), (3, 0.5), (10, 0.5)]
            .map(|(window, reverse)| ModelSpec::with(self.name(), &Params { window, reverse }))
            .to_vec()
    }
    fn fit(&self, spec: &ModelSpec, reads: &Reads, p: &FitParams<'_>, _: &mut dyn FnMut(u32, f64)) -> Result<Fitted> {
        let Params { window, reverse } = spec.params()?;
        let rules = RuleParams {
            window,
            reverse,
            max_gap_ms: (p.rules_max_gap_hours * 3_600_000.0) as i64,
        };
        Ok(Fitted::plain(Arc::new(SequentialRules::fit(reads.clone(), rules))))
    }
}
