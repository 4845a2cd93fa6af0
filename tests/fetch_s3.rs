//! Fetch against a real S3-protocol server (moto), on generated Snowplow data
//! laid out as the S3 loader writes it.

use std::sync::Arc;

use article_rec_core::adapters::metrics::LogMetrics;
use article_rec_core::adapters::parquet::HourEvents;
use article_rec_core::context::Context;
use article_rec_core::contract::layout::{self, InputLayout, RunLayout};
use article_rec_core::contract::partials::WindowPartials;
use article_rec_core::contract::stage::{FetchInput, FetchOutput, RunRef};
use article_rec_core::devtools::generate::{self, ExpectedEvent, Spec, Truth};
use article_rec_core::devtools::moto::MotoServer;
use article_rec_core::settings::Settings;
use article_rec_core::stages::fetch;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};

const T: &str = "2026-11-01T06:00:00Z";

fn t() -> DateTime<Utc> {
    T.parse().unwrap()
}

async fn context(moto: &MotoServer, bucket: &str, dir: &std::path::Path) -> Context {
    let mut settings = Settings::local(dir);
    settings.days_of_data = 3;
    let db_url = settings.database_url.clone();
    // as deployed: the loader's bucket apart from the job's data bucket
    let raw = moto.store(&format!("{bucket}-snowplow"), "").await;
    settings.input_url = Some(format!("s3://{bucket}-snowplow"));
    Context::with_adapters(
        Arc::new(moto.store(bucket, "data").await),
        Arc::new(raw),
        Some(article_rec_core::adapters::db::open(&db_url).await.unwrap()),
        settings,
        Arc::new(LogMetrics),
    )
}

async fn generated(ctx: &Context, end: DateTime<Utc>, days: u32) -> Truth {
    let mut spec = Spec::sample("example", end, days, 5);
    spec.readers = 400;
    spec.articles = 60;
    spec.record_expected = true;
    let input = InputLayout::new(&ctx.settings.input_prefix).unwrap();
    let g = generate::generate(&spec, &input).unwrap();
    generate::write_to(&g, ctx.input.as_ref(), ctx.store.as_ref(), &input, "example")
        .await
        .unwrap();
    g.truth
}

fn run_at(id: &str, as_of: DateTime<Utc>) -> RunRef {
    RunRef {
        site: "example".into(),
        run_id: id.into(),
        as_of,
    }
}

async fn fetch_at(ctx: &Context, id: &str, as_of: DateTime<Utc>) -> FetchOutput {
    fetch::run(
        FetchInput {
            run: run_at(id, as_of),
        },
        ctx,
    )
    .await
    .unwrap()
}

