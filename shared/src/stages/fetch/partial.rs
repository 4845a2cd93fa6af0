//! An hour partition's page events aggregated into what the later stages
//! need (pure): per reader x article, the reading sessions (runs of events
//! no more than the dwell cap apart, split at each UTC hour of event time),
//! the article paths read, and each event's identity for de-duplication
//! across hours. Dwell is the sum of the sessions' lengths once sessions of
//! one reader and article less than the cap apart are joined: exactly the
//! sum of the gaps of at most the cap between their events
//! (`preprocess::merge`), wherever the events' partitions and hours begin.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::adapters::parquet::{HourKeyColumns, HourPairColumns, HourPathColumns};
use crate::contract::partials::{BucketCount, HourSummary};
use crate::contract::site::article_of;
use crate::contract::stage::HOUR_MS;

/// One page event of the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourEvent<'a> {
    pub reader: &'a str,
    pub time_ms: i64,
    pub path: &'a str,
    /// The event id spread with the fingerprint's hash
    /// ([`crate::stages::fetch::dedup::identity`]): the same event has the same.
    pub identity: u128,
}

/// The aggregates of one partition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partial<'a> {
    pub pairs: HourPairColumns<'a>,
    pub paths: HourPathColumns<'a>,
    pub keys: HourKeyColumns,
    pub summary: HourSummary,
}

/// Marks an event that is not on an article page in the keys' pair rows.
pub const NO_PAIR: u32 = u32::MAX;

