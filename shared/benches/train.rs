//! Training cost: one ALS iteration here against the Python `implicit`
//! library's CPU conjugate-gradient ALS on the same matrix, factors,
//! regularisation and threads, in one run; then a full fit's time and peak
//! memory, and how many warm-started iterations reach a cold fit's loss.
//!
//! `cargo bench -p article-rec-core --bench train` (the peer from
//! `scripts/bench-peers`; without it the comparison is skipped with a message).
//! BENCH_FACTORS_LIST (32,64,128) are the sizes compared.
//! Sizes: BENCH_NNZ (5,000,000), BENCH_ARTICLES (40,000), BENCH_FACTORS (64),
//! BENCH_ITERATIONS (3, for the comparison), BENCH_ROUNDS (3: each side's best of
//! that many alternating rounds).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]
// A bench binary takes its size from the environment, not from Settings.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Write;
use std::time::Instant;

use article_rec_core::recommend::als::{self, confidence, Loss};
use article_rec_core::settings::AlsParams;
use rand::{Rng, SeedableRng};
use sprs::{CsMat, TriMat};

/// Readers of 50 topics with Zipf-like article popularity; about 10 reads each.
fn matrix(nnz: usize, articles: usize, seed: u64) -> CsMat<f32> {
    let readers = nnz / 10;
    let topics = 50;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let per_topic = articles / topics;
    let mut tri = TriMat::with_capacity((readers, articles), nnz);
    let mut seen = std::collections::HashSet::new();
    for r in 0..readers {
        let topic = rng.random_range(0..topics);
        seen.clear();
        let reads = rng.random_range(2..=18);
        while seen.len() < reads {
            let t = if rng.random::<f64>() < 0.8 {
                topic
            } else {
                rng.random_range(0..topics)
            };
            // Zipf-ish: squaring a uniform favours low ranks
            let rank = (rng.random::<f64>().powi(2) * per_topic as f64) as usize;
            let a = t * per_topic + rank.min(per_topic - 1);
            if seen.insert(a) {
                let dwell = rng.random_range(10.0..600.0);
                tri.add_triplet(r, a, confidence(dwell, 1.0));
            }
        }
    }
    tri.to_csr()
}

