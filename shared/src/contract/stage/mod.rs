//! The stage contract: the typed input and output of every stage. These are the
//! only types on the wire: Lambda events, the state machine's state and the local
//! runner all use them. Each input names only what its stage needs; serde ignores
//! the rest of the run manifest the state machine carries.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use crate::contract::error::Result;

mod fetch;
mod later;

pub use self::fetch::*;
pub use self::later::*;

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

#[cfg(test)]
mod tests;
