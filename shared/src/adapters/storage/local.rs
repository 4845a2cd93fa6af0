//! A local directory as an object store. Keys map to relative paths; writes go
//! to a temporary file renamed into place, so a reader never sees half an object.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use bytes::Bytes;

use crate::contract::error::{Error, Result};
use crate::contract::layout::{ObjectKey, Prefix};
use crate::contract::storage::{BlobStore, ObjectMeta};

#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a key; a key that is not plain (`..`, `.` or empty
    /// segments, which a file system would resolve) is refused, so no key
    /// reaches outside the root.
    fn path(&self, key: &ObjectKey) -> Result<PathBuf> {
        if !key.is_plain() {
            return Err(Error::InvalidInput(format!(
                "object key {key:?} has an empty, '.' or '..' segment: refused by the local store"
            )));
        }
        Ok(self.root.join(key.as_str()))
    }
}

fn io_err(key: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Storage {
        key: key.to_string(),
        source,
    }
}

#[async_trait]
impl BlobStore for LocalDir {
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NotFound { key: key.to_string() })
            }
            Err(e) => Err(io_err(key.as_str())(e)),
        }
    }

    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
        let path = self.path(key)?;
        let k = key.as_str();
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_err(k))?;
        }
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".{}.{}.{n}.tmp", key.file_name(), std::process::id()));
        tokio::fs::write(&tmp, &body).await.map_err(io_err(k))?;
        tokio::fs::rename(&tmp, &path).await.map_err(io_err(k))
    }

    async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>> {
        let root = self.root.clone();
        let prefix = prefix.as_str().to_string();
        tokio::task::spawn_blocking(move || list_blocking(&root, &prefix))
            .await
            .map_err(|e| Error::Bug(format!("list task failed: {e}")))?
    }

    async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64> {
        let found = self.list(prefix).await?;
        for meta in &found {
            match tokio::fs::remove_file(self.path(&meta.key)?).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(meta.key.as_str())(e)),
            }
        }
        // an object store has no empty folders: neither does its local stand-in
        for meta in &found {
            let Ok(mut dir) = self.path(&meta.key) else {
                continue;
            };
            while dir.pop() && dir.starts_with(&self.root) && dir != self.root {
                if std::fs::remove_dir(&dir).is_err() {
                    break;
                }
            }
        }
        Ok(found.len() as u64)
    }
}

/// Walks the directory the prefix points into, keeping keys that start with it.
fn list_blocking(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>> {
    // The prefix may end mid-name ("a/b" matches "a/bc"), so walk its directory part.
    let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
    let start = root.join(dir_part);
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(prefix)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(prefix))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(io_err(prefix))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue; // temporary files of in-flight writes
            }
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let key = rel.join("/");
            if !key.starts_with(prefix) {
                continue;
            }
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            out.push(ObjectMeta {
                key: ObjectKey::from_listing(&key)?,
                size: meta.len(),
                etag: format!("{:x}-{:x}", meta.len(), mtime),
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_dir_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        crate::adapters::storage::conformance::run_all(&store).await;
    }

    #[tokio::test]
    async fn keys_that_a_file_system_would_resolve_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path().join("root"));
        for raw in ["a/../../escape", "./a", "a//b"] {
            let key = ObjectKey::listed_as_is(raw);
            let err = store.put(&key, Bytes::from_static(b"x")).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{raw}: {err}");
            assert!(store.get(&key).await.is_err());
        }
        assert!(!dir.path().join("escape").exists());
    }

    #[tokio::test]
    async fn deleting_a_prefix_leaves_no_empty_folders() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        for k in [
            "runs/a/r1/x.parquet",
            "runs/a/r1/hours/01/y",
            "runs/b/r2/z",
            "keep/k",
        ] {
            let key = ObjectKey::from_listing(k).unwrap();
            store.put(&key, Bytes::from_static(b"1")).await.unwrap();
        }
        let runs_a = crate::contract::layout::test_prefix("runs/a/");
        assert_eq!(store.delete_prefix(&runs_a).await.unwrap(), 2);
        assert!(!dir.path().join("runs/a").exists());
        assert!(dir.path().join("runs/b/r2/z").exists(), "other prefixes stay");
        assert!(dir.path().join("keep/k").exists());
        assert!(dir.path().exists(), "the root stays");
    }
}
