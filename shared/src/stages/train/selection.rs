//! Model selection: every candidate (each family over a small grid) is fitted
//! on the training part and answers the same holdout questions with its
//! served lists; the best by MRR (ties: hit rate) wins and is refitted on the
//! whole window. Nothing is assumed: the popularity baseline is a candidate
//! too, and a family wins only where it measures best.

use std::sync::Arc;
use std::time::Instant;

use ndarray::Array2;

use crate::contract::error::Result;
use crate::contract::evaluation::{Candidate, HoldoutMetrics, ModelSpec};
use crate::recommend::als;
use crate::recommend::baselines::SameForAll;
use crate::recommend::content_embedding::EmbeddingCosine;
use crate::recommend::content_tfidf::ContentTfidf;
use crate::recommend::ease::Ease;
use crate::recommend::factor_cosine::FactorCosine;
use crate::recommend::hybrid::Hybrid;
use crate::recommend::item_item::ItemItem;
use crate::recommend::item_knn::ItemKnn;
use crate::recommend::reads::Reads;
use crate::recommend::sequential_rules::{RuleParams, SequentialRules};
use crate::settings::{AlsParams, SelectionParams};
use crate::stages::train::evaluation::Holdout;

/// The candidates measured, cheapest first, so a time budget cuts the
/// expensive ones. The popularity baseline always comes first.
pub fn grid(selection: &SelectionParams, als: &AlsParams) -> Vec<ModelSpec> {
    let on = |f: &str| selection.families.iter().any(|x| x == f);
    let mut specs = vec![ModelSpec::Popularity];
    if on("most_read") {
        specs.push(ModelSpec::MostRead);
    }
    if on("trending") {
        specs.extend([6.0, 24.0].map(|h| ModelSpec::Trending { half_life_hours: h }));
    }
    if on("sequential_rules") {
        specs.extend(
            [(1, 0.0), (3, 0.0), (3, 0.5), (10, 0.5)]
                .map(|(window, reverse)| ModelSpec::SequentialRules { window, reverse }),
        );
    }
    if on("item_knn") {
        specs.extend([0.0, 10.0, 100.0].map(|shrinkage| ModelSpec::ItemKnn { shrinkage }));
    }
    if on("als") {
        let mut factors = vec![32, als.factors, 128];
        factors.sort_unstable();
        factors.dedup();
        specs.extend(factors.into_iter().map(|factors| ModelSpec::Als {
            factors,
            regularization: als.regularization,
        }));
    }
    if on("ease") {
        specs.extend([100.0, 500.0, 3000.0].map(|lambda| ModelSpec::Ease { lambda }));
    }
    if on("content") {
        specs.push(ModelSpec::Content);
    }
    if on("embedding") && selection.embeddings.is_some() {
        specs.push(ModelSpec::Embedding);
    }
    specs
}

/// The blends measured for the best collaborative candidate (`hybrid`),
/// with the better of the text candidates (TF-IDF or embeddings):
/// `k` readers at which content and readers weigh the same. The two ends,
/// the collaborative model alone and content alone, are candidates of their
/// own, so the blend chosen can never be worse on the holdout than either.
pub const HYBRID_KS: [f32; 3] = [2.0, 10.0, 50.0];

/// What a fit needs besides the reads.
#[derive(Debug, Clone)]
pub struct FitParams<'a> {
    pub als: &'a AlsParams,
    pub selection: &'a SelectionParams,
    pub seed: u64,
    /// Reference time of trending (the cut, or the run's as-of).
    pub at_ms: i64,
    /// The defaults' rule per article (the popularity candidate).
    pub popularity: &'a [f32],
    /// A previous ALS model's article factors to start from.
    pub warm_start: &'a [Option<&'a [f32]>],
    /// Each article's text terms (content and hybrid).
    pub terms: &'a [Vec<String>],
    /// Each article's text vector, empty for none (embedding and hybrid).
    pub embeddings: &'a [Vec<f32>],
}

/// A fitted candidate: its model and, for ALS, its loss and factors.
pub struct Fitted {
    pub model: Arc<dyn ItemItem>,
    pub loss: Vec<f64>,
    pub factors: Option<Array2<f32>>,
}

