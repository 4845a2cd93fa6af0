use super::*;
use crate::adapters::parquet::HourEvents;

/// The hour's events file, as the batch writes it.
fn hour_events(batch: EventBatch) -> HourEvents {
    let k = key("a/x");
    HourEvents::from_frame(batch.into_hour(&k, 600_000, None).unwrap().events, &k).unwrap()
}
use std::io::Write;

fn key(k: &str) -> ObjectKey {
    ObjectKey::from_listing(k).unwrap()
}

fn line() -> String {
    crate::stages::fetch::snowplow::tests::line(&[("derived_tstamp", "2026-01-08 10:00:00.000")])
}

#[test]
fn plain_text_objects_and_blank_lines() {
    let l = line();
    let mut batch = EventBatch::new("site");
    batch.add_object(&key("a/plain.tsv"), format!("{l}\n\n{l}\r\n").as_bytes());
    assert_eq!(batch.counts.lines, 2);
    assert_eq!(
        batch.counts.events, 2,
        "duplicates are dropped later, across the window"
    );
    let df = hour_events(batch);
    assert_eq!(df.len(), 2);
}

#[test]
fn truncated_gzip_keeps_what_came_before_and_quarantines_the_rest() {
    let l = line();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..200 {
        writeln!(gz, "{}", l.replace("e0a3b7a2", &format!("{i:08x}"))).unwrap();
    }
    let full = gz.finish().unwrap();
    let cut = &full[..full.len() / 2];
    let mut batch = EventBatch::new("site");
    batch.add_object(&key("a/cut.gz"), cut);
    assert_eq!(batch.counts.bad, 1);
    assert!(
        batch.bad_rows[0].reason.contains("truncated"),
        "{:?}",
        batch.bad_rows
    );
    assert!(batch.counts.events > 0 && batch.counts.events < 200);
    assert_eq!(batch.counts.objects, 1);
    assert_eq!(batch.counts.lines, batch.counts.accounted());
}

/// Lines cross the reader's chunk boundaries, and one line is longer than
/// a chunk: numbering and content survive both, gzipped or not.
#[test]
fn lines_across_chunks_and_longer_than_a_chunk() {
    let l = line();
    let lines = 3 * CHUNK / l.len() + 7;
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&l.replace("e0a3b7a2", &format!("{i:08x}")));
        text.push('\n');
        if i == lines / 2 {
            // a line of 2.5 chunks: one field too many, quarantined whole
            text.push_str(&"x".repeat(5 * CHUNK / 2));
            text.push_str("\t\n");
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    for body in [text.as_bytes(), &gz[..]] {
        let mut batch = EventBatch::new("site");
        batch.add_object(&key("a/big"), body);
        assert_eq!(batch.counts.lines, lines as u64 + 1);
        assert_eq!(batch.counts.events, lines as u64);
        assert_eq!(batch.bad_rows.len(), 1);
        assert_eq!(batch.bad_rows[0].line, lines as u64 / 2 + 2);
        assert_eq!(batch.bad_rows[0].reason, "wrong field count: 2, expected 131");
        assert_eq!(batch.bad_rows[0].raw.len(), RAW_LIMIT);
        let last = lines as u64 - 1;
        let df = hour_events(batch);
        let ids = df.columns().unwrap().event_id_hi;
        assert_eq!(ids.len(), lines);
        assert!(ids.iter().any(|id| id >> 32 == last));
    }
}

