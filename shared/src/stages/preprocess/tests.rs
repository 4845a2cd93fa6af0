//! Real page pings of a news site (`shared/testdata/README.md`): the stage's
//! funnel and dwell against figures counted outside this code.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::metadata::needs_refresh;
use super::transform::transform;
use super::*;
use crate::adapters::parquet::{Articles, Dwell, HourPairColumns, HourPairs};
use crate::contract::database::ArticleRow;
use crate::contract::paths::normalise_path;
use crate::contract::stage::Funnel;
use crate::contract::stage::MetadataCounts;
use crate::contract::stage::RunRef;
use crate::devtools::{fetched_events, TestEvent};

const CSV: &str = include_str!("../../../testdata/wcp-activities.csv");

struct Ping<'a> {
    client_id: &'a str,
    time: DateTime<Utc>,
    path: &'a str,
}

fn pings() -> Vec<Ping<'static>> {
    CSV.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            // the file has no quoted fields: a plain split is the whole CSV grammar here
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 9, "line {}: {line}", i + 2);
            Ping {
                client_id: f[0],
                // two exports meet in this file: "2021-05-13 23:39:12.890000+00:00"
                // and "2020-12-04T12:56:58.652750Z"
                time: DateTime::parse_from_str(f[1], "%Y-%m-%d %H:%M:%S%.f%:z")
                    .or_else(|_| DateTime::parse_from_rfc3339(f[1]))
                    .unwrap_or_else(|e| panic!("line {}: {e}", i + 2))
                    .with_timezone(&Utc),
                path: f[3],
            }
        })
        .collect()
}

/// A reading session without its reader is refused (fetch writes none):
/// the file is not fetch's.
#[test]
fn events_without_a_reader_are_refused_not_skipped() {
    let key = crate::contract::layout::ObjectKey::from_listing("x/pairs.parquet").unwrap();
    let pairs = HourPairColumns {
        client_id: vec!["r1", "r2"],
        external_id: vec!["1", "1"],
        bucket_ms: vec![0, 0],
        start_ms: vec![0, 0],
        end_ms: vec![0, 0],
        events: vec![1, 1],
    };
    let mut df = pairs.frame(&key).unwrap();
    let nulls = polars::prelude::Column::new(
        crate::adapters::parquet::col::CLIENT_ID.into(),
        [Some("r1"), None],
    );
    df.replace_column(0, nulls).unwrap();
    let err = HourPairs::from_frame(df, &key)
        .unwrap()
        .columns()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("1 nulls in client_id"), "{err}");
}

/// The pings as fetch reads them (normalised paths), for [`fetched_events`].
fn test_events<'a>(pings: &'a [Ping<'a>], paths: &'a [String]) -> Vec<TestEvent<'a>> {
    pings
        .iter()
        .zip(paths)
        .map(|(p, path)| TestEvent {
            client_id: p.client_id,
            time_ms: p.time.timestamp_millis(),
            path,
        })
        .collect()
}