/// Content neighbours of the articles' terms; `None` when no article has text.
pub fn content(terms: &[Vec<String>]) -> Option<ContentTfidf> {
    terms
        .iter()
        .any(|t| !t.is_empty())
        .then(|| ContentTfidf::fit(terms))
}

/// Neighbours of the articles' text vectors; `None` when no article has one.
pub fn embedding(vectors: &[Vec<f32>]) -> Option<EmbeddingCosine> {
    vectors
        .iter()
        .any(|v| !v.is_empty())
        .then(|| EmbeddingCosine::new(vectors))
}

/// # Errors
/// `Bug` when EASE's Gram matrix cannot be factorised; `InvalidInput` for
/// content without any article text, embeddings without any vector.
pub fn fit(
    spec: &ModelSpec,
    reads: &Reads,
    p: &FitParams<'_>,
    mut on_iteration: impl FnMut(u32, f64),
) -> Result<Fitted> {
    fit_dyn(spec, reads, p, &mut on_iteration)
}

/// Why content cannot be fitted.
pub const NO_TEXT: &str = "no article has text (title, excerpt, section or tags)";
/// Why embeddings cannot be fitted.
pub const NO_VECTORS: &str = "no article has a vector from the CONTENT_EMBEDDINGS model";

fn fit_dyn(
    spec: &ModelSpec,
    reads: &Reads,
    p: &FitParams<'_>,
    on_iteration: &mut dyn FnMut(u32, f64),
) -> Result<Fitted> {
    let plain = |model: Arc<dyn ItemItem>| Fitted {
        model,
        loss: Vec::new(),
        factors: None,
    };
    let no_text = || crate::contract::error::Error::InvalidInput(NO_TEXT.into());
    let no_vectors = || crate::contract::error::Error::InvalidInput(NO_VECTORS.into());
    let text = |embedded: bool| -> Result<Arc<dyn ItemItem>> {
        Ok(if embedded {
            Arc::new(embedding(p.embeddings).ok_or_else(no_vectors)?)
        } else {
            Arc::new(content(p.terms).ok_or_else(no_text)?)
        })
    };
    Ok(match spec.clone() {
        ModelSpec::Popularity => plain(Arc::new(SameForAll::new(p.popularity.to_vec()))),
        ModelSpec::MostRead => plain(Arc::new(SameForAll::most_read(reads))),
        ModelSpec::Trending { half_life_hours } => {
            plain(Arc::new(SameForAll::trending(reads, p.at_ms, half_life_hours)))
        }
        ModelSpec::SequentialRules { window, reverse } => plain(Arc::new(SequentialRules::fit(
            reads.clone(),
            RuleParams {
                window,
                reverse,
                max_gap_ms: (p.selection.rules_max_gap_hours * 3_600_000.0) as i64,
            },
        ))),
        ModelSpec::ItemKnn { shrinkage } => plain(Arc::new(ItemKnn::fit(reads.clone(), shrinkage))),
        ModelSpec::Ease { lambda } => {
            plain(Arc::new(Ease::fit(reads, lambda, p.selection.ease_max_articles)?))
        }
        ModelSpec::Als {
            factors,
            regularization,
        } => {
            let params = AlsParams {
                factors,
                regularization,
                ..p.als.clone()
            };
            let warm = p.warm_start.iter().any(|s| s.is_some_and(|v| v.len() == factors));
            let params = AlsParams {
                iterations: if warm {
                    p.als.warm_iterations
                } else {
                    p.als.iterations
                },
                ..params
            };
            let matrix = reads.confidence_matrix(params.alpha);
            let f = als::fit_warm(&matrix, &params, p.seed, p.warm_start, on_iteration);
            Fitted {
                model: Arc::new(FactorCosine::new(f.articles.view(), &reads.readers_per_article())),
                loss: f.loss,
                factors: Some(f.articles),
            }
        }
        ModelSpec::Content => plain(text(false)?),
        ModelSpec::Embedding => plain(text(true)?),
        ModelSpec::Hybrid { base, k, embedding } => {
            let text = text(embedding)?;
            let base = fit_dyn(&base, reads, p, on_iteration)?;
            Fitted {
                model: Arc::new(Hybrid::new(base.model, text, reads.readers_per_article(), k)),
                ..base
            }
        }
    })
}

/// A measured model kept for the blends, with its (MRR, hit rate).
type Kept = (ModelSpec, Arc<dyn ItemItem>, (f64, f64));

