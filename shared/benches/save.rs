//! Save's two costs: nearest neighbours over the article factors, and the bulk
//! load of recommendations into PostgreSQL.
//!
//! `cargo bench -p article-rec-core --bench save` with PostgreSQL at
//! TEST_DATABASE_URL (default the machine's, database `test`); the bench works
//! in a schema of its own and drops it. Sizes: BENCH_ARTICLES (50,000),
//! BENCH_FACTORS (64), BENCH_RECS (1,000,000). It reports:
//! - nearest neighbours (top 20, blocked, parallel): seconds and peak memory;
//! - COPY of the recommendations into a pending model: rows per second;
//! - the switch to current: milliseconds.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]
// A bench binary takes its size from the environment, not from Settings.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Instant;

use article_rec_core::adapters::db::PgDb;
use article_rec_core::contract::database::{ArticleRow, ModelStart, ModelType, RecDb, RecRow};
use article_rec_core::recommend::neighbours::nearest;
use ndarray::Array2;
use rand::{Rng, SeedableRng};

const MAX_RECS: usize = 20;

fn bench_knn(n: usize, k: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let factors = Array2::from_shape_fn((n, k), |_| rng.random::<f32>() - 0.5);
    let decay: Vec<f32> = (0..n).map(|_| rng.random_range(0.1..1.0)).collect();
    let excluded: Vec<bool> = (0..n).map(|i| i % 100 == 0).collect();
    let before = common::peak_rss_mib();
    let t = Instant::now();
    let lists = nearest(factors.view(), &decay, &excluded, MAX_RECS);
    let secs = t.elapsed().as_secs_f64();
    let listed: usize = lists.iter().map(Vec::len).sum();
    assert_eq!(listed, n * MAX_RECS);
    println!(
        "nearest neighbours: {n} articles x {k} factors, top {MAX_RECS}: {secs:.2} s on {} threads \
         ({:.0} articles/s); peak RSS {:.0} MiB (factors and inputs {:.0} MiB before)",
        rayon::current_num_threads(),
        n as f64 / secs,
        common::peak_rss_mib(),
        before
    );
}

async fn bench_copy(recs: usize) {
    let url = article_rec_core::devtools::test_database_url();
    let schema = format!("bench_save_{}", std::process::id());
    let db = PgDb::open(&url, Some(&schema)).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is needed ({}): {e}",
            article_rec_core::contract::redact::redact(&url)
        )
    });
    let site = "bench";
    let articles = (recs / MAX_RECS).max(MAX_RECS + 1);
    let rows: Vec<ArticleRow> = (0..articles)
        .map(|i| ArticleRow {
            external_id: format!("{}", 1_000_000 + i),
            title: Some(format!("Article {i}")),
            path: Some(format!("/article/{}/some-slug", 1_000_000 + i)),
            ..ArticleRow::default()
        })
        .collect();
    let t = Instant::now();
    let ids = db.upsert_articles(site, &rows).await.unwrap();
    let upsert_secs = t.elapsed().as_secs_f64();
    let id_of: Vec<i64> = rows.iter().map(|r| ids[&r.external_id]).collect();
    let recs: Vec<RecRow> = (0..recs)
        .map(|i| {
            let src = i / MAX_RECS;
            let nb = (src + 1 + i % MAX_RECS) % articles;
            RecRow {
                source_entity_id: rows[src % articles].external_id.clone(),
                recommended_article_id: id_of[nb],
                score: 1.0 - (i % MAX_RECS) as f64 / 40.0,
            }
        })
        .collect();
    // a current model first, so the switch retires one as in production
    let ModelStart::Fresh(first) = db.begin_model(site, ModelType::Article, "run-0").await.unwrap() else {
        panic!("fresh schema")
    };
    db.insert_recs(first, &recs[..MAX_RECS]).await.unwrap();
    db.activate(first).await.unwrap();

    let ModelStart::Fresh(model) = db.begin_model(site, ModelType::Article, "run-1").await.unwrap() else {
        panic!("fresh schema")
    };
    let t = Instant::now();
    let written = db.insert_recs(model, &recs).await.unwrap();
    let copy_secs = t.elapsed().as_secs_f64();
    assert_eq!(written as usize, recs.len());
    let t = Instant::now();
    db.activate(model).await.unwrap();
    let switch_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "PostgreSQL save: {articles} articles upserted in {upsert_secs:.2} s; {written} recommendations \
         copied in {copy_secs:.2} s = {:.0} rows/s; switch to current {switch_ms:.1} ms",
        written as f64 / copy_secs
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(db.pool())
        .await
        .unwrap();
}

fn main() {
    let n = common::env_usize("BENCH_ARTICLES", 50_000);
    let k = common::env_usize("BENCH_FACTORS", 64);
    let recs = common::env_usize("BENCH_RECS", 1_000_000);
    bench_knn(n, k);
    tokio::runtime::Runtime::new().unwrap().block_on(bench_copy(recs));
}
