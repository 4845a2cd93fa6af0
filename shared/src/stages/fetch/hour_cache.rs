//! The per-hour cache: a complete hour is parsed once into
//! `cache/<site>/hours/...` (its files in a folder named by a digest of the
//! listing they were parsed from, and a manifest naming that folder, with
//! the files' digests); later runs reuse it while the hour's objects are
//! unchanged. An hour still filling is parsed into the run's own prefix,
//! cut at the run's time, and never cached.
//!
//! An hour's files: its page events (`events.parquet`), what they come to
//! for the later stages (`pairs.parquet`, `paths.parquet`, `keys.parquet`,
//! see `fetch::partial`), the widget's events and the bad rows.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::adapters::parquet::{self, HourEvents, HourKeys, HourPairs, HourPaths, WidgetEvents};
use crate::context::Context;
use crate::contract::checked_store::CheckedStore;
use crate::contract::error::{Error, Result};
use crate::contract::integrity::Files;
use crate::contract::layout::{HourFiles, InputLayout, RunLayout};
use crate::contract::partials::{HourPartial, HourSummary};
use crate::contract::stage::{FetchHourOutput, HourStatus, ParseCounts, RunRef};
use crate::contract::storage::{BlobStore, ObjectMeta};
use crate::settings::WidgetSchemas;
use crate::stages::fetch::hour_batch::{EventBatch, ParsedHour};

/// Bump when parsing or the cached files change, so cached hours are parsed again.
/// 6: the manifest records its files' digests. 7: an hour's events are also
/// aggregated (pairs, paths, keys), with the dwell cap; no window events file.
const PARSER_VERSION: u32 = 7;

/// What a cached hour was parsed from; if the listing still matches, the cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    parser_version: u32,
    app_id: String,
    /// The widget schemas the hour was parsed with.
    #[serde(default)]
    widget: WidgetSchemas,
    /// The dwell cap its sessions were cut with (ms).
    #[serde(default)]
    cap_ms: i64,
    objects: Vec<SourceObject>,
    counts: ParseCounts,
    #[serde(default)]
    summary: HourSummary,
    /// The folder of this listing's files ([`HourFiles::cached`]).
    version: String,
    /// Those files' digests: a cached hour is read only as it was written.
    #[serde(default)]
    files: Files,
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

/// What an hour is parsed with, beside its objects.
#[derive(Serialize)]
struct ParsedWith<'a> {
    parser_version: u32,
    app_id: &'a str,
    widget: &'a WidgetSchemas,
    cap_ms: i64,
}

fn cap_ms(ctx: &Context) -> i64 {
    (ctx.settings.dwell_cap_secs * 1000.0).round() as i64
}

/// The version of an hour's files: a digest of what they are parsed from,
/// so the same listing always writes the same files, and another listing
/// (an object arrived meanwhile) writes files of its own.
fn version_of(with: &ParsedWith<'_>, objects: &[SourceObject]) -> Result<String> {
    let what = serde_json::to_vec(&(with, objects)).map_err(|e| Error::Bug(format!("hour version: {e}")))?;
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&what)))
}

/// One hour's result, with what this process already holds in memory.
pub(super) struct Hour {
    pub(super) out: FetchHourOutput,
    pub(super) files: Option<HourFiles>,
    /// The digests of `files`.
    pub(super) digests: Files,
    /// Parsed in this run, cut at its time, not cached.
    pub(super) filling: bool,
    parsed: Option<ParsedHour>,
}

/// An hour's files as the window needs them: its keys, bad rows and widget
/// events read (or just parsed), the rest by reference.
pub(super) struct HourData {
    pub(super) hour: Hour,
    pub(super) keys: HourKeys,
    pub(super) bad_rows: Bytes,
    pub(super) widget: WidgetEvents,
}

impl HourData {
    /// The hour as preprocess reads it.
    pub(super) fn partial(&self) -> Option<HourPartial> {
        let files = self.hour.files.as_ref()?;
        Some(HourPartial {
            hour: self.hour.out.hour,
            filling: self.hour.filling,
            events_key: files.events().to_string(),
            pairs_key: files.pairs().to_string(),
            paths_key: files.paths().to_string(),
            files: self.hour.digests.clone(),
            summary: self.hour.out.summary.clone(),
        })
    }
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
                summary: HourSummary::default(),
            },
            files: None,
            digests: Files::new(),
            filling: false,
            parsed: None,
        }
    }
}

