//! Which default list readers the site does not know get: the original rule,
//! most read over a few windows and trending, each computed from the reading
//! before the holdout cut and scored on the readers that reading does not
//! know (their first read after the cut). The best by MRR (ties: hit rate,
//! then the earlier rule) is recomputed on the whole window and saved.

use std::collections::{HashMap, HashSet};

pub use crate::contract::evaluation::{DefaultsRule, RuleScore};
use crate::recommend::popularity::{rank, DefaultsParams, Interaction};

pub const RULES: [DefaultsRule; 6] = [
    DefaultsRule::Original,
    DefaultsRule::MostRead { hours: None },
    DefaultsRule::MostRead { hours: Some(24.0) },
    DefaultsRule::MostRead { hours: Some(6.0) },
    DefaultsRule::Trending { half_life_hours: 6.0 },
    DefaultsRule::Trending {
        half_life_hours: 24.0,
    },
];

/// One reader x article pair of the dwell table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair<'a> {
    pub client_id: &'a str,
    pub external_id: &'a str,
    pub dwell_secs: f64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// What the lists are computed from besides the reading.
#[derive(Debug, Clone)]
pub struct ListParams<'a> {
    pub published_ms: &'a HashMap<&'a str, i64>,
    pub excluded: &'a HashSet<&'a str>,
    pub recent_interactions: usize,
    pub half_life_days: f64,
    pub max_recs: usize,
}

