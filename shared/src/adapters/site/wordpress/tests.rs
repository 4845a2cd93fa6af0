//! The WordPress adapter against a local HTTP server that misbehaves as real ones do.

use std::time::Instant as StdInstant;

use super::fake::{FakeWordPress, BROKEN, FLAKY, SLOW, SLOW_FOR};
use super::*;
use crate::settings::WordPressOptions;

fn opts() -> WordPressOptions {
    WordPressOptions {
        requests_per_sec: 1000.0,
        backoff: Duration::from_millis(20),
        ..WordPressOptions::default()
    }
}

/// A client of `wp` asking for `page_size` posts a page.
fn paged(wp: &FakeWordPress, page_size: usize) -> WordPress {
    WordPress::new(&wp.url, WordPressOptions { page_size, ..opts() }).unwrap()
}

fn key(id: impl ToString) -> ArticleKey {
    let id = id.to_string();
    ArticleKey {
        path: format!("/article/{id}/some-slug"),
        external_id: id,
    }
}

fn found(l: &Lookup) -> &CatalogEntry {
    match l {
        Lookup::Found(e) => e,
        other => panic!("expected metadata, got {other:?}"),
    }
}

/// A firewall's 403 (or a 401) says nothing about a post: every lookup
/// fails (asked again next run), none is an exclusion, and a refused
/// page is not retried post by post.
#[tokio::test]
async fn a_refused_request_is_a_failed_lookup_not_an_answer() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(&wp.url, opts()).unwrap();
    wp.block(true);
    let ids = ["516627", "516542", "516670"];
    let keys: Vec<ArticleKey> = ids.iter().map(key).collect();
    let looked = client.metadata(&keys).await;
    for l in &looked {
        match l {
            Lookup::Failed(why) => {
                assert!(why.contains("HTTP 403") && why.contains("asked again"), "{why}")
            }
            other => panic!("a refusal must not be an answer: {other:?}"),
        }
    }
    assert_eq!(wp.hits("list"), 1, "one page refused, no retries");
    assert!(
        ids.iter().all(|id| wp.hits(&format!("post/{id}")) == 0),
        "no post-by-post fallback"
    );
    assert!(matches!(client.post_by_id("516627").await, Lookup::Failed(_)));
    assert!(matches!(
        client.post_by_slug("some-slug").await,
        Lookup::Failed(_)
    ));
    wp.block(false);
    let looked = client.metadata(&keys).await;
    assert!(looked.iter().all(|l| matches!(l, Lookup::Found(_))), "{looked:?}");
}

#[tokio::test]
async fn a_normal_post_by_id_and_by_slug() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(&wp.url, opts()).unwrap();
    let post = client.post_by_id("516627").await;
    let e = found(&post);
    assert_eq!(e.external_id, "516627");
    assert_eq!(
        e.title.as_deref(),
        Some("Crazy Aunt Helen\u{2019}s Is Capitol Hill\u{2019}s New Destination for Comfort Food")
    );
    assert_eq!(
        e.path,
        "/article/516627/crazy-aunt-helens-is-capitol-hills-new-destination-for-comfort-food"
    );
    assert_eq!(
        e.published_at,
        Some("2021-05-12T18:09:09Z".parse().unwrap()),
        "date_gmt, not the local date"
    );
    let by_slug = client
        .post_by_slug("crazy-aunt-helens-is-capitol-hills-new-destination-for-comfort-food")
        .await;
    assert_eq!(by_slug, post);
    let amp = client.post_by_id("516670").await;
    assert_eq!(
        found(&amp).title.as_deref(),
        Some("D.C. Council Weighs School Budgets & Recovery Funds")
    );
}

#[tokio::test]
async fn excerpts_sections_and_tags_come_with_the_post_and_a_post_without_them_still_works() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(&wp.url, opts()).unwrap();
    let all = client.metadata(&[key(516670), key(516627)]).await;
    let with = found(&all[0]);
    assert_eq!(
        with.excerpt.as_deref(),
        Some("Parents and teachers asked the D.C. Council for more school funding at Thursday\u{2019}s budget hearing \u{2026}")
    );
    assert_eq!(with.section.as_deref(), Some("News"));
    assert_eq!(with.tags, ["D.C. Council", "Education & Schools"]);
    // WordPress's empty excerpt is an ellipsis: no text; no tags
    let without = found(&all[1]);
    assert_eq!(without.excerpt, None);
    assert_eq!(without.section.as_deref(), Some("News"));
    assert!(without.tags.is_empty());
    // one by id and by slug: the same text
    assert_eq!(&client.post_by_id("516670").await, &all[0]);
}

