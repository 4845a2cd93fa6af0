//! ALS's parameters, read from the `ALS_*` settings.

use crate::contract::error::{Error, Result};

/// Matrix factorisation hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AlsParams {
    pub factors: usize,
    pub regularization: f32,
    pub iterations: u32,
    /// Confidence `c = 1 + alpha * ln(1 + dwell seconds)`.
    pub alpha: f32,
    /// Conjugate-gradient steps per least-squares solve.
    pub cg_steps: u32,
    /// Start from the current model's article factors when there is one.
    pub warm_start: bool,
    /// Iterations of a warm-started fit (instead of `iterations`).
    pub warm_iterations: u32,
    /// When the training loss is computed: it costs about a third of an
    /// iteration, and only the production fit's curve is shown.
    pub loss: Loss,
}

/// When ALS computes its training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// After every iteration: the curve the run report draws.
    EveryIteration,
    /// After the last only: what a fit's sanity check needs.
    LastIteration,
    /// Never (a kernel's timing against a peer that computes none).
    Off,
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 64,
            regularization: 0.01,
            iterations: 15,
            alpha: 1.0,
            cg_steps: 3,
            warm_start: true,
            warm_iterations: 5,
            loss: Loss::EveryIteration,
        }
    }
}

impl AlsParams {
    /// # Errors
    /// `Config` naming the first out-of-range field.
    pub fn check(&self) -> Result<()> {
        if self.factors == 0 || self.factors > 1024 {
            return Err(Error::Config(format!(
                "ALS_FACTORS must be in 1..=1024, got {}",
                self.factors
            )));
        }
        if !(self.regularization.is_finite() && self.regularization >= 0.0) {
            return Err(Error::Config("ALS_REGULARIZATION must be >= 0".into()));
        }
        if self.iterations == 0 {
            return Err(Error::Config("ALS_ITERATIONS must be >= 1".into()));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::Config("ALS_ALPHA must be >= 0".into()));
        }
        if self.cg_steps == 0 {
            return Err(Error::Config("ALS_CG_STEPS must be >= 1".into()));
        }
        if self.warm_iterations == 0 {
            return Err(Error::Config("ALS_WARM_ITERATIONS must be >= 1".into()));
        }
        Ok(())
    }
}
