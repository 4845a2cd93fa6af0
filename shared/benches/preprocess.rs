//! Preprocess time and memory on a large window of events.
//!
//! `cargo bench -p article-rec-core --bench preprocess` (BENCH_EVENTS, default
//! 20,000,000). Seeded events (28 days; readers and articles drawn from
//! skewed distributions, sessions of page pings 10 to 40 s apart; 15% of
//! events on fronts and other non-article pages) are aggregated hour by hour
//! as fetch aggregates them (`fetch::partial`) into the window's partials
//! under `target/bench-data/preprocess-<n>/`, then this binary runs itself
//! again so the peak memory is the measurement's alone. It reports the merge
//! of the partials (dwell per pair) and the whole stage (with the 2-core,
//! the metadata step on the local SQLite cache and the Parquet writes).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]
// A bench binary takes its size from the environment, not from Settings.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use article_rec_core::adapters::storage::LocalDir;
use article_rec_core::contract::stage::{FetchOutput, PreprocessInput, RunRef};
use article_rec_core::devtools::{fetched_events, TestEvent};
use article_rec_core::settings::Settings;
use article_rec_core::stages::preprocess;
use article_rec_core::Context;
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};

const END: &str = "2026-11-01T00:00:00Z";
const DAYS: i64 = 28;
const ARTICLES: usize = 20_000;

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

/// The window's partials, aggregated a day of events at a time (so
/// generation's own memory stays small); fetch's output saved beside them.
async fn generate_once(dir: &Path, events: usize) {
    let done = dir.join("fetch.json");
    if done.exists() {
        return;
    }
    let store: std::sync::Arc<dyn article_rec_core::contract::storage::BlobStore> =
        std::sync::Arc::new(LocalDir::new(dir.join("store")));
    let readers = events / 20;
    let end: DateTime<Utc> = END.parse().unwrap();
    let start_ms = end.timestamp_millis() - DAYS * 86_400_000;
    let paths: Vec<String> = (0..ARTICLES)
        .map(|a| format!("/article/{}/a-story-about-thing-number-{a}", 500_000 + a))
        .chain(["/", "/news", "/food", "/city-desk", "/newsletters"].map(String::from))
        .collect();
    let client_ids: Vec<String> = (0..readers).map(|r| format!("{r:08x}-reader")).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20);
    let per_day = events / DAYS as usize;
    let mut all: Option<FetchOutput> = None;
    let mut partials: Vec<serde_json::Value> = Vec::new();
    for day in 0..DAYS {
        let day_start = start_ms + day * 86_400_000;
        let mut day_events: Vec<TestEvent<'_>> = Vec::with_capacity(per_day);
        while day_events.len() < per_day {
            let reader = skewed(&mut rng, readers);
            let path = if rng.random_bool(0.15) {
                ARTICLES + rng.random_range(0..5)
            } else {
                skewed(&mut rng, ARTICLES)
            };
            let mut t = day_start + rng.random_range(0..86_400_000 - 600_000);
            for _ in 0..rng.random_range(1..12).min(per_day - day_events.len()) {
                day_events.push(TestEvent {
                    client_id: client_ids[reader].as_str(),
                    time_ms: t,
                    path: paths[path].as_str(),
                });
                t += rng.random_range(10_000..40_000);
            }
        }
        let run = RunRef {
            run_id: format!("day-{day}"),
            ..run_ref()
        };
        let out = fetched_events(store.clone(), &run, 600_000, &day_events)
            .await
            .unwrap();
        let layout = article_rec_core::contract::layout::RunLayout::new(&run).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&store.get(&layout.partials()).await.unwrap()).unwrap();
        partials.extend(json["hours"].as_array().unwrap().iter().cloned());
        match &mut all {
            None => all = Some(out),
            Some(a) => {
                a.counts.kept += out.counts.kept;
                a.counts.parsed.events += out.counts.parsed.events;
            }
        }
    }
    // one window of every day's hours, as fetch would list them
    let mut out = all.unwrap();
    let layout = article_rec_core::contract::layout::RunLayout::new(&run_ref()).unwrap();
    let window = serde_json::json!({
        "window": run_ref().window(DAYS as u32),
        "hours": partials,
    });
    let writer = article_rec_core::contract::checked_store::CheckedStore::new(
        store.clone(),
        Default::default(),
        Vec::new(),
    );
    store_put(&writer, &layout.partials(), serde_json::to_vec(&window).unwrap()).await;
    article_rec_core::adapters::parquet::DuplicateColumns::default()
        .write(&writer, &layout.duplicates())
        .await
        .unwrap();
    out.files = writer.written();
    out.partials_key = layout.partials().to_string();
    out.duplicates_key = layout.duplicates().to_string();
    std::fs::write(&done, serde_json::to_vec(&out).unwrap()).unwrap();
}

async fn store_put(
    store: &dyn article_rec_core::contract::storage::BlobStore,
    key: &article_rec_core::contract::layout::ObjectKey,
    body: Vec<u8>,
) {
    store.put(key, bytes::Bytes::from(body)).await.unwrap();
}

async fn measure(dir: &Path) {
    let run = run_ref();
    let fetch: FetchOutput = serde_json::from_slice(&std::fs::read(dir.join("fetch.json")).unwrap()).unwrap();
    let mut settings = Settings::local(dir);
    settings.site = "example".into();
    settings.days_of_data = DAYS as u32;
    let ctx = Context::from_settings(settings).await.unwrap();
    let t0 = Instant::now();
    let out = preprocess::run(PreprocessInput { run, fetch }, &ctx)
        .await
        .unwrap();
    let f = &out.funnel;
    println!(
        "preprocess stage ({} events: merge of {} hours' partials, 2-core, metadata for {} articles, writes): {:.2} s; {} readers x {} articles -> {} x {} in {} passes, {} pairs; peak RSS {:.0} MiB",
        f.events,
        DAYS * 24,
        f.articles,
        t0.elapsed().as_secs_f64(),
        f.readers_before_filter,
        f.articles_before_filter,
        f.readers,
        f.articles,
        f.filter_passes,
        f.pairs,
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
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(generate_once(&dir, events));
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
