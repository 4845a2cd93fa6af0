//! De-duplication. Snowplow delivers at least once, so the same event (same
//! `event_id` and `event_fingerprint`) can land in two objects or two hours.
//! Within an hour partition every event is counted once
//! (`fetch::partial`); across partitions, each hour's identities are checked
//! against those of the [`DEDUP_HOURS`](crate::settings::Settings)
//! partitions before it ([`CrossHours`]), so memory holds a few hours'
//! identities, never the window's.
//!
//! A duplicate has its original's time, so it changes no reading session
//! (its time is inside one already): only the counts, which the window takes
//! it back out of.

use std::collections::{HashSet, VecDeque};

use crate::adapters::parquet::{HourKeyColumns, WidgetEventColumns};
use crate::contract::stage::Window;
use crate::stages::fetch::partial::NO_PAIR;
use crate::stages::fetch::widget_rows::WidgetRows;

/// What was dropped from what was read.
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
/// spread over all of them. Two identities of one id differ exactly when
/// their fingerprint hashes do; identities of different ids meet only by
/// chance (about 2^-122 a pair for random UUIDs).
pub fn identity(event_id: u128, fingerprint_hash: u64) -> u128 {
    event_id ^ u128::from(fingerprint_hash).wrapping_mul(SPREAD)
}

/// The identities of the last few hour partitions, checked against each
/// new one in partition order. Identities are held as 64 bits: among the
/// few million of a few hours, two events meet by chance about once in
/// 10^6 windows.
#[derive(Debug)]
pub struct CrossHours {
    hours: i64,
    /// (partition start, its identities), oldest first.
    ring: VecDeque<(i64, HashSet<u64, foldhash::fast::RandomState>)>,
}

/// An event found again in a later partition: which row of that
/// partition's pairs it counted in (none: not an article page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Again {
    pub pair_row: Option<u32>,
}

impl CrossHours {
    /// Checks each partition against those of the `hours` hours before it (0: none).
    pub fn new(hours: u32) -> CrossHours {
        CrossHours {
            hours: i64::from(hours),
            ring: VecDeque::new(),
        }
    }

    /// The partition starting at `hour_ms`: its identities whose hour of
    /// time `counts` (in the window) are checked against the partitions of
    /// the hours before it; each one found is a duplicate, the others are
    /// remembered. Partitions must come oldest first.
    pub fn next_hour(
        &mut self,
        hour_ms: i64,
        keys: &HourKeyColumns,
        counts: impl Fn(i64) -> bool,
    ) -> (Vec<Again>, Dropped) {
        let oldest = hour_ms - self.hours * crate::contract::stage::HOUR_MS;
        while self.ring.front().is_some_and(|(h, _)| *h < oldest) {
            self.ring.pop_front();
        }
        let mut mine: HashSet<u64, foldhash::fast::RandomState> = HashSet::default();
        let mut again = Vec::new();
        let mut dropped = Dropped::default();
        for i in 0..keys.len() {
            if !counts(keys.bucket_ms[i]) {
                dropped.out_of_window += 1;
                continue;
            }
            let id = keys.identity_hi[i] ^ keys.identity_lo[i];
            if self.ring.iter().any(|(_, h)| h.contains(&id)) {
                dropped.duplicates += 1;
                let row = keys.pair_row[i];
                again.push(Again {
                    pair_row: (row != NO_PAIR).then_some(row),
                });
            } else {
                mine.insert(id);
            }
        }
        if self.hours > 0 {
            self.ring.push_back((hour_ms, mine));
        }
        (again, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(rows: &[(u128, i64, u32)]) -> HourKeyColumns {
        HourKeyColumns {
            identity_hi: rows.iter().map(|r| (r.0 >> 64) as u64).collect(),
            identity_lo: rows.iter().map(|r| r.0 as u64).collect(),
            bucket_ms: rows.iter().map(|r| r.1).collect(),
            pair_row: rows.iter().map(|r| r.2).collect(),
        }
    }

    #[test]
    fn an_event_found_again_within_the_hours_kept_is_a_duplicate() {
        const H: i64 = crate::contract::stage::HOUR_MS;
        let all = |_: i64| true;
        let mut d = CrossHours::new(2);
        let (again, dropped) = d.next_hour(0, &keys(&[(1, 0, 0), (2, 0, NO_PAIR)]), all);
        assert!(again.is_empty() && dropped == Dropped::default());
        // the next hour holds 1 again (an article page) and 2 (not one)
        let (again, dropped) = d.next_hour(H, &keys(&[(1, 0, 5), (2, 0, NO_PAIR), (3, 0, 1)]), all);
        assert_eq!(again, [Again { pair_row: Some(5) }, Again { pair_row: None }]);
        assert_eq!(dropped.duplicates, 2);
        // two hours later 3 is still remembered; three hours later, 1 is not
        // (an hour without a partition counts as an hour)
        let (again, _) = d.next_hour(3 * H, &keys(&[(3, 0, 4), (1, 0, 0)]), all);
        assert_eq!(again, [Again { pair_row: Some(4) }]);
        // an event whose hour of time is outside the window is not counted at all
        let (again, dropped) = d.next_hour(4 * H, &keys(&[(3, 7, 0)]), |b| b != 7);
        assert!(again.is_empty());
        assert_eq!(dropped.out_of_window, 1);
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
}
