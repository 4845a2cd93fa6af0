//! Where article metadata comes from: a site's WordPress REST API, or a
//! static catalogue file in the store.

pub mod catalog_file;
mod static_catalog;
mod wordpress;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use static_catalog::StaticCatalog;
#[cfg(test)]
pub(crate) use wordpress::fake;
pub use wordpress::WordPress;

use crate::contract::error::Result;
use crate::contract::site::Site;
use crate::contract::storage::BlobStore;
use crate::settings::Settings;

/// The site the settings describe: its WordPress API when `WORDPRESS_URL` is
/// set, otherwise the static catalogue in the store (absent: empty).
///
/// # Errors
/// `Config` for a bad WordPress URL; storage errors reading the catalogue.
pub async fn open(settings: &Settings, store: &dyn BlobStore) -> Result<Arc<dyn Site>> {
    match &settings.wordpress.url {
        Some(url) => Ok(Arc::new(WordPress::new(url, settings.wordpress.clone())?)),
        None => Ok(Arc::new(StaticCatalog::load(store, &settings.site).await?)),
    }
}

/// [`open`] as a context carries it ([`crate::context::SiteOpener`]).
pub fn opener<'a>(settings: &'a Settings, store: &'a dyn BlobStore) -> BoxFuture<'a, Result<Arc<dyn Site>>> {
    Box::pin(open(settings, store))
}
