//! The five stages. Each `run(input, ctx)` loads its inputs, calls pure domain
//! code and writes its outputs; `dispatch` runs one by name on JSON, as a
//! Lambda invocation would.

pub mod defaults;
pub mod fetch;
pub mod preprocess;
pub mod save;
pub mod train;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::stage::Stage;

fn decode<I: DeserializeOwned>(stage: Stage, event: Value) -> Result<I> {
    serde_json::from_value(event).map_err(|e| Error::InvalidInput(format!("{} event: {e}", stage.name())))
}

fn encode<O: Serialize>(out: O) -> Result<Value> {
    serde_json::to_value(out).map_err(|e| Error::Bug(format!("encode output: {e}")))
}

/// Runs one stage on a JSON event and returns its JSON output, with the
/// settings of the event's site.
///
/// # Errors
/// `InvalidInput` when the event does not fit the stage's input; else the
/// stage's own errors.
pub async fn dispatch(stage: Stage, event: Value, ctx: &Context) -> Result<Value> {
    let site_ctx;
    let ctx = match event.pointer("/run/site").and_then(Value::as_str) {
        Some(site) => {
            site_ctx = ctx.for_site(site)?;
            &site_ctx
        }
        None => ctx,
    };
    match stage {
        Stage::Fetch => encode(fetch::handle(decode(stage, event)?, ctx).await?),
        Stage::Preprocess => encode(preprocess::run(decode(stage, event)?, ctx).await?),
        Stage::Defaults => encode(defaults::run(decode(stage, event)?, ctx).await?),
        Stage::Train => encode(train::run(decode(stage, event)?, ctx).await?),
        Stage::Save => encode(save::run(decode(stage, event)?, ctx).await?),
    }
}

/// Runs CPU-heavy work off the async runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Bug(format!("worker task failed: {e}")))
}
