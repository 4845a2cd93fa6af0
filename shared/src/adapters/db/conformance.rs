//! The story every [`RecDb`] must tell the same way.

use crate::contract::database::{ArticleRow, ModelStart, ModelType, RecDb, RecRow, DEFAULT_SOURCE};

fn article(id: &str, title: Option<&str>) -> ArticleRow {
    ArticleRow {
        external_id: id.into(),
        title: title.map(str::to_string),
        path: Some(format!("/article/{id}/x")),
        published_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
        exclude_reason: None,
        excerpt: Some(format!("What happened to {id}")),
        section: Some("News".into()),
        tags: Some("Budget\nD.C. Council".into()),
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
    // the metadata cache reads back what was stored, for the asked ids only
    let stored = db
        .articles(site, &["2".to_string(), "1".to_string(), "9".to_string()])
        .await
        .unwrap();
    assert_eq!(
        stored,
        [
            ArticleRow {
                title: Some("One".into()),
                ..article("1", None)
            },
            ArticleRow {
                title: Some("Two".into()),
                ..article("2", None)
            },
        ]
    );

    // a lookup's answer replaces stale metadata: an exclusion an earlier
    // answer gave does not outlive a later one that has none
    let stale = ArticleRow {
        title: Some("Old".into()),
        exclude_reason: Some("no public WordPress post (HTTP 404)".into()),
        ..article("3", None)
    };
    db.replace_metadata(site, std::slice::from_ref(&stale))
        .await
        .unwrap();
    // a row without metadata (save's, for an article whose lookup failed) keeps it
    db.upsert_articles(
        site,
        &[ArticleRow {
            title: None,
            exclude_reason: None,
            published_at: None,
            excerpt: None,
            section: None,
            tags: None,
            ..article("3", None)
        }],
    )
    .await
    .unwrap();
    assert_eq!(db.articles(site, &["3".to_string()]).await.unwrap(), [stale]);
    let answer = ArticleRow {
        title: Some("New".into()),
        ..article("3", None)
    };
    db.replace_metadata(site, std::slice::from_ref(&answer))
        .await
        .unwrap();
    assert_eq!(db.articles(site, &["3".to_string()]).await.unwrap(), [answer]);
    let three = db.upsert_articles(site, &[article("3", None)]).await.unwrap();
    assert_eq!(three["3"], ids["3"], "replacing keeps the article's id");

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
    assert_eq!(db.rec_count(m1).await.unwrap(), 3);
    let listed: Vec<(i64, String)> = db
        .models(site)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.status))
        .collect();
    assert_eq!(listed, [(m1, "pending".to_string())]);
    assert!(db.models("another-site").await.unwrap().is_empty());
    assert_eq!(db.evaluation_digest(m1).await.unwrap(), None);
    db.record_evaluation(m1, "xxh3-128:00ff").await.unwrap();
    assert_eq!(
        db.evaluation_digest(m1).await.unwrap().as_deref(),
        Some("xxh3-128:00ff")
    );
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
    // a recommendation of an article that does not exist is refused, whole
    let unknown = db
        .insert_recs(m2, &[rec("1", ids["3"], 0.7), rec("1", 987_654, 0.6)])
        .await
        .expect_err("unknown article ids are refused");
    assert!(!unknown.to_string().is_empty());
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

/// One run's complete save of a model, as the save stage does it.
async fn save(db: &dyn RecDb, site: &str, run: &str, recs: &[RecRow]) -> i64 {
    let id = fresh(db.begin_model(site, ModelType::Article, run).await.unwrap());
    db.insert_recs(id, recs).await.unwrap();
    db.activate(id).await.unwrap();
    id
}

/// The site lock excludes a second holder, is per site, and frees itself when
/// its holder goes away without releasing it.
pub(crate) async fn lock_story(db: &dyn RecDb) {
    use std::time::Duration;
    let held = db.lock_site("site-l", Duration::from_secs(1)).await.unwrap();
    assert_eq!(held.site(), "site-l");
    let err = db
        .lock_site("site-l", Duration::from_millis(300))
        .await
        .expect_err("a second holder must wait and then fail");
    assert_eq!(err.kind(), crate::contract::error::ErrorKind::Transient, "{err}");
    assert!(err.to_string().contains("save lock of site site-l"), "{err}");
    let other = db.lock_site("site-m", Duration::from_millis(300)).await.unwrap();
    other.release().await.unwrap();
    // a holder that dies (dropped, never released) frees the lock
    drop(held);
    let again = db.lock_site("site-l", Duration::from_secs(10)).await.unwrap();
    again.release().await.unwrap();
    let after_release = db.lock_site("site-l", Duration::from_millis(300)).await.unwrap();
    after_release.release().await.unwrap();
}

