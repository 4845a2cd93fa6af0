//! Model selection's costs, printed: EASE's fit time and peak memory at
//! BENCH_EASE_ARTICLES (20,000) x BENCH_EASE_READERS (500,000); item-kNN's
//! lists for BENCH_KNN_ARTICLES (50,000) articles; and the whole selection
//! (every family's grid, measured on a holdout, as the train stage runs it) on
//! BENCH_NNZ (5,000,000) reads of BENCH_ARTICLES (40,000) articles; content
//! neighbours (TF-IDF) for BENCH_CONTENT_ARTICLES (50,000) generated stories.
//!
//! `cargo bench -p article-rec-core --features devtools --bench selection`.
//! Part `ease` first times EASE's kernel against LAPACK's (scipy, from
//! `scripts/bench-peers`) on one Gram matrix of BENCH_LAPACK_ARTICLES
//! (11,540) articles, as the train stage of a 1 M-reader site has, each side
//! its best of BENCH_ROUNDS (2) alternating rounds.
//! Part `knn` times implicit's CosineRecommender beside item-kNN, part `rules`
//! a vectorised numpy / scipy sequential-rules matrix (BENCH_RULES_ARTICLES,
//! 20,000; BENCH_RULES_READERS, 500,000) beside the job's: each the 20
//! neighbours of every article, the ratio printed.
//! BENCH_PART (`ease`, `knn`, `rules`, `content`, `selection`, or all) runs one part; peak memory
//! is the process's, so run `ease` alone for its figure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]
// A bench binary takes its size from the environment, not from Settings.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Instant;

use article_rec_core::recommend::content_tfidf::{Analyzer, ArticleText, ContentTfidf};
use article_rec_core::recommend::ease::Ease;
use article_rec_core::recommend::item_item::{ItemItem, Serving};
use article_rec_core::recommend::item_knn::ItemKnn;
use article_rec_core::recommend::reads::{Read, Reads};
use article_rec_core::recommend::sequential_rules::{RuleParams, SequentialRules};
use article_rec_core::settings::{AlsParams, SelectionParams};
use article_rec_core::stages::train::evaluation::{ArticleFacts, DwellTable, EvalParams, Reading};
use rand::{Rng, SeedableRng};

/// Readers of 50 topics with Zipf-like popularity in time order over 28
/// days, 2 to 18 reads each: (reader, article, first seen ms).
fn reading(readers: usize, articles: usize, seed: u64) -> Vec<(u32, u32, i64)> {
    let topics = 50.min(articles);
    let per_topic = articles / topics;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(readers * 10);
    let mut seen = std::collections::HashSet::new();
    let span = 28 * 86_400_000i64;
    for r in 0..readers {
        let topic = rng.random_range(0..topics);
        seen.clear();
        let reads = rng.random_range(2..=18usize).min(articles);
        let mut t = rng.random_range(0..span);
        while seen.len() < reads {
            let g = if rng.random::<f64>() < 0.8 {
                topic
            } else {
                rng.random_range(0..topics)
            };
            let rank = (rng.random::<f64>().powi(2) * per_topic as f64) as usize;
            let a = (g * per_topic + rank.min(per_topic - 1)) as u32;
            if seen.insert(a) {
                out.push((r as u32, a, t.min(span - 1)));
                t += rng.random_range(30_000..3_600_000);
            }
        }
    }
    out
}

fn reads_of(rows: &[(u32, u32, i64)], readers: usize, articles: usize) -> Reads {
    let rows = rows
        .iter()
        .map(|&(r, a, t)| {
            (
                r,
                Read {
                    article: a,
                    first_seen_ms: t,
                    dwell_secs: 60.0,
                },
            )
        })
        .collect();
    Reads::new(readers, articles, rows)
}

fn ease() {
    let articles = common::env_usize("BENCH_EASE_ARTICLES", 20_000);
    let readers = common::env_usize("BENCH_EASE_READERS", 500_000);
    let reads = reads_of(&reading(readers, articles, 1), readers, articles);
    let rss_before = common::peak_rss_mib();
    let t = Instant::now();
    let model = Ease::fit(&reads, 500.0, articles).unwrap();
    let fit = t.elapsed().as_secs_f64();
    println!(
        "ease: {} articles x {readers} readers ({} reads): fit {fit:.1} s, peak RSS {:.0} MiB (before the fit {rss_before:.0} MiB)",
        model.modelled(),
        reads.len(),
        common::peak_rss_mib()
    );
    let t = Instant::now();
    let lists = serve(&model, articles);
    println!(
        "ease: lists of 20 for all {articles} articles in {:.1} s ({} listed)",
        t.elapsed().as_secs_f64(),
        lists
    );
}

