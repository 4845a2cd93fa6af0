//! Runs the job in one process by interpreting `statemachine/pipeline.asl.json`,
//! the same definition Step Functions runs: the same states, in the same order,
//! passing each stage the same JSON a Lambda invocation would receive.
//!
//! `statemachine/schedule.asl.json`, the machine the schedule starts, is run
//! the same way by [`run_schedule_with`]: one pipeline run per site.
//!
//! Supported ASL: `Pass` (Parameters, Result, ResultPath), `Task` (a
//! `${XFunctionArn}` resource runs stage X; `states:startExecution.sync:2`
//! runs the pipeline machine as a child execution, refusing a name Step
//! Functions would refuse; an `sns:publish` resource is logged and recorded
//! in the report), `Parallel` (branches run one after another), `Map`
//! (Inline or Distributed; items run one after another), `Choice`
//! (`Variable` with `BooleanEquals`, `StringEquals`, `NumericEquals`,
//! `NumericGreaterThanEquals`, `IsPresent`), `Succeed`, `Fail`, `Catch`
//! (matched by `ErrorEquals` as the States Language does: `States.ALL`
//! matches every error, `States.TaskFailed` every one but `States.Timeout`),
//! `ResultSelector`, `ResultPath: null`, the intrinsics `States.Format` and
//! `States.ArrayContains`, and JSONPaths of the forms `$`, `$.a.b`, `$[0].a`,
//! `$.a[*].b`, `$$.Execution.Name` / `$$.Execution.StartTime` and
//! `$$.Map.Item.Value` / `$$.Map.Item.Index`. Retries are Step Functions'
//! business: locally a failure is reported at once.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::stage::{RunRef, Stage};
use crate::run::asl::{choose, params, place, select};
use crate::run::definition::{
    definition, parse_definition, processor, resource, Resource, SCHEDULE_DEFINITION,
};
use crate::run::dispatch::dispatch;

/// How long each stage took.
#[derive(Debug, Clone)]
pub struct StageTiming {
    pub stage: Stage,
    pub elapsed: Duration,
}

/// A message a Task published to an SNS topic (the failure notification).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub state: String,
    pub topic: String,
    pub subject: String,
    pub message: Value,
}

/// What an execution did besides its state: every stage's timing and every
/// notification it published.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub timings: Vec<StageTiming>,
    pub notifications: Vec<Notification>,
    /// The state when a `Fail` state was reached.
    failed_state: Option<Value>,
}

/// The final state and the timings of one run.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub state: Value,
    pub timings: Vec<StageTiming>,
    pub notifications: Vec<Notification>,
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
            "Id": local_execution_id("pipeline", &run.run_id),
            "Name": run.run_id,
            "StartTime": run.as_of.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    });
    let mut trace = Trace::default();
    let input = serde_json::json!({ "site": run.site });
    let state = Box::pin(run_machine(&def, input, &exec, invoker, &mut trace)).await?;
    Ok(RunReport {
        state,
        timings: trace.timings,
        notifications: trace.notifications,
    })
}

/// What the schedule's execution did: its final state (per site, the pipeline
/// execution's name and status, or the error that ended it), the timings of
/// every stage of every site, and, when it failed (a site's run failed or
/// could not start, which the schedule's alarm watches), why.
#[derive(Debug, Clone)]
pub struct ScheduleReport {
    pub state: Value,
    pub timings: Vec<StageTiming>,
    pub notifications: Vec<Notification>,
    /// The schedule execution's error and cause when it ended in `Fail`.
    pub failed: Option<(String, String)>,
}

