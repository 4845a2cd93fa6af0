//! The object stores: a local directory and S3 (or any S3-protocol server),
//! chosen by URL. `conformance` holds the suite every store must pass.

mod local;
pub mod s3;

#[cfg(test)]
pub(crate) mod conformance;

use std::sync::Arc;

pub use local::LocalDir;

use crate::contract::error::{Error, Result};
use crate::contract::storage::BlobStore;
use crate::settings::S3Options;

/// Opens the store a URL names: `s3://bucket/prefix`, `file:///dir` or a plain path.
///
/// # Errors
/// `Config` for a scheme this build cannot open or a malformed S3 URL.
pub async fn open(url: &str, s3: &S3Options) -> Result<Arc<dyn BlobStore>> {
    if url.starts_with("s3://") {
        return Ok(Arc::new(s3::S3Store::connect(url, s3).await?));
    }
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Arc::new(LocalDir::new(path)));
    }
    if url.contains("://") {
        return Err(Error::Config(format!(
            "STORE_URL {url:?}: unsupported scheme (use s3://, file:// or a path)"
        )));
    }
    Ok(Arc::new(LocalDir::new(url)))
}
