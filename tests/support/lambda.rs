//! The functions as Lambda runs them: each built binary (a `bootstrap`) in a
//! read-only task root, as an unprivileged user whose only writable place is
//! `/tmp`, with exactly the environment the template gives it plus the
//! variables the Lambda service sets, talking to a Lambda runtime API served
//! here on 127.0.0.1 (`/2018-06-01/runtime/invocation/...`).

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use article_rec_core::contract::error::{Error, Result};
use article_rec_core::contract::stage::Stage;
use article_rec_core::run::runner::Invoke;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// The user the functions run as (as on Lambda: not root, so a directory
/// that is not writable is not written to).
pub const UNPRIVILEGED: u32 = 65534;

type Outcome = std::result::Result<Value, (String, String)>;

/// One function's runtime API: hands out events one at a time, collects answers.
#[derive(Clone)]
struct Runtime {
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>,
    init_error: Arc<Mutex<Option<String>>>,
    arn: String,
}

async fn next(State(rt): State<Runtime>) -> (HeaderMap, Json<Value>) {
    let (id, event) = rt.events.lock().await.recv().await.expect("test ended");
    let mut h = HeaderMap::new();
    h.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).unwrap(),
    );
    let deadline = chrono::Utc::now().timestamp_millis() + 900_000;
    h.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.to_string()).unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_str(&rt.arn).unwrap(),
    );
    h.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
    );
    (h, Json(event))
}

