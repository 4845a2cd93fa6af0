//! A deployed execution read from its history: each stage's output where the
//! local run keeps it, the time each stage took, and the error that ended it.
//! Pure: the events are plain data ([`Event`]), however they were fetched.

use article_rec_core::run::definition::StageState;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::summary::add_time;

/// One history event, as much of it as a run's outcome needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event type: `TaskStateEntered`, `LambdaFunctionFailed`, ...
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The state entered or exited.
    pub state: Option<String>,
    /// The state's output, on an exit.
    pub output: Option<String>,
    /// A failure's error and cause.
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Why an execution did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The state last entered before the failure, and its stage if it runs one.
    pub state: Option<String>,
    pub stage: Option<String>,
    /// `ArticleRec.Transient`, `States.Runtime`, ...
    pub error: String,
    /// The error's message (a Lambda function's `errorMessage`).
    pub message: String,
}

/// What the history says.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The stages' outputs where a local run's state has them (`fetch`,
    /// `model.train`, ...), for the stages that finished.
    pub state: Value,
    /// Seconds per stage, in the order the stages ran.
    pub timings: Vec<(String, f64)>,
    pub failure: Option<Failure>,
}

fn is_failure(kind: &str) -> bool {
    matches!(
        kind,
        "LambdaFunctionFailed"
            | "LambdaFunctionTimedOut"
            | "LambdaFunctionScheduleFailed"
            | "LambdaFunctionStartFailed"
            | "TaskFailed"
            | "TaskTimedOut"
            | "TaskStartFailed"
            | "TaskSubmitFailed"
            | "MapRunFailed"
    )
}

fn is_end(kind: &str) -> bool {
    matches!(kind, "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted")
}

/// A Lambda function's error arrives as its JSON payload; the message is
/// what the function said.
fn message_of(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}

