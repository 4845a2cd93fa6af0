//! Object storage behind one small trait. A local directory now; S3 implements the
//! same trait. `conformance` holds the suite every implementation must pass.

mod local;
pub mod s3;

#[cfg(test)]
pub(crate) mod conformance;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

pub use local::LocalDir;

use crate::error::{Error, Result};
use crate::layout::{ObjectKey, Prefix};

/// An object as a listing returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: ObjectKey,
    pub size: u64,
    /// Changes whenever the content does (S3 ETag; size + mtime locally).
    pub etag: String,
}

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// # Errors
    /// `NotFound` when there is no such object; `Storage` on I/O failure.
    async fn get(&self, key: &ObjectKey) -> Result<Bytes>;
    /// Replaces the object atomically: readers see the old or the new content.
    ///
    /// # Errors
    /// `Storage` on I/O failure.
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()>;
    /// Every object under the prefix, sorted by key.
    ///
    /// # Errors
    /// `Storage` on I/O failure. A prefix with nothing under it is an empty list.
    async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>>;
    /// Deletes every object under the prefix; returns how many.
    ///
    /// # Errors
    /// `Storage` on I/O failure.
    async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64>;
}

/// Opens the store a URL names: `s3://bucket/prefix`, `file:///dir` or a plain path.
///
/// # Errors
/// `Config` for a scheme this build cannot open or a malformed S3 URL.
pub async fn open(url: &str, s3: &s3::S3Options) -> Result<Arc<dyn BlobStore>> {
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
