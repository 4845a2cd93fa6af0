//! IAM enforced on a moto server: a role per function with the template's
//! own statements, and an administrator for the test's own setup and checks.
//!
//! What moto cannot check, and how these tests deal with it:
//! - conditions: moto has no request context to evaluate them with and
//!   denies every conditioned statement, so conditions are dropped here and
//!   tests/infra.rs pins each one against what the code does;
//! - resources of services other than S3: moto checks only the action
//!   (it authorises SSM and CloudWatch calls against `*`), so those
//!   statements get `*` here and tests/infra.rs pins their ARNs;
//! - moto names CloudWatch actions by the signing name (`monitoring:`), so
//!   `cloudwatch:` actions are granted under both names.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use article_rec_core::devtools::moto;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Iam {
    pub admin: Credentials,
    pub roles: BTreeMap<String, Credentials>,
}

/// The template's statements as moto can enforce them (see the module doc).
pub fn for_moto(statements: &[Value]) -> Vec<Value> {
    statements
        .iter()
        .map(|st| {
            let mut st = st.clone();
            let obj = st.as_object_mut().expect("statement");
            obj.remove("Condition");
            let actions: Vec<String> = match &obj["Action"] {
                Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
                Value::String(s) => vec![s.clone()],
                other => panic!("Action {other}"),
            };
            if !actions.iter().all(|a| a.starts_with("s3:")) {
                obj.insert("Resource".into(), json!("*"));
            }
            let mut all = actions.clone();
            all.extend(
                actions
                    .iter()
                    .filter_map(|a| a.strip_prefix("cloudwatch:"))
                    .map(|a| format!("monitoring:{a}")),
            );
            obj.insert("Action".into(), json!(all));
            st
        })
        .collect()
}

/// Creates the roles (statements already [`for_moto`]) and the admin, and
/// turns enforcement on: every request after this is checked against IAM.
pub fn enforce(endpoint: &str, roles: &BTreeMap<String, Vec<Value>>) -> Iam {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/moto_iam.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (moto[server] brings boto3)");
    let spec = json!({ "endpoint": endpoint, "roles": roles });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "moto IAM setup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("credentials JSON")
}

/// An SDK configuration for moto with these credentials.
pub async fn sdk_config(endpoint: &str, c: &Credentials) -> aws_config::SdkConfig {
    moto::sdk_config(
        endpoint,
        &c.access_key_id,
        &c.secret_access_key,
        c.session_token.as_deref(),
    )
    .await
}

/// An S3 client on moto with these credentials.
pub async fn s3(endpoint: &str, c: &Credentials) -> aws_sdk_s3::Client {
    moto::s3_client(&sdk_config(endpoint, c).await)
}
