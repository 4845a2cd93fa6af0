use super::*;
use crate::adapters::db::conformance;
use crate::contract::error::ErrorKind;

/// A database in a schema of its own, dropped by [`Scratch::drop_schema`].
struct Scratch {
    db: PgDb,
    schema: String,
}

impl Scratch {
    async fn new(name: &str) -> Scratch {
        let url = crate::devtools::test_database_url();
        let schema = format!("t_{name}_{}_{}", std::process::id(), rand::random::<u32>());
        let db = PgDb::open(&url, Some(&schema)).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is needed: {e}",
                crate::contract::redact::redact(&url)
            )
        });
        Scratch { db, schema }
    }

    async fn drop_schema(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(self.db.pool())
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn postgres_answers_the_apis_query() {
    let t = Scratch::new("api").await;
    conformance::api_story(&t.db).await;
    t.drop_schema().await;
}

#[tokio::test]
async fn postgres_passes_the_conformance_story() {
    let t = Scratch::new("conf").await;
    conformance::story(&t.db).await;
    let again = PgDb::open(&crate::devtools::test_database_url(), Some(&t.schema))
        .await
        .unwrap();
    assert!(again
        .current_model("site-a", ModelType::Article)
        .await
        .unwrap()
        .is_some());
    t.drop_schema().await;
}

/// A role that is not a superuser (as an application's usually is) takes
/// the path with per-row key checks, and tells the same story.
#[tokio::test]
async fn postgres_without_superuser_checks_keys_per_row() {
    let admin = Scratch::new("admin").await;
    assert!(
        admin.db.may_skip_key_triggers().await.unwrap(),
        "the test database's superuser"
    );
    let role = format!("t_app_{}_{}", std::process::id(), rand::random::<u32>());
    let schema = format!("{role}_s");
    for sql in [
        format!("CREATE ROLE {role} LOGIN NOSUPERUSER"),
        format!("CREATE SCHEMA {schema} AUTHORIZATION {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(admin.db.pool())
            .await
            .unwrap();
    }
    let mut url: reqwest::Url = crate::devtools::test_database_url().parse().unwrap();
    url.set_username(&role).unwrap();
    url.set_password(None).unwrap();
    let app = PgDb::open(url.as_str(), Some(&schema)).await.unwrap();
    assert!(!app.may_skip_key_triggers().await.unwrap());
    conformance::story(&app).await;
    app.pool().close().await;
    for sql in [
        format!("DROP SCHEMA {schema} CASCADE"),
        format!("DROP ROLE {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(admin.db.pool())
            .await
            .unwrap();
    }
    admin.drop_schema().await;
}

#[tokio::test]
async fn postgres_site_lock() {
    let t = Scratch::new("lock").await;
    conformance::lock_story(&t.db).await;
    // a second process (another pool) is excluded too
    let other = PgDb::open(&crate::devtools::test_database_url(), Some(&t.schema))
        .await
        .unwrap();
    let held =
        t.db.lock_site("site-x", std::time::Duration::from_secs(1))
            .await
            .unwrap();
    let err = other
        .lock_site("site-x", std::time::Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("article-rec/{}", t.schema)),
        "names the holder: {err}"
    );
    held.release().await.unwrap();
    other
        .lock_site("site-x", std::time::Duration::from_secs(1))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    t.drop_schema().await;
}

#[tokio::test]
async fn postgres_rollback_and_cleanup() {
    let t = Scratch::new("rollback").await;
    conformance::rollback_story(&t.db).await;
    t.drop_schema().await;
}

#[tokio::test]
async fn postgres_readers_never_see_an_empty_or_mixed_model() {
    let t = Scratch::new("readers").await;
    conformance::readers_see_whole_models(&t.db).await;
    t.drop_schema().await;
}

#[tokio::test]
async fn postgres_save_killed_midway_leaves_the_previous_model_current() {
    let t = Scratch::new("killed").await;
    let d = conformance::dying_save(&t.db).await;
    let (dead, load) = (d.dead, d.load.clone());
    let db = t.db.clone();
    let copy = tokio::spawn(async move { db.insert_recs(dead, &load).await });
    // drop the COPY's connection from the server side, as a crash or a network cut would
    let app = format!("article-rec/{}", t.schema);
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&crate::devtools::test_database_url())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND query LIKE 'COPY recommendation%' AND state = 'active'",
        )
        .bind(&app)
        .fetch_one(&admin)
        .await
        .unwrap();
        if killed > 0 {
            break;
        }
        assert!(!copy.is_finished(), "the COPY ended before it could be killed");
        assert!(started.elapsed().as_secs() < 60, "no COPY seen in 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let err = copy.await.unwrap().expect_err("the killed COPY must fail");
    assert_eq!(
        err.kind(),
        ErrorKind::Transient,
        "a dropped connection is worth a retry: {err}"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM model WHERE id = $1")
        .bind(dead as i32)
        .fetch_one(t.db.pool())
        .await
        .unwrap();
    assert_eq!(status, "pending", "a half-loaded model is never switched in");
    conformance::after_a_dead_save(&t.db, &d).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM recommendation WHERE model_id = $1")
        .bind(dead as i32)
        .fetch_one(t.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "the next run deleted whatever the killed load left");
    admin.close().await;
    t.drop_schema().await;
}

#[test]
fn copy_rows_escape_the_text_column() {
    let mut buf = Vec::new();
    let r = RecRow {
        source_entity_id: "a\tb\\c\nd".into(),
        recommended_article_id: 7,
        score: 0.123_456_7,
    };
    copy_row(&mut buf, 3, &r, 7);
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "3\ta\\tb\\\\c\\nd\t7\t0.123457\n"
    );
}
