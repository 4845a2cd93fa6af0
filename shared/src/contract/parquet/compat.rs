//! Files written by the polars DataFrame writer of release de93a48
//! (`testdata/parquet-de93a48/`, values in its README) read back, value for
//! value, through today's typed readers: the hour cache and earlier runs'
//! files outlive a deploy.

use bytes::Bytes;

use super::*;
use crate::contract::layout::ObjectKey;

fn fixture(name: &str) -> (Bytes, ObjectKey) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/parquet-de93a48")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (
        Bytes::from(bytes),
        ObjectKey::from_listing(&format!("fixtures/{name}")).unwrap(),
    )
}

const T0: i64 = 1_767_225_600_000;
const READER: &str = "reader-a-0123456789abcdef";
const PAGE: &str = "/article/1/a-long-slug-of-a-story";

#[test]
fn hour_and_window_events() {
    let (bytes, key) = fixture("hour_events.parquet");
    let hour = decode(bytes, &key, &HOUR_EVENTS, None).unwrap();
    assert_eq!(hour.len(), 3);
    assert_eq!(
        hour.strs(col::CLIENT_ID).unwrap(),
        [Some(READER), Some(READER), Some("b")]
    );
    assert_eq!(
        hour.i64s(col::ACTIVITY_TIME).unwrap(),
        [Some(T0), Some(T0 + 10_000), Some(T0 + 20_500)]
    );
    assert_eq!(hour.i64s(col::SESSION_DATE).unwrap(), [Some(20454); 3]);
    assert_eq!(
        hour.strs(col::PAGE_PATH).unwrap(),
        [Some(PAGE), Some(PAGE), Some("/")]
    );
    assert_eq!(
        hour.strs(col::EVENT_NAME).unwrap(),
        [Some("page_view"), Some("page_ping"), Some("page_view")]
    );
    assert_eq!(hour.u64s(col::EVENT_ID_HI).unwrap(), [Some(1), Some(2), Some(3)]);
    assert_eq!(
        hour.u64s(col::EVENT_ID_LO).unwrap(),
        [Some(10), Some(20), Some(30)]
    );
    assert_eq!(
        hour.u64s(col::FINGERPRINT_HASH).unwrap(),
        [Some(0), Some(7), Some(u64::MAX)]
    );

    let (bytes, key) = fixture("events.parquet");
    let events = decode(bytes, &key, &EVENTS, None).unwrap();
    assert_eq!(
        events.strs(col::EVENT_ID).unwrap(),
        [
            Some("00000000-0000-0001-0000-00000000000a"),
            Some("00000000-0000-0002-0000-000000000014"),
            Some("00000000-0000-0003-0000-00000000001e"),
        ]
    );
    assert_eq!(
        events.i64s(col::ACTIVITY_TIME).unwrap(),
        hour.i64s(col::ACTIVITY_TIME).unwrap()
    );
    // the reader preprocess uses: some columns only
    let (bytes, key) = fixture("events.parquet");
    let some = decode(bytes, &key, &EVENTS, Some(&[col::PAGE_PATH, col::CLIENT_ID])).unwrap();
    assert_eq!(some.names(), [col::PAGE_PATH, col::CLIENT_ID]);
    assert_eq!(
        some.strs(col::PAGE_PATH).unwrap(),
        [Some(PAGE), Some(PAGE), Some("/")]
    );
}