#[tokio::test]
async fn an_unknown_slug_or_id_is_excluded_not_failed() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(&wp.url, opts()).unwrap();
    match client.post_by_slug("no-such-story").await {
        Lookup::Unknown {
            exclude_reason: Some(why),
        } => assert!(why.contains("no-such-story"), "{why}"),
        other => panic!("{other:?}"),
    }
    match client.post_by_id("999").await {
        Lookup::Unknown {
            exclude_reason: Some(why),
        } => assert!(why.contains("HTTP 404"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(wp.hits("post/999"), 1, "a 404 is an answer, not retried");
    let all = client.metadata(&[key(516627), key(999)]).await;
    assert!(
        matches!(
            &all[1],
            Lookup::Unknown {
                exclude_reason: Some(_)
            }
        ),
        "{all:?}"
    );
}

#[tokio::test]
async fn metadata_pages_through_the_list() {
    let wp = FakeWordPress::start().await;
    let client = paged(&wp, 2);
    let ids = wp.ids();
    assert_eq!(ids.len(), 3);
    let keys: Vec<ArticleKey> = ids.iter().map(key).collect();
    let all = client.metadata(&keys).await;
    for (k, l) in keys.iter().zip(&all) {
        assert_eq!(found(l).external_id, k.external_id);
    }
    assert_eq!(wp.hits("list"), 2, "3 posts in pages of 2");
    assert!(
        ids.iter().all(|id| wp.hits(&format!("post/{id}")) == 0),
        "no one-by-one lookups"
    );
}

#[tokio::test]
async fn the_listing_gives_the_posts_published_in_the_window_whatever_the_sites_time_zone() {
    // the site is on Washington time (UTC-4 in May): 516627 is 14:09 local, 18:09 UTC
    let wp = FakeWordPress::start().await;
    let client = paged(&wp, 1);
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let listed = client
        .published(t("2021-05-12T17:00:00Z"), t("2021-05-13T09:59:59Z"))
        .await
        .unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e.external_id.as_str()).collect();
    // 516670 is published at 10:00 UTC, a second after the window
    assert_eq!(ids, ["516627"], "{listed:?}");
    assert_eq!(
        wp.hits("list"),
        2,
        "one page a post: the widened window holds two, the answer is cut to one"
    );
    let to_the_second = client
        .published(t("2021-05-12T17:00:00Z"), t("2021-05-13T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(to_the_second.len(), 2, "the end of the window is in it");
    let all = client
        .published(t("2021-05-01T00:00:00Z"), t("2021-06-01T00:00:00Z"))
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|e| e.external_id.as_str()).collect();
    assert_eq!(ids, ["516670", "516627", "516542"], "newest first");
    let with_text = all.iter().find(|e| e.external_id == "516670").unwrap();
    assert!(
        with_text.excerpt.is_some() && !with_text.tags.is_empty(),
        "{with_text:?}"
    );
    wp.block(true);
    let err = client
        .published(t("2021-05-01T00:00:00Z"), t("2021-06-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(err.contains("403"), "{err}");
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(&wp.url, opts()).unwrap();
    let all = client.metadata(&[key(FLAKY), key(516627)]).await;
    assert_eq!(found(&all[0]).external_id, FLAKY.to_string());
    assert_eq!(found(&all[1]).external_id, "516627");
    assert_eq!(wp.hits("list-with-flaky"), 2, "one 500, then the retry");
    // without retries the page fails, and so does the post on its own
    let wp = FakeWordPress::start().await;
    let once = WordPress::new(
        &wp.url,
        WordPressOptions {
            attempts: 1,
            ..opts()
        },
    )
    .unwrap();
    assert!(
        matches!(once.post_by_id(&FLAKY.to_string()).await, Lookup::Failed(why) if why.contains("HTTP 500"))
    );
}

#[tokio::test]
async fn malformed_json_skips_only_that_post() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(&wp.url, opts()).unwrap();
    let all = client.metadata(&[key(516627), key(BROKEN), key(516542)]).await;
    assert_eq!(found(&all[0]).external_id, "516627");
    match &all[1] {
        Lookup::Failed(why) => assert!(
            why.contains("invalid JSON") && why.contains(&BROKEN.to_string()),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(found(&all[2]).external_id, "516542");
    assert_eq!(wp.hits("list"), 1);
    assert_eq!(
        wp.hits("post/516627"),
        1,
        "the broken page is looked up post by post"
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(
        &wp.url,
        WordPressOptions {
            timeout: Duration::from_millis(200),
            attempts: 2,
            ..opts()
        },
    )
    .unwrap();
    let started = StdInstant::now();
    let all = client.metadata(&[key(SLOW)]).await;
    match &all[0] {
        Lookup::Failed(why) => assert!(why.contains("timed out after 0.2 s"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < SLOW_FOR, "gave up before the server answered");
    assert_eq!(wp.hits(&format!("post/{SLOW}")), 2, "each attempt timed out");
}

#[tokio::test]
async fn requests_are_paced() {
    let wp = FakeWordPress::start().await;
    let client = WordPress::new(
        &wp.url,
        WordPressOptions {
            requests_per_sec: 20.0,
            ..opts()
        },
    )
    .unwrap();
    let started = StdInstant::now();
    let lookups = futures::future::join_all((0..6).map(|_| client.post_by_id("516627"))).await;
    assert!(lookups.iter().all(|l| matches!(l, Lookup::Found(_))));
    // six requests at 20 a second: the last starts 5 intervals of 50 ms after the first
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(wp.hits("post/516627"), 6);
}

#[test]
fn bad_urls_and_options_are_config_errors() {
    assert!(WordPress::new("ftp://example.com", opts()).is_err());
    assert!(WordPress::new("not a url", opts()).is_err());
    assert!(WordPress::new(
        "https://example.com",
        WordPressOptions {
            page_size: 0,
            ..opts()
        }
    )
    .is_err());
    let sub = WordPress::new("https://example.com/news", opts()).unwrap();
    assert_eq!(
        sub.posts_url("/5").as_str(),
        "https://example.com/news/wp-json/wp/v2/posts/5"
    );
}
