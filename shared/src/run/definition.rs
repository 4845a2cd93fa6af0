//! What the state machines' definitions say, read once: the stages in the
//! order the pipeline runs them, which state runs which stage and where its
//! result sits (what a deployed execution's history is read with), and what
//! a Task state runs. The runner executes the definitions; this only reads them.

use serde_json::Value;

use crate::contract::error::{Error, Result};
use crate::contract::stage::Stage;

/// The state machine definition, as deployed.
pub const DEFINITION: &str = include_str!("../../../statemachine/pipeline.asl.json");

/// The machine the schedule starts: one pipeline execution per site.
pub const SCHEDULE_DEFINITION: &str = include_str!("../../../statemachine/schedule.asl.json");

/// The Task states in the order the definition runs them (parallel branches in
/// their listed order).
///
/// # Errors
/// `Bug` when the definition is not valid JSON or names an unknown stage.
pub fn stage_order() -> Result<Vec<Stage>> {
    let def = definition()?;
    let mut out = Vec::new();
    collect_tasks(&def, &mut out)?;
    Ok(out)
}

/// A state of the pipeline that runs a stage: a Task (with the key its
/// `ResultPath` names, `$.fetch` -> `fetch`, and the enclosing Parallel's key
/// when inside one) or a Map whose iterations run it (no result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageState {
    pub name: String,
    pub stage: Stage,
    /// Where the Task's result sits in the state after it: `["fetch"]`,
    /// `["model", "defaults"]`; empty for a Map or a discarded result.
    pub result_path: Vec<String>,
}

/// Every state of the pipeline that runs a stage, by state name:
/// what an execution's history is read with (`article-rec aws`).
///
/// # Errors
/// `Bug` when the definition is not valid JSON or names an unknown stage.
pub fn stage_states() -> Result<Vec<StageState>> {
    let def = definition()?;
    let mut out = Vec::new();
    collect_stage_states(&def, &[], &mut out)?;
    Ok(out)
}

fn result_key(state: &Value) -> Option<String> {
    state["ResultPath"]
        .as_str()
        .and_then(|p| p.strip_prefix("$."))
        .filter(|k| !k.is_empty() && !k.contains(['.', '[']))
        .map(str::to_string)
}

