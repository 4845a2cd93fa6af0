//! S3's answers to a role that may not do something, as the object store
//! reports them: an `AccessDenied` error naming the IAM action and the
//! object, not bad input. (S3 also answers 403 for a key that does not exist
//! when the role may not list the bucket; moto answers 404 there, so
//! tests/infra.rs pins that every function may list what it reads.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use article_rec_core::adapters::storage::s3::S3Store;
use article_rec_core::contract::storage::BlobStore;
use article_rec_core::devtools::moto::MotoServer;
use article_rec_core::ErrorKind;
use bytes::Bytes;
use serde_json::json;

#[tokio::test]
async fn a_refused_request_is_access_denied_naming_the_action_and_the_key() {
    let moto = MotoServer::start();
    let open = moto.store("data", "").await;
    let cached =
        article_rec_core::contract::layout::hour_manifest("site", "2026-01-02T03:00:00Z".parse().unwrap())
            .unwrap();
    open.put(&cached, Bytes::from_static(b"{}")).await.unwrap();
    let roles = BTreeMap::from([(
        "reader".to_string(),
        support::moto_iam::for_moto(&[json!({
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::data/runs/*",
        })]),
    )]);
    let iam = support::moto_iam::enforce(&moto.endpoint, &roles);
    let client = support::moto_iam::s3(&moto.endpoint, &iam.roles["reader"]).await;
    let store = S3Store::with_client(client, "data", "");

    let err = store.get(&cached).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permission, "{err}");
    assert_eq!(err.kind().error_type(), "ArticleRec.AccessDenied");
    let text = err.to_string();
    assert!(
        text.contains("s3:GetObject on s3://data/cache/site/hours/2026/01/02/03/manifest.json"),
        "{text}"
    );
    assert!(
        text.contains("s3:ListBucket"),
        "the message says why a missing key reads as 403: {text}"
    );

    let err = store.put(&cached, Bytes::from_static(b"x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permission, "{err}");
    assert!(
        err.to_string().contains("s3:PutObject on s3://data/cache/"),
        "{err}"
    );
    let err = store
        .list(&article_rec_core::contract::layout::runs())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("s3:ListBucket on s3://data/runs/"),
        "{err}"
    );
}
