//! Fetch under concurrency and with objects it cannot read.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::*;
use crate::adapters::storage::LocalDir;
use crate::contract::layout::{ObjectKey, Prefix};
use crate::contract::stage::RunRef;
use crate::contract::storage::BlobStore;
use crate::contract::storage::ObjectMeta;
use crate::settings::Settings;

const HOUR: &str = "2026-01-02T03:00:00Z";

fn hour() -> DateTime<Utc> {
    HOUR.parse().unwrap()
}

fn run(id: &str) -> RunRef {
    RunRef {
        site: "site".into(),
        run_id: id.into(),
        as_of: "2026-01-02T06:00:00Z".parse().unwrap(),
    }
}

/// An object of `n` page pings of one reader in the hour.
fn object(reader: &str, n: usize) -> Bytes {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&crate::stages::fetch::snowplow::tests::line(&[
            ("domain_userid", reader),
            ("derived_tstamp", &format!("2026-01-02 03:{:02}:00.000", i % 60)),
            (
                "event_id",
                &format!("00000000-0000-4000-8000-{:06x}{i:06x}", reader.len()),
            ),
        ]));
        text.push('\n');
    }
    Bytes::from(text)
}

fn key_in_hour(name: &str) -> ObjectKey {
    let input = InputLayout::new("enriched/good").unwrap();
    input.part(&input.hour(hour()), name).unwrap()
}

fn context(store: Arc<dyn BlobStore>, input: Arc<dyn BlobStore>, dir: &std::path::Path) -> Context {
    let mut settings = Settings::local(dir);
    settings.site = "site".into();
    settings.app_id = "site".into();
    settings.days_of_data = 1;
    Context::with_adapters(
        store,
        input,
        None,
        settings,
        Arc::new(crate::adapters::metrics::LogMetrics),
    )
}

/// A store that holds back the first put of a key containing `hold`
/// until released, to interleave two runs the way overlapping ones can.
#[derive(Debug)]
struct Gate {
    inner: Arc<dyn BlobStore>,
    hold: &'static str,
    reached: Arc<Notify>,
    release: Arc<Notify>,
    held: std::sync::atomic::AtomicBool,
}

impl Gate {
    fn new(inner: Arc<dyn BlobStore>, hold: &'static str) -> Arc<Gate> {
        Arc::new(Gate {
            inner,
            hold,
            reached: Arc::default(),
            release: Arc::default(),
            held: Default::default(),
        })
    }
}

#[async_trait]
impl BlobStore for Gate {
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
        if key.as_str().contains(self.hold) && !self.held.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        self.inner.put(key, body).await
    }
    async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
    async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64> {
        self.inner.delete_prefix(prefix).await
    }
}

/// Two runs of one site parse the same hour while an object arrives:
/// the later-listing run writes its events first and its manifest last,
/// the earlier one writes in between. No event may be lost: the cache
/// the next run trusts holds every object its manifest names.
#[tokio::test(flavor = "multi_thread")]
async fn overlapping_runs_of_one_site_lose_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
    let input: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("input")));
    input
        .put(&key_in_hour("first.tsv"), object("early", 5))
        .await
        .unwrap();

    // run A lists one object, then stalls before writing its events
    let gate_a = Gate::new(store.clone(), "events.parquet");
    let ctx_a = context(gate_a.clone(), input.clone(), dir.path());
    let a = tokio::spawn(async move {
        run_hour(
            FetchHourInput {
                run: run("a"),
                hour: hour(),
            },
            &ctx_a,
        )
        .await
    });
    gate_a.reached.notified().await;

    // an object arrives; run B lists both and stalls before its manifest
    input
        .put(&key_in_hour("second.tsv"), object("late", 7))
        .await
        .unwrap();
    let gate_b = Gate::new(store.clone(), "manifest.json");
    let ctx_b = context(gate_b.clone(), input.clone(), dir.path());
    let b = tokio::spawn(async move {
        run_hour(
            FetchHourInput {
                run: run("b"),
                hour: hour(),
            },
            &ctx_b,
        )
        .await
    });
    gate_b.reached.notified().await;

    // A writes its events and its manifest, then B its manifest
    gate_a.release.notify_one();
    assert_eq!(a.await.unwrap().unwrap().counts.events, 5);
    gate_b.release.notify_one();
    assert_eq!(b.await.unwrap().unwrap().counts.events, 12);

    let ctx = context(store.clone(), input.clone(), dir.path());
    let out = super::run(FetchInput { run: run("next") }, &ctx).await.unwrap();
    assert_eq!(out.counts.hours_cached, 1, "the cache matches the listing");
    assert_eq!(
        out.counts.kept, 12,
        "both objects' events, none lost: {:?}",
        out.counts
    );
}

