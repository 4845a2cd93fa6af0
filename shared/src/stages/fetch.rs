//! Fetch: Snowplow enriched events of the window's hour partitions → the
//! de-duplicated `events.parquet` and `bad_rows.jsonl` (one JSON line per
//! quarantined line, with key, line number and reason). Counts every line.

use bytes::Bytes;
use tracing::{info, instrument, warn};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::EventBatch;
use crate::layout::{InputLayout, RunLayout};
use crate::metrics::Unit;
use crate::parquet::{self, EVENTS};
use crate::stage::{FetchInput, FetchOutput};

/// # Errors
/// `Empty` when the window holds no input at all; storage and frame errors.
#[instrument(skip_all, fields(stage = "fetch", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: FetchInput, ctx: &Context) -> Result<FetchOutput> {
    let layout = RunLayout::new(&input.run)?;
    let window = input.run.window(ctx.settings.days_of_data);
    let source = InputLayout::new(&ctx.settings.input_prefix)?;
    let mut batch = EventBatch::new(window, &ctx.settings.app_id);
    let (mut hours_read, mut hours_missing) = (0, 0);
    for hour in source.hours(&window) {
        let objects = ctx.store.list(&hour.prefix).await?;
        if objects.is_empty() {
            hours_missing += 1;
            continue;
        }
        hours_read += 1;
        for obj in objects {
            let body = ctx.store.get(&obj.key).await?;
            batch.add_object(&obj.key, &body);
        }
    }
    if hours_missing > 0 {
        warn!(hours_missing, "hour partitions with no input in the window");
    }
    if batch.counts.lines == 0 {
        return Err(Error::Empty {
            stage: "fetch",
            what: format!(
                "no input objects under {}/ between {} and {}",
                ctx.settings.input_prefix, window.start, window.end
            ),
        });
    }
    batch.counts.hours_read = hours_read;
    batch.counts.hours_missing = hours_missing;
    let counts = batch.counts.clone();
    let bad_rows = batch.bad_rows_jsonl();
    let key = layout.events();
    let df = batch.into_frame(&key)?;
    parquet::write(ctx.store.as_ref(), &key, &EVENTS, &df).await?;
    ctx.store.put(&layout.bad_rows(), Bytes::from(bad_rows)).await?;

    info!(
        lines = counts.lines,
        kept = counts.kept,
        duplicates = counts.duplicates,
        bad = counts.bad,
        bots = counts.bots,
        not_page_event = counts.not_page_event,
        other_app = counts.other_app,
        no_reader = counts.no_reader,
        out_of_window = counts.out_of_window,
        hours_read,
        hours_missing,
        "fetch done"
    );
    for (name, v) in [
        ("lines", counts.lines),
        ("events_kept", counts.kept),
        ("duplicates", counts.duplicates),
        ("bad_rows", counts.bad),
        ("hours_missing", counts.hours_missing),
    ] {
        ctx.metric("fetch", name, v as f64, Unit::Count);
    }
    Ok(FetchOutput {
        events_key: key.to_string(),
        bad_rows_key: layout.bad_rows().to_string(),
        counts,
    })
}
