//! Builds a [`Context`] from settings: the stores, the database and the
//! metrics sink they name. A deployed function opens only the adapters its
//! stage uses ([`Stage::adapters`]): fetch, defaults and train never read the
//! database's SSM parameter nor create a local SQLite directory (Lambda's file
//! system is read-only but for `/tmp`), so they start with the environment and
//! the permissions the template gives them.

use std::path::Path;
use std::sync::Arc;

use crate::adapters::metrics::{CloudWatchMetrics, LogMetrics};
use crate::adapters::{db, sdk, secrets, site, storage};
use crate::context::Context;
use crate::contract::database::RecDb;
use crate::contract::error::{Error, Result};
use crate::contract::metrics::Metrics;
use crate::contract::stage::{Adapters, Stage};
use crate::contract::storage::BlobStore;
use crate::settings::{MetricsSink, Settings};

impl Context {
    /// Opens every adapter the settings name: the local run and the CLI.
    ///
    /// # Errors
    /// `Config` for unsupported URLs; `Db` when the database cannot be opened.
    pub async fn from_settings(settings: Settings) -> Result<Context> {
        Context::open(settings, Adapters::ALL, None).await
    }

    /// Opens the database (and the store, which opening creates nothing in),
    /// not the input: an operator's command on a deployed database.
    ///
    /// # Errors
    /// As [`Context::from_settings`].
    pub async fn for_database(settings: Settings) -> Result<Context> {
        let adapters = Adapters {
            database: true,
            input: false,
        };
        Context::open(settings, adapters, None).await
    }

    /// Opens what one stage uses and nothing else: a deployed function.
    ///
    /// # Errors
    /// As [`Context::from_settings`], for the adapters the stage uses.
    pub async fn for_stage(settings: Settings, stage: Stage) -> Result<Context> {
        Context::open(settings, stage.adapters(), Some(stage)).await
    }

    async fn open(mut settings: Settings, adapters: Adapters, stage: Option<Stage>) -> Result<Context> {
        settings.check()?;
        let secret = adapters
            .database
            .then_some(settings.database_url_parameter.as_ref())
            .flatten();
        let aws = match (secret, settings.metrics_sink) {
            (None, MetricsSink::Log) => None,
            _ => Some(sdk::sdk_config(settings.s3.region.as_deref(), None).await),
        };
        if let (Some(name), Some(aws)) = (secret, &aws) {
            // the secret replaces the URL in memory only; Debug of Settings redacts it
            settings.database_url = secrets::secure_parameter(aws, name).await?;
        }
        let metrics: Arc<dyn Metrics> = match (settings.metrics_sink, &aws) {
            (MetricsSink::CloudWatch, Some(aws)) => Arc::new(CloudWatchMetrics::new(
                aws_sdk_cloudwatch::Client::new(aws),
                &settings.metrics_namespace,
            )),
            _ => Arc::new(LogMetrics),
        };
        let store = storage::open(&settings.store_url, &settings.s3).await?;
        let input = match (&settings.input_url, adapters.input) {
            (Some(url), true) => storage::open(url, &settings.s3).await?,
            _ => store.clone(),
        };
        let database = if adapters.database {
            if let Some(path) = settings.database_url.strip_prefix("sqlite://") {
                if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| Error::Storage {
                        key: parent.display().to_string(),
                        source,
                    })?;
                }
            }
            Some(db::open(&settings.database_url).await?)
        } else {
            None
        };
        Ok(Context {
            store,
            input,
            database,
            settings,
            metrics,
            opened_for: stage,
            site: site::opener,
        })
    }

    /// A context on adapters the caller built (tests with their own
    /// clients); the site's catalogue as the settings choose it.
    pub fn with_adapters(
        store: Arc<dyn BlobStore>,
        input: Arc<dyn BlobStore>,
        database: Option<Arc<dyn RecDb>>,
        settings: Settings,
        metrics: Arc<dyn Metrics>,
    ) -> Context {
        Context {
            store,
            input,
            database,
            settings,
            metrics,
            opened_for: None,
            site: site::opener,
        }
    }

    /// Settings from the environment (see the README's table), then as above.
    ///
    /// # Errors
    /// As [`Settings::from_env`] and [`Context::from_settings`].
    pub async fn from_env() -> Result<Context> {
        Context::from_settings(Settings::from_env()?).await
    }

    /// The embedded defaults rooted at `dir`: a local directory store and SQLite.
    ///
    /// # Errors
    /// As [`Context::from_settings`].
    pub async fn local(dir: &Path) -> Result<Context> {
        Context::from_settings(Settings::local(dir)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stage that does not use the database never opens it: fetch starts
    /// with a `DATABASE_URL` it could not open, preprocess does not.
    #[tokio::test]
    async fn a_stage_opens_only_the_adapters_it_uses() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::local(&dir.path().join("read-only-here"));
        settings.database_url = "mysql://db.internal/recs?password=hunter2".into();
        for stage in [Stage::Fetch, Stage::Defaults, Stage::Train] {
            let ctx = Context::for_stage(settings.clone(), stage).await.unwrap();
            let err = ctx.db().err().unwrap().to_string();
            assert!(err.contains(stage.name()), "{err}");
        }
        assert!(
            !dir.path().join("read-only-here").exists(),
            "no SQLite directory was made"
        );
        for stage in [Stage::Preprocess, Stage::Save] {
            let err = Context::for_stage(settings.clone(), stage)
                .await
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("unsupported scheme"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
