//! Object storage behind one small trait ([`BlobStore`]); the local directory
//! and S3 adapters implement it (`adapters::storage`).

use async_trait::async_trait;
use bytes::Bytes;

use crate::contract::error::Result;
use crate::contract::layout::{ObjectKey, Prefix};

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
    /// Whether any object is under the prefix (a store may answer it
    /// without listing them all).
    ///
    /// # Errors
    /// As [`BlobStore::list`].
    async fn any_under(&self, prefix: &Prefix) -> Result<bool> {
        Ok(!self.list(prefix).await?.is_empty())
    }
    /// Deletes every object under the prefix; returns how many.
    ///
    /// # Errors
    /// `Storage` on I/O failure.
    async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64>;
}
