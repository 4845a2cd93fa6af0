//! Fetch's pure core: turns the raw objects of one hour partition (gzipped or
//! plain TSV) into an events table, counting every line and quarantining bad
//! ones. No I/O: the stage feeds it bytes. The window and de-duplication are
//! applied when hours are assembled ([`crate::stages::fetch::dedup`]).

use std::collections::HashMap;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use serde::Serialize;

use crate::adapters::parquet::{HourEventColumns, WidgetEventColumns};
use crate::contract::layout::ObjectKey;
use crate::contract::stage::ParseCounts;
use crate::settings::WidgetSchemas;
use crate::stages::fetch::dedup::{fingerprint_hash, identity};
use crate::stages::fetch::partial::{aggregate, HourEvent, Partial};
use crate::stages::fetch::snowplow::tsv::LineReader;
use crate::stages::fetch::snowplow::{parse_with, Parsed, Skip, READ};
use crate::stages::fetch::widget_rows::WidgetRows;

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

/// A string column of few distinct values (an hour's readers, its pages):
/// each value stored once, and a code per row, numbered in order of first
/// appearance.
#[derive(Debug, Default)]
struct Interned {
    codes: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    rows: Vec<u32>,
}

impl Interned {
    fn push(&mut self, s: &str) {
        let code = match self.codes.get(s) {
            Some(&code) => code,
            None => {
                let code = u32::try_from(self.codes.len()).unwrap_or(u32::MAX);
                self.codes.insert(s.into(), code);
                code
            }
        };
        self.rows.push(code);
    }

    /// The distinct values, by code.
    fn values(&self) -> Vec<&str> {
        let mut values = vec![""; self.codes.len()];
        for (s, &code) in &self.codes {
            values[code as usize] = s;
        }
        values
    }
}

/// Bytes read from an object at a time; a longer line grows the buffer, up
/// to [`MAX_LINE_BYTES`].
const CHUNK: usize = 256 * 1024;

/// The longest line read as an event. An enriched event travels through one
/// Kinesis record (at most 1 MiB) on its way to S3, so a longer line is not
/// an event: it is quarantined (its first bytes kept) and read past without
/// holding it, so a newline-free object of any size costs at most this much.
pub const MAX_LINE_BYTES: usize = 1 << 20;

fn too_long() -> String {
    format!(
        "line longer than {MAX_LINE_BYTES} bytes (an enriched event is at most 1 MiB): skipped to its end"
    )
}

/// An hour partition parsed: its files' frames, as written to its folder.
#[derive(Debug, Clone)]
pub struct ParsedHour {
    pub events: polars::prelude::DataFrame,
    pub pairs: polars::prelude::DataFrame,
    pub paths: polars::prelude::DataFrame,
    pub keys: polars::prelude::DataFrame,
    pub widget: polars::prelude::DataFrame,
    pub bad_rows: bytes::Bytes,
    pub counts: ParseCounts,
    pub summary: crate::contract::partials::HourSummary,
}

impl ParsedHour {
    fn of(
        key: &ObjectKey,
        events: &HourEventColumns<'_>,
        partial: &Partial<'_>,
        batch: &EventBatch,
    ) -> crate::contract::error::Result<ParsedHour> {
        Ok(ParsedHour {
            events: events.frame(key)?,
            pairs: partial.pairs.frame(key)?,
            paths: partial.paths.frame(key)?,
            keys: partial.keys.frame(key)?,
            widget: batch.widget_columns().frame(key)?,
            bad_rows: bytes::Bytes::from(batch.bad_rows_jsonl()),
            counts: batch.counts.clone(),
            summary: partial.summary.clone(),
        })
    }
}

/// Accumulates the events of the objects of one hour partition.
#[derive(Debug)]
pub struct EventBatch {
    app_id: String,
    /// Which widget events to keep; none looked for without.
    widget_schemas: Option<WidgetSchemas>,
    widget: WidgetRows,
    reader: LineReader,
    pub counts: ParseCounts,
    pub bad_rows: Vec<BadRowRecord>,
    client_id: Interned,
    time_ms: Vec<i64>,
    page_path: Interned,
    event_name: Vec<&'static str>,
    event_id: Vec<u128>,
    fingerprint_hash: Vec<u64>,
}

