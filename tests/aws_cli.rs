//! `article-rec aws ...` against moto's Step Functions, which executes the
//! pipeline's own definition (`statemachine/pipeline.asl.json`, its
//! substitutions filled as in CI). Moto cannot run our functions, so each
//! Lambda Task returns a result queued beforehand (moto's "lambda simple"
//! backend): the real outputs of the same stages from a local run of a small
//! site. What this cannot check, and how the test stands in for it:
//! - a stage's own `ArticleRec.*` error: moto's functions fail only on a
//!   response over 6 MB (`Function.ResponseSizeTooLarge`), which the tests
//!   use; the mapping of `ArticleRec.*` errors to exit codes is a unit test;
//! - the two Parallel branches take queued results in whichever order their
//!   threads invoke, so both get one object holding both outputs;
//! - moto's parser rejects `ToleratedFailurePercentage` (0, the documented
//!   default): the definition is created without it;
//! - Distributed Map child executions are not reached (the runs' plans say
//!   one fetch Task).

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};

use article_rec_core::devtools::moto::MotoServer;
use serde_json::{json, Value};
use support::moto_iam::{self, Credentials};
use support::template::{Deployment, Template};

const SITE: &str = "example";

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_article-rec"));
    c.env_remove("DATABASE_URL")
        .env_remove("STORE_URL")
        .env_remove("SITE")
        .env_remove("DATABASE_URL_PARAMETER")
        .env_remove("PIPELINE_STATE_MACHINE_ARN")
        .env_remove("STACK_NAME");
    c.env("ALS_ITERATIONS", "5").env("ALS_FACTORS", "16");
    c
}

/// A plain HTTP POST of JSON to moto's own API (not an AWS protocol).
fn moto_post(endpoint: &str, path: &str, body: &Value) {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    let body = body.to_string();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 20") || reply.starts_with("HTTP/1.0 20"),
        "{path}: {reply}"
    );
}

/// A form POST in AWS Query, moto's credentials in the signature's place.
fn moto_form(endpoint: &str, body: &str) {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20261101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200"),
        "{body}: {reply}"
    );
}

/// What each Lambda invocation returns next, in order.
fn queue(moto: &MotoServer, results: &[Value]) {
    let results: Vec<String> = results.iter().map(Value::to_string).collect();
    moto_post(
        &moto.endpoint,
        "/moto-api/static/lambda-simple/response",
        &json!({"account_id": "123456789012", "region": "us-east-1", "results": results}),
    );
}

struct Deployed {
    moto: MotoServer,
    sfn: aws_sdk_sfn::Client,
    arn: String,
    dir: tempfile::TempDir,
}

