//! The generated hours stored as the Snowplow S3 loader stores them (one
//! gzipped object per hour and app), and the site's catalogue beside them.

use std::io::Write;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::contract::error::{Error, Result};
use crate::contract::layout::{InputLayout, ObjectKey};
use crate::contract::site::CatalogEntry;
use crate::contract::storage::BlobStore;
use crate::devtools::generate::stream::{stream, HourLines};
use crate::devtools::generate::{part_key, Generated, Spec, Truth};

/// Writes the hour partitions (gzipped) and the catalogue to the store.
///
/// # Errors
/// Storage errors from the store.
pub async fn write(
    gen: &Generated,
    store: &dyn BlobStore,
    input: &InputLayout,
    site: &str,
) -> Result<Vec<ObjectKey>> {
    write_to(gen, store, store, input, site).await
}

/// As [`write`], with the hour partitions in the Snowplow store `raw` and the
/// catalogue in the data store `data`, as deployed.
///
/// # Errors
/// Storage errors.
pub async fn write_to(
    gen: &Generated,
    raw: &dyn BlobStore,
    data: &dyn BlobStore,
    input: &InputLayout,
    site: &str,
) -> Result<Vec<ObjectKey>> {
    let keys = write_hours(gen, raw, input).await?;
    let catalog_key = crate::contract::layout::catalog(site)?;
    data.put(
        &catalog_key,
        Bytes::from(crate::adapters::site::catalog_file::to_jsonl(&gen.catalog)?),
    )
    .await?;
    Ok(keys)
}

/// Only the hour partitions (gzipped), as a site without a catalogue has them.
///
/// # Errors
/// Storage errors.
pub async fn write_hours(
    gen: &Generated,
    raw: &dyn BlobStore,
    input: &InputLayout,
) -> Result<Vec<ObjectKey>> {
    let mut keys = Vec::new();
    for (hour, lines) in &gen.hours {
        let key = part_key(input, *hour, &gen.app_id)?;
        raw.put(&key, gzip(lines)?).await?;
        keys.push(key);
    }
    Ok(keys)
}

/// Generates and writes as it goes: the catalogue to `data`, each hour to
/// `raw` as soon as it is complete, so memory holds about an hour of lines
/// whatever the window.
///
/// # Errors
/// `InvalidInput` for an app id that cannot name an object; storage errors.
pub async fn write_stream(
    spec: &Spec,
    raw: &dyn BlobStore,
    data: &dyn BlobStore,
    input: &InputLayout,
    site: &str,
) -> Result<Truth> {
    // the sessions are played on one thread (side by side on rayon's pool)
    // while the hours already out are compressed and stored
    let (tx, mut rx) = tokio::sync::mpsc::channel::<HourLines>(HOURS_AHEAD);
    let (catalog_tx, catalog_rx) = tokio::sync::oneshot::channel::<Vec<CatalogEntry>>();
    let (owned_spec, owned_input) = (spec.clone(), input.clone());
    let producer = tokio::task::spawn_blocking(move || -> Result<Truth> {
        let mut s = stream(&owned_spec, &owned_input)?;
        if catalog_tx.send(s.catalog().to_vec()).is_err() {
            return Ok(s.truth());
        }
        while let Some(h) = s.next_hour()? {
            if tx.blocking_send(h).is_err() {
                break; // the writer failed: its error is the one reported
            }
        }
        Ok(s.truth())
    });
    match catalog_rx.await {
        Ok(catalog) => write_catalog(&catalog, data, site).await?,
        // the generator stopped before its catalogue: its error says why
        Err(_) => {
            return producer
                .await
                .map_err(|e| Error::Bug(format!("generator task: {e}")))?
        }
    }
    let mut pending: Vec<HourLines> = Vec::with_capacity(GZIP_AT_ONCE);
    loop {
        let next = rx.recv().await;
        let done = next.is_none();
        pending.extend(next);
        if pending.len() == GZIP_AT_ONCE || (done && !pending.is_empty()) {
            let batch = std::mem::take(&mut pending);
            let app_id = spec.app_id.clone();
            let layout = input.clone();
            let gzipped = tokio::task::spawn_blocking(move || {
                use rayon::prelude::*;
                batch
                    .par_iter()
                    .map(|h| Ok((part_key(&layout, h.hour, &app_id)?, gzip(&h.lines)?)))
                    .collect::<Result<Vec<(ObjectKey, Bytes)>>>()
            })
            .await
            .map_err(|e| Error::Bug(format!("gzip task: {e}")))??;
            for (key, body) in gzipped {
                raw.put(&key, body).await?;
            }
        }
        if done {
            break;
        }
    }
    producer
        .await
        .map_err(|e| Error::Bug(format!("generator task: {e}")))?
}

/// Writes the site's catalogue to the data store.
///
/// # Errors
/// `InvalidInput` for a site that cannot name a key; storage errors.
pub async fn write_catalog(catalog: &[CatalogEntry], data: &dyn BlobStore, site: &str) -> Result<()> {
    let key = crate::contract::layout::catalog(site)?;
    data.put(
        &key,
        Bytes::from(crate::adapters::site::catalog_file::to_jsonl(catalog)?),
    )
    .await
}

/// Writes one hour partition (gzipped) as the Snowplow loader would.
///
/// # Errors
/// `InvalidInput` for an app id that cannot name an object; storage errors.
pub async fn write_hour(
    h: &HourLines,
    raw: &dyn BlobStore,
    input: &InputLayout,
    app_id: &str,
) -> Result<ObjectKey> {
    let key = part_key(input, h.hour, app_id)?;
    raw.put(&key, gzip(&h.lines)?).await?;
    Ok(key)
}

/// Hours compressed side by side by [`write_stream`].
const GZIP_AT_ONCE: usize = 2;

/// Hours the sessions may run ahead of the writer.
const HOURS_AHEAD: usize = 2;

/// Fast compression (level 1): the loader's own level does not matter to
/// fetch, and generating a large site is mostly compressing it.
fn gzip(lines: &[String]) -> Result<Bytes> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for l in lines {
        gz.write_all(l.as_bytes())
            .and_then(|()| gz.write_all(b"\n"))
            .map_err(|e| Error::Bug(format!("gzip: {e}")))?;
    }
    let body = gz.finish().map_err(|e| Error::Bug(format!("gzip: {e}")))?;
    Ok(Bytes::from(body))
}
