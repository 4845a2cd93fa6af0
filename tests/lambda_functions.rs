//! The five Lambda functions as a deployed stack runs them, with nothing the
//! stack would not give them:
//! - each built binary runs from a read-only task root as an unprivileged
//!   user (only `/tmp` is writable, as on Lambda), with exactly the
//!   environment `template.yaml` gives its function (Globals and its own
//!   variables, intrinsics filled in as the stack would) plus the variables
//!   the Lambda service sets; the one stand-in is `AWS_ENDPOINT_URL`, which
//!   sends the SDK to moto instead of AWS;
//! - moto checks every AWS call against IAM, each function calling with the
//!   credentials of a role made from the template's own statements (see
//!   `support::moto_iam` for the three things moto cannot check and where
//!   tests/infra.rs pins them);
//! - the state machines' definitions sequence the invocations, as Step
//!   Functions would; PostgreSQL holds the database, in a schema of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // the test reads its own switches

mod support;

use std::collections::{BTreeMap, HashMap};

use article_rec_core::adapters::storage::s3::S3Store;
use article_rec_core::contract::database::{ModelType, RecDb as _};
use article_rec_core::contract::layout::InputLayout;
use article_rec_core::contract::stage::{RunRef, SaveOutput, Stage};
use article_rec_core::contract::storage::BlobStore;
use article_rec_core::devtools::generate::{self, Spec};
use article_rec_core::devtools::moto::MotoServer;
use article_rec_core::run::runner::{run_pipeline_with, run_schedule_with, Invoke};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use support::lambda::{self, Function, Functions};
use support::moto_iam::{self, Credentials};
use support::template::{Deployment, Template};

const AS_OF: &str = "2026-11-01T06:00:00Z";
const SITE: &str = "example";
const OTHER: &str = "other";
const OTHER_APP: &str = "other-web";
const DAYS: u32 = 5;
/// Never logged by any function, though it is in the database URL twice.
const DB_SECRET: &str = "url-secret-pw";
const QUERY_SECRET: &str = "query-secret-pw";

fn as_of() -> DateTime<Utc> {
    AS_OF.parse().unwrap()
}

/// A schema of this test's own, dropped at the end.
struct Schema {
    pool: sqlx::PgPool,
    name: String,
}

