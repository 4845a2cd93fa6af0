//! Sequential rules (Ludewig and Jannach 2018): in each reader's reads in the
//! order they first opened them, B read `s` reads after A (within `window`
//! reads and `max_gap_ms`) adds `1 / s` to the rule A -> B, and
//! `reverse / s` to B -> A. What readers open right after A, in the same
//! news cycle, is the strongest signal of what they open next.
//!
//! Rows are counted when asked for, from the index of each article's reads.

use crate::recommend::item_item::{scale_to_unit, ItemItem};
use crate::recommend::reads::{Occurrences, Reads};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleParams {
    /// How many following reads count.
    pub window: usize,
    /// Weight of a rule read backwards (B before A), relative to forwards.
    pub reverse: f32,
    /// Reads further apart than this do not form a rule.
    pub max_gap_ms: i64,
}

pub struct SequentialRules {
    reads: Reads,
    occurrences: Occurrences,
    params: RuleParams,
}

impl SequentialRules {
    pub fn fit(reads: Reads, params: RuleParams) -> SequentialRules {
        SequentialRules {
            occurrences: reads.occurrences(),
            reads,
            params,
        }
    }

    /// The rules' weights from `a` to every article (before scaling).
    pub fn weights(&self, a: usize, out: &mut [f32]) {
        out.fill(0.0);
        let all = self.reads.all();
        let p = &self.params;
        for o in self.occurrences.of(a) {
            let (start, at, end) = (o.start as usize, o.at as usize, o.end as usize);
            let t = all[at].first_seen_ms;
            for (s, x) in all[at + 1..end.min(at + 1 + p.window)].iter().enumerate() {
                if x.first_seen_ms - t > p.max_gap_ms {
                    break;
                }
                out[x.article as usize] += 1.0 / (s + 1) as f32;
            }
            if p.reverse > 0.0 {
                for (s, x) in all[start.max(at.saturating_sub(p.window))..at]
                    .iter()
                    .rev()
                    .enumerate()
                {
                    if t - x.first_seen_ms > p.max_gap_ms {
                        break;
                    }
                    out[x.article as usize] += p.reverse / (s + 1) as f32;
                }
            }
        }
    }
}

impl ItemItem for SequentialRules {
    fn articles(&self) -> usize {
        self.reads.articles()
    }

    fn affinities(&self, from: usize, out: &mut [f32]) {
        self.weights(from, out);
        out[from] = 0.0;
        scale_to_unit(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::reads::Read;

    fn reads(orders: &[&[(u32, i64)]], articles: usize) -> Reads {
        let rows = orders
            .iter()
            .enumerate()
            .flat_map(|(r, order)| {
                order.iter().map(move |&(article, t)| {
                    (
                        r as u32,
                        Read {
                            article,
                            first_seen_ms: t,
                            dwell_secs: 10.0,
                        },
                    )
                })
            })
            .collect();
        Reads::new(orders.len(), articles, rows)
    }

    #[test]
    fn hand_made_orders_give_the_known_weights() {
        // reader 0 reads 0, 1, 2, 3; reader 1 reads 2, 0, then 3 two days later
        let data = reads(
            &[
                &[(0, 0), (1, 10), (2, 20), (3, 30)],
                &[(2, 0), (0, 5), (3, 172_800_000)],
            ],
            4,
        );
        let params = RuleParams {
            window: 2,
            reverse: 0.5,
            max_gap_ms: 86_400_000,
        };
        let rules = SequentialRules::fit(data, params);
        let mut w = vec![0f32; 4];
        rules.weights(0, &mut w);
        // forwards from 0: 1 (step 1), 2 (step 2) for reader 0; 3 too far for reader 1.
        // backwards into 0: 2 one step before it for reader 1, at half weight
        let want = [0.0, 1.0, 0.5 + 0.5, 0.0];
        assert_eq!(w, want);
        rules.weights(3, &mut w);
        // 3 is read last: only the reverse rules, 2 one step back, 1 two steps back
        assert_eq!(w, [0.0, 0.25, 0.5, 0.0]);
        let forward_only = SequentialRules::fit(
            reads(&[&[(0, 0), (1, 10), (2, 20), (3, 30)]], 4),
            RuleParams {
                reverse: 0.0,
                window: 3,
                ..params
            },
        );
        forward_only.weights(0, &mut w);
        assert_eq!(w, [0.0, 1.0, 0.5, 1.0 / 3.0]);
        forward_only.affinities(1, &mut w);
        assert_eq!(w, [0.0, 0.0, 1.0, 0.5]);
    }
}
