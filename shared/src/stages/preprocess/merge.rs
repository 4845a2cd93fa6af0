//! The window's reading from its hour partitions' aggregates (pure): each
//! partition's sessions (`fetch::partial`) of the hours of event time the
//! window counts, with its duplicates taken back out, are gathered as rows of
//! a few numbers, then sorted by reader, article and start and joined where
//! less than the dwell cap apart. A session's dwell is its end minus its
//! start, so the joined sessions' total is exactly the sum of the gaps of at
//! most the cap between the reader's events on the article: today's dwell,
//! computed from pairs, never from the window's events. Memory grows with the
//! sessions (about the reader x article pairs), not with events.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::adapters::parquet::{HourPairColumns, HourPathColumns};
use crate::stages::preprocess::dwell::{pair_key, split_key, PairDwell};

/// Names numbered in order of first sight.
#[derive(Debug, Default)]
pub struct Interner {
    codes: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn code(&mut self, name: &str) -> u32 {
        if let Some(&c) = self.codes.get(name) {
            return c;
        }
        let c = self.names.len() as u32;
        let owned: Box<str> = name.into();
        self.names.push(owned.clone());
        self.codes.insert(owned, c);
        c
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names, by code (the lookup is dropped).
    pub fn into_names(self) -> Vec<Box<str>> {
        self.names
    }
}

/// One reading session: (pair key, start, end, events).
type Session = (u64, i64, i64, u32);

/// Gathers the window's sessions and article paths, partition by partition.
#[derive(Debug)]
pub struct Merger {
    cap_ms: i64,
    readers: Interner,
    articles: Interner,
    sessions: Vec<Session>,
    /// Page events on each (article, canonical path).
    path_reads: HashMap<(u32, Box<str>), u64>,
    /// Article events counted (duplicates taken out).
    pub article_events: u64,
}

/// The window's reading: readers and articles by code, and each reader x
/// article's dwell.
#[derive(Debug)]
pub struct Merged {
    pub readers: Vec<Box<str>>,
    pub articles: Vec<Box<str>>,
    /// Sorted by key (reader code, then article code).
    pub pairs: Vec<PairDwell>,
    /// Page events on each (article code, canonical path).
    pub path_reads: Vec<(u32, Box<str>, u64)>,
    pub article_events: u64,
}

impl Merger {
    pub fn new(cap_ms: i64) -> Merger {
        Merger {
            cap_ms,
            readers: Interner::default(),
            articles: Interner::default(),
            sessions: Vec::new(),
            path_reads: HashMap::new(),
            article_events: 0,
        }
    }

    /// One partition's sessions and paths, of the hours of event time for
    /// which `counts` holds; `taken_out` names rows of its pairs that counted
    /// an event again (a duplicate of an earlier partition's), once per
    /// duplicate.
    pub fn add_hour(
        &mut self,
        pairs: &HourPairColumns<'_>,
        paths: &HourPathColumns<'_>,
        taken_out: &[u32],
        counts: impl Fn(i64) -> bool,
    ) {
        let mut minus: HashMap<u32, u32> = HashMap::new();
        for &row in taken_out {
            *minus.entry(row).or_default() += 1;
        }
        for i in 0..pairs.len() {
            if !counts(pairs.bucket_ms[i]) {
                continue;
            }
            let events = pairs.events[i].saturating_sub(minus.get(&(i as u32)).copied().unwrap_or(0));
            let reader = self.readers.code(pairs.client_id[i]);
            let article = self.articles.code(pairs.external_id[i]);
            self.article_events += u64::from(events);
            self.sessions.push((
                pair_key(reader, article),
                pairs.start_ms[i],
                pairs.end_ms[i],
                events,
            ));
        }
        for i in 0..paths.external_id.len() {
            if counts(paths.bucket_ms[i]) {
                let article = self.articles.code(paths.external_id[i]);
                *self
                    .path_reads
                    .entry((article, paths.path[i].into()))
                    .or_default() += paths.reads[i];
            }
        }
    }

