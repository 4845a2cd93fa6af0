//! The one Lambda main loop every function binary calls, and the one mapping of
//! library errors to Lambda errors.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

use crate::context::Context;
use crate::contract::error::Error;
use crate::contract::stage::Stage;
use crate::run::dispatch::dispatch;

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        Diagnostic {
            error_type: e.kind().error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Runs a stage as a Lambda function: JSON logs, the context built once per
/// container (cold start) with only the adapters the stage uses, each event run through [`dispatch`] (so a bad event
/// is an `ArticleRec.InvalidInput` error naming the field) and errors returned
/// with an `ArticleRec.*` error type the state machine matches.
///
/// # Errors
/// Only when the runtime itself fails; a failed context build is reported to
/// Lambda as an init error by returning it.
pub async fn run_stage(stage: Stage) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let opened = match crate::settings::Settings::from_env() {
        Ok(settings) => Context::for_stage(settings, stage).await,
        Err(e) => Err(e),
    };
    let ctx = opened.map_err(|e| {
        tracing::error!(error = %e, error_type = e.kind().error_type(), "init failed");
        Box::new(e) as lambda_runtime::Error
    })?;
    let name = stage.name();
    tracing::info!(stage = name, settings = ?ctx.settings, "context ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        let span = tracing::info_span!("stage", stage = name, request_id = %event.context.request_id);
        async move {
            let out = dispatch(stage, event.payload, &ctx).await;
            // metrics are worth a retry of their own, not of the stage
            if let Err(e) = ctx.metrics.flush().await {
                tracing::warn!(error = %e, "metrics not sent");
            }
            out.map_err(Diagnostic::from)
        }
        .instrument(span)
    }))
    .await
}
