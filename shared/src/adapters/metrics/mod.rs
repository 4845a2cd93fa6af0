//! Metrics sinks: structured log lines locally, CloudWatch in AWS.

mod cloudwatch;

pub use cloudwatch::CloudWatchMetrics;

use crate::contract::metrics::{Metrics, Unit};

/// Writes each figure as a structured `tracing` event.
#[derive(Debug, Default, Clone)]
pub struct LogMetrics;

#[async_trait::async_trait]
impl Metrics for LogMetrics {
    fn record(&self, stage: &str, site: &str, name: &str, value: f64, unit: Unit) {
        tracing::info!(target: "metrics", stage, site, metric = name, value, unit = ?unit);
    }
}
