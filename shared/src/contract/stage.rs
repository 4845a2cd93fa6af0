//! The stage contract: the typed input and output of every stage. These are the
//! only types on the wire: Lambda events, the state machine's state and the local
//! runner all use them. Each input names only what its stage needs; serde ignores
//! the rest of the run manifest the state machine carries.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use crate::contract::error::Result;
use crate::contract::integrity::Files;

/// The stages, in the order the state machine runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Fetch,
    Preprocess,
    Defaults,
    Train,
    Save,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Fetch,
        Stage::Preprocess,
        Stage::Defaults,
        Stage::Train,
        Stage::Save,
    ];

    /// Lower-case name: the function crate, the binary and the `events/<name>.json` stem.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Preprocess => "preprocess",
            Stage::Defaults => "defaults",
            Stage::Train => "train",
            Stage::Save => "save",
        }
    }

    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The adapters the stage's function opens at cold start, beyond the
    /// data store and the metrics sink every stage has. `template.yaml`
    /// grants exactly these (tests/infra.rs checks it): only the stages that
    /// use the database get its SSM parameter and run in its VPC.
    pub fn adapters(self) -> Adapters {
        match self {
            // the metadata cache; the current model, which train starts from
            Stage::Preprocess => Adapters {
                database: true,
                input: false,
            },
            Stage::Save => Adapters {
                database: true,
                input: false,
            },
            Stage::Fetch => Adapters {
                database: false,
                input: true,
            },
            Stage::Defaults | Stage::Train => Adapters {
                database: false,
                input: false,
            },
        }
    }
}

/// What a [`crate::Context`] opens besides the data store and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adapters {
    /// The recommendation database (its URL from SSM when deployed).
    pub database: bool,
    /// The store the Snowplow loader writes to (`INPUT_URL`).
    pub input: bool,
}

impl Adapters {
    /// Everything: the local run, which runs every stage in one process.
    pub const ALL: Adapters = Adapters {
        database: true,
        input: true,
    };
}

/// Identifies one run of the job for one site. Every object key of the run is a
/// pure function of it, so a retried stage overwrites its own outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub site: String,
    /// In AWS, the Step Functions execution name; locally, made once by the CLI.
    pub run_id: String,
    /// The run's reference time (UTC): the window ends here.
    pub as_of: DateTime<Utc>,
}

impl RunRef {
    /// Checks the identifiers are safe to use in object keys and SQL values.
    ///
    /// # Errors
    /// `InvalidInput` when the site or run id is empty, too long (43 and 80
    /// characters), or has characters other than ASCII letters, digits, `-`,
    /// `_` and `.`; or when `as_of` is in the future or before 2000
    /// ([`crate::contract::names::check_time`]).
    pub fn validate(&self) -> Result<()> {
        self.validate_names()?;
        crate::contract::names::check_time("the run's as_of", self.as_of)
    }

    /// Only the names (what becomes key segments), not the time: a run's
    /// files are found by its names alone.
    ///
    /// # Errors
    /// As [`RunRef::validate`], for the site and the run id.
    pub fn validate_names(&self) -> Result<()> {
        crate::contract::names::check_site(&self.site)?;
        crate::contract::names::check_segment("run id", &self.run_id, crate::contract::names::MAX_RUN_ID_LEN)
    }

    /// The half-open event-time window this run reads: `days` of whole UTC
    /// hours before the hour of `as_of`, and that hour up to `as_of`. It
    /// starts at the top of an hour so each hour of the past is read whole,
    /// from what its partition was aggregated into once.
    pub fn window(&self, days: u32) -> Window {
        let hour = self
            .as_of
            .duration_trunc(Duration::hours(1))
            .unwrap_or(self.as_of);
        Window {
            start: hour - Duration::days(i64::from(days)),
            end: self.as_of,
        }
    }
}

/// A half-open UTC time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

impl Window {
    pub fn contains_ms(&self, ms: i64) -> bool {
        ms >= self.start.timestamp_millis() && ms < self.end.timestamp_millis()
    }

