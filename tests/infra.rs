//! Wiring between the function crates, sample events, the state machine and the
//! SAM template.

mod support;

use std::path::Path;

use article_rec_core::contract::stage::{
    DefaultsInput, FetchRequest, PreprocessInput, SaveInput, Stage, TrainInput,
};
use serde_json::Value;
use support::template::{Deployment, Template};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_stage_has_a_crate_an_event_and_a_template_function() {
    let template = read("template.yaml");
    let workspace = read("Cargo.toml");
    for stage in Stage::ALL {
        let name = stage.name();
        let manifest = read(&format!("functions/{name}/Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "functions/{name} package name"
        );
        assert!(
            workspace.contains(&format!("\"functions/{name}\"")),
            "{name} not a workspace member"
        );
        // `sam build` builds it with cargo-lambda in its crate and copies
        // the crate's target/lambda/<name>/bootstrap: the link makes that
        // the workspace's target directory, where cargo writes it
        let t = Template::load();
        let f = t.resource(&t.function_for(name));
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let link = root().join(format!("functions/{name}/target"));
        assert_eq!(
            std::fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display())),
            Path::new("../../target"),
            "{name}"
        );
        let arn = format!("{}FunctionArn", capitalised(name));
        assert!(
            template.contains(&format!("{arn}: !GetAtt")),
            "no substitution for {arn}"
        );
        let event = read(&format!("events/{name}.json"));
        let parsed = match stage {
            Stage::Fetch => serde_json::from_str::<FetchRequest>(&event).map(|_| ()),
            Stage::Preprocess => serde_json::from_str::<PreprocessInput>(&event).map(|_| ()),
            Stage::Defaults => serde_json::from_str::<DefaultsInput>(&event).map(|_| ()),
            Stage::Train => serde_json::from_str::<TrainInput>(&event).map(|_| ()),
            Stage::Save => serde_json::from_str::<SaveInput>(&event).map(|_| ()),
        };
        parsed.unwrap_or_else(|e| panic!("events/{name}.json is not a {name} input: {e}"));
    }
}

/// The fetch function's other requests have samples too (for `cargo lambda
/// invoke`), and they parse as what the state machine sends.
#[test]
fn fetch_samples_are_the_requests_the_state_machine_sends() {
    let plan: FetchRequest = serde_json::from_str(&read("events/fetch-plan.json")).unwrap();
    assert!(matches!(plan, FetchRequest::Plan(_)), "{plan:?}");
    let hour: FetchRequest = serde_json::from_str(&read("events/fetch-hour.json")).unwrap();
    assert!(matches!(hour, FetchRequest::Hour(_)), "{hour:?}");
    let window: FetchRequest = serde_json::from_str(&read("events/fetch.json")).unwrap();
    assert!(matches!(window, FetchRequest::Window(_)), "{window:?}");
    // an hour request without its hour is refused with a reason
    let err = serde_json::from_str::<FetchRequest>(
        r#"{"action": "hour", "run": {"site": "a", "run_id": "b", "as_of": "2026-01-01T00:00:00Z"}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs an \"hour\""), "{err}");
    let schedule: serde_json::Value = serde_json::from_str(&read("events/schedule.json")).unwrap();
    assert!(schedule["sites"].as_array().is_some_and(|s| !s.is_empty()));
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

#[test]
fn every_substitution_in_the_state_machines_is_defined_by_the_template() {
    let asl = read("statemachine/pipeline.asl.json") + &read("statemachine/schedule.asl.json");
    let template = read("template.yaml");
    let mut rest = asl.as_str();
    let mut seen = 0;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 2..end];
        assert!(
            template.contains(&format!("{name}: ")),
            "${{{name}}} has no DefinitionSubstitutions entry"
        );
        seen += 1;
        rest = &rest[end..];
    }
    assert!(
        seen >= 7,
        "expected five function ARNs, the failure topic and the pipeline, saw {seen}"
    );
    // the local runner and the deployed machine agree on the order
    assert_eq!(
        article_rec_core::run::definition::stage_order().unwrap(),
        Stage::ALL
    );
}