async fn read_manifest(ctx: &Context, site: &str, hour: DateTime<Utc>) -> Result<Option<Manifest>> {
    let key = crate::contract::layout::hour_manifest(site, hour)?;
    match ctx.store.get(&key).await {
        Ok(b) => Ok(serde_json::from_slice(&b)
            .map_err(|e| warn!(key = %key, error = %e, "unreadable manifest; parsing the hour again"))
            .ok()),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What an hour partition holds before any parsing.
pub(super) enum Inspected {
    /// No input objects.
    Missing,
    /// Parsed before from the same objects.
    Cached {
        files: HourFiles,
        counts: ParseCounts,
        summary: HourSummary,
        digests: Files,
    },
    /// New, changed or still filling.
    ToParse(ToParse),
}

pub(super) struct ToParse {
    files: HourFiles,
    objects: Vec<ObjectMeta>,
    /// The manifest to write once the files are (complete hours only).
    manifest: Option<Manifest>,
    /// The run's time, where a partition still filling is cut.
    cut: Option<DateTime<Utc>>,
}

/// `trust_cache: false` ignores the manifest (its files are gone).
pub(super) async fn inspect_hour(
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
            cut: Some(run.as_of),
        }));
    }
    let listed = sources(&objects);
    let with = ParsedWith {
        parser_version: PARSER_VERSION,
        app_id: &ctx.settings.app_id,
        widget: &ctx.settings.widget,
        cap_ms: cap_ms(ctx),
    };
    let manifest = if trust_cache {
        read_manifest(ctx, &run.site, hour).await?
    } else {
        None
    };
    if let Some(m) = manifest {
        if m.parser_version == PARSER_VERSION
            && m.app_id == ctx.settings.app_id
            && m.widget == ctx.settings.widget
            && m.cap_ms == with.cap_ms
            && m.objects == listed
        {
            return Ok(Inspected::Cached {
                files: HourFiles::cached(&run.site, hour, &m.version)?,
                counts: m.counts,
                summary: m.summary,
                digests: m.files,
            });
        }
    }
    let version = version_of(&with, &listed)?;
    Ok(Inspected::ToParse(ToParse {
        files: HourFiles::cached(&run.site, hour, &version)?,
        objects,
        manifest: Some(Manifest {
            parser_version: PARSER_VERSION,
            app_id: ctx.settings.app_id.clone(),
            widget: ctx.settings.widget.clone(),
            cap_ms: with.cap_ms,
            objects: listed,
            counts: Default::default(),
            summary: HourSummary::default(),
            version,
            files: Files::new(),
        }),
        cut: None,
    }))
}

