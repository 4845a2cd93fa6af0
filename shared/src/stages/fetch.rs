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
const PARSER_VERSION: u32 = 4;

/// What a cached hour was parsed from; if the listing still matches, the cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    parser_version: u32,
    app_id: String,
    objects: Vec<SourceObject>,
    counts: crate::stage::ParseCounts,
    /// The folder of this listing's files ([`HourFiles::cached`]).
    version: String,
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

/// The version of an hour's files: a digest of what they are parsed from,
/// so the same listing always writes the same files, and another listing
/// (an object arrived meanwhile) writes files of its own.
fn version_of(app_id: &str, objects: &[SourceObject]) -> Result<String> {
    let what = serde_json::to_vec(&(PARSER_VERSION, app_id, objects))
        .map_err(|e| Error::Bug(format!("hour version: {e}")))?;
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&what)))
}

/// One hour's result, with what this process already holds in memory.
struct Hour {
    out: FetchHourOutput,
    files: Option<HourFiles>,
    frame: Option<DataFrame>,
    bad_rows: Option<Bytes>,
}

impl Hour {
    fn missing(hour: DateTime<Utc>) -> Hour {
        Hour {
            out: FetchHourOutput {
                hour,
                status: HourStatus::Missing,
                events_key: None,
                bad_rows_key: None,
                counts: Default::default(),
            },
            files: None,
            frame: None,
            bad_rows: None,
        }
    }
}

