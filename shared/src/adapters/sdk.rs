//! The AWS SDK configuration every AWS client of a run shares.

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