impl EventBatch {
    pub fn new(app_id: &str) -> EventBatch {
        EventBatch {
            app_id: app_id.to_string(),
            widget_schemas: None,
            widget: WidgetRows::default(),
            reader: LineReader::default(),
            counts: ParseCounts::default(),
            bad_rows: Vec::new(),
            client_id: Interned::default(),
            time_ms: Vec::new(),
            page_path: Interned::default(),
            event_name: Vec::new(),
            event_id: Vec::new(),
            fingerprint_hash: Vec::new(),
        }
    }

    /// Also keeps the recommendation widget's events of these schemas.
    pub fn with_widget(mut self, schemas: WidgetSchemas) -> EventBatch {
        self.widget_schemas = Some(schemas);
        self
    }

    /// The widget's events (schema `parquet::WIDGET_EVENTS`), by time.
    pub fn widget_columns(&self) -> WidgetEventColumns<'_> {
        self.widget.columns()
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

    /// An object that could not be read at all (refused, vanished, or with
    /// a key no store resolves the same way): one bad row for the whole
    /// object, with the reason, so the hour goes on and is still cached.
    pub fn add_unreadable(&mut self, key: &ObjectKey, reason: &str) {
        self.counts.objects += 1;
        self.counts.lines += 1;
        self.bad(key, 0, format!("object not read: {reason}"), b"");
    }