/// Runs the schedule's machine for `sites`, as the EventBridge schedule starts
/// it with `{"sites": [...]}`: each site's pipeline runs as its own execution,
/// named `<site>-<schedule_id>`, starting at `as_of`. A failing site does not
/// stop the others; the schedule then fails at its end, so its alarm fires.
///
/// # Errors
/// An invalid definition, or a failure the definition does not catch.
pub async fn run_schedule_with(
    invoker: &dyn Invoke,
    sites: &[String],
    schedule_id: &str,
    as_of: chrono::DateTime<chrono::Utc>,
) -> Result<ScheduleReport> {
    let def = parse_definition(SCHEDULE_DEFINITION, "schedule.asl.json")?;
    let exec = serde_json::json!({
        "Execution": {
            "Id": local_execution_id("schedule", schedule_id),
            "Name": schedule_id,
            "StartTime": as_of.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    });
    let mut trace = Trace::default();
    let input = serde_json::json!({ "sites": sites });
    let outcome = Box::pin(run_machine(&def, input, &exec, invoker, &mut trace)).await;
    let (state, failed) = match (outcome, trace.failed_state.take()) {
        (Ok(state), _) => (state, None),
        (Err(e), Some(state)) => (state, Some((error_name(&e), e.to_string()))),
        (Err(e), None) => return Err(e),
    };
    Ok(ScheduleReport {
        state,
        timings: trace.timings,
        notifications: trace.notifications,
        failed,
    })
}

/// An execution ARN of the shape Step Functions gives, for a local run.
fn local_execution_id(machine: &str, name: &str) -> String {
    format!("arn:aws:states:local:000000000000:execution:article-rec-{machine}:{name}")
}

/// Whether Step Functions accepts an execution name: 1 to 80 characters,
/// none of white space, brackets, wildcards, `"#%\\^|~`$&,;:/` or controls.
fn valid_execution_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 80
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

/// A `startExecution.sync:2` Task: the pipeline machine as a child execution
/// (its own name; its start time is the parent's), answered as Step Functions
/// does: the child's name, status and output; a name Step Functions refuses
/// is `StepFunctions.InvalidNameException` (nothing started); a child that
/// failed is `States.TaskFailed` with the child's description as the cause.
async fn start_pipeline(
    params: Value,
    exec: &Value,
    invoker: &dyn Invoke,
    trace: &mut Trace,
) -> Result<Value> {
    let name = params["Name"]
        .as_str()
        .ok_or_else(|| Error::Bug("startExecution without Name".into()))?
        .to_string();
    if !valid_execution_name(&name) {
        return Err(Error::Remote {
            error_type: "StepFunctions.InvalidNameException".into(),
            message: format!("Invalid Name: '{name}' (service: Sfn, status code: 400)"),
        });
    }
    let input = params.get("Input").cloned().unwrap_or(Value::Null);
    let child = serde_json::json!({
        "Execution": {
            "Id": local_execution_id("pipeline", &name),
            "Name": name,
            "StartTime": exec["Execution"]["StartTime"],
        }
    });
    let def = definition()?;
    match Box::pin(run_machine(&def, input, &child, invoker, trace)).await {
        Ok(output) => Ok(serde_json::json!({ "Name": name, "Status": "SUCCEEDED", "Output": output })),
        Err(e) => Err(Error::Remote {
            error_type: "States.TaskFailed".into(),
            message: serde_json::json!({
                "ExecutionArn": child["Execution"]["Id"],
                "Name": name,
                "Status": "FAILED",
                "Error": error_name(&e),
                "Cause": e.to_string(),
            })
            .to_string(),
        }),
    }
}

/// The error name Step Functions sees: a function's `errorType`, or a
/// state's own error.
fn error_name(e: &Error) -> String {
    match e {
        Error::Remote { error_type, .. } => error_type.clone(),
        other => other.kind().error_type().to_string(),
    }
}

/// The first catcher of a state whose `ErrorEquals` matches `error`.
fn catcher<'a>(state: &'a Value, error: &str) -> Option<&'a Value> {
    state["Catch"].as_array()?.iter().find(|c| {
        c["ErrorEquals"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| match e.as_str() {
                Some("States.ALL") => true,
                Some("States.TaskFailed") => error != "States.Timeout",
                Some(name) => name == error,
                None => false,
            })
    })
}