async fn read_manifest(ctx: &Context, site: &str, hour: DateTime<Utc>) -> Result<Option<Manifest>> {
    let key = crate::layout::hour_manifest(site, hour)?;
    match ctx.store.get(&key).await {
        Ok(b) => Ok(serde_json::from_slice(&b)
            .map_err(|e| warn!(key = %key, error = %e, "unreadable manifest; parsing the hour again"))
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
    ToParse(ToParse),
}

struct ToParse {
    files: HourFiles,
    objects: Vec<ObjectMeta>,
    /// The manifest to write once the files are (complete hours only).
    manifest: Option<Manifest>,
}

/// `trust_cache: false` ignores the manifest (its files are gone).
async fn inspect_hour(
    ctx: &Context,
    run: &RunRef,
    hour: DateTime<Utc>,
    trust_cache: bool,
) -> Result<Inspected> {
    let source = InputLayout::new(&ctx.settings.input_prefix)?.hour(hour);
    let objects = ctx.input.list(&source.prefix).await?;
    if objects.is_empty() {
        return Ok(Inspected::Missing);
    }
    let complete = hour + Duration::hours(1) <= run.as_of;
    if !complete {
        let files = HourFiles::in_run(&RunLayout::new(run)?, hour);
        return Ok(Inspected::ToParse(ToParse {
            files,
            objects,
            manifest: None,
        }));
    }
    let listed = sources(&objects);
    let manifest = if trust_cache {
        read_manifest(ctx, &run.site, hour).await?
    } else {
        None
    };
    if let Some(m) = manifest {
        if m.parser_version == PARSER_VERSION && m.app_id == ctx.settings.app_id && m.objects == listed {
            return Ok(Inspected::Cached {
                files: HourFiles::cached(&run.site, hour, &m.version)?,
                counts: m.counts,
            });
        }
    }
    let version = version_of(&ctx.settings.app_id, &listed)?;
    Ok(Inspected::ToParse(ToParse {
        files: HourFiles::cached(&run.site, hour, &version)?,
        objects,
        manifest: Some(Manifest {
            parser_version: PARSER_VERSION,
            app_id: ctx.settings.app_id.clone(),
            objects: listed,
            counts: Default::default(),
            version,
        }),
    }))
}

async fn fetch_hour(ctx: &Context, run: &RunRef, hour: DateTime<Utc>) -> Result<Hour> {
    match inspect_hour(ctx, run, hour, true).await? {
        Inspected::Missing => Ok(Hour::missing(hour)),
        Inspected::Cached { files, counts } => Ok(Hour {
            out: FetchHourOutput {
                hour,
                status: HourStatus::Cached,
                events_key: Some(files.events().to_string()),
                bad_rows_key: Some(files.bad_rows().to_string()),
                counts,
            },
            files: Some(files),
            frame: None,
            bad_rows: None,
        }),
        Inspected::ToParse(todo) => parse_hour(ctx, &run.site, hour, todo).await,
    }
}

/// Why fetch does not read an object whose key is not plain.
const UNUSUAL_KEY: &str =
    "its key has an empty, '.' or '..' segment, which S3 keeps as written but file systems and tools resolve";

/// Parses an hour's objects into its files; for a complete hour, then its
/// manifest. An object that cannot be read (refused, vanished, an unusual
/// key) is one bad row; only a transient failure fails the hour.
async fn parse_hour(ctx: &Context, site: &str, hour: DateTime<Utc>, todo: ToParse) -> Result<Hour> {
    let ToParse {
        files,
        objects,
        manifest,
    } = todo;
    let mut batch = EventBatch::new(&ctx.settings.app_id);
    for obj in &objects {
        if !obj.key.is_plain() {
            warn!(key = %obj.key, "object with an unusual key not read");
            batch.add_unreadable(&obj.key, UNUSUAL_KEY);
            continue;
        }
        match ctx.input.get(&obj.key).await {
            Ok(body) => batch.add_object(&obj.key, &body),
            Err(e) if e.kind() == crate::ErrorKind::Transient => return Err(e),
            Err(e) => {
                warn!(key = %obj.key, error = %e, "object not read; quarantined whole");
                batch.add_unreadable(&obj.key, &e.to_string());
            }
        }
    }
    let counts = batch.counts.clone();
    let bad_rows = Bytes::from(batch.bad_rows_jsonl());
    let frame = batch.into_frame(&files.events())?;
    parquet::write(ctx.store.as_ref(), &files.events(), &HOUR_EVENTS, &frame).await?;
    ctx.store.put(&files.bad_rows(), bad_rows.clone()).await?;
    if let Some(mut manifest) = manifest {
        // written last, and naming its own files: a crash before this leaves
        // the old manifest (or none), and a run that overlaps this one can
        // only make the manifest name its own complete files
        manifest.counts = counts.clone();
        let json = serde_json::to_vec(&manifest).map_err(|e| Error::Bug(format!("manifest: {e}")))?;
        let key = crate::layout::hour_manifest(site, hour)?;
        ctx.store.put(&key, Bytes::from(json)).await?;
    }
    Ok(Hour {
        out: FetchHourOutput {
            hour,
            status: HourStatus::Parsed,
            events_key: Some(files.events().to_string()),
            bad_rows_key: Some(files.bad_rows().to_string()),
            counts,
        },
        files: Some(files),
        frame: Some(frame),
        bad_rows: Some(bad_rows),
    })
}

/// An hour's events and bad rows, parsed or from the cache; `None` when the
/// hour has no input. Cached files that are gone (expired under a manifest
/// that is not) are parsed again from the input.
async fn read_hour(
    ctx: &Context,
    run: &RunRef,
    hour: DateTime<Utc>,
) -> Result<Option<(Hour, DataFrame, Bytes)>> {
    let mut h = fetch_hour(ctx, run, hour).await?;
    let Some(files) = h.files.clone() else {
        return Ok(None);
    };
    if let (Some(frame), Some(rows)) = (h.frame.take(), h.bad_rows.take()) {
        return Ok(Some((h, frame, rows)));
    }
    let cached = async {
        let frame = parquet::read(ctx.store.as_ref(), &files.events(), &HOUR_EVENTS).await?;
        let rows = if h.out.counts.bad > 0 {
            ctx.store.get(&files.bad_rows()).await?
        } else {
            Bytes::new()
        };
        Ok::<_, Error>((frame, rows))
    }
    .await;
    match cached {
        Ok((frame, rows)) => Ok(Some((h, frame, rows))),
        Err(Error::NotFound { key }) => {
            warn!(%key, "a cached hour's file is gone; parsing the hour again");
            let Inspected::ToParse(todo) = inspect_hour(ctx, run, hour, false).await? else {
                return Ok(None);
            };
            let mut h = parse_hour(ctx, &run.site, hour, todo).await?;
            match (h.frame.take(), h.bad_rows.take()) {
                (Some(frame), Some(rows)) => Ok(Some((h, frame, rows))),
                _ => Err(Error::Bug("a parsed hour without its frame".into())),
            }
        }
        Err(e) => Err(e),
    }
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
        let Some((hour, frame, rows)) = read_hour(ctx, &input.run, part.hour).await? else {
            counts.hours_missing += 1;
            continue;
        };
        counts.hours_read += 1;
        match hour.out.status {
            HourStatus::Cached => counts.hours_cached += 1,
            _ => counts.hours_parsed += 1,
        }
        counts.parsed.add(&hour.out.counts);
        bad_rows.extend_from_slice(&rows);
        let files = hour
            .files
            .as_ref()
            .ok_or_else(|| Error::Bug("an hour read without files".into()))?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use tokio::sync::Notify;

    use super::*;
    use crate::layout::{ObjectKey, Prefix};
    use crate::settings::Settings;
    use crate::storage::{BlobStore, LocalDir};

    const HOUR: &str = "2026-01-02T03:00:00Z";

    fn hour() -> DateTime<Utc> {
        HOUR.parse().unwrap()
    }

    fn run(id: &str) -> RunRef {
        RunRef {
            site: "site".into(),
            run_id: id.into(),
            as_of: "2026-01-02T06:00:00Z".parse().unwrap(),
        }
    }

    /// An object of `n` page pings of one reader in the hour.
    fn object(reader: &str, n: usize) -> Bytes {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&crate::snowplow::tests::line(&[
                ("domain_userid", reader),
                ("derived_tstamp", &format!("2026-01-02 03:{:02}:00.000", i % 60)),
                (
                    "event_id",
                    &format!("00000000-0000-4000-8000-{:06x}{i:06x}", reader.len()),
                ),
            ]));
            text.push('\n');
        }
        Bytes::from(text)
    }

    fn key_in_hour(name: &str) -> ObjectKey {
        let input = InputLayout::new("enriched/good").unwrap();
        input.part(&input.hour(hour()), name).unwrap()
    }

    fn context(store: Arc<dyn BlobStore>, input: Arc<dyn BlobStore>, dir: &std::path::Path) -> Context {
        let mut settings = Settings::local(dir);
        settings.site = "site".into();
        settings.app_id = "site".into();
        settings.days_of_data = 1;
        Context::with_adapters(store, input, None, settings, Arc::new(crate::metrics::LogMetrics))
    }

    /// A store that holds back the first put of a key containing `hold`
    /// until released, to interleave two runs the way overlapping ones can.
    #[derive(Debug)]
    struct Gate {
        inner: Arc<dyn BlobStore>,
        hold: &'static str,
        reached: Arc<Notify>,
        release: Arc<Notify>,
        held: std::sync::atomic::AtomicBool,
    }

    impl Gate {
        fn new(inner: Arc<dyn BlobStore>, hold: &'static str) -> Arc<Gate> {
            Arc::new(Gate {
                inner,
                hold,
                reached: Arc::default(),
                release: Arc::default(),
                held: Default::default(),
            })
        }
    }

    #[async_trait]
    impl BlobStore for Gate {
        async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
            self.inner.get(key).await
        }
        async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
            if key.as_str().contains(self.hold) && !self.held.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                self.reached.notify_one();
                self.release.notified().await;
            }
            self.inner.put(key, body).await
        }
        async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>> {
            self.inner.list(prefix).await
        }
        async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64> {
            self.inner.delete_prefix(prefix).await
        }
    }

    /// Two runs of one site parse the same hour while an object arrives:
    /// the later-listing run writes its events first and its manifest last,
    /// the earlier one writes in between. No event may be lost: the cache
    /// the next run trusts holds every object its manifest names.
    #[tokio::test(flavor = "multi_thread")]
    async fn overlapping_runs_of_one_site_lose_no_event() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
        let input: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("input")));
        input
            .put(&key_in_hour("first.tsv"), object("early", 5))
            .await
            .unwrap();

        // run A lists one object, then stalls before writing its events
        let gate_a = Gate::new(store.clone(), "events.parquet");
        let ctx_a = context(gate_a.clone(), input.clone(), dir.path());
        let a = tokio::spawn(async move {
            run_hour(
                FetchHourInput {
                    run: run("a"),
                    hour: hour(),
                },
                &ctx_a,
            )
            .await
        });
        gate_a.reached.notified().await;

        // an object arrives; run B lists both and stalls before its manifest
        input
            .put(&key_in_hour("second.tsv"), object("late", 7))
            .await
            .unwrap();
        let gate_b = Gate::new(store.clone(), "manifest.json");
        let ctx_b = context(gate_b.clone(), input.clone(), dir.path());
        let b = tokio::spawn(async move {
            run_hour(
                FetchHourInput {
                    run: run("b"),
                    hour: hour(),
                },
                &ctx_b,
            )
            .await
        });
        gate_b.reached.notified().await;

        // A writes its events and its manifest, then B its manifest
        gate_a.release.notify_one();
        assert_eq!(a.await.unwrap().unwrap().counts.events, 5);
        gate_b.release.notify_one();
        assert_eq!(b.await.unwrap().unwrap().counts.events, 12);

        let ctx = context(store.clone(), input.clone(), dir.path());
        let out = super::run(FetchInput { run: run("next") }, &ctx).await.unwrap();
        assert_eq!(out.counts.hours_cached, 1, "the cache matches the listing");
        assert_eq!(
            out.counts.kept, 12,
            "both objects' events, none lost: {:?}",
            out.counts
        );
    }

    /// A store whose listing also holds an object with an unusual key, and
    /// that refuses to read one object.
    #[derive(Debug)]
    struct Awkward {
        inner: Arc<dyn BlobStore>,
    }

    #[async_trait]
    impl BlobStore for Awkward {
        async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
            if key.as_str().ends_with("denied.tsv") {
                return Err(Error::AccessDenied {
                    action: "s3:GetObject",
                    resource: format!("s3://snowplow/{key}"),
                    message: "AccessDenied: the object's KMS key".into(),
                });
            }
            self.inner.get(key).await
        }
        async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
            self.inner.put(key, body).await
        }
        async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>> {
            let mut listed = self.inner.list(prefix).await?;
            if !prefix.as_str().ends_with("2026/01/02/03/") {
                return Ok(listed);
            }
            listed.push(ObjectMeta {
                key: ObjectKey::listed_as_is(&format!("{prefix}sub/../odd.tsv")),
                size: 10,
                etag: "odd".into(),
            });
            Ok(listed)
        }
        async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64> {
            self.inner.delete_prefix(prefix).await
        }
    }

    /// An object that cannot be read, or whose key a file system would
    /// resolve, is one bad row with its reason; the hour's other events are
    /// kept and the hour is cached, so no run fails or parses it again.
    #[tokio::test]
    async fn unreadable_objects_are_bad_rows_and_the_hour_is_still_cached() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
        let raw: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("input")));
        raw.put(&key_in_hour("good.tsv"), object("reader", 4))
            .await
            .unwrap();
        raw.put(&key_in_hour("denied.tsv"), object("other", 3))
            .await
            .unwrap();
        let input: Arc<dyn BlobStore> = Arc::new(Awkward { inner: raw });
        let ctx = context(store, input, dir.path());
        let first = super::run(FetchInput { run: run("r1") }, &ctx).await.unwrap();
        let c = &first.counts;
        assert_eq!((c.parsed.objects, c.parsed.bad, c.kept), (3, 2, 4), "{c:?}");
        assert_eq!(c.parsed.lines, c.parsed.accounted());
        let rows = ctx
            .store
            .get(&RunLayout::new(&run("r1")).unwrap().bad_rows())
            .await
            .unwrap();
        let rows = String::from_utf8(rows.to_vec()).unwrap();
        assert!(
            rows.contains("denied.tsv") && rows.contains("access denied: s3:GetObject"),
            "{rows}"
        );
        assert!(
            rows.contains("odd.tsv") && rows.contains("'..' segment"),
            "{rows}"
        );
        let again = super::run(FetchInput { run: run("r2") }, &ctx).await.unwrap();
        assert_eq!((again.counts.hours_cached, again.counts.hours_parsed), (1, 0));
        assert_eq!(again.counts.parsed, first.counts.parsed);
    }

    /// Cached files that are gone while their manifest stays (expiry) are
    /// parsed again, not a failed run.
    #[tokio::test]
    async fn a_cached_hour_whose_files_are_gone_is_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
        let input: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("input")));
        input
            .put(&key_in_hour("a.tsv"), object("reader", 6))
            .await
            .unwrap();
        let ctx = context(store.clone(), input, dir.path());
        assert_eq!(
            super::run(FetchInput { run: run("r1") }, &ctx)
                .await
                .unwrap()
                .counts
                .kept,
            6
        );
        let manifest = crate::layout::hour_manifest("site", hour()).unwrap();
        let kept = store.get(&manifest).await.unwrap();
        store
            .delete_prefix(&crate::layout::hour_cache("site").unwrap())
            .await
            .unwrap();
        store.put(&manifest, kept).await.unwrap();
        let out = super::run(FetchInput { run: run("r2") }, &ctx).await.unwrap();
        assert_eq!((out.counts.kept, out.counts.hours_parsed), (6, 1));
    }
}