/// The window's events as fetch left them: every hour partition's page
/// events (from the files `partials.json` lists), each event once over the
/// window and inside it, sorted.
async fn events_of(ctx: &Context, id: &str, as_of: DateTime<Utc>) -> Vec<ExpectedEvent> {
    let layout = RunLayout::new(&run_at(id, as_of)).unwrap();
    let partials: WindowPartials =
        serde_json::from_slice(&ctx.store.get(&layout.partials()).await.unwrap()).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for h in &partials.hours {
        let key = article_rec_core::contract::layout::ObjectKey::parse(&h.events_key).unwrap();
        let file = HourEvents::read(ctx.store.as_ref(), &key).await.unwrap();
        let e = file.columns().unwrap();
        for i in 0..e.client_id.len() {
            let id = (u128::from(e.event_id_hi[i]) << 64) | u128::from(e.event_id_lo[i]);
            let in_window = partials.window.contains_ms(e.time_ms[i]);
            if in_window && seen.insert((id, e.fingerprint_hash[i])) {
                let hex = format!("{id:032x}");
                out.push(ExpectedEvent {
                    event_id: format!(
                        "{}-{}-{}-{}-{}",
                        &hex[..8],
                        &hex[8..12],
                        &hex[12..16],
                        &hex[16..20],
                        &hex[20..]
                    ),
                    client_id: e.client_id[i].into(),
                    time_ms: e.time_ms[i],
                    path: e.page_path[i].into(),
                });
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_finds_exactly_the_valid_events_and_quarantines_the_rest() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&moto, "exact", dir.path()).await;
    let truth = generated(&ctx, t(), 3).await;
    let out = fetch_at(&ctx, "r1", t()).await;
    let c = &out.counts;
    assert_eq!(c.hours_read, 72);
    assert_eq!(c.parsed.lines, truth.lines);
    assert_eq!(c.parsed.lines, c.parsed.accounted(), "every line accounted for");
    assert_eq!(c.kept, truth.valid_events);
    assert_eq!(c.duplicates, truth.duplicates);
    assert_eq!(c.out_of_window, 0);
    assert_eq!(c.parsed.events, c.kept + c.duplicates + c.out_of_window);
    assert_eq!(c.parsed.bots, truth.bot_events);
    assert_eq!(c.parsed.other_app, truth.other_app_events);
    assert_eq!(c.parsed.not_page_event, truth.non_page_events);
    // input and data stay in their own buckets: nothing written beside the loader's files
    let cache = layout::hour_cache("example").unwrap();
    assert!(ctx.input.list(&cache).await.unwrap().is_empty());
    assert!(!ctx.store.list(&cache).await.unwrap().is_empty());
    let hour = InputLayout::new(&ctx.settings.input_prefix)
        .unwrap()
        .hour(t() - Duration::hours(1));
    assert!(ctx.store.list(&hour.prefix).await.unwrap().is_empty());
    assert!(!ctx.input.list(&hour.prefix).await.unwrap().is_empty());

    // content, not just counts
    let got = events_of(&ctx, "r1", t()).await;
    let mut want = truth.expected.clone();
    want.sort();
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "fetched events differ from the generated valid events"
    );

    // every malformed line is in bad rows with its reason
    let bad = ctx
        .store
        .get(&RunLayout::new(&run_at("r1", t())).unwrap().bad_rows())
        .await
        .unwrap();
    let bad: Vec<serde_json::Value> = std::str::from_utf8(&bad)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(bad.len(), truth.malformed.len());
    for m in &truth.malformed {
        let row = bad
            .iter()
            .find(|b| b["key"] == m.key.as_str() && b["line"] == m.line)
            .unwrap_or_else(|| panic!("{}:{} missing from bad rows", m.key, m.line));
        let reason = row["reason"].as_str().unwrap();
        assert!(reason.starts_with(m.kind.reason_prefix()), "{reason}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn later_runs_parse_only_new_or_changed_hours_and_match_a_fresh_run() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&moto, "incremental", dir.path()).await;
    // data up to one hour after T, so the run one hour later has a new hour to read
    generated(&ctx, t() + Duration::hours(1), 4).await;

    let first = fetch_at(&ctx, "r1", t()).await;
    assert_eq!((first.counts.hours_parsed, first.counts.hours_cached), (72, 0));

    let later = t() + Duration::hours(1);
    let second = fetch_at(&ctx, "r2", later).await;
    assert_eq!(
        (second.counts.hours_parsed, second.counts.hours_cached),
        (1, 71),
        "only the new hour is parsed"
    );

    // from scratch: no cache
    let cache = layout::hour_cache("example").unwrap();
    assert!(ctx.store.delete_prefix(&cache).await.unwrap() >= 72 * 3);
    let fresh = fetch_at(&ctx, "fresh", later).await;
    assert_eq!((fresh.counts.hours_parsed, fresh.counts.hours_cached), (72, 0));
    let mut expected = fresh.counts.clone();
    (expected.hours_parsed, expected.hours_cached) = (1, 71);
    assert_eq!(
        second.counts, expected,
        "cached hours report the counts they were parsed with"
    );
    let incremental = events_of(&ctx, "r2", later).await;
    let scratch = events_of(&ctx, "fresh", later).await;
    assert!(incremental.len() > 1000);
    assert!(
        incremental == scratch,
        "incremental output differs from a fresh run"
    );

    // an object added to a cached hour changes its listing: that hour alone is parsed again
    let input = InputLayout::new(&ctx.settings.input_prefix).unwrap();
    let hour = input.hour(t() - Duration::hours(5));
    let late = input.part(&hour, "late-arrival.gz").unwrap();
    ctx.input.put(&late, Bytes::from_static(b"")).await.unwrap();
    let third = fetch_at(&ctx, "r3", later).await;
    assert_eq!((third.counts.hours_parsed, third.counts.hours_cached), (1, 71));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hour_still_filling_is_parsed_but_not_cached() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&moto, "filling", dir.path()).await;
    generated(&ctx, t() + Duration::hours(1), 4).await;
    let mid_hour = t() + Duration::minutes(30);
    let plan_at = |id: &str| {
        fetch::plan(
            FetchInput {
                run: run_at(id, mid_hour),
            },
            &ctx,
        )
    };
    // before any run: every hour to parse, enough to fan out
    let before = plan_at("mid").await.unwrap();
    assert_eq!((before.hours.len(), before.cached, before.missing), (73, 0, 0));
    assert_eq!(before.window_hours, 73);
    assert!(before.distributed);
    assert_eq!(before.hours.first(), Some(&(t() - Duration::hours(72))));
    assert_eq!(before.hours.last(), Some(&t()), "the hour still filling");
    let out = fetch_at(&ctx, "mid", mid_hour).await;
    // 72 complete hours plus the one still filling
    assert_eq!(out.counts.hours_parsed, 73);
    let filling = layout::hour_manifest("example", t()).unwrap();
    assert!(matches!(
        ctx.store.get(&filling).await,
        Err(article_rec_core::Error::NotFound { .. })
    ));
    let again = fetch_at(&ctx, "mid2", mid_hour).await;
    assert_eq!((again.counts.hours_parsed, again.counts.hours_cached), (1, 72));
    // after it: only the hour still filling, not worth a fan-out
    let after = plan_at("mid3").await.unwrap();
    assert_eq!(after.hours, vec![t()]);
    assert_eq!((after.cached, after.missing), (72, 0));
    assert!(!after.distributed);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_window_is_a_clear_error_and_a_missing_hour_a_warning() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&moto, "sparse", dir.path()).await;
    let err = fetch::run(
        FetchInput {
            run: run_at("e", t()),
        },
        &ctx,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), article_rec_core::ErrorKind::Data);
    assert!(err.to_string().contains("no input objects"), "{err}");

    generated(&ctx, t(), 3).await;
    let input = InputLayout::new(&ctx.settings.input_prefix).unwrap();
    let gone = input.hour(t() - Duration::hours(10));
    ctx.input.delete_prefix(&gone.prefix).await.unwrap();
    let out = fetch_at(&ctx, "holes", t()).await;
    assert_eq!(out.counts.hours_missing, 1);
    assert_eq!(out.counts.hours_read, 71);
}