/// Rollback, discarded pending models, and what may go into a model.
pub(crate) async fn rollback_story(db: &dyn RecDb) {
    let site = "site-r";
    let ids = db
        .upsert_articles(
            site,
            &[article("1", None), article("2", None), article("3", None)],
        )
        .await
        .unwrap();
    let no_current = db.rollback(site, ModelType::Article).await.unwrap_err();
    assert!(
        no_current.to_string().contains("no current model"),
        "{no_current}"
    );
    let m1 = save(db, site, "run-1", &[rec("1", ids["2"], 0.5)]).await;
    let nothing_before = db.rollback(site, ModelType::Article).await.unwrap_err();
    assert!(
        nothing_before.to_string().contains("no earlier model"),
        "{nothing_before}"
    );
    let m2 = save(db, site, "run-2", &[rec("1", ids["3"], 0.6)]).await;
    assert_eq!(
        db.current_recs(site, "1").await.unwrap(),
        [("3".to_string(), 0.6)]
    );

    let done = db.rollback(site, ModelType::Article).await.unwrap();
    assert_eq!((done.from.id, done.from.status.as_str()), (m2, "failed"));
    assert_eq!(
        (done.to.id, done.to.status.as_str(), done.to.run_id.as_str()),
        (m1, "current", "run-1")
    );
    assert_eq!(
        db.current_recs(site, "1").await.unwrap(),
        [("2".to_string(), 0.5)]
    );
    // a retried save of the rolled-back run must not bring it back
    assert_eq!(
        db.begin_model(site, ModelType::Article, "run-2").await.unwrap(),
        ModelStart::AlreadySaved(m2)
    );
    // the rolled-back model is never a rollback target
    assert!(db.rollback(site, ModelType::Article).await.is_err());
    assert_eq!(
        db.current_model(site, ModelType::Article)
            .await
            .unwrap()
            .unwrap()
            .id,
        m1
    );
    // popularity models are untouched by an article rollback
    assert!(db
        .current_model(site, ModelType::Popularity)
        .await
        .unwrap()
        .is_none());

    // recommendations go only into pending models, with storable scores
    let current = db.insert_recs(m1, &[rec("2", ids["1"], 0.1)]).await.unwrap_err();
    assert!(current.to_string().contains("not pending"), "{current}");
    let m3 = fresh(db.begin_model(site, ModelType::Article, "run-3").await.unwrap());
    for bad in [f64::NAN, -0.5, 10.0] {
        let err = db.insert_recs(m3, &[rec("2", ids["1"], bad)]).await.unwrap_err();
        assert!(err.to_string().contains("outside [0, 10)"), "{bad}: {err}");
    }
    // run 3 dies here, pending; run 4 discards it, its own pending model stays
    db.insert_recs(m3, &[rec("2", ids["1"], 0.2)]).await.unwrap();
    let m4 = fresh(db.begin_model(site, ModelType::Article, "run-4").await.unwrap());
    assert_eq!(
        db.discard_pending(site, ModelType::Article, "run-4")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.discard_pending(site, ModelType::Article, "run-4")
            .await
            .unwrap(),
        0
    );
    db.insert_recs(m4, &[rec("2", ids["3"], 0.3)]).await.unwrap();
    db.activate(m4).await.unwrap();
    assert_eq!(
        db.current_recs(site, "2").await.unwrap(),
        [("3".to_string(), 0.3)]
    );
    let m3_again = fresh(db.begin_model(site, ModelType::Article, "run-3").await.unwrap());
    assert_ne!(m3_again, m3, "run 3's pending model was deleted, not kept");

    // pruning keeps the newest `keep` stale and the newest `keep` rolled-back models
    assert_eq!(db.prune_stale(site, ModelType::Article, 1).await.unwrap(), 0);
    assert_eq!(
        db.begin_model(site, ModelType::Article, "run-1").await.unwrap(),
        ModelStart::AlreadySaved(m1),
        "the newest stale model (run 1, stale since run 4) is kept"
    );
    assert_eq!(db.prune_stale(site, ModelType::Article, 0).await.unwrap(), 2);
    assert!(matches!(
        db.begin_model(site, ModelType::Article, "run-2").await.unwrap(),
        ModelStart::Fresh(id) if id != m2
    ));
}

