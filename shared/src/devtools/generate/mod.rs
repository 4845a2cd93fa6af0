//! Realistic synthetic Snowplow enriched events, seeded: many readers with a home
//! topic who come in sessions, Zipf-like article popularity within topics, fresh
//! stories read most (interest halves every two days), and a "related stories"
//! box on every story (earlier coverage of its topic) that readers follow, so
//! the order of reads carries signal; page views followed by page pings every 10
//! to 30 s, AMP readers (some on AMP viewer paths), bots, other apps' and
//! non-page events, duplicates and malformed lines. Written as the Snowplow S3
//! loader writes: one folder per hour of gzipped TSV, generated an hour at a
//! time ([`stream`], [`write_stream`]) so memory does not grow with the window.
//!
//! [`Truth`] says what a correct fetch must find, so tests can check it.
//!
//! The parts: [`text`] writes the stories (words, names, sections), [`world`]
//! is the site (its catalogue, topics and related-stories boxes, and how a
//! reader picks the next story), [`lines`] turns an event into an enriched TSV
//! line, [`stream`] plays the readers' sessions in time order and hands out
//! hours, and [`write`] stores them as the S3 loader does.

mod lines;
mod stream;
#[cfg(test)]
mod tests;
mod text;
mod world;
mod write;
mod zipf;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::contract::error::Result;
use crate::contract::layout::{InputLayout, ObjectKey};
use crate::contract::site::CatalogEntry;
pub use crate::devtools::generate::stream::{stream, HourLines, Stream};
pub use crate::devtools::generate::write::{
    write, write_catalog, write_hour, write_hours, write_stream, write_to,
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub app_id: String,
    pub host: String,
    /// Events fall in `[end - days, end)`.
    pub end: DateTime<Utc>,
    pub days: u32,
    pub readers: usize,
    pub articles: usize,
    /// Topics; each reader prefers one, each article belongs to one.
    pub clusters: usize,
    /// Mean sessions per reader over the window.
    pub sessions_per_reader: f64,
    pub amp_fraction: f64,
    pub bots: usize,
    /// Lines of each malformed kind (field count, timestamp, JSON).
    pub malformed_per_kind: usize,
    pub duplicates: usize,
    pub seed: u64,
    /// Record every valid event in [`Truth::expected`] (tests; costs memory).
    pub record_expected: bool,
}

impl Spec {
    /// The data the local run uses by default: a month of a small news site.
    pub fn sample(app_id: &str, end: DateTime<Utc>, days: u32, seed: u64) -> Spec {
        Spec {
            app_id: app_id.into(),
            host: format!("{app_id}.example.com"),
            end,
            days,
            readers: 3000,
            articles: 400,
            clusters: 8,
            sessions_per_reader: 3.0,
            amp_fraction: 0.2,
            bots: 10,
            malformed_per_kind: 5,
            duplicates: 50,
            seed,
            record_expected: false,
        }
    }
}

/// A malformed line the generator wrote on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub key: ObjectKey,
    /// 1-based line number within the (decompressed) object.
    pub line: u64,
    pub kind: MalformedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    FieldCount,
    Timestamp,
    Json,
    EventId,
}

impl MalformedKind {
    /// How fetch's bad-row reason for such a line begins.
    pub fn reason_prefix(self) -> &'static str {
        match self {
            MalformedKind::FieldCount => "wrong field count",
            MalformedKind::Timestamp => "unparseable timestamp",
            MalformedKind::Json => "invalid JSON in contexts",
            MalformedKind::EventId => "event_id is not a UUID",
        }
    }
}

/// A valid event as fetch must report it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedEvent {
    pub event_id: String,
    pub client_id: String,
    /// Epoch ms, UTC.
    pub time_ms: i64,
    /// Normalised page path.
    pub path: String,
}

