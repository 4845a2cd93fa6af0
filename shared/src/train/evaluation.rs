//! Offline evaluation on a temporal holdout, and the quality gate.
//!
//! The dwell table is split at a cut time: a reader x article pair whose first
//! event is before the cut is training data, one whose first event is after it
//! is a *holdout read*, never trained on. Each reader's holdout reads in time
//! order give *questions*: the reader read A, then B; does the model list B
//! among A's top `k` recommendations (hit rate, reciprocal rank), and how often
//! does B score above another article (AUC)? The popularity defaults, computed
//! from the training part alone, answer the same questions as a baseline.
//!
//! The model is scored exactly as readers are served (see [`crate::recommend::neighbours`]):
//! `(1 + cosine) / 2` times the candidate's publish-time decay at the cut,
//! never the article itself, never an excluded article.

use std::collections::HashMap;

use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sprs::{CsMat, TriMat};

use crate::contract::evaluation::{Evaluation, HoldoutMetrics};
use crate::contract::settings::AlsParams;
use crate::recommend::als::{self, confidence};
use crate::recommend::neighbours::{self, decay};
use crate::recommend::popularity::{self, DefaultsParams, Interaction};

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
}

impl DwellTable {
    /// The reader x article confidence matrix of `readings` (all by default),
    /// shaped by the whole table.
    pub fn matrix(&self, alpha: f32) -> CsMat<f32> {
        let mut tri = TriMat::new((self.readers.len(), self.articles.len()));
        for r in &self.readings {
            tri.add_triplet(
                r.reader as usize,
                r.article as usize,
                confidence(r.dwell_secs, alpha),
            );
        }
        tri.to_csr()
    }
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
    pub half_life_days: f64,
    pub defaults_half_life_days: f64,
    pub recent_interactions: usize,
    /// Age given to articles without a publish date.
    pub undated_age_days: f64,
}

/// A question: the reader read `from`, then `to` (indices into the model's
/// articles; `to` is `None` when the model never saw it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Question {
    pub from: usize,
    pub to: Option<usize>,
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

/// Scores candidates for readers of one article.
pub trait Ranker: Sync {
    /// Candidates (articles) the ranker scores.
    fn candidates(&self) -> usize;
    /// Writes every candidate's score for readers of `from` into `out`;
    /// `f32::NEG_INFINITY` for a candidate never shown (itself, excluded).
    fn scores(&self, from: usize, out: &mut [f32]);
    /// Share of recommendable articles in at least one top-`k` list.
    fn coverage(&self, k: usize) -> f64;
}

/// The served score of a factor model.
pub struct FactorRanker<'a> {
    factors: ArrayView2<'a, f32>,
    unit: Array2<f32>,
    decay: Vec<f32>,
    excluded: Vec<bool>,
}

impl<'a> FactorRanker<'a> {
    pub fn new(factors: ArrayView2<'a, f32>, decay: Vec<f32>, excluded: Vec<bool>) -> FactorRanker<'a> {
        let mut unit = factors.to_owned();
        for mut row in unit.axis_iter_mut(Axis(0)) {
            let norm = row.dot(&row).sqrt();
            if norm > 0.0 {
                row /= norm;
            }
        }
        FactorRanker {
            factors,
            unit,
            decay,
            excluded,
        }
    }
}

impl Ranker for FactorRanker<'_> {
    fn candidates(&self) -> usize {
        self.unit.nrows()
    }

    fn scores(&self, from: usize, out: &mut [f32]) {
        let cos = self.unit.dot(&self.unit.row(from));
        for (j, (o, c)) in out.iter_mut().zip(cos.iter()).enumerate() {
            *o = if j == from || self.excluded[j] {
                f32::NEG_INFINITY
            } else {
                (1.0 + c.clamp(-1.0, 1.0)) / 2.0 * self.decay[j]
            };
        }
    }

    fn coverage(&self, k: usize) -> f64 {
        let lists = neighbours::nearest(self.factors, &self.decay, &self.excluded, k);
        let mut listed = vec![false; self.candidates()];
        for n in lists.iter().flatten() {
            listed[n.index] = true;
        }
        share(listed.iter().filter(|&&l| l).count(), self.recommendable())
    }
}

impl FactorRanker<'_> {
    fn recommendable(&self) -> usize {
        self.excluded.iter().filter(|&&e| !e).count()
    }
}

/// The same list for every article: the popularity defaults.
pub struct PopularityRanker {
    score: Vec<f32>,
    excluded: Vec<bool>,
}

impl PopularityRanker {
    /// `score[j]` is article `j`'s default score, 0 when it is not ranked.
    pub fn new(score: Vec<f32>, excluded: Vec<bool>) -> PopularityRanker {
        PopularityRanker { score, excluded }
    }
}