/// A moto that executes state machines, the pipeline machine created as the
/// stack `test` would name it, and a bucket for the runs' reports.
async fn deployed() -> Deployed {
    let moto = MotoServer::start();
    moto_post(
        &moto.endpoint,
        "/moto-api/config",
        &json!({"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}),
    );
    let aws = moto.config().await;
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let root = env!("CARGO_MANIFEST_DIR");
    let mut definition =
        std::fs::read_to_string(Path::new(root).join("statemachine/pipeline.asl.json")).unwrap();
    for f in ["Fetch", "Preprocess", "Defaults", "Train", "Save"] {
        definition = definition.replace(
            &format!("${{{f}FunctionArn}}"),
            &format!("arn:aws:lambda:us-east-1:123456789012:function:test-{f}"),
        );
    }
    definition = definition
        .replace(
            "${FailureTopicArn}",
            "arn:aws:sns:us-east-1:123456789012:test-failures",
        )
        .replace("\"ToleratedFailurePercentage\": 0,", "");
    assert!(!definition.contains("${"), "unsubstituted: {definition}");
    let arn = sfn
        .create_state_machine()
        .name("test-pipeline")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/test-pipeline")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    moto.client()
        .await
        .create_bucket()
        .bucket("data")
        .send()
        .await
        .unwrap();
    // the failure topic the definition publishes to (SNS speaks AWS Query)
    moto_form(
        &moto.endpoint,
        "Action=CreateTopic&Name=test-failures&Version=2010-03-31",
    );
    Deployed {
        moto,
        sfn,
        arn,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Deployed {
    /// The CLI as an operator runs it against this deployment.
    fn aws(&self, args: &[&str]) -> Output {
        let testing = Credentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        };
        self.aws_as(&testing, args)
    }

    /// The CLI with an IAM role's credentials (moto with IAM enforced).
    fn aws_as(&self, who: &Credentials, args: &[&str]) -> Output {
        cli()
            .env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", &who.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &who.secret_access_key)
            .envs(who.session_token.as_deref().map(|t| ("AWS_SESSION_TOKEN", t)))
            .env("STACK_NAME", "test")
            .env("STORE_URL", "s3://data/")
            .env("S3_ENDPOINT_URL", &self.moto.endpoint)
            .env("S3_FORCE_PATH_STYLE", "true")
            .arg("aws")
            .args(args)
            .args(["--poll-secs", "1", "--dir"])
            .arg(self.dir.path())
            .output()
            .unwrap()
    }

    async fn names(&self) -> Vec<String> {
        let out = self
            .sfn
            .list_executions()
            .state_machine_arn(&self.arn)
            .send()
            .await
            .unwrap();
        let mut names: Vec<String> = out.executions().iter().map(|e| e.name().to_string()).collect();
        names.sort();
        names
    }
}

/// A local run of a small site: its summary and the stages' outputs.
struct LocalRun {
    summary: String,
    state: Value,
}

fn local_run(dir: &Path, as_of: &str) -> LocalRun {
    let small = |args: &[&str]| {
        cli()
            .env("DAYS_OF_DATA", "3")
            .env("HOLDOUT_DAYS", "1")
            // one fetch Task, no Distributed Map: moto would hand the queued
            // results to the map's iterations
            .env("FETCH_MAP_MIN_HOURS", "0")
            .args(args)
            .arg("--dir")
            .arg(dir)
            .output()
            .unwrap()
    };
    if !dir.join("store/catalog").exists() {
        let out = small(&[
            "generate",
            "--end",
            "2026-11-03T06:00:00Z",
            "--readers",
            "400",
            "--articles",
            "60",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = small(&["run", "--as-of", as_of]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run_id = as_of.replace(':', "-");
    let state = std::fs::read_to_string(dir.join(format!("store/runs/{SITE}/{run_id}/state.json"))).unwrap();
    LocalRun {
        summary: String::from_utf8(out.stdout).unwrap(),
        state: serde_json::from_str(&state).unwrap(),
    }
}

/// The results one successful execution's Tasks return, in order. moto's
/// queued Lambda results cannot say which branch of the Parallel state
/// takes which, so defaults and train both get one object holding both
/// outputs: their fields must not collide, but for the digests of the files
/// each wrote (`files`), which are one map of both.
fn results_of(state: &Value) -> Vec<Value> {
    let mut both = state["model"]["defaults"].as_object().unwrap().clone();
    let mut files = both["files"].as_object().unwrap().clone();
    for (k, v) in state["model"]["train"].as_object().unwrap() {
        if k == "files" {
            for (key, digest) in v.as_object().unwrap() {
                assert!(
                    files.insert(key.clone(), digest.clone()).is_none(),
                    "{key} written twice"
                );
            }
            continue;
        }
        assert!(
            both.insert(k.clone(), v.clone()).is_none(),
            "{k} is in both outputs"
        );
    }
    both.insert("files".into(), Value::Object(files));
    let both = Value::Object(both);
    vec![
        state["fetch_plan"].clone(),
        state["fetch"].clone(),
        state["preprocess"].clone(),
        both.clone(),
        both,
        state["save"].clone(),
    ]
}

/// A result over Lambda's 6 MB response limit: moto fails the invocation
/// (`Function.ResponseSizeTooLarge`), the one Lambda error it can make, and
/// the definition's failure path runs (Catch, the notification, Fail).
fn failing_stage() -> Value {
    Value::String("x".repeat(6_100_000))
}

/// The summary's lines that come from the stages' outputs (not the run id,
/// the store, the database or the timings).
fn stage_lines(summary: &str) -> Vec<String> {
    summary
        .lines()
        .filter(|l| {
            [
                "events:",
                "filter:",
                "model:",
                "leaders:",
                "holdout:",
                "slices:",
                "defaults:",
                "gate:",
                "saved:",
            ]
            .iter()
            .any(|k| l.trim_start().starts_with(k))
        })
        .map(str::to_string)
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out)
}

fn fails_with(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {stderr}\nstdout: {}",
        stdout(out)
    );
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_waits_prints_the_local_summary_and_a_repeat_starts_nothing() {
    let d = deployed().await;
    let local_dir = tempfile::tempdir().unwrap();
    let local = local_run(local_dir.path(), "2026-11-03T06:00:00Z");
    queue(&d.moto, &results_of(&local.state));

    let args = ["run", "--site", SITE, "--as-of", "2026-11-03T06:00:00Z", "--wait"];
    let out = d.aws(&args);
    let summary = ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("started: execution example-2026-11-03T06-00-00Z"));
    assert!(
        summary.starts_with(
            "run example-2026-11-03T06-00-00Z of site example (window ends 2026-11-03 06:00:00 UTC)"
        ),
        "{summary}"
    );
    let lines = stage_lines(&summary);
    assert_eq!(
        lines,
        stage_lines(&local.summary),
        "aws:\n{summary}\nlocal:\n{}",
        local.summary
    );
    assert!(lines.len() >= 8, "{summary}");
    assert!(summary.contains("time:     fetch "), "{summary}");
    assert!(
        summary.contains("report:   s3://data/runs/example/2026-11-03T06-00-00Z/report.html"),
        "{summary}"
    );
    // the window is one execution, and its input names the window's end
    let exec = d
        .sfn
        .describe_execution()
        .execution_arn(format!(
            "{}:example-2026-11-03T06-00-00Z",
            d.arn.replace(":stateMachine:", ":execution:")
        ))
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(exec.input().unwrap()).unwrap();
    assert_eq!(input, json!({"site": SITE, "as_of": "2026-11-03T06:00:00Z"}));

    // the same window again: nothing new starts, the same summary prints
    let out = d.aws(&args);
    assert_eq!(stage_lines(&ok(&out)), stage_lines(&local.summary));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already succeeded"));
    assert_eq!(d.names().await, vec!["example-2026-11-03T06-00-00Z".to_string()]);

    // status lists it with the figures of its history and a presigned link
    let out = d.aws(&["status", "--site", SITE, "--json"]);
    let rows: Value = serde_json::from_str(&ok(&out)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["execution"], "example-2026-11-03T06-00-00Z");
    assert_eq!(r["status"], "SUCCEEDED");
    assert_eq!(r["lines_read"], local.state["fetch"]["counts"]["parsed"]["lines"]);
    assert_eq!(r["readers"], local.state["preprocess"]["funnel"]["readers"]);
    let model: article_rec_core::contract::evaluation::ModelSpec =
        serde_json::from_value(local.state["model"]["train"]["model"].clone()).unwrap();
    assert_eq!(r["model"], model.to_string());
    assert_eq!(r["promoted"], local.state["model"]["train"]["gate"]["promote"]);
    assert_eq!(r["online"], local.state["model"]["train"]["online"]);
    assert_eq!(
        r["online"]["widget_events"], 0,
        "the generated data has no widget"
    );
    let link = r["report"].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "{}/data/runs/example/2026-11-03T06-00-00Z/report.html?",
            d.moto.endpoint
        )) && link.contains("X-Amz-Signature="),
        "{link}"
    );
    let text = ok(&d.aws(&["status", "--site", SITE]));
    assert!(
        text.starts_with("example-2026-11-03T06-00-00Z  SUCCEEDED  started "),
        "{text}"
    );
    for needle in [
        "  events:  ",
        " lines read, ",
        "  model:   ",
        "; gate ",
        "  online:  0 widget events; article CTR -, defaults -",
        "  report:  http",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    // another site's executions are not this site's
    let out = d.aws(&["status", "--site", "other"]);
    fails_with(&out, 2, "not configured");

    // a run that fails: the exit code its error means, the state named
    queue(&d.moto, &[failing_stage()]);
    let out = d.aws(&["run", "--site", SITE, "--as-of", "2026-11-03T08:00:00Z", "--wait"]);
    fails_with(
        &out,
        4,
        "run example-2026-11-03T08-00-00Z FAILED in stage fetch (state FetchPlan)",
    );
    fails_with(&out, 4, "Function.ResponseSizeTooLarge");
    // it failed the way AWS would: caught, notified, then the Fail state
    let history = d
        .sfn
        .get_execution_history()
        .execution_arn(format!(
            "{}:example-2026-11-03T08-00-00Z",
            d.arn.replace(":stateMachine:", ":execution:")
        ))
        .send()
        .await
        .unwrap();
    let entered: Vec<&str> = history
        .events()
        .iter()
        .filter_map(|e| e.state_entered_event_details().map(|d| d.name()))
        .collect();
    assert!(entered.contains(&"NotifyFailure"), "{entered:?}");
    let end = history.events().last().unwrap();
    assert_eq!(
        end.execution_failed_event_details().and_then(|d| d.error()),
        Some("ArticleRec.RunFailed"),
        "{end:?}"
    );
    // run again, the window gets a second attempt of its own name
    queue(&d.moto, &results_of(&local.state));
    let out = d.aws(&["run", "--site", SITE, "--as-of", "2026-11-03T08:00:00Z"]);
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("started: execution example-2026-11-03T08-00-00Z-r2")
    );
    let text = ok(&d.aws(&["status", "--site", SITE, "--last", "5"]));
    assert!(text.contains("example-2026-11-03T08-00-00Z  FAILED"), "{text}");
    assert!(
        text.contains("  failed:  run example-2026-11-03T08-00-00Z FAILED"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_retries_a_failed_window_once_and_a_second_backfill_starts_nothing() {
    let d = deployed().await;
    let local_dir = tempfile::tempdir().unwrap();
    let local = local_run(local_dir.path(), "2026-11-03T06:00:00Z");
    let good = results_of(&local.state);
    // window 1 succeeds; window 2 fails, then its retry succeeds; window 3 succeeds
    let mut results = good.clone();
    results.push(failing_stage());
    results.extend(good.clone());
    results.extend(good.clone());
    queue(&d.moto, &results);
    let args = [
        "backfill",
        "--site",
        SITE,
        "--from",
        "2026-11-01T00:00:00Z",
        "--to",
        "2026-11-03T00:00:00Z",
        "--parallel",
        "1",
        "--json",
    ];
    let out = d.aws(&args);
    let rows: Value = serde_json::from_str(&ok(&out)).unwrap();
    let outcomes: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["execution"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("example-2026-11-01T00-00-00Z", "succeeded"),
            ("example-2026-11-02T00-00-00Z-r2", "succeeded"),
            ("example-2026-11-03T00-00-00Z", "succeeded"),
        ]
    );
    let before = d.names().await;
    assert_eq!(before.len(), 4, "{before:?}");

    // the same windows again: every one had succeeded, nothing starts
    let out = d.aws(&args[..args.len() - 1]);
    let text = ok(&out);
    assert!(
        text.contains("backfill of example: 3 windows, 0 succeeded now, 3 had succeeded before, 0 failed"),
        "{text}"
    );
    assert_eq!(d.names().await, before);

    // a window that fails twice is listed, and decides the exit code
    queue(&d.moto, &[failing_stage(), failing_stage()]);
    let out = d.aws(&[
        "backfill",
        "--site",
        SITE,
        "--from",
        "2026-11-02T00:00:00Z",
        "--to",
        "2026-11-04T00:00:00Z",
    ]);
    fails_with(&out, 4, "backfill: 1 of 3 windows failed");
    let text = stdout(&out);
    assert!(
        text.contains("2026-11-04T00:00:00+00:00  example-2026-11-04T00-00-00Z-r2  FAILED: run example-2026-11-04T00-00-00Z-r2 FAILED"),
        "{text}"
    );
    assert!(
        text.contains("0 succeeded now, 2 had succeeded before, 1 failed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_switches_the_deployed_database_named_by_the_ssm_parameter() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    local_run(dir.path(), "2026-11-03T04:00:00Z");
    local_run(dir.path(), "2026-11-03T06:00:00Z");
    let db = format!("sqlite://{}", dir.path().join("article-rec.sqlite").display());
    aws_sdk_ssm::Client::new(&moto.config().await)
        .put_parameter()
        .name("/article-rec/test/database-url")
        .value(&db)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let out = cli()
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("DATABASE_URL", "sqlite:///nonexistent/not-this-one.sqlite")
        .env("DATABASE_URL_PARAMETER", "/article-rec/test/database-url")
        .env("STORE_URL", dir.path().join("store"))
        .args([
            "aws", "rollback", "--site", SITE, "--model", "article", "--json", "--dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let switched: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(switched[0]["to"]["run_id"], "2026-11-03T04-00-00Z", "{switched}");
    assert_eq!(
        switched[0]["from"]["run_id"], "2026-11-03T06-00-00Z",
        "{switched}"
    );
    assert_eq!(switched[0]["to"]["status"], "current");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_message_and_the_documented_exit_code() {
    let d = deployed().await;
    let future = (chrono::Utc::now() + chrono::TimeDelta::days(2))
        .format("%Y-%m-%dT%H:00:00Z")
        .to_string();
    for (args, code, needle) in [
        (
            vec!["run", "--site", "nowhere"],
            2,
            "site \"nowhere\" is not configured here",
        ),
        (
            vec!["run", "--site", SITE, "--as-of", &future],
            2,
            "is in the future",
        ),
        (vec!["run", "--site", SITE, "--as-of", "yesterday"], 2, "--as-of"),
        (
            vec![
                "backfill",
                "--site",
                SITE,
                "--from",
                "2026-11-03T00:00:00Z",
                "--to",
                "2026-11-01T00:00:00Z",
            ],
            2,
            "--from 2026-11-03T00:00:00+00:00 is after --to 2026-11-01T00:00:00+00:00",
        ),
        (
            vec![
                "backfill",
                "--site",
                SITE,
                "--from",
                "2026-11-03T00:00:00Z",
                "--to",
                &future,
            ],
            2,
            "--to ",
        ),
        (
            vec!["status", "--stack", "nope"],
            2,
            "no state machine nope-pipeline in us-east-1",
        ),
        (
            vec![
                "status",
                "--state-machine",
                "arn:aws:states:us-east-1:123456789012:stateMachine:gone",
            ],
            2,
            "state machine arn:aws:states:us-east-1:123456789012:stateMachine:gone does not exist",
        ),
    ] {
        let out = d.aws(&args);
        fails_with(&out, code, needle);
    }
    assert!(d.names().await.is_empty(), "nothing was started");

    // no credentials anywhere in the chain
    let home = tempfile::tempdir().unwrap();
    let out = cli()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &d.moto.endpoint)
        .args(["aws", "status", "--dir"])
        .arg(home.path())
        .output()
        .unwrap();
    fails_with(&out, 2, "no AWS credentials");
}

/// The operators' managed policy (the stack's output `OperatorPolicyArn`)
/// is what `aws run` and `aws status` need, on moto with IAM enforced
/// (actions are enforced; Step Functions resources are not, see
/// support::moto_iam); the same policy without `states:StartExecution`
/// is refused with exit 5, naming the action.
#[tokio::test(flavor = "multi_thread")]
async fn the_operator_policy_lets_the_aws_commands_run_and_nothing_less_does() {
    let d = deployed().await;

    let t = Template::load();
    let deployment = Deployment::minimal("test", "data");
    let policy = t.resolve(
        &t.resource("OperatorPolicy")["Properties"]["PolicyDocument"]["Statement"],
        &deployment,
    );
    let operator = moto_iam::for_moto(policy.as_array().unwrap());
    let without_start: Vec<Value> = operator
        .iter()
        .map(|st| {
            let mut st = st.clone();
            let actions: Vec<Value> = st["Action"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| *a != "states:StartExecution")
                .cloned()
                .collect();
            st["Action"] = Value::Array(actions);
            st
        })
        .filter(|st| !st["Action"].as_array().unwrap().is_empty())
        .collect();
    let roles = BTreeMap::from([
        ("operator".to_string(), operator),
        ("no-start".to_string(), without_start),
    ]);
    let iam = moto_iam::enforce(&d.moto.endpoint, &roles);

    // not --wait: with IAM enforced, moto's own execution of the definition
    // calls its Lambda backend with credentials IAM refuses, so the
    // execution fails inside moto whatever the operator may do
    let run = ["run", "--site", SITE, "--as-of", "2026-11-03T06:00:00Z"];
    fails_with(&d.aws_as(&iam.roles["no-start"], &run), 5, "StartExecution");
    let out = d.aws_as(&iam.roles["operator"], &run);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("started: execution example-2026-11-03T06-00-00Z"));
    let status = ok(&d.aws_as(&iam.roles["operator"], &["status", "--site", SITE, "--last", "1"]));
    assert!(status.starts_with("example-2026-11-03T06-00-00Z  "), "{status}");
}