fn bucket_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Aggregates a partition's events. An event seen before in the partition
/// (same identity) is counted once; with `cut_ms` (the partition still
/// filling), events at or after it are left out.
pub fn aggregate<'a>(events: &[HourEvent<'a>], cap_ms: i64, cut_ms: Option<i64>) -> Partial<'a> {
    let mut seen: HashSet<u128> = HashSet::with_capacity(events.len());
    let mut buckets: BTreeMap<i64, BucketCount> = BTreeMap::new();
    let mut summary = HourSummary::default();
    let mut reads: HashMap<(&str, &str, i64), u64> = HashMap::new();
    // kept events: (index into events, bucket, article id)
    let mut kept: Vec<(usize, i64, Option<&'a str>)> = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        if !seen.insert(e.identity) {
            summary.duplicates += 1;
            continue;
        }
        if cut_ms.is_some_and(|c| e.time_ms >= c) {
            summary.after_as_of += 1;
            continue;
        }
        let bucket = bucket_of(e.time_ms);
        let count = buckets.entry(bucket).or_insert(BucketCount {
            bucket_ms: bucket,
            ..BucketCount::default()
        });
        count.events += 1;
        let article = article_of(e.path).map(|a| {
            count.article_events += 1;
            *reads
                .entry((a.external_id, a.canonical_path, bucket))
                .or_default() += 1;
            a.external_id
        });
        kept.push((i, bucket, article));
    }
    summary.buckets = buckets.into_values().collect();

    // the article events by reader, article, time: sessions are runs of them
    let mut on_articles: Vec<(&str, &str, i64, usize)> = kept
        .iter()
        .enumerate()
        .filter_map(|(n, &(i, _, a))| a.map(|a| (events[i].reader, a, events[i].time_ms, n)))
        .collect();
    on_articles.sort_unstable();
    let mut pair_row = vec![NO_PAIR; kept.len()];
    let mut pairs = HourPairColumns::default();
    let mut last: Option<(&str, &str, i64, i64)> = None; // reader, article, bucket, time
    for &(reader, article, time_ms, n) in &on_articles {
        let bucket = kept[n].1;
        let joins = last
            .is_some_and(|(r, a, b, t)| r == reader && a == article && b == bucket && time_ms - t <= cap_ms);
        if joins {
            let row = pairs.len() - 1;
            pairs.end_ms[row] = time_ms;
            pairs.events[row] += 1;
        } else {
            pairs.client_id.push(reader);
            pairs.external_id.push(article);
            pairs.bucket_ms.push(bucket);
            pairs.start_ms.push(time_ms);
            pairs.end_ms.push(time_ms);
            pairs.events.push(1);
        }
        pair_row[n] = (pairs.len() - 1) as u32;
        last = Some((reader, article, bucket, time_ms));
    }

    let mut keys = HourKeyColumns::default();
    for (n, &(i, bucket, _)) in kept.iter().enumerate() {
        let id = events[i].identity;
        keys.identity_hi.push((id >> 64) as u64);
        keys.identity_lo.push(id as u64);
        keys.bucket_ms.push(bucket);
        keys.pair_row.push(pair_row[n]);
    }

    let mut paths: Vec<((&str, &str, i64), u64)> = reads.into_iter().collect();
    paths.sort_unstable();
    let paths = HourPathColumns {
        external_id: paths.iter().map(|((a, _, _), _)| *a).collect(),
        path: paths.iter().map(|((_, p, _), _)| *p).collect(),
        bucket_ms: paths.iter().map(|((_, _, b), _)| *b).collect(),
        reads: paths.iter().map(|(_, n)| *n).collect(),
    };
    Partial {
        pairs,
        paths,
        keys,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(reader: &'static str, secs: i64, path: &'static str, id: u128) -> HourEvent<'static> {
        HourEvent {
            reader,
            time_ms: secs * 1000,
            path,
            identity: id,
        }
    }

    #[test]
    fn sessions_split_at_the_cap_and_at_each_hour_of_event_time() {
        let events = [
            ev("r", 3_590, "/article/1/a", 1),
            ev("r", 3_595, "/article/1/a", 2),
            // the next hour: a session of its own, 10 s after the last
            ev("r", 3_605, "/article/1/a", 3),
            // over the cap (600 s) later: another
            ev("r", 4_300, "/v/s/amp.example/article/1/a", 4),
            ev("r", 4_310, "/", 5),
            ev("s", 3_700, "/article/2/b", 6),
            // the same event again: counted once
            ev("s", 3_700, "/article/2/b", 6),
        ];
        let p = aggregate(&events, 600_000, None);
        assert_eq!(p.pairs.client_id, ["r", "r", "r", "s"]);
        assert_eq!(p.pairs.external_id, ["1", "1", "1", "2"]);
        assert_eq!(p.pairs.bucket_ms, [0, 3_600_000, 3_600_000, 3_600_000]);
        assert_eq!(p.pairs.start_ms, [3_590_000, 3_605_000, 4_300_000, 3_700_000]);
        assert_eq!(p.pairs.end_ms, [3_595_000, 3_605_000, 4_300_000, 3_700_000]);
        assert_eq!(p.pairs.events, [2, 1, 1, 1]);
        assert_eq!(p.summary.duplicates, 1);
        assert_eq!(
            p.summary.buckets,
            [
                BucketCount {
                    bucket_ms: 0,
                    events: 2,
                    article_events: 2
                },
                BucketCount {
                    bucket_ms: 3_600_000,
                    events: 4,
                    article_events: 3
                },
            ]
        );
        // the AMP viewer's path reads as the article's own
        assert_eq!(p.paths.path, ["/article/1/a", "/article/1/a", "/article/2/b"]);
        assert_eq!(p.paths.bucket_ms, [0, 3_600_000, 3_600_000]);
        assert_eq!(p.paths.reads, [2, 2, 1]);
        // each event's key says where it counted
        assert_eq!(p.keys.pair_row, [0, 0, 1, 2, NO_PAIR, 3]);
        assert_eq!(p.keys.identity_lo, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn the_partition_still_filling_is_cut_at_the_run_time() {
        let events = [ev("r", 10, "/article/1/a", 1), ev("r", 20, "/article/1/a", 2)];
        let p = aggregate(&events, 600_000, Some(15_000));
        assert_eq!(p.pairs.events, [1]);
        assert_eq!(p.summary.after_as_of, 1);
        assert_eq!(p.keys.len(), 1);
    }
}
