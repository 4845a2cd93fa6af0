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
    let mut s = stream(spec, input)?;
    write_catalog(s.catalog(), data, site).await?;
    while let Some(h) = s.next_hour()? {
        write_hour(&h, raw, input, &spec.app_id).await?;
    }
    Ok(s.truth())
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

fn gzip(lines: &[String]) -> Result<Bytes> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for l in lines {
        gz.write_all(l.as_bytes())
            .and_then(|()| gz.write_all(b"\n"))
            .map_err(|e| Error::Bug(format!("gzip: {e}")))?;
    }
    let body = gz.finish().map_err(|e| Error::Bug(format!("gzip: {e}")))?;
    Ok(Bytes::from(body))
}
