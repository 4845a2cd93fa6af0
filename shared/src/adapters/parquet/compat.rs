//! Files written by release de93a48 (`testdata/parquet-de93a48/`, values in
//! its README) read back, value for value, through today's typed readers:
//! an earlier run's files (the current model's factors and lists) outlive a
//! deploy. The hour cache does not: its version changed, so each hour is
//! parsed again once.

use bytes::Bytes;

use super::*;
use crate::contract::error::Error;
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
fn an_hour_of_events() {
    let (bytes, key) = fixture("hour_events.parquet");
    let hour = HourEvents::from_frame(decode(bytes, &key, HourEvents::SCHEMA, None).unwrap(), &key).unwrap();
    assert_eq!(
        hour.columns().unwrap(),
        HourEventColumns {
            client_id: vec![READER, READER, "b"],
            time_ms: vec![T0, T0 + 10_000, T0 + 20_500],
            session_date: vec![20454; 3],
            page_path: vec![PAGE, PAGE, "/"],
            event_name: vec!["page_view", "page_ping", "page_view"],
            event_id_hi: vec![1, 2, 3],
            event_id_lo: vec![10, 20, 30],
            fingerprint_hash: vec![0, 7, u64::MAX],
        }
    );
    // some columns only
    let (bytes, key) = fixture("hour_events.parquet");
    let some = decode(
        bytes,
        &key,
        HourEvents::SCHEMA,
        Some(&[col::PAGE_PATH, col::CLIENT_ID]),
    )
    .unwrap();
    let names: Vec<&str> = some.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, [col::PAGE_PATH, col::CLIENT_ID]);
}

#[test]
fn the_run_files() {
    let read = |name: &str, schema: &FileSchema| {
        let (bytes, key) = fixture(name);
        (decode(bytes, &key, schema, None).unwrap(), key)
    };
    let (df, key) = read("dwell.parquet", Dwell::SCHEMA);
    assert_eq!(
        Dwell::from_frame(df, &key).unwrap().columns().unwrap(),
        DwellColumns {
            client_id: vec![READER, "b"],
            external_id: vec!["1", "2"],
            dwell_secs: vec![10.5, 600.0],
            events: vec![2, 1],
            first_seen_ms: vec![T0, T0 + 20_500],
            last_seen_ms: vec![T0 + 10_500, T0 + 620_500],
        }
    );
    let (df, key) = read("articles.parquet", Articles::SCHEMA);
    assert_eq!(
        Articles::from_frame(df, &key).unwrap().columns().unwrap(),
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
    let (df, key) = read("defaults.parquet", Defaults::SCHEMA);
    assert_eq!(
        Defaults::from_frame(df, &key).unwrap().columns().unwrap(),
        DefaultColumns {
            external_id: vec!["2", "1"],
            score: vec![1.0, 0.25],
        }
    );
    let (df, key) = read("article_recs.parquet", ArticleRecs::SCHEMA);
    assert_eq!(
        ArticleRecs::from_frame(df, &key).unwrap().columns().unwrap(),
        ArticleRecColumns {
            source_external_id: vec!["1", "2"],
            external_id: vec!["2", "1"],
            score: vec![0.75, 0.5],
        }
    );
    let (df, key) = read("article_factors.parquet", Factors::SCHEMA);
    assert_eq!(
        Factors::from_frame(df, &key).unwrap().columns().unwrap(),
        FactorColumns {
            external_id: vec!["1", "2"],
            values: vec![0.5, -1.25, 3.0, 0.0],
            k: 2,
        }
    );
    let (df, key) = read("widget_events.parquet", WidgetEvents::SCHEMA);
    assert_eq!(
        WidgetEvents::from_frame(df, &key).unwrap().columns().unwrap(),
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

/// Today's writer's files read back as written, every kind.
#[test]
fn todays_files_round_trip() {
    for (name, schema) in [
        ("hour_events.parquet", HourEvents::SCHEMA),
        ("dwell.parquet", Dwell::SCHEMA),
        ("articles.parquet", Articles::SCHEMA),
        ("defaults.parquet", Defaults::SCHEMA),
        ("article_recs.parquet", ArticleRecs::SCHEMA),
        ("article_factors.parquet", Factors::SCHEMA),
        ("widget_events.parquet", WidgetEvents::SCHEMA),
    ] {
        let (bytes, key) = fixture(name);
        let mut df = decode(bytes, &key, schema, None).unwrap();
        let again = encode(&mut df, schema, &key).unwrap();
        assert!(
            decode(Bytes::from(again), &key, schema, None)
                .unwrap()
                .equals_missing(&df),
            "{name}"
        );
    }
}

/// Bytes that are not a Parquet file are a `Parquet` error naming the
/// object: empty, text, cut anywhere. (A file damaged in its body never
/// reaches the decoder: its digest is checked first, `checked_store`.)
#[test]
fn empty_text_and_truncated_files_are_errors_naming_the_object() {
    let (bytes, key) = fixture("dwell.parquet");
    let named = |b: Vec<u8>, what: &str| match decode(Bytes::from(b), &key, Dwell::SCHEMA, None) {
        Err(e @ Error::Parquet { .. }) => {
            assert!(e.to_string().contains("fixtures/dwell.parquet"), "{what}: {e}");
        }
        other => panic!("{what}: {other:?}"),
    };
    named(Vec::new(), "empty");
    named(b"client_id,external_id\nr,1\n".to_vec(), "text");
    // every cut that loses the footer, the part that says what the file is
    for cut in (bytes.len() - 64)..bytes.len() {
        named(bytes[..cut].to_vec(), &format!("cut at {cut}"));
    }
    for cut in [0, 1, 4, 8, bytes.len() / 2] {
        named(bytes[..cut].to_vec(), &format!("cut at {cut}"));
    }
    // another kind of file is a schema error naming it
    let (bytes, key) = fixture("defaults.parquet");
    let e = decode(bytes, &key, Factors::SCHEMA, None).unwrap_err();
    assert!(
        matches!(e, Error::Schema { .. }) && e.to_string().contains("fixtures/defaults.parquet"),
        "{e}"
    );
}