#[test]
fn state_machine_retries_only_transient_errors_and_catches_everything() {
    let asl: serde_json::Value = serde_json::from_str(&read("statemachine/pipeline.asl.json")).unwrap();
    let mut tasks = Vec::new();
    fn walk<'a>(m: &'a serde_json::Value, out: &mut Vec<(&'a str, &'a serde_json::Value)>) {
        for (name, s) in m["States"].as_object().unwrap() {
            if s["Type"] == "Task" && s["Resource"].as_str().unwrap().ends_with("FunctionArn}") {
                out.push((name, s));
            }
            for b in s["Branches"].as_array().into_iter().flatten() {
                walk(b, out);
            }
            if let Some(p) = s.get("ItemProcessor") {
                walk(p, out);
            }
        }
    }
    walk(&asl, &mut tasks);
    // plan, one hour (in the Distributed Map), window, and the four others
    assert_eq!(tasks.len(), 7);
    let mut functions: Vec<&str> = tasks
        .iter()
        .map(|(_, s)| s["Resource"].as_str().unwrap())
        .collect();
    functions.sort_unstable();
    functions.dedup();
    assert_eq!(functions.len(), 5, "{functions:?}");
    for (name, s) in tasks {
        for r in s["Retry"].as_array().unwrap() {
            assert_eq!(
                r["JitterStrategy"], "FULL",
                "{name}: retries without jitter move in lockstep"
            );
        }
        let retried: Vec<&str> = s["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(retried.contains(&"ArticleRec.Transient"), "{name}");
        assert!(
            !retried.iter().any(|e| e.starts_with("States.")),
            "{name} retries {retried:?}"
        );
    }
}

/// Every environment variable the template sets is one the settings read (a
/// misspelt name would be silently ignored in AWS), and the functions that
/// reach the database get its URL from SSM and run in its VPC.
#[test]
fn template_environment_matches_the_settings() {
    let template = read("template.yaml");
    // the settings and the option structs they own
    let settings = read("shared/src/settings/mod.rs")
        + &read("shared/src/settings/options.rs")
        + &read("shared/src/settings/parse.rs");
    let mut in_env = false;
    let mut names = Vec::new();
    for line in template.lines() {
        let trimmed = line.trim_start();
        if trimmed == "Variables:" {
            in_env = true;
            continue;
        }
        if in_env {
            match trimmed.split_once(':') {
                Some((key, _))
                    if !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
                {
                    names.push(key.to_string());
                }
                _ => in_env = false,
            }
        }
    }
    assert!(names.len() >= 8, "found only {names:?}");
    // STAGE names the deployment for people; it is not a setting
    for name in names.iter().filter(|n| *n != "STAGE" && *n != "RUST_LOG") {
        assert!(
            settings.contains(&format!("\"{name}\"")),
            "template sets {name}, which no setting reads"
        );
    }
    for function in ["PreprocessFunction", "SaveFunction"] {
        // a resource runs to the next line indented by exactly two spaces
        let lines: Vec<&str> = template.lines().collect();
        let start = lines
            .iter()
            .position(|l| *l == format!("  {function}:"))
            .unwrap_or_else(|| panic!("no {function} in the template"));
        let end = lines[start + 1..]
            .iter()
            .position(|l| l.starts_with("  ") && !l.starts_with("   "))
            .map_or(lines.len(), |i| start + 1 + i);
        let body = lines[start..end].join("\n");
        for needle in [
            "VpcConfig:",
            "DATABASE_URL_PARAMETER: !Ref DatabaseUrlParam",
            "ssm:GetParameter",
        ] {
            assert!(body.contains(needle), "{function} lacks {needle}");
        }
    }
}

