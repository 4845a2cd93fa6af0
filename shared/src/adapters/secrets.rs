//! Secrets from SSM Parameter Store: the database URL, a SecureString read
//! once per container, never logged.
//!
//! One call (`GetParameter`) over SSM's JSON protocol, signed with SigV4
//! from the usual credential chain: the SSM SDK would be a quarter of the
//! AWS SDKs' build for this one request.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde::Deserialize;
use tracing::{debug, warn};

use crate::contract::error::{Error, Result};

/// Attempts for a throttled, failed or unreachable call.
const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Reply {
    #[serde(rename = "Parameter")]
    parameter: Option<Parameter>,
}

#[derive(Deserialize)]
struct Parameter {
    #[serde(rename = "Value")]
    value: Option<String>,
}

#[derive(Deserialize, Default)]
struct Fault {
    #[serde(rename = "__type", default)]
    kind: String,
    // SSM's JSON protocol says "message"; some answers say both
    #[serde(default)]
    message: Option<String>,
    #[serde(rename = "Message", default)]
    message_capitalised: Option<String>,
}

impl Fault {
    fn message(&self) -> &str {
        self.message
            .as_deref()
            .or(self.message_capitalised.as_deref())
            .unwrap_or_default()
    }
}

/// SSM's endpoint: the configured one (`AWS_ENDPOINT_URL`, as the SDKs
/// read it), or the region's.
fn endpoint(aws: &aws_config::SdkConfig, region: &str) -> String {
    let base = aws
        .endpoint_url()
        .map_or_else(|| format!("https://ssm.{region}.amazonaws.com"), str::to_string);
    format!("{}/", base.trim_end_matches('/'))
}

/// Reads a SecureString (decrypted). The value is returned, never logged; an
/// error names the parameter, not its value.
///
/// # Errors
/// `Config` when the parameter does not exist or has no value, or there is
/// no region or no credentials; `AccessDenied` when the role may not read
/// it; `ObjectStore` when SSM cannot be reached or answers otherwise
/// (transient for throttling, 5xx and network errors, after retries).
pub async fn secure_parameter(aws: &aws_config::SdkConfig, name: &str) -> Result<String> {
    let region = aws.region().map(ToString::to_string).ok_or_else(|| {
        Error::Config(format!(
            "no AWS region to read SSM parameter {name} (set AWS_REGION)"
        ))
    })?;
    let url = endpoint(aws, &region);
    let failed = |message: String, transient: bool| Error::ObjectStore {
        key: format!("ssm:{name}"),
        message,
        transient,
    };
    let credentials = aws
        .credentials_provider()
        .ok_or_else(|| Error::Config(format!("no AWS credentials to read SSM parameter {name}")))?
        .provide_credentials()
        .await
        .map_err(|e| Error::Config(format!("no AWS credentials to read SSM parameter {name}: {e}")))?;
    let identity: Identity = credentials.into();
    let body = serde_json::to_vec(&serde_json::json!({"Name": name, "WithDecryption": true}))
        .map_err(|e| Error::Bug(format!("GetParameter body: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| failed(format!("HTTP client: {e}"), false))?;
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AmazonSSM.GetParameter"),
    ];
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt - 2))).await;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("ssm")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::Bug(format!("SigV4 parameters: {e}")))?
            .into();
        let signable =
            SignableRequest::new("POST", &url, headers.iter().copied(), SignableBody::Bytes(&body))
                .map_err(|e| failed(format!("cannot sign a request to {url}: {e}"), false))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| failed(format!("cannot sign a request to {url}: {e}"), false))?
            .into_parts();
        let mut request = client.post(&url).body(body.clone());
        for (k, v) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(k, v);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                last = format!("SSM at {url} did not answer: {e}");
                warn!(attempt, parameter = name, error = %e, "SSM unreachable");
                continue;
            }
        };
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| failed(format!("reading SSM's answer: {e}"), true))?;
        if status.is_success() {
            debug!(parameter = name, "read SSM parameter");
            let reply: Reply = serde_json::from_slice(&bytes)
                .map_err(|e| failed(format!("SSM answered with invalid JSON: {e}"), false))?;
            return reply
                .parameter
                .and_then(|p| p.value)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::Config(format!("SSM parameter {name} has no value")));
        }
        let fault: Fault = serde_json::from_slice(&bytes).unwrap_or_default();
        // "__type" may be "ParameterNotFound" or "com.amazonaws.ssm#ParameterNotFound"
        let kind = fault.kind.rsplit('#').next().unwrap_or_default();
        match kind {
            "ParameterNotFound" => return Err(Error::Config(format!("SSM parameter {name} does not exist"))),
            "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException" => {
                return Err(Error::AccessDenied {
                    action: "ssm:GetParameter",
                    resource: name.to_string(),
                    message: format!("{kind}: {}", fault.message()),
                })
            }
            _ => {}
        }
        last = format!("SSM answered HTTP {status}: {kind} {}", fault.message());
        let transient = status.is_server_error() || kind.contains("Throttling") || status.as_u16() == 429;
        if !transient {
            return Err(failed(last, false));
        }
        warn!(attempt, parameter = name, %status, kind, "SSM call failed; retrying");
    }
    Err(failed(last, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devtools::moto::MotoServer;

    #[tokio::test]
    async fn the_database_url_comes_from_a_secure_string() {
        let moto = MotoServer::start();
        let aws = moto.config().await;
        let ssm = aws_sdk_ssm::Client::new(&aws);
        let secret = "postgres://app:s3cret-pw@db.internal:5432/recs";
        ssm.put_parameter()
            .name("/article-rec/prod/database-url")
            .value(secret)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
        assert_eq!(
            secure_parameter(&aws, "/article-rec/prod/database-url")
                .await
                .unwrap(),
            secret
        );
        let missing = secure_parameter(&aws, "/article-rec/prod/nope")
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
}
