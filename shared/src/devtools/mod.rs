//! Developer tooling, behind the `devtools` feature (the CLI and the tests
//! turn it on; the Lambda functions never do): seeded synthetic Snowplow
//! data, and the test servers.

pub mod generate;
pub mod moto;

/// The PostgreSQL tests use: `TEST_DATABASE_URL`, or the machine's server.
#[allow(clippy::disallowed_methods)] // tests have no Settings to read it through
pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// One page event a test or bench hands [`fetched_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestEvent<'a> {
    pub client_id: &'a str,
    pub time_ms: i64,
    /// The page path as fetch normalises it.
    pub path: &'a str,
}

/// What fetch hands preprocess for these events (its window reaches back to
/// the first of them), each in the hour partition of its time: every hour
/// aggregated as fetch does
/// (`fetch::partial`), its files written to the run's prefix, and
/// `partials.json` and an empty `duplicates.parquet` with their digests.
///
/// # Errors
/// Storage and Parquet errors.
pub async fn fetched_events(
    store: std::sync::Arc<dyn crate::contract::storage::BlobStore>,
    run: &crate::contract::stage::RunRef,
    cap_ms: i64,
    events: &[TestEvent<'_>],
) -> crate::Result<crate::contract::stage::FetchOutput> {
    use crate::adapters::parquet::{self, HourPairs, HourPaths};
    use crate::contract::checked_store::CheckedStore;
    use crate::contract::integrity::Files;
    use crate::contract::layout::{HourFiles, RunLayout};
    use crate::contract::partials::{HourPartial, WindowPartials};
    use crate::contract::stage::HOUR_MS;

    let layout = RunLayout::new(run)?;
    let mut hours: std::collections::BTreeMap<i64, Vec<crate::stages::fetch::partial::HourEvent<'_>>> =
        std::collections::BTreeMap::new();
    for (n, e) in events.iter().enumerate() {
        hours
            .entry(e.time_ms.div_euclid(HOUR_MS) * HOUR_MS)
            .or_default()
            .push(crate::stages::fetch::partial::HourEvent {
                reader: e.client_id,
                time_ms: e.time_ms,
                path: e.path,
                identity: n as u128 + 1,
            });
    }
    let mut counts = crate::contract::stage::FetchCounts::default();
    // a window that holds every event given, whatever its date
    let first = events
        .iter()
        .map(|e| e.time_ms)
        .min()
        .unwrap_or(0)
        .div_euclid(HOUR_MS)
        * HOUR_MS;
    let last = events
        .iter()
        .map(|e| e.time_ms)
        .max()
        .unwrap_or(0)
        .div_euclid(HOUR_MS)
        * HOUR_MS
        + HOUR_MS;
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or(run.as_of);
    let window = crate::contract::stage::Window {
        start: at(first),
        end: at(last).max(run.as_of),
    };
    let mut partials = WindowPartials {
        window,
        hours: Vec::new(),
    };
    for (hour_ms, evs) in hours {
        let hour = chrono::DateTime::from_timestamp_millis(hour_ms)
            .ok_or_else(|| crate::Error::Bug(format!("hour {hour_ms}")))?;
        let files = HourFiles::in_run(&layout, hour);
        let p = crate::stages::fetch::partial::aggregate(&evs, cap_ms, None);
        let hour_store = CheckedStore::new(store.clone(), Files::new(), Vec::new());
        let mut pairs = p.pairs.frame(&files.pairs())?;
        let mut paths = p.paths.frame(&files.paths())?;
        parquet::write(&hour_store, &files.pairs(), HourPairs::SCHEMA, &mut pairs).await?;
        parquet::write(&hour_store, &files.paths(), HourPaths::SCHEMA, &mut paths).await?;
        counts.parsed.events += evs.len() as u64;
        for b in &p.summary.buckets {
            if window.includes_bucket(b.bucket_ms, false) {
                counts.kept += b.events;
            } else {
                counts.out_of_window += b.events;
            }
        }
        partials.hours.push(HourPartial {
            hour,
            filling: false,
            events_key: files.events().to_string(),
            pairs_key: files.pairs().to_string(),
            paths_key: files.paths().to_string(),
            files: hour_store.written(),
            summary: p.summary,
        });
    }
    let out = CheckedStore::new(store, Files::new(), Vec::new());
    let json = serde_json::to_vec(&partials).map_err(|e| crate::Error::Bug(e.to_string()))?;
    crate::contract::storage::BlobStore::put(&out, &layout.partials(), bytes::Bytes::from(json)).await?;
    parquet::DuplicateColumns::default()
        .write(&out, &layout.duplicates())
        .await?;
    Ok(crate::contract::stage::FetchOutput {
        partials_key: layout.partials().to_string(),
        duplicates_key: layout.duplicates().to_string(),
        bad_rows_key: layout.bad_rows().to_string(),
        files: out.written(),
        widget_events_key: None,
        counts,
    })
}
