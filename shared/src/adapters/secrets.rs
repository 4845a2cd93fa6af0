//! Secrets from SSM Parameter Store: the database URL, a SecureString read
//! once per container, never logged.

use tracing::debug;

use crate::contract::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devtools::moto::MotoServer;

    #[tokio::test]
    async fn the_database_url_comes_from_a_secure_string() {
        let moto = MotoServer::start();
        let ssm = aws_sdk_ssm::Client::new(&moto.config().await);
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
}
