use super::*;

#[test]
fn dwell_bins_cover_every_pair() {
    let h = DwellHistogram::of(&[0.5, 1.0, 3.0, 59.0, 61.0, 5000.0, f64::NAN]);
    assert_eq!(h.pairs, 6);
    assert_eq!(h.counts.len(), DWELL_EDGES.len() + 1);
    assert_eq!(h.counts.iter().sum::<u64>(), 6);
    assert_eq!(h.counts[0], 2, "0.5 and 1.0 are in the first bin");
    assert_eq!(h.counts[1], 1);
    assert_eq!(*h.counts.last().unwrap(), 1);
    assert_eq!(h.median_secs, 59.0);
    assert_eq!(DwellHistogram::labels().len(), h.counts.len());
    assert_eq!(DwellHistogram::labels()[0], "0s-1s");
    assert_eq!(DwellHistogram::labels().last().unwrap(), ">20m");
}

#[test]
fn text_is_escaped_and_numbers_grouped() {
    let d = ReportData {
        site: "<script>".into(),
        defaults: vec![Shown {
            external_id: "1".into(),
            title: Some("Tom & Jerry <b>".into()),
            path: None,
            score: 1.0,
        }],
        ..ReportData::default()
    };
    let html = render(&d);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("Tom &amp; Jerry &lt;b&gt;"));
    assert_eq!(num(1234567), "1,234,567");
    assert_eq!(num(12), "12");
}

/// The report of a 20-million-event run (the preprocess bench's figures)
/// with every list at its cap: its size follows the caps, not the events.
#[test]
fn a_twenty_million_event_report_stays_small() {
    use crate::contract::evaluation::{Evaluation, GateDecision};
    let shown = |i: usize| Shown {
        external_id: format!("{}", 100_000 + i),
        title: Some(format!(
            "A fairly long headline about the news of the day, number {i}"
        )),
        path: Some(format!(
            "/article/{}/a-fairly-long-slug-about-the-news-of-the-day-{i}",
            100_000 + i
        )),
        score: 0.5,
    };
    let metrics = HoldoutMetrics {
        questions: 20_000,
        hit_rate: 0.31,
        mrr: 0.12,
        auc: 0.91,
        coverage: 0.42,
    };
    let slices = crate::contract::evaluation::Slices {
        cold: HoldoutMetrics {
            questions: 6_000,
            ..metrics
        },
        warm: HoldoutMetrics {
            questions: 14_000,
            ..metrics
        },
    };
    let mut fetch = FetchCounts::default();
    fetch.parsed.lines = 21_000_000;
    fetch.parsed.events = 20_000_000;
    fetch.kept = 19_990_000;
    let data = ReportData {
        site: "wcp".into(),
        run_id: "2026-11-23T08-00-00Z".into(),
        as_of: "2026-11-23T08:00:00Z".into(),
        days_of_data: 28,
        fetch: Some(fetch),
        funnel: Some(Funnel {
            events: 20_000_000,
            article_events: 17_000_000,
            readers_before_filter: 2_000_000,
            articles_before_filter: 20_000,
            filter_passes: 2,
            readers: 794_515,
            articles: 20_000,
            pairs: 2_493_544,
        }),
        dwell: DwellHistogram::of(&(0..2_493_544).map(|i| f64::from(i % 900)).collect::<Vec<_>>()),
        defaults_run: Some(crate::contract::stage::DefaultsOutput {
            defaults_key: "k".into(),
            files: Default::default(),
            count: 20,
            rule: Some(crate::contract::evaluation::DefaultsRule::MostRead { hours: Some(6.0) }),
            leaderboard: vec![crate::contract::evaluation::RuleScore {
                rule: crate::contract::evaluation::DefaultsRule::MostRead { hours: Some(6.0) },
                questions: 900,
                hit_rate: 0.4,
                mrr: 0.1,
            }],
            fallback: None,
        }),
        train: Some(TrainOutput {
            files: Default::default(),
            model: Some(crate::recommend::families::ease::spec(500.0)),
            recs_key: Some("k".into()),
            fit_secs: 12.5,
            factors_key: None,
            evaluation_key: "k".into(),
            online_key: None,
            online: None,
            readers: 794_515,
            articles: 20_000,
            nonzeros: 2_493_544,
            factors: 64,
            iterations: 15,
            loss: (0..15).map(|i| 1.0 / f64::from(i + 1)).collect(),
            warm_start_from: None,
            warm_start_articles: 0,
            evaluation: Some(Evaluation {
                holdout_start_ms: 0,
                train_readings: 2_300_000,
                holdout_readings: 190_000,
                questions_found: 150_000,
                k: 20,
                model: metrics,
                popularity: metrics,
                loss: (0..15).map(|i| 1.0 / f64::from(i + 2)).collect(),
                leaderboard: vec![crate::contract::evaluation::Candidate {
                    spec: crate::recommend::families::ease::spec(500.0),
                    metrics: Some(metrics),
                    secs: 30.0,
                    skipped: None,
                    slices: Some(slices),
                }],
                winner: Some(crate::recommend::families::ease::spec(500.0)),
                cold_readers: 5,
                model_slices: Some(slices),
                popularity_slices: Some(slices),
            }),
            current_model: Some(metrics),
            gate: GateDecision {
                promote: true,
                reason: "AUC 0.910 >= 0.75".into(),
                online_warning: None,
            },
        }),
        article_model_id: Some(7),
        popularity_model_id: Some(8),
        defaults: (0..1000).map(shown).collect(),
        samples: (0..MAX_SAMPLES)
            .map(|i| Sample {
                article: shown(i),
                recs: (0..SAMPLE_RECS).map(|j| shown(1000 + j)).collect(),
            })
            .collect(),
        online: None,
    };
    let html = render(&data);
    assert!(html.len() < 2 * 1024 * 1024, "{} bytes", html.len());
    assert!(html.contains("19,990,000"), "counts are shown grouped");
    assert!(
        html.contains("<tr><td>cold</td><td class=\"n\">6,000</td>"),
        "the cold slice is shown"
    );
    assert!(html.contains("<tr><td>warm</td><td class=\"n\">14,000</td>"));
}