/// The schedule starts the schedule machine with the site list; it starts the
/// pipeline once per site, and the pipeline fans the hours out only when the
/// plan says so.
#[test]
fn the_schedule_serves_every_site_and_the_hours_fan_out_by_plan() {
    let template = read("template.yaml");
    let schedule: serde_json::Value = serde_json::from_str(&read("statemachine/schedule.asl.json")).unwrap();
    let sites = &schedule["States"]["Sites"];
    assert_eq!(sites["Type"], "Map");
    assert_eq!(sites["ItemsPath"], "$.sites");
    let run = &sites["ItemProcessor"]["States"]["RunSite"];
    assert_eq!(run["Resource"], "arn:aws:states:::states:startExecution.sync:2");
    assert_eq!(run["Parameters"]["StateMachineArn"], "${PipelineStateMachineArn}");
    assert!(
        run["Catch"][0]["ErrorEquals"][0] == "States.ALL",
        "one site's failure is caught"
    );
    assert!(template.contains("PipelineStateMachineArn: !Ref PipelineStateMachine"));
    assert!(
        template.contains(r#"- '{"sites": ["${List}"]}'"#),
        "schedule input"
    );

    let pipeline: serde_json::Value = serde_json::from_str(&read("statemachine/pipeline.asl.json")).unwrap();
    let states = &pipeline["States"];
    assert_eq!(states["Start"]["Next"], "FetchPlan");
    // an operator's run (`article-rec aws run`) names its window's end in the
    // input; the schedule's runs end at the execution's start
    assert_eq!(pipeline["StartAt"], "AsOf");
    assert_eq!(states["AsOf"]["Choices"][0]["Variable"], "$.as_of");
    assert_eq!(states["AsOf"]["Choices"][0]["IsPresent"], true);
    assert_eq!(states["AsOf"]["Choices"][0]["Next"], "StartAsOf");
    assert_eq!(states["AsOf"]["Default"], "Start");
    assert_eq!(states["StartAsOf"]["Parameters"]["run"]["as_of.$"], "$.as_of");
    assert_eq!(
        states["StartAsOf"]["Parameters"]["run"]["run_id.$"],
        "$$.Execution.Name"
    );
    assert_eq!(states["StartAsOf"]["Next"], "FetchPlan");
    assert_eq!(
        states["Start"]["Parameters"]["run"]["as_of.$"],
        "$$.Execution.StartTime"
    );
    assert_eq!(states["FetchPlan"]["Parameters"]["action"], "plan");
    assert_eq!(
        states["ManyHours"]["Choices"][0]["Variable"],
        "$.fetch_plan.distributed"
    );
    let map = &states["FetchHours"];
    assert_eq!(map["ItemProcessor"]["ProcessorConfig"]["Mode"], "DISTRIBUTED");
    assert_eq!(map["ItemSelector"]["action"], "hour");
    assert_eq!(map["ItemsPath"], "$.fetch_plan.hours");
    assert!(map["ResultPath"].is_null(), "hour outputs stay out of the state");
    assert_eq!(states["Fetch"]["Parameters"]["action"], "window");
    // the Distributed Map needs the machine's right to start its own children
    assert!(template.contains(":stateMachine:${AWS::StackName}-pipeline\""));
    assert!(template.contains("Name: !Sub \"${AWS::StackName}-pipeline\""));
}

fn deployment() -> Deployment {
    Deployment::minimal("article-rec", "article-rec-data")
}

/// Actions a statement allows on a resource (exact ARN or `prefix*`).
fn allows(statements: &[Value], action: &str, resource: &str) -> Vec<Value> {
    statements
        .iter()
        .filter(|st| st["Effect"] == "Allow")
        .filter(|st| {
            let actions: Vec<&str> = match &st["Action"] {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                Value::String(s) => vec![s.as_str()],
                _ => vec![],
            };
            actions.contains(&action)
        })
        .filter(|st| {
            let res: Vec<&str> = match &st["Resource"] {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                Value::String(s) => vec![s.as_str()],
                _ => vec![],
            };
            res.iter().any(|r| match r.strip_suffix('*') {
                Some(p) => resource.starts_with(p),
                None => *r == resource,
            })
        })
        .cloned()
        .collect()
}

/// The template and the code agree on what each function opens: only the
/// stages that use the database get its SSM parameter, may read it and run
/// in its VPC; only fetch gets the Snowplow bucket.
#[test]
fn each_function_gets_exactly_the_adapters_its_stage_opens() {
    let t = Template::load();
    let d = deployment();
    for stage in Stage::ALL {
        let f = t.function_for(stage.name());
        let env = t.environment(&f, &d);
        let statements = t.statements(&f, &d);
        let props = &t.resource(&f)["Properties"];
        let needs = stage.adapters();
        let param = d.arn("ssm", "parameter/article-rec/dev/database-url");
        assert_eq!(
            env.contains_key("DATABASE_URL_PARAMETER"),
            needs.database,
            "{f}: {env:?}"
        );
        assert_eq!(props.get("VpcConfig").is_some(), needs.database, "{f}: VpcConfig");
        assert_eq!(
            !allows(&statements, "ssm:GetParameter", &param).is_empty(),
            needs.database,
            "{f}: ssm:GetParameter on the parameter DATABASE_URL_PARAMETER names"
        );
        if needs.database {
            assert_eq!(env["DATABASE_URL_PARAMETER"], "/article-rec/dev/database-url");
        }
        assert_eq!(env.contains_key("INPUT_URL"), needs.input, "{f}");
        assert_eq!(
            !allows(
                &statements,
                "s3:GetObject",
                "arn:aws:s3:::snowplow-enriched/enriched/good/x.gz"
            )
            .is_empty(),
            needs.input,
            "{f}: the Snowplow bucket"
        );
        // nothing in any function's environment points at a local directory
        assert!(
            !env.contains_key("LOCAL_DIR") && !env.contains_key("DATABASE_URL"),
            "{f}: {env:?}"
        );
        assert!(env["STORE_URL"].starts_with("s3://"), "{f}");
    }
}

/// `CONTENT_EMBEDDINGS=<name>` is read from `models/<name>/` in the data
/// bucket by train, and by nothing else; no function may overwrite it.
#[test]
fn only_train_reads_the_operators_embedding_model_and_none_writes_it() {
    let t = Template::load();
    let d = deployment();
    let key =
        article_rec_core::contract::layout::embedding_model("potion-base-8M", "model.safetensors").unwrap();
    let arn = format!("arn:aws:s3:::article-rec-data/{}", key.as_str());
    for stage in Stage::ALL {
        let f = t.function_for(stage.name());
        let statements = t.statements(&f, &d);
        assert_eq!(
            !allows(&statements, "s3:GetObject", &arn).is_empty(),
            stage == Stage::Train,
            "{f}: s3:GetObject on {arn}"
        );
        assert!(
            allows(&statements, "s3:PutObject", &arn).is_empty(),
            "{f} may overwrite {arn}"
        );
    }
}

/// S3 answers 403, not 404, for a key that does not exist unless the caller
/// may `s3:ListBucket` the bucket (documented for GetObject; moto always
/// answers 404, so this pins it): every function that reads a bucket by key
/// may list it, so a missing object reads as missing, not as denied.
#[test]
fn every_function_may_list_each_bucket_it_reads_by_key() {
    let t = Template::load();
    let d = deployment();
    for f in t.functions() {
        let statements = t.statements(&f, &d);
        for st in &statements {
            if st["Action"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "s3:GetObject"))
            {
                let res = st["Resource"].as_str().unwrap();
                let bucket = res.trim_start_matches("arn:aws:s3:::").split('/').next().unwrap();
                let arn = format!("arn:aws:s3:::{bucket}");
                assert!(
                    !allows(&statements, "s3:ListBucket", &arn).is_empty(),
                    "{f} reads {res} but may not list {arn}: a missing key would be a 403"
                );
            }
        }
    }
}

