//! Fetch: Snowplow enriched events of the window's hour partitions →
//! `events.parquet` (de-duplicated across the window) and `bad_rows.jsonl`.
//!
//! Incremental: a complete hour is parsed once into `cache/<site>/hours/...`
//! with a manifest of the input objects' ETags; later runs reuse it unless the
//! objects changed. The hour still filling (ending after the run's time) is
//! parsed into the run's own prefix and never cached, so it is read again by
//! the next run. [`run_hour`] is one hour on its own, for a Distributed Map.

use bytes::Bytes;
use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::{StreamExt, TryStreamExt};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use tracing::{info, instrument, warn};

use crate::context::Context;
use crate::dedup::WindowFilter;
use crate::error::{Error, Result};
use crate::events::EventBatch;
use crate::layout::{HourFiles, InputLayout, RunLayout};
use crate::metrics::Unit;
use crate::parquet::{self, StreamWriter, EVENTS, HOUR_EVENTS};
use crate::stage::{
    FetchCounts, FetchHourInput, FetchHourOutput, FetchInput, FetchOutput, FetchPlan, FetchRequest,
    FetchResponse, HourStatus, RunRef,
};
use crate::storage::ObjectMeta;

/// Bump when parsing or the cached files change, so cached hours are parsed again.
const PARSER_VERSION: u32 = 3;

/// What a cached hour was parsed from; if the listing still matches, the cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    parser_version: u32,
    app_id: String,
    objects: Vec<SourceObject>,
    counts: crate::stage::ParseCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SourceObject {
    key: String,
    etag: String,
    size: u64,
}

fn sources(objects: &[ObjectMeta]) -> Vec<SourceObject> {
    objects
        .iter()
        .map(|o| SourceObject {
            key: o.key.to_string(),
            etag: o.etag.clone(),
            size: o.size,
        })
        .collect()
}

/// One hour's result, with what this process already holds in memory.
struct Hour {
    out: FetchHourOutput,
    files: Option<HourFiles>,
    frame: Option<DataFrame>,
    bad_rows: Option<Bytes>,
}