    /// Reads one object: gzip (one or more members) when it starts with the gzip
    /// magic bytes, plain text otherwise. Gzip is inflated in chunks, so memory
    /// holds one chunk of text (or one line, up to [`MAX_LINE_BYTES`]), not
    /// the object.
    pub fn add_object(&mut self, key: &ObjectKey, bytes: &[u8]) {
        self.counts.objects += 1;
        let mut n = 0u64;
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            self.add_lines(key, bytes, &mut n);
            return;
        }
        let mut reader = MultiGzDecoder::new(bytes);
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        // inside a line over the cap, already quarantined: drop bytes to its newline
        let mut skipping = false;
        loop {
            if filled == buf.len() {
                if buf.len() < MAX_LINE_BYTES {
                    buf.resize((buf.len() * 2).min(MAX_LINE_BYTES), 0); // a line longer than the buffer
                } else {
                    n += 1;
                    self.counts.lines += 1;
                    self.bad(key, n, too_long(), &buf[..RAW_LIMIT]);
                    filled = 0;
                    skipping = true;
                }
            }
            match reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    if !skipping {
                        // the object's last line, without its newline
                        self.add_lines(key, &buf[..filled], &mut n);
                    }
                    break;
                }
                Ok(read) => {
                    // only the new bytes can end a line; the kept rest has no newline
                    let mut kept = filled;
                    filled += read;
                    if skipping {
                        match memchr::memchr(b'\n', &buf[kept..filled]) {
                            Some(end) => {
                                buf.copy_within(kept + end + 1..filled, 0);
                                filled -= kept + end + 1;
                                kept = 0;
                                skipping = false;
                            }
                            None => {
                                filled = 0;
                                continue;
                            }
                        }
                    }
                    let done = match memchr::memrchr(b'\n', &buf[kept..filled]) {
                        Some(last) => {
                            self.add_lines(key, &buf[..=kept + last], &mut n);
                            kept + last + 1
                        }
                        None => 0,
                    };
                    buf.copy_within(done..filled, 0);
                    filled -= done;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
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

    /// Adds the lines of `text` (the last may have no newline); `n` numbers
    /// the lines.
    fn add_lines(&mut self, key: &ObjectKey, text: &[u8], n: &mut u64) {
        let mut at = 0;
        while at < text.len() {
            let line = self.reader.first(&text[at..], &READ);
            at += line.consumed;
            *n += 1;
            // a blank line (e.g. a trailing newline pair) is not an event
            if !line.bytes.is_empty() {
                self.add_line(key, *n, &line);
            }
        }
    }

    fn add_line(&mut self, key: &ObjectKey, n: u64, line: &crate::stages::fetch::snowplow::SnowplowLine<'_>) {
        self.counts.lines += 1;
        if line.bytes.len() > MAX_LINE_BYTES {
            self.bad(key, n, too_long(), line.bytes);
            return;
        }
        match parse_with(line, &self.app_id, self.widget_schemas.as_ref()) {
            Err(reason) => self.bad(key, n, reason.to_string(), line.bytes),
            Ok(Parsed::Skip(skip)) => match skip {
                Skip::NotPageEvent => self.counts.not_page_event += 1,
                Skip::OtherApp => self.counts.other_app += 1,
                Skip::Bot => self.counts.bots += 1,
                Skip::NoReader => self.counts.no_reader += 1,
            },
            Ok(Parsed::Widget(e)) => {
                self.counts.widget += 1;
                self.widget.push(e);
            }
            Ok(Parsed::Keep(e)) => {
                self.counts.events += 1;
                self.client_id.push(&e.client_id);
                self.time_ms.push(e.time_ms);
                self.page_path.push(&e.path);
                self.event_name.push(e.event.as_str());
                self.event_id.push(e.event_id.as_u128());
                self.fingerprint_hash.push(fingerprint_hash(e.fingerprint));
            }
        }
    }

    /// The order of the events: grouped by reader (in order of first
    /// appearance), then by time and id, then arrival, so that it is total
    /// and the same for the same input. A counting sort by reader, then a
    /// small sort within each reader's few events.
    fn order(&self) -> Vec<usize> {
        let readers = &self.client_id.rows;
        let mut starts = vec![0usize; self.client_id.codes.len() + 1];
        for &r in readers {
            starts[r as usize + 1] += 1;
        }
        for r in 1..starts.len() {
            starts[r] += starts[r - 1];
        }
        let mut order = vec![0usize; readers.len()];
        let mut next = starts.clone();
        for (i, &r) in readers.iter().enumerate() {
            order[next[r as usize]] = i;
            next[r as usize] += 1;
        }
        for group in starts.windows(2) {
            order[group[0]..group[1]].sort_unstable_by_key(|&i| (self.time_ms[i], self.event_id[i], i));
        }
        order
    }

    /// The hour's events, grouped by reader and sorted by time and id
    /// within each reader, and what they come to ([`aggregate`]: dwell's
    /// sessions with gaps of at most `cap_ms`, paths, identities; with
    /// `cut_ms`, the partition still filling, without events from then on).
    ///
    /// # Errors
    /// `Schema` naming `key` if the columns do not make frames (they always do).
    pub fn into_hour(
        self,
        key: &ObjectKey,
        cap_ms: i64,
        cut_ms: Option<i64>,
    ) -> crate::contract::error::Result<ParsedHour> {
        let order = self.order();
        let readers = self.client_id.values();
        let paths = self.page_path.values();
        let events: Vec<HourEvent<'_>> = order
            .iter()
            .map(|&i| HourEvent {
                reader: readers[self.client_id.rows[i] as usize],
                time_ms: self.time_ms[i],
                path: paths[self.page_path.rows[i] as usize],
                identity: identity(self.event_id[i], self.fingerprint_hash[i]),
            })
            .collect();
        let partial = aggregate(&events, cap_ms, cut_ms);
        let columns = HourEventColumns {
            client_id: events.iter().map(|e| e.reader).collect(),
            time_ms: events.iter().map(|e| e.time_ms).collect(),
            session_date: events
                .iter()
                .map(|e| e.time_ms.div_euclid(86_400_000) as i32)
                .collect(),
            page_path: events.iter().map(|e| e.path).collect(),
            event_name: order.iter().map(|&i| self.event_name[i]).collect(),
            event_id_hi: order.iter().map(|&i| (self.event_id[i] >> 64) as u64).collect(),
            event_id_lo: order.iter().map(|&i| self.event_id[i] as u64).collect(),
            fingerprint_hash: order.iter().map(|&i| self.fingerprint_hash[i]).collect(),
        };
        ParsedHour::of(key, &columns, &partial, &self)
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
mod tests;