fn normalised(pings: &[Ping<'_>]) -> Vec<String> {
    pings
        .iter()
        .map(|p| normalise_path(p.path).into_owned())
        .collect()
}

/// The events merged as preprocess merges fetch's hours (one partition an
/// hour, every hour counted), without a store.
fn merged_in_memory(events: &[TestEvent<'_>]) -> crate::stages::preprocess::merge::Merged {
    let mut hours: BTreeMap<i64, Vec<crate::stages::fetch::partial::HourEvent<'_>>> = BTreeMap::new();
    for (n, e) in events.iter().enumerate() {
        hours.entry(e.time_ms.div_euclid(3_600_000)).or_default().push(
            crate::stages::fetch::partial::HourEvent {
                reader: e.client_id,
                time_ms: e.time_ms,
                path: e.path,
                identity: n as u128,
            },
        );
    }
    let mut m = crate::stages::preprocess::merge::Merger::new(600_000);
    for evs in hours.values() {
        let p = crate::stages::fetch::partial::aggregate(evs, 600_000, None);
        m.add_hour(&p.pairs, &p.paths, &[], |_| true);
    }
    m.finish()
}

/// Fetch's output for the pings (a window that holds them all).
async fn fetched(ctx: &Context, run: &RunRef, pings: &[Ping<'_>]) -> crate::contract::stage::FetchOutput {
    let paths = normalised(pings);
    fetched_events(ctx.store.clone(), run, 600_000, &test_events(pings, &paths))
        .await
        .unwrap()
}

/// The site's article rule, written out again without the code under test:
/// `/article/<digits>/...`, optionally behind the AMP viewer's `/v/s/<host>`.
fn article_id(path: &str) -> Option<&str> {
    let path = match path.strip_prefix("/v/s/") {
        Some(rest) => &rest[rest.find('/')?..],
        None => path,
    };
    let id = path.strip_prefix("/article/")?.split(['/', '?']).next()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

/// Readers, articles and pairs of the 2-core, by repeated peeling over sets.
fn two_core(mut pairs: BTreeSet<(String, String)>) -> (BTreeSet<(String, String)>, u32) {
    let mut passes = 0;
    loop {
        passes += 1;
        let degree = |pairs: &BTreeSet<(String, String)>, reader: bool| {
            let mut d: HashMap<String, usize> = HashMap::new();
            for (r, a) in pairs {
                *d.entry(if reader { r.clone() } else { a.clone() }).or_default() += 1;
            }
            d
        };
        let by_reader = degree(&pairs, true);
        let next: BTreeSet<_> = pairs.iter().filter(|(r, _)| by_reader[r] >= 2).cloned().collect();
        let by_article = degree(&next, false);
        let next: BTreeSet<_> = next.into_iter().filter(|(_, a)| by_article[a] >= 2).collect();
        if next == pairs {
            return (pairs, passes);
        }
        pairs = next;
    }
}

#[test]
fn the_site_rule_on_real_paths() {
    // AMP viewer and web paths of one story are one article
    let amp = "/v/s/washingtoncitypaper.com/article/503532/at-a-rakes-progress-former-staff-members-allege-discrimination-verbal-attacks/";
    let web = crate::contract::site::article_of(
        "/article/503532/at-a-rakes-progress-former-staff-members-allege-discrimination-verbal-attacks",
    )
    .unwrap();
    let amp = normalise_path(amp);
    let via_amp = crate::contract::site::article_of(&amp).unwrap();
    assert_eq!(
        (via_amp.external_id, via_amp.canonical_path),
        (web.external_id, web.canonical_path)
    );
    // home page, section fronts, the AMP viewer's home, non-numeric "articles"
    for not_article in [
        "/",
        "/food/",
        "/city-desk/",
        "/v/s/washingtoncitypaper.com/",
        "/article/emailnewsletter/d-c-calls-for-pause-in-use-of-jj-vaccine/",
    ] {
        assert!(
            crate::contract::site::article_of(&normalise_path(not_article)).is_none(),
            "{not_article}"
        );
    }
    // a query string does not change the article
    let q =
        "/article/503294/everyone-is-suddenly-a-home-cook-bold-fork-books-is-here-to-help/?fbclid=IwAR2hNL";
    let q = normalise_path(q);
    let a = crate::contract::site::article_of(&q).unwrap();
    assert_eq!(a.external_id, "503294");
    assert_eq!(
        a.canonical_path,
        "/article/503294/everyone-is-suddenly-a-home-cook-bold-fork-books-is-here-to-help"
    );
}

#[tokio::test]
async fn preprocess_on_real_page_pings() {
    let pings = pings();
    assert_eq!(pings.len(), 937);

    // the expected figures, counted here without the stage's code...
    let mut by_pair: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for p in &pings {
        if let Some(id) = article_id(p.path) {
            by_pair
                .entry((p.client_id.to_string(), id.to_string()))
                .or_default()
                .push(p.time.timestamp_millis());
        }
    }
    let on_articles: usize = by_pair.values().map(Vec::len).sum();
    let pairs: BTreeSet<_> = by_pair.keys().cloned().collect();
    let readers = |s: &BTreeSet<(String, String)>| s.iter().map(|p| &p.0).collect::<BTreeSet<_>>().len();
    let articles = |s: &BTreeSet<(String, String)>| s.iter().map(|p| &p.1).collect::<BTreeSet<_>>().len();
    let (core, passes) = two_core(pairs.clone());
    // ...agree with the ones counted in Python (testdata/README.md)
    assert_eq!(
        (on_articles, pairs.len(), readers(&pairs), articles(&pairs)),
        (722, 264, 238, 131)
    );
    assert_eq!(
        (core.len(), readers(&core), articles(&core), passes),
        (9, 4, 3, 4)
    );

    // the stage, end to end through the store
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::settings::Settings::local(dir.path());
    settings.site = "wcp".into();
    let ctx = Context::from_settings(settings).await.unwrap();
    let run = RunRef {
        site: "wcp".into(),
        run_id: "real-data".into(),
        as_of: "2021-05-14T00:00:00Z".parse().unwrap(),
    };
    let layout = RunLayout::new(&run).unwrap();
    let fetch = fetched(&ctx, &run, &pings).await;
    let out = run_stage(PreprocessInput { run, fetch }, &ctx).await.unwrap();
    assert_eq!(
        out.funnel,
        Funnel {
            events: 937,
            article_events: on_articles as u64,
            readers_before_filter: readers(&pairs) as u64,
            articles_before_filter: articles(&pairs) as u64,
            filter_passes: passes,
            readers: readers(&core) as u64,
            articles: articles(&core) as u64,
            pairs: core.len() as u64,
        }
    );

    let articles_file = Articles::read(ctx.store.as_ref(), &layout.articles())
        .await
        .unwrap();
    let ids: Vec<&str> = articles_file.columns().unwrap().external_id;
    assert_eq!(ids, ["516542", "516627", "516670"]);

    // dwell: gaps between a reader's consecutive events on an article, over 600 s dropped
    let dwell_file = Dwell::read(ctx.store.as_ref(), &layout.dwell()).await.unwrap();
    let d = dwell_file.columns().unwrap();
    let got: BTreeMap<(String, String), f64> = d
        .client_id
        .iter()
        .zip(&d.external_id)
        .zip(&d.dwell_secs)
        .map(|((r, a), s)| ((r.to_string(), a.to_string()), *s))
        .collect();
    let want: BTreeMap<(String, String), f64> = core
        .iter()
        .map(|pair| {
            let mut t = by_pair[pair].clone();
            t.sort_unstable();
            let secs: i64 = t.windows(2).map(|w| w[1] - w[0]).filter(|&g| g <= 600_000).sum();
            (pair.clone(), secs as f64 / 1000.0)
        })
        .collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (pair, secs) in &want {
        assert!(
            (got[pair] - secs).abs() < 1e-9,
            "{pair:?}: {} vs {secs}",
            got[pair]
        );
    }
    let total: f64 = got.values().sum();
    assert!(
        (total - 555.496).abs() < 1e-6,
        "total dwell {total} s (Python: 555.496 s)"
    );
}

use super::run as run_stage;

async fn wcp_context(dir: &std::path::Path, wordpress: Option<&str>) -> (Context, RunLayout, RunRef) {
    let mut settings = crate::settings::Settings::local(dir);
    settings.site = "wcp".into();
    settings.wordpress.url = wordpress.map(str::to_string);
    settings.wordpress.requests_per_sec = 1000.0;
    let ctx = Context::from_settings(settings).await.unwrap();
    let run = RunRef {
        site: "wcp".into(),
        run_id: "first".into(),
        as_of: "2021-05-14T00:00:00Z".parse().unwrap(),
    };
    let layout = RunLayout::new(&run).unwrap();
    (ctx, layout, run)
}

/// The next run of the site on the same events: its output and layout.
async fn rerun(ctx: &Context, layout: &RunLayout, run: RunRef) -> (PreprocessOutput, RunLayout) {
    let second = RunRef {
        run_id: "second".into(),
        ..run
    };
    let _ = layout;
    let second_layout = RunLayout::new(&second).unwrap();
    let fetch = fetched(ctx, &second, &pings()).await;
    let out = run_stage(PreprocessInput { run: second, fetch }, ctx)
        .await
        .unwrap();
    (out, second_layout)
}

#[tokio::test]
async fn metadata_comes_from_wordpress_once_settled() {
    let wp = crate::adapters::site::fake::FakeWordPress::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (ctx, layout, run) = wcp_context(dir.path(), Some(&wp.url)).await;
    let first = run_stage(
        PreprocessInput {
            run: run.clone(),
            fetch: fetched(&ctx, &run, &pings()).await,
        },
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!(
        first.metadata,
        MetadataCounts {
            cached: 0,
            looked_up: 3,
            found: 3,
            unknown: 0,
            excluded: 0,
            failed: 0,
            listed: 3,
            unread: 0,
            listing_failed: 0
        }
    );
    let articles_file = Articles::read(ctx.store.as_ref(), &layout.articles())
        .await
        .unwrap();
    let articles = articles_file.columns().unwrap();
    let titles: Vec<&str> = articles.title.iter().flatten().copied().collect();
    assert_eq!(
        titles,
        [
            "At A Rake\u{2019}s Progress, Former Staff Members Allege Discrimination",
            "Crazy Aunt Helen\u{2019}s Is Capitol Hill\u{2019}s New Destination for Comfort Food",
            "D.C. Council Weighs School Budgets & Recovery Funds",
        ]
    );
    let published = articles.published_at_ms.clone();
    assert_eq!(
        published[1].and_then(DateTime::from_timestamp_millis),
        Some("2021-05-12T18:09:09Z".parse().unwrap())
    );
    assert_eq!(wp.hits("list"), 2, "three ids, one page; the listing, one page");

    // the next run asks only for the story published within the last day (516670)
    let (again, second_layout) = rerun(&ctx, &layout, run).await;
    assert_eq!(
        again.metadata,
        MetadataCounts {
            cached: 2,
            looked_up: 1,
            found: 1,
            unknown: 0,
            excluded: 0,
            failed: 0,
            listed: 3,
            unread: 0,
            listing_failed: 0
        }
    );
    assert_eq!(wp.hits("list"), 4);
    let again_file = Articles::read(ctx.store.as_ref(), &second_layout.articles())
        .await
        .unwrap();
    assert!(
        again_file.columns().unwrap() == articles,
        "cached metadata is the same metadata"
    );
}

/// A site behind a firewall that blocks the job: no article is excluded
/// (a 403 is not an answer), and the next run's successful lookups
/// replace what is stored, an earlier exclusion included.
#[tokio::test]
async fn a_blocked_wordpress_excludes_nothing_and_a_later_answer_replaces_stale_metadata() {
    let wp = crate::adapters::site::fake::FakeWordPress::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (ctx, layout, run) = wcp_context(dir.path(), Some(&wp.url)).await;
    // an exclusion a broken earlier version of the job stored
    ctx.db()
        .unwrap()
        .replace_metadata(
            "wcp",
            &[ArticleRow {
                external_id: "516627".into(),
                title: None,
                path: Some("/article/516627/x".into()),
                published_at: None,
                exclude_reason: Some("no public WordPress post (HTTP 403)".into()),
                ..ArticleRow::default()
            }],
        )
        .await
        .unwrap();
    wp.block(true);
    let blocked = run_stage(
        PreprocessInput {
            run: run.clone(),
            fetch: fetched(&ctx, &run, &pings()).await,
        },
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            blocked.metadata.failed,
            blocked.metadata.excluded,
            blocked.metadata.listing_failed
        ),
        (3, 0, 1),
        "{:?}",
        blocked.metadata
    );
    let stored = ctx
        .db()
        .unwrap()
        .articles("wcp", &["503532".into()])
        .await
        .unwrap();
    assert!(stored.is_empty(), "a failed lookup stores nothing: {stored:?}");

    wp.block(false);
    let (answered, _) = rerun(&ctx, &layout, run).await;
    assert_eq!(
        (answered.metadata.found, answered.metadata.excluded),
        (3, 0),
        "{:?}",
        answered.metadata
    );
    let stored = ctx
        .db()
        .unwrap()
        .articles("wcp", &["516627".into()])
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].exclude_reason, None,
        "the answer replaced the stale exclusion"
    );
    assert!(stored[0].title.is_some());
}

#[tokio::test]
async fn without_an_api_the_articles_go_on_without_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, layout, run) = wcp_context(dir.path(), None).await;
    let fetch = fetched(&ctx, &run, &pings()).await;
    let out = run_stage(PreprocessInput { run, fetch }, &ctx).await.unwrap();
    assert_eq!(
        out.metadata,
        MetadataCounts {
            cached: 0,
            looked_up: 3,
            found: 0,
            unknown: 3,
            excluded: 0,
            failed: 0,
            listed: 0,
            unread: 0,
            listing_failed: 0
        }
    );
    let articles_file = Articles::read(ctx.store.as_ref(), &layout.articles())
        .await
        .unwrap();
    let articles = articles_file.columns().unwrap();
    assert_eq!(articles.title.iter().filter(|t| t.is_none()).count(), 3);
    let paths: Vec<&str> = articles.path.iter().flatten().copied().collect();
    assert!(paths.iter().all(|p| p.starts_with("/article/5")), "{paths:?}");
}

