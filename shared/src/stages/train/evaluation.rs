//! Offline evaluation on a temporal holdout.
//!
//! The dwell table is split at a cut time: a reader x article pair whose first
//! event is before the cut is training data, one whose first event is after it
//! is a *holdout read*, never trained on. Each reader's holdout reads in time
//! order give *questions*: the reader read A, then B; does the model list B
//! among A's top `k` recommendations (hit rate, reciprocal rank)? Every
//! candidate model answers the same questions with its served lists (see
//! [`crate::recommend::item_item`]): publish decay at the cut, never the
//! article itself, never an excluded article.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::contract::evaluation::{HoldoutMetrics, Slices};
use crate::recommend::item_item::Serving;
use crate::recommend::neighbours::{decay, Neighbour};
use crate::recommend::popularity::{self, DefaultsParams, Interaction};
use crate::recommend::reads::{Read, Reads};
use crate::settings::{AlsParams, SelectionParams};

/// One row of the dwell table, by reader and article index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub reader: u32,
    pub article: u32,
    pub dwell_secs: f64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// The dwell table with its reader and article ids; `readings` index into both.
#[derive(Debug, Clone, Default)]
pub struct DwellTable {
    pub readers: Vec<String>,
    pub articles: Vec<String>,
    pub readings: Vec<Reading>,
}

/// What the site says about each article of the table (by article index).
#[derive(Debug, Clone, Default)]
pub struct ArticleFacts {
    pub published_ms: Vec<Option<i64>>,
    pub excluded: Vec<bool>,
    /// Text terms ([`crate::recommend::content_tfidf::Analyzer::terms`]);
    /// may be empty (no text known).
    pub terms: Vec<Vec<String>>,
    /// Text vectors from the operator's embedding model; empty when there
    /// is no model (or no text).
    pub embeddings: Vec<Vec<f32>>,
}

/// How the evaluation is run.
#[derive(Debug, Clone)]
pub struct EvalParams {
    pub cut_ms: i64,
    pub k: usize,
    /// Questions beyond this many are sampled (seeded) to bound the cost.
    pub max_questions: usize,
    pub seed: u64,
    pub als: AlsParams,
    pub selection: SelectionParams,
    pub half_life_days: f64,
    pub defaults_half_life_days: f64,
    pub recent_interactions: usize,
    /// Age given to articles without a publish date.
    pub undated_age_days: f64,
    /// Fewer readers than this before the cut make an article cold.
    pub cold_readers: u32,
}

/// A question: the reader read `from`, then `to` (indices into the model's
/// articles; `to` is `None` when the model never saw it). `cold`: either had
/// fewer than [`EvalParams::cold_readers`] readers before the cut, or was
/// published after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Question {
    pub from: usize,
    pub to: Option<usize>,
    pub cold: bool,
}

/// Each reader's consecutive holdout reads `(A, B)`, in first-seen order
/// (ties on article index), as article indices of the table.
pub fn next_reads(holdout: &[Reading]) -> Vec<(u32, u32)> {
    let mut sorted: Vec<&Reading> = holdout.iter().collect();
    sorted.sort_by_key(|r| (r.reader, r.first_seen_ms, r.article));
    sorted
        .windows(2)
        .filter(|w| w[0].reader == w[1].reader && w[0].article != w[1].article)
        .map(|w| (w[0].article, w[1].article))
        .collect()
}

/// Reads of `readings` with readers and articles renumbered densely in
/// first-seen order of the slice given, then the unread candidates: what a
/// model fitted on them knows.
#[derive(Debug, Clone)]
pub struct Fitting {
    pub reads: Reads,
    /// Table index of each model article.
    pub articles: Vec<u32>,
    /// Model index of each table article.
    pub index: Vec<Option<usize>>,
}

impl Fitting {
    /// `candidate(a)`: whether table article `a`, if none of `readings` is
    /// of it, is in the model all the same (a source and a candidate nobody
    /// read: content speaks for it).
    pub fn of(table: &DwellTable, readings: &[Reading], candidate: impl Fn(usize) -> bool) -> Fitting {
        let mut index: Vec<Option<usize>> = vec![None; table.articles.len()];
        let mut reader_ix: Vec<Option<u32>> = vec![None; table.readers.len()];
        let (mut articles, mut n_readers) = (Vec::new(), 0u32);
        let mut rows = Vec::with_capacity(readings.len());
        for r in readings {
            let a = *index[r.article as usize].get_or_insert_with(|| {
                articles.push(r.article);
                articles.len() - 1
            });
            let u = *reader_ix[r.reader as usize].get_or_insert_with(|| {
                n_readers += 1;
                n_readers - 1
            });
            let read = Read {
                article: a as u32,
                first_seen_ms: r.first_seen_ms,
                dwell_secs: r.dwell_secs,
            };
            rows.push((u, read));
        }
        for (a, slot) in index.iter_mut().enumerate() {
            if slot.is_none() && candidate(a) {
                articles.push(a as u32);
                *slot = Some(articles.len() - 1);
            }
        }
        Fitting {
            reads: Reads::new(n_readers as usize, articles.len(), rows),
            articles,
            index,
        }
    }

