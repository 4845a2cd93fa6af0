//! The five Lambda functions as AWS runs them: each built binary talks to a
//! Lambda runtime API (served here on 127.0.0.1, the protocol of
//! `/2018-06-01/runtime/invocation/...`), and the state machine's definition
//! sequences them, as Step Functions would. Around them: moto (S3 for data
//! and Snowplow input, SSM for the database URL, CloudWatch for metrics) and
//! PostgreSQL in a schema of this test's own.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // the test builds the functions' environment itself

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use article_rec::db::ModelType;
use article_rec::error::{Error, Result};
use article_rec::generate::{self, Spec};
use article_rec::layout::InputLayout;
use article_rec::runner::{run_pipeline_with, run_schedule_with, Invoke};
use article_rec::stage::{RunRef, SaveOutput, Stage};
use article_rec::testing::MotoServer;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

const AS_OF: &str = "2026-11-01T06:00:00Z";
const SITE: &str = "example";
const OTHER: &str = "other";
const OTHER_APP: &str = "other-web";

type Outcome = std::result::Result<Value, (String, String)>;

/// One function's runtime API: hands out events one at a time, collects answers.
#[derive(Clone)]
struct Runtime {
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>,
    init_error: Arc<Mutex<Option<String>>>,
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
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:article-rec"),
    );
    h.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
    );
    (h, Json(event))
}

