//! The deployed pipeline state machine through `aws-sdk-sfn`: find it, start
//! an execution, describe, list and read the history of executions.

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use aws_sdk_sfn::Client;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::history::Event;
use super::AwsError;
use article_rec_core::ErrorKind;

/// One execution as `describe` sees it.
#[derive(Debug, Clone)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    pub input: Value,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Execution {
    pub fn running(&self) -> bool {
        self.status == ExecutionStatus::Running || self.status == ExecutionStatus::PendingRedrive
    }
}

/// What `start` did.
pub enum Started {
    New(String),
    /// An execution of that name exists (running with the same input, or
    /// closed): its ARN.
    Exists(String),
}

pub struct Pipeline {
    client: Client,
    pub arn: String,
}

fn time(t: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

/// An SDK failure as the CLI reports it: access denied (5), throttling,
/// timeouts and server errors (3), anything else (4).
fn sdk_err<E>(action: &str, e: SdkError<E>) -> anyhow::Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let kind = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorKind::Transient,
        _ if code.contains("AccessDenied") || code.contains("UnrecognizedClient") => ErrorKind::Permission,
        // a refusal whose body the SDK cannot read (a proxy's, an emulator's
        // XML to a JSON service) is still a refusal
        SdkError::ServiceError(s) if s.raw().status().as_u16() == 403 => ErrorKind::Permission,
        _ if code.contains("Throttl") || code.contains("LimitExceeded") => ErrorKind::Transient,
        SdkError::ResponseError(_) => ErrorKind::Transient,
        SdkError::ServiceError(s) if s.raw().status().is_server_error() => ErrorKind::Transient,
        _ => ErrorKind::Bug,
    };
    AwsError {
        kind,
        message: format!("Step Functions {action}: {}", DisplayErrorContext(&e)),
    }
    .into()
}

fn event_of(e: &HistoryEvent) -> Event {
    let (error, cause) = failure_of(e);
    Event {
        kind: e.r#type().as_str().to_string(),
        at: time(e.timestamp()),
        state: e
            .state_entered_event_details()
            .map(|d| d.name().to_string())
            .or_else(|| e.state_exited_event_details().map(|d| d.name().to_string())),
        output: e
            .state_exited_event_details()
            .and_then(|d| d.output().map(str::to_string)),
        error,
        cause,
    }
}

fn failure_of(e: &HistoryEvent) -> (Option<String>, Option<String>) {
    fn pair(error: Option<&str>, cause: Option<&str>) -> (Option<String>, Option<String>) {
        (error.map(str::to_string), cause.map(str::to_string))
    }
    if let Some(d) = e.lambda_function_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.lambda_function_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.lambda_function_schedule_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.lambda_function_start_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.task_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.task_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.execution_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.execution_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = e.execution_aborted_event_details() {
        return pair(d.error(), d.cause());
    }
    (None, None)
}

impl Pipeline {
    /// The pipeline machine: `arn` when given (checked to exist), else the
    /// stack's `<stack>-pipeline` (the template's name for it).
    pub async fn find(
        aws: &aws_config::SdkConfig,
        arn: Option<&str>,
        stack: &str,
    ) -> anyhow::Result<Pipeline> {
        let client = Client::new(aws);
        if let Some(arn) = arn {
            return match client
                .describe_state_machine()
                .state_machine_arn(arn)
                .send()
                .await
            {
                Ok(_) => Ok(Pipeline {
                    client,
                    arn: arn.to_string(),
                }),
                Err(e) if e.code() == Some("StateMachineDoesNotExist") || e.code() == Some("InvalidArn") => {
                    Err(AwsError::usage(format!(
                        "state machine {arn} does not exist (PIPELINE_STATE_MACHINE_ARN or --state-machine)"
                    )))
                }
                Err(e) => Err(sdk_err("DescribeStateMachine", e)),
            };
        }
        let want = format!("{stack}-pipeline");
        let mut pages = client.list_state_machines().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ListStateMachines", e))?;
            if let Some(m) = page.state_machines().iter().find(|m| m.name() == want) {
                return Ok(Pipeline {
                    arn: m.state_machine_arn().to_string(),
                    client,
                });
            }
        }
        let region = aws.region().map_or_else(|| "?".to_string(), ToString::to_string);
        Err(AwsError::usage(format!(
            "no state machine {want} in {region}: is stack {stack} deployed there? \
             (--stack or STACK_NAME names the stack; --state-machine the machine itself)"
        )))
    }

    /// The ARN an execution of this machine named `name` has.
    pub fn execution_arn(&self, name: &str) -> String {
        format!("{}:{name}", self.arn.replacen(":stateMachine:", ":execution:", 1))
    }

    /// Starts execution `name` with `input`; an existing one of that name is
    /// not started again.
    pub async fn start(&self, name: &str, input: &Value) -> anyhow::Result<Started> {
        let res = self
            .client
            .start_execution()
            .state_machine_arn(&self.arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match res {
            Ok(out) => Ok(Started::New(out.execution_arn().to_string())),
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => {
                Ok(Started::Exists(self.execution_arn(name)))
            }
            Err(e) if e.code() == Some("InvalidName") => Err(AwsError::usage(format!(
                "Step Functions refuses the execution name {name:?}: {}",
                e.message().unwrap_or_default()
            ))),
            Err(e) => Err(sdk_err("StartExecution", e)),
        }
    }

    /// The execution `arn`, or None when there is none.
    pub async fn describe(&self, arn: &str) -> anyhow::Result<Option<Execution>> {
        match self.client.describe_execution().execution_arn(arn).send().await {
            Ok(d) => Ok(Some(Execution {
                arn: d.execution_arn().to_string(),
                name: d.name().unwrap_or_default().to_string(),
                status: d.status().clone(),
                start: time(d.start_date()),
                stop: d.stop_date().map(time),
                input: d
                    .input()
                    .and_then(|i| serde_json::from_str(i).ok())
                    .unwrap_or(Value::Null),
                error: d.error().map(str::to_string),
                cause: d.cause().map(str::to_string),
            })),
            Err(e) if e.code() == Some("ExecutionDoesNotExist") => Ok(None),
            Err(e) => Err(sdk_err("DescribeExecution", e)),
        }
    }

    /// Every event of the execution, oldest first.
    pub async fn history(&self, arn: &str) -> anyhow::Result<Vec<Event>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .include_execution_data(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("GetExecutionHistory", e))?;
            out.extend(page.events().iter().map(event_of));
        }
        Ok(out)
    }

    /// The machine's executions, newest first, whose name `keep` accepts,
    /// at most `max` of them (`usize::MAX`: all).
    pub async fn list(
        &self,
        max: usize,
        keep: impl Fn(&str) -> bool,
    ) -> anyhow::Result<Vec<(String, String, ExecutionStatus)>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(&self.arn)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_err("ListExecutions", e))?;
            for e in page.executions() {
                if keep(e.name()) {
                    out.push((
                        e.name().to_string(),
                        e.execution_arn().to_string(),
                        e.status().clone(),
                    ));
                    if out.len() >= max {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }
}
