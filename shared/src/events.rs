//! Fetch's pure core: turns raw input objects (gzipped or plain TSV) into the
//! de-duplicated events table, counting every line and quarantining bad ones.
//! No I/O: the stage feeds it bytes.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::layout::ObjectKey;
use crate::parquet::{col, date_column, datetime_ms_column};
use crate::snowplow::{parse_line, Parsed, Skip};
use crate::stage::{FetchCounts, Window};

/// A quarantined line: where it was, why, and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRowRecord {
    pub key: String,
    /// 1-based line number in the decompressed object; for a truncated
    /// object, the line at which reading stopped.
    pub line: u64,
    pub reason: String,
    /// The line, cut at 10,000 bytes (empty when the object was unreadable).
    pub raw: String,
}

const RAW_LIMIT: usize = 10_000;

/// Accumulates events over many objects.
#[derive(Debug)]
pub struct EventBatch {
    window: Window,
    app_id: String,
    seen: HashSet<Box<str>>,
    pub counts: FetchCounts,
    pub bad_rows: Vec<BadRowRecord>,
    client_id: Vec<String>,
    time_ms: Vec<i64>,
    page_path: Vec<String>,
    event_name: Vec<&'static str>,
    event_id: Vec<String>,
}

impl EventBatch {
    pub fn new(window: Window, app_id: &str) -> EventBatch {
        EventBatch {
            window,
            app_id: app_id.to_string(),
            seen: HashSet::new(),
            counts: FetchCounts::default(),
            bad_rows: Vec::new(),
            client_id: Vec::new(),
            time_ms: Vec::new(),
            page_path: Vec::new(),
            event_name: Vec::new(),
            event_id: Vec::new(),
        }
    }

    fn bad(&mut self, key: &ObjectKey, line: u64, reason: String, raw: &[u8]) {
        let mut end = raw.len().min(RAW_LIMIT);
        while end > 0 && !raw.is_char_boundary_lossy(end) {
            end -= 1;
        }
        self.counts.bad += 1;
        self.bad_rows.push(BadRowRecord {
            key: key.to_string(),
            line,
            reason,
            raw: String::from_utf8_lossy(&raw[..end]).into_owned(),
        });
    }