/// A store whose listing also holds an object with an unusual key, and
/// that refuses to read one object.
#[derive(Debug)]
struct Awkward {
    inner: Arc<dyn BlobStore>,
}

#[async_trait]
impl BlobStore for Awkward {
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        if key.as_str().ends_with("denied.tsv") {
            return Err(Error::AccessDenied {
                action: "s3:GetObject",
                resource: format!("s3://snowplow/{key}"),
                message: "AccessDenied: the object's KMS key".into(),
            });
        }
        self.inner.get(key).await
    }
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<()> {
        self.inner.put(key, body).await
    }
    async fn list(&self, prefix: &Prefix) -> Result<Vec<ObjectMeta>> {
        let mut listed = self.inner.list(prefix).await?;
        if !prefix.as_str().ends_with("2026/01/02/03/") {
            return Ok(listed);
        }
        listed.push(ObjectMeta {
            key: ObjectKey::listed_as_is(&format!("{prefix}sub/../odd.tsv")),
            size: 10,
            etag: "odd".into(),
        });
        Ok(listed)
    }
    async fn delete_prefix(&self, prefix: &Prefix) -> Result<u64> {
        self.inner.delete_prefix(prefix).await
    }
}

/// An object that cannot be read, or whose key a file system would
/// resolve, is one bad row with its reason; the hour's other events are
/// kept and the hour is cached, so no run fails or parses it again.
#[tokio::test]
async fn unreadable_objects_are_bad_rows_and_the_hour_is_still_cached() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
    let raw: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("input")));
    raw.put(&key_in_hour("good.tsv"), object("reader", 4))
        .await
        .unwrap();
    raw.put(&key_in_hour("denied.tsv"), object("other", 3))
        .await
        .unwrap();
    let input: Arc<dyn BlobStore> = Arc::new(Awkward { inner: raw });
    let ctx = context(store, input, dir.path());
    let first = super::run(FetchInput { run: run("r1") }, &ctx).await.unwrap();
    let c = &first.counts;
    assert_eq!((c.parsed.objects, c.parsed.bad, c.kept), (3, 2, 4), "{c:?}");
    assert_eq!(c.parsed.lines, c.parsed.accounted());
    let rows = ctx
        .store
        .get(&RunLayout::new(&run("r1")).unwrap().bad_rows())
        .await
        .unwrap();
    let rows = String::from_utf8(rows.to_vec()).unwrap();
    assert!(
        rows.contains("denied.tsv") && rows.contains("access denied: s3:GetObject"),
        "{rows}"
    );
    assert!(
        rows.contains("odd.tsv") && rows.contains("'..' segment"),
        "{rows}"
    );
    let again = super::run(FetchInput { run: run("r2") }, &ctx).await.unwrap();
    assert_eq!((again.counts.hours_cached, again.counts.hours_parsed), (1, 0));
    assert_eq!(again.counts.parsed, first.counts.parsed);
}