// bodies are read as bytes: the runtime client's content types vary
async fn response(State(rt): State<Runtime>, Path(id): Path<String>, body: axum::body::Bytes) {
    if let Some(tx) = rt.waiting.lock().unwrap().remove(&id) {
        let _ = tx.send(Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
}

async fn error(State(rt): State<Runtime>, Path(id): Path<String>, body: axum::body::Bytes) {
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
struct Function {
    child: Mutex<Child>,
    log: PathBuf,
    events: mpsc::Sender<(String, Value)>,
    runtime: Runtime,
}

impl Drop for Function {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

struct Functions {
    by_stage: HashMap<Stage, Function>,
    ids: AtomicU64,
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
                        panic!("{} exited ({status}); its log:\n{}", stage.name(), f.log_tail());
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

impl Function {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// The functions' binaries: the bootstraps `cargo lambda build` wrote when
/// `LAMBDA_FUNCTIONS_DIR` names its output directory (CI builds them once, as
/// deployed), else built here into this test's target directory.
fn function_binaries() -> HashMap<Stage, PathBuf> {
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

async fn start(
    stage: Stage,
    bin: &std::path::Path,
    env: &[(String, String)],
    logs: &std::path::Path,
) -> Function {
    let log = logs.join(format!("{}.log", stage.name()));
    let (tx, rx) = mpsc::channel(1);
    let runtime = Runtime {
        events: Arc::new(tokio::sync::Mutex::new(rx)),
        waiting: Arc::default(),
        init_error: Arc::default(),
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
    let child = Command::new(bin)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env(
            "AWS_LAMBDA_FUNCTION_NAME",
            format!("article-rec-{}", stage.name()),
        )
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/article-rec-{}", stage.name()),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("RUST_LOG", "info")
        // Lambda functions log to stdout
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", stage.name()));
    Function {
        child: Mutex::new(child),
        log,
        events: tx,
        runtime,
    }
}

/// A schema of this test's own, dropped at the end.
struct Schema {
    pool: sqlx::PgPool,
    name: String,
}

impl Schema {
    async fn new() -> Schema {
        let name = format!("t_lambda_{}", std::process::id());
        let pool = sqlx::PgPool::connect(&article_rec::settings::test_database_url())
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE"
        )))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&pool)
            .await
            .unwrap();
        Schema { pool, name }
    }

    fn url(&self) -> String {
        let base = article_rec::settings::test_database_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }

    async fn drop_it(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
            .execute(&self.pool)
            .await
            .unwrap();
    }
}

async fn aws_config(moto: &MotoServer) -> aws_config::SdkConfig {
    let creds = aws_sdk_ssm::config::Credentials::new("testing", "testing", None, None, "moto");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_functions_run_in_the_state_machine_order_against_aws_protocols() {
    let bins = function_binaries();
    let moto = MotoServer::start();
    let schema = Schema::new().await;
    let aws = aws_config(&moto).await;

    // Snowplow's bucket and the data bucket, apart as in the template
    let input_store = moto.store("snowplow", "").await;
    let data_store = moto.store("data", "").await;
    let layout = InputLayout::new("enriched/good").unwrap();
    let mut spec = Spec::sample(SITE, AS_OF.parse().unwrap(), 5, 5);
    spec.readers = 1200;
    spec.articles = 150;
    let gen = generate::generate(&spec, &layout).unwrap();
    generate::write_to(&gen, &input_store, &data_store, &layout, SITE)
        .await
        .unwrap();
    // a second site of the same Snowplow pipeline: its own app id, same partitions
    let mut other_spec = Spec::sample(OTHER_APP, AS_OF.parse().unwrap(), 5, 6);
    other_spec.readers = 800;
    other_spec.articles = 100;
    let other = generate::generate(&other_spec, &layout).unwrap();
    generate::write_to(&other, &input_store, &data_store, &layout, OTHER)
        .await
        .unwrap();

    // the database URL is a secret in SSM, never in the environment
    let parameter = "/article-rec/test/database-url";
    aws_sdk_ssm::Client::new(&aws)
        .put_parameter()
        .name(parameter)
        .value(schema.url())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let env: Vec<(String, String)> = [
        ("SITE", SITE),
        ("SITES", "example,other"),
        ("SITE_SETTINGS", r#"{"other": {"app_id": "other-web"}}"#),
        ("DAYS_OF_DATA", "5"),
        ("STORE_URL", "s3://data"),
        ("INPUT_URL", "s3://snowplow"),
        ("INPUT_PREFIX", "enriched/good"),
        ("S3_ENDPOINT_URL", moto.endpoint.as_str()),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("DATABASE_URL_PARAMETER", parameter),
        ("METRICS_SINK", "cloudwatch"),
        ("METRICS_NAMESPACE", "ArticleRecTest"),
        ("ALS_FACTORS", "8"),
        ("ALS_ITERATIONS", "6"),
        ("QUALITY_MIN_AUC", "0.6"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let logs = tempfile::tempdir().unwrap();
    let mut by_stage = HashMap::new();
    for stage in Stage::ALL {
        by_stage.insert(stage, start(stage, &bins[&stage], &env, logs.path()).await);
    }
    let functions = Functions {
        by_stage,
        ids: AtomicU64::new(0),
    };

    let run = RunRef {
        site: SITE.into(),
        run_id: "lambda-1".into(),
        as_of: AS_OF.parse().unwrap(),
    };
    let report = run_pipeline_with(&functions, &run).await.unwrap();
    // the first run has every hour to parse: the plan fans them out, one
    // invocation per hour, and the window is then read from the cache
    let plan = &report.state["fetch_plan"];
    let hours = 5 * 24;
    assert_eq!(plan["distributed"], true, "{plan}");
    assert_eq!(plan["hours"].as_array().unwrap().len(), hours);
    let mut order: Vec<Stage> = report.timings.iter().map(|t| t.stage).collect();
    let fetches = order.iter().filter(|s| **s == Stage::Fetch).count();
    assert_eq!(fetches, 1 + hours + 1, "plan, one per hour, window");
    order.dedup();
    assert_eq!(order, Stage::ALL);
    let counts = &report.state["fetch"]["counts"];
    assert_eq!(counts["hours_cached"], hours as u64, "{counts}");
    assert_eq!(counts["hours_parsed"], 0);
    assert_eq!(counts["kept"], gen.truth.valid_events);
    // both sites' lines were read; only this site's events kept
    assert_eq!(
        counts["parsed"]["lines"],
        gen.truth.lines + other.truth.lines,
        "{counts}"
    );

    // the recommendations landed in PostgreSQL, as the API reads them
    let db = article_rec::db::PgDb::open(&schema.url(), None).await.unwrap();
    use article_rec::db::RecDb as _;
    let article = db
        .current_model(SITE, ModelType::Article)
        .await
        .unwrap()
        .expect("article model");
    assert_eq!(article.run_id, "lambda-1");
    let recs: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.recommendation WHERE model_id = $1",
        schema.name
    )))
    .bind(article.id)
    .fetch_one(&schema.pool)
    .await
    .unwrap();
    assert!(recs > 100, "{recs} recommendations");
    assert!(!db
        .current_recs(SITE, article_rec::db::DEFAULT_SOURCE)
        .await
        .unwrap()
        .is_empty());

    // every stage sent its figures to CloudWatch
    let metrics = aws_sdk_cloudwatch::Client::new(&aws)
        .list_metrics()
        .namespace("ArticleRecTest")
        .send()
        .await
        .unwrap();
    let mut stages: Vec<String> = metrics
        .metrics()
        .iter()
        .flat_map(|m| m.dimensions())
        .filter(|d| d.name() == Some("Stage"))
        .filter_map(|d| d.value().map(str::to_string))
        .collect();
    stages.sort();
    stages.dedup();
    assert_eq!(stages, ["defaults", "fetch", "preprocess", "save", "train"]);

    // a retried stage (the same event again) gives the same output
    let train_again = functions
        .invoke(Stage::Train, report.state.clone())
        .await
        .unwrap();
    assert_eq!(train_again, report.state["model"]["train"]);
    let save_again: SaveOutput =
        serde_json::from_value(functions.invoke(Stage::Save, report.state.clone()).await.unwrap()).unwrap();
    assert!(!save_again.newly_saved);
    assert_eq!(save_again.article_model_id, Some(article.id));

    // a failing stage (no input in this window): the failure path runs, the
    // Lambda error type reaches the state machine, the current model stays
    let late = RunRef {
        site: SITE.into(),
        run_id: "lambda-2".into(),
        as_of: "2027-03-01T00:00:00Z".parse().unwrap(),
    };
    let err = run_pipeline_with(&functions, &late).await.unwrap_err();
    assert_eq!(err.kind().error_type(), "ArticleRec.Data", "{err}");
    assert!(err.to_string().contains("ArticleRec.Data"), "{err}");
    let still = db.current_model(SITE, ModelType::Article).await.unwrap().unwrap();
    assert_eq!(still.id, article.id);
    assert!(!db
        .current_recs(SITE, article_rec::db::DEFAULT_SOURCE)
        .await
        .unwrap()
        .is_empty());

    // one schedule, several sites: each runs as its own execution; a site the
    // deployment does not know fails alone
    let later: chrono::DateTime<chrono::Utc> = "2026-11-01T08:00:00Z".parse().unwrap();
    let sites = [SITE, OTHER, "nowhere"].map(String::from);
    let schedule = run_schedule_with(&functions, &sites, "sched-1", later)
        .await
        .unwrap();
    let results = schedule.state["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for (result, site) in results.iter().zip([SITE, OTHER]) {
        assert_eq!(result["run"]["status"], "SUCCEEDED", "{result}");
        assert_eq!(result["run"]["execution"], format!("{site}-sched-1"));
    }
    assert!(results[2].get("run").is_none(), "{}", results[2]);
    let cause = results[2]["error"]["Cause"].as_str().unwrap();
    assert!(cause.contains("\"nowhere\" is not configured"), "{cause}");
    let other_model = db
        .current_model(OTHER, ModelType::Article)
        .await
        .unwrap()
        .expect("the other site's model");
    assert_eq!(other_model.run_id, "other-sched-1");
    assert!(!db
        .current_recs(OTHER, article_rec::db::DEFAULT_SOURCE)
        .await
        .unwrap()
        .is_empty());

    drop(functions);
    drop(db);
    schema.drop_it().await;
}
