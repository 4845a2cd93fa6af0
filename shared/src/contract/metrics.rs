//! Where counts and timings go: log lines locally, CloudWatch in AWS (same trait).

use std::fmt::Debug;

/// The unit of a metric value, named as CloudWatch names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    None,
}

/// A sink for per-stage, per-site figures.
#[async_trait::async_trait]
pub trait Metrics: Send + Sync + Debug {
    fn record(&self, stage: &str, site: &str, name: &str, value: f64, unit: Unit);

    /// Sends what was recorded, if the sink buffers; returns requests made.
    ///
    /// # Errors
    /// When the sink's service cannot be reached.
    async fn flush(&self) -> crate::Result<usize> {
        Ok(0)
    }
}