/// A reader querying one source's recommendations while models are saved one
/// after another always sees one whole model: never nothing, never a mix.
pub(crate) async fn readers_see_whole_models(db: &dyn RecDb) {
    let site = "site-c";
    let arts: Vec<ArticleRow> = (0..200).map(|i| article(&i.to_string(), None)).collect();
    let ids = db.upsert_articles(site, &arts).await.unwrap();
    // model v recommends targets 1..=10 for source "0", all with score v/100;
    // other sources fill the model so each save takes a while
    let model = |v: usize| -> Vec<RecRow> {
        let score = v as f64 / 100.0;
        (0..200)
            .flat_map(|s| (1..=10).map(move |t| (s, (s + t) % 200)))
            .map(|(s, t)| rec(&s.to_string(), ids[&t.to_string()], score))
            .collect()
    };
    save(db, site, "run-1", &model(1)).await;
    let versions = 8;
    let done = std::sync::atomic::AtomicBool::new(false);
    let saver = async {
        for v in 2..=versions {
            save(db, site, &format!("run-{v}"), &model(v)).await;
            tokio::task::yield_now().await;
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = async {
        let mut seen = std::collections::BTreeSet::new();
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let recs = db.current_recs(site, "0").await.unwrap();
            assert_eq!(recs.len(), 10, "read {reads}: a whole model has 10: {recs:?}");
            let score = recs[0].1;
            assert!(
                recs.iter().all(|(_, s)| *s == score),
                "read {reads} mixes models: {recs:?}"
            );
            seen.insert((score * 100.0).round() as usize);
            reads += 1;
            tokio::task::yield_now().await;
        }
        (seen, reads)
    };
    let ((), (seen, reads)) = tokio::join!(saver, reader);
    assert!(
        seen.len() >= 2,
        "the reader must have overlapped saves: saw versions {seen:?} in {reads} reads"
    );
    let last = db.current_recs(site, "0").await.unwrap();
    assert!(last
        .iter()
        .all(|(_, s)| (*s - versions as f64 / 100.0).abs() < 1e-9));
}

/// A site with a current model, and a second run's model begun with a
/// million rows ready to load: a save about to die.
pub(crate) struct DyingSave {
    pub(crate) site: &'static str,
    pub(crate) previous: i64,
    pub(crate) dead: i64,
    /// What readers get from the previous model for source "0".
    pub(crate) expected: Vec<(String, f64)>,
    pub(crate) load: Vec<RecRow>,
}

pub(crate) async fn dying_save(db: &dyn RecDb) -> DyingSave {
    let site = "site-k";
    let arts: Vec<ArticleRow> = (0..1000)
        .map(|i| ArticleRow {
            external_id: i.to_string(),
            title: None,
            path: None,
            ..ArticleRow::default()
        })
        .collect();
    let ids = db.upsert_articles(site, &arts).await.unwrap();
    let rec = |s: usize, t: usize| RecRow {
        source_entity_id: s.to_string(),
        recommended_article_id: ids[&t.to_string()],
        score: 0.5,
    };
    let previous = save(db, site, "run-1", &[rec(0, 1), rec(0, 2)]).await;
    let expected = db.current_recs(site, "0").await.unwrap();
    let dead = fresh(
        db.begin_model(site, ModelType::Article, "dying-run")
            .await
            .unwrap(),
    );
    let load = (0..1000)
        .flat_map(|s| (0..1000).map(move |t| (s, t)))
        .map(|(s, t)| rec(s, t))
        .collect();
    DyingSave {
        site,
        previous,
        dead,
        expected,
        load,
    }
}

/// After the save of [`dying_save`] died inside `insert_recs`: the previous
/// model is still what readers get, the dead model is not current, and the
/// next run discards it.
pub(crate) async fn after_a_dead_save(db: &dyn RecDb, d: &DyingSave) {
    let (site, previous, dead) = (d.site, d.previous, d.dead);
    assert_eq!(
        db.current_model(site, ModelType::Article)
            .await
            .unwrap()
            .unwrap()
            .id,
        previous
    );
    assert_eq!(db.current_recs(site, "0").await.unwrap(), d.expected);
    assert!(db.activate(previous).await.is_ok(), "still current");
    assert_eq!(
        db.discard_pending(site, ModelType::Article, "next-run")
            .await
            .unwrap(),
        1
    );
    let next = fresh(
        db.begin_model(site, ModelType::Article, "next-run")
            .await
            .unwrap(),
    );
    assert_ne!(next, dead);
    assert!(db.activate(dead).await.is_err(), "the dead model is gone");
}

/// The API's query: the current article model's recommendations for an
/// article, excluded articles left out, best first, at most `size`; the
/// site's current defaults when the article has none (exclude not applied,
/// as the API does), each row with its model and article nested.
pub(crate) async fn api_story(db: &dyn RecDb) {
    use crate::contract::api::{answer, RecsQuery};
    let site = "site-api";
    let ids = db
        .upsert_articles(
            site,
            &[
                article("10", Some("Ten")),
                article("11", None),
                article("12", None),
            ],
        )
        .await
        .unwrap();
    // another site's article of the same external id is never answered
    db.upsert_articles("site-other", &[article("11", None)])
        .await
        .unwrap();
    let m = fresh(db.begin_model(site, ModelType::Article, "run-1").await.unwrap());
    db.insert_recs(
        m,
        &[
            rec("10", ids["11"], 0.9),
            rec("10", ids["12"], 0.95),
            rec("11", ids["10"], 0.5),
        ],
    )
    .await
    .unwrap();
    let query = |source: &str, exclude: &[&str], size: u32| RecsQuery {
        site: site.into(),
        source_entity_id: Some(source.into()),
        model_type: ModelType::Article,
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        size,
    };
    // a pending model is not served
    assert!(db.api_recs(&query("10", &[], 20)).await.unwrap().is_empty());
    db.activate(m).await.unwrap();
    let all = db.api_recs(&query("10", &[], 20)).await.unwrap();
    let external: Vec<&str> = all
        .iter()
        .map(|r| r.recommended_article.external_id.as_str())
        .collect();
    assert_eq!(external, ["12", "11"], "best first");
    let first = &all[0];
    assert_eq!(first.score, "0.950000");
    assert_eq!(first.source_entity_id, "10");
    assert_eq!((first.model.id, first.model.model_type.as_str()), (m, "article"));
    assert_eq!(
        (first.model.status.as_str(), first.model.site.as_str()),
        ("current", site)
    );
    assert_eq!(first.recommended_article.id, ids["12"]);
    assert_eq!(first.recommended_article.path.as_deref(), Some("/article/12/x"));
    assert_eq!(
        first.recommended_article.published_at.as_deref(),
        Some("2026-01-01T00:00:00+00:00")
    );
    assert!(first.created_at.ends_with("+00:00"), "{}", first.created_at);
    let json = serde_json::to_value(first).unwrap();
    assert_eq!(json["model"]["type"], "article");
    assert_eq!(json["recommended_article"]["external_id"], "12");
    assert_eq!(db.api_recs(&query("10", &["12"], 20)).await.unwrap().len(), 1);
    assert_eq!(db.api_recs(&query("10", &[], 1)).await.unwrap().len(), 1);

    // no recommendations for the article: the site's defaults, once current
    let unknown = query("99", &["10"], 2);
    let none = answer(db, &unknown).await.unwrap();
    assert!(none.results.is_empty() && none.fallback);
    let p = fresh(
        db.begin_model(site, ModelType::Popularity, "run-1")
            .await
            .unwrap(),
    );
    db.insert_recs(
        p,
        &[
            rec(DEFAULT_SOURCE, ids["10"], 1.0),
            rec(DEFAULT_SOURCE, ids["11"], 0.4),
            rec(DEFAULT_SOURCE, ids["12"], 0.7),
        ],
    )
    .await
    .unwrap();
    db.activate(p).await.unwrap();
    let fallback = answer(db, &unknown).await.unwrap();
    assert!(fallback.fallback);
    let external: Vec<&str> = fallback
        .results
        .iter()
        .map(|r| r.recommended_article.external_id.as_str())
        .collect();
    assert_eq!(
        external,
        ["10", "12"],
        "the defaults' first `size`, exclude not applied"
    );
    assert_eq!(fallback.results[0].model.model_type, "popularity");
    assert_eq!(fallback.results[0].source_entity_id, DEFAULT_SOURCE);
    let served = answer(db, &query("11", &[], 5)).await.unwrap();
    assert!(!served.fallback);
    assert_eq!(served.results[0].recommended_article.external_id, "10");
}
