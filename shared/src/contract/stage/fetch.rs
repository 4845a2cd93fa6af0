//! Fetch's requests and answers: the plan, one hour, the window.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RunRef;
use crate::contract::integrity::Files;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchInput {
    pub run: RunRef,
}

/// What parsing one hour partition saw:
/// `lines = events + widget + bad + not_page_event + other_app + bots + no_reader`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseCounts {
    pub objects: u64,
    pub lines: u64,
    /// Page events of readers of the site, before de-duplication.
    pub events: u64,
    pub bad: u64,
    pub not_page_event: u64,
    pub other_app: u64,
    pub bots: u64,
    pub no_reader: u64,
    /// The recommendation widget's events, before de-duplication (0 in
    /// counts from before they were read).
    #[serde(default)]
    pub widget: u64,
}

impl ParseCounts {
    /// The lines these counts account for; equals `lines` when nothing is lost.
    pub fn accounted(&self) -> u64 {
        self.events
            + self.widget
            + self.bad
            + self.not_page_event
            + self.other_app
            + self.bots
            + self.no_reader
    }

    pub fn add(&mut self, o: &ParseCounts) {
        self.objects += o.objects;
        self.lines += o.lines;
        self.events += o.events;
        self.bad += o.bad;
        self.not_page_event += o.not_page_event;
        self.other_app += o.other_app;
        self.bots += o.bots;
        self.no_reader += o.no_reader;
        self.widget += o.widget;
    }
}

/// What fetch saw over the window: `parsed.events = kept + duplicates + out_of_window`,
/// and `parsed.widget = widget_kept + widget_duplicates + widget_out_of_window`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchCounts {
    pub hours_read: u64,
    pub hours_missing: u64,
    /// Hours parsed from the input in this run.
    pub hours_parsed: u64,
    /// Hours read from the per-hour cache, unchanged since they were parsed.
    pub hours_cached: u64,
    pub parsed: ParseCounts,
    pub kept: u64,
    pub duplicates: u64,
    pub out_of_window: u64,
    #[serde(default)]
    pub widget_kept: u64,
    #[serde(default)]
    pub widget_duplicates: u64,
    #[serde(default)]
    pub widget_out_of_window: u64,
}

/// The page events of one UTC hour of event time, within one partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketCount {
    /// The start of the hour (epoch ms, UTC).
    pub bucket_ms: i64,
    /// Page events, each event once.
    pub events: u64,
    /// Of those, on article pages.
    pub article_events: u64,
}

/// What an hour partition's page events came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourSummary {
    /// By hour of event time, oldest first.
    pub buckets: Vec<BucketCount>,
    /// Events the partition held twice (same id and fingerprint).
    pub duplicates: u64,
    /// Events after the run's time in the partition still filling.
    pub after_as_of: u64,
}

/// One hour partition for one run: what a Distributed Map item runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchHourInput {
    pub run: RunRef,
    /// Start of the hour, UTC.
    pub hour: DateTime<Utc>,
}

/// Where an hour's events came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HourStatus {
    /// No input objects for the hour.
    Missing,
    /// Parsed from the cache: the input objects had not changed.
    Cached,
    /// Parsed from the input in this run.
    Parsed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchHourOutput {
    pub hour: DateTime<Utc>,
    pub status: HourStatus,
    /// The hour's events and bad rows, absent when missing.
    pub events_key: Option<String>,
    pub bad_rows_key: Option<String>,
    pub counts: ParseCounts,
    /// What its page events came to, by hour of event time.
    #[serde(default)]
    pub summary: HourSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchOutput {
    /// `partials.json`: the window's hour partitions and their files.
    pub partials_key: String,
    /// `duplicates.parquet`: the window's events found again in a later hour.
    pub duplicates_key: String,
    pub bad_rows_key: String,
    /// The files written, with digests: preprocess reads them checked.
    #[serde(default)]
    pub files: Files,
    /// The widget's events of the window (absent in outputs from before they were read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget_events_key: Option<String>,
    pub counts: FetchCounts,
}

/// What the fetch function is asked to do. The state machine sends three
/// shapes, told apart by `action`; without one it is `window`, so a plain
/// `{"run": ...}` event keeps working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawFetchRequest", into = "RawFetchRequest")]
pub enum FetchRequest {
    /// Inspect the window's hour partitions: which need parsing.
    Plan(FetchInput),
    /// Parse one hour partition (an item of the Distributed Map).
    Hour(FetchHourInput),
    /// Gather the window's hours (`partials.json`), their duplicates, the
    /// widget's events and the bad rows.
    Window(FetchInput),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FetchAction {
    Plan,
    Hour,
    #[default]
    Window,
}

impl FetchAction {
    fn name(self) -> &'static str {
        match self {
            FetchAction::Plan => "plan",
            FetchAction::Hour => "hour",
            FetchAction::Window => "window",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RawFetchRequest {
    #[serde(default)]
    action: FetchAction,
    run: RunRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hour: Option<DateTime<Utc>>,
}

impl TryFrom<RawFetchRequest> for FetchRequest {
    type Error = String;

    fn try_from(r: RawFetchRequest) -> std::result::Result<FetchRequest, String> {
        match (r.action, r.hour) {
            (FetchAction::Hour, Some(hour)) => Ok(FetchRequest::Hour(FetchHourInput { run: r.run, hour })),
            (FetchAction::Hour, None) => Err("action \"hour\" needs an \"hour\"".into()),
            (action, Some(_)) => Err(format!(
                "\"hour\" is only for action \"hour\", not \"{}\"",
                action.name()
            )),
            (FetchAction::Plan, None) => Ok(FetchRequest::Plan(FetchInput { run: r.run })),
            (FetchAction::Window, None) => Ok(FetchRequest::Window(FetchInput { run: r.run })),
        }
    }
}

impl From<FetchRequest> for RawFetchRequest {
    fn from(r: FetchRequest) -> RawFetchRequest {
        let (action, run, hour) = match r {
            FetchRequest::Plan(i) => (FetchAction::Plan, i.run, None),
            FetchRequest::Hour(i) => (FetchAction::Hour, i.run, Some(i.hour)),
            FetchRequest::Window(i) => (FetchAction::Window, i.run, None),
        };
        RawFetchRequest { action, run, hour }
    }
}

impl FetchRequest {
    pub fn run(&self) -> &RunRef {
        match self {
            FetchRequest::Plan(i) | FetchRequest::Window(i) => &i.run,
            FetchRequest::Hour(i) => &i.run,
        }
    }
}

/// Which hours of the window need parsing, and whether to fan them out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchPlan {
    /// Hours (start, UTC) that are new, changed or still filling, oldest first.
    pub hours: Vec<DateTime<Utc>>,
    /// Hours of the window, cached and unchanged, and with no input at all.
    pub window_hours: u64,
    pub cached: u64,
    pub missing: u64,
    /// True when `hours` is long enough (`FETCH_MAP_MIN_HOURS`) to be parsed
    /// by a Distributed Map, one invocation per hour, before the window is read.
    pub distributed: bool,
}

/// What the fetch function answers, by request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FetchResponse {
    Plan(FetchPlan),
    Hour(FetchHourOutput),
    Window(FetchOutput),
}
