//! Which late duplicates fetch catches, measured on a generated site: copies
//! of page events planted in the partition `delay` hours after their
//! original's, as Snowplow's at-least-once delivery lands them. The whole-
//! window check of earlier releases caught every copy in the window; the
//! cross-hour check holds `DEDUP_HOURS` hours of identities and catches a
//! copy exactly when it is no more than that late. The table printed is the
//! one the README quotes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::BTreeSet;

use article_rec_core::contract::layout::InputLayout;
use article_rec_core::contract::stage::{FetchInput, RunRef};
use article_rec_core::devtools::generate::{self, Generated, Spec};
use article_rec_core::settings::Settings;
use article_rec_core::stages::fetch::snowplow::fields as f;
use article_rec_core::Context;
use chrono::{DateTime, Duration, Utc};
use rand::seq::IndexedRandom;
use rand::SeedableRng;

const DELAYS_HOURS: [i64; 8] = [1, 2, 6, 12, 24, 25, 36, 48];
const COPIES_PER_DELAY: usize = 40;
const DAYS: u32 = 3;

fn end() -> DateTime<Utc> {
    "2026-11-05T00:00:00Z".parse().unwrap()
}

/// The page events of the site's own app: the lines fetch keeps.
fn is_page_event(line: &str, app_id: &str) -> bool {
    let cols: Vec<&str> = line.split('\t').collect();
    cols.len() > f::EVENT && cols[f::APP_ID] == app_id && matches!(cols[f::EVENT], "page_view" | "page_ping")
}

/// The site with `copies` page events of distinct ids copied into the
/// partition `delay` hours after their own.
fn with_late_copies(site: &Generated, delay: i64, copies: usize, seed: u64) -> Generated {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Generated {
        app_id: site.app_id.clone(),
        hours: site.hours.clone(),
        catalog: site.catalog.clone(),
        truth: site.truth.clone(),
    };
    let candidates: Vec<(DateTime<Utc>, &String)> = site
        .hours
        .iter()
        .filter(|(h, _)| **h + Duration::hours(delay) < end())
        .flat_map(|(h, lines)| lines.iter().map(move |l| (*h, l)))
        .filter(|(_, l)| is_page_event(l, &site.app_id))
        .collect();
    let mut ids = BTreeSet::new();
    let mut planted = 0;
    while planted < copies {
        let (hour, line) = *candidates.choose(&mut rng).unwrap();
        // one copy of an event at most, so each copy has one original
        if ids.insert(line.split('\t').nth(f::EVENT_ID).unwrap().to_string()) {
            out.hours
                .entry(hour + Duration::hours(delay))
                .or_default()
                .push(line.clone());
            planted += 1;
        }
    }
    out
}

/// Duplicates fetch finds in the site with `dedup_hours`.
async fn duplicates_found(dedup_hours: u32, ctx: &Context, run_id: &str) -> u64 {
    let mut settings = ctx.settings.clone();
    settings.dedup_hours = dedup_hours;
    let ctx = Context::with_adapters(
        ctx.store.clone(),
        ctx.input.clone(),
        None,
        settings,
        ctx.metrics.clone(),
    );
    let run = RunRef {
        site: "example".into(),
        run_id: run_id.into(),
        as_of: end(),
    };
    let out = article_rec_core::stages::fetch::run(FetchInput { run }, &ctx)
        .await
        .unwrap();
    out.counts.duplicates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_copy_is_caught_within_dedup_hours_and_the_whole_window_caught_them_all() {
    let mut spec = Spec::sample("example", end(), DAYS, 17);
    spec.readers = 400;
    spec.articles = 80;
    spec.duplicates = 0;
    spec.malformed_per_kind = 0;
    // a bot's events are dropped before de-duplication: its copies too
    spec.bots = 0;
    let defaults = Settings::local(std::path::Path::new("."));
    let dedup_hours = defaults.dedup_hours;
    let input = InputLayout::new(&defaults.input_prefix).unwrap();
    let site = generate::generate(&spec, &input).unwrap();
    let whole_window = DAYS * 24;

    let mut rows = Vec::new();
    for (n, delay) in DELAYS_HOURS.into_iter().enumerate() {
        let planted = with_late_copies(&site, delay, COPIES_PER_DELAY, 100 + n as u64);
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::local(dir.path());
        settings.days_of_data = DAYS;
        let ctx = Context::from_settings(settings).await.unwrap();
        generate::write(&planted, ctx.store.as_ref(), &input, "example")
            .await
            .unwrap();
        let caught = duplicates_found(dedup_hours, &ctx, "dedup").await;
        let whole = duplicates_found(whole_window, &ctx, "whole").await;
        rows.push((delay, caught, whole));
    }

    eprintln!("late copies planted: {COPIES_PER_DELAY} a delay; DEDUP_HOURS={dedup_hours}");
    eprintln!("| delay (hours) | caught, DEDUP_HOURS={dedup_hours} | caught, whole window |");
    for (delay, caught, whole) in &rows {
        eprintln!("| {delay} | {caught} | {whole} |");
    }
    let copies = COPIES_PER_DELAY as u64;
    for (delay, caught, whole) in rows {
        assert_eq!(
            whole, copies,
            "the whole window catches every copy {delay} h late"
        );
        let expected = if delay <= i64::from(dedup_hours) {
            copies
        } else {
            0
        };
        assert_eq!(caught, expected, "copies {delay} h late");
    }
}
