//! The AWS SDK configuration every AWS client of a run shares.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The SDKs' HTTPS client: hyper on rustls with ring.
pub fn https_client() -> aws_sdk_s3::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The shared AWS configuration: the standard credential and region chains
/// (and `AWS_ENDPOINT_URL`), with an optional region and endpoint override
/// (S3-compatible servers, moto in tests).
pub async fn sdk_config(region: Option<&str>, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