    /// Reads one object: gzip (one or more members) when it starts with the gzip
    /// magic bytes, plain text otherwise.
    pub fn add_object(&mut self, key: &ObjectKey, bytes: &[u8]) {
        self.counts.objects += 1;
        let reader: Box<dyn Read + '_> = if bytes.starts_with(&[0x1f, 0x8b]) {
            Box::new(MultiGzDecoder::new(bytes))
        } else {
            Box::new(bytes)
        };
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let mut buf = Vec::with_capacity(4096);
        let mut n = 0u64;
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    n += 1;
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    if buf.is_empty() {
                        continue; // a blank line (e.g. a trailing newline pair) is not an event
                    }
                    let line = std::mem::take(&mut buf);
                    self.add_line(key, n, &line);
                    buf = line;
                }
                Err(e) => {
                    self.bad(
                        key,
                        n + 1,
                        format!("unreadable object (truncated gzip?): {e}"),
                        b"",
                    );
                    break;
                }
            }
        }
    }

    fn add_line(&mut self, key: &ObjectKey, n: u64, raw: &[u8]) {
        self.counts.lines += 1;
        let Ok(line) = std::str::from_utf8(raw) else {
            self.bad(key, n, "invalid UTF-8".into(), raw);
            return;
        };
        match parse_line(line, &self.app_id) {
            Err(reason) => self.bad(key, n, reason.to_string(), raw),
            Ok(Parsed::Skip(skip)) => match skip {
                Skip::NotPageEvent => self.counts.not_page_event += 1,
                Skip::OtherApp => self.counts.other_app += 1,
                Skip::Bot => self.counts.bots += 1,
                Skip::NoReader => self.counts.no_reader += 1,
            },
            Ok(Parsed::Keep(e)) => {
                if !self.window.contains_ms(e.time_ms) {
                    self.counts.out_of_window += 1;
                    return;
                }
                let dedup_key: Box<str> = if e.fingerprint.is_empty() {
                    e.event_id.into()
                } else {
                    format!("{}\u{1f}{}", e.event_id, e.fingerprint).into()
                };
                if !self.seen.insert(dedup_key) {
                    self.counts.duplicates += 1;
                    return;
                }
                self.counts.kept += 1;
                self.client_id.push(e.client_id.into_owned());
                self.time_ms.push(e.time_ms);
                self.page_path.push(e.path);
                self.event_name.push(e.event.as_str());
                self.event_id.push(e.event_id.to_string());
            }
        }
    }

    /// The events table (schema `parquet::EVENTS`), sorted by reader then time.
    ///
    /// # Errors
    /// `Frame` if polars fails to build the frame.
    pub fn into_frame(self, key: &ObjectKey) -> Result<DataFrame> {
        let n = self.client_id.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            self.client_id[a]
                .cmp(&self.client_id[b])
                .then(self.time_ms[a].cmp(&self.time_ms[b]))
                .then(self.event_id[a].cmp(&self.event_id[b]))
        });
        fn pick<'a>(v: &'a [String], order: &[usize]) -> Vec<&'a str> {
            order.iter().map(|&i| v[i].as_str()).collect()
        }
        let pick_s = |v| pick(v, &order);
        let times: Vec<Option<i64>> = order.iter().map(|&i| Some(self.time_ms[i])).collect();
        let days: Vec<i32> = order
            .iter()
            .map(|&i| self.time_ms[i].div_euclid(86_400_000) as i32)
            .collect();
        let names: Vec<&str> = order.iter().map(|&i| self.event_name[i]).collect();
        let cols = vec![
            Column::new(col::CLIENT_ID.into(), pick_s(&self.client_id)),
            datetime_ms_column(col::ACTIVITY_TIME, times, key)?,
            date_column(col::SESSION_DATE, days, key)?,
            Column::new(col::PAGE_PATH.into(), pick_s(&self.page_path)),
            Column::new(col::EVENT_NAME.into(), names),
            Column::new(col::EVENT_ID.into(), pick_s(&self.event_id)),
        ];
        DataFrame::new(n, cols).map_err(crate::error::Error::frame(key))
    }

    /// Bad rows as JSON lines.
    pub fn bad_rows_jsonl(&self) -> String {
        let mut out = String::new();
        for r in &self.bad_rows {
            if let Ok(line) = serde_json::to_string(r) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

trait CharBoundary {
    fn is_char_boundary_lossy(&self, i: usize) -> bool;
}

impl CharBoundary for [u8] {
    /// True unless `i` falls inside a UTF-8 sequence (a continuation byte).
    fn is_char_boundary_lossy(&self, i: usize) -> bool {
        i >= self.len() || (self[i] & 0xC0) != 0x80
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, write, Spec};
    use crate::layout::InputLayout;
    use crate::storage::{BlobStore, LocalDir};
    use std::io::Write;

    fn window() -> Window {
        Window {
            start: "2026-01-07T00:00:00Z".parse().unwrap(),
            end: "2026-01-10T00:00:00Z".parse().unwrap(),
        }
    }

    fn key(k: &str) -> ObjectKey {
        ObjectKey::from_listing(k).unwrap()
    }

    #[tokio::test]
    async fn finds_exactly_what_the_generator_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let input = InputLayout::new("in").unwrap();
        let mut spec = Spec::sample("site", window().end, 3, 11);
        spec.readers = 300;
        spec.articles = 50;
        let g = generate(&spec, &input);
        write(&g, &store, &input, "site").await.unwrap();

        let mut batch = EventBatch::new(window(), "site");
        for h in input.hours(&window()) {
            for obj in store.list(&h.prefix).await.unwrap() {
                batch.add_object(&obj.key, &store.get(&obj.key).await.unwrap());
            }
        }
        let c = &batch.counts;
        assert_eq!(c.lines, g.truth.lines);
        assert_eq!(c.kept, g.truth.valid_events);
        assert_eq!(c.duplicates, g.truth.duplicates);
        assert_eq!(c.bots, g.truth.bot_events);
        assert_eq!(c.other_app, g.truth.other_app_events);
        assert_eq!(c.not_page_event, g.truth.non_page_events);
        assert_eq!(
            c.lines,
            c.kept
                + c.duplicates
                + c.bad
                + c.not_page_event
                + c.other_app
                + c.bots
                + c.no_reader
                + c.out_of_window
        );
        let mut found: Vec<(String, u64)> = batch.bad_rows.iter().map(|b| (b.key.clone(), b.line)).collect();
        let mut want: Vec<(String, u64)> = g
            .truth
            .malformed
            .iter()
            .map(|m| (m.key.to_string(), m.line))
            .collect();
        found.sort();
        want.sort();
        assert_eq!(found, want);
        assert!(batch
            .bad_rows
            .iter()
            .all(|b| !b.reason.is_empty() && !b.raw.is_empty()));
        let df = batch.into_frame(&key("x/events.parquet")).unwrap();
        assert_eq!(df.height() as u64, g.truth.valid_events);
    }

    #[test]
    fn plain_text_objects_and_truncated_gzip() {
        let line = crate::snowplow::tests::line(&[("derived_tstamp", "2026-01-08 10:00:00.000")]);
        let mut batch = EventBatch::new(window(), "site");
        batch.add_object(&key("a/plain.tsv"), format!("{line}\n\n{line}").as_bytes());
        assert_eq!(batch.counts.kept, 1);
        assert_eq!(batch.counts.duplicates, 1);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..200 {
            writeln!(gz, "{}", line.replace("e0a3b7a2", &format!("{i:08x}"))).unwrap();
        }
        let full = gz.finish().unwrap();
        let cut = &full[..full.len() / 2];
        let mut batch = EventBatch::new(window(), "site");
        batch.add_object(&key("a/cut.gz"), cut);
        assert_eq!(batch.counts.bad, 1);
        assert!(
            batch.bad_rows[0].reason.contains("truncated"),
            "{:?}",
            batch.bad_rows
        );
        assert!(
            batch.counts.kept > 0 && batch.counts.kept < 200,
            "lines before the cut are kept"
        );
    }

    #[test]
    fn invalid_utf8_is_quarantined() {
        let mut batch = EventBatch::new(window(), "site");
        batch.add_object(&key("a/x.tsv"), b"\xff\xfe\tbroken\n");
        assert_eq!(batch.counts.bad, 1);
        assert_eq!(batch.bad_rows[0].reason, "invalid UTF-8");
    }
}