/// Cached files that are gone while their manifest stays (expiry) are
/// parsed again, not a failed run.
#[tokio::test]
async fn a_cached_hour_whose_files_are_gone_is_parsed_again() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
    let input: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("input")));
    input
        .put(&key_in_hour("a.tsv"), object("reader", 6))
        .await
        .unwrap();
    let ctx = context(store.clone(), input, dir.path());
    assert_eq!(
        super::run(FetchInput { run: run("r1") }, &ctx)
            .await
            .unwrap()
            .counts
            .kept,
        6
    );
    let manifest = crate::contract::layout::hour_manifest("site", hour()).unwrap();
    let kept = store.get(&manifest).await.unwrap();
    store
        .delete_prefix(&crate::contract::layout::hour_cache("site").unwrap())
        .await
        .unwrap();
    store.put(&manifest, kept).await.unwrap();
    let out = super::run(FetchInput { run: run("r2") }, &ctx).await.unwrap();
    assert_eq!((out.counts.kept, out.counts.hours_parsed), (6, 1));
}

/// The widget's events go to `widget_events.parquet`, each event once over
/// the window (Snowplow delivers at least once) and from the hour cache
/// alike; malformed ones are bad rows, and every line is counted.
#[tokio::test]
async fn widget_events_are_kept_beside_page_events_once_each() {
    use crate::adapters::parquet::WidgetEvents;
    use crate::stages::fetch::snowplow::tests::widget_events::{widget_line_with, ARTICLE, MODEL};
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
    let ctx = context(store.clone(), store.clone(), dir.path());
    let model = (MODEL, r#"{"id":41,"type":"article"}"#);
    let seen = widget_line_with(
        "widget_seen",
        &[model],
        &[
            ("derived_tstamp", "2026-01-02 03:10:00.000"),
            ("event_id", "00000000-0000-4000-8000-00000000a001"),
        ],
    );
    let click = widget_line_with(
        "widget_click",
        &[model, (ARTICLE, r#"{"id":"7","position":2}"#)],
        &[
            ("derived_tstamp", "2026-01-02 03:10:04.000"),
            ("event_id", "00000000-0000-4000-8000-00000000a002"),
        ],
    );
    let bad = widget_line_with(
        "widget_click",
        &[model],
        &[("event_id", "00000000-0000-4000-8000-00000000a003")],
    );
    let mut first = String::from_utf8(object("r", 3).to_vec()).unwrap();
    for l in [&seen, &click, &bad] {
        first.push_str(l);
        first.push('\n');
    }
    store
        .put(&key_in_hour("a.tsv"), Bytes::from(first))
        .await
        .unwrap();
    // the click delivered again in another object of the hour
    store
        .put(&key_in_hour("b.tsv"), Bytes::from(format!("{click}\n")))
        .await
        .unwrap();

    for (attempt, id) in ["r1", "r2"].into_iter().enumerate() {
        let out = super::run(FetchInput { run: run(id) }, &ctx).await.unwrap();
        let c = &out.counts;
        assert_eq!(c.hours_cached, attempt as u64, "the second run reads the cache");
        assert_eq!(
            (c.parsed.events, c.parsed.widget, c.parsed.bad),
            (3, 3, 1),
            "{c:?}"
        );
        assert_eq!(c.parsed.lines, c.parsed.accounted());
        assert_eq!((c.kept, c.widget_kept, c.widget_duplicates), (3, 2, 1));
        let key = RunLayout::new(&run(id)).unwrap().widget_events();
        assert_eq!(out.widget_events_key.as_deref(), Some(key.to_string().as_str()));
        let file = WidgetEvents::read(store.as_ref(), &key).await.unwrap();
        let w = file.columns().unwrap();
        assert_eq!(w.step, ["seen", "click"]);
        assert_eq!(w.model_id, ["41", "41"]);
        assert_eq!(w.model_type, ["article", "article"]);
        assert_eq!(w.external_id, [None, Some("7")]);
        assert_eq!(w.position, [None, Some(2)]);
        assert_eq!(w.page_path, ["/article/1/slug", "/article/1/slug"]);
        assert_eq!(w.time_ms[1] - w.time_ms[0], 4_000);
        let bad_rows = String::from_utf8(
            store
                .get(&RunLayout::new(&run(id)).unwrap().bad_rows())
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert!(
            bad_rows.contains("widget_click without the clicked article's id"),
            "{bad_rows}"
        );
    }
}

/// Snowplow delivers at least once: an event can arrive again in a later
/// hour partition. One found again within `DEDUP_HOURS` partitions is a
/// duplicate, taken out of the counts and of its reading session's events
/// (`duplicates.parquet`); one found again later is not (the README says
/// which are caught).
#[tokio::test]
async fn an_event_delivered_again_in_a_later_hour_is_a_duplicate_within_dedup_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalDir::new(dir.path().join("store")));
    let mut ctx = context(store.clone(), store.clone(), dir.path());
    ctx.settings.days_of_data = 2;
    ctx.settings.dedup_hours = 3;
    let input = InputLayout::new("enriched/good").unwrap();
    let at = |h: &str| -> DateTime<Utc> { h.parse().unwrap() };
    let ping = |id: u32, t: &str| {
        crate::stages::fetch::snowplow::tests::line(&[
            ("domain_userid", "reader"),
            ("derived_tstamp", t),
            ("event_id", &format!("00000000-0000-4000-8000-{id:012}")),
        ])
    };
    // the originals: two pings on an article at 02:10 and 02:20
    let originals = format!(
        "{}\n{}\n",
        ping(1, "2026-01-02 02:10:00.000"),
        ping(2, "2026-01-02 02:20:00.000")
    );
    let put = |hour: &str, name: &str, body: String| {
        let key = input.part(&input.hour(at(hour)), name).unwrap();
        let store = store.clone();
        async move { store.put(&key, Bytes::from(body)).await.unwrap() }
    };
    put("2026-01-02T02:00:00Z", "a.tsv", originals).await;
    // 1 again two partitions later (caught), 2 again five partitions later (not)
    put(
        "2026-01-02T04:00:00Z",
        "late.tsv",
        format!("{}\n", ping(1, "2026-01-02 02:10:00.000")),
    )
    .await;
    put(
        "2026-01-02T07:00:00Z",
        "later.tsv",
        format!("{}\n", ping(2, "2026-01-02 02:20:00.000")),
    )
    .await;
    let run = RunRef {
        site: "site".into(),
        run_id: "dups".into(),
        as_of: at("2026-01-02T08:00:00Z"),
    };
    let out = super::run(FetchInput { run: run.clone() }, &ctx).await.unwrap();
    let c = &out.counts;
    assert_eq!((c.parsed.events, c.kept, c.duplicates), (4, 3, 1), "{c:?}");
    let layout = RunLayout::new(&run).unwrap();
    let d = crate::adapters::parquet::Duplicates::read(store.as_ref(), &layout.duplicates())
        .await
        .unwrap();
    let d = d.columns().unwrap();
    assert_eq!(d.hour_ms, [at("2026-01-02T04:00:00Z").timestamp_millis()]);
    // the whole window (as before partials) would have caught both
    ctx.settings.dedup_hours = 24;
    let all = super::run(
        FetchInput {
            run: RunRef {
                run_id: "dups-24".into(),
                ..run
            },
        },
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!((all.counts.kept, all.counts.duplicates), (2, 2));
}

#[test]
fn the_input_lag_counts_the_hours_after_the_newest_hour_with_input() {
    let end: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
    let hour = |h: i64| end - Duration::hours(h);
    assert_eq!(super::input_lag_hours(end, hour(1)), 0, "the last hour has input");
    assert_eq!(super::input_lag_hours(end, hour(6)), 5);
    assert_eq!(
        super::input_lag_hours(end, hour(0)),
        0,
        "an hour after the window's end"
    );
}
