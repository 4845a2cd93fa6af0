//! Metrics to CloudWatch, buffered and sent in batches after each invocation.

use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime as AwsDateTime;

use crate::contract::error::{Error, Result};
use crate::contract::metrics::{Metrics, Unit};

/// PutMetricData takes at most this many data points a request.
const MAX_DATUMS_PER_PUT: usize = 1000;

/// Metrics to CloudWatch: namespace as configured, dimensions `Stage` and
/// `Site`, one data point per record, sent by [`Metrics::flush`].
#[derive(Debug)]
pub struct CloudWatchMetrics {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
    pending: Mutex<Vec<MetricDatum>>,
}

impl CloudWatchMetrics {
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: &str) -> CloudWatchMetrics {
        CloudWatchMetrics {
            client,
            namespace: namespace.to_string(),
            pending: Mutex::new(Vec::new()),
        }
    }
}

fn unit(u: Unit) -> StandardUnit {
    match u {
        Unit::Count => StandardUnit::Count,
        Unit::Seconds => StandardUnit::Seconds,
        Unit::None => StandardUnit::None,
    }
}

#[async_trait]
impl Metrics for CloudWatchMetrics {
    fn record(&self, stage: &str, site: &str, name: &str, value: f64, u: Unit) {
        let datum = MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("Stage").value(stage).build())
            .dimensions(Dimension::builder().name("Site").value(site).build())
            .value(value)
            .unit(unit(u))
            .timestamp(AwsDateTime::from(std::time::SystemTime::now()))
            .build();
        if let Ok(mut pending) = self.pending.lock() {
            pending.push(datum);
        }
    }

    async fn flush(&self) -> Result<usize> {
        let batch: Vec<MetricDatum> = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Err(Error::Bug("metrics buffer poisoned".into())),
        };
        let mut requests = 0;
        for chunk in batch.chunks(MAX_DATUMS_PER_PUT) {
            self.client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::ObjectStore {
                    key: format!("cloudwatch:{}", self.namespace),
                    message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                    transient: true,
                })?;
            requests += 1;
        }
        Ok(requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devtools::moto::MotoServer;

    #[tokio::test]
    async fn metrics_reach_cloudwatch_in_batches() {
        let moto = MotoServer::start();
        let cw = aws_sdk_cloudwatch::Client::new(&moto.config().await);
        let sink = CloudWatchMetrics::new(cw.clone(), "ArticleRecTest");
        assert_eq!(sink.flush().await.unwrap(), 0, "nothing recorded, nothing sent");
        for i in 0..2500 {
            sink.record("fetch", "wcp", &format!("m{}", i % 3), f64::from(i), Unit::Count);
        }
        assert_eq!(
            sink.flush().await.unwrap(),
            3,
            "2,500 points in requests of at most 1,000"
        );
        let listed = cw
            .list_metrics()
            .namespace("ArticleRecTest")
            .send()
            .await
            .unwrap();
        let mut names: Vec<String> = listed
            .metrics()
            .iter()
            .filter_map(|m| m.metric_name().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names, ["m0", "m1", "m2"]);
        let dims: Vec<(String, String)> = listed.metrics()[0]
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_string(),
                    d.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert!(dims.contains(&("Stage".into(), "fetch".into())), "{dims:?}");
        assert!(dims.contains(&("Site".into(), "wcp".into())), "{dims:?}");
        assert_eq!(sink.flush().await.unwrap(), 0, "a flush empties the buffer");
    }
}