    /// The window's reading: sessions sorted by pair and start, joined when
    /// the next starts no more than the cap after the last ends.
    pub fn finish(self) -> Merged {
        let Merger {
            cap_ms,
            readers,
            articles,
            mut sessions,
            path_reads,
            article_events,
        } = self;
        sessions.par_sort_unstable();
        let mut pairs: Vec<PairDwell> = Vec::new();
        // the session being joined: (key, start, end)
        let mut open: Option<(u64, i64, i64)> = None;
        for (key, start, end, events) in sessions {
            match (open, pairs.last_mut()) {
                (Some((k, _, e)), Some(p)) if k == key && start - e <= cap_ms => {
                    let end = end.max(e);
                    p.dwell_ms += end - e;
                    p.events += events;
                    p.last_seen_ms = p.last_seen_ms.max(end);
                    open = Some((key, start, end));
                }
                (Some((k, _, _)), Some(p)) if k == key => {
                    // over the cap: inactivity, not reading
                    p.dwell_ms += end - start;
                    p.events += events;
                    p.last_seen_ms = p.last_seen_ms.max(end);
                    open = Some((key, start, end));
                }
                _ => {
                    let (reader, article) = split_key(key);
                    pairs.push(PairDwell {
                        reader,
                        article,
                        dwell_ms: end - start,
                        events,
                        first_seen_ms: start,
                        last_seen_ms: end,
                    });
                    open = Some((key, start, end));
                }
            }
        }
        let path_reads = path_reads.into_iter().map(|((a, p), n)| (a, p, n)).collect();
        Merged {
            readers: readers.into_names(),
            articles: articles.into_names(),
            pairs,
            path_reads,
            article_events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fetch::partial::{aggregate, HourEvent};
    use crate::stages::preprocess::dwell::dwell;
    use proptest::prelude::*;

    const CAP: i64 = 600_000;
    const H: i64 = 3_600_000;

    /// Today's whole-window computation: every event of the window, sorted.
    fn whole_window(
        events: &[(u8, u8, i64)],
        window: (i64, i64),
    ) -> Vec<(String, String, i64, u32, i64, i64)> {
        let mut rows: Vec<(u64, i64)> = events
            .iter()
            .filter(|e| e.2 >= window.0 && e.2 < window.1)
            .map(|&(r, a, t)| (pair_key(u32::from(r), u32::from(a)), t))
            .collect();
        rows.sort_unstable();
        dwell(&rows, CAP)
            .into_iter()
            .map(|p| {
                (
                    format!("r{}", p.reader),
                    a_id(p.article as u8),
                    p.dwell_ms,
                    p.events,
                    p.first_seen_ms,
                    p.last_seen_ms,
                )
            })
            .collect()
    }

    fn a_id(a: u8) -> String {
        format!("{}", 100 + u32::from(a))
    }

    /// The same events, delivered in partitions (each event in the hour it
    /// arrived, which is its time or up to `late` hours after), aggregated
    /// per partition and merged.
    fn merged(events: &[(u8, u8, i64, u8)], window: (i64, i64)) -> Vec<(String, String, i64, u32, i64, i64)> {
        let readers: Vec<String> = (0..=255u8).map(|r| format!("r{r}")).collect();
        let paths: Vec<String> = (0..=255u8).map(|a| format!("/article/{}/x", a_id(a))).collect();
        let mut partitions: std::collections::BTreeMap<i64, Vec<HourEvent<'_>>> = Default::default();
        for (n, &(r, a, t, late)) in events.iter().enumerate() {
            let arrived = t.div_euclid(H) * H + i64::from(late) * H;
            partitions.entry(arrived).or_default().push(HourEvent {
                reader: &readers[r as usize],
                time_ms: t,
                path: &paths[a as usize],
                identity: n as u128,
            });
        }
        let mut m = Merger::new(CAP);
        for evs in partitions.values() {
            let p = aggregate(evs, CAP, None);
            m.add_hour(&p.pairs, &p.paths, &[], |b| b >= window.0 && b + H <= window.1);
        }
        let out = m.finish();
        let mut rows: Vec<_> = out
            .pairs
            .iter()
            .map(|p| {
                (
                    out.readers[p.reader as usize].to_string(),
                    out.articles[p.article as usize].to_string(),
                    p.dwell_ms,
                    p.events,
                    p.first_seen_ms,
                    p.last_seen_ms,
                )
            })
            .collect();
        rows.sort();
        rows
    }

    fn events() -> impl Strategy<Value = Vec<(u8, u8, i64, u8)>> {
        // a few readers and articles over five hours, pings seconds to
        // minutes apart, some arriving an hour or two late
        proptest::collection::vec(
            (
                0u8..4,
                0u8..3,
                0i64..5 * H,
                prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            ),
            0..120,
        )
    }

    proptest! {
        #[test]
        fn merged_dwell_equals_the_whole_window_computation(evs in events(), start_hour in 0i64..2, hours in 1i64..5) {
            let window = (start_hour * H, (start_hour + hours) * H);
            let plain: Vec<(u8, u8, i64)> = evs.iter().map(|e| (e.0, e.1, e.2)).collect();
            let mut expected = whole_window(&plain, window);
            expected.sort();
            prop_assert_eq!(merged(&evs, window), expected);
        }
    }

    #[test]
    fn sessions_join_across_hour_boundaries_and_partitions_under_the_cap() {
        // 10:59:50 and 11:00:10 (the second arriving in a later partition),
        // then 11:20 (over the cap after 11:00:10): 20 s, and a new session
        let evs = [
            (0u8, 0u8, 10 * H - 10_000, 0u8),
            (0, 0, 10 * H + 10_000, 1),
            (0, 0, 10 * H + 20 * 60_000, 0),
        ];
        let rows = merged(&evs, (0, 24 * H));
        assert_eq!(
            rows,
            [(
                "r0".to_string(),
                "100".to_string(),
                20_000,
                3,
                10 * H - 10_000,
                10 * H + 20 * 60_000
            )]
        );
    }

    #[test]
    fn a_duplicate_taken_out_changes_the_events_not_the_dwell() {
        let (r, a) = ("r", "/article/1/x");
        let first = [
            HourEvent {
                reader: r,
                time_ms: 1000,
                path: a,
                identity: 1,
            },
            HourEvent {
                reader: r,
                time_ms: 5000,
                path: a,
                identity: 2,
            },
        ];
        let again = [HourEvent {
            reader: r,
            time_ms: 5000,
            path: a,
            identity: 2,
        }];
        let (p1, p2) = (aggregate(&first, CAP, None), aggregate(&again, CAP, None));
        let mut m = Merger::new(CAP);
        m.add_hour(&p1.pairs, &p1.paths, &[], |_| true);
        m.add_hour(&p2.pairs, &p2.paths, &[0], |_| true);
        let out = m.finish();
        assert_eq!((out.pairs[0].dwell_ms, out.pairs[0].events), (4000, 2));
        assert_eq!(out.article_events, 2);
    }
}
