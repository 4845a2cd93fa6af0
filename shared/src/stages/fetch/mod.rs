//! Fetch: Snowplow enriched events of the window's hour partitions → each
//! hour's page events and what they come to for the later stages (reading
//! sessions by reader and article, article paths, event identities; see
//! [`partial`]), gathered for the window in `partials.json`, with the
//! duplicates found across hours (`duplicates.parquet`), the recommendation
//! widget's events (`widget_events.parquet`) and `bad_rows.jsonl`.
//!
//! Incremental: a complete hour is parsed once into `cache/<site>/hours/...`
//! with a manifest of the input objects' ETags; later runs reuse it unless the
//! objects changed. The hour still filling (ending after the run's time) is
//! parsed into the run's own prefix and never cached, so it is read again by
//! the next run. [`run_hour`] is one hour on its own, for a Distributed Map.

pub mod dedup;
#[cfg(test)]
mod fuzz;
pub mod hour_batch;
mod hour_cache;
pub mod partial;
pub mod snowplow;
pub mod widget_rows;

use bytes::Bytes;
use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::{StreamExt, TryStreamExt};
use tracing::{info, instrument, warn};

use self::hour_cache::{fetch_hour, inspect_hour, read_hour, Inspected};
use crate::adapters::parquet::DuplicateColumns;
use crate::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::layout::{InputLayout, RunLayout};
use crate::contract::metrics::Unit;
use crate::contract::partials::WindowPartials;
use crate::contract::stage::{
    FetchCounts, FetchHourInput, FetchHourOutput, FetchInput, FetchOutput, FetchPlan, FetchRequest,
    FetchResponse, HourStatus,
};
use crate::contract::storage::BlobStore;
use crate::stages::fetch::dedup::{CrossHours, WidgetFilter};

/// Listings and manifests are small requests: this many at a time.
const INSPECT_CONCURRENCY: usize = 16;

/// Which hours of the run's window need parsing. When there are at least
/// `FETCH_MAP_MIN_HOURS` of them the state machine parses them one per
/// invocation (a Distributed Map) before [`run`] reads the window, which then
/// finds them cached.
///
/// # Errors
/// Storage errors listing the input or reading manifests.
#[instrument(skip_all, fields(stage = "fetch_plan", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn plan(input: FetchInput, ctx: &Context) -> Result<FetchPlan> {
    input.run.validate()?;
    let window = input.run.window(ctx.settings.days_of_data);
    let parts = InputLayout::new(&ctx.settings.input_prefix)?.hours(&window);
    let run = &input.run;
    let inspected: Vec<(DateTime<Utc>, Inspected)> = futures::stream::iter(parts)
        .map(|p| async move { inspect_hour(ctx, run, p.hour, true).await.map(|i| (p.hour, i)) })
        .buffered(INSPECT_CONCURRENCY)
        .try_collect()
        .await?;
    let mut plan = FetchPlan {
        hours: Vec::new(),
        window_hours: inspected.len() as u64,
        cached: 0,
        missing: 0,
        distributed: false,
    };
    for (hour, i) in inspected {
        match i {
            Inspected::Missing => plan.missing += 1,
            Inspected::Cached { .. } => plan.cached += 1,
            Inspected::ToParse(_) => plan.hours.push(hour),
        }
    }
    let min = ctx.settings.fetch_map_min_hours;
    plan.distributed = min > 0 && plan.hours.len() as u64 >= u64::from(min);
    info!(
        to_parse = plan.hours.len(),
        cached = plan.cached,
        missing = plan.missing,
        distributed = plan.distributed,
        "fetch plan"
    );
    Ok(plan)
}

/// Runs what a fetch request asks for.
///
/// # Errors
/// As [`plan`], [`run_hour`] and [`run`].
pub async fn handle(request: FetchRequest, ctx: &Context) -> Result<FetchResponse> {
    Ok(match request {
        FetchRequest::Plan(i) => FetchResponse::Plan(plan(i, ctx).await?),
        FetchRequest::Hour(i) => FetchResponse::Hour(run_hour(i, ctx).await?),
        FetchRequest::Window(i) => FetchResponse::Window(run(i, ctx).await?),
    })
}

/// Parses (or finds cached) one hour partition of the run's window.
///
/// # Errors
/// `InvalidInput` when `hour` is not the start of an hour; storage errors.
#[instrument(skip_all, fields(stage = "fetch_hour", site = %input.run.site, hour = %input.hour))]
pub async fn run_hour(input: FetchHourInput, ctx: &Context) -> Result<FetchHourOutput> {
    input.run.validate()?;
    if input.hour.duration_trunc(Duration::hours(1)).ok() != Some(input.hour) {
        return Err(Error::InvalidInput(format!(
            "{} is not the start of an hour",
            input.hour
        )));
    }
    Ok(fetch_hour(ctx, &input.run, input.hour).await?.out)
}