    /// Whether the events of the UTC hour starting at `bucket_ms` count: an
    /// hour inside the window counts whole; the hour the window ends in
    /// only from the partition still filling, whose events after the end
    /// were left out when it was read (from an earlier partition they would
    /// be dated after their own arrival).
    pub fn includes_bucket(&self, bucket_ms: i64, from_filling_hour: bool) -> bool {
        let (start, end) = (self.start.timestamp_millis(), self.end.timestamp_millis());
        bucket_ms >= start && (bucket_ms + HOUR_MS <= end || (from_filling_hour && bucket_ms < end))
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreprocessInput {
    pub run: RunRef,
    /// Where preprocess finds fetch's files and their digests.
    pub fetch: FetchOutput,
}

/// Events, readers and articles after each preprocessing step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    pub events: u64,
    pub article_events: u64,
    pub readers_before_filter: u64,
    pub articles_before_filter: u64,
    pub filter_passes: u32,
    pub readers: u64,
    pub articles: u64,
    pub pairs: u64,
}

/// Where the kept articles' metadata came from this run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataCounts {
    /// Settled in the database (published over a day ago): not looked up.
    pub cached: u64,
    /// Asked of the site (new, undated, or published within the last day).
    pub looked_up: u64,
    pub found: u64,
    /// The site does not know them (with a reason: never recommended).
    pub unknown: u64,
    /// Found or unknown with an exclusion reason.
    pub excluded: u64,
    /// The lookup failed: no metadata this run; asked again next run.
    pub failed: u64,
    /// Stories the site listed as published within the window.
    #[serde(default)]
    pub listed: u64,
    /// Of those, the ones no kept reader read: sources and candidates all
    /// the same (content speaks for them).
    #[serde(default)]
    pub unread: u64,
    /// 1 when the listing failed this run (the run goes on with the articles read).
    #[serde(default)]
    pub listing_failed: u64,
}

/// A site's current model, as the database had it when preprocess ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentModel {
    pub id: i64,
    /// The run that saved it: its files (factors, evaluation) are under its prefix.
    pub run_id: String,
    /// The digest of its run's `evaluation.json`, as save recorded it (none
    /// for models saved before digests were): train reads that file, and
    /// through it the factors, only as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_digest: Option<crate::contract::integrity::Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreprocessOutput {
    pub articles_key: String,
    pub dwell_key: String,
    /// The files written, with digests.
    #[serde(default)]
    pub files: Files,
    pub funnel: Funnel,
    #[serde(default)]
    pub metadata: MetadataCounts,
    /// The site's current article model, read here so that train, which
    /// needs it for its warm start and the gate, needs no database.
    #[serde(default)]
    pub current_article_model: Option<CurrentModel>,
    /// `online.json`: the online evaluation, when the run had a widget events file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultsInput {
    pub run: RunRef,
    /// Where defaults finds preprocess's files and their digests.
    pub preprocess: PreprocessOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefaultsOutput {
    pub defaults_key: String,
    /// The files written, with digests.
    #[serde(default)]
    pub files: Files,
    pub count: u64,
    /// The rule that scored best on the readers the training part does not
    /// know (the original rule when there is no holdout).
    #[serde(default)]
    pub rule: Option<crate::contract::evaluation::DefaultsRule>,
    /// Every rule's figures, best first.
    #[serde(default)]
    pub leaderboard: Vec<crate::contract::evaluation::RuleScore>,
    /// Why `rule` is not the best measured rule: that one could not fill a
    /// list on the whole window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainInput {
    pub run: RunRef,
    /// Where train learns the site's current model (it opens no database).
    pub preprocess: PreprocessOutput,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutput {
    /// The chosen family and settings of the saved model (its lists are
    /// `recs_key`); `None` when nothing was refitted (the gate refused).
    #[serde(default)]
    pub model: Option<crate::contract::evaluation::ModelSpec>,
    /// `article_recs.parquet`: the lists save writes, when the gate promoted.
    #[serde(default)]
    pub recs_key: Option<String>,
    /// Seconds the production fit and its lists took.
    #[serde(default)]
    pub fit_secs: f64,
    /// `article_factors.parquet`, when the saved model is ALS (a later
    /// run's warm start).
    #[serde(default)]
    pub factors_key: Option<String>,
    /// `evaluation.json`: this output, where save reads the gate's decision.
    pub evaluation_key: String,
    /// The files written, with digests: in `evaluation.json` the lists and
    /// factors; on the wire also `evaluation.json` itself.
    #[serde(default)]
    pub files: Files,
    /// `online.json`, when the run had widget events to look at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_key: Option<String>,
    /// The online evaluation in brief.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<crate::contract::online::OnlineHeadline>,
    pub readers: u64,
    pub articles: u64,
    pub nonzeros: u64,
    /// ALS only: factors and iterations of the production fit.
    #[serde(default)]
    pub factors: u32,
    #[serde(default)]
    pub iterations: u32,
    /// Loss after each iteration of the production model (ALS).
    #[serde(default)]
    pub loss: Vec<f64>,
    /// The run the production model started from, when warm-started.
    pub warm_start_from: Option<String>,
    /// Articles whose factors came from that run.
    pub warm_start_articles: u64,
    /// The holdout figures of the model and of the popularity baseline.
    pub evaluation: Option<crate::contract::evaluation::Evaluation>,
    /// The current model's own holdout figures, when it was evaluated.
    pub current_model: Option<crate::contract::evaluation::HoldoutMetrics>,
    pub gate: crate::contract::evaluation::GateDecision,
}

/// Save reads the run's files, checked against the digests the earlier
/// stages' outputs (the state) carry; those outputs also feed the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveInput {
    pub run: RunRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchOutput>,
    pub preprocess: PreprocessOutput,
    /// The defaults and train outputs (the state's `model`).
    pub model: ModelOutputs,
}

