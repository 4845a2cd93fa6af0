//! Amazon S3 (or any S3-protocol server) as an object store, through aws-sdk-s3.
//! Region and credentials come from the standard AWS chain; an endpoint override
//! and path-style addressing let it talk to S3-compatible servers. The SDK retries
//! throttling and transient errors with exponential backoff.

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use bytes::Bytes;

use crate::contract::error::{Error, Result};
use crate::contract::layout::{ObjectKey, Prefix};
use crate::contract::storage::{BlobStore, ObjectMeta};
use crate::settings::S3Options;

/// Objects at or above this size are uploaded in parts.
const MULTIPART_THRESHOLD: usize = 64 << 20;
const PART_SIZE: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Key prefix under which this store's keys live: empty or ending in `/`.
    root: String,
}

/// Turns an S3 SDK error into the library's: a 403 is [`Error::AccessDenied`]
/// naming the IAM action and the object; throttling, timeouts and 5xx are
/// transient; anything else (no such bucket, a malformed request) is not.
fn storage_err<E>(bucket: &str, full_key: &str, action: &'static str, e: SdkError<E, HttpResponse>) -> Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.as_service_error().and_then(ProvideErrorMetadata::code);
    if status == Some(403) || code == Some("AccessDenied") {
        let mut message = DisplayErrorContext(&e).to_string();
        if action == "s3:GetObject" {
            // S3 documents this: without s3:ListBucket a missing key is a 403, not a 404
            message.push_str(
                "; a key that does not exist reads as 403 unless the role may s3:ListBucket the bucket",
            );
        }
        return Error::AccessDenied {
            action,
            resource: format!("s3://{bucket}/{full_key}"),
            message,
        };
    }
    let transient = matches!(
        e,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    ) || status.is_some_and(|s| s >= 500 || s == 429);
    Error::ObjectStore {
        key: format!("s3://{bucket}/{full_key}"),
        message: format!("{action}: {}", DisplayErrorContext(&e)),
        transient,
    }
}