impl Schema {
    async fn new() -> Schema {
        let name = format!("t_lambda_{}", std::process::id());
        let pool = sqlx::PgPool::connect(&article_rec_core::devtools::test_database_url())
            .await
            .unwrap();
        for sql in [
            format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
            format!("CREATE SCHEMA {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
        }
        Schema { pool, name }
    }

    /// The URL the SSM parameter holds: with a password in the user info
    /// and in the query (trust authentication ignores both), so the test
    /// can check neither reaches a log.
    fn secret_url(&self) -> String {
        let base = article_rec_core::devtools::test_database_url();
        let base = base.replacen("://postgres@", &format!("://postgres:{DB_SECRET}@"), 1);
        let sep = if base.contains('?') { '&' } else { '?' };
        format!(
            "{base}{sep}options=-csearch_path%3D{}&password={QUERY_SECRET}",
            self.name
        )
    }

    fn url(&self) -> String {
        let base = article_rec_core::devtools::test_database_url();
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

fn deployment() -> Deployment {
    Deployment {
        stack: "article-rec".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        parameters: [
            ("Sites", "example,other"),
            ("SiteSettings", r#"{"other": {"app_id": "other-web"}}"#),
            ("SnowplowBucket", "snowplow-enriched"),
            ("DatabaseUrlParam", "/article-rec/test/database-url"),
            ("DatabaseSubnetIds", "subnet-0123"),
            ("DatabaseSecurityGroupIds", "sg-0123"),
            ("DaysOfData", "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        names: BTreeMap::from([("DataBucket".to_string(), "article-rec-data".to_string())]),
    }
}

/// What each function runs with: the template's environment, the Lambda
/// service's variables, its role's credentials and the endpoint stand-in.
struct Deployed {
    functions: Functions,
    credentials: HashMap<Stage, Credentials>,
    admin: Credentials,
    template_env: HashMap<Stage, BTreeMap<String, String>>,
    _roots: tempfile::TempDir,
    _logs: tempfile::TempDir,
}

async fn deploy(moto: &MotoServer, t: &Template, d: &Deployment) -> Deployed {
    let bins = lambda::binaries();
    let mut roles = BTreeMap::new();
    for stage in Stage::ALL {
        let f = t.function_for(stage.name());
        roles.insert(f.clone(), moto_iam::for_moto(&t.statements(&f, d)));
    }
    let iam = moto_iam::enforce(&moto.endpoint, &roles);
    let roots = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    std::fs::set_permissions(logs.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let mut started = Vec::new();
    let mut credentials = HashMap::new();
    let mut template_env = HashMap::new();
    for stage in Stage::ALL {
        let f = t.function_for(stage.name());
        let props = &t.resource(&f)["Properties"];
        let root = lambda::task_root(roots.path(), stage, &bins[&stage]);
        let from_template = t.environment(&f, d);
        let mut env = lambda::lambda_environment(
            &format!("{}-{f}", d.stack),
            props["MemorySize"].as_u64().unwrap(),
            &d.region,
            &root,
        );
        let creds = iam.roles[&f].clone();
        env.insert("AWS_ACCESS_KEY_ID".into(), creds.access_key_id.clone());
        env.insert("AWS_SECRET_ACCESS_KEY".into(), creds.secret_access_key.clone());
        env.insert("AWS_SESSION_TOKEN".into(), creds.session_token.clone().unwrap());
        // the one stand-in: the SDK's own endpoint variable, pointing at moto
        env.insert("AWS_ENDPOINT_URL".into(), moto.endpoint.clone());
        for (k, v) in &from_template {
            assert!(env.insert(k.clone(), v.clone()).is_none(), "{f}: {k} set twice");
        }
        credentials.insert(stage, creds);
        template_env.insert(stage, from_template);
        started.push(lambda::start(stage, &root, env, logs.path()).await);
    }
    Deployed {
        functions: Functions::new(started),
        credentials,
        admin: iam.admin,
        template_env,
        _roots: roots,
        _logs: logs,
    }
}

fn function(d: &Deployed, stage: Stage) -> &Function {
    &d.functions.by_stage[&stage]
}

/// A role may do only what the template grants it: try what it does not.
async fn denied(endpoint: &str, creds: &Credentials, what: &str, bucket: &str, key: &str, put: bool) {
    let s3 = moto_iam::s3(endpoint, creds).await;
    let result = if put {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .map(drop)
            .map_err(|e| e.into_service_error().to_string())
    } else {
        s3.get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|e| e.into_service_error().to_string())
    };
    let err = result.expect_err(what);
    assert!(
        err.contains("AccessDenied") || err.contains("Access Denied"),
        "{what}: {err}"
    );
}

/// A train output without its measured seconds (`fit_secs`, each
/// candidate's `secs`), and so without the digest of `evaluation.json`,
/// which holds them.
fn without_timings(mut train: serde_json::Value) -> serde_json::Value {
    train.as_object_mut().unwrap().remove("fit_secs");
    let evaluation = train["evaluation_key"].as_str().unwrap().to_string();
    train["files"]
        .as_object_mut()
        .unwrap()
        .remove(&evaluation)
        .unwrap();
    for c in train["evaluation"]["leaderboard"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("secs");
    }
    train
}

async fn recs_of(schema: &Schema, model: i64) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.recommendation WHERE model_id = $1",
        schema.name
    )))
    .bind(model)
    .fetch_one(&schema.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deployed_functions_run_with_the_templates_environment_and_permissions() {
    let t = Template::load();
    let d = deployment();
    let moto = MotoServer::start();
    let schema = Schema::new().await;

    // before IAM is enforced: the stack's buckets and the secret, as deployed
    let data_bucket = &d.names["DataBucket"];
    let snowplow = &d.parameters["SnowplowBucket"];
    let raw = moto.store(snowplow, "").await;
    let data_store = moto.store(data_bucket, "").await;
    let layout = InputLayout::new("enriched/good").unwrap();
    // a new site: five days of reading, no catalogue, no model yet; two
    // more hours arrive after the first run
    let data_end = as_of() + Duration::hours(6);
    let mut spec = Spec::sample(SITE, data_end, DAYS, 5);
    spec.readers = 1200;
    spec.articles = 150;
    let gen = generate::generate(&spec, &layout).unwrap();
    generate::write_hours(&gen, &raw, &layout).await.unwrap();
    // a second site of the same Snowplow pipeline: its own app id, same partitions
    let mut other_spec = Spec::sample(OTHER_APP, data_end, DAYS, 6);
    other_spec.readers = 800;
    other_spec.articles = 100;
    let other = generate::generate(&other_spec, &layout).unwrap();
    generate::write_to(&other, &raw, &data_store, &layout, OTHER)
        .await
        .unwrap();
    let parameter = &d.parameters["DatabaseUrlParam"];
    let aws = moto_iam::sdk_config(
        &moto.endpoint,
        &Credentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        },
    )
    .await;
    aws_sdk_ssm::Client::new(&aws)
        .put_parameter()
        .name(parameter)
        .value(schema.secret_url())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let deployed = deploy(&moto, &t, &d).await;
    let admin = moto_iam::sdk_config(&moto.endpoint, &deployed.admin).await;
    let admin_data = S3Store::with_client(
        moto_iam::s3(&moto.endpoint, &deployed.admin).await,
        data_bucket,
        "",
    );

    // each function has its template's variables and the Lambda service's, nothing more
    for stage in Stage::ALL {
        let f = function(&deployed, stage);
        let from_template = &deployed.template_env[&stage];
        let service = lambda::lambda_environment("x", 1, "us-east-1", std::path::Path::new("/"));
        for key in f.environment.keys() {
            let known = from_template.contains_key(key)
                || service.contains_key(key)
                || matches!(
                    key.as_str(),
                    "AWS_ACCESS_KEY_ID"
                        | "AWS_SECRET_ACCESS_KEY"
                        | "AWS_SESSION_TOKEN"
                        | "AWS_ENDPOINT_URL"
                        | "AWS_LAMBDA_RUNTIME_API"
                );
            assert!(
                known,
                "{}: {key} is neither the template's nor Lambda's",
                stage.name()
            );
        }
        assert!(!f.environment.contains_key("DATABASE_URL") && !f.environment.contains_key("LOCAL_DIR"));
    }

    // each role may do only what the template grants it
    let ep = &moto.endpoint;
    let cred = |s: Stage| &deployed.credentials[&s];
    denied(
        ep,
        cred(Stage::Defaults),
        "defaults writes the hour cache",
        data_bucket,
        "cache/x",
        true,
    )
    .await;
    denied(
        ep,
        cred(Stage::Defaults),
        "defaults reads Snowplow",
        snowplow,
        "enriched/good/x",
        false,
    )
    .await;
    denied(
        ep,
        cred(Stage::Fetch),
        "fetch writes a catalogue",
        data_bucket,
        "catalog/example/articles.jsonl",
        true,
    )
    .await;
    denied(
        ep,
        cred(Stage::Fetch),
        "fetch writes outside its prefixes",
        data_bucket,
        "elsewhere/x",
        true,
    )
    .await;
    denied(
        ep,
        cred(Stage::Train),
        "train writes to Snowplow",
        snowplow,
        "enriched/good/x",
        true,
    )
    .await;
    denied(
        ep,
        cred(Stage::Save),
        "save writes the hour cache",
        data_bucket,
        "cache/example/x",
        true,
    )
    .await;
    for stage in [Stage::Fetch, Stage::Defaults, Stage::Train] {
        let ssm = aws_sdk_ssm::Client::new(&moto_iam::sdk_config(ep, cred(stage)).await);
        let err = ssm
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await;
        assert!(err.is_err(), "{} may not read the database URL", stage.name());
    }

    // the first run of a new site: every hour new, no catalogue, no current model
    let run1 = RunRef {
        site: SITE.into(),
        run_id: "lambda-1".into(),
        as_of: as_of(),
    };
    let report = run_pipeline_with(&deployed.functions, &run1).await.unwrap();
    let plan = &report.state["fetch_plan"];
    let hours = plan["hours"].as_array().unwrap().len();
    assert_eq!(plan["distributed"], true, "{plan}");
    assert!(hours >= 110, "{plan}");
    let fetches = report.timings.iter().filter(|t| t.stage == Stage::Fetch).count();
    assert_eq!(fetches, 1 + hours + 1, "plan, one per hour, window");
    let mut order: Vec<Stage> = report.timings.iter().map(|t| t.stage).collect();
    order.dedup();
    assert_eq!(order, Stage::ALL);
    let counts = &report.state["fetch"]["counts"];
    assert_eq!(counts["hours_cached"], hours as u64, "{counts}");
    assert_eq!(counts["hours_parsed"], 0);
    // what a correct fetch keeps: the distinct valid events of the hour
    // partitions before the run (an event's partition is its collector hour)
    let mut in_window = std::collections::HashSet::new();
    for (_, lines) in gen.hours.range(..as_of()) {
        for l in lines {
            if let Ok(article_rec_core::stages::fetch::snowplow::Parsed::Keep(e)) =
                article_rec_core::stages::fetch::snowplow::parse_line(l, SITE)
            {
                if e.time_ms < as_of().timestamp_millis() {
                    in_window.insert(e.event_id);
                }
            }
        }
    }
    assert_eq!(counts["kept"], in_window.len() as u64, "{counts}");
    assert_eq!(report.state["preprocess"]["current_article_model"], Value::Null);

    // the recommendations landed in PostgreSQL, as the API reads them
    let db = article_rec_core::adapters::db::PgDb::open(&schema.url(), None)
        .await
        .unwrap();
    let popularity = db
        .current_model(SITE, ModelType::Popularity)
        .await
        .unwrap()
        .expect("defaults");
    assert_eq!(popularity.run_id, "lambda-1");
    assert_eq!(
        recs_of(&schema, popularity.id).await,
        20,
        "MAX_RECS from the template"
    );
    assert!(!db
        .current_recs(SITE, article_rec_core::contract::database::DEFAULT_SOURCE)
        .await
        .unwrap()
        .is_empty());
    // the functions measured every candidate; the winner beats the most-read
    // list on the holdout, and its lists are the site's current article model
    let train = &report.state["model"]["train"];
    let e = &train["evaluation"];
    let (best, baseline) = (&e["model"], &e["popularity"]);
    assert!(e["leaderboard"].as_array().unwrap().len() > 10, "{train}");
    assert_eq!(train["model"], e["winner"], "{train}");
    assert!(
        best["hit_rate"].as_f64() > baseline["hit_rate"].as_f64()
            && best["mrr"].as_f64() > baseline["mrr"].as_f64(),
        "{train}"
    );
    let save_out: SaveOutput = serde_json::from_value(report.state["save"].clone()).unwrap();
    let article_id = save_out.article_model_id.expect("promoted");
    assert_eq!(save_out.article_model_rejected, None);
    let article = db
        .current_model(SITE, ModelType::Article)
        .await
        .unwrap()
        .expect("a current article model");
    assert_eq!(article.id, article_id);
    assert_eq!(recs_of(&schema, article.id).await as u64, save_out.recs_written);
    assert!(save_out.recs_written >= 20 * 100, "{save_out:?}");
    // the run report was written beside the run's files
    let save: SaveOutput = serde_json::from_value(report.state["save"].clone()).unwrap();
    assert!(save.report_key.ends_with("report.html"));

    // every stage sent its figures to CloudWatch, under the template's namespace
    let metrics = aws_sdk_cloudwatch::Client::new(&admin)
        .list_metrics()
        .namespace("ArticleRec")
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
    let train_again = deployed
        .functions
        .invoke(Stage::Train, report.state.clone())
        .await
        .unwrap();
    // the same output but for the seconds each fit took
    assert_eq!(
        without_timings(train_again.clone()),
        without_timings(report.state["model"]["train"].clone())
    );
    // the retry rewrote evaluation.json (its seconds): the state of the first
    // attempt no longer describes it, and save says so, naming it
    let stale = deployed
        .functions
        .invoke(Stage::Save, report.state.clone())
        .await
        .unwrap_err();
    assert_eq!(stale.kind().error_type(), "ArticleRec.Data", "{stale}");
    assert!(
        stale
            .to_string()
            .contains("evaluation.json is damaged or was replaced"),
        "{stale}"
    );
    // as Step Functions runs a retry, save gets the retried attempt's output
    let mut state = report.state.clone();
    state["model"]["train"] = train_again;
    let save_again: SaveOutput =
        serde_json::from_value(deployed.functions.invoke(Stage::Save, state).await.unwrap()).unwrap();
    assert!(!save_again.newly_saved);
    assert_eq!(save_again.popularity_model_id, popularity.id);

    // two hours later: only the two new hours are parsed, in the window read
    let run2 = RunRef {
        site: SITE.into(),
        run_id: "lambda-2".into(),
        as_of: as_of() + Duration::hours(2),
    };
    let second = run_pipeline_with(&deployed.functions, &run2).await.unwrap();
    assert_eq!(second.state["fetch_plan"]["hours"].as_array().unwrap().len(), 2);
    assert_eq!(second.state["fetch_plan"]["distributed"], false);
    assert_eq!(second.state["fetch"]["counts"]["hours_parsed"], 2);
    assert_eq!(
        db.current_model(SITE, ModelType::Popularity)
            .await
            .unwrap()
            .unwrap()
            .run_id,
        "lambda-2"
    );

    // the current models' run files expired: the next run still completes
    let current = db
        .current_model(SITE, ModelType::Popularity)
        .await
        .unwrap()
        .unwrap();
    let expired = article_rec_core::contract::layout::RunLayout::new(&RunRef {
        run_id: current.run_id.clone(),
        ..run2.clone()
    })
    .unwrap()
    .prefix();
    assert!(admin_data.delete_prefix(&expired).await.unwrap() > 0);
    let run3 = RunRef {
        site: SITE.into(),
        run_id: "lambda-3".into(),
        as_of: as_of() + Duration::hours(4),
    };
    let third = run_pipeline_with(&deployed.functions, &run3).await.unwrap();
    assert_eq!(
        third.state["save"]["newly_saved"], true,
        "{}",
        third.state["save"]
    );
    assert_eq!(
        db.current_model(SITE, ModelType::Popularity)
            .await
            .unwrap()
            .unwrap()
            .run_id,
        "lambda-3"
    );

    // a failing stage (no input in this window): the failure path runs and
    // notifies, the Lambda error type reaches the state machine, the
    // current model stays
    let serving = db
        .current_model(SITE, ModelType::Popularity)
        .await
        .unwrap()
        .unwrap();
    // (a window long before the data: one in the future is refused as
    // wrong usage before any stage runs, tests/reliability.rs)
    let empty = RunRef {
        site: SITE.into(),
        run_id: "lambda-empty".into(),
        as_of: "2001-03-01T00:00:00Z".parse().unwrap(),
    };
    let err = run_pipeline_with(&deployed.functions, &empty).await.unwrap_err();
    assert_eq!(err.kind().error_type(), "ArticleRec.Data", "{err}");
    let still = db
        .current_model(SITE, ModelType::Popularity)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.id, serving.id);

    // one schedule, several sites: each runs as its own execution; a site
    // the deployment does not know fails alone, a name Step Functions
    // refuses never starts; either way the schedule fails at its end, so
    // its alarm fires, and the other sites ran
    let long = "s".repeat(44);
    let sites = [SITE, OTHER, "nowhere", long.as_str()].map(String::from);
    // EventBridge names the schedule's executions with a UUID: 36 characters,
    // so a 44-character site makes an 81-character execution name
    let tick = "0b5d2f3c-6a7e-4c1d-9f2a-8e7b6c5d4a3b";
    let schedule = run_schedule_with(&deployed.functions, &sites, tick, as_of() + Duration::hours(6))
        .await
        .unwrap();
    let results = schedule.state["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for (result, site) in results.iter().zip([SITE, OTHER]) {
        assert_eq!(result["run"]["status"], "SUCCEEDED", "{result}");
        assert_eq!(result["run"]["execution"], format!("{site}-{tick}"));
    }
    assert_eq!(results[2]["succeeded"], false, "{}", results[2]);
    assert_eq!(results[2]["error"]["Error"], "States.TaskFailed");
    assert!(
        results[2]["error"]["Cause"]
            .as_str()
            .unwrap()
            .contains("is not configured here"),
        "{}",
        results[2]
    );
    assert_eq!(
        results[3]["error"]["Error"], "StepFunctions.InvalidNameException",
        "{}",
        results[3]
    );
    let (error, _) = schedule.failed.expect("the schedule fails, so its alarm fires");
    assert_eq!(error, "ArticleRec.SitesFailed");
    let other_model = db
        .current_model(OTHER, ModelType::Popularity)
        .await
        .unwrap()
        .expect("the other site");
    assert_eq!(other_model.run_id, format!("other-{tick}"));
    assert!(!db
        .current_recs(OTHER, article_rec_core::contract::database::DEFAULT_SOURCE)
        .await
        .unwrap()
        .is_empty());
    assert!(
        schedule
            .notifications
            .iter()
            .any(|n| n.state == "NotifyFailure" && n.topic == "${FailureTopicArn}"),
        "the failed site's run notified: {:?}",
        schedule.notifications
    );

    // no function logged the database password, in either form
    for stage in Stage::ALL {
        let log = function(&deployed, stage).log_text();
        assert!(!log.is_empty(), "{} logged nothing", stage.name());
        assert!(
            !log.contains(DB_SECRET) && !log.contains(QUERY_SECRET),
            "{} logged the database password",
            stage.name()
        );
    }

    drop(deployed);
    drop(db);
    schema.drop_it().await;
}
