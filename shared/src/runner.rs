//! Runs the job in one process by interpreting `statemachine/pipeline.asl.json`,
//! the same definition Step Functions runs: the same states, in the same order,
//! passing each stage the same JSON a Lambda invocation would receive.
//!
//! Supported ASL: `Pass` (Parameters, ResultPath), `Task` (a `${XFunctionArn}`
//! resource runs stage X; an `sns:publish` resource is logged), `Parallel`
//! (branches run one after another), `Succeed`, `Fail`, `Catch`, `ResultSelector`,
//! and JSONPaths of the forms `$`, `$.a.b`, `$[0].a` and `$$.Execution.Name` /
//! `$$.Execution.StartTime`. Retries are Step Functions' business: locally a
//! failure is reported at once.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::stage::{RunRef, Stage};
use crate::stages::dispatch;

/// The state machine definition, as deployed.
pub const DEFINITION: &str = include_str!("../../statemachine/pipeline.asl.json");

/// How long each stage took.
#[derive(Debug, Clone)]
pub struct StageTiming {
    pub stage: Stage,
    pub elapsed: Duration,
}

/// The final state and the timings of one run.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub state: Value,
    pub timings: Vec<StageTiming>,
}

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

fn definition() -> Result<Value> {
    serde_json::from_str(DEFINITION).map_err(|e| Error::Bug(format!("pipeline.asl.json: {e}")))
}

fn collect_tasks(machine: &Value, out: &mut Vec<Stage>) -> Result<()> {
    let states = &machine["States"];
    let mut name = machine["StartAt"].as_str().map(str::to_string);
    while let Some(n) = name {
        let s = &states[&n];
        match s["Type"].as_str() {
            Some("Task") => {
                if let Some(stage) = task_stage(s)? {
                    out.push(stage);
                }
            }
            Some("Parallel") => {
                for b in s["Branches"].as_array().into_iter().flatten() {
                    collect_tasks(b, out)?;
                }
            }
            _ => {}
        }
        name = s["Next"].as_str().map(str::to_string);
    }
    Ok(())
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

/// Runs the whole job for the site of `run` (its id and time become the
/// execution's name and start time).
///
/// # Errors
/// The first failing stage's error (after the definition's failure path ran).
pub async fn run_pipeline(ctx: &Context, run: &RunRef) -> Result<RunReport> {
    run_pipeline_with(&InProcess(ctx), run).await
}

/// Runs a stage's Task: in this process, or through a Lambda function.
#[async_trait::async_trait]
pub trait Invoke: Sync {
    /// # Errors
    /// The stage's error.
    async fn invoke(&self, stage: Stage, event: Value) -> Result<Value>;
}

/// Every stage called in this process with one context: the local run.
pub struct InProcess<'a>(pub &'a Context);

#[async_trait::async_trait]
impl Invoke for InProcess<'_> {
    async fn invoke(&self, stage: Stage, event: Value) -> Result<Value> {
        dispatch(stage, event, self.0).await
    }
}

