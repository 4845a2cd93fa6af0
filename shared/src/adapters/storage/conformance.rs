//! The behaviour every [`BlobStore`] must have. Each backend's tests call
//! [`run_all`] on a fresh, empty store.

use bytes::Bytes;

use crate::contract::error::Error;
use crate::contract::layout::{ObjectKey, Prefix};
use crate::contract::storage::BlobStore;

fn key(k: &str) -> ObjectKey {
    ObjectKey::from_listing(k).unwrap()
}

fn prefix(p: &str) -> Prefix {
    crate::contract::layout::test_prefix(p)
}

pub(crate) async fn run_all(store: &dyn BlobStore) {
    // missing key
    match store.get(&key("nope/a.bin")).await {
        Err(Error::NotFound { key: k }) => assert_eq!(k.as_str(), "nope/a.bin"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // put, get, overwrite
    store
        .put(&key("a/b/one.bin"), Bytes::from_static(b"1"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("a/b/one.bin")).await.unwrap(),
        Bytes::from_static(b"1")
    );
    store
        .put(&key("a/b/one.bin"), Bytes::from_static(b"one"))
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("a/b/one.bin")).await.unwrap(),
        Bytes::from_static(b"one")
    );
    // empty objects are objects
    store.put(&key("a/b/empty"), Bytes::new()).await.unwrap();
    assert!(store.get(&key("a/b/empty")).await.unwrap().is_empty());
    store
        .put(&key("a/c/two.bin"), Bytes::from_static(b"22"))
        .await
        .unwrap();
    store
        .put(&key("ab/three.bin"), Bytes::from_static(b"333"))
        .await
        .unwrap();

    // anything under a prefix: the same answer as a listing
    assert!(store.any_under(&prefix("a/")).await.unwrap());
    assert!(store.any_under(&prefix("a/c/")).await.unwrap());
    assert!(!store.any_under(&prefix("a/d/")).await.unwrap());
    assert!(!store.any_under(&prefix("zz/")).await.unwrap());

    // listing is sorted, recursive and isolated by prefix
    let listed: Vec<(String, u64)> = store
        .list(&prefix("a/"))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.key.to_string(), m.size))
        .collect();
    assert_eq!(
        listed,
        [
            ("a/b/empty".to_string(), 0),
            ("a/b/one.bin".to_string(), 3),
            ("a/c/two.bin".to_string(), 2)
        ]
    );
    assert!(store.list(&prefix("zzz/")).await.unwrap().is_empty());

    // the etag changes with the content
    let before = store.list(&prefix("a/c/")).await.unwrap()[0].etag.clone();
    store
        .put(&key("a/c/two.bin"), Bytes::from_static(b"2222"))
        .await
        .unwrap();
    let after = store.list(&prefix("a/c/")).await.unwrap()[0].etag.clone();
    assert_ne!(before, after);

    // delete_prefix removes only what is under the prefix
    assert_eq!(store.delete_prefix(&prefix("a/")).await.unwrap(), 3);
    assert!(store.list(&prefix("a/")).await.unwrap().is_empty());
    assert_eq!(store.get(&key("ab/three.bin")).await.unwrap().len(), 3);
}