    /// The text terms of each model article.
    pub fn terms(&self, facts: &ArticleFacts) -> Vec<Vec<String>> {
        self.articles
            .iter()
            .map(|&a| facts.terms.get(a as usize).cloned().unwrap_or_default())
            .collect()
    }

    /// The text vector of each model article (empty: none).
    pub fn embeddings(&self, facts: &ArticleFacts) -> Vec<Vec<f32>> {
        self.articles
            .iter()
            .map(|&a| facts.embeddings.get(a as usize).cloned().unwrap_or_default())
            .collect()
    }

    /// Publish decay at `at_ms` and exclusion of each model article.
    pub fn serving_facts(
        &self,
        facts: &ArticleFacts,
        at_ms: i64,
        half_life_days: f64,
        undated_age_days: f64,
    ) -> (Vec<f32>, Vec<bool>) {
        self.articles
            .iter()
            .map(|&a| {
                let age = facts.published_ms[a as usize]
                    .map_or(undated_age_days, |p| (at_ms - p) as f64 / 86_400_000.0);
                (decay(age, half_life_days), facts.excluded[a as usize])
            })
            .unzip()
    }

    /// The defaults' rule over `readings` at `at_ms`, as a score per model article.
    pub fn popularity(
        &self,
        table: &DwellTable,
        facts: &ArticleFacts,
        readings: &[Reading],
        at_ms: i64,
        params: &EvalParams,
    ) -> Vec<f32> {
        let interactions: Vec<Interaction<'_>> = readings
            .iter()
            .filter(|r| !facts.excluded[r.article as usize])
            .map(|r| Interaction {
                client_id: &table.readers[r.reader as usize],
                external_id: &table.articles[r.article as usize],
                dwell_secs: r.dwell_secs,
                last_seen_ms: r.last_seen_ms.min(at_ms - 1),
            })
            .collect();
        let published: HashMap<&str, i64> = table
            .articles
            .iter()
            .zip(&facts.published_ms)
            .filter_map(|(id, p)| Some((id.as_str(), (*p)?)))
            .collect();
        let ranked = popularity::rank(
            &interactions,
            &published,
            &DefaultsParams {
                recent_interactions: params.recent_interactions,
                half_life_days: params.defaults_half_life_days,
                max_recs: usize::MAX,
                as_of_ms: at_ms,
            },
        );
        let by_id: HashMap<&str, usize> = table
            .articles
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), i))
            .collect();
        let mut score = vec![0f32; self.articles.len()];
        for (id, s) in ranked {
            if let Some(m) = by_id.get(id.as_str()).and_then(|&i| self.index[i]) {
                score[m] = s as f32;
            }
        }
        score
    }
}

/// The training part, the serving facts at the cut and the questions: what
/// every candidate is fitted on and answers.
#[derive(Debug, Clone)]
pub struct Holdout {
    pub fitting: Fitting,
    pub decay: Vec<f32>,
    pub excluded: Vec<bool>,
    pub prior: Vec<f32>,
    /// The defaults' rule on the training part (the popularity baseline).
    pub popularity: Vec<f32>,
    /// Text terms of each model article.
    pub terms: Vec<Vec<String>>,
    /// Text vectors of each model article (empty: none).
    pub embeddings: Vec<Vec<f32>>,
    pub questions: Vec<Question>,
    /// Distinct `from` of the questions, ascending.
    pub sources: Vec<usize>,
    pub train_readings: u64,
    pub holdout_readings: u64,
    pub questions_found: u64,
}

