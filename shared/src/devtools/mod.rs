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

/// What fetch hands preprocess for an `events.parquet` a test or bench put
/// in the store itself: its key and digest (no widget events file).
///
/// # Errors
/// Storage errors reading it.
pub async fn fetched_events(
    store: &dyn crate::contract::storage::BlobStore,
    layout: &crate::contract::layout::RunLayout,
) -> crate::Result<crate::contract::stage::FetchOutput> {
    let key = layout.events();
    let body = store.get(&key).await?;
    let mut files = crate::contract::integrity::Files::new();
    files.insert(&key, crate::contract::integrity::Digest::of(&body));
    Ok(crate::contract::stage::FetchOutput {
        events_key: key.to_string(),
        bad_rows_key: layout.bad_rows().to_string(),
        files,
        widget_events_key: None,
        counts: Default::default(),
    })
}
