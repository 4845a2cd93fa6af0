//! The AWS services a deployed run uses besides S3: SSM Parameter Store for the
//! database URL (a SecureString, read once per container) and CloudWatch for
//! metrics (buffered, sent in batches after each invocation).

use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime as AwsDateTime;
use tracing::debug;

use crate::error::{Error, Result};
use crate::metrics::{Metrics, Unit};

/// PutMetricData takes at most this many data points a request.
const MAX_DATUMS_PER_PUT: usize = 1000;

/// The shared AWS configuration: the standard credential and region chains,
/// with an optional region and endpoint override (S3-compatible servers,
/// moto in tests).
pub async fn sdk_config(region: Option<&str>, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Reads a SecureString (decrypted). The value is returned, never logged; an
/// error names the parameter, not its value.
///
/// # Errors
/// `Config` when the parameter does not exist or has no value; `ObjectStore`
/// (transient) when SSM cannot be reached.
pub async fn secure_parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<String> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            let e = e.into_service_error();
            if e.is_parameter_not_found() {
                Error::Config(format!("SSM parameter {name} does not exist"))
            } else {
                Error::ObjectStore {
                    key: format!("ssm:{name}"),
                    message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                    transient: true,
                }
            }
        })?;
    debug!(parameter = name, "read SSM parameter");
    out.parameter
        .and_then(|p| p.value)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Config(format!("SSM parameter {name} has no value")))
}

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
    use crate::testing::MotoServer;

    async fn config(moto: &MotoServer) -> aws_config::SdkConfig {
        let creds = aws_sdk_ssm::config::Credentials::new("testing", "testing", None, None, "moto");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(creds)
            .load()
            .await
    }

    #[tokio::test]
    async fn the_database_url_comes_from_a_secure_string() {
        let moto = MotoServer::start();
        let ssm = aws_sdk_ssm::Client::new(&config(&moto).await);
        let secret = "postgres://app:s3cret-pw@db.internal:5432/recs";
        ssm.put_parameter()
            .name("/article-rec/prod/database-url")
            .value(secret)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
        assert_eq!(
            secure_parameter(&ssm, "/article-rec/prod/database-url")
                .await
                .unwrap(),
            secret
        );
        let missing = secure_parameter(&ssm, "/article-rec/prod/nope")
            .await
            .unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("/article-rec/prod/nope does not exist"),
            "{missing}"
        );
        assert_eq!(missing.kind(), crate::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn metrics_reach_cloudwatch_in_batches() {
        let moto = MotoServer::start();
        let cw = aws_sdk_cloudwatch::Client::new(&config(&moto).await);
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
