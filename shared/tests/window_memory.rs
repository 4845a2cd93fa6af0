//! What the window costs in memory: fetch's gathering of the window's hours
//! and preprocess's merge hold what grows with reader x article pairs, never
//! the window's events. One generated site is read over 1 day and over 4
//! days (readers come back; each reading is many page pings); the peak of
//! live heap during each stage is measured with a counting allocator, so the
//! figures are exact and the same on every run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use article_rec_core::contract::layout::InputLayout;
use article_rec_core::contract::stage::{FetchInput, PreprocessInput, RunRef};
use article_rec_core::devtools::generate::{self, Spec};
use article_rec_core::settings::Settings;
use article_rec_core::Context;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator unchanged; only counts are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now =
                    LIVE.fetch_add(new_size - layout.size(), Ordering::SeqCst) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::SeqCst);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes above `LIVE` at the start that the future peaked at.
async fn peak_of<T>(f: impl std::future::Future<Output = T>) -> (T, usize) {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let out = f.await;
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(before))
}

struct Measured {
    events: u64,
    pairs: u64,
    fetch: usize,
    preprocess: usize,
}

async fn measure(ctx: &Context, days: u32) -> Measured {
    let mut settings = ctx.settings.clone();
    settings.days_of_data = days;
    let ctx = Context::with_adapters(
        ctx.store.clone(),
        ctx.input.clone(),
        Some(
            article_rec_core::adapters::db::open(&settings.database_url)
                .await
                .unwrap(),
        ),
        settings,
        ctx.metrics.clone(),
    );
    let run = RunRef {
        site: "example".into(),
        run_id: format!("days-{days}"),
        as_of: "2026-11-05T00:00:00Z".parse().unwrap(),
    };
    // every hour parsed and cached first: the stage then reads the window
    article_rec_core::stages::fetch::run(FetchInput { run: run.clone() }, &ctx)
        .await
        .unwrap();
    let (fetch, fetch_peak) = peak_of(article_rec_core::stages::fetch::run(
        FetchInput { run: run.clone() },
        &ctx,
    ))
    .await;
    let fetch = fetch.unwrap();
    let (pre, pre_peak) = peak_of(article_rec_core::stages::preprocess::run(
        PreprocessInput {
            run: run.clone(),
            fetch: fetch.clone(),
        },
        &ctx,
    ))
    .await;
    let pre = pre.unwrap();
    Measured {
        events: fetch.counts.kept,
        pairs: pre.funnel.pairs.max(1),
        fetch: fetch_peak,
        preprocess: pre_peak,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_costs_memory_by_pairs_not_by_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::local(dir.path());
    settings.fetch_map_min_hours = 0;
    let ctx = Context::from_settings(settings).await.unwrap();
    let mut spec = Spec::sample("example", "2026-11-05T00:00:00Z".parse().unwrap(), 4, 11);
    spec.readers = 3_000;
    spec.articles = 300;
    spec.sessions_per_reader = 6.0;
    let input = InputLayout::new(&ctx.settings.input_prefix).unwrap();
    let data = generate::generate(&spec, &input).unwrap();
    generate::write(&data, ctx.store.as_ref(), &input, "example")
        .await
        .unwrap();
    drop(data);

    let one = measure(&ctx, 1).await;
    let four = measure(&ctx, 4).await;
    for (days, m) in [(1, &one), (4, &four)] {
        eprintln!(
            "{days} day(s): {} events, {} pairs kept; peak heap: fetch {:.1} MiB ({:.1} bytes an event), preprocess {:.1} MiB ({:.1} bytes an event, {:.0} a pair)",
            m.events,
            m.pairs,
            m.fetch as f64 / 1048576.0,
            m.fetch as f64 / m.events as f64,
            m.preprocess as f64 / 1048576.0,
            m.preprocess as f64 / m.events as f64,
            m.preprocess as f64 / m.pairs as f64
        );
    }
    assert!(four.events > 3 * one.events, "four days hold more events");
    let events_grew = four.events as f64 / one.events as f64;
    let pairs_grew = four.pairs as f64 / one.pairs as f64;
    // what the window's events would cost at the 66 to 86 bytes an event the
    // stages held before: the merge and preprocess hold a fraction of it
    for (stage, m) in [("fetch", four.fetch), ("preprocess", four.preprocess)] {
        let per_event = m as f64 / four.events as f64;
        assert!(
            per_event < 30.0,
            "{stage} held {per_event:.1} bytes an event of the window"
        );
    }
    // and what they hold grows no faster than the pairs do
    let pre_grew = four.preprocess as f64 / one.preprocess as f64;
    assert!(
        pre_grew <= pairs_grew * 1.25,
        "preprocess grew {pre_grew:.2}x for {pairs_grew:.2}x the pairs and {events_grew:.2}x the events"
    );
    let fetch_grew = four.fetch as f64 / one.fetch as f64;
    assert!(
        fetch_grew <= pairs_grew * 1.25,
        "fetch grew {fetch_grew:.2}x for {pairs_grew:.2}x the pairs and {events_grew:.2}x the events"
    );
}