/// The rule's list at `at_ms` from `pairs` first seen before it: (id, score)
/// best first, the best scaled to 1, ties on the id.
pub fn list(rule: DefaultsRule, pairs: &[Pair<'_>], at_ms: i64, p: &ListParams<'_>) -> Vec<(String, f64)> {
    let eligible = pairs
        .iter()
        .filter(|x| x.first_seen_ms < at_ms && !p.excluded.contains(x.external_id));
    if rule == DefaultsRule::Original {
        let interactions: Vec<Interaction<'_>> = eligible
            .map(|x| Interaction {
                client_id: x.client_id,
                external_id: x.external_id,
                dwell_secs: x.dwell_secs,
                last_seen_ms: x.last_seen_ms.min(at_ms - 1),
            })
            .collect();
        return rank(
            &interactions,
            p.published_ms,
            &DefaultsParams {
                recent_interactions: p.recent_interactions,
                half_life_days: p.half_life_days,
                max_recs: p.max_recs,
                as_of_ms: at_ms,
            },
        );
    }
    let mut score: HashMap<&str, f64> = HashMap::new();
    for x in eligible {
        let hours = (at_ms - x.first_seen_ms) as f64 / 3_600_000.0;
        let w = match rule {
            DefaultsRule::MostRead { hours: None } => 1.0,
            DefaultsRule::MostRead { hours: Some(h) } if hours <= h => 1.0,
            DefaultsRule::MostRead { .. } => 0.0,
            DefaultsRule::Trending { half_life_hours } => 0.5f64.powf(hours / half_life_hours),
            DefaultsRule::Original => 0.0,
        };
        if w > 0.0 {
            *score.entry(x.external_id).or_default() += w;
        }
    }
    let mut ranked: Vec<(String, f64)> = score.into_iter().map(|(id, s)| (id.to_string(), s)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(p.max_recs);
    if let Some(best) = ranked.first().map(|r| r.1).filter(|b| *b > 0.0) {
        for r in &mut ranked {
            r.1 /= best;
        }
    }
    ranked
}

/// The rule whose list is saved, and why it is not the best measured one.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub rule: DefaultsRule,
    pub list: Vec<(String, f64)>,
    /// Set when the best measured rule cannot answer on the whole window
    /// (a most-read window with no reads in it: a loader outage, a quiet
    /// night) and a later one was taken.
    pub fallback: Option<String>,
}

/// The rule to save at `at_ms`: the best measured one (or the original
/// rule, with nothing measured) whose list on the whole window is full,
/// `max_recs` long or as long as the window has articles to list. The
/// measured order is tried first, then the remaining rules in [`RULES`]'
/// order; when none is full, the longest list. A list shorter than that is
/// never chosen over a full one: an empty default list must not replace
/// the current one.
pub fn choose(leaderboard: &[RuleScore], pairs: &[Pair<'_>], at_ms: i64, p: &ListParams<'_>) -> Choice {
    let listable: HashSet<&str> = pairs
        .iter()
        .filter(|x| x.first_seen_ms < at_ms && !p.excluded.contains(x.external_id))
        .map(|x| x.external_id)
        .collect();
    let full = p.max_recs.min(listable.len());
    let measured = leaderboard.iter().filter(|s| s.questions > 0).map(|s| s.rule);
    let mut order: Vec<DefaultsRule> = Vec::new();
    for rule in measured.chain(RULES) {
        if !order.contains(&rule) {
            order.push(rule);
        }
    }
    let first = order[0];
    let mut first_len = 0;
    let mut longest: Option<(DefaultsRule, Vec<(String, f64)>)> = None;
    for rule in order {
        let ranked = list(rule, pairs, at_ms, p);
        if rule == first {
            first_len = ranked.len();
        }
        if ranked.len() >= full {
            let fallback = (rule != first).then(|| {
                format!(
                    "{first} lists {first_len} of {full} articles on the whole window (too few reads in its span): {rule} instead"
                )
            });
            return Choice {
                rule,
                list: ranked,
                fallback,
            };
        }
        if longest.as_ref().is_none_or(|l| ranked.len() > l.1.len()) {
            longest = Some((rule, ranked));
        }
    }
    let (rule, ranked) = longest.unwrap_or((first, Vec::new()));
    Choice {
        fallback: (rule != first).then(|| {
            format!(
                "no rule lists {full} articles on the whole window: {rule}, the longest list ({} articles)",
                ranked.len()
            )
        }),
        rule,
        list: ranked,
    }
}

/// The first read after `cut_ms` of every reader with no read before it.
pub fn first_reads_of_new_readers<'a>(
    pairs: &[Pair<'a>],
    cut_ms: i64,
    excluded: &HashSet<&str>,
) -> Vec<&'a str> {
    let mut first: HashMap<&str, (i64, &str)> = HashMap::new();
    let mut known: HashSet<&str> = HashSet::new();
    for x in pairs {
        if x.first_seen_ms < cut_ms {
            known.insert(x.client_id);
        } else {
            let e = first
                .entry(x.client_id)
                .or_insert((x.first_seen_ms, x.external_id));
            if (x.first_seen_ms, x.external_id) < *e {
                *e = (x.first_seen_ms, x.external_id);
            }
        }
    }
    let mut out: Vec<(&str, &str)> = first
        .into_iter()
        .filter(|(reader, (_, a))| !known.contains(reader) && !excluded.contains(a))
        .map(|(reader, (_, a))| (reader, a))
        .collect();
    out.sort_unstable();
    out.into_iter().map(|(_, a)| a).collect()
}

/// Every rule's figures on the new readers' first reads, best first, at list length `max_recs`.
pub fn score_rules(pairs: &[Pair<'_>], cut_ms: i64, p: &ListParams<'_>) -> Vec<RuleScore> {
    let answers = first_reads_of_new_readers(pairs, cut_ms, p.excluded);
    let mut scores: Vec<RuleScore> = RULES
        .iter()
        .map(|&rule| {
            let ranked = list(rule, pairs, cut_ms, p);
            let rank: HashMap<&str, usize> = ranked
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (id.as_str(), i + 1))
                .collect();
            let (mut hits, mut rr) = (0u64, 0f64);
            for a in &answers {
                if let Some(r) = rank.get(a) {
                    hits += 1;
                    rr += 1.0 / *r as f64;
                }
            }
            let n = answers.len() as f64;
            RuleScore {
                rule,
                questions: answers.len() as u64,
                hit_rate: if n > 0.0 { hits as f64 / n } else { 0.0 },
                mrr: if n > 0.0 { rr / n } else { 0.0 },
            }
        })
        .collect();
    // stable: equal figures keep the rules' order, the original rule first
    scores.sort_by(|a, b| b.mrr.total_cmp(&a.mrr).then(b.hit_rate.total_cmp(&a.hit_rate)));
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair<'a>(client_id: &'a str, external_id: &'a str, first_seen_ms: i64) -> Pair<'a> {
        Pair {
            client_id,
            external_id,
            dwell_secs: 30.0,
            first_seen_ms,
            last_seen_ms: first_seen_ms + 30_000,
        }
    }

    #[test]
    fn new_readers_first_reads_and_the_rule_that_predicts_them_wins() {
        let h = 3_600_000;
        let cut = 100 * h;
        let readers: Vec<String> = (0..60).map(|r| format!("r{r:02}")).collect();
        let mut pairs = Vec::new();
        // long ago everyone read "old"; in the last hours "fresh" took off
        for r in &readers[..30] {
            // read longer: the original rule (dwell per reader) prefers it
            pairs.push(Pair {
                dwell_secs: 120.0,
                ..pair(r, "old", 10 * h)
            });
        }
        for r in &readers[30..40] {
            pairs.push(pair(r, "fresh", cut - h));
        }
        // new readers after the cut open "fresh" first
        for r in &readers[40..] {
            pairs.push(pair(r, "fresh", cut + h));
            pairs.push(pair(r, "old", cut + 2 * h));
        }
        // a known reader's read after the cut is no question
        pairs.push(pair(&readers[0], "fresh", cut + h));
        let none = HashSet::new();
        let answers = first_reads_of_new_readers(&pairs, cut, &none);
        assert_eq!(answers, vec!["fresh"; 20]);
        let published = HashMap::new();
        let p = ListParams {
            published_ms: &published,
            excluded: &none,
            recent_interactions: 5_000,
            half_life_days: 10.0,
            max_recs: 1,
        };
        let scores = score_rules(&pairs, cut, &p);
        assert!(
            matches!(
                scores[0].rule,
                DefaultsRule::Trending { .. } | DefaultsRule::MostRead { hours: Some(_) }
            ),
            "{scores:?}"
        );
        assert_eq!(scores[0].hit_rate, 1.0);
        for stale in [DefaultsRule::MostRead { hours: None }, DefaultsRule::Original] {
            let s = scores.iter().find(|s| s.rule == stale).unwrap();
            assert_eq!(s.hit_rate, 0.0, "{stale} prefers the old story: {scores:?}");
        }
        // lists are scaled, capped and leave excluded articles out
        let two = ListParams {
            max_recs: 2,
            ..p.clone()
        };
        let l = list(DefaultsRule::MostRead { hours: None }, &pairs, cut, &two);
        assert_eq!(l, [("old".to_string(), 1.0), ("fresh".to_string(), 10.0 / 30.0)]);
        let excluded: HashSet<&str> = ["old"].into();
        let l = list(
            DefaultsRule::MostRead { hours: None },
            &pairs,
            cut,
            &ListParams {
                excluded: &excluded,
                ..two
            },
        );
        assert_eq!(l, [("fresh".to_string(), 1.0)]);
    }

    #[test]
    fn a_rule_that_cannot_fill_the_list_on_the_whole_window_is_passed_over_and_said() {
        let h = 3_600_000;
        let at = 200 * h;
        // reads up to 10 hours before `at`, none since (a loader outage)
        let readers: Vec<String> = (0..30).map(|r| format!("r{r:02}")).collect();
        let articles = ["a", "b", "c", "d"];
        let pairs: Vec<Pair<'_>> = readers
            .iter()
            .enumerate()
            .map(|(i, r)| pair(r, articles[i % 4], at - 10 * h - (i as i64) * h))
            .collect();
        let none = HashSet::new();
        let published = HashMap::new();
        let p = ListParams {
            published_ms: &published,
            excluded: &none,
            recent_interactions: 5_000,
            half_life_days: 10.0,
            max_recs: 3,
        };
        // the holdout preferred the last six hours
        let best = RuleScore {
            rule: DefaultsRule::MostRead { hours: Some(6.0) },
            questions: 10,
            hit_rate: 0.5,
            mrr: 0.4,
        };
        assert!(list(best.rule, &pairs, at, &p).is_empty());
        let c = choose(std::slice::from_ref(&best), &pairs, at, &p);
        assert_ne!(c.rule, best.rule);
        assert_eq!(c.list.len(), 3);
        let why = c.fallback.unwrap();
        assert!(why.contains("lists 0 of 3"), "{why}");
        // a rule that fills its list stays, with nothing to say
        let fine = RuleScore {
            rule: DefaultsRule::MostRead { hours: None },
            ..best
        };
        let c = choose(std::slice::from_ref(&fine), &pairs, at, &p);
        assert_eq!((c.rule, c.list.len(), c.fallback), (fine.rule, 3, None));
        // a window with fewer articles than MAX_RECS is full at its size
        let c = choose(&[fine], &pairs[..2], at, &p);
        assert_eq!((c.list.len(), c.fallback), (2, None));
    }
}
