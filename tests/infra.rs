//! Wiring between the function crates, sample events, the state machine and the
//! SAM template.

use std::path::Path;

use article_rec::stage::{DefaultsInput, FetchRequest, PreprocessInput, SaveInput, Stage, TrainInput};

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
        assert!(
            template.contains(&format!("CodeUri: target/lambda/{name}/")),
            "template has no function built from target/lambda/{name}/"
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
    assert_eq!(article_rec::runner::stage_order().unwrap(), Stage::ALL);
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
    let settings = read("shared/src/settings.rs");
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