fn put(state: &mut Value, path: &[String], value: Value) {
    let mut v = state;
    for (i, key) in path.iter().enumerate() {
        if !v.is_object() {
            *v = Value::Object(serde_json::Map::new());
        }
        let Some(map) = v.as_object_mut() else { return };
        if i + 1 == path.len() {
            map.insert(key.clone(), value);
            return;
        }
        v = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

/// Reads `events` (oldest first) with the pipeline's stage states.
pub fn read(events: &[Event], stages: &[StageState]) -> Outcome {
    let mut state = Value::Object(serde_json::Map::new());
    let mut timings = Vec::new();
    let mut entered: Vec<(&str, DateTime<Utc>)> = Vec::new();
    let mut last_stage: Option<&StageState> = None;
    let mut last_state: Option<&str> = None;
    let mut task_failure: Option<Failure> = None;
    let mut end_failure: Option<Failure> = None;
    for e in events {
        let stage = e
            .state
            .as_deref()
            .and_then(|n| stages.iter().find(|s| s.name == n));
        if e.kind.ends_with("StateEntered") {
            // a failure belongs to the state last entered: a stage's, or
            // another (the failure notification), whose own failure is not
            // the run's cause
            last_stage = stage;
            last_state = e.state.as_deref();
            if let Some(s) = stage {
                entered.push((&s.name, e.at));
            }
        } else if e.kind.ends_with("StateExited") {
            if let Some(s) = stage {
                if let Some(i) = entered.iter().rposition(|(n, _)| *n == s.name) {
                    let (_, since) = entered.remove(i);
                    let secs = (e.at - since).num_milliseconds() as f64 / 1000.0;
                    add_time(&mut timings, s.stage.name(), secs.max(0.0));
                }
                if let (Some(key), Some(out)) = (s.result_path.last(), e.output.as_deref()) {
                    if let Ok(out) = serde_json::from_str::<Value>(out) {
                        if let Some(v) = out.get(key) {
                            put(&mut state, &s.result_path, v.clone());
                        }
                    }
                }
            }
        } else if is_failure(&e.kind) || is_end(&e.kind) {
            let failure = Failure {
                state: last_state.map(str::to_string),
                stage: last_stage.map(|s| s.stage.name().to_string()),
                error: e.error.clone().unwrap_or_else(|| e.kind.clone()),
                message: e.cause.as_deref().map(message_of).unwrap_or_default(),
            };
            if is_end(&e.kind) {
                end_failure = Some(failure);
            } else if last_stage.is_some() {
                task_failure = Some(failure);
            }
        }
    }
    // the stage's own error tells more than the definition's final Fail
    // state (ArticleRec.RunFailed) it led to
    let failure = match (task_failure, end_failure) {
        (Some(task), Some(_)) => Some(task),
        (None, end) => end,
        (Some(_), None) => None, // retried, or caught and the run went on
    };
    Outcome {
        state,
        timings,
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use article_rec_core::run::definition::stage_states;
    use serde_json::json;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_763_200 + secs, 0).unwrap()
    }

    fn ev(kind: &str, secs: i64, state: Option<&str>, output: Option<Value>) -> Event {
        Event {
            kind: kind.into(),
            at: at(secs),
            state: state.map(str::to_string),
            output: output.map(|o| o.to_string()),
            error: None,
            cause: None,
        }
    }

    fn failed(kind: &str, secs: i64, error: &str, cause: &str) -> Event {
        Event {
            error: Some(error.into()),
            cause: Some(cause.into()),
            ..ev(kind, secs, None, None)
        }
    }

    /// The history of a run that succeeded, as Step Functions writes it:
    /// each Task's exit carries the state after its ResultPath; the Parallel
    /// branches' exits carry their branch's state.
    fn succeeded() -> Vec<Event> {
        let run = json!({"site": "example", "run_id": "r", "as_of": "2026-12-03T12:00:00Z"});
        vec![
            ev("ExecutionStarted", 0, None, None),
            ev("TaskStateEntered", 0, Some("FetchPlan"), None),
            ev(
                "TaskStateExited",
                1,
                Some("FetchPlan"),
                Some(json!({"run": run, "fetch_plan": {"distributed": false}})),
            ),
            ev("ChoiceStateEntered", 1, Some("ManyHours"), None),
            ev("TaskStateEntered", 1, Some("Fetch"), None),
            ev(
                "TaskStateExited",
                4,
                Some("Fetch"),
                Some(json!({"run": run, "fetch": {"lines": 10}})),
            ),
            ev("TaskStateEntered", 4, Some("Preprocess"), None),
            ev(
                "TaskStateExited",
                6,
                Some("Preprocess"),
                Some(json!({"preprocess": {"readers": 3}})),
            ),
            ev("ParallelStateEntered", 6, Some("Model"), None),
            ev("TaskStateEntered", 6, Some("Defaults"), None),
            ev("TaskStateEntered", 6, Some("Train"), None),
            ev(
                "TaskStateExited",
                7,
                Some("Defaults"),
                Some(json!({"defaults": {"rule": "d"}})),
            ),
            ev(
                "TaskStateExited",
                16,
                Some("Train"),
                Some(json!({"train": {"model": "m"}})),
            ),
            ev("ParallelStateExited", 16, Some("Model"), Some(json!({}))),
            ev("TaskStateEntered", 16, Some("Save"), None),
            ev(
                "TaskStateExited",
                18,
                Some("Save"),
                Some(json!({"save": {"recs": 5}})),
            ),
            ev("ExecutionSucceeded", 18, None, None),
        ]
    }

    #[test]
    fn a_succeeded_history_gives_each_stage_output_where_a_local_run_has_it() {
        let out = read(&succeeded(), &stage_states().unwrap());
        assert_eq!(
            out.state,
            json!({
                "fetch_plan": {"distributed": false},
                "fetch": {"lines": 10},
                "preprocess": {"readers": 3},
                "model": {"defaults": {"rule": "d"}, "train": {"model": "m"}},
                "save": {"recs": 5},
            })
        );
        assert_eq!(
            out.timings,
            vec![
                ("fetch".to_string(), 4.0),
                ("preprocess".to_string(), 2.0),
                ("defaults".to_string(), 1.0),
                ("train".to_string(), 10.0),
                ("save".to_string(), 2.0),
            ]
        );
        assert_eq!(out.failure, None);
    }

    #[test]
    fn a_stage_failure_names_the_stage_and_its_error_not_the_final_fail_state() {
        let mut events: Vec<Event> = succeeded().into_iter().take(7).collect();
        let cause = json!({"errorType": "ArticleRec.Transient", "errorMessage": "the site's lock is held"})
            .to_string();
        events.push(ev("LambdaFunctionScheduled", 4, None, None));
        // retried once, then failed for good
        events.push(failed("LambdaFunctionFailed", 5, "ArticleRec.Transient", &cause));
        events.push(failed("LambdaFunctionFailed", 6, "ArticleRec.Transient", &cause));
        events.push(ev("TaskStateEntered", 6, Some("NotifyFailure"), None));
        events.push(failed("TaskFailed", 6, "SNS.NotFoundException", "no such topic"));
        events.push(failed(
            "ExecutionFailed",
            7,
            "ArticleRec.RunFailed",
            "A stage failed",
        ));
        let out = read(&events, &stage_states().unwrap());
        let f = out.failure.unwrap();
        assert_eq!(f.state.as_deref(), Some("Preprocess"));
        assert_eq!(f.stage.as_deref(), Some("preprocess"));
        assert_eq!(f.error, "ArticleRec.Transient");
        assert_eq!(f.message, "the site's lock is held");
        // what finished before is still read
        assert_eq!(out.state["fetch"], json!({"lines": 10}));
        assert!(out.state.get("preprocess").is_none());
    }

    #[test]
    fn a_failure_outside_any_task_is_the_executions_own() {
        let mut events: Vec<Event> = succeeded().into_iter().take(4).collect();
        events.push(failed(
            "ExecutionFailed",
            2,
            "States.Runtime",
            "Invalid path '$.fetch_plan.distributed'",
        ));
        let f = read(&events, &stage_states().unwrap()).failure.unwrap();
        assert_eq!(f.error, "States.Runtime");
        assert_eq!(f.message, "Invalid path '$.fetch_plan.distributed'");
        assert_eq!(f.state.as_deref(), Some("ManyHours"));
        assert_eq!(f.stage, None);
        // a task failure that was retried away is no failure
        let mut events = succeeded();
        events.insert(
            5,
            failed("LambdaFunctionFailed", 2, "Lambda.ServiceException", "503"),
        );
        assert_eq!(read(&events, &stage_states().unwrap()).failure, None);
    }
}
