use super::*;
use crate::run::asl::{array_contains, format_intrinsic};
use serde_json::json;

#[test]
fn paths_and_result_paths() {
    let state = json!({"a": {"b": [1, {"c": 2}]}});
    let exec = json!({"Execution": {"Name": "x"}});
    assert_eq!(select("$.a.b[1].c", &state, &exec).unwrap(), json!(2));
    assert_eq!(select("$$.Execution.Name", &state, &exec).unwrap(), json!("x"));
    assert!(select("$.nope", &state, &exec).is_err());
    let placed = place(json!({"k": 1}), Some(&json!("$.out.inner")), json!(3)).unwrap();
    assert_eq!(placed, json!({"k": 1, "out": {"inner": 3}}));
    let t = json!({"run": {"site.$": "$.a.b[0]", "fixed": "v"}});
    assert_eq!(
        params(&t, &state, &exec).unwrap(),
        json!({"run": {"site": 1, "fixed": "v"}})
    );
}

#[test]
fn intrinsic_format_choice_rules_and_null_result_path() {
    let state = json!({"site": "wcp", "plan": {"distributed": true, "n": 30}});
    let exec = json!({"Execution": {"Name": "sched-1"}});
    assert_eq!(
        format_intrinsic("'{}-{}', $.site, $$.Execution.Name)", &state, &exec).unwrap(),
        json!("wcp-sched-1")
    );
    assert!(format_intrinsic("'{}-{}', $.site)", &state, &exec).is_err());
    assert!(format_intrinsic("'{}', $.site, $.site)", &state, &exec).is_err());

    let choice = |rule: Value| json!({"Choices": [rule], "Default": "no"});
    let pick = |rule: Value| choose(&choice(rule), &state, &exec).unwrap().unwrap();
    assert_eq!(
        pick(json!({"Variable": "$.plan.distributed", "BooleanEquals": true, "Next": "yes"})),
        "yes"
    );
    assert_eq!(
        pick(json!({"Variable": "$.plan.distributed", "BooleanEquals": false, "Next": "yes"})),
        "no"
    );
    assert_eq!(
        pick(json!({"Variable": "$.plan.n", "NumericGreaterThanEquals": 24, "Next": "yes"})),
        "yes"
    );
    assert_eq!(
        pick(json!({"Variable": "$.missing", "IsPresent": false, "Next": "yes"})),
        "yes"
    );
    assert_eq!(
        pick(json!({"Variable": "$.missing", "BooleanEquals": true, "Next": "yes"})),
        "no"
    );
    assert!(choose(
        &choice(json!({"Variable": "$.site", "Wild": 1, "Next": "x"})),
        &state,
        &exec
    )
    .is_err());

    // `"ResultPath": null` keeps the input; absent or `$` replaces it
    assert_eq!(
        place(json!({"a": 1}), Some(&Value::Null), json!([1, 2])).unwrap(),
        json!({"a": 1})
    );
    assert_eq!(place(json!({"a": 1}), None, json!(2)).unwrap(), json!(2));
}

#[test]
fn catchers_wildcards_array_contains_and_execution_names() {
    let state = json!({"Catch": [
        {"ErrorEquals": ["StepFunctions.InvalidNameException"], "Next": "a"},
        {"ErrorEquals": ["States.TaskFailed"], "Next": "b"},
        {"ErrorEquals": ["States.ALL"], "Next": "c"}
    ]});
    let next = |e: &str| catcher(&state, e).unwrap()["Next"].as_str().unwrap().to_string();
    assert_eq!(next("StepFunctions.InvalidNameException"), "a");
    assert_eq!(
        next("ArticleRec.Data"),
        "b",
        "States.TaskFailed matches any error..."
    );
    assert_eq!(next("States.Timeout"), "c", "...but a timeout");
    assert!(catcher(&json!({}), "x").is_none());

    let results = json!({"results": [{"run": 1}, {"succeeded": false}, {"succeeded": true}]});
    let exec = json!({});
    assert_eq!(
        select("$.results[*].succeeded", &results, &exec).unwrap(),
        json!([false, true])
    );
    assert_eq!(
        array_contains("$.results[*].succeeded, false)", &results, &exec).unwrap(),
        json!(true)
    );
    assert_eq!(
        array_contains("$.results[*].run, 2)", &results, &exec).unwrap(),
        json!(false)
    );
    assert!(array_contains("$.results, nope)", &results, &exec).is_err());

    assert!(valid_execution_name(
        "example-0b5d2f3c-6a7e-4c1d-9f2a-8e7b6c5d4a3b"
    ));
    assert!(!valid_execution_name(&"s".repeat(81)));
    assert!(!valid_execution_name("a b"));
    assert!(!valid_execution_name("a/b"));
    assert!(!valid_execution_name(""));
}
