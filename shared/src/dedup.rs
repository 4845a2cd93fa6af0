//! Assembling the window from hour partitions: keeps events inside the window and
//! drops duplicates across the whole window. Snowplow delivers at least once, so
//! the same event (same `event_id` and `event_fingerprint`) can land in two
//! objects or two hours.
//!
//! Keeps one 128-bit key per event seen, not the events: memory is bounded by one
//! hour's frame plus 16 bytes an event.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use polars::prelude::*;

use crate::parquet::{col, i64s, strs};
use crate::stage::Window;

/// What one call to [`WindowFilter::apply`] dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub duplicates: u64,
    pub out_of_window: u64,
}

#[derive(Debug)]
pub struct WindowFilter {
    window: Window,
    seen: HashSet<u128>,
}

/// A 128-bit digest of the event's identity. Two SipHash passes with different
/// leading bytes; a collision would need ~2^64 events.
fn identity(event_id: &str, fingerprint: &str) -> u128 {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        event_id.hash(&mut h);
        fingerprint.hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

impl WindowFilter {
    pub fn new(window: Window) -> WindowFilter {
        WindowFilter {
            window,
            seen: HashSet::new(),
        }
    }

    /// Events of `frame` (schema `parquet::EVENTS`) in the window and not seen in
    /// an earlier frame or row, in their original order.
    ///
    /// # Errors
    /// Polars errors (missing columns).
    pub fn apply(&mut self, frame: &DataFrame) -> PolarsResult<(DataFrame, Dropped)> {
        let times = i64s(frame, col::ACTIVITY_TIME)?;
        let ids = strs(frame, col::EVENT_ID)?;
        let fps = strs(frame, col::EVENT_FINGERPRINT)?;
        let mut dropped = Dropped::default();
        let mask: BooleanChunked = (0..frame.height())
            .map(|i| {
                let in_window = times[i].is_some_and(|t| self.window.contains_ms(t));
                if !in_window {
                    dropped.out_of_window += 1;
                    return false;
                }
                let fresh = self
                    .seen
                    .insert(identity(ids[i].unwrap_or(""), fps[i].unwrap_or("")));
                if !fresh {
                    dropped.duplicates += 1;
                }
                fresh
            })
            .collect();
        Ok((frame.filter(&mask)?, dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::ColType;

    fn frame(rows: &[(&str, &str, i64)]) -> DataFrame {
        let mut df = df!(
            col::EVENT_ID => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            col::EVENT_FINGERPRINT => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            col::ACTIVITY_TIME => rows.iter().map(|r| r.2).collect::<Vec<_>>()
        )
        .unwrap();
        df.apply(col::ACTIVITY_TIME, |c| {
            c.cast(&ColType::DatetimeMs.dtype()).unwrap()
        })
        .unwrap();
        df
    }

    #[test]
    fn drops_duplicates_across_frames_and_events_outside_the_window() {
        let w = Window {
            start: DateTime::from_timestamp_millis(1000).unwrap(),
            end: DateTime::from_timestamp_millis(2000).unwrap(),
        };
        let mut f = WindowFilter::new(w);
        let (a, d) = f
            .apply(&frame(&[("e1", "f", 1000), ("e1", "f", 1500), ("e2", "", 999)]))
            .unwrap();
        assert_eq!(a.height(), 1);
        assert_eq!(
            d,
            Dropped {
                duplicates: 1,
                out_of_window: 1
            }
        );
        // same id, other fingerprint: a different event (Snowplow's synthetic duplicate)
        let (b, d) = f
            .apply(&frame(&[("e1", "f", 1200), ("e1", "g", 1200), ("e3", "", 2000)]))
            .unwrap();
        assert_eq!(b.height(), 1);
        assert_eq!(
            d,
            Dropped {
                duplicates: 1,
                out_of_window: 1
            }
        );
    }

    use chrono::DateTime;
}