fn write_for_python(m: &CsMat<f32>, dir: &std::path::Path) {
    let mut f = std::fs::File::create(dir.join("indptr.bin")).unwrap();
    for p in m.indptr().as_slice().unwrap() {
        f.write_all(&(*p as u64).to_le_bytes()).unwrap();
    }
    let mut f = std::fs::File::create(dir.join("indices.bin")).unwrap();
    for i in m.indices() {
        f.write_all(&(*i as u32).to_le_bytes()).unwrap();
    }
    let mut f = std::fs::File::create(dir.join("data.bin")).unwrap();
    for v in m.data() {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
    std::fs::write(dir.join("shape.txt"), format!("{} {}", m.rows(), m.cols())).unwrap();
}

fn main() {
    let nnz = common::env_usize("BENCH_NNZ", 5_000_000);
    let articles = common::env_usize("BENCH_ARTICLES", 40_000);
    let factors = common::env_usize("BENCH_FACTORS", 64);
    let iterations = common::env_usize("BENCH_ITERATIONS", 3) as u32;
    let threads = rayon::current_num_threads();

    let m = matrix(nnz, articles, 1);
    println!(
        "matrix: {} readers x {} articles, {} non-zeros; {factors} factors, regularisation 0.01, {threads} threads",
        m.rows(),
        m.cols(),
        m.nnz()
    );
    // 1. per iteration, here and in implicit, at each size; no loss on either side
    let dir = tempfile::tempdir().unwrap();
    write_for_python(&m, dir.path());
    let sizes: Vec<usize> = std::env::var("BENCH_FACTORS_LIST")
        .unwrap_or_else(|_| "32,64,128".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // This machine may share its cores: each side's best of several
    // alternating rounds is its own time, the noise of one round not the other's.
    let rounds = common::env_usize("BENCH_ROUNDS", 3).max(1);
    println!("ALS per iteration ({iterations} iterations each, loss off on both sides, best of {rounds} alternating rounds):");
    println!("| factors | article-rec s/it | implicit s/it | implicit / article-rec | article-rec final loss | implicit final loss |");
    for &k in &sizes {
        let params = AlsParams {
            factors: k,
            iterations,
            loss: Loss::Off,
            ..AlsParams::default()
        };
        let args = [
            dir.path().display().to_string(),
            k.to_string(),
            "0.01".into(),
            iterations.to_string(),
            threads.to_string(),
        ];
        let (mut ours, mut theirs) = (f64::INFINITY, Ok((f64::INFINITY, f64::NAN)));
        let mut our_loss = f64::NAN;
        for _ in 0..rounds {
            let t = Instant::now();
            let fitted = als::fit(&m, &params, 42, |_, _| {});
            ours = ours.min(t.elapsed().as_secs_f64() / f64::from(iterations));
            assert!(fitted.loss.is_empty());
            our_loss = als::loss_of(&m, &fitted.readers, &fitted.articles, params.regularization);
            theirs = match (theirs, common::peers::run("als_implicit.py", &args, 1)) {
                (Ok((best, _)), Ok(v)) => Ok((
                    best.min(v["seconds"].as_f64().unwrap() / f64::from(iterations)),
                    v["loss"].as_f64().unwrap_or(f64::NAN),
                )),
                (Err(why), _) | (_, Err(why)) => Err(why),
            };
        }
        match theirs {
            Ok((theirs, their_loss)) => println!(
                "| {k} | {ours:.3} | {theirs:.3} | {:.2} | {our_loss:.6} | {their_loss:.6} |",
                theirs / ours
            ),
            Err(why) => {
                println!("| {k} | {ours:.3} | skipped (scripts/bench-peers): {why} | | {our_loss:.6} | |")
            }
        }
    }
    let t = Instant::now();
    let fitted = als::fit(
        &m,
        &AlsParams {
            factors,
            iterations: 1,
            ..AlsParams::default()
        },
        42,
        |_, _| {},
    );
    println!(
        "one {factors}-factor iteration with its loss: {:.2} s (the production fit computes it each iteration for the report)",
        t.elapsed().as_secs_f64()
    );
    drop(fitted);

    // 2. a production fit: 15 iterations with the loss, time and memory
    let full = AlsParams {
        factors,
        ..AlsParams::default()
    };
    let t = Instant::now();
    let cold = als::fit(&m, &full, 42, |_, _| {});
    println!(
        "full fit: {} iterations in {:.2} s, peak RSS {:.0} MiB (matrix and factors included), final loss {:.6}",
        full.iterations,
        t.elapsed().as_secs_f64(),
        common::peak_rss_mib(),
        cold.loss.last().unwrap()
    );

    // 3. warm start: the next run's matrix (a reshuffled 2 % of readers) from the cold factors
    let next = matrix(nnz, articles, 2);
    let mixed = {
        let mut tri = TriMat::with_capacity(m.shape(), m.nnz());
        for (r, row) in m.outer_iterator().enumerate() {
            let src = if r % 50 == 0 {
                next.outer_view(r).unwrap()
            } else {
                row
            };
            for (a, &c) in src.iter() {
                tri.add_triplet(r, a, c);
            }
        }
        tri.to_csr()
    };
    let cold_next = als::fit(&mixed, &full, 43, |_, _| {});
    let target = *cold_next.loss.last().unwrap();
    let start: Vec<Option<&[f32]>> = cold.articles.rows().into_iter().map(|r| r.to_slice()).collect();
    let warm = als::fit_warm(&mixed, &full, 43, &start, |_, _| {});
    let reached = warm
        .loss
        .iter()
        .position(|&l| l <= target * 1.001)
        .map_or(full.iterations + 1, |i| i as u32 + 1);
    println!(
        "warm start: reaches the cold {}-iteration loss ({target:.6}, within 0.1 %) after {reached} iterations; warm losses {:?}",
        full.iterations,
        warm.loss.iter().map(|l| format!("{l:.6}")).collect::<Vec<_>>()
    );
}