impl Ranker for PopularityRanker {
    fn candidates(&self) -> usize {
        self.score.len()
    }

    fn scores(&self, from: usize, out: &mut [f32]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = if j == from || self.excluded[j] {
                f32::NEG_INFINITY
            } else {
                self.score[j]
            };
        }
    }

    fn coverage(&self, k: usize) -> f64 {
        // every list is the top k + 1 minus the article itself, so together
        // they are exactly the top k + 1
        let recommendable = self.excluded.iter().filter(|&&e| !e).count();
        share((k + 1).min(recommendable), recommendable)
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Where `to` ranks among `scores` (1-based; ties go to the lower index, as
/// in the served lists) and the share of other candidates it beats.
fn rank_and_auc(scores: &[f32], to: usize) -> Option<(usize, f64)> {
    let s = scores[to];
    if s == f32::NEG_INFINITY {
        return None;
    }
    let (mut above, mut below, mut ties_before, mut ties) = (0usize, 0usize, 0usize, 0usize);
    for (j, &x) in scores.iter().enumerate() {
        if j == to || x == f32::NEG_INFINITY {
            continue;
        }
        if x > s {
            above += 1;
        } else if x < s {
            below += 1;
        } else {
            ties += 1;
            if j < to {
                ties_before += 1;
            }
        }
    }
    let others = above + below + ties;
    let auc = if others == 0 {
        1.0
    } else {
        (below as f64 + 0.5 * ties as f64) / others as f64
    };
    Some((1 + above + ties_before, auc))
}

/// Hit rate, MRR and AUC of `ranker` on `questions` at list length `k`.
pub fn measure(ranker: &dyn Ranker, questions: &[Question], k: usize) -> HoldoutMetrics {
    let mut by_from: HashMap<usize, Vec<Option<usize>>> = HashMap::new();
    for q in questions {
        by_from.entry(q.from).or_default().push(q.to);
    }
    let mut groups: Vec<(usize, Vec<Option<usize>>)> = by_from.into_iter().collect();
    groups.sort_unstable_by_key(|g| g.0);
    let n = ranker.candidates();
    // (hits, reciprocal ranks, auc sum, auc count), summed in a fixed order
    let parts: Vec<(u64, f64, f64, u64)> = groups
        .par_iter()
        .map(|(from, tos)| {
            let mut scores = vec![0f32; n];
            ranker.scores(*from, &mut scores);
            let mut acc = (0u64, 0f64, 0f64, 0u64);
            for to in tos.iter().flatten() {
                if let Some((rank, auc)) = rank_and_auc(&scores, *to) {
                    if rank <= k {
                        acc.0 += 1;
                        acc.1 += 1.0 / rank as f64;
                    }
                    acc.2 += auc;
                    acc.3 += 1;
                }
            }
            acc
        })
        .collect();
    let (hits, rr, auc, judged) = parts.iter().fold((0, 0.0, 0.0, 0), |a, p| {
        (a.0 + p.0, a.1 + p.1, a.2 + p.2, a.3 + p.3)
    });
    let asked = questions.len() as f64;
    HoldoutMetrics {
        questions: questions.len() as u64,
        hit_rate: if asked > 0.0 { hits as f64 / asked } else { 0.0 },
        mrr: if asked > 0.0 { rr / asked } else { 0.0 },
        auc: if judged > 0 { auc / judged as f64 } else { 0.0 },
        coverage: ranker.coverage(k),
    }
}

/// Trains a model on the readings before the cut and measures it, and the
/// popularity defaults of the same readings, on the questions after it.
/// `None` when either side of the cut is empty.
pub fn evaluate(
    table: &DwellTable,
    facts: &ArticleFacts,
    params: &EvalParams,
    on_iteration: impl FnMut(u32, f64),
) -> Option<Evaluation> {
    let (train, holdout): (Vec<Reading>, Vec<Reading>) = table
        .readings
        .iter()
        .partition(|r| r.first_seen_ms < params.cut_ms);
    if train.is_empty() || holdout.is_empty() {
        return None;
    }
    // the model only knows readers and articles of the training part
    let mut article_ix: Vec<Option<usize>> = vec![None; table.articles.len()];
    let mut reader_ix: Vec<Option<usize>> = vec![None; table.readers.len()];
    let (mut n_articles, mut n_readers) = (0, 0);
    for r in &train {
        let a = &mut article_ix[r.article as usize];
        if a.is_none() {
            *a = Some(n_articles);
            n_articles += 1;
        }
        let u = &mut reader_ix[r.reader as usize];
        if u.is_none() {
            *u = Some(n_readers);
            n_readers += 1;
        }
    }
    let mut model_articles = vec![0u32; n_articles];
    for (full, m) in article_ix.iter().enumerate() {
        if let Some(m) = m {
            model_articles[*m] = full as u32;
        }
    }
    let mut tri = TriMat::new((n_readers, n_articles));
    for r in &train {
        if let (Some(u), Some(a)) = (reader_ix[r.reader as usize], article_ix[r.article as usize]) {
            tri.add_triplet(u, a, confidence(r.dwell_secs, params.als.alpha));
        }
    }
    let fitted = als::fit(&tri.to_csr(), &params.als, params.seed, on_iteration);

    let age = |full: u32| {
        facts.published_ms[full as usize].map_or(params.undated_age_days, |p| {
            (params.cut_ms - p) as f64 / 86_400_000.0
        })
    };
    let excluded: Vec<bool> = model_articles
        .iter()
        .map(|&a| facts.excluded[a as usize])
        .collect();
    let decays: Vec<f32> = model_articles
        .iter()
        .map(|&a| decay(age(a), params.half_life_days))
        .collect();
    let model = FactorRanker::new(fitted.articles.view(), decays, excluded.clone());
    let popularity = PopularityRanker::new(
        popularity_scores(table, facts, &train, &article_ix, n_articles, params),
        excluded.clone(),
    );

    let mut questions: Vec<Question> = next_reads(&holdout)
        .into_iter()
        .filter(|&(_, to)| !facts.excluded[to as usize])
        .filter_map(|(from, to)| {
            Some(Question {
                from: article_ix[from as usize]?,
                to: article_ix[to as usize],
            })
        })
        .collect();
    let questions_found = questions.len() as u64;
    if questions.len() > params.max_questions {
        questions.shuffle(&mut ChaCha8Rng::seed_from_u64(params.seed));
        questions.truncate(params.max_questions);
        questions.sort_unstable();
    }
    Some(Evaluation {
        holdout_start_ms: params.cut_ms,
        train_readings: train.len() as u64,
        holdout_readings: holdout.len() as u64,
        questions_found,
        k: params.k as u32,
        model: measure(&model, &questions, params.k),
        popularity: measure(&popularity, &questions, params.k),
        loss: fitted.loss,
    })
}

/// The popularity defaults of the training readings, as a score per model article.
fn popularity_scores(
    table: &DwellTable,
    facts: &ArticleFacts,
    train: &[Reading],
    article_ix: &[Option<usize>],
    n_articles: usize,
    params: &EvalParams,
) -> Vec<f32> {
    let interactions: Vec<Interaction<'_>> = train
        .iter()
        .filter(|r| !facts.excluded[r.article as usize])
        .map(|r| Interaction {
            client_id: &table.readers[r.reader as usize],
            external_id: &table.articles[r.article as usize],
            dwell_secs: r.dwell_secs,
            last_seen_ms: r.last_seen_ms.min(params.cut_ms - 1),
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
            as_of_ms: params.cut_ms,
        },
    );
    let index: HashMap<&str, usize> = table
        .articles
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    let mut score = vec![0f32; n_articles];
    for (id, s) in ranked {
        if let Some(m) = index.get(id.as_str()).and_then(|&i| article_ix[i]) {
            score[m] = s as f32;
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(reader: u32, article: u32, first: i64) -> Reading {
        Reading {
            reader,
            article,
            dwell_secs: 60.0,
            first_seen_ms: first,
            last_seen_ms: first + 60_000,
        }
    }

    #[test]
    fn next_reads_follow_first_seen_order_per_reader() {
        let rows = [
            reading(1, 5, 300),
            reading(0, 2, 200),
            reading(0, 1, 100),
            reading(1, 4, 100),
            reading(0, 3, 200), // same time as article 2: index order
        ];
        assert_eq!(next_reads(&rows), [(1, 2), (2, 3), (4, 5)]);
    }

    #[test]
    fn rank_and_auc_on_known_scores() {
        let ninf = f32::NEG_INFINITY;
        // index 0 is the source; 3 scores 0.5 with one better (1) and one tie before it (2)
        let scores = [ninf, 0.9, 0.5, 0.5, 0.1, ninf];
        let (rank, auc) = rank_and_auc(&scores, 3).unwrap();
        assert_eq!(rank, 3);
        // others: 1 (above), 2 (tie), 4 (below) -> (1 + 0.5) / 3
        assert!((auc - 0.5).abs() < 1e-12);
        assert_eq!(rank_and_auc(&scores, 1).unwrap(), (1, 1.0));
        assert_eq!(rank_and_auc(&scores, 5), None);
    }

    #[test]
    fn measure_counts_hits_mrr_and_unknown_targets() {
        // popularity ranks 2 > 1 > 3 > 0
        let ranker = PopularityRanker::new(vec![0.1, 0.8, 1.0, 0.5], vec![false; 4]);
        let questions = [
            Question { from: 0, to: Some(2) }, // rank 1
            Question { from: 2, to: Some(3) }, // from 2: 1, 3 -> rank 2
            Question { from: 1, to: Some(0) }, // 2, 3, 0 -> rank 3, outside k = 2
            Question { from: 3, to: None },    // unknown: a miss, no AUC
        ];
        let m = measure(&ranker, &questions, 2);
        assert_eq!(m.questions, 4);
        assert!((m.hit_rate - 0.5).abs() < 1e-12);
        assert!((m.mrr - (1.0 + 0.5) / 4.0).abs() < 1e-12);
        // AUCs: 1.0, 0.5 (beats 0, below 1), 0.0 -> mean 0.5
        assert!((m.auc - 0.5).abs() < 1e-12);
        assert!((m.coverage - 0.75).abs() < 1e-12);
    }

    #[test]
    fn factor_ranker_serves_neighbours_and_never_excluded_ones() {
        let f = ndarray::array![[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.05]];
        let ranker = FactorRanker::new(f.view(), vec![1.0; 4], vec![false, false, false, true]);
        let mut s = vec![0f32; 4];
        ranker.scores(0, &mut s);
        assert_eq!(s[0], f32::NEG_INFINITY);
        assert_eq!(s[3], f32::NEG_INFINITY);
        assert!(s[1] > s[2]);
        let m = measure(&ranker, &[Question { from: 0, to: Some(1) }], 1);
        assert_eq!((m.hit_rate, m.auc), (1.0, 1.0));
        // lists of 1: 0 -> 1, 1 -> 0, 2 -> 1: articles 0 and 1 of 3 recommendable
        assert!((m.coverage - 2.0 / 3.0).abs() < 1e-12);
    }

    /// Readers of `groups` topics read articles of their topic before the
    /// cut and one more after it.
    fn clustered() -> (DwellTable, ArticleFacts) {
        let (groups, readers_per, articles_per) = (4u32, 30u32, 8u32);
        let mut readings = Vec::new();
        for r in 0..groups * readers_per {
            let g = r / readers_per;
            let base = g * articles_per;
            for j in 0..4 {
                let a = base + (r + j) % articles_per;
                readings.push(reading(r, a, 1_000 + i64::from(j)));
            }
            readings.push(reading(r, base + (r + 4) % articles_per, 10_000));
            readings.push(reading(r, base + (r + 5) % articles_per, 10_001));
        }
        let n_articles = (groups * articles_per) as usize;
        let table = DwellTable {
            readers: (0..groups * readers_per).map(|r| format!("r{r:03}")).collect(),
            articles: (0..n_articles).map(|a| format!("a{a:03}")).collect(),
            readings,
        };
        let facts = ArticleFacts {
            published_ms: vec![Some(0); n_articles],
            excluded: vec![false; n_articles],
        };
        (table, facts)
    }

    #[test]
    fn the_model_beats_popularity_on_topics() {
        let (table, facts) = clustered();
        let params = EvalParams {
            cut_ms: 5_000,
            k: 3,
            max_questions: 1_000,
            seed: 7,
            als: AlsParams {
                factors: 8,
                iterations: 10,
                ..AlsParams::default()
            },
            half_life_days: 30.0,
            defaults_half_life_days: 10.0,
            recent_interactions: 5_000,
            undated_age_days: 28.0,
        };
        let e = evaluate(&table, &facts, &params, |_, _| {}).unwrap();
        assert_eq!(e.train_readings, 120 * 4);
        assert_eq!(e.holdout_readings, 120 * 2);
        assert_eq!(e.questions_found, 120);
        assert_eq!(e.loss.len(), 10);
        assert!(e.model.auc > 0.85, "{e:?}");
        assert!(e.model.hit_rate > e.popularity.hit_rate + 0.2, "{e:?}");
        assert!(e.model.coverage > e.popularity.coverage, "{e:?}");
        // sampling is seeded: the same questions twice
        let small = EvalParams {
            max_questions: 50,
            ..params.clone()
        };
        let a = evaluate(&table, &facts, &small, |_, _| {}).unwrap();
        assert_eq!(a.model.questions, 50);
        assert_eq!(a, evaluate(&table, &facts, &small, |_, _| {}).unwrap());
    }

    #[test]
    fn nothing_to_evaluate_without_both_sides_of_the_cut() {
        let (table, facts) = clustered();
        let params = EvalParams {
            cut_ms: 0,
            k: 3,
            max_questions: 10,
            seed: 1,
            als: AlsParams::default(),
            half_life_days: 30.0,
            defaults_half_life_days: 10.0,
            recent_interactions: 5_000,
            undated_age_days: 28.0,
        };
        assert!(evaluate(&table, &facts, &params, |_, _| {}).is_none());
    }
}
