//! Dwell time: the time between a reader's consecutive events on the same
//! article, summed per reader x article. Gaps longer than the cap (10 minutes by
//! default) are inactivity (a tab left open) and are dropped, not capped.

/// A reader x article key: the reader's code in the high 32 bits, the
/// article's in the low 32, so sorting keys sorts by reader, then article.
pub fn pair_key(reader: u32, article: u32) -> u64 {
    (u64::from(reader) << 32) | u64::from(article)
}

/// The reader and article codes of a [`pair_key`].
pub fn split_key(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// One reader's reading of one article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairDwell {
    pub reader: u32,
    pub article: u32,
    /// Sum of the gaps between consecutive events no longer than the cap.
    pub dwell_ms: i64,
    pub events: u32,
    /// Time of the first event, epoch milliseconds.
    pub first_seen_ms: i64,
    /// Time of the last event, epoch milliseconds.
    pub last_seen_ms: i64,
}

/// Dwell per reader x article from article events `(pair_key, epoch ms)`
/// sorted by key, then time; one result per distinct key, in key order.
pub fn dwell(sorted: &[(u64, i64)], cap_ms: i64) -> Vec<PairDwell> {
    let mut out: Vec<PairDwell> = Vec::new();
    let mut prev: Option<(u64, i64)> = None;
    for &(key, t) in sorted {
        match (prev, out.last_mut()) {
            (Some((pk, pt)), Some(cur)) if pk == key => {
                let gap = t - pt;
                if gap <= cap_ms {
                    cur.dwell_ms += gap;
                }
                cur.events += 1;
                cur.last_seen_ms = t;
            }
            _ => {
                let (reader, article) = split_key(key);
                out.push(PairDwell {
                    reader,
                    article,
                    dwell_ms: 0,
                    events: 1,
                    first_seen_ms: t,
                    last_seen_ms: t,
                });
            }
        }
        prev = Some((key, t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (reader, article, seconds) → sorted (key, ms), as the caller prepares them.
    fn events(rows: &[(u32, u32, i64)]) -> Vec<(u64, i64)> {
        let mut v: Vec<(u64, i64)> = rows.iter().map(|&(r, a, s)| (pair_key(r, a), s * 1000)).collect();
        v.sort_unstable();
        v
    }

    fn secs(d: &[PairDwell]) -> Vec<f64> {
        d.iter().map(|p| p.dwell_ms as f64 / 1000.0).collect()
    }

    #[test]
    fn dwell_of_a_page_ping_sequence() {
        // view at 0, pings at 10, 30, 55: 55 s of reading
        let d = dwell(&events(&[(0, 0, 30), (0, 0, 0), (0, 0, 55), (0, 0, 10)]), 600_000);
        assert_eq!(secs(&d), [55.0]);
        assert_eq!(
            (d[0].events, d[0].first_seen_ms, d[0].last_seen_ms),
            (4, 0, 55_000)
        );
    }

    #[test]
    fn a_gap_over_ten_minutes_is_dropped() {
        // 0 -> 20 -> (11 min away) 680 -> 700: 20 + 20 seconds
        let d = dwell(
            &events(&[(0, 0, 0), (0, 0, 20), (0, 0, 680), (0, 0, 700)]),
            600_000,
        );
        assert_eq!(secs(&d), [40.0]);
        // exactly the cap is still reading
        assert_eq!(secs(&dwell(&events(&[(0, 0, 0), (0, 0, 600)]), 600_000)), [600.0]);
    }

    #[test]
    fn readers_and_articles_are_timed_separately() {
        // r1/a: 0 -> 10 (an interleaved visit to b does not split it); r1/b: one event; r2/a: 1 s
        let d = dwell(
            &events(&[(1, 0, 0), (1, 1, 5), (1, 0, 10), (2, 0, 3), (2, 0, 4)]),
            600_000,
        );
        assert_eq!(secs(&d), [10.0, 0.0, 1.0]);
        assert_eq!(
            d.iter().map(|p| (p.reader, p.article)).collect::<Vec<_>>(),
            [(1, 0), (1, 1), (2, 0)]
        );
    }

    #[test]
    fn keys_sort_by_reader_then_article() {
        assert!(pair_key(1, u32::MAX) < pair_key(2, 0));
        assert_eq!(split_key(pair_key(7, 9)), (7, 9));
    }
}
