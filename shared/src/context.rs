//! What a stage runs with: an object store, a database, the site's
//! catalogue, settings and a metrics sink. Built once (per process, or per Lambda container) and shared.
//!
//! A deployed function opens only the adapters its stage uses
//! ([`Stage::adapters`]): fetch, defaults and train never read the database's
//! SSM parameter nor create a local SQLite directory (Lambda's file system is
//! read-only but for `/tmp`), so they start with the environment and the
//! permissions the template gives them.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::contract::database::RecDb;
use crate::contract::error::{Error, Result};
use crate::contract::metrics::Metrics;
use crate::contract::site::Site;
use crate::contract::stage::Stage;
use crate::contract::storage::BlobStore;
use crate::settings::Settings;

/// The adapters a stage runs with; `adapters::open` builds one from settings.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where the job keeps its data: run outputs, the hour cache, catalogues.
    pub store: Arc<dyn BlobStore>,
    /// Where the Snowplow S3 loader writes (`INPUT_URL`); the data store when
    /// unset, or when the context was opened without its input.
    pub input: Arc<dyn BlobStore>,
    pub(crate) database: Option<Arc<dyn RecDb>>,
    pub settings: Settings,
    pub metrics: Arc<dyn Metrics>,
    /// Which stage this context was opened for, when only one (a function).
    pub(crate) opened_for: Option<Stage>,
    /// How the site's catalogue is opened, chosen with the other adapters.
    pub(crate) site: SiteOpener,
}

/// Opens the catalogue of the site in the settings (WordPress, or the static
/// catalogue in the store). Opened per run rather than with the context: a
/// context serves every site of a deployment (`for_site`), and the static
/// catalogue is read from the store as it is at the run.
pub type SiteOpener = for<'a> fn(&'a Settings, &'a dyn BlobStore) -> BoxFuture<'a, Result<Arc<dyn Site>>>;

impl Context {
    /// The site's catalogue: where article metadata comes from.
    ///
    /// # Errors
    /// `Config` for a bad WordPress URL; storage errors reading the catalogue.
    pub async fn site(&self) -> Result<Arc<dyn Site>> {
        (self.site)(&self.settings, self.store.as_ref()).await
    }

    /// The recommendation database.
    ///
    /// # Errors
    /// `Bug` when the context was opened for a stage that does not use it
    /// (see [`Stage::adapters`]): the stage and the template disagree.
    pub fn db(&self) -> Result<&dyn RecDb> {
        self.database.as_deref().ok_or_else(|| self.no_database())
    }

    fn no_database(&self) -> Error {
        Error::Bug(format!(
            "the {} function opens no database (Stage::adapters), yet its stage asked for one",
            self.opened_for.map_or("?", Stage::name)
        ))
    }

    /// The recommendation database, shared (a server keeps it in its state).
    ///
    /// # Errors
    /// As [`Context::db`].
    pub fn shared_db(&self) -> Result<Arc<dyn RecDb>> {
        self.database.clone().ok_or_else(|| self.no_database())
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

    /// Records a stage's counts for the site in the settings, each as a
    /// metric of that name (unit: count).
    pub fn counts(&self, stage: &str, counts: &[(&str, u64)]) {
        for (name, value) in counts {
            self.metric(stage, name, *value as f64, crate::contract::metrics::Unit::Count);
        }
    }

    /// The data store as a stage of `layout`'s run reads and writes it: the
    /// run's files checked against the digests the earlier stages recorded
    /// (`expected`), every write recorded for this stage's output.
    pub fn checked_store(
        &self,
        layout: &crate::contract::layout::RunLayout,
        expected: &[&crate::contract::integrity::Files],
    ) -> crate::contract::checked_store::CheckedStore {
        let mut all = crate::contract::integrity::Files::new();
        for f in expected {
            all.extend(f);
        }
        crate::contract::checked_store::CheckedStore::new(self.store.clone(), all, vec![layout.prefix()])
    }

    /// Records a figure of a stage for the site in the settings.
    pub fn metric(&self, stage: &str, name: &str, value: f64, unit: crate::contract::metrics::Unit) {
        self.metrics.record(stage, &self.settings.site, name, value, unit);
    }
}
