//! Secrets from SSM Parameter Store: the database URL, a SecureString read
//! once per container, never logged.
//!
//! One call, `GetParameter` with decryption, through `aws-sdk-ssm` (its
//! standard retries: three attempts with backoff on throttling, 5xx and
//! network errors).

use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use tracing::debug;

use crate::contract::error::{Error, Result};

/// The whole call, retries included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Error codes that mean the caller may not read the parameter (or is not
/// who it says): a configuration to fix, never retried.
const DENIED: [&str; 4] = [
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
];

/// Reads a SecureString (decrypted). The value is returned, never logged; an
/// error names the parameter, not its value.
///
/// # Errors
/// `Config` when the parameter does not exist or has no value, or there is
/// no region or no credentials; `AccessDenied` when the role may not read
/// it (or its KMS key); `ObjectStore` when SSM cannot be reached or answers
/// otherwise (transient for throttling, 5xx, timeouts and network errors,
/// after the SDK's retries).
pub async fn secure_parameter(aws: &aws_config::SdkConfig, name: &str) -> Result<String> {
    if aws.region().is_none() {
        return Err(Error::Config(format!(
            "no AWS region to read SSM parameter {name} (set AWS_REGION)"
        )));
    }
    // asked first, so a missing chain is named as such, not as a failed call
    aws.credentials_provider()
        .ok_or_else(|| Error::Config(format!("no AWS credentials to read SSM parameter {name}")))?
        .provide_credentials()
        .await
        .map_err(|e| {
            Error::Config(format!(
                "no AWS credentials to read SSM parameter {name}: {}",
                DisplayErrorContext(&e)
            ))
        })?;
    let config = aws_sdk_ssm::config::Builder::from(aws)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(TIMEOUT)
                .build(),
        )
        .build();
    let answer = aws_sdk_ssm::Client::from_conf(config)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await;
    match answer {
        Ok(out) => {
            debug!(parameter = name, "read SSM parameter");
            out.parameter
                .and_then(|p| p.value)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::Config(format!("SSM parameter {name} has no value")))
        }
        Err(e) => Err(refusal(name, &e)),
    }
}

/// What a failed `GetParameter` means to the run.
fn refusal(name: &str, e: &SdkError<GetParameterError, HttpResponse>) -> Error {
    let failed = |message: String, transient: bool| Error::ObjectStore {
        key: format!("ssm:{name}"),
        message,
        transient,
    };
    let code = e.code().unwrap_or_default();
    let message = e.message().unwrap_or_default();
    match e {
        SdkError::ServiceError(_) if code == "ParameterNotFound" => {
            Error::Config(format!("SSM parameter {name} does not exist"))
        }
        SdkError::ServiceError(_) if DENIED.contains(&code) || code.starts_with("KMS") => {
            Error::AccessDenied {
                action: "ssm:GetParameter",
                resource: name.to_string(),
                message: format!("{code}: {message}"),
            }
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let transient = code.contains("Throttling") || status >= 500 || status == 429;
            failed(format!("SSM answered {code}: {message}"), transient)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            failed(format!("SSM did not answer: {}", DisplayErrorContext(e)), true)
        }
        _ => failed(format!("cannot call SSM: {}", DisplayErrorContext(e)), false),
    }
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
