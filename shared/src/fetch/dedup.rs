//! Assembling the window from hour partitions: keeps events inside the window and
//! drops duplicates across the whole window. Snowplow delivers at least once, so
//! the same event (same `event_id` and `event_fingerprint`) can land in two
//! objects or two hours.
//!
//! Keeps one 128-bit key per event seen, not the events: memory is bounded by one
//! hour's table plus 16 bytes an event.

use std::collections::HashSet;

use uuid::Uuid;

use crate::contract::error::Result;
use crate::contract::parquet::{col, Bitmap, StrColumn, Table, WidgetEventColumns, EVENTS};
use crate::contract::stage::Window;
use crate::fetch::widget_rows::WidgetRows;

/// What one call to [`WindowFilter::apply`] dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub duplicates: u64,
    pub out_of_window: u64,
}

/// The widget's events of the window: in it, and each event id once (the
/// widget's events are few, so their rows are kept as they come).
#[derive(Debug)]
pub struct WidgetFilter {
    window: Window,
    seen: HashSet<String, foldhash::fast::RandomState>,
    pub kept: WidgetRows,
    pub dropped: Dropped,
}

impl WidgetFilter {
    pub fn new(window: Window) -> WidgetFilter {
        WidgetFilter {
            window,
            seen: HashSet::default(),
            kept: WidgetRows::default(),
            dropped: Dropped::default(),
        }
    }

    /// Keeps an hour's widget events that are in the window and not seen before.
    pub fn apply(&mut self, hour: &WidgetEventColumns<'_>) {
        for i in 0..hour.len() {
            if !self.window.contains_ms(hour.time_ms[i]) {
                self.dropped.out_of_window += 1;
            } else if !self.seen.insert(hour.event_id[i].to_string()) {
                self.dropped.duplicates += 1;
            } else {
                self.kept.push_row(hour, i);
            }
        }
    }
}

#[derive(Debug)]
pub struct WindowFilter {
    window: Window,
    seen: HashSet<u128, foldhash::fast::RandomState>,
}

/// The hash of an event fingerprint kept in the hour cache; 0 for none.
///
/// xxh3 is specified, so the value is the same in every build and release:
/// hours cached by one version are compared with hours parsed by the next.
pub fn fingerprint_hash(fingerprint: impl AsRef<[u8]>) -> u64 {
    let fingerprint = fingerprint.as_ref();
    if fingerprint.is_empty() {
        0
    } else {
        xxhash_rust::xxh3::xxh3_64(fingerprint)
    }
}

/// An odd constant: multiplying by it is a bijection of `u128`.
const SPREAD: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;

/// The event's identity: its id's 128 bits, with the fingerprint's hash
/// spread over all of them. Two keys of one id differ exactly when their
/// fingerprint hashes do; keys of different ids meet only by chance (about
/// 2^-122 a pair for random UUIDs).
fn identity(event_id: u128, fingerprint_hash: u64) -> u128 {
    event_id ^ u128::from(fingerprint_hash).wrapping_mul(SPREAD)
}

impl WindowFilter {
    pub fn new(window: Window) -> WindowFilter {
        WindowFilter {
            window,
            seen: HashSet::default(),
        }
    }

