//! `rollback`, locally and against the deployed database (`aws rollback`):
//! the previous model is current again.

use anyhow::Context as _;
use article_rec_core::Context;
use serde_json::json;

use crate::Which;

/// Rolls back the context's site's models of `model`'s kinds, printing what
/// was switched.
pub async fn rollback(ctx: Context, model: Which, json: bool) -> anyhow::Result<()> {
    let site = ctx.settings.site.clone();
    let mut switched = Vec::new();
    for &kind in model.kinds() {
        let done = article_rec_core::stages::save::rollback(&ctx, &site, kind)
            .await
            .with_context(|| format!("rollback of site {site}"))?;
        switched.push(json!({
            "site": site,
            "model_type": kind.as_str(),
            "from": {"id": done.from.id, "run_id": done.from.run_id, "status": done.from.status},
            "to": {"id": done.to.id, "run_id": done.to.run_id, "status": done.to.status},
        }));
        if !json {
            println!(
                "{site} {}: model {} (run {}) is current again; model {} (run {}) is now failed",
                kind.as_str(),
                done.to.id,
                done.to.run_id,
                done.from.id,
                done.from.run_id
            );
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&switched)?);
    }
    Ok(())
}