/// What a correct fetch of everything generated must report.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// Every valid event, when the spec asks for them.
    pub expected: Vec<ExpectedEvent>,
    pub lines: u64,
    /// Distinct page events of real readers of the site: what fetch must keep.
    pub valid_events: u64,
    pub duplicates: u64,
    pub bot_events: u64,
    pub other_app_events: u64,
    pub non_page_events: u64,
    pub malformed: Vec<Malformed>,
    /// Stories published in the last hours that nobody has read yet, the
    /// freshest at the end, after every event: content alone must speak for them.
    pub fresh: Vec<String>,
    /// The simulated widget's events of real readers of the site (views and clicks).
    pub widget_events: u64,
    pub widget_clicks: u64,
}

impl Truth {
    /// Adds what one session counted (its lines' kinds and expected events).
    fn add(&mut self, other: Truth) {
        self.expected.extend(other.expected);
        self.lines += other.lines;
        self.valid_events += other.valid_events;
        self.duplicates += other.duplicates;
        self.bot_events += other.bot_events;
        self.other_app_events += other.other_app_events;
        self.non_page_events += other.non_page_events;
        self.malformed.extend(other.malformed);
        self.fresh.extend(other.fresh);
        self.widget_events += other.widget_events;
        self.widget_clicks += other.widget_clicks;
    }
}

/// What the site's widget serves: its database's current lists, as the API
/// reads them. With it, readers on an article are shown the first
/// [`WIDGET_SLOTS`] of its list (or the defaults, for an article without
/// one) and click with a chance that follows how related the story truly is.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// The current article model's id and each article's list, best first.
    pub article_model_id: Option<i64>,
    pub lists: HashMap<String, Vec<String>>,
    pub defaults_model_id: Option<i64>,
    pub defaults: Vec<String>,
    /// Readers (a fixed share, by reader) always shown the defaults: the
    /// control group an online comparison with the defaults needs.
    pub defaults_share: f64,
}

/// Recommendations the widget shows.
pub const WIDGET_SLOTS: usize = 4;

/// The widget's schemas as the generator sends them.
pub const WIDGET_FLOW_SCHEMA: &str = "iglu:com.example.news/recommendation_flow/jsonschema/1-0-0";
pub const WIDGET_MODEL_SCHEMA: &str = "iglu:com.example.news/model/jsonschema/1-0-0";
pub const WIDGET_ARTICLE_SCHEMA: &str = "iglu:com.example.news/article_recommendation/jsonschema/1-0-0";

/// Generated hour partitions, before they are written.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The tracker's app id (part of the objects' names).
    pub app_id: String,
    /// Lines per hour (start of hour, UTC), in file order.
    pub hours: BTreeMap<DateTime<Utc>, Vec<String>>,
    pub catalog: Vec<CatalogEntry>,
    pub truth: Truth,
}

/// Generates everything the spec asks for, in memory (small specs: tests).
/// Same spec, same output. Keys of malformed lines in [`Truth`] are the
/// objects [`write`] will create.
///
/// # Errors
/// `InvalidInput` when the app id cannot be part of an object name.
pub fn generate(spec: &Spec, input: &InputLayout) -> Result<Generated> {
    let mut s = stream(spec, input)?;
    let mut hours = BTreeMap::new();
    while let Some(h) = s.next_hour()? {
        hours.insert(h.hour, h.lines);
    }
    let catalog = s.catalog().to_vec();
    Ok(Generated {
        app_id: spec.app_id.clone(),
        hours,
        catalog,
        truth: s.truth(),
    })
}

/// One object per hour and app, so several sites' data can share the
/// partitions, as one Snowplow pipeline writes every app's events together.
fn part_key(input: &InputLayout, hour: DateTime<Utc>, app_id: &str) -> Result<ObjectKey> {
    input.part(&input.hour(hour), &format!("{app_id}-{PART_NAME}"))
}

/// The object name the generator uses in every hour folder.
pub const PART_NAME: &str = "enriched-part-00000.gz";