/// The leaderboard (best first, then what was skipped) and the winner with
/// its evaluation loss. `budget_secs` bounds the measuring; a candidate is
/// started only while time is left. With `hybrid` among the families, the
/// best collaborative candidate is then blended with content over
/// [`HYBRID_KS`].
pub fn select(
    holdout: &Holdout,
    specs: &[ModelSpec],
    p: &FitParams<'_>,
    k: usize,
    budget_secs: f64,
    mut on_candidate: impl FnMut(&Candidate),
) -> (Vec<Candidate>, Option<(ModelSpec, Vec<f64>)>) {
    let started = Instant::now();
    let serving = holdout.serving(k);
    let mut board: Vec<(Candidate, Vec<f64>)> = Vec::with_capacity(specs.len());
    let skipped = |spec: &ModelSpec, secs: f64, why: String| Candidate {
        spec: spec.clone(),
        metrics: None,
        secs,
        skipped: Some(why),
        slices: None,
    };
    let out_of_time =
        |board: &[(Candidate, Vec<f64>)]| started.elapsed().as_secs_f64() > budget_secs && !board.is_empty();
    let measure = |spec: &ModelSpec, model: &dyn ItemItem, t: Instant| {
        let lists = model.neighbours(&holdout.sources, &serving);
        Candidate {
            spec: spec.clone(),
            metrics: Some(holdout.measure(&lists, k)),
            secs: t.elapsed().as_secs_f64(),
            skipped: None,
            slices: Some(holdout.measure_slices(&lists, k)),
        }
    };
    // kept for the blends: the best text model, and the best collaborative model so far
    let mut text: Option<Kept> = None;
    let mut best_collaborative: Option<Kept> = None;
    for spec in specs {
        let candidate = if out_of_time(&board) {
            (
                skipped(spec, 0.0, format!("time budget of {budget_secs:.0} s spent")),
                Vec::new(),
            )
        } else if *spec == ModelSpec::Content && p.terms.iter().all(Vec::is_empty) {
            (skipped(spec, 0.0, NO_TEXT.into()), Vec::new())
        } else if *spec == ModelSpec::Embedding && p.embeddings.iter().all(Vec::is_empty) {
            (skipped(spec, 0.0, NO_VECTORS.into()), Vec::new())
        } else {
            let t = Instant::now();
            match fit(spec, &holdout.fitting.reads, p, |_, _| {}) {
                Ok(fitted) => {
                    let c = measure(spec, fitted.model.as_ref(), t);
                    let m = c.metrics.map(|m| (m.mrr, m.hit_rate)).unwrap_or_default();
                    let is_text = matches!(spec, ModelSpec::Content | ModelSpec::Embedding);
                    if is_text && text.as_ref().is_none_or(|b| m > b.2) {
                        text = Some((spec.clone(), fitted.model.clone(), m));
                    } else if !is_text
                        && !spec.is_baseline()
                        && best_collaborative.as_ref().is_none_or(|b| m > b.2)
                    {
                        best_collaborative = Some((spec.clone(), fitted.model.clone(), m));
                    }
                    (c, fitted.loss)
                }
                Err(e) => (
                    skipped(spec, t.elapsed().as_secs_f64(), format!("fit failed: {e}")),
                    Vec::new(),
                ),
            }
        };
        on_candidate(&candidate.0);
        board.push(candidate);
    }
    let blend = p.selection.families.iter().any(|f| f == "hybrid");
    if let (true, Some((text_spec, text, _)), Some((base, model, _))) = (blend, text, best_collaborative) {
        let readers = holdout.fitting.reads.readers_per_article();
        for k_readers in HYBRID_KS {
            let spec = ModelSpec::Hybrid {
                base: Box::new(base.clone()),
                k: k_readers,
                embedding: text_spec == ModelSpec::Embedding,
            };
            let candidate = if out_of_time(&board) {
                skipped(&spec, 0.0, format!("time budget of {budget_secs:.0} s spent"))
            } else {
                let t = Instant::now();
                let h = Hybrid::new(model.clone(), text.clone(), readers.clone(), k_readers);
                measure(&spec, &h, t)
            };
            on_candidate(&candidate);
            board.push((candidate, Vec::new()));
        }
    }
    // best first: MRR, then hit rate, then the earlier (cheaper) candidate
    let key = |m: &Option<HoldoutMetrics>| m.map(|m| (m.mrr, m.hit_rate));
    let mut order: Vec<usize> = (0..board.len()).collect();
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(&board[a].0.metrics), key(&board[b].0.metrics));
        match (ka, kb) {
            (Some(x), Some(y)) => y.0.total_cmp(&x.0).then(y.1.total_cmp(&x.1)).then(a.cmp(&b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(&b),
        }
    });
    let winner = order
        .first()
        .filter(|&&i| board[i].0.metrics.is_some())
        .map(|&i| (board[i].0.spec.clone(), board[i].1.clone()));
    let mut slots: Vec<Option<(Candidate, Vec<f64>)>> = board.into_iter().map(Some).collect();
    let leaderboard = order
        .iter()
        .filter_map(|&i| slots[i].take().map(|c| c.0))
        .collect();
    (leaderboard, winner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::train::evaluation::tests::reading;
    use crate::stages::train::evaluation::{ArticleFacts, DwellTable, EvalParams, Reading};

    fn params(cut_ms: i64) -> EvalParams {
        EvalParams {
            cut_ms,
            k: 3,
            max_questions: 10_000,
            seed: 7,
            als: AlsParams {
                factors: 8,
                iterations: 8,
                ..AlsParams::default()
            },
            selection: SelectionParams::default(),
            half_life_days: 30.0,
            defaults_half_life_days: 10.0,
            recent_interactions: 5_000,
            undated_age_days: 28.0,
            cold_readers: 5,
        }
    }

    fn run(table: &DwellTable, p: &EvalParams) -> (Vec<Candidate>, ModelSpec) {
        let (board, winner) = run_with_text(table, p, Vec::new(), Vec::new());
        assert_eq!(board.len(), grid(&p.selection, &p.als).len());
        (board, winner)
    }

    fn run_with_text(
        table: &DwellTable,
        p: &EvalParams,
        terms: Vec<Vec<String>>,
        embeddings: Vec<Vec<f32>>,
    ) -> (Vec<Candidate>, ModelSpec) {
        let facts = ArticleFacts {
            published_ms: vec![Some(0); table.articles.len()],
            excluded: vec![false; table.articles.len()],
            terms,
            embeddings,
        };
        let holdout = Holdout::split(table, &facts, p).unwrap();
        let fit = FitParams {
            als: &p.als,
            selection: &p.selection,
            seed: p.seed,
            at_ms: p.cut_ms,
            popularity: &holdout.popularity,
            warm_start: &[],
            terms: &holdout.terms,
            embeddings: &holdout.embeddings,
        };
        let specs = grid(&p.selection, &p.als);
        let (board, winner) = select(&holdout, &specs, &fit, p.k, 600.0, |_| {});
        (board, winner.unwrap().0)
    }

    /// Before the cut readers read at random; after it, two stories of one
    /// topic (article `a`'s topic is `a % topics`).
    fn reading_by_topic_after_the_cut(topics: u32, articles: u32) -> DwellTable {
        let mut rows = Vec::new();
        // before the cut: reading at random
        for r in 0..400u32 {
            for s in 0..3u32 {
                rows.push(reading(
                    r,
                    (r * 7 + s * 13 + r / 40) % articles,
                    1_000 + i64::from(s),
                ));
            }
        }
        // after: two stories of one topic
        for r in 400..700u32 {
            let a = (r * 11) % articles;
            let b = (a + topics * (1 + r % 4)) % articles;
            rows.push(reading(r, a, 100_000));
            rows.push(reading(r, b, 100_001));
        }
        table(rows, 700, articles as usize)
    }

    /// What readers open next is about the same thing as what they read,
    /// while who read what before the cut carries nothing: content wins (or
    /// a blend leaning on it), and the blends are measured beside it.
    #[test]
    fn reading_that_follows_the_text_is_won_by_content() {
        let (topics, articles) = (8u32, 40u32);
        let terms: Vec<Vec<String>> = (0..articles)
            .map(|a| {
                vec![
                    format!("topic{}", a % topics),
                    format!("word{}", a % topics),
                    format!("own{a}"),
                ]
            })
            .collect();
        let reads = reading_by_topic_after_the_cut(topics, articles);
        let (board, winner) = run_with_text(&reads, &params(50_000), terms, Vec::new());
        assert!(
            matches!(winner.family(), "content" | "hybrid"),
            "{winner} won: {board:#?}"
        );
        let of = |family: &str| {
            board
                .iter()
                .filter(|c| c.spec.family() == family)
                .filter_map(|c| c.metrics)
                .collect::<Vec<_>>()
        };
        assert_eq!(of("hybrid").len(), HYBRID_KS.len(), "{board:#?}");
        let best = board[0].metrics.unwrap();
        let pop = of("popularity")[0];
        assert!(best.hit_rate > pop.hit_rate + 0.3, "{board:#?}");
        // never worse on the holdout than either part of a blend
        for part in ["content", "item_knn", "ease", "als", "sequential_rules"] {
            for m in of(part) {
                assert!(best.mrr >= m.mrr, "{part}: {board:#?}");
            }
        }
    }

    /// With an operator's embedding model, its candidate is measured beside
    /// TF-IDF, and the blends take the better text model: here the vectors
    /// know the topics and the words do not.
    #[test]
    fn an_embedding_model_is_a_candidate_and_the_blends_take_the_better_text() {
        let (topics, articles) = (8u32, 40u32);
        let reads = reading_by_topic_after_the_cut(topics, articles);
        let terms: Vec<Vec<String>> = (0..articles)
            .map(|a| vec![format!("own{a}"), format!("pair{}", a / 2)])
            .collect();
        let embeddings: Vec<Vec<f32>> = (0..articles)
            .map(|a| {
                let mut v = vec![0.0; topics as usize + 1];
                v[(a % topics) as usize] = 1.0;
                v[topics as usize] = 0.3 * (a as f32 / articles as f32);
                v
            })
            .collect();
        let mut p = params(50_000);
        p.selection.embeddings = Some("test-model".into());
        let (board, winner) = run_with_text(&reads, &p, terms.clone(), embeddings);
        let measured = |spec: &ModelSpec| board.iter().find(|c| c.spec == *spec).and_then(|c| c.metrics);
        let vectors = measured(&ModelSpec::Embedding).expect("the embedding candidate is measured");
        let words = measured(&ModelSpec::Content).unwrap();
        assert!(vectors.mrr > words.mrr + 0.1, "{board:#?}");
        let blends: Vec<&ModelSpec> = board
            .iter()
            .map(|c| &c.spec)
            .filter(|s| s.family() == "hybrid")
            .collect();
        assert_eq!(blends.len(), HYBRID_KS.len());
        assert!(
            blends
                .iter()
                .all(|s| matches!(s, ModelSpec::Hybrid { embedding: true, .. })),
            "{blends:?}"
        );
        assert!(
            winner.to_string().contains("embedding"),
            "{winner} won: {board:#?}"
        );
        // without the setting there is no such candidate, and no vectors: skipped
        let (board, _) = run_with_text(&reads, &params(50_000), terms.clone(), Vec::new());
        assert!(board.iter().all(|c| c.spec != ModelSpec::Embedding));
        let (board, _) = run_with_text(&reads, &p, terms, Vec::new());
        let c = board.iter().find(|c| c.spec == ModelSpec::Embedding).unwrap();
        assert_eq!(c.skipped.as_deref(), Some(NO_VECTORS), "{c:?}");
    }

    fn table(readings: Vec<Reading>, readers: usize, articles: usize) -> DwellTable {
        DwellTable {
            readers: (0..readers).map(|r| format!("r{r:04}")).collect(),
            articles: (0..articles).map(|a| format!("a{a:03}")).collect(),
            readings,
        }
    }

    /// Readers walk a fixed chain of articles (0 -> 1 -> 2 ...) from a random
    /// start: what comes next is the order, not the topic or popularity.
    #[test]
    fn reading_in_a_fixed_order_is_won_by_sequential_rules() {
        let (n_articles, readers) = (40u32, 400u32);
        let mut rows = Vec::new();
        for r in 0..readers {
            let start = (r * 7919) % n_articles;
            for s in 0..6u32 {
                let t = if s < 4 { 1_000 } else { 100_000 } + i64::from(s) * 10;
                rows.push(reading(r, (start + s) % n_articles, t));
            }
        }
        let (board, winner) = run(
            &table(rows, readers as usize, n_articles as usize),
            &params(50_000),
        );
        assert_eq!(winner.family(), "sequential_rules", "{board:#?}");
        let best = board[0].metrics.unwrap();
        let pop = board
            .iter()
            .find(|c| c.spec == ModelSpec::Popularity)
            .unwrap()
            .metrics
            .unwrap();
        assert!(
            best.hit_rate > 0.9 && best.hit_rate > pop.hit_rate + 0.5,
            "{board:#?}"
        );
    }

    /// Readers keep to a topic: co-reading carries the signal, any
    /// item-item family beats every baseline.
    #[test]
    fn reading_by_topic_is_won_by_an_item_item_model() {
        let (topics, per_topic, readers) = (4u32, 8u32, 240u32);
        let mut rows = Vec::new();
        for r in 0..readers {
            let base = (r % topics) * per_topic;
            for s in 0..6u32 {
                let t = if s < 4 { 1_000 } else { 100_000 } + i64::from(s);
                rows.push(reading(r, base + (r / topics + s * 3) % per_topic, t));
            }
        }
        let (board, winner) = run(
            &table(rows, readers as usize, (topics * per_topic) as usize),
            &params(50_000),
        );
        assert!(!winner.is_baseline(), "{winner} won: {board:#?}");
        let best = board[0].metrics.unwrap();
        let baseline_best = board
            .iter()
            .filter(|c| c.spec.is_baseline())
            .filter_map(|c| c.metrics)
            .map(|m| m.hit_rate)
            .fold(0.0, f64::max);
        assert!(best.hit_rate > baseline_best + 0.2, "{board:#?}");
    }

    /// What readers open after the cut is what became popular in the last
    /// hours, read by other readers than the old stories: trending wins.
    #[test]
    fn a_fresh_wave_of_reading_is_won_by_trending() {
        let hour = 3_600_000;
        let cut = 100 * hour;
        let mut rows = Vec::new();
        for r in 0..200u32 {
            for s in 0..3u32 {
                rows.push(reading(r, (r + s * 3) % 10, 1_000 + i64::from(s)));
            }
        }
        for r in 200..300u32 {
            rows.push(reading(r, 10 + r % 5, cut - hour));
            rows.push(reading(r, 10 + (r + 1) % 5, cut - hour + 1));
        }
        for r in 300..500u32 {
            rows.push(reading(r, r % 10, cut + 1_000));
            rows.push(reading(r, 10 + r % 5, cut + 2_000));
        }
        let (board, winner) = run(&table(rows, 500, 15), &params(cut));
        assert_eq!(winner.family(), "trending", "{board:#?}");
    }

    #[test]
    fn the_grid_follows_the_families_asked_for_and_the_budget_skips_the_rest() {
        let selection = SelectionParams {
            families: vec!["ease".into()],
            ..SelectionParams::default()
        };
        let specs = grid(&selection, &AlsParams::default());
        assert_eq!(specs[0], ModelSpec::Popularity);
        assert!(specs[1..].iter().all(|s| s.family() == "ease"));
        let rows = (0..50u32)
            .flat_map(|r| {
                [
                    reading(r, r % 5, 10),
                    reading(r, (r + 1) % 5, 100_000),
                    reading(r, (r + 2) % 5, 100_001),
                ]
            })
            .collect();
        let p = params(50_000);
        let t = table(rows, 50, 5);
        let facts = ArticleFacts {
            published_ms: vec![None; 5],
            excluded: vec![false; 5],
            terms: Vec::new(),
            embeddings: Vec::new(),
        };
        let holdout = Holdout::split(&t, &facts, &p).unwrap();
        let fit = FitParams {
            als: &p.als,
            selection: &selection,
            seed: 1,
            at_ms: p.cut_ms,
            popularity: &holdout.popularity,
            warm_start: &[],
            terms: &holdout.terms,
            embeddings: &holdout.embeddings,
        };
        let (board, winner) = select(&holdout, &specs, &fit, 3, 0.0, |_| {});
        // a zero budget measures the first candidate only
        assert_eq!(board.iter().filter(|c| c.metrics.is_some()).count(), 1);
        assert_eq!(winner.unwrap().0, ModelSpec::Popularity);
        assert!(board[1..]
            .iter()
            .all(|c| c.skipped.as_deref().is_some_and(|s| s.contains("time budget"))));
    }
}