#[test]
fn the_run_files() {
    let (bytes, key) = fixture("dwell.parquet");
    let dwell = Dwell::from_table(decode(bytes, &key, &DWELL, None).unwrap()).unwrap();
    assert_eq!(
        dwell.columns().unwrap(),
        DwellColumns {
            client_id: vec![READER, "b"],
            external_id: vec!["1", "2"],
            dwell_secs: vec![10.5, 600.0],
            events: vec![2, 1],
            first_seen_ms: vec![T0, T0 + 20_500],
            last_seen_ms: vec![T0 + 10_500, T0 + 620_500],
        }
    );
    let (bytes, key) = fixture("articles.parquet");
    let articles = Articles::from_table(decode(bytes, &key, &ARTICLES, None).unwrap()).unwrap();
    assert_eq!(
        articles.columns().unwrap(),
        ArticleColumns {
            external_id: vec!["1", "2"],
            path: vec![Some(PAGE), None],
            title: vec![None, Some("Two: a title longer than twelve bytes")],
            published_at_ms: vec![Some(1_767_139_200_000), None],
            exclude_reason: vec![None, Some("sponsored")],
            excerpt: vec![Some("What happened"), None],
            section: vec![Some("News"), None],
            tags: vec![Some("Budget\nSchools"), None],
        }
    );
    let (bytes, key) = fixture("defaults.parquet");
    let defaults = Defaults::from_table(decode(bytes, &key, &DEFAULTS, None).unwrap()).unwrap();
    assert_eq!(
        defaults.columns().unwrap(),
        DefaultColumns {
            external_id: vec!["2", "1"],
            score: vec![1.0, 0.25],
        }
    );
    let (bytes, key) = fixture("article_recs.parquet");
    let recs = ArticleRecs::from_table(decode(bytes, &key, &ARTICLE_RECS, None).unwrap()).unwrap();
    assert_eq!(
        recs.columns().unwrap(),
        ArticleRecColumns {
            source_external_id: vec!["1", "2"],
            external_id: vec!["2", "1"],
            score: vec![0.75, 0.5],
        }
    );
    let (bytes, key) = fixture("article_factors.parquet");
    let factors = Factors::from_table(decode(bytes, &key, &FACTORS, None).unwrap()).unwrap();
    assert_eq!(
        factors.columns().unwrap(),
        FactorColumns {
            external_id: vec!["1", "2"],
            values: vec![0.5, -1.25, 3.0, 0.0],
            k: 2,
        }
    );
    let (bytes, key) = fixture("widget_events.parquet");
    let widget = WidgetEvents::from_table(decode(bytes, &key, &WIDGET_EVENTS, None).unwrap()).unwrap();
    assert_eq!(
        widget.columns().unwrap(),
        WidgetEventColumns {
            client_id: vec![READER, READER],
            time_ms: vec![T0, T0 + 5_000],
            page_path: vec![PAGE, PAGE],
            step: vec!["seen", "click"],
            model_id: vec!["7", "7"],
            model_type: vec!["article", "article"],
            external_id: vec![None, Some("2")],
            position: vec![None, Some(2)],
            event_id: vec![
                "00000000-0000-0000-0000-000000000101",
                "00000000-0000-0000-0000-000000000102",
            ],
        }
    );
}

/// Today's writer writes what the old one wrote, byte for byte: the same
/// encoder, pages, statistics and footer, so a rollback reads them too.
#[test]
fn todays_writer_writes_the_same_files() {
    for (name, schema) in [
        ("hour_events.parquet", &HOUR_EVENTS),
        ("events.parquet", &EVENTS),
        ("dwell.parquet", &DWELL),
        ("articles.parquet", &ARTICLES),
        ("defaults.parquet", &DEFAULTS),
        ("article_recs.parquet", &ARTICLE_RECS),
        ("article_factors.parquet", &FACTORS),
        ("widget_events.parquet", &WIDGET_EVENTS),
    ] {
        let (bytes, key) = fixture(name);
        let table = decode(bytes.clone(), &key, schema, None).unwrap();
        let again = encode(&table).unwrap();
        assert_eq!(
            decode(Bytes::from(again.clone()), &key, schema, None).unwrap(),
            table,
            "{name}"
        );
        assert!(again == bytes, "{name}: not byte for byte the old writer's file");
    }
}

/// Bad bytes are a `Parquet` error naming the object, never a panic: an
/// empty object, text, every truncation, and a byte flipped anywhere (the
/// decoder panics on some corrupt page headers; a flip that lands in
/// statistics or a value may still read, as Parquet pages carry no checksum).
#[test]
fn empty_truncated_and_corrupt_files_are_errors_naming_the_object() {
    let (bytes, key) = fixture("dwell.parquet");
    let read = |b: Vec<u8>| {
        std::panic::catch_unwind(|| decode(Bytes::from(b), &key, &DWELL, None))
            .unwrap_or_else(|_| panic!("the reader panicked"))
    };
    let named = |r: crate::contract::error::Result<Table>, what: &str| match r {
        Err(e @ crate::contract::error::Error::Parquet { .. }) => {
            assert!(e.to_string().contains("fixtures/dwell.parquet"), "{what}: {e}");
        }
        other => panic!("{what}: {other:?}"),
    };
    named(read(Vec::new()), "empty");
    named(read(b"client_id,external_id\nr,1\n".to_vec()), "text");
    for cut in 0..bytes.len() {
        named(read(bytes[..cut].to_vec()), &format!("cut at {cut}"));
    }
    let mut failed = 0;
    for at in 0..bytes.len() {
        let mut b = bytes.to_vec();
        b[at] ^= 0xff;
        match read(b) {
            Ok(_) => {}
            Err(
                crate::contract::error::Error::Parquet { .. } | crate::contract::error::Error::Schema { .. },
            ) => failed += 1,
            Err(e) => panic!("flip at {at}: {e}"),
        }
    }
    assert!(failed > 0, "no flip was noticed");
}
