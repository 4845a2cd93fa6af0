//! What fetch hands preprocess for a run's window (`partials.json`): each
//! hour partition read, the files its page events were aggregated into, and
//! their digests. No stage holds the window's events: preprocess merges these
//! aggregates, which grow with reader x article pairs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contract::integrity::Files;
use crate::contract::stage::Window;
pub use crate::contract::stage::{BucketCount, HourSummary};

/// One hour partition of the window, as preprocess reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourPartial {
    /// The partition (its start).
    pub hour: DateTime<Utc>,
    /// The partition still filling, read for this run only and cut at its time.
    pub filling: bool,
    /// Its page events, the pairs they came to, the article paths read.
    pub events_key: String,
    pub pairs_key: String,
    pub paths_key: String,
    /// Those files' digests.
    pub files: Files,
    pub summary: HourSummary,
}

/// The window's partitions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPartials {
    /// The window fetch read: the hours of event time it counts
    /// ([`Window::includes_bucket`]).
    pub window: Window,
    pub hours: Vec<HourPartial>,
}