impl Holdout {
    /// `None` when either side of the cut is empty.
    pub fn split(table: &DwellTable, facts: &ArticleFacts, params: &EvalParams) -> Option<Holdout> {
        let (train, holdout): (Vec<Reading>, Vec<Reading>) = table
            .readings
            .iter()
            .partition(|r| r.first_seen_ms < params.cut_ms);
        if train.is_empty() || holdout.is_empty() {
            return None;
        }
        // the stories published before the cut were in the catalogue then, read or not
        let fitting = Fitting::of(table, &train, |a| {
            facts
                .published_ms
                .get(a)
                .copied()
                .flatten()
                .is_some_and(|p| p < params.cut_ms)
        });
        let (decay, excluded) = fitting.serving_facts(
            facts,
            params.cut_ms,
            params.half_life_days,
            params.undated_age_days,
        );
        let popularity = fitting.popularity(table, facts, &train, params.cut_ms, params);
        // a reader reads an article once in the table: readings are readers
        let mut readers_before = vec![0u32; table.articles.len()];
        for r in &train {
            readers_before[r.article as usize] += 1;
        }
        let cold = |a: u32| {
            readers_before[a as usize] < params.cold_readers
                || facts
                    .published_ms
                    .get(a as usize)
                    .copied()
                    .flatten()
                    .is_some_and(|p| p >= params.cut_ms)
        };
        let mut questions: Vec<Question> = next_reads(&holdout)
            .into_iter()
            .filter(|&(_, to)| !facts.excluded[to as usize])
            .filter_map(|(from, to)| {
                Some(Question {
                    from: fitting.index[from as usize]?,
                    to: fitting.index[to as usize],
                    cold: cold(from) || cold(to),
                })
            })
            .collect();
        let questions_found = questions.len() as u64;
        if questions.len() > params.max_questions {
            questions.shuffle(&mut ChaCha8Rng::seed_from_u64(params.seed));
            questions.truncate(params.max_questions);
        }
        questions.sort_unstable();
        let mut sources: Vec<usize> = questions.iter().map(|q| q.from).collect();
        sources.dedup();
        Some(Holdout {
            prior: fitting.reads.prior(),
            terms: fitting.terms(facts),
            embeddings: fitting.embeddings(facts),
            fitting,
            decay,
            excluded,
            popularity,
            questions,
            sources,
            train_readings: train.len() as u64,
            holdout_readings: holdout.len() as u64,
            questions_found,
        })
    }

    pub fn serving(&self, k: usize) -> Serving<'_> {
        Serving {
            decay: &self.decay,
            excluded: &self.excluded,
            prior: &self.prior,
            k,
        }
    }

    /// Hit rate, MRR, AUC and coverage of `lists` (one per [`Holdout::sources`]).
    pub fn measure(&self, lists: &[Vec<Neighbour>], k: usize) -> HoldoutMetrics {
        measure(&self.sources, lists, &self.questions, self.recommendable(), k)
    }

    /// The same figures on the cold questions and on the warm ones.
    pub fn measure_slices(&self, lists: &[Vec<Neighbour>], k: usize) -> Slices {
        let (cold, warm): (Vec<Question>, Vec<Question>) = self.questions.iter().partition(|q| q.cold);
        let recommendable = self.recommendable();
        Slices {
            cold: measure(&self.sources, lists, &cold, recommendable, k),
            warm: measure(&self.sources, lists, &warm, recommendable, k),
        }
    }

    fn recommendable(&self) -> usize {
        self.excluded.iter().filter(|&&e| !e).count()
    }
}

/// Hit rate, MRR and AUC of served `lists` (`lists[i]` is `sources[i]`'s) on
/// `questions`, at list length `k`. AUC counts the candidates a list leaves
/// out as tied below it. Coverage: the share of the `recommendable` articles
/// in at least one of the lists.
pub fn measure(
    sources: &[usize],
    lists: &[Vec<Neighbour>],
    questions: &[Question],
    recommendable: usize,
    k: usize,
) -> HoldoutMetrics {
    let list_of: HashMap<usize, &Vec<Neighbour>> = sources.iter().copied().zip(lists).collect();
    let (mut hits, mut rr, mut auc, mut judged) = (0u64, 0f64, 0f64, 0u64);
    for q in questions {
        let (Some(to), Some(list)) = (q.to, list_of.get(&q.from)) else {
            continue;
        };
        // candidates other than the source and the answer
        let others = recommendable.saturating_sub(2);
        let shown = list.len().min(k);
        match list.iter().take(k).position(|n| n.index == to) {
            Some(p) => {
                hits += 1;
                rr += 1.0 / (p + 1) as f64;
                auc += if others == 0 {
                    1.0
                } else {
                    (others - p) as f64 / others as f64
                };
            }
            None if others == 0 => auc += 0.5,
            None => auc += 0.5 * others.saturating_sub(shown) as f64 / others as f64,
        }
        judged += 1;
    }
    let mut listed = vec![false; lists.iter().flatten().map(|n| n.index + 1).max().unwrap_or(0)];
    for n in lists.iter().flat_map(|l| l.iter().take(k)) {
        listed[n.index] = true;
    }
    let asked = questions.len() as f64;
    HoldoutMetrics {
        questions: questions.len() as u64,
        hit_rate: if asked > 0.0 { hits as f64 / asked } else { 0.0 },
        mrr: if asked > 0.0 { rr / asked } else { 0.0 },
        auc: if judged > 0 { auc / judged as f64 } else { 0.0 },
        coverage: if recommendable == 0 {
            0.0
        } else {
            listed.iter().filter(|&&l| l).count() as f64 / recommendable as f64
        },
    }
}

#[cfg(test)]
pub(crate) mod tests;