#[test]
fn each_article_keeps_its_most_read_canonical_path() {
    let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
    let ping = |client, s, path| Ping {
        client_id: client,
        time: at(s),
        path,
    };
    let pings = [
        ping("r1", 0, "/article/1/old-slug"),
        ping("r1", 10, "/article/1/new-slug"),
        ping("r2", 0, "/v/s/host.example/article/1/new-slug"),
        ping("r1", 20, "/article/2/b"),
        ping("r2", 20, "/article/2/a"),
        ping("r2", 30, "/"),
    ];
    let key = crate::contract::layout::ObjectKey::from_listing("x").unwrap();
    let paths = normalised(&pings);
    let events = test_events(&pings, &paths);
    let p = transform(merged_in_memory(&events), events.len() as u64, &key).unwrap();
    let kept: Vec<(&str, &str)> = p
        .kept
        .iter()
        .map(|k| (k.external_id.as_str(), k.path.as_str()))
        .collect();
    // AMP reads count for the web path; a tie goes to the smaller path
    assert_eq!(kept, [("1", "/article/1/new-slug"), ("2", "/article/2/a")]);
    assert_eq!(
        (p.funnel.events, p.funnel.article_events, p.funnel.pairs),
        (6, 5, 4)
    );
    let dwell = Dwell::from_frame(p.dwell, &key).unwrap();
    let d = dwell.columns().unwrap();
    assert_eq!(
        d.client_id,
        ["r1", "r1", "r2", "r2"],
        "sorted by reader, then article"
    );
    assert_eq!(d.dwell_secs[0], 10.0);
}