/// EASE's factorisation and inverse against LAPACK's (scipy's `spotrf` +
/// `spotri`, f32) on the same Gram matrix, the same threads, in this run.
fn ease_vs_lapack() {
    let n = common::env_usize("BENCH_LAPACK_ARTICLES", 11_540);
    let readers = common::env_usize("BENCH_LAPACK_READERS", 305_725);
    let threads = rayon::current_num_threads();
    let reads = reads_of(&reading(readers, n, 3), readers, n);
    let mut g = faer::Mat::<f32>::zeros(n, n);
    let mut mine: Vec<usize> = Vec::new();
    for reads_of in reads.by_reader() {
        mine.clear();
        mine.extend(reads_of.iter().map(|x| x.article as usize));
        mine.sort_unstable();
        mine.dedup();
        for (at, &j) in mine.iter().enumerate() {
            for &i in &mine[at..] {
                g[(i, j)] += 1.0;
                if i != j {
                    g[(j, i)] += 1.0;
                }
            }
        }
    }
    for j in 0..n {
        g[(j, j)] += 500.0;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gram.f32");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for j in 0..n {
            for v in g.col_as_slice(j) {
                f.write_all(&v.to_le_bytes()).unwrap();
            }
        }
    }
    // Each side's best of alternating rounds: this machine may share its cores.
    let rounds = common::env_usize("BENCH_ROUNDS", 2).max(1);
    let (mut ours, mut cholesky, mut checksum) = (f64::INFINITY, f64::INFINITY, 0f64);
    let mut theirs: Result<(f64, f64, serde_json::Value), String> =
        Ok((f64::INFINITY, f64::INFINITY, serde_json::Value::Null));
    for _ in 0..rounds {
        cholesky = cholesky.min(cholesky_seconds(&g));
        let mut inverse = g.clone();
        let t = Instant::now();
        article_rec_core::recommend::spd_inverse::invert_in_place(inverse.as_mut(), faer::Par::rayon(0))
            .unwrap();
        ours = ours.min(t.elapsed().as_secs_f64());
        checksum = (0..n)
            .flat_map(|j| (j..n).map(move |i| (i, j)))
            .map(|(i, j)| f64::from(inverse[(i, j)]))
            .sum();
        drop(inverse);
        let run = common::peers::run(
            "ease_lapack.py",
            &[path.display().to_string(), n.to_string()],
            threads,
        );
        theirs = match (theirs, run) {
            (Ok((best, best_potrf, _)), Ok(v)) => Ok((
                best.min(v["seconds"].as_f64().unwrap()),
                best_potrf.min(v["spotrf_seconds"].as_f64().unwrap_or(f64::NAN)),
                v,
            )),
            (Err(why), _) | (_, Err(why)) => Err(why),
        };
    }
    drop(g);
    println!("ease kernel: {n} x {n} Gram matrix ({readers} readers), lambda 500, {threads} threads, best of {rounds} alternating rounds");
    println!(
        "  article-rec (faer Cholesky + in-place inverse): {ours:.2} s (the Cholesky alone {cholesky:.2} s)"
    );
    match theirs {
        Ok((theirs, potrf, v)) => {
            let same = (v["checksum"].as_f64().unwrap() - checksum).abs() <= 1e-3 * checksum.abs();
            println!(
                "  scipy {} LAPACK spotrf + spotri ({}): {theirs:.2} s (spotrf alone {potrf:.2} s); ratio LAPACK / article-rec = {:.2} (1 or more: as fast or faster); inverses agree: {same}",
                v["scipy"].as_str().unwrap_or("?"),
                v["blas"].as_str().unwrap_or("?"),
                theirs / ours
            );
        }
        Err(why) => {
            println!("  LAPACK comparison skipped (scripts/bench-peers makes its environment): {why}")
        }
    }
}