/// The window: every hour partition's files (parsed now, or cached), their
/// identities checked against the `DEDUP_HOURS` partitions before them, the
/// widget's events of the window once each, and the bad rows. Writes
/// `partials.json` (the hours, their files and digests, which preprocess
/// merges), `duplicates.parquet`, `widget_events.parquet` and
/// `bad_rows.jsonl`. Memory holds a few hours' identities, never the
/// window's events.
///
/// # Errors
/// `Empty` when the window holds no input objects at all; storage and Parquet errors.
#[instrument(skip_all, fields(stage = "fetch", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: FetchInput, ctx: &Context) -> Result<FetchOutput> {
    let layout = RunLayout::new(&input.run)?;
    let window = input.run.window(ctx.settings.days_of_data);
    let mut counts = FetchCounts::default();
    let mut widget = WidgetFilter::new(window);
    let mut cross = CrossHours::new(ctx.settings.dedup_hours);
    let mut duplicates = DuplicateColumns::default();
    let mut partials = WindowPartials {
        window,
        hours: Vec::new(),
    };
    let mut bad_rows = Vec::new();
    let mut newest = None;
    for part in InputLayout::new(&ctx.settings.input_prefix)?.hours(&window) {
        let Some(data) = read_hour(ctx, &input.run, part.hour).await? else {
            counts.hours_missing += 1;
            continue;
        };
        newest = newest.max(Some(part.hour));
        counts.hours_read += 1;
        match data.hour.out.status {
            HourStatus::Cached => counts.hours_cached += 1,
            _ => counts.hours_parsed += 1,
        }
        let hour = &data.hour.out;
        counts.parsed.add(&hour.counts);
        counts.duplicates += hour.summary.duplicates;
        counts.out_of_window += hour.summary.after_as_of;
        let filling = data.hour.filling;
        let (again, dropped) = cross.next_hour(hour.hour.timestamp_millis(), &data.keys.columns()?, |b| {
            window.includes_bucket(b, filling)
        });
        counts.duplicates += dropped.duplicates;
        counts.out_of_window += dropped.out_of_window;
        for a in again {
            if let Some(row) = a.pair_row {
                duplicates.hour_ms.push(hour.hour.timestamp_millis());
                duplicates.pair_row.push(row);
            }
        }
        widget.apply(&data.widget.columns()?);
        bad_rows.extend_from_slice(&data.bad_rows);
        partials.hours.extend(data.partial());
    }
    if counts.hours_read == 0 {
        return Err(Error::Empty {
            stage: "fetch",
            what: format!(
                "no input objects under {}/ for any hour between {} and {}",
                ctx.settings.input_prefix, window.start, window.end
            ),
        });
    }
    if counts.hours_missing > 0 {
        warn!(
            hours_missing = counts.hours_missing,
            "hour partitions with no input in the window"
        );
    }
    counts.kept = counts.parsed.events - counts.duplicates - counts.out_of_window;
    counts.widget_kept = widget.kept.len() as u64;
    counts.widget_duplicates = widget.dropped.duplicates;
    counts.widget_out_of_window = widget.dropped.out_of_window;
    let store = ctx.checked_store(&layout, &[]);
    let partials_json =
        serde_json::to_vec(&partials).map_err(|e| Error::Bug(format!("partials.json: {e}")))?;
    store.put(&layout.partials(), Bytes::from(partials_json)).await?;
    duplicates.write(&store, &layout.duplicates()).await?;
    let widget_key = layout.widget_events();
    widget.kept.columns().write(&store, &widget_key).await?;
    store.put(&layout.bad_rows(), Bytes::from(bad_rows)).await?;
    report(ctx, &counts);
    if let Some(newest) = newest {
        ctx.metric(
            "fetch",
            "input_lag_hours",
            input_lag_hours(window.end, newest) as f64,
            Unit::Count,
        );
    }
    Ok(FetchOutput {
        partials_key: layout.partials().to_string(),
        duplicates_key: layout.duplicates().to_string(),
        bad_rows_key: layout.bad_rows().to_string(),
        files: store.written(),
        widget_events_key: Some(widget_key.to_string()),
        counts,
    })
}

/// Whole hours between the end of the newest hour partition with input and
/// the window's end: 0 while the Snowplow loader keeps up, growing by one an
/// hour once it stalls (the loader-stalled alarm's metric; `hours_missing`
/// cannot tell a stalled loader from a site younger than the window).
pub fn input_lag_hours(window_end: DateTime<Utc>, newest: DateTime<Utc>) -> u64 {
    u64::try_from((window_end - (newest + Duration::hours(1))).num_hours()).unwrap_or(0)
}

fn report(ctx: &Context, c: &FetchCounts) {
    let p = &c.parsed;
    info!(
        lines = p.lines,
        kept = c.kept,
        duplicates = c.duplicates,
        bad = p.bad,
        bots = p.bots,
        not_page_event = p.not_page_event,
        other_app = p.other_app,
        no_reader = p.no_reader,
        widget_events = c.widget_kept,
        out_of_window = c.out_of_window,
        hours_parsed = c.hours_parsed,
        hours_cached = c.hours_cached,
        hours_missing = c.hours_missing,
        "fetch done"
    );
    ctx.counts(
        "fetch",
        &[
            ("lines", p.lines),
            ("events_kept", c.kept),
            ("duplicates", c.duplicates),
            ("bad_rows", p.bad),
            ("widget_events", c.widget_kept),
            ("bots", p.bots),
            ("hours_parsed", c.hours_parsed),
            ("hours_cached", c.hours_cached),
            ("hours_missing", c.hours_missing),
        ],
    );
}

#[cfg(test)]
mod tests;