#[test]
fn the_refresh_rule() {
    let as_of: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
    let row = |published: Option<&str>| ArticleRow {
        external_id: "1".into(),
        title: None,
        path: None,
        published_at: published.map(|p| p.parse().unwrap()),
        ..ArticleRow::default()
    };
    assert!(needs_refresh(None, as_of), "never looked up");
    assert!(needs_refresh(Some(&row(None)), as_of), "no publish time yet");
    assert!(
        needs_refresh(Some(&row(Some("2026-11-23T01:00:00Z"))), as_of),
        "published today"
    );
    assert!(
        !needs_refresh(Some(&row(Some("2026-11-22T11:59:59Z"))), as_of),
        "settled"
    );
}

/// The candidate window: a story the catalogue lists as published in the
/// window is in `articles.parquet` though nobody read it; one published
/// before the window or after the run is not.
#[tokio::test]
async fn stories_published_in_the_window_are_candidates_though_unread() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, layout, run) = wcp_context(dir.path(), None).await;
    let story = |id: &str, published: &str| CatalogEntry {
        external_id: id.into(),
        path: format!("/article/{id}/story-{id}"),
        title: Some(format!("Story {id}")),
        published_at: Some(published.parse().unwrap()),
        excerpt: Some("Fresh off the press".into()),
        ..CatalogEntry::default()
    };
    let catalog = [
        story("900001", "2021-05-13T23:55:00Z"), // five minutes before the run
        story("900002", "2021-03-01T00:00:00Z"), // before the window
        story("900003", "2021-05-14T00:00:01Z"), // after the run
        story("516627", "2021-05-12T18:09:09Z"), // read
    ];
    ctx.store
        .put(
            &crate::contract::layout::catalog("wcp").unwrap(),
            bytes::Bytes::from(crate::adapters::site::catalog_file::to_jsonl(&catalog).unwrap()),
        )
        .await
        .unwrap();
    let fetch = fetched(&ctx, &run, &pings()).await;
    let out = run_stage(PreprocessInput { run, fetch }, &ctx).await.unwrap();
    assert_eq!(
        (
            out.metadata.listed,
            out.metadata.unread,
            out.metadata.listing_failed
        ),
        (2, 1, 0),
        "{:?}",
        out.metadata
    );
    let articles_file = Articles::read(ctx.store.as_ref(), &layout.articles())
        .await
        .unwrap();
    let articles = articles_file.columns().unwrap();
    let ids: Vec<&str> = articles.external_id.clone();
    assert_eq!(ids.len(), 4, "three read, one unread: {ids:?}");
    assert_eq!(ids.last(), Some(&"900001"));
    let excerpts = articles.excerpt.clone();
    assert_eq!(excerpts.last().copied().flatten(), Some("Fresh off the press"));
    let dwell_file = Dwell::read(ctx.store.as_ref(), &layout.dwell()).await.unwrap();
    let read: Vec<&str> = dwell_file.columns().unwrap().external_id;
    assert!(!read.contains(&"900001"), "an unread story has no dwell");
}