fn collect_stage_states(machine: &Value, prefix: &[String], out: &mut Vec<StageState>) -> Result<()> {
    let Some(states) = machine["States"].as_object() else {
        return Ok(());
    };
    for (name, s) in states {
        match s["Type"].as_str() {
            Some("Task") => {
                if let Some(stage) = task_stage(s)? {
                    let mut result_path = prefix.to_vec();
                    match result_key(s) {
                        Some(k) => result_path.push(k),
                        None => result_path.clear(),
                    }
                    out.push(StageState {
                        name: name.clone(),
                        stage,
                        result_path,
                    });
                }
            }
            Some("Parallel") => {
                let mut inner = prefix.to_vec();
                inner.extend(result_key(s));
                for b in s["Branches"].as_array().into_iter().flatten() {
                    collect_stage_states(b, &inner, out)?;
                }
            }
            Some("Map") => {
                let mut inner = Vec::new();
                if let Some(p) = processor(s) {
                    collect_stage_states(p, &[], &mut inner)?;
                }
                if let Some(first) = inner.first() {
                    out.push(StageState {
                        name: name.clone(),
                        stage: first.stage,
                        result_path: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn definition() -> Result<Value> {
    parse_definition(DEFINITION, "pipeline.asl.json")
}

pub(crate) fn parse_definition(text: &str, name: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::Bug(format!("{name}: {e}")))
}

/// Stages in the order of their first Task, following `Next`, then each
/// Choice's rules and default, Parallel branches and Map processors.
fn collect_tasks(machine: &Value, out: &mut Vec<Stage>) -> Result<()> {
    let states = &machine["States"];
    let mut queue: std::collections::VecDeque<String> = machine["StartAt"]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(n) = queue.pop_front() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let s = &states[&n];
        match s["Type"].as_str() {
            Some("Task") => {
                if let Resource::Stage(stage) = resource(s)? {
                    if !out.contains(&stage) {
                        out.push(stage);
                    }
                }
            }
            Some("Parallel") => {
                for b in s["Branches"].as_array().into_iter().flatten() {
                    collect_tasks(b, out)?;
                }
            }
            Some("Map") => {
                if let Some(p) = processor(s) {
                    collect_tasks(p, out)?;
                }
            }
            Some("Choice") => {
                for rule in s["Choices"].as_array().into_iter().flatten() {
                    queue.extend(rule["Next"].as_str().map(str::to_string));
                }
                queue.extend(s["Default"].as_str().map(str::to_string));
            }
            _ => {}
        }
        queue.extend(s["Next"].as_str().map(str::to_string));
    }
    Ok(())
}

/// A Map state's iteration machine (`ItemProcessor`, or the older `Iterator`).
pub(crate) fn processor(state: &Value) -> Option<&Value> {
    state.get("ItemProcessor").or_else(|| state.get("Iterator"))
}

/// What a Task state runs.
pub(crate) enum Resource {
    Stage(Stage),
    /// `states:startExecution.sync:2`: the pipeline machine, for one site.
    StartPipeline,
    /// Anything else (the failure notification): logged locally.
    Other,
}

pub(crate) fn resource(state: &Value) -> Result<Resource> {
    let res = state["Resource"].as_str().unwrap_or_default();
    if res.starts_with("arn:aws:states:::states:startExecution.sync") {
        return Ok(Resource::StartPipeline);
    }
    Ok(match task_stage(state)? {
        Some(stage) => Resource::Stage(stage),
        None => Resource::Other,
    })
}

/// `${FetchFunctionArn}` → `Fetch`; other resources → None.
fn task_stage(state: &Value) -> Result<Option<Stage>> {
    let Some(res) = state["Resource"].as_str() else {
        return Ok(None);
    };
    let Some(inner) = res
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix("FunctionArn}"))
    else {
        return Ok(None);
    };
    Stage::from_name(&inner.to_ascii_lowercase())
        .map(Some)
        .ok_or_else(|| Error::Bug(format!("state machine names unknown function {res}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_stages_in_the_definitions_order() {
        assert_eq!(stage_order().unwrap(), Stage::ALL);
    }

    /// What `article-rec aws` reads a deployed execution's history with:
    /// each stage's state, and where its result sits in the run's state.
    #[test]
    fn each_stage_state_and_where_its_result_sits() {
        let got: Vec<(String, Stage, String)> = stage_states()
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.stage, s.result_path.join(".")))
            .collect();
        let want = [
            ("Defaults", Stage::Defaults, "model.defaults"),
            ("Fetch", Stage::Fetch, "fetch"),
            ("FetchHours", Stage::Fetch, ""),
            ("FetchPlan", Stage::Fetch, "fetch_plan"),
            ("Preprocess", Stage::Preprocess, "preprocess"),
            ("Save", Stage::Save, "save"),
            ("Train", Stage::Train, "model.train"),
        ];
        let mut got = got;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let want: Vec<(String, Stage, String)> = want
            .iter()
            .map(|(n, s, p)| ((*n).to_string(), *s, (*p).to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn stage_order_reaches_tasks_behind_choices_and_maps() {
        let machine = json!({
            "StartAt": "Plan",
            "States": {
                "Plan": {"Type": "Task", "Resource": "${FetchFunctionArn}", "Next": "Many"},
                "Many": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "Hours"}], "Default": "Window"},
                "Hours": {"Type": "Map", "ItemProcessor": {"StartAt": "H", "States": {"H": {"Type": "Task", "Resource": "${FetchFunctionArn}", "End": true}}}, "Next": "Window"},
                "Window": {"Type": "Task", "Resource": "${PreprocessFunctionArn}", "End": true}
            }
        });
        let mut out = Vec::new();
        collect_tasks(&machine, &mut out).unwrap();
        assert_eq!(out, [Stage::Fetch, Stage::Preprocess]);
    }
}