async fn run_machine(
    machine: &Value,
    mut state: Value,
    exec: &Value,
    invoker: &dyn Invoke,
    trace: &mut Trace,
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
                let result = match (s.get("Result"), s.get("Parameters")) {
                    (Some(r), _) => r.clone(),
                    (None, Some(p)) => params(p, &state, exec)?,
                    (None, None) => state.clone(),
                };
                Ok(result)
            }
            Some("Task") => {
                let event = match s.get("Parameters") {
                    Some(p) => params(p, &state, exec)?,
                    None => state.clone(),
                };
                match resource(s)? {
                    Resource::Stage(stage) => {
                        let started = Instant::now();
                        let out = invoker.invoke(stage, event).await;
                        trace.timings.push(StageTiming {
                            stage,
                            elapsed: started.elapsed(),
                        });
                        out
                    }
                    Resource::StartPipeline => start_pipeline(event, exec, invoker, trace).await,
                    Resource::Other => {
                        tracing::error!(state = %name, message = %event, "run failed; notification would be published");
                        trace.notifications.push(Notification {
                            state: name.clone(),
                            topic: event["TopicArn"].as_str().unwrap_or_default().to_string(),
                            subject: event["Subject"].as_str().unwrap_or_default().to_string(),
                            message: event["Message"].clone(),
                        });
                        Ok(Value::Null)
                    }
                }
            }
            Some("Map") => {
                let path = s["ItemsPath"].as_str().unwrap_or("$");
                let items = match select(path, &state, exec)? {
                    Value::Array(items) => items,
                    other => {
                        return Err(Error::InvalidInput(format!(
                            "Map {name}: {path} is not an array but {other}"
                        )))
                    }
                };
                let machine =
                    processor(s).ok_or_else(|| Error::Bug(format!("Map {name} has no ItemProcessor")))?;
                let mut results = Vec::with_capacity(items.len());
                let mut failed = None;
                for (i, item) in items.into_iter().enumerate() {
                    let mut item_exec = exec.clone();
                    item_exec["Map"] = serde_json::json!({ "Item": { "Index": i, "Value": item } });
                    let input = match s.get("ItemSelector").or_else(|| s.get("Parameters")) {
                        Some(t) => params(t, &state, &item_exec)?,
                        None => item_exec["Map"]["Item"]["Value"].clone(),
                    };
                    match Box::pin(run_machine(machine, input, &item_exec, invoker, trace)).await {
                        Ok(v) => results.push(v),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                failed.map_or(Ok(Value::Array(results)), Err)
            }
            Some("Choice") => {
                name = choose(s, &state, exec)
                    .map_err(|e| Error::Bug(format!("Choice {name}: {e}")))?
                    .ok_or_else(|| Error::Bug(format!("Choice {name}: no rule matched and no Default")))?;
                continue;
            }
            Some("Parallel") => {
                let mut results = Vec::new();
                let mut failed = None;
                for b in s["Branches"].as_array().into_iter().flatten() {
                    match Box::pin(run_machine(b, state.clone(), exec, invoker, trace)).await {
                        Ok(v) => results.push(v),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                failed.map_or(Ok(Value::Array(results)), Err)
            }
            Some("Succeed") => return Ok(state),
            Some("Fail") => {
                trace.failed_state = Some(state);
                return Err(pending_error.unwrap_or_else(|| Error::Remote {
                    error_type: s["Error"].as_str().unwrap_or("States.Fail").to_string(),
                    message: s["Cause"].as_str().unwrap_or(name.as_str()).to_string(),
                }));
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
                let error = error_name(&e);
                let Some(next) = catcher(s, &error) else {
                    return Err(e);
                };
                let cause = match &e {
                    Error::Remote { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                let info = serde_json::json!({ "Error": error, "Cause": cause });
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

#[cfg(test)]
mod tests;
