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
