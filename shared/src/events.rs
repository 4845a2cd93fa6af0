//! Fetch's pure core: turns the raw objects of one hour partition (gzipped or
//! plain TSV) into an events table, counting every line and quarantining bad
//! ones. No I/O: the stage feeds it bytes. The window and de-duplication are
//! applied when hours are assembled ([`crate::dedup`]).

use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::layout::ObjectKey;
use crate::parquet::{col, date_column, datetime_ms_column};
use crate::snowplow::{parse_line, Parsed, Skip};
use crate::stage::ParseCounts;

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

/// Accumulates the events of the objects of one hour partition.
#[derive(Debug)]
pub struct EventBatch {
    app_id: String,
    pub counts: ParseCounts,
    pub bad_rows: Vec<BadRowRecord>,
    client_id: Vec<String>,
    time_ms: Vec<i64>,
    page_path: Vec<String>,
    event_name: Vec<&'static str>,
    event_id: Vec<String>,
    fingerprint: Vec<String>,
}

impl EventBatch {
    pub fn new(app_id: &str) -> EventBatch {
        EventBatch {
            app_id: app_id.to_string(),
            counts: ParseCounts::default(),
            bad_rows: Vec::new(),
            client_id: Vec::new(),
            time_ms: Vec::new(),
            page_path: Vec::new(),
            event_name: Vec::new(),
            event_id: Vec::new(),
            fingerprint: Vec::new(),
        }
    }

    fn bad(&mut self, key: &ObjectKey, line: u64, reason: String, raw: &[u8]) {
        self.counts.bad += 1;
        self.bad_rows.push(BadRowRecord {
            key: key.to_string(),
            line,
            reason,
            // a UTF-8 sequence cut at the limit becomes one replacement character
            raw: String::from_utf8_lossy(&raw[..raw.len().min(RAW_LIMIT)]).into_owned(),
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
                    // the unreadable rest of the object counts as one bad line
                    self.counts.lines += 1;
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
                self.counts.events += 1;
                self.client_id.push(e.client_id.into_owned());
                self.time_ms.push(e.time_ms);
                self.page_path.push(e.path);
                self.event_name.push(e.event.as_str());
                self.event_id.push(e.event_id.to_string());
                self.fingerprint.push(e.fingerprint.to_string());
            }
        }
    }

    /// The events table (schema `parquet::EVENTS`), sorted by reader, time and id.
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
            Column::new(col::EVENT_FINGERPRINT.into(), pick_s(&self.fingerprint)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn key(k: &str) -> ObjectKey {
        ObjectKey::from_listing(k).unwrap()
    }

    fn line() -> String {
        crate::snowplow::tests::line(&[("derived_tstamp", "2026-01-08 10:00:00.000")])
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
        let df = batch.into_frame(&key("a/x")).unwrap();
        assert_eq!(df.height(), 2);
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
            text.push_str(&crate::snowplow::tests::line(&o));
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
}