// bodies are read as bytes: the runtime client's content types vary
async fn response(State(rt): State<Runtime>, UrlPath(id): UrlPath<String>, body: axum::body::Bytes) {
    if let Some(tx) = rt.waiting.lock().unwrap().remove(&id) {
        let _ = tx.send(Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
}

async fn error(State(rt): State<Runtime>, UrlPath(id): UrlPath<String>, body: axum::body::Bytes) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(tx) = rt.waiting.lock().unwrap().remove(&id) {
        let t = body["errorType"].as_str().unwrap_or("?").to_string();
        let m = body["errorMessage"].as_str().unwrap_or("?").to_string();
        let _ = tx.send(Err((t, m)));
    }
}

async fn init_error(State(rt): State<Runtime>, body: String) {
    *rt.init_error.lock().unwrap() = Some(body);
}

/// A running function: its process and the sending side of its runtime API.
pub struct Function {
    pub stage: Stage,
    child: Mutex<Child>,
    pub log: PathBuf,
    events: mpsc::Sender<(String, Value)>,
    runtime: Runtime,
    /// Every variable the process got, for the test to check.
    pub environment: BTreeMap<String, String>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Function {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log_text();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The init error the function reported, if it could not start.
    pub fn init_error(&self) -> Option<String> {
        self.runtime.init_error.lock().unwrap().clone()
    }
}

pub struct Functions {
    pub by_stage: HashMap<Stage, Function>,
    ids: AtomicU64,
}

impl Functions {
    pub fn new(functions: Vec<Function>) -> Functions {
        Functions {
            by_stage: functions.into_iter().map(|f| (f.stage, f)).collect(),
            ids: AtomicU64::new(0),
        }
    }
}

#[async_trait::async_trait]
impl Invoke for Functions {
    async fn invoke(&self, stage: Stage, event: Value) -> Result<Value> {
        let f = &self.by_stage[&stage];
        let id = format!("req-{}", self.ids.fetch_add(1, Ordering::SeqCst));
        let (tx, rx) = oneshot::channel();
        f.runtime.waiting.lock().unwrap().insert(id.clone(), tx);
        f.events.send((id, event)).await.unwrap();
        let mut rx = rx;
        let outcome = loop {
            tokio::select! {
                got = &mut rx => break got.ok(),
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if let Some(status) = f.child.lock().unwrap().try_wait().unwrap() {
                        panic!(
                            "{} exited ({status}); init error: {:?}; its log:\n{}",
                            stage.name(),
                            f.init_error(),
                            f.log_tail()
                        );
                    }
                }
            }
        };
        match outcome {
            Some(Ok(v)) => Ok(v),
            Some(Err((error_type, message))) => Err(Error::Remote { error_type, message }),
            None => panic!("{} dropped the invocation; log:\n{}", stage.name(), f.log_tail()),
        }
    }
}

/// The functions' binaries: the bootstraps `cargo lambda build` wrote when
/// `LAMBDA_FUNCTIONS_DIR` names its output directory (CI builds them once, as
/// deployed), else built here into this test's target directory.
pub fn binaries() -> HashMap<Stage, PathBuf> {
    #[allow(clippy::disallowed_methods)] // the test's own switch, not a setting
    if let Some(dir) = std::env::var_os("LAMBDA_FUNCTIONS_DIR") {
        let dir = PathBuf::from(dir);
        return Stage::ALL
            .into_iter()
            .map(|s| (s, dir.join(s.name()).join("bootstrap")))
            .collect();
    }
    let exe = std::env::current_exe().unwrap();
    // target/debug (or target/<triple>/debug): the nested build inherits this
    // build's environment, so its binaries land beside this test's
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    #[allow(clippy::disallowed_methods)]
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--locked"])
        .args(Stage::ALL.iter().flat_map(|s| ["-p", s.name()]))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build of the functions");
    assert!(status.success(), "building the functions failed");
    Stage::ALL
        .into_iter()
        .map(|s| (s, profile_dir.join(s.name())))
        .collect()
}

/// A task root as Lambda unpacks one: the bootstrap in a directory nobody
/// may write to. Its parent is a test-owned directory that is removed after.
pub fn task_root(parent: &Path, stage: Stage, binary: &Path) -> PathBuf {
    let root = parent.join(stage.name());
    std::fs::create_dir_all(&root).unwrap();
    let bootstrap = root.join("bootstrap");
    std::fs::copy(binary, &bootstrap).unwrap_or_else(|e| panic!("copy {}: {e}", binary.display()));
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// What the Lambda service sets in every function's environment (the
/// "reserved" variables), for a function with this name and memory.
pub fn lambda_environment(name: &str, memory_mb: u64, region: &str, root: &Path) -> BTreeMap<String, String> {
    let root = root.display().to_string();
    [
        ("AWS_REGION", region.to_string()),
        ("AWS_DEFAULT_REGION", region.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/01/[$LATEST]0123456789abcdef".to_string(),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
        ("LAMBDA_TASK_ROOT", root.clone()),
        ("LAMBDA_RUNTIME_DIR", root.clone()),
        ("_HANDLER", "bootstrap".to_string()),
        ("TZ", ":UTC".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_string()),
        (
            "LD_LIBRARY_PATH",
            format!("/lib64:/usr/lib64:{root}:{root}/lib:/opt/lib"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Starts a function: `bootstrap` in `root`, as [`UNPRIVILEGED`], with
/// `environment` and nothing else but the runtime API's address.
pub async fn start(
    stage: Stage,
    root: &Path,
    environment: BTreeMap<String, String>,
    logs: &Path,
) -> Function {
    let log = logs.join(format!("{}.log", stage.name()));
    let (tx, rx) = mpsc::channel(1);
    let name = environment["AWS_LAMBDA_FUNCTION_NAME"].clone();
    let runtime = Runtime {
        events: Arc::new(tokio::sync::Mutex::new(rx)),
        waiting: Arc::default(),
        init_error: Arc::default(),
        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(runtime.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut environment = environment;
    environment.insert("AWS_LAMBDA_RUNTIME_API".into(), addr.to_string());
    let child = Command::new(root.join("bootstrap"))
        .env_clear()
        .envs(&environment)
        .current_dir(root)
        .uid(UNPRIVILEGED)
        .gid(UNPRIVILEGED)
        // Lambda functions log to stdout
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", stage.name()));
    Function {
        stage,
        child: Mutex::new(child),
        log,
        events: tx,
        runtime,
        environment,
    }
}