pub(super) async fn fetch_hour(ctx: &Context, run: &RunRef, hour: DateTime<Utc>) -> Result<Hour> {
    match inspect_hour(ctx, run, hour, true).await? {
        Inspected::Missing => Ok(Hour::missing(hour)),
        Inspected::Cached {
            files,
            counts,
            summary,
            digests,
        } => Ok(Hour {
            out: FetchHourOutput {
                hour,
                status: HourStatus::Cached,
                events_key: Some(files.events().to_string()),
                bad_rows_key: Some(files.bad_rows().to_string()),
                counts,
                summary,
            },
            files: Some(files),
            digests,
            filling: false,
            parsed: None,
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
pub(super) async fn parse_hour(
    ctx: &Context,
    site: &str,
    hour: DateTime<Utc>,
    todo: ToParse,
) -> Result<Hour> {
    let ToParse {
        files,
        objects,
        manifest,
        cut,
    } = todo;
    let mut batch = EventBatch::new(&ctx.settings.app_id).with_widget(ctx.settings.widget.clone());
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
    let mut parsed = batch.into_hour(&files.events(), cap_ms(ctx), cut.map(|c| c.timestamp_millis()))?;
    let store = CheckedStore::new(ctx.store.clone(), Files::new(), Vec::new());
    for (key, schema, df) in [
        (files.events(), HourEvents::SCHEMA, &mut parsed.events),
        (files.pairs(), HourPairs::SCHEMA, &mut parsed.pairs),
        (files.paths(), HourPaths::SCHEMA, &mut parsed.paths),
        (files.keys(), HourKeys::SCHEMA, &mut parsed.keys),
        (files.widget(), WidgetEvents::SCHEMA, &mut parsed.widget),
    ] {
        parquet::write(&store, &key, schema, df).await?;
    }
    store.put(&files.bad_rows(), parsed.bad_rows.clone()).await?;
    let digests = store.written();
    if let Some(mut manifest) = manifest {
        // written last, and naming its own files: a crash before this leaves
        // the old manifest (or none), and a run that overlaps this one can
        // only make the manifest name its own complete files
        manifest.counts = parsed.counts.clone();
        manifest.summary = parsed.summary.clone();
        manifest.files = digests.clone();
        let json = serde_json::to_vec(&manifest).map_err(|e| Error::Bug(format!("manifest: {e}")))?;
        let key = crate::contract::layout::hour_manifest(site, hour)?;
        ctx.store.put(&key, Bytes::from(json)).await?;
    }
    Ok(Hour {
        out: FetchHourOutput {
            hour,
            status: HourStatus::Parsed,
            events_key: Some(files.events().to_string()),
            bad_rows_key: Some(files.bad_rows().to_string()),
            counts: parsed.counts.clone(),
            summary: parsed.summary.clone(),
        },
        files: Some(files),
        digests,
        filling: cut.is_some(),
        parsed: Some(parsed),
    })
}

fn keys_of(df: DataFrame, files: &HourFiles) -> Result<HourKeys> {
    HourKeys::from_frame(df, &files.keys())
}

/// An hour's keys, bad rows and widget events, parsed or from the cache;
/// `None` when the hour has no input. Cached files that are gone or damaged
/// (expired, or not as their manifest recorded) are parsed again from the
/// input: the cache is derived from it.
pub(super) async fn read_hour(ctx: &Context, run: &RunRef, hour: DateTime<Utc>) -> Result<Option<HourData>> {
    let mut h = fetch_hour(ctx, run, hour).await?;
    let Some(files) = h.files.clone() else {
        return Ok(None);
    };
    if let Some(p) = h.parsed.take() {
        return Ok(Some(HourData {
            keys: keys_of(p.keys, &files)?,
            bad_rows: p.bad_rows,
            widget: WidgetEvents::from_frame(p.widget, &files.widget())?,
            hour: h,
        }));
    }
    // every file of the folder checked against the manifest's digests
    let store = CheckedStore::new(ctx.store.clone(), h.digests.clone(), vec![files.prefix()]);
    let cached = async {
        // the aggregates preprocess reads are checked here too, so a damaged
        // one is parsed again now rather than failing preprocess
        for key in [files.pairs(), files.paths()] {
            store.get(&key).await?;
        }
        let keys = HourKeys::read(&store, &files.keys()).await?;
        let rows = if h.out.counts.bad > 0 {
            store.get(&files.bad_rows()).await?
        } else {
            Bytes::new()
        };
        let widget = WidgetEvents::read(&store, &files.widget()).await?;
        Ok::<_, Error>((keys, rows, widget))
    }
    .await;
    match cached {
        Ok((keys, bad_rows, widget)) => Ok(Some(HourData {
            hour: h,
            keys,
            bad_rows,
            widget,
        })),
        Err(e @ (Error::NotFound { .. } | Error::Corrupt { .. })) => {
            warn!(error = %e, "a cached hour's file is gone or damaged; parsing the hour again");
            let Inspected::ToParse(todo) = inspect_hour(ctx, run, hour, false).await? else {
                return Ok(None);
            };
            let mut h = parse_hour(ctx, &run.site, hour, todo).await?;
            let p = h
                .parsed
                .take()
                .ok_or_else(|| Error::Bug("a parsed hour without its files".into()))?;
            Ok(Some(HourData {
                keys: keys_of(p.keys, &files)?,
                bad_rows: p.bad_rows,
                widget: WidgetEvents::from_frame(p.widget, &files.widget())?,
                hour: h,
            }))
        }
        Err(e) => Err(e),
    }
}
