//! Runs one stage by name on JSON, as a Lambda invocation would: the event
//! decoded into the stage's input (a bad one is `InvalidInput` naming the
//! field), the stage's output encoded back.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::stage::{RunRef, Stage};

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
    // a window in the future or before 2000 is refused before any stage runs
    if let Some(run) = event.get("run") {
        decode::<RunRef>(stage, run.clone())?.validate()?;
    }
    match stage {
        Stage::Fetch => encode(crate::stages::fetch::handle(decode(stage, event)?, ctx).await?),
        Stage::Preprocess => encode(crate::stages::preprocess::run(decode(stage, event)?, ctx).await?),
        Stage::Defaults => encode(crate::stages::defaults::run(decode(stage, event)?, ctx).await?),
        Stage::Train => encode(crate::stages::train::run(decode(stage, event)?, ctx).await?),
        Stage::Save => encode(crate::stages::save::run(decode(stage, event)?, ctx).await?),
    }
}
