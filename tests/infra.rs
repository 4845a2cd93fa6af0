//! Wiring between the function crates, sample events, the state machine and the
//! SAM template.

use std::path::Path;

use article_rec::stage::{DefaultsInput, FetchInput, PreprocessInput, SaveInput, Stage, TrainInput};

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
            Stage::Fetch => serde_json::from_str::<FetchInput>(&event).map(|_| ()),
            Stage::Preprocess => serde_json::from_str::<PreprocessInput>(&event).map(|_| ()),
            Stage::Defaults => serde_json::from_str::<DefaultsInput>(&event).map(|_| ()),
            Stage::Train => serde_json::from_str::<TrainInput>(&event).map(|_| ()),
            Stage::Save => serde_json::from_str::<SaveInput>(&event).map(|_| ()),
        };
        parsed.unwrap_or_else(|e| panic!("events/{name}.json is not a {name} input: {e}"));
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

#[test]
fn every_substitution_in_the_state_machine_is_defined_by_the_template() {
    let asl = read("statemachine/pipeline.asl.json");
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
        seen >= 6,
        "expected five function ARNs and the failure topic, saw {seen}"
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
        }
    }
    walk(&asl, &mut tasks);
    assert_eq!(tasks.len(), 5);
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
