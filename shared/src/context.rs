//! What a stage runs with: an object store, a database, settings and a metrics
//! sink. Built once (per process, or per Lambda container) and shared.

use std::path::Path;
use std::sync::Arc;

use crate::db::{self, RecDb};
use crate::error::{Error, Result};
use crate::metrics::{LogMetrics, Metrics};
use crate::settings::{MetricsSink, Settings};
use crate::storage::{self, BlobStore};

#[derive(Debug, Clone)]
pub struct Context {
    /// Where the job keeps its data: run outputs, the hour cache, catalogues.
    pub store: Arc<dyn BlobStore>,
    /// Where the Snowplow S3 loader writes (`INPUT_URL`); the data store when unset.
    pub input: Arc<dyn BlobStore>,
    pub db: Arc<dyn RecDb>,
    pub settings: Settings,
    pub metrics: Arc<dyn Metrics>,
}

impl Context {
    /// Opens the store and database the settings name.
    ///
    /// # Errors
    /// `Config` for unsupported URLs; `Db` when the database cannot be opened.
    pub async fn from_settings(mut settings: Settings) -> Result<Context> {
        settings.check()?;
        let aws = match (&settings.database_url_parameter, settings.metrics_sink) {
            (None, MetricsSink::Log) => None,
            _ => Some(crate::aws::sdk_config(settings.s3.region.as_deref(), None).await),
        };
        if let (Some(name), Some(aws)) = (&settings.database_url_parameter, &aws) {
            // the secret replaces the URL in memory only; Debug of Settings redacts it
            settings.database_url =
                crate::aws::secure_parameter(&aws_sdk_ssm::Client::new(aws), name).await?;
        }
        let metrics: Arc<dyn Metrics> = match (settings.metrics_sink, &aws) {
            (MetricsSink::CloudWatch, Some(aws)) => Arc::new(crate::aws::CloudWatchMetrics::new(
                aws_sdk_cloudwatch::Client::new(aws),
                &settings.metrics_namespace,
            )),
            _ => Arc::new(LogMetrics),
        };
        if let Some(path) = settings.database_url.strip_prefix("sqlite://") {
            if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| Error::Storage {
                    key: parent.display().to_string(),
                    source,
                })?;
            }
        }
        let store = storage::open(&settings.store_url, &settings.s3).await?;
        let input = match &settings.input_url {
            Some(url) => storage::open(url, &settings.s3).await?,
            None => store.clone(),
        };
        Ok(Context {
            store,
            input,
            db: db::open(&settings.database_url).await?,
            settings,
            metrics,
        })
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

    /// This context for a run of `site` (see [`Settings::for_site`]); the
    /// store, database and metrics sink are shared.
    ///
    /// # Errors
    /// `InvalidInput` for a site this deployment is not configured for.
    pub fn for_site(&self, site: &str) -> Result<Context> {
        Ok(Context {
            settings: self.settings.for_site(site)?,
            ..self.clone()
        })
    }

    /// Records a figure of a stage for the site in the settings.
    pub fn metric(&self, stage: &str, name: &str, value: f64, unit: crate::metrics::Unit) {
        self.metrics.record(stage, &self.settings.site, name, value, unit);
    }
}
