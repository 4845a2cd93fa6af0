use super::*;
use crate::adapters::db::conformance;

async fn scratch() -> (tempfile::TempDir, SqliteDb, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.sqlite").display());
    let db = SqliteDb::open(&url).await.unwrap();
    (dir, db, url)
}

#[tokio::test]
async fn sqlite_answers_the_apis_query() {
    let (_dir, db, _url) = scratch().await;
    conformance::api_story(&db).await;
}

#[tokio::test]
async fn sqlite_passes_the_conformance_story() {
    let (_dir, db, url) = scratch().await;
    conformance::story(&db).await;
    // opening again re-applies nothing and keeps the data
    let again = SqliteDb::open(&url).await.unwrap();
    assert!(again
        .current_model("site-a", ModelType::Article)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn sqlite_site_lock() {
    let (_dir, db, url) = scratch().await;
    conformance::lock_story(&db).await;
    // another opening of the file (as another process would) is excluded too
    let other = SqliteDb::open(&url).await.unwrap();
    let held = db.lock_site("site-x", Duration::from_secs(1)).await.unwrap();
    assert!(other
        .lock_site("site-x", Duration::from_millis(200))
        .await
        .is_err());
    held.release().await.unwrap();
    other
        .lock_site("site-x", Duration::from_secs(1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_rollback_and_cleanup() {
    let (_dir, db, _url) = scratch().await;
    conformance::rollback_story(&db).await;
}

#[tokio::test]
async fn sqlite_readers_never_see_an_empty_or_mixed_model() {
    let (_dir, db, _url) = scratch().await;
    conformance::readers_see_whole_models(&db).await;
}

#[tokio::test]
async fn sqlite_save_killed_midway_leaves_the_previous_model_current() {
    let (_dir, db, _url) = scratch().await;
    let d = conformance::dying_save(&db).await;
    let (dead, load) = (d.dead, d.load.clone());
    let writer = db.clone();
    let insert = tokio::spawn(async move { writer.insert_recs(dead, &load).await });
    // let it get well into the transaction, then kill it, as a dying process would
    tokio::time::sleep(Duration::from_millis(300)).await;
    insert.abort();
    let outcome = insert.await;
    assert!(
        outcome.as_ref().is_err_and(tokio::task::JoinError::is_cancelled),
        "the insert of a million rows must still be running after 300 ms: {outcome:?}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM recommendation WHERE model_id = ?")
        .bind(dead)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing of the killed insert is kept");
    conformance::after_a_dead_save(&db, &d).await;
}