/// A line over the cap is one bad row, read past to its newline; the
/// lines around it are events, gzipped or not.
#[test]
fn a_line_over_the_cap_is_one_bad_row_and_the_rest_goes_on() {
    let l = line();
    let mut text = format!("{l}\n");
    text.push_str(&"y".repeat(MAX_LINE_BYTES + 3 * CHUNK + 17));
    text.push('\n');
    text.push_str(&l.replace("e0a3b7a2", "e0a3b7a3"));
    text.push('\n');
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    for body in [text.as_bytes(), &gz[..]] {
        let mut batch = EventBatch::new("site");
        batch.add_object(&key("a/long"), body);
        let c = &batch.counts;
        assert_eq!((c.lines, c.events, c.bad), (3, 2, 1), "{c:?}");
        assert_eq!(batch.bad_rows[0].line, 2);
        assert!(batch.bad_rows[0]
            .reason
            .starts_with("line longer than 1048576 bytes"));
        assert_eq!(batch.bad_rows[0].raw.len(), RAW_LIMIT);
        assert_eq!(c.lines, c.accounted());
    }
    // the long line last, without its newline
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("{l}\n").as_bytes()).unwrap();
    gz.write_all(&vec![b'z'; 2 * MAX_LINE_BYTES]).unwrap();
    let mut batch = EventBatch::new("site");
    batch.add_object(&key("a/tail"), &gz.finish().unwrap());
    assert_eq!(
        (batch.counts.lines, batch.counts.events, batch.counts.bad),
        (2, 1, 1)
    );
}

#[test]
fn an_unreadable_object_is_one_bad_row() {
    let mut batch = EventBatch::new("site");
    batch.add_unreadable(&key("a/x.gz"), "access denied");
    let c = &batch.counts;
    assert_eq!((c.objects, c.lines, c.bad), (1, 1, 1));
    assert_eq!(batch.bad_rows[0].reason, "object not read: access denied");
    assert_eq!(c.lines, c.accounted());
}

#[test]
fn events_are_grouped_by_reader_and_sorted_by_time_and_id() {
    let mut text = String::new();
    for (reader, time, id) in [
        ("b", "2026-01-08 10:00:02.000", 3),
        ("a", "2026-01-08 10:00:05.000", 2),
        ("b", "2026-01-08 10:00:01.000", 5),
        ("a", "2026-01-08 10:00:05.000", 1),
        ("c", "2026-01-08 09:00:00.000", 4),
    ] {
        text.push_str(&crate::stages::fetch::snowplow::tests::line(&[
            ("domain_userid", reader),
            ("derived_tstamp", time),
            ("event_id", &format!("00000000-0000-0000-0000-{id:012}")),
        ]));
        text.push('\n');
    }
    let mut batch = EventBatch::new("site");
    batch.add_object(&key("a/x.tsv"), text.as_bytes());
    let df = hour_events(batch);
    let c = df.columns().unwrap();
    // b first (it appears first), then a, then c; by time, then id
    assert_eq!(c.event_id_lo, [5, 3, 1, 2, 4]);
    assert_eq!(c.client_id, ["b", "b", "a", "a", "c"]);
}

#[test]
fn invalid_utf8_is_quarantined() {
    let mut batch = EventBatch::new("site");
    batch.add_object(&key("a/x.tsv"), b"\xff\xfe\tbroken\n");
    assert_eq!(batch.counts.bad, 1);
    assert_eq!(batch.bad_rows[0].reason, "invalid UTF-8");
    assert_eq!(batch.bad_rows[0].line, 1);
}

#[test]
fn every_line_is_accounted_for() {
    let mut text = String::new();
    for (k, v) in [
        ("event", "struct"),
        ("app_id", "other"),
        ("useragent", "Googlebot"),
        ("domain_userid", ""),
    ] {
        let mut o = vec![(k, v), ("derived_tstamp", "2026-01-08 10:00:00.000")];
        if k == "domain_userid" {
            o.push(("network_userid", ""));
        }
        text.push_str(&crate::stages::fetch::snowplow::tests::line(&o));
        text.push('\n');
    }
    text.push_str("not\ta\tsnowplow line\n");
    text.push_str(&line());
    let mut batch = EventBatch::new("site");
    batch.add_object(&key("a/mix.tsv"), text.as_bytes());
    let c = &batch.counts;
    assert_eq!(
        (
            c.not_page_event,
            c.other_app,
            c.bots,
            c.no_reader,
            c.bad,
            c.events
        ),
        (1, 1, 1, 1, 1, 1)
    );
    assert_eq!(c.lines, c.accounted());
}