/// What the Parallel state of defaults and train hands on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutputs {
    pub defaults: DefaultsOutput,
    pub train: TrainOutput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveOutput {
    /// The article model this run saved; `None` when the quality gate kept
    /// the current one.
    pub article_model_id: Option<i64>,
    /// Why the current article model was kept: the quality gate's reason,
    /// or too few recommendations to replace it with.
    #[serde(default)]
    pub article_model_rejected: Option<String>,
    /// The defaults the API serves: this run's, or the current ones when
    /// `defaults_rejected` says why this run's did not replace them (0: none).
    pub popularity_model_id: i64,
    /// Why this run's default list did not replace the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults_rejected: Option<String>,
    pub articles_upserted: u64,
    pub recs_written: u64,
    pub default_recs_written: u64,
    /// False when this run's models were already saved (a retried save).
    pub newly_saved: bool,
    /// Pending models of runs that died midway, deleted by this save.
    #[serde(default)]
    pub pending_discarded: u64,
    /// Retired models beyond `KEEP_MODELS`, deleted by this save.
    #[serde(default)]
    pub models_pruned: u64,
    /// The run report (HTML) beside the run's files.
    #[serde(default)]
    pub report_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(site: &str, id: &str) -> RunRef {
        RunRef {
            site: site.into(),
            run_id: id.into(),
            as_of: "2026-01-02T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn rejects_names_that_could_escape_the_run_prefix() {
        assert!(run("wcp", "2026-01-02T00-00").validate().is_ok());
        assert!(run("../x", "a").validate().is_err());
        assert!(run("wcp", "a/b").validate().is_err());
        assert!(run("", "a").validate().is_err());
        assert!(run("cache", "a").validate().is_err());
        // a site name longer than 43 characters cannot name a schedule's execution
        assert!(run(&"s".repeat(43), "a").validate().is_ok());
        assert!(run(&"s".repeat(44), "a").validate().is_err());
    }

    #[test]
    fn a_window_cannot_end_in_the_future_or_before_2000() {
        let at = |as_of: DateTime<Utc>| RunRef {
            as_of,
            ..run("wcp", "a")
        };
        let now = Utc::now();
        assert!(at(now).validate().is_ok());
        assert!(at(now + Duration::seconds(60)).validate().is_ok(), "clock skew");
        for bad in [
            now + Duration::hours(1),
            "2999-01-01T00:00:00Z".parse().unwrap(),
            "1999-12-31T23:59:59Z".parse().unwrap(),
            DateTime::UNIX_EPOCH,
        ] {
            let e = at(bad).validate().unwrap_err();
            assert_eq!(e.kind(), crate::contract::error::ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains("as_of"), "{e}");
            // the names alone still find the run's files
            assert!(at(bad).validate_names().is_ok());
        }
    }

    #[test]
    fn window_ends_at_as_of() {
        let w = run("wcp", "a").window(28);
        assert_eq!(w.end, run("wcp", "a").as_of);
        assert_eq!((w.end - w.start).num_days(), 28);
        assert!(!w.contains_ms(w.end.timestamp_millis()));
        assert!(w.contains_ms(w.start.timestamp_millis()));
    }

    #[test]
    fn a_window_starts_at_the_top_of_an_hour_and_counts_whole_hours() {
        let r = RunRef {
            as_of: "2026-01-02T13:51:15Z".parse().unwrap(),
            ..run("wcp", "a")
        };
        let w = r.window(1);
        assert_eq!(w.start, "2026-01-01T13:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap().timestamp_millis();
        assert!(!w.includes_bucket(at("2026-01-01T12:00:00Z"), false));
        assert!(w.includes_bucket(at("2026-01-01T13:00:00Z"), false));
        assert!(w.includes_bucket(at("2026-01-02T12:00:00Z"), false));
        // the hour of as_of: only as the partition still filling read it
        assert!(!w.includes_bucket(at("2026-01-02T13:00:00Z"), false));
        assert!(w.includes_bucket(at("2026-01-02T13:00:00Z"), true));
        assert!(!w.includes_bucket(at("2026-01-02T14:00:00Z"), true));
    }
}
