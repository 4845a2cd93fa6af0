//! Preprocess time and memory on a large window of events.
//!
//! `cargo bench -p article-rec-core --bench preprocess` (BENCH_EVENTS, default
//! 20,000,000). A seeded `events.parquet` as fetch writes it (28 days; readers
//! and articles drawn from skewed distributions, sessions of page pings 10 to
//! 40 s apart; 15% of events on fronts and other non-article pages) is written
//! once under `target/bench-data/preprocess-<n>/`, then this binary runs itself
//! again so the peak memory is the measurement's alone. It reports the pure
//! transform (read, article rule, 2-core, dwell) and the whole stage (with the
//! metadata step on the local SQLite cache and the Parquet writes).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]
// A bench binary takes its size from the environment, not from Settings.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use article_rec::adapters::site::StaticCatalog;
use article_rec::adapters::storage::LocalDir;
use article_rec::contract::layout::RunLayout;
use article_rec::contract::parquet::{
    self, date_array, datetime_ms_array, str_array, StreamWriter, Table, EVENTS,
};
use article_rec::contract::settings::Settings;
use article_rec::contract::stage::{PreprocessInput, RunRef};
use article_rec::contract::storage::BlobStore;
use article_rec::preprocess;
use article_rec::Context;
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};

const END: &str = "2026-11-01T00:00:00Z";
const DAYS: i64 = 28;
const ARTICLES: usize = 20_000;
/// Rows per generated chunk: keeps generation's own memory small.
const CHUNK: usize = 2_000_000;

fn data_dir(events: usize) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/bench-data/preprocess-{events}"))
}

fn run_ref() -> RunRef {
    RunRef {
        site: "example".into(),
        run_id: "bench".into(),
        as_of: END.parse().unwrap(),
    }
}

/// A skewed draw in `0..n`: a few items get most of the traffic.
fn skewed(rng: &mut impl Rng, n: usize) -> usize {
    let u: f64 = rng.random();
    ((n as f64) * u.powf(3.0)) as usize % n
}

fn generate_once(dir: &Path, events: usize) {
    let layout = RunLayout::new(&run_ref()).unwrap();
    let key = layout.events();
    let file = dir.join("store").join(key.as_str());
    if file.exists() {
        return;
    }
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let readers = events / 20;
    let end: DateTime<Utc> = END.parse().unwrap();
    let start_ms = end.timestamp_millis() - DAYS * 86_400_000;
    let paths: Vec<String> = (0..ARTICLES)
        .map(|a| format!("/article/{}/a-story-about-thing-number-{a}", 500_000 + a))
        .chain(["/", "/news", "/food", "/city-desk", "/newsletters"].map(String::from))
        .collect();
    let client_ids: Vec<String> = (0..readers).map(|r| format!("{r:08x}-reader")).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20);
    let mut out = Vec::new();
    let mut writer = StreamWriter::new(&mut out, &EVENTS, &key).unwrap();
    let mut written = 0;
    let mut serial = 0u64;
    while written < events {
        let n = CHUNK.min(events - written);
        let (mut who, mut when, mut page) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        while who.len() < n {
            let reader = skewed(&mut rng, readers);
            let path = if rng.random_bool(0.15) {
                ARTICLES + rng.random_range(0..5)
            } else {
                skewed(&mut rng, ARTICLES)
            };
            let mut t = start_ms + rng.random_range(0..DAYS * 86_400_000);
            for _ in 0..rng.random_range(1..12).min(n - who.len()) {
                who.push(client_ids[reader].as_str());
                when.push(t);
                page.push(paths[path].as_str());
                t += rng.random_range(10_000..40_000);
            }
        }
        let days: Vec<i32> = when.iter().map(|t| t.div_euclid(86_400_000) as i32).collect();
        let ids: Vec<String> = (0..n)
            .map(|_| {
                serial += 1;
                format!("{serial:032x}")
            })
            .collect();
        let frame = Table::new(
            &EVENTS,
            &key,
            vec![
                str_array(&who),
                datetime_ms_array(when),
                date_array(days),
                str_array(&page),
                str_array(&vec!["page_ping"; n]),
                str_array(&ids),
            ],
        )
        .unwrap();
        writer.write(&frame).unwrap();
        written += n;
    }
    writer.finish().unwrap();
    std::fs::write(&file, out).unwrap();
}

async fn measure(dir: &Path) {
    let run = run_ref();
    let layout = RunLayout::new(&run).unwrap();
    let store = LocalDir::new(dir.join("store"));
    let size = store.get(&layout.events()).await.unwrap().len();

    let t0 = Instant::now();
    let events = parquet::read_columns(&store, &layout.events(), &EVENTS, &preprocess::EVENT_COLUMNS)
        .await
        .unwrap();
    let t_read = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let prepared =
        preprocess::transform::transform(&events, &StaticCatalog::default(), 600.0, &layout.dwell()).unwrap();
    let t_transform = t1.elapsed().as_secs_f64();
    let f = &prepared.funnel;
    println!(
        "preprocess transform: {} events ({:.0} MiB Parquet): read {t_read:.2} s, transform {t_transform:.2} s, \
         total {:.2} s; {} readers x {} articles -> {} x {} in {} passes, {} pairs; peak RSS {:.0} MiB",
        f.events,
        size as f64 / 1048576.0,
        t_read + t_transform,
        f.readers_before_filter,
        f.articles_before_filter,
        f.readers,
        f.articles,
        f.filter_passes,
        f.pairs,
        common::peak_rss_mib()
    );
    drop((events, prepared));

    let mut settings = Settings::local(dir);
    settings.site = "example".into();
    let ctx = Context::from_settings(settings).await.unwrap();
    let t2 = Instant::now();
    let fetch = article_rec::devtools::fetched_events(ctx.store.as_ref(), &layout)
        .await
        .unwrap();
    let out = preprocess::run(PreprocessInput { run, fetch }, &ctx)
        .await
        .unwrap();
    println!(
        "preprocess stage (read, transform, metadata for {} articles, writes): {:.2} s; peak RSS {:.0} MiB",
        out.funnel.articles,
        t2.elapsed().as_secs_f64(),
        common::peak_rss_mib()
    );
}

fn main() {
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000);
    let dir = data_dir(events);
    if std::env::args().any(|a| a == "--measure") {
        tokio::runtime::Runtime::new().unwrap().block_on(measure(&dir));
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes benches; nothing to list
    }
    let t0 = Instant::now();
    generate_once(&dir, events);
    println!(
        "data: {} ({events} events, ready in {:.0} s)",
        dir.display(),
        t0.elapsed().as_secs_f64()
    );
    let status = Command::new(std::env::current_exe().unwrap())
        .arg("--measure")
        .env("BENCH_EVENTS", events.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}
