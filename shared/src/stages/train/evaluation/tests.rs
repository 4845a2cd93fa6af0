use super::*;

/// A minute's read starting at `first`.
pub(crate) fn reading(reader: u32, article: u32, first: i64) -> Reading {
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

fn question(from: usize, to: Option<usize>) -> Question {
    Question {
        from,
        to,
        cold: false,
    }
}

fn list(ids: &[usize]) -> Vec<Neighbour> {
    ids.iter()
        .enumerate()
        .map(|(i, &index)| Neighbour {
            index,
            score: 1.0 - i as f32 * 0.1,
        })
        .collect()
}

#[test]
fn measure_counts_hits_mrr_auc_and_unknown_targets() {
    // 6 recommendable articles; lists of 0 and 2
    let sources = [0, 2];
    let lists = [list(&[2, 1, 3]), list(&[3, 1, 4])];
    let questions = [
        question(0, Some(2)), // rank 1
        question(2, Some(1)), // rank 2
        question(0, Some(3)), // rank 3, outside k = 2
        question(2, None),    // unknown: a miss, no AUC
    ];
    let m = measure(&sources, &lists, &questions, 6, 2);
    assert_eq!(m.questions, 4);
    assert!((m.hit_rate - 0.5).abs() < 1e-12);
    assert!((m.mrr - (1.0 + 0.5) / 4.0).abs() < 1e-12);
    // 4 other candidates each: 4/4, 3/4, and a miss tied with the 2 not shown: 0.5 * 2/4
    assert!((m.auc - (1.0 + 0.75 + 0.25) / 3.0).abs() < 1e-12, "{m:?}");
    // top 2 of the lists: 2, 1, 3 of 6
    assert!((m.coverage - 0.5).abs() < 1e-12);
}

#[test]
fn the_split_numbers_the_training_part_and_samples_questions_by_seed() {
    let mut rows = Vec::new();
    for r in 0..40u32 {
        rows.push(reading(r, r % 3, 100));
        rows.push(reading(r, 3 + r % 2, 200));
        // after the cut: two articles trained on, then one that never was
        rows.push(reading(r, (r + 1) % 3, 10_000));
        rows.push(reading(r, 3 + (r + 1) % 2, 10_001));
        rows.push(reading(r, 9, 10_002));
    }
    let table = DwellTable {
        readers: (0..40).map(|r| format!("r{r:02}")).collect(),
        articles: (0..10).map(|a| format!("a{a}")).collect(),
        readings: rows,
    };
    // 5 to 8 nobody read, but published before the cut; 9 after it
    let mut published_ms = vec![Some(0); 10];
    published_ms[9] = Some(6_000);
    let facts = ArticleFacts {
        published_ms,
        excluded: vec![false; 10],
        terms: Vec::new(),
        embeddings: Vec::new(),
    };
    let params = EvalParams {
        cut_ms: 5_000,
        k: 3,
        max_questions: 1_000,
        seed: 7,
        als: AlsParams::default(),
        selection: SelectionParams::default(),
        half_life_days: 30.0,
        defaults_half_life_days: 10.0,
        recent_interactions: 5_000,
        undated_age_days: 28.0,
        cold_readers: 14,
    };
    let h = Holdout::split(&table, &facts, &params).unwrap();
    assert_eq!((h.train_readings, h.holdout_readings), (80, 120));
    assert_eq!(
        h.fitting.reads.articles(),
        9,
        "the articles read before the cut, then those published before it"
    );
    assert_eq!(&h.fitting.articles[5..], [5, 6, 7, 8]);
    assert_eq!(h.fitting.reads.readers(), 40);
    // two questions a reader; the second's answer (article 9) the model never saw
    assert_eq!(h.questions_found, 80);
    assert_eq!(h.questions.iter().filter(|q| q.to.is_none()).count(), 40);
    // before the cut article 0 had 14 readers, 1 and 2 had 13 each (cold
    // at 14), 3 and 4 had 20: cold are the 40 questions answered by
    // article 9 (published after the cut) and the 27 asked from 1 or 2
    assert_eq!(h.questions.iter().filter(|q| q.cold).count(), 67);
    assert!(h.questions.iter().filter(|q| q.to.is_none()).all(|q| q.cold));
    let small = EvalParams {
        max_questions: 10,
        ..params.clone()
    };
    let a = Holdout::split(&table, &facts, &small).unwrap();
    assert_eq!(a.questions.len(), 10);
    assert_eq!(
        a.questions,
        Holdout::split(&table, &facts, &small).unwrap().questions
    );
    assert!(Holdout::split(&table, &facts, &EvalParams { cut_ms: 0, ..params }).is_none());
}