    /// Events of an hour's `table` (schema `parquet::HOUR_EVENTS`) in the
    /// window and not seen in an earlier table or row, in their original
    /// order, as `parquet::EVENTS` rows.
    ///
    /// # Errors
    /// `Schema` errors (missing columns).
    pub fn apply(&mut self, table: &Table) -> Result<(Table, Dropped)> {
        let times = table.i64s(col::ACTIVITY_TIME)?;
        let (hi, lo) = (table.u64s(col::EVENT_ID_HI)?, table.u64s(col::EVENT_ID_LO)?);
        let ids = hi
            .iter()
            .zip(&lo)
            .map(|(hi, lo)| (u128::from(hi.unwrap_or_default()) << 64) | u128::from(lo.unwrap_or_default()));
        let fps = table
            .u64s(col::FINGERPRINT_HASH)?
            .into_iter()
            .map(Option::unwrap_or_default);
        let mut dropped = Dropped::default();
        let mut kept_ids = Vec::new();
        let mask: Bitmap = times
            .iter()
            .zip(ids.zip(fps))
            .map(|(t, (id, fp))| {
                let in_window = t.is_some_and(|t| self.window.contains_ms(t));
                if !in_window {
                    dropped.out_of_window += 1;
                    return false;
                }
                let fresh = self.seen.insert(identity(id, fp));
                if fresh {
                    kept_ids.push(id);
                } else {
                    dropped.duplicates += 1;
                }
                fresh
            })
            .collect();
        let kept = table.filter(&mask)?;
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let mut id_strings = StrColumn::with_capacity(kept_ids.len());
        for id in kept_ids {
            id_strings.push(Uuid::from_u128(id).hyphenated().encode_lower(&mut text));
        }
        let events = kept.reshaped(&EVENTS, vec![(col::EVENT_ID, id_strings.finish())])?;
        Ok((events, dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::parquet::{date_array, datetime_ms_array, str_array, values_array, HOUR_EVENTS};

    /// An hour's table of (event id, fingerprint, time) rows; ids are
    /// numbered, so `1` is `00000000-0000-0000-0000-000000000001`.
    fn hour(rows: &[(u128, &str, i64)]) -> Table {
        let key = crate::contract::layout::ObjectKey::from_listing("x/hour.parquet").unwrap();
        Table::new(
            &HOUR_EVENTS,
            &key,
            vec![
                str_array(&rows.iter().map(|_| "reader").collect::<Vec<_>>()),
                datetime_ms_array(rows.iter().map(|r| r.2).collect()),
                date_array(rows.iter().map(|_| 0i32).collect()),
                str_array(&rows.iter().map(|_| "/").collect::<Vec<_>>()),
                str_array(&rows.iter().map(|_| "page_ping").collect::<Vec<_>>()),
                values_array(rows.iter().map(|r| (r.0 >> 64) as u64).collect()),
                values_array(rows.iter().map(|r| r.0 as u64).collect()),
                values_array(rows.iter().map(|r| fingerprint_hash(r.1)).collect()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn drops_duplicates_across_frames_and_events_outside_the_window() {
        let w = Window {
            start: DateTime::from_timestamp_millis(1000).unwrap(),
            end: DateTime::from_timestamp_millis(2000).unwrap(),
        };
        let mut f = WindowFilter::new(w);
        let (a, d) = f
            .apply(&hour(&[(1, "f", 1000), (1, "f", 1500), (2, "", 999)]))
            .unwrap();
        assert_eq!(a.len(), 1);
        assert!(a.is_of(&EVENTS));
        assert_eq!(
            a.strs(col::EVENT_ID).unwrap(),
            [Some("00000000-0000-0000-0000-000000000001")]
        );
        assert_eq!(
            d,
            Dropped {
                duplicates: 1,
                out_of_window: 1
            }
        );
        // same id, other fingerprint: a different event (Snowplow's synthetic duplicate)
        let (b, d) = f
            .apply(&hour(&[(1, "f", 1200), (1, "g", 1200), (3, "", 2000)]))
            .unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(
            d,
            Dropped {
                duplicates: 1,
                out_of_window: 1
            }
        );
    }

    #[test]
    fn identities_differ_by_id_or_fingerprint() {
        let id = u128::from_str_radix("e0a3b7a26b1c4a439d550c8f3b0b6a01", 16).unwrap();
        let (f, g) = (fingerprint_hash("f"), fingerprint_hash("g"));
        assert_ne!(identity(id, f), identity(id, g));
        assert_ne!(identity(id, f), identity(id + 1, f));
        assert_eq!(identity(id, 0), id, "no fingerprint: the id alone");
        // the cache holds these values: they must not change between builds
        assert_eq!(fingerprint_hash(""), 0);
        assert_eq!(fingerprint_hash("f"), xxhash_rust::xxh3::xxh3_64(b"f"));
        assert_eq!(xxhash_rust::xxh3::xxh3_64(b""), 0x2d06_8005_38d3_94c2);
    }

    use chrono::DateTime;
}
