//! The per-hour cache: a complete hour is parsed once into
//! `cache/<site>/hours/...` (its files in a folder named by a digest of the
//! listing they were parsed from, and a manifest naming that folder); later
//! runs reuse it while the hour's objects are unchanged. An hour still
//! filling is parsed into the run's own prefix and never cached.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::contract::checked_store::CheckedStore;
use crate::contract::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::integrity::Files;
use crate::contract::layout::{HourFiles, InputLayout, RunLayout};
use crate::contract::parquet::{self, Table, WidgetEvents, HOUR_EVENTS};
use crate::contract::settings::WidgetSchemas;
use crate::contract::stage::{FetchHourOutput, HourStatus, RunRef};
use crate::contract::storage::BlobStore;
use crate::contract::storage::ObjectMeta;
use crate::fetch::hour_batch::EventBatch;

/// Bump when parsing or the cached files change, so cached hours are parsed again.
/// 6: the manifest records its files' digests.
const PARSER_VERSION: u32 = 6;

/// What a cached hour was parsed from; if the listing still matches, the cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    parser_version: u32,
    app_id: String,
    /// The widget schemas the hour was parsed with.
    #[serde(default)]
    widget: WidgetSchemas,
    objects: Vec<SourceObject>,
    counts: crate::contract::stage::ParseCounts,
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

/// The version of an hour's files: a digest of what they are parsed from,
/// so the same listing always writes the same files, and another listing
/// (an object arrived meanwhile) writes files of its own.
fn version_of(app_id: &str, widget: &WidgetSchemas, objects: &[SourceObject]) -> Result<String> {
    let what = serde_json::to_vec(&(PARSER_VERSION, app_id, widget, objects))
        .map_err(|e| Error::Bug(format!("hour version: {e}")))?;
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&what)))
}

/// One hour's result, with what this process already holds in memory.
pub(super) struct Hour {
    pub(super) out: FetchHourOutput,
    pub(super) files: Option<HourFiles>,
    /// The digests of `files`.
    digests: Files,
    events: Option<Table>,
    bad_rows: Option<Bytes>,
    widget: Option<WidgetEvents>,
}

/// An hour's files, read or just parsed.
pub(super) struct HourData {
    pub(super) hour: Hour,
    pub(super) events: Table,
    pub(super) bad_rows: Bytes,
    pub(super) widget: WidgetEvents,
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
            digests: Files::new(),
            events: None,
            bad_rows: None,
            widget: None,
        }
    }

    /// What this process parsed, if it did.
    fn take_parsed(&mut self) -> Option<(Table, Bytes, WidgetEvents)> {
        match (self.events.take(), self.bad_rows.take(), self.widget.take()) {
            (Some(f), Some(b), Some(w)) => Some((f, b, w)),
            _ => None,
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
        counts: crate::contract::stage::ParseCounts,
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
        }));
    }
    let listed = sources(&objects);
    let manifest = if trust_cache {
        read_manifest(ctx, &run.site, hour).await?
    } else {
        None
    };
    if let Some(m) = manifest {
        if m.parser_version == PARSER_VERSION
            && m.app_id == ctx.settings.app_id
            && m.widget == ctx.settings.widget
            && m.objects == listed
        {
            return Ok(Inspected::Cached {
                files: HourFiles::cached(&run.site, hour, &m.version)?,
                counts: m.counts,
                digests: m.files,
            });
        }
    }
    let version = version_of(&ctx.settings.app_id, &ctx.settings.widget, &listed)?;
    Ok(Inspected::ToParse(ToParse {
        files: HourFiles::cached(&run.site, hour, &version)?,
        objects,
        manifest: Some(Manifest {
            parser_version: PARSER_VERSION,
            app_id: ctx.settings.app_id.clone(),
            widget: ctx.settings.widget.clone(),
            objects: listed,
            counts: Default::default(),
            version,
            files: Files::new(),
        }),
    }))
}

pub(super) async fn fetch_hour(ctx: &Context, run: &RunRef, hour: DateTime<Utc>) -> Result<Hour> {
    match inspect_hour(ctx, run, hour, true).await? {
        Inspected::Missing => Ok(Hour::missing(hour)),
        Inspected::Cached {
            files,
            counts,
            digests,
        } => Ok(Hour {
            out: FetchHourOutput {
                hour,
                status: HourStatus::Cached,
                events_key: Some(files.events().to_string()),
                bad_rows_key: Some(files.bad_rows().to_string()),
                counts,
            },
            files: Some(files),
            digests,
            events: None,
            bad_rows: None,
            widget: None,
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
    let counts = batch.counts.clone();
    let bad_rows = Bytes::from(batch.bad_rows_jsonl());
    let widget_key = files.widget();
    let widget = WidgetEvents::from_table(batch.widget_columns().table(&widget_key)?)?;
    let events = batch.into_table(&files.events())?;
    let store = CheckedStore::new(ctx.store.clone(), Files::new(), Vec::new());
    parquet::write(&store, &files.events(), &events).await?;
    parquet::write(&store, &widget_key, widget.table()).await?;
    store.put(&files.bad_rows(), bad_rows.clone()).await?;
    let digests = store.written();
    if let Some(mut manifest) = manifest {
        // written last, and naming its own files: a crash before this leaves
        // the old manifest (or none), and a run that overlaps this one can
        // only make the manifest name its own complete files
        manifest.counts = counts.clone();
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
            counts,
        },
        files: Some(files),
        digests,
        events: Some(events),
        bad_rows: Some(bad_rows),
        widget: Some(widget),
    })
}

/// An hour's events, bad rows and widget events, parsed or from the cache;
/// `None` when the hour has no input. Cached files that are gone (expired
/// under a manifest that is not) are parsed again from the input.
pub(super) async fn read_hour(ctx: &Context, run: &RunRef, hour: DateTime<Utc>) -> Result<Option<HourData>> {
    let mut h = fetch_hour(ctx, run, hour).await?;
    let Some(files) = h.files.clone() else {
        return Ok(None);
    };
    if let Some((events, bad_rows, widget)) = h.take_parsed() {
        return Ok(Some(HourData {
            hour: h,
            events,
            bad_rows,
            widget,
        }));
    }
    // every file of the folder checked against the manifest's digests
    let store = CheckedStore::new(ctx.store.clone(), h.digests.clone(), vec![files.prefix()]);
    let cached = async {
        let events = parquet::read(&store, &files.events(), &HOUR_EVENTS).await?;
        let rows = if h.out.counts.bad > 0 {
            store.get(&files.bad_rows()).await?
        } else {
            Bytes::new()
        };
        let widget = WidgetEvents::read(&store, &files.widget()).await?;
        Ok::<_, Error>((events, rows, widget))
    }
    .await;
    match cached {
        Ok((events, bad_rows, widget)) => Ok(Some(HourData {
            hour: h,
            events,
            bad_rows,
            widget,
        })),
        Err(e @ (Error::NotFound { .. } | Error::Corrupt { .. })) => {
            // the cache is derived from the input: parse the hour again
            warn!(error = %e, "a cached hour's file is gone or damaged; parsing the hour again");
            let Inspected::ToParse(todo) = inspect_hour(ctx, run, hour, false).await? else {
                return Ok(None);
            };
            let mut h = parse_hour(ctx, &run.site, hour, todo).await?;
            match h.take_parsed() {
                Some((events, bad_rows, widget)) => Ok(Some(HourData {
                    hour: h,
                    events,
                    bad_rows,
                    widget,
                })),
                None => Err(Error::Bug("a parsed hour without its events".into())),
            }
        }
        Err(e) => Err(e),
    }
}