impl S3Store {
    /// Connects to `s3://bucket/optional/prefix`.
    ///
    /// # Errors
    /// `Config` for a malformed URL.
    pub async fn connect(url: &str, opts: &S3Options) -> Result<S3Store> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| Error::Config(format!("STORE_URL {url:?} is not s3://bucket/prefix")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Config(format!("STORE_URL {url:?} has no bucket")));
        }
        let prefix = prefix.trim_matches('/');
        let root = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };

        let shared = crate::adapters::sdk::sdk_config(opts.region.as_deref(), None).await;
        let mut conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(opts.force_path_style)
            .retry_config(
                aws_config::retry::RetryConfig::standard().with_max_attempts(opts.max_attempts.max(1)),
            );
        if let Some(endpoint) = &opts.endpoint {
            conf = conf.endpoint_url(endpoint.clone());
        }
        Ok(S3Store {
            client: Client::from_conf(conf.build()),
            bucket: bucket.to_string(),
            root,
        })
    }

    /// A store on an existing client (tests, and callers with their own config).
    pub fn with_client(client: Client, bucket: &str, root: &str) -> S3Store {
        let root = root.trim_matches('/');
        S3Store {
            client,
            bucket: bucket.to_string(),
            root: if root.is_empty() {
                String::new()
            } else {
                format!("{root}/")
            },
        }
    }

    /// A link that lets its holder GET `key` for `expires` without
    /// credentials of their own (SigV4 query signing, at most 7 days).
    ///
    /// # Errors
    /// `Config` for an expiry beyond 7 days; `ObjectStore` when it cannot be signed.
    pub async fn presigned_get(&self, key: &str, expires: std::time::Duration) -> Result<String> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires)
            .map_err(|e| Error::Config(format!("presigned link: {e}")))?;
        let full = self.full(key);
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .presigned(config)
            .await
            .map_err(|e| storage_err(&self.bucket, &full, "s3:GetObject (presign)", e))?;
        Ok(req.uri().to_string())
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.root)
    }

    async fn put_multipart(&self, full: &str, body: &Bytes) -> Result<()> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .send()
            .await
            .map_err(|e| storage_err(&self.bucket, full, "s3:PutObject", e))?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| Error::Bug("multipart upload without an id".into()))?
            .to_string();
        let result = async {
            let mut parts = Vec::new();
            for (i, chunk) in body.chunks(PART_SIZE).enumerate() {
                let number = i32::try_from(i + 1).map_err(|_| Error::Bug("too many parts".into()))?;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(full)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(body.slice_ref(chunk)))
                    .send()
                    .await
                    .map_err(|e| storage_err(&self.bucket, full, "s3:PutObject", e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_string))
                        .build(),
                );
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(&upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(|e| storage_err(&self.bucket, full, "s3:PutObject", e))?;
            Ok(())
        }
        .await;
        if result.is_err() {
            // best effort: an abandoned upload costs storage until a lifecycle rule removes it
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let full = self.full(key.as_str());
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(Error::NotFound { key: key.to_string() })
            }
            Err(e) => return Err(storage_err(&self.bucket, &full, "s3:GetObject", e)),
        };
        let body = out.body.collect().await.map_err(|e| Error::ObjectStore {
            key: key.to_string(),
            message: format!("reading body: {e}"),
            transient: true,
        })?;
        Ok(body.into_bytes())
    }

    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
        let full = self.full(key.as_str());
        if body.len() >= MULTIPART_THRESHOLD {
            return self.put_multipart(&full, &body).await;
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| storage_err(&self.bucket, &full, "s3:PutObject", e))?;
        Ok(())
    }

    async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>> {
        let full = self.full(prefix.as_str());
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| storage_err(&self.bucket, &full, "s3:ListBucket", e))?;
            for obj in page.contents() {
                let Some(k) = obj.key().and_then(|k| k.strip_prefix(&self.root)) else {
                    continue;
                };
                out.push(ObjectMeta {
                    // kept as listed: a key with a `.` segment is a real S3 object
                    key: ObjectKey::listed_as_is(k),
                    size: obj.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    etag: obj.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn any_under(&self, prefix: &Prefix) -> Result<bool> {
        let full = self.full(prefix.as_str());
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| storage_err(&self.bucket, &full, "s3:ListBucket", e))?;
        Ok(!page.contents().is_empty())
    }

    async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64> {
        let found = self.list(prefix).await?;
        for batch in found.chunks(1000) {
            let ids = batch
                .iter()
                .map(|m| ObjectIdentifier::builder().key(self.full(m.key.as_str())).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::Bug(format!("object identifier: {e}")))?;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| Error::Bug(format!("delete request: {e}")))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| storage_err(&self.bucket, &self.full(prefix.as_str()), "s3:DeleteObject", e))?;
            if let Some(err) = out.errors().first() {
                let resource = format!("s3://{}/{}", self.bucket, err.key().unwrap_or_default());
                if err.code() == Some("AccessDenied") {
                    return Err(Error::AccessDenied {
                        action: "s3:DeleteObject",
                        resource,
                        message: err.message().unwrap_or("denied").to_string(),
                    });
                }
                return Err(Error::ObjectStore {
                    key: resource,
                    message: format!("delete objects: {}", err.message().unwrap_or("failed")),
                    transient: false,
                });
            }
        }
        Ok(found.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use crate::contract::storage::BlobStore;
    use crate::devtools::moto::MotoServer;

    #[tokio::test]
    async fn s3_passes_the_conformance_suite() {
        let moto = MotoServer::start();
        let store = moto.store("conformance", "").await;
        crate::adapters::storage::conformance::run_all(&store).await;
        // under a root prefix, keys are relative to it
        let rooted = moto.store("rooted", "some/root").await;
        crate::adapters::storage::conformance::run_all(&rooted).await;
    }

    #[tokio::test]
    async fn large_objects_go_up_in_parts_and_listing_pages() {
        let moto = MotoServer::start();
        let store = moto.store("big", "").await;
        let big = bytes::Bytes::from(vec![7u8; super::MULTIPART_THRESHOLD + 1234]);
        let key = crate::contract::layout::ObjectKey::from_listing("x/big.bin").unwrap();
        store.put(&key, big.clone()).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), big);
        // more than one listing page (1000 keys a page)
        for i in 0..1005 {
            let k = crate::contract::layout::ObjectKey::from_listing(&format!("many/{i:05}")).unwrap();
            store.put(&k, bytes::Bytes::from_static(b"x")).await.unwrap();
        }
        let listed = store
            .list(&crate::contract::layout::test_prefix("many/"))
            .await
            .unwrap();
        assert_eq!(listed.len(), 1005);
        assert_eq!(
            store
                .delete_prefix(&crate::contract::layout::test_prefix("many/"))
                .await
                .unwrap(),
            1005
        );
    }

    #[tokio::test]
    async fn a_missing_bucket_is_a_clear_non_transient_error() {
        let moto = MotoServer::start();
        let store = super::S3Store::with_client(moto.client().await, "no-such-bucket", "");
        let key = crate::contract::layout::ObjectKey::from_listing("a").unwrap();
        let err = store
            .put(&key, bytes::Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("NoSuchBucket"), "{err}");
    }
}