/// faer's Cholesky alone, on a copy of `g`: where the time goes.
fn cholesky_seconds(g: &faer::Mat<f32>) -> f64 {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor;
    let mut copy = g.clone();
    let par = faer::Par::rayon(0);
    let mut mem = MemBuffer::new(factor::cholesky_in_place_scratch::<f32>(
        copy.nrows(),
        par,
        Default::default(),
    ));
    let t = Instant::now();
    factor::cholesky_in_place(
        copy.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .unwrap();
    t.elapsed().as_secs_f64()
}

fn serve(model: &dyn ItemItem, articles: usize) -> usize {
    let ones = vec![1f32; articles];
    let prior = vec![0f32; articles];
    let excluded = vec![false; articles];
    let serving = Serving {
        decay: &ones,
        excluded: &excluded,
        prior: &prior,
        k: 20,
    };
    let sources: Vec<usize> = (0..articles).collect();
    model.neighbours(&sources, &serving).iter().map(Vec::len).sum()
}

/// The reads as flat files for a peer: readers.bin (u32), articles.bin
/// (u32), times.bin (i64 ms), shape.txt ("readers articles").
fn write_reads(rows: &[(u32, u32, i64)], readers: usize, articles: usize, dir: &std::path::Path) {
    use std::io::Write;
    let mut files = ["readers.bin", "articles.bin", "times.bin"]
        .map(|name| std::io::BufWriter::new(std::fs::File::create(dir.join(name)).unwrap()));
    for &(r, a, t) in rows {
        files[0].write_all(&r.to_le_bytes()).unwrap();
        files[1].write_all(&a.to_le_bytes()).unwrap();
        files[2].write_all(&t.to_le_bytes()).unwrap();
    }
    for mut f in files {
        f.flush().unwrap();
    }
    std::fs::write(dir.join("shape.txt"), format!("{readers} {articles}")).unwrap();
}

/// Runs a peer on the reads (written for it to a temporary directory, its
/// first argument, then `args`) and prints its time beside ours and the ratio,
/// or why it was skipped.
fn against_peer(
    what: &str,
    ours: f64,
    script: &str,
    reads: (&[(u32, u32, i64)], usize, usize),
    args: &[String],
) {
    let dir = tempfile::tempdir().unwrap();
    let (rows, readers, articles) = reads;
    write_reads(rows, readers, articles, dir.path());
    let args: Vec<String> = std::iter::once(dir.path().display().to_string())
        .chain(args.iter().cloned())
        .collect();
    match common::peers::run(script, &args, rayon::current_num_threads()) {
        Ok(v) => {
            let theirs = v["seconds"].as_f64().unwrap();
            println!(
                "  {what}: {theirs:.2} s (fit {:.2} s, {} listed); ratio peer / article-rec = {:.2}",
                v["fit_seconds"].as_f64().unwrap_or(f64::NAN),
                v["listed"],
                theirs / ours
            );
        }
        Err(why) => println!("  {what} skipped (scripts/bench-peers makes its environment): {why}"),
    }
}

fn knn() {
    let articles = common::env_usize("BENCH_KNN_ARTICLES", 50_000);
    let readers = common::env_usize("BENCH_KNN_READERS", 500_000);
    let rows = reading(readers, articles, 2);
    let reads = reads_of(&rows, readers, articles);
    let n = reads.len();
    let t = Instant::now();
    // no shrinkage: the peer's plain cosine (shrinkage does not change the work)
    let model = ItemKnn::fit(reads, 0.0);
    let fit = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let listed = serve(&model, articles);
    let lists = t.elapsed().as_secs_f64();
    println!(
        "item_knn: {articles} articles, {readers} readers ({n} reads): index {fit:.2} s, lists of 20 for every article {lists:.1} s ({listed} listed), peak RSS {:.0} MiB",
        common::peak_rss_mib()
    );
    let threads = rayon::current_num_threads().to_string();
    against_peer(
        "implicit CosineRecommender, fit + 20 similar items of every article",
        fit + lists,
        "knn_implicit.py",
        (&rows, readers, articles),
        &["20".into(), threads],
    );
}

/// Sequential rules' lists of 20 for every article against a vectorised
/// numpy / scipy version that builds the whole rules matrix.
fn rules() {
    let articles = common::env_usize("BENCH_RULES_ARTICLES", 20_000);
    let readers = common::env_usize("BENCH_RULES_READERS", 500_000);
    let rows = reading(readers, articles, 4);
    let reads = reads_of(&rows, readers, articles);
    let n = reads.len();
    let params = RuleParams {
        window: 3,
        reverse: 0.0,
        max_gap_ms: 86_400_000,
    };
    let t = Instant::now();
    let model = SequentialRules::fit(reads, params);
    let fit = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let listed = serve(&model, articles);
    let lists = t.elapsed().as_secs_f64();
    println!(
        "sequential_rules (window 3, forwards, gap 1 day): {articles} articles, {readers} readers ({n} reads): index {fit:.2} s, lists of 20 for every article {lists:.2} s ({listed} listed)"
    );
    against_peer(
        "numpy / scipy, vectorised rules matrix + 20 strongest of every article",
        fit + lists,
        "rules_numpy.py",
        (&rows, readers, articles),
        &[
            params.window.to_string(),
            params.max_gap_ms.to_string(),
            "20".into(),
        ],
    );
}

fn content() {
    let articles = common::env_usize("BENCH_CONTENT_ARTICLES", 50_000);
    let input = article_rec_core::contract::layout::InputLayout::new("in").unwrap();
    let end = "2026-06-01T00:00:00Z".parse().unwrap();
    let mut spec = article_rec_core::devtools::generate::Spec::sample("bench", end, 28, 9);
    (spec.readers, spec.bots, spec.articles, spec.clusters) = (0, 0, articles, 50);
    let stream = article_rec_core::devtools::generate::stream(&spec, &input).unwrap();
    let rss_before = common::peak_rss_mib();
    let t = Instant::now();
    let analyzer = Analyzer::new("english").unwrap();
    let docs: Vec<Vec<String>> = stream
        .catalog()
        .iter()
        .map(|e| {
            analyzer.terms(&ArticleText {
                title: e.title.as_deref(),
                excerpt: e.excerpt.as_deref(),
                section: e.section.as_deref(),
                tags: &e.tags,
            })
        })
        .collect();
    let analysed = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let model = ContentTfidf::fit(&docs);
    let fit = t.elapsed().as_secs_f64();
    // the catalogue also holds the generator's few stories nobody has read yet
    let articles = docs.len();
    let t = Instant::now();
    let listed = serve(&model, articles);
    println!(
        "content: {articles} articles ({} terms): text to terms {analysed:.2} s, TF-IDF {fit:.2} s, lists of 20 for every article {:.2} s ({listed} listed), peak RSS {:.0} MiB (before {rss_before:.0} MiB)",
        docs.iter().map(Vec::len).sum::<usize>(),
        t.elapsed().as_secs_f64(),
        common::peak_rss_mib()
    );
}

fn selection() {
    let nnz = common::env_usize("BENCH_NNZ", 5_000_000);
    let articles = common::env_usize("BENCH_ARTICLES", 40_000);
    let readers = nnz / 10;
    let rows = reading(readers, articles, 3);
    let table = DwellTable {
        readers: (0..readers).map(|r| format!("r{r:07}")).collect(),
        articles: (0..articles).map(|a| format!("a{a:06}")).collect(),
        readings: rows
            .iter()
            .map(|&(reader, article, t)| Reading {
                reader,
                article,
                dwell_secs: 60.0,
                first_seen_ms: t,
                last_seen_ms: t + 60_000,
            })
            .collect(),
    };
    // text that follows the topics of `reading` (50 of them), loosely
    let per_topic = (articles / 50.min(articles)).max(1);
    let facts = ArticleFacts {
        published_ms: vec![Some(0); articles],
        excluded: vec![false; articles],
        terms: (0..articles)
            .map(|a| {
                let topic = a / per_topic;
                vec![
                    format!("topic{topic}"),
                    format!("word{}", (topic * 7 + a) % 300),
                    format!("rank{}", a % 40),
                ]
            })
            .collect(),
        embeddings: Vec::new(),
    };
    let params = EvalParams {
        cut_ms: 26 * 86_400_000,
        k: 20,
        max_questions: 20_000,
        seed: 42,
        als: AlsParams::default(),
        selection: SelectionParams {
            budget_secs: 1e9,
            ..SelectionParams::default()
        },
        half_life_days: 30.0,
        defaults_half_life_days: 10.0,
        recent_interactions: 5_000,
        undated_age_days: 28.0,
        cold_readers: 5,
    };
    let t = Instant::now();
    let e = article_rec_core::stages::train::evaluate(&table, &facts, &params).unwrap();
    println!(
        "selection: {} reads, {readers} readers, {articles} articles, {} questions: every candidate in {:.1} s, peak RSS {:.0} MiB",
        table.readings.len(),
        e.model.questions,
        t.elapsed().as_secs_f64(),
        common::peak_rss_mib()
    );
    for c in &e.leaderboard {
        match c.metrics {
            Some(m) => println!(
                "  {:<40} {:>7.1} s  MRR {:.4}  hit rate {:.4}",
                c.spec.to_string(),
                c.secs,
                m.mrr,
                m.hit_rate
            ),
            None => println!(
                "  {:<40} skipped: {}",
                c.spec.to_string(),
                c.skipped.as_deref().unwrap_or("")
            ),
        }
    }
}

fn main() {
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    if part.is_empty() || part == "ease" {
        ease_vs_lapack();
        ease();
    }
    if part.is_empty() || part == "knn" {
        knn();
    }
    if part.is_empty() || part == "rules" {
        rules();
    }
    if part.is_empty() || part == "content" {
        content();
    }
    if part.is_empty() || part == "selection" {
        selection();
    }
}