/// As [`run_pipeline`], with each Task run by `invoker`.
///
/// # Errors
/// The first failing stage's error (after the definition's failure path ran).
pub async fn run_pipeline_with(invoker: &dyn Invoke, run: &RunRef) -> Result<RunReport> {
    run.validate()?;
    let def = definition()?;
    let exec = serde_json::json!({
        "Execution": {
            "Name": run.run_id,
            "StartTime": run.as_of.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    });
    let mut timings = Vec::new();
    let input = serde_json::json!({ "site": run.site });
    let state = Box::pin(run_machine(&def, input, &exec, invoker, &mut timings)).await?;
    Ok(RunReport { state, timings })
}

async fn run_machine(
    machine: &Value,
    mut state: Value,
    exec: &Value,
    invoker: &dyn Invoke,
    timings: &mut Vec<StageTiming>,
) -> Result<Value> {
    let states = &machine["States"];
    let mut name = machine["StartAt"]
        .as_str()
        .ok_or_else(|| Error::Bug("state machine without StartAt".into()))?
        .to_string();
    let mut pending_error: Option<Error> = None;
    loop {
        let s = &states[&name];
        let outcome: Result<Value> = match s["Type"].as_str() {
            Some("Pass") => {
                let result = match s.get("Parameters") {
                    Some(p) => params(p, &state, exec)?,
                    None => state.clone(),
                };
                Ok(result)
            }
            Some("Task") => match task_stage(s)? {
                Some(stage) => {
                    let started = Instant::now();
                    let event = match s.get("Parameters") {
                        Some(p) => params(p, &state, exec)?,
                        None => state.clone(),
                    };
                    let out = invoker.invoke(stage, event).await;
                    timings.push(StageTiming {
                        stage,
                        elapsed: started.elapsed(),
                    });
                    out
                }
                None => {
                    let msg = params(&s["Parameters"], &state, exec).unwrap_or(Value::Null);
                    tracing::error!(state = %name, message = %msg, "run failed; notification would be published");
                    Ok(Value::Null)
                }
            },
            Some("Parallel") => {
                let mut results = Vec::new();
                let mut failed = None;
                for b in s["Branches"].as_array().into_iter().flatten() {
                    match Box::pin(run_machine(b, state.clone(), exec, invoker, timings)).await {
                        Ok(v) => results.push(v),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                match failed {
                    Some(e) => Err(e),
                    None => Ok(Value::Array(results)),
                }
            }
            Some("Succeed") => return Ok(state),
            Some("Fail") => {
                return Err(pending_error
                    .unwrap_or_else(|| Error::Bug(format!("state machine reached Fail state {name}"))))
            }
            other => return Err(Error::Bug(format!("unsupported state type {other:?} in {name}"))),
        };
        match outcome {
            Ok(result) => {
                let result = match s.get("ResultSelector") {
                    Some(sel) => params(sel, &result, exec)?,
                    None => result,
                };
                state = place(state, s.get("ResultPath"), result)?;
            }
            Err(e) => {
                let Some(next) = s["Catch"].as_array().and_then(|c| c.first()) else {
                    return Err(e);
                };
                let info = serde_json::json!({
                    "Error": e.kind().error_type(),
                    "Cause": e.to_string(),
                });
                state = place(state, next.get("ResultPath"), info)?;
                pending_error = Some(e);
                name = next["Next"]
                    .as_str()
                    .ok_or_else(|| Error::Bug("Catch without Next".into()))?
                    .to_string();
                continue;
            }
        }
        if s["End"].as_bool() == Some(true) {
            return Ok(state);
        }
        name = s["Next"]
            .as_str()
            .ok_or_else(|| Error::Bug(format!("state {name} has neither Next nor End")))?
            .to_string();
    }
}

/// Evaluates a Parameters/ResultSelector template: keys ending in `.$` are paths.
fn params(template: &Value, input: &Value, exec: &Value) -> Result<Value> {
    match template {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if let Some(key) = k.strip_suffix(".$") {
                    let path = v
                        .as_str()
                        .ok_or_else(|| Error::Bug(format!("{k} is not a path")))?;
                    out.insert(key.to_string(), select(path, input, exec)?);
                } else {
                    out.insert(k.clone(), params(v, input, exec)?);
                }
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Reads a JSONPath of the supported forms.
fn select(path: &str, input: &Value, exec: &Value) -> Result<Value> {
    let (mut cur, rest) = if let Some(r) = path.strip_prefix("$$") {
        (exec, r)
    } else if let Some(r) = path.strip_prefix('$') {
        (input, r)
    } else {
        return Err(Error::Bug(format!("unsupported path {path}")));
    };
    for seg in segments(rest)? {
        cur = match seg {
            Seg::Key(k) => cur.get(k),
            Seg::Index(i) => cur.get(i),
        }
        .ok_or_else(|| Error::InvalidInput(format!("path {path} not found in state")))?;
    }
    Ok(cur.clone())
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(mut rest: &str) -> Result<Vec<Seg<'_>>> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(Seg::Key(&r[..end]));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| Error::Bug(format!("bad path segment {rest}")))?;
            let i = r[..end]
                .parse()
                .map_err(|_| Error::Bug(format!("bad index in {rest}")))?;
            out.push(Seg::Index(i));
            rest = &r[end + 1..];
        } else {
            return Err(Error::Bug(format!("bad path segment {rest}")));
        }
    }
    Ok(out)
}

/// Puts a result into the state at `ResultPath` (`$` or absent: replaces it).
fn place(mut state: Value, result_path: Option<&Value>, result: Value) -> Result<Value> {
    let path = match result_path.and_then(Value::as_str) {
        None | Some("$") => return Ok(result),
        Some(p) => p,
    };
    let rest = path
        .strip_prefix('$')
        .ok_or_else(|| Error::Bug(format!("bad ResultPath {path}")))?;
    let segs = segments(rest)?;
    let mut cur = &mut state;
    for (i, seg) in segs.iter().enumerate() {
        let Seg::Key(k) = seg else {
            return Err(Error::Bug(format!("ResultPath {path} indexes an array")));
        };
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let obj = cur
            .as_object_mut()
            .ok_or_else(|| Error::Bug("state is not an object".into()))?;
        if i + 1 == segs.len() {
            obj.insert((*k).to_string(), result);
            return Ok(state);
        }
        cur = obj.entry((*k).to_string()).or_insert(Value::Object(Map::new()));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_stages_in_the_definitions_order() {
        assert_eq!(stage_order().unwrap(), Stage::ALL);
    }

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
}