async fn read_manifest(ctx: &Context, files: &HourFiles) -> Result<Option<Manifest>> {
    match ctx.store.get(&files.manifest()).await {
        Ok(b) => Ok(serde_json::from_slice(&b)
            .map_err(
                |e| warn!(key = %files.manifest(), error = %e, "unreadable manifest; parsing the hour again"),
            )
            .ok()),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What an hour partition holds before any parsing.
enum Inspected {
    /// No input objects.
    Missing,
    /// Parsed before from the same objects.
    Cached {
        files: HourFiles,
        counts: crate::stage::ParseCounts,
    },
    /// New, changed or still filling.
    ToParse {
        files: HourFiles,
        objects: Vec<ObjectMeta>,
        complete: bool,
    },
}

async fn inspect_hour(ctx: &Context, run: &RunRef, hour: DateTime<Utc>) -> Result<Inspected> {
    let source = InputLayout::new(&ctx.settings.input_prefix)?.hour(hour);
    let objects = ctx.input.list(&source.prefix).await?;
    if objects.is_empty() {
        return Ok(Inspected::Missing);
    }
    let complete = hour + Duration::hours(1) <= run.as_of;
    if !complete {
        let files = HourFiles::in_run(&RunLayout::new(run)?, hour);
        return Ok(Inspected::ToParse {
            files,
            objects,
            complete,
        });
    }
    let files = HourFiles::cached(&run.site, hour)?;
    if let Some(m) = read_manifest(ctx, &files).await? {
        if m.parser_version == PARSER_VERSION
            && m.app_id == ctx.settings.app_id
            && m.objects == sources(&objects)
        {
            return Ok(Inspected::Cached {
                files,
                counts: m.counts,
            });
        }
    }
    Ok(Inspected::ToParse {
        files,
        objects,
        complete,
    })
}

async fn fetch_hour(ctx: &Context, run: &RunRef, hour: DateTime<Utc>) -> Result<Hour> {
    let mut out = FetchHourOutput {
        hour,
        status: HourStatus::Missing,
        events_key: None,
        bad_rows_key: None,
        counts: Default::default(),
    };
    let (files, objects, complete) = match inspect_hour(ctx, run, hour).await? {
        Inspected::Missing => {
            return Ok(Hour {
                out,
                files: None,
                frame: None,
                bad_rows: None,
            })
        }
        Inspected::Cached { files, counts } => {
            out.status = HourStatus::Cached;
            out.events_key = Some(files.events().to_string());
            out.bad_rows_key = Some(files.bad_rows().to_string());
            out.counts = counts;
            return Ok(Hour {
                out,
                files: Some(files),
                frame: None,
                bad_rows: None,
            });
        }
        Inspected::ToParse {
            files,
            objects,
            complete,
        } => (files, objects, complete),
    };
    out.events_key = Some(files.events().to_string());
    out.bad_rows_key = Some(files.bad_rows().to_string());
    let mut batch = EventBatch::new(&ctx.settings.app_id);
    for obj in &objects {
        let body = ctx.input.get(&obj.key).await?;
        batch.add_object(&obj.key, &body);
    }
    out.status = HourStatus::Parsed;
    out.counts = batch.counts.clone();
    let bad_rows = Bytes::from(batch.bad_rows_jsonl());
    let frame = batch.into_frame(&files.events())?;
    parquet::write(ctx.store.as_ref(), &files.events(), &HOUR_EVENTS, &frame).await?;
    ctx.store.put(&files.bad_rows(), bad_rows.clone()).await?;
    if complete {
        // written last: a crash before this leaves no manifest, so the hour is parsed again
        let manifest = Manifest {
            parser_version: PARSER_VERSION,
            app_id: ctx.settings.app_id.clone(),
            objects: sources(&objects),
            counts: out.counts.clone(),
        };
        let json = serde_json::to_vec(&manifest).map_err(|e| Error::Bug(format!("manifest: {e}")))?;
        ctx.store.put(&files.manifest(), Bytes::from(json)).await?;
    }
    Ok(Hour {
        out,
        files: Some(files),
        frame: Some(frame),
        bad_rows: Some(bad_rows),
    })
}

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
        .map(|p| async move { inspect_hour(ctx, run, p.hour).await.map(|i| (p.hour, i)) })
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
            Inspected::ToParse { .. } => plan.hours.push(hour),
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

/// # Errors
/// `Empty` when the window holds no input objects at all; storage and frame errors.
#[instrument(skip_all, fields(stage = "fetch", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: FetchInput, ctx: &Context) -> Result<FetchOutput> {
    let layout = RunLayout::new(&input.run)?;
    let window = input.run.window(ctx.settings.days_of_data);
    let events_key = layout.events();
    let mut counts = FetchCounts::default();
    let mut filter = WindowFilter::new(window);
    let mut bad_rows = Vec::new();
    let mut buf = Vec::new();
    let mut writer = StreamWriter::new(&mut buf, &EVENTS, &events_key)?;
    for part in InputLayout::new(&ctx.settings.input_prefix)?.hours(&window) {
        let hour = fetch_hour(ctx, &input.run, part.hour).await?;
        let Some(files) = hour.files else {
            counts.hours_missing += 1;
            continue;
        };
        counts.hours_read += 1;
        match hour.out.status {
            HourStatus::Cached => counts.hours_cached += 1,
            _ => counts.hours_parsed += 1,
        }
        counts.parsed.add(&hour.out.counts);
        let frame = match hour.frame {
            Some(f) => f,
            None => parquet::read(ctx.store.as_ref(), &files.events(), &HOUR_EVENTS).await?,
        };
        if hour.out.counts.bad > 0 {
            let rows = match hour.bad_rows {
                Some(b) => b,
                None => ctx.store.get(&files.bad_rows()).await?,
            };
            bad_rows.extend_from_slice(&rows);
        }
        let (kept, dropped) = filter.apply(&frame).map_err(Error::frame(&files.events()))?;
        counts.duplicates += dropped.duplicates;
        counts.out_of_window += dropped.out_of_window;
        writer.write(&kept)?;
    }
    counts.kept = writer.finish()?;
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
    ctx.store.put(&events_key, Bytes::from(buf)).await?;
    ctx.store.put(&layout.bad_rows(), Bytes::from(bad_rows)).await?;
    report(ctx, &counts);
    Ok(FetchOutput {
        events_key: events_key.to_string(),
        bad_rows_key: layout.bad_rows().to_string(),
        counts,
    })
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
        out_of_window = c.out_of_window,
        hours_parsed = c.hours_parsed,
        hours_cached = c.hours_cached,
        hours_missing = c.hours_missing,
        "fetch done"
    );
    for (name, v) in [
        ("lines", p.lines),
        ("events_kept", c.kept),
        ("duplicates", c.duplicates),
        ("bad_rows", p.bad),
        ("bots", p.bots),
        ("hours_parsed", c.hours_parsed),
        ("hours_cached", c.hours_cached),
        ("hours_missing", c.hours_missing),
    ] {
        ctx.metric("fetch", name, v as f64, Unit::Count);
    }
}
