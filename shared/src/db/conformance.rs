//! The story every [`RecDb`] must tell the same way.

use super::{ArticleRow, ModelStart, ModelType, RecDb, RecRow, DEFAULT_SOURCE};

fn article(id: &str, title: Option<&str>) -> ArticleRow {
    ArticleRow {
        external_id: id.into(),
        title: title.map(str::to_string),
        path: Some(format!("/article/{id}/x")),
        published_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
        exclude_reason: None,
    }
}

fn rec(src: &str, target: i64, score: f64) -> RecRow {
    RecRow {
        source_entity_id: src.into(),
        recommended_article_id: target,
        score,
    }
}

fn fresh(s: ModelStart) -> i64 {
    match s {
        ModelStart::Fresh(id) => id,
        other => panic!("expected a fresh model, got {other:?}"),
    }
}

pub(crate) async fn story(db: &dyn RecDb) {
    let site = "site-a";
    // articles upsert by (site, external id), never duplicated; null keeps old values
    let ids = db
        .upsert_articles(
            site,
            &[article("1", Some("One")), article("2", None), article("3", None)],
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let again = db
        .upsert_articles(site, &[article("1", None), article("2", Some("Two"))])
        .await
        .unwrap();
    assert_eq!(again["1"], ids["1"]);
    assert_eq!(again["2"], ids["2"]);
    let other_site = db.upsert_articles("site-b", &[article("1", None)]).await.unwrap();
    assert_ne!(other_site["1"], ids["1"]);

    // nothing current yet
    assert!(db
        .current_model(site, ModelType::Article)
        .await
        .unwrap()
        .is_none());
    assert!(db.current_recs(site, "1").await.unwrap().is_empty());

    // run 1: pending models are invisible until activated
    let m1 = fresh(db.begin_model(site, ModelType::Article, "run-1").await.unwrap());
    let n = db
        .insert_recs(
            m1,
            &[
                rec("1", ids["2"], 0.9),
                rec("1", ids["3"], 0.4),
                rec("2", ids["1"], 0.8),
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(db.current_recs(site, "1").await.unwrap().is_empty());
    db.activate(m1).await.unwrap();
    assert_eq!(
        db.current_recs(site, "1").await.unwrap(),
        [("2".to_string(), 0.9), ("3".to_string(), 0.4)]
    );

    // a retried save of run 1 does nothing
    assert_eq!(
        db.begin_model(site, ModelType::Article, "run-1").await.unwrap(),
        ModelStart::AlreadySaved(m1)
    );

    // run 2 crashes midway, then is retried: the retry starts from an empty model
    let m2 = fresh(db.begin_model(site, ModelType::Article, "run-2").await.unwrap());
    db.insert_recs(m2, &[rec("1", ids["3"], 0.7)]).await.unwrap();
    let m2_retry = fresh(db.begin_model(site, ModelType::Article, "run-2").await.unwrap());
    assert_eq!(m2_retry, m2);
    db.insert_recs(m2, &[rec("1", ids["3"], 0.75), rec("3", ids["1"], 0.5)])
        .await
        .unwrap();
    // run 1 still current until the swap
    assert_eq!(db.current_recs(site, "1").await.unwrap().len(), 2);
    db.activate(m2).await.unwrap();
    assert_eq!(
        db.current_recs(site, "1").await.unwrap(),
        [("3".to_string(), 0.75)]
    );
    let current = db.current_model(site, ModelType::Article).await.unwrap().unwrap();
    assert_eq!(
        (current.id, current.status.as_str(), current.run_id.as_str()),
        (m2, "current", "run-2")
    );
    db.activate(m2).await.unwrap(); // activating the current model is a no-op

    // popularity models are separate from article models
    let p = fresh(
        db.begin_model(site, ModelType::Popularity, "run-2")
            .await
            .unwrap(),
    );
    db.insert_recs(
        p,
        &[
            rec(DEFAULT_SOURCE, ids["1"], 1.0),
            rec(DEFAULT_SOURCE, ids["2"], 0.123_456_7),
        ],
    )
    .await
    .unwrap();
    db.activate(p).await.unwrap();
    let defaults = db.current_recs(site, DEFAULT_SOURCE).await.unwrap();
    assert_eq!(defaults[0], ("1".to_string(), 1.0));
    assert!(
        (defaults[1].1 - 0.123_457).abs() < 1e-9,
        "scores keep 6 decimals: {defaults:?}"
    );
    assert_eq!(
        db.current_model(site, ModelType::Article)
            .await
            .unwrap()
            .unwrap()
            .id,
        m2
    );

    // stale models beyond the newest `keep` go, with their recommendations
    let m3 = fresh(db.begin_model(site, ModelType::Article, "run-3").await.unwrap());
    db.insert_recs(m3, &[rec("1", ids["2"], 0.1)]).await.unwrap();
    db.activate(m3).await.unwrap();
    assert_eq!(db.prune_stale(site, ModelType::Article, 1).await.unwrap(), 1);
    assert_eq!(
        db.begin_model(site, ModelType::Article, "run-2").await.unwrap(),
        ModelStart::AlreadySaved(m2),
        "the newest stale model is kept"
    );
    assert_eq!(db.prune_stale(site, ModelType::Article, 1).await.unwrap(), 0);

    // unknown model ids are a clear error
    assert!(db.activate(999_999).await.is_err());
}
