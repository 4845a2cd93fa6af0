//! The data store as a stage reads and writes it: what it reads checked
//! against the digests the earlier stages recorded, what it writes
//! recorded (see [`crate::contract::integrity`]).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use crate::contract::error::{Error, Result};
use crate::contract::integrity::{Digest, Files};
use crate::contract::layout::{ObjectKey, Prefix};
use crate::contract::storage::{BlobStore, ObjectMeta};

/// A store that checks what it reads and records what it writes.
///
/// A read of a key with a recorded digest is checked against it; a read of
/// any other key under a `guarded` prefix (the run's own) is refused, since
/// no stage recorded writing it; other keys (the catalogue, models, the hour
/// cache, which are checked by their own manifests) pass through. Every
/// write is recorded, for the stage's output.
#[derive(Debug)]
pub struct CheckedStore {
    inner: Arc<dyn BlobStore>,
    expected: Files,
    guarded: Vec<Prefix>,
    written: Mutex<Files>,
}

impl CheckedStore {
    pub fn new(inner: Arc<dyn BlobStore>, expected: Files, guarded: Vec<Prefix>) -> CheckedStore {
        CheckedStore {
            inner,
            expected,
            guarded,
            written: Mutex::new(Files::new()),
        }
    }

    /// What was written through this store, with digests.
    pub fn written(&self) -> Files {
        self.written.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl BlobStore for CheckedStore {
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let expected = self.expected.get(key.as_str());
        let guarded = self.guarded.iter().any(|p| key.as_str().starts_with(p.as_str()));
        if expected.is_none() && guarded {
            return Err(Error::Corrupt {
                key: key.to_string(),
                why: "no stage of this run recorded writing it (a run started before digests were \
                      recorded, or a stage run out of order): run the run again"
                    .into(),
            });
        }
        let bytes = self.inner.get(key).await?;
        if let Some(d) = expected {
            d.check(key.as_str(), &bytes)?;
        }
        Ok(bytes)
    }

    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
        let digest = Digest::of(&body);
        self.inner.put(key, body).await?;
        if let Ok(mut w) = self.written.lock() {
            w.insert(key, digest);
        }
        Ok(())
    }

    async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }

    async fn any_under(&self, prefix: &Prefix) -> Result<bool> {
        self.inner.any_under(prefix).await
    }

    async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64> {
        self.inner.delete_prefix(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Objects in memory: the contract's tests use no adapter.
    #[derive(Debug, Default)]
    struct Memory(Mutex<BTreeMap<String, Bytes>>);

    #[async_trait]
    impl BlobStore for Memory {
        async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
            self.0
                .lock()
                .unwrap()
                .get(key.as_str())
                .cloned()
                .ok_or(Error::NotFound { key: key.to_string() })
        }
        async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
            self.0.lock().unwrap().insert(key.to_string(), body);
            Ok(())
        }
        async fn list(&self, _: &Prefix) -> Result<Vec<ObjectMeta>> {
            Ok(Vec::new())
        }
        async fn delete_prefix(&self, _: &Prefix) -> Result<u64> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn a_file_is_read_only_as_it_was_written() {
        let inner: Arc<dyn BlobStore> = Arc::new(Memory::default());
        let run = crate::contract::layout::test_prefix("runs/s/r/");
        let key = ObjectKey::from_listing("runs/s/r/dwell.parquet").unwrap();
        let writer = CheckedStore::new(inner.clone(), Files::new(), vec![run.clone()]);
        writer
            .put(&key, Bytes::from_static(b"PAR1 data PAR1"))
            .await
            .unwrap();
        let files = writer.written();
        assert_eq!(files.len(), 1);
        let reader = CheckedStore::new(inner.clone(), files.clone(), vec![run.clone()]);
        assert_eq!(
            reader.get(&key).await.unwrap(),
            Bytes::from_static(b"PAR1 data PAR1")
        );

        // one byte flipped on disk: an error naming the file
        inner
            .put(&key, Bytes::from_static(b"PAR1 dbta PAR1"))
            .await
            .unwrap();
        let e = reader.get(&key).await.unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("runs/s/r/dwell.parquet"), "{e}");
        assert_eq!(e.kind(), crate::contract::error::ErrorKind::Data);

        // a file of the run nobody recorded is refused; others pass
        let other = ObjectKey::from_listing("runs/s/r/stray.parquet").unwrap();
        inner.put(&other, Bytes::from_static(b"x")).await.unwrap();
        assert!(reader.get(&other).await.is_err());
        let catalog = ObjectKey::from_listing("catalog/s/articles.jsonl").unwrap();
        inner.put(&catalog, Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(reader.get(&catalog).await.unwrap(), Bytes::from_static(b"{}"));
    }
}