/// The conditions moto does not evaluate (it denies every conditioned
/// statement in its IAM mode, so the Lambda test drops them) are pinned
/// here against the environment the code runs with.
#[test]
fn policy_conditions_match_what_the_code_does() {
    let t = Template::load();
    let d = deployment();
    for f in t.functions() {
        let env = t.environment(&f, &d);
        let statements = t.statements(&f, &d);
        let metrics = allows(&statements, "cloudwatch:PutMetricData", "*");
        assert_eq!(metrics.len(), 1, "{f}");
        assert_eq!(
            metrics[0]["Condition"]["StringEquals"]["cloudwatch:namespace"],
            env["METRICS_NAMESPACE"].as_str(),
            "{f}: metrics may go only to the namespace the code writes to"
        );
        for st in &statements {
            assert!(
                st["Resource"] != "*" || st.get("Condition").is_some(),
                "{f}: an unconditioned Resource \"*\": {st}"
            );
        }
    }
    let fetch = t.function_for("fetch");
    let env = t.environment(&fetch, &d);
    let list = allows(
        &t.statements(&fetch, &d),
        "s3:ListBucket",
        "arn:aws:s3:::snowplow-enriched",
    );
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["Condition"]["StringLike"]["s3:prefix"],
        format!("{}/*", env["INPUT_PREFIX"]).as_str(),
        "fetch lists the loader's bucket only under its hour partitions"
    );
    // and every listing fetch makes is under that prefix
    let input = article_rec_core::contract::layout::InputLayout::new(&env["INPUT_PREFIX"]).unwrap();
    let hour = input.hour("2026-01-02T03:00:00Z".parse().unwrap());
    assert!(hour
        .prefix
        .as_str()
        .starts_with(&format!("{}/", env["INPUT_PREFIX"])));
}

