//! The one Lambda main loop every function binary calls, and the one mapping of
//! library errors to Lambda errors.

use std::future::Future;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::context::Context;
use crate::error::Error;

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        Diagnostic {
            error_type: e.kind().error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Runs a stage as a Lambda function: JSON logs, the context built once per
/// container (cold start), each event deserialised into the stage's input and
/// errors returned with an `ArticleRec.*` error type the state machine matches.
///
/// # Errors
/// Only when the runtime itself fails; a failed context build is reported to
/// Lambda as an init error by returning it.
pub async fn run_stage<I, O, F, Fut>(stage: &'static str, f: F) -> Result<(), lambda_runtime::Error>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(I, Context) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<O, Error>> + Send,
{
    lambda_runtime::tracing::init_default_subscriber();
    let ctx = Context::from_env().await.map_err(|e| {
        tracing::error!(error = %e, error_type = e.kind().error_type(), "init failed");
        Box::new(e) as lambda_runtime::Error
    })?;
    tracing::info!(stage, settings = ?ctx.settings, "context ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<I>| {
        let ctx = ctx.clone();
        let span = tracing::info_span!("stage", stage, request_id = %event.context.request_id);
        async move {
            let out = f(event.payload, ctx.clone()).await;
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
