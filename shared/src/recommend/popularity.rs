//! Default recommendations for readers we know nothing about: over the most
//! recent timed interactions, total dwell per article divided by its distinct
//! readers (a reader-weighted average, so one obsessive reader does not make an
//! article popular), weighted by `0.5 ^ (age in days / half-life)` on publish
//! time, scaled so the best is 1.0.

use std::collections::HashMap;

use crate::recommend::neighbours::decay;

/// How many of the most recent timed interactions the ranking looks at.
pub const RECENT_INTERACTIONS: usize = 5000;

/// One reader x article interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction<'a> {
    pub client_id: &'a str,
    pub external_id: &'a str,
    pub dwell_secs: f64,
    /// Epoch ms of the reader's last event on the article.
    pub last_seen_ms: i64,
}

/// Inputs that shape the ranking.
#[derive(Debug, Clone)]
pub struct DefaultsParams {
    /// Only this many most recent timed interactions count.
    pub recent_interactions: usize,
    pub half_life_days: f64,
    pub max_recs: usize,
    /// The run's reference time, epoch ms.
    pub as_of_ms: i64,
}

/// Ranks articles; `published_ms` gives each article's publish time when known.
/// Articles without one are aged from the oldest interaction counted, a
/// conservative guess that keeps undated articles from crowding out fresh ones.
/// Returns (external id, score) best first; ties break on the id.
pub fn rank(
    interactions: &[Interaction<'_>],
    published_ms: &HashMap<&str, i64>,
    params: &DefaultsParams,
) -> Vec<(String, f64)> {
    let mut timed: Vec<&Interaction<'_>> = interactions.iter().filter(|i| i.dwell_secs > 0.0).collect();
    timed.sort_by(|a, b| {
        b.last_seen_ms
            .cmp(&a.last_seen_ms)
            .then(a.client_id.cmp(b.client_id))
            .then(a.external_id.cmp(b.external_id))
    });
    timed.truncate(params.recent_interactions);
    let oldest = timed
        .iter()
        .map(|i| i.last_seen_ms)
        .min()
        .unwrap_or(params.as_of_ms);

    let mut per_article: HashMap<&str, (f64, u64)> = HashMap::new();
    for i in &timed {
        let e = per_article.entry(i.external_id).or_default();
        e.0 += i.dwell_secs;
        e.1 += 1; // dwell rows are one per reader x article, so this counts readers
    }
    let mut scored: Vec<(String, f64)> = per_article
        .into_iter()
        .map(|(id, (total, readers))| {
            let published = published_ms.get(id).copied().unwrap_or(oldest);
            let age_days = (params.as_of_ms - published) as f64 / 86_400_000.0;
            let score = total / readers as f64 * f64::from(decay(age_days, params.half_life_days));
            (id.to_string(), score)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(params.max_recs);
    if let Some(best) = scored.first().map(|s| s.1).filter(|b| *b > 0.0) {
        for s in &mut scored {
            s.1 /= best;
        }
    }
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn i<'a>(c: &'a str, a: &'a str, dwell: f64, t: i64) -> Interaction<'a> {
        Interaction {
            client_id: c,
            external_id: a,
            dwell_secs: dwell,
            last_seen_ms: t,
        }
    }

    fn params() -> DefaultsParams {
        DefaultsParams {
            recent_interactions: 5000,
            half_life_days: 10.0,
            max_recs: 20,
            as_of_ms: 100 * DAY,
        }
    }

    #[test]
    fn known_order_on_a_hand_made_table() {
        let rows = [
            // a: 2 readers, 100 s mean, published today
            i("r1", "a", 120.0, 99 * DAY),
            i("r2", "a", 80.0, 99 * DAY),
            // b: 300 s mean but 20 days old -> 300 / 4 = 75
            i("r1", "b", 300.0, 99 * DAY),
            // c: 90 s mean, 10 days old -> 45
            i("r3", "c", 90.0, 99 * DAY),
            // d: only untimed interactions: not ranked
            i("r4", "d", 0.0, 99 * DAY),
        ];
        let published = HashMap::from([
            ("a", 100 * DAY),
            ("b", 80 * DAY),
            ("c", 90 * DAY),
            ("d", 100 * DAY),
        ]);
        let out = rank(&rows, &published, &params());
        let ids: Vec<&str> = out.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!((out[0].1 - 1.0).abs() < 1e-9);
        assert!((out[1].1 - 0.75).abs() < 1e-6);
        assert!((out[2].1 - 0.45).abs() < 1e-6);
    }

    #[test]
    fn only_recent_interactions_count_and_list_is_capped() {
        let rows = [i("r1", "old", 500.0, DAY), i("r2", "new", 10.0, 99 * DAY)];
        let p = DefaultsParams {
            recent_interactions: 1,
            ..params()
        };
        let out = rank(&rows, &HashMap::new(), &p);
        assert_eq!(out, [("new".to_string(), 1.0)]);
        let p = DefaultsParams {
            max_recs: 1,
            ..params()
        };
        assert_eq!(rank(&rows, &HashMap::new(), &p).len(), 1);
    }
}