#[test]
fn the_data_bucket_refuses_plain_http_and_drops_abandoned_uploads() {
    let t = Template::load();
    let policy = &t.resource("DataBucketPolicy")["Properties"];
    assert_eq!(policy["Bucket"], serde_json::json!({"Ref": "DataBucket"}));
    let deny = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    let rules = t.resource("DataBucket")["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap();
    assert!(rules.iter().any(|r| r.get("Prefix").is_none()
        && r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            .as_u64()
            .is_some()));
}

/// Every Task and every state that runs Tasks catches every error into the
/// failure path (Tasks inside a Map or Parallel are caught by it): removing
/// any Catch fails this test.
#[test]
fn every_task_and_container_catches_everything() {
    let pipeline: Value = serde_json::from_str(&read("statemachine/pipeline.asl.json")).unwrap();
    let mut checked = 0;
    for (name, s) in pipeline["States"].as_object().unwrap() {
        if !matches!(s["Type"].as_str(), Some("Task" | "Map" | "Parallel")) || name == "NotifyFailure" {
            continue;
        }
        let c = &s["Catch"];
        assert_eq!(
            c[0]["ErrorEquals"],
            serde_json::json!(["States.ALL"]),
            "{name} catches nothing"
        );
        assert_eq!(c[0]["Next"], "NotifyFailure", "{name}");
        checked += 1;
    }
    assert_eq!(
        checked, 6,
        "FetchPlan, FetchHours, Fetch, Preprocess, Model and Save"
    );
    let schedule: Value = serde_json::from_str(&read("statemachine/schedule.asl.json")).unwrap();
    let run = &schedule["States"]["Sites"]["ItemProcessor"]["States"]["RunSite"];
    assert_eq!(run["Catch"][0]["ErrorEquals"], serde_json::json!(["States.ALL"]));
    // a site that failed or did not start fails the schedule at its end, so its alarm fires
    assert_eq!(schedule["States"]["Sites"]["Next"], "AnyFailed");
    assert_eq!(schedule["States"]["SitesFailed"]["Type"], "Fail");
    assert_eq!(
        Template::load().resource("FailedSchedulesAlarm")["Properties"]["Dimensions"][0]["Value"],
        serde_json::json!({"Ref": "ScheduleStateMachine"})
    );
    // the hours' child executions may run as long as fetch's timeout
    let t = Template::load();
    let fetch_timeout = t.resource(&t.function_for("fetch"))["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    let config = &pipeline["States"]["FetchHours"]["ItemProcessor"]["ProcessorConfig"];
    assert!(
        config["ExecutionType"] == "STANDARD" || fetch_timeout <= 300,
        "EXPRESS children stop after 5 minutes; fetch may take {fetch_timeout} s"
    );
}

/// The functions are built for the architecture the template declares, and
/// a panic stays an invocation's error: cargo-lambda builds with `panic =
/// "abort"` unless the profile says otherwise.
#[test]
fn the_lambda_build_matches_the_template() {
    let t = Template::load();
    assert_eq!(
        t.doc()["Globals"]["Function"]["Architectures"],
        serde_json::json!(["x86_64"])
    );
    for stage in Stage::ALL {
        let f = t.resource(&t.function_for(stage.name()));
        assert!(f["Properties"].get("Architectures").is_none(), "{}", stage.name());
    }
    // `sam build` with the beta cargo-lambda builder and Fn::ForEach expanded
    let samconfig = read("samconfig.toml");
    let section = samconfig
        .split("\n[")
        .find(|s| s.starts_with("default.build.parameters]"))
        .expect("samconfig.toml [default.build.parameters]");
    for line in ["beta_features = true", "language_extensions = true"] {
        assert!(section.lines().any(|l| l.trim() == line), "{line} in {section}");
    }
    let make = read("Makefile");
    let build = make
        .lines()
        .find(|l| l.contains("cargo lambda build"))
        .expect("make lambda");
    assert!(build.contains("--x86-64"), "{build}");
    // `sam build` uses the release profile, `make lambda` the lambda one,
    // which inherits it
    let manifest = read("Cargo.toml");
    let section = |name: &str| -> Vec<String> {
        let head = format!("[profile.{name}]");
        manifest
            .lines()
            .skip_while(|l| l.trim() != head)
            .skip(1)
            .take_while(|l| !l.starts_with('['))
            .map(|l| l.split('#').next().unwrap_or_default().replace(' ', ""))
            .filter(|l| !l.is_empty())
            .collect()
    };
    assert!(
        section("release").contains(&"panic=\"unwind\"".to_string()),
        "{:?}",
        section("release")
    );
    let lambda = section("lambda");
    assert!(lambda.contains(&"inherits=\"release\"".to_string()), "{lambda:?}");
    assert!(!lambda.iter().any(|l| l.starts_with("panic=")), "{lambda:?}");
}

/// Each site of `Sites` gets the alarms a newsroom needs (loader stalled,
/// gate refusing, model age, online flag), each on a metric a stage emits
/// with the dimensions it emits it with, each notifying the failure topic.
#[test]
fn every_site_has_the_alarms_that_matter_on_metrics_the_stages_emit() {
    let t = Template::load();
    let each = &t.doc()["Resources"]["Fn::ForEach::SiteAlarms"];
    assert_eq!(each[0], "Site");
    assert_eq!(each[1], serde_json::json!({"Ref": "Sites"}));
    let alarms = each[2].as_object().expect("the alarms of a site");
    let source = |dir: &str| -> String {
        let mut all = String::new();
        let mut stack = vec![root().join(dir)];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    all.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        all
    };
    let mut names = Vec::new();
    for (name, alarm) in alarms {
        // &{Site} is the site without its non-alphanumeric characters, as
        // a logical id must be
        assert!(name.ends_with("&{Site}"), "{name}");
        names.push(name.trim_end_matches("&{Site}").to_string());
        let p = &alarm["Properties"];
        assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm", "{name}");
        assert_eq!(p["Namespace"], "ArticleRec", "{name}: METRICS_NAMESPACE");
        assert_eq!(
            p["AlarmActions"],
            serde_json::json!([{"Ref": "FailureTopic"}]),
            "{name}"
        );
        let metric = p["MetricName"].as_str().unwrap();
        let dims = p["Dimensions"].as_array().unwrap();
        assert_eq!(
            dims[1],
            serde_json::json!({"Name": "Site", "Value": {"Ref": "Site"}}),
            "{name}"
        );
        let stage = dims[0]["Value"].as_str().unwrap();
        assert_eq!(dims[0]["Name"], "Stage");
        // ctx.metric("<stage>", "<metric>", ...) in the stage's own code
        let stage_code: String = source(&format!("shared/src/stages/{stage}"))
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        assert!(
            stage_code.contains(&format!("ctx.metric(\"{stage}\",\"{metric}\"")),
            "{name}: stage {stage} does not emit {metric}"
        );
        assert!(p["Period"].as_u64().unwrap() % 60 == 0, "{name}");
    }
    names.sort();
    assert_eq!(names, ["GateRefusing", "LoaderStalled", "ModelAge", "OnlineFlag"]);
    // a model that is not replaced ages also when no run happens at all
    assert_eq!(
        alarms["ModelAge&{Site}"]["Properties"]["TreatMissingData"],
        "breaching"
    );
    assert_eq!(
        alarms["ModelAge&{Site}"]["Properties"]["EvaluationPeriods"],
        serde_json::json!({"Ref": "ModelMaxAgeHours"})
    );
    let transform = &t.doc()["Transform"];
    assert_eq!(
        transform,
        &serde_json::json!(["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]),
        "ForEach is expanded before SAM's transform"
    );
}

/// A default deploy runs by itself; the SSM parameter's name is a full one
/// and its ARN is built in the stack's partition.
#[test]
fn a_default_deploy_is_scheduled_and_names_its_parameter_in_full() {
    let t = Template::load();
    let params = &t.doc()["Parameters"];
    assert_eq!(params["Schedule"]["Default"], "enabled");
    let rule = &t.resource("ScheduleStateMachine")["Properties"]["Events"]["EveryTwoHours"]["Properties"];
    assert_eq!(
        rule["Enabled"],
        serde_json::json!({"Fn::If": ["ScheduleEnabled", true, false]})
    );
    assert_eq!(
        t.doc()["Conditions"]["ScheduleEnabled"],
        serde_json::json!({"Fn::Equals": [{"Ref": "Schedule"}, "enabled"]})
    );
    // CloudFormation matches AllowedPattern against the whole value
    let pattern = params["DatabaseUrlParam"]["AllowedPattern"].as_str().unwrap();
    let whole = |v: &str| {
        let inner = pattern.trim_start_matches('^').trim_end_matches('$');
        assert_eq!(
            inner, "/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*",
            "the pattern this test reads"
        );
        v.starts_with('/')
            && v[1..].split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            })
    };
    assert!(whole("/article-rec/prod/database-url"));
    assert!(!whole("article-rec/prod/database-url"));
    assert!(!whole("/article-rec//database-url"));
    let default = params["DatabaseUrlParam"]["Default"].as_str().unwrap();
    assert!(whole(default), "{default}");
    let text = read("template.yaml");
    assert!(!text.contains("arn:aws:"), "every ARN in the stack's partition");
    assert_eq!(
        text.matches("arn:${AWS::Partition}:ssm:${AWS::Region}").count(),
        3,
        "preprocess, save and the operators' policy"
    );
}

/// The operators' managed policy allows exactly the Step Functions calls the
/// `aws` commands make (read from their code), the report links' reads and
/// rollback's parameter, nothing else.
#[test]
fn the_operator_policy_allows_exactly_what_the_aws_commands_call() {
    let t = Template::load();
    let policy = &t.resource("OperatorPolicy")["Properties"]["PolicyDocument"]["Statement"];
    let mut allowed: Vec<String> = policy
        .as_array()
        .unwrap()
        .iter()
        .inspect(|st| assert_eq!(st["Effect"], "Allow"))
        .flat_map(|st| st["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    allowed.sort();
    let mut called = vec!["s3:GetObject".to_string(), "ssm:GetParameter".to_string()];
    let mut code = String::new();
    for e in std::fs::read_dir(root().join("src/aws")).unwrap() {
        code.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    for (call, action) in [
        (".list_state_machines()", "ListStateMachines"),
        (".describe_state_machine()", "DescribeStateMachine"),
        (".start_execution()", "StartExecution"),
        (".list_executions()", "ListExecutions"),
        (".describe_execution()", "DescribeExecution"),
        (".get_execution_history()", "GetExecutionHistory"),
    ] {
        if code.contains(call) {
            called.push(format!("states:{action}"));
        }
    }
    // Step Functions calls the commands do not make today
    for other in [".stop_execution()", ".create_state_machine()", ".delete_"] {
        assert!(
            !code.contains(other),
            "{other}: add it to the policy and this test"
        );
    }
    called.sort();
    assert_eq!(allowed, called);
    assert_eq!(
        t.doc()["Outputs"]["OperatorPolicyArn"]["Value"],
        serde_json::json!({"Ref": "OperatorPolicy"})
    );
}

/// Each function has room for a large newsroom's 28-day window: the peak
/// memory `scripts/scale` measured for its stage (1,000,000 readers x 20,000
/// articles, 112.6 M events, 11.1 M reader x article pairs; recorded on
/// issue 34) with at least half as much again to spare, and the time it took
/// on two cores well inside its timeout.
#[test]
fn every_function_fits_a_large_newsrooms_window_as_measured() {
    // (stage, peak MB, seconds on 2 cores)
    let measured = [
        ("fetch", 260, 101),
        ("preprocess", 2388, 25),
        ("defaults", 2550, 33),
        ("train", 3089, 456),
        ("save", 379, 3),
    ];
    let t = Template::load();
    for (stage, peak_mb, secs) in measured {
        let p = &t.resource(&t.function_for(stage))["Properties"];
        let memory = p["MemorySize"].as_u64().unwrap();
        let timeout = p["Timeout"].as_u64().unwrap();
        assert!(
            memory * 2 >= peak_mb * 3,
            "{stage}: {memory} MB for a measured {peak_mb} MB"
        );
        assert!(
            timeout >= secs * 3 / 2,
            "{stage}: {timeout} s for a measured {secs} s"
        );
        assert!(memory <= 10_240 && timeout <= 900, "{stage}: Lambda's limits");
    }
}
