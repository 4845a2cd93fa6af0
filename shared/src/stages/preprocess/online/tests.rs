use super::*;
use crate::adapters::parquet::WidgetEventColumns;
use crate::contract::online::{Counts, DwellAfterClick, OnlineEvaluation, Verdict};

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;

/// `(reader, time, page, step, model id, model type, clicked article, position)`
type Row = (
    &'static str,
    i64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<u32>,
);

fn columns(rows: &[Row]) -> WidgetEventColumns<'static> {
    let mut c = WidgetEventColumns::default();
    for (i, r) in rows.iter().enumerate() {
        c.client_id.push(r.0);
        c.time_ms.push(r.1);
        c.page_path.push(r.2);
        c.step.push(r.3);
        c.model_id.push(r.4);
        c.model_type.push(r.5);
        c.external_id.push(r.6);
        c.position.push(r.7);
        c.event_id.push(Box::leak(format!("id-{i}").into_boxed_str()));
    }
    c
}

fn seen(reader: &'static str, t: i64, model: &'static str) -> Row {
    (reader, t, "/a", "seen", model, "article", None, None)
}

fn click(reader: &'static str, t: i64, model: &'static str, position: u32) -> Row {
    (
        reader,
        t,
        "/a",
        "click",
        model,
        "article",
        Some("b"),
        Some(position),
    )
}

#[test]
fn impressions_clicks_and_positions_per_model() {
    let rows = [
        seen("r1", 10 * H, "1"),
        click("r1", 10 * H + 5_000, "1", 2),
        // a second click on the same view: one clicked impression, two clicks
        click("r1", 10 * H + 9_000, "1", 1),
        seen("r2", 11 * H, "1"),
        seen("r3", 11 * H, "1"),
        // a click with no view before it is an impression of its own
        click("r4", 12 * H, "1", 1),
        // a click more than an hour after the view: not that view's
        seen("r5", 13 * H, "1"),
        click("r5", 14 * H + 1, "1", 3),
        // before the window: not counted
        seen("r6", -DAY, "1"),
        ("r7", DAY + 2 * H, "/a", "seen", "9", "popularity", None, None),
    ];
    let models = by_model(&columns(&rows), 0, DAY);
    assert_eq!(models.len(), 2);
    let m = &models[0];
    assert_eq!((m.model_id.as_str(), m.model_type.as_str()), ("1", "article"));
    // views r1, r2, r3, r5; clicks without a view r4 and r5's late one
    assert_eq!(
        m.counts,
        Counts {
            impressions: 6,
            clicked: 3
        }
    );
    assert_eq!((m.clicks, m.clicks_without_view), (4, 2));
    assert_eq!(m.ctr, Some(0.5));
    let i = m.interval.unwrap();
    assert!(
        (i.lo - 0.187_616).abs() < 1e-5 && (i.hi - 0.812_384).abs() < 1e-5,
        "{i:?}"
    );
    let positions: Vec<(u32, u64)> = m.by_position.iter().map(|p| (p.position, p.clicked)).collect();
    assert_eq!(positions, [(1, 2), (2, 1), (3, 1)]);
    assert_eq!((m.first_seen_ms, m.last_seen_ms), (10 * H, 14 * H + 1));
    assert_eq!(m.by_hour[11].impressions, 2);
    assert_eq!(
        m.by_hour[14],
        Counts {
            impressions: 1,
            clicked: 1
        }
    );
    assert_eq!(m.by_period.len(), 1);
    let six_hours = by_model(&columns(&rows), 0, 6 * H);
    let periods: Vec<(i64, u64)> = six_hours[0]
        .by_period
        .iter()
        .map(|p| (p.start_ms, p.counts.impressions))
        .collect();
    assert_eq!(periods, [(6 * H, 3), (12 * H, 3)]);
    let d = &models[1];
    assert_eq!(
        (d.model_type.as_str(), d.counts.impressions, d.ctr),
        ("popularity", 1, Some(0.0))
    );
    assert_eq!(d.by_period[0].start_ms, DAY);
}

/// `n` views of `model` at `hour` on day `day`, the first `k` of them clicked.
fn shown(rows: &mut Vec<Row>, model: &'static str, day: i64, hour: i64, n: usize, k: usize) {
    for i in 0..n {
        let reader: &'static str = Box::leak(format!("{model}-{day}-{hour}-{i}").into_boxed_str());
        let t = day * DAY + hour * H + i as i64;
        rows.push(seen(reader, t, model));
        if i < k {
            rows.push(click(reader, t + 1_000, model, 1));
        }
    }
}

#[test]
fn the_newest_model_is_compared_over_the_hours_both_were_shown() {
    let mut rows = Vec::new();
    // the old model on day 0: noon 1000 views (90 clicked), 3 am 1000 (10)
    shown(&mut rows, "old", 0, 12, 1000, 90);
    shown(&mut rows, "old", 0, 3, 1000, 10);
    // the new model on day 1 at noon only: 500 views, 30 clicked
    shown(&mut rows, "new", 1, 12, 500, 30);
    let models = by_model(&columns(&rows), 0, DAY);
    let c = compare_newest(&models, "article", 200, 0.05).unwrap();
    assert_eq!(
        (c.new_model_id.as_str(), c.old_model_ids.as_slice()),
        ("new", ["old".to_string()].as_slice())
    );
    // only noon: 30/500 against 90/1000, not the old model's 100/2000
    assert_eq!(c.hours, [12]);
    assert_eq!(
        (c.new, c.old),
        (
            Counts {
                impressions: 500,
                clicked: 30
            },
            Counts {
                impressions: 1000,
                clicked: 90
            }
        )
    );
    let t = c.test.unwrap();
    // pooled p = 120/1500; z = (0.06 - 0.09) / sqrt(0.08 * 0.92 * (1/500 + 1/1000))
    assert!((t.z - (-2.018_932)).abs() < 1e-5, "{t:?}");
    assert_eq!(c.verdict, Verdict::Worse);
    // over every hour it would have looked better (0.06 against 0.05)
    let all_old = models.iter().find(|m| m.model_id == "old").unwrap();
    assert_eq!(all_old.ctr, Some(0.05));

    let c = compare_newest(&models, "article", 600, 0.05).unwrap();
    assert_eq!(c.verdict, Verdict::TooFewImpressions);
    assert_eq!(compare_newest(&models, "popularity", 0, 0.05), None);

    let mut rows = Vec::new();
    shown(&mut rows, "old", 0, 12, 1000, 50);
    shown(&mut rows, "new", 1, 12, 1000, 80);
    let c = compare_newest(&by_model(&columns(&rows), 0, DAY), "article", 200, 0.05).unwrap();
    assert_eq!(c.verdict, Verdict::Better);
    let mut rows = Vec::new();
    shown(&mut rows, "old", 0, 12, 1000, 50);
    shown(&mut rows, "new", 1, 12, 1000, 55);
    let c = compare_newest(&by_model(&columns(&rows), 0, DAY), "article", 200, 0.05).unwrap();
    assert_eq!(c.verdict, Verdict::NoSignificantDifference);
}

#[test]
fn the_newest_model_meets_every_earlier_one_at_its_hours() {
    let mut rows = Vec::new();
    // models replaced every two hours: the newest (noon, day 2) meets the
    // noon models of days 0 and 1, not the 10 am one of day 2
    shown(&mut rows, "a", 0, 12, 300, 30);
    shown(&mut rows, "b", 1, 12, 300, 36);
    shown(&mut rows, "c", 2, 10, 300, 3);
    shown(&mut rows, "d", 2, 12, 300, 12);
    let models = by_model(&columns(&rows), 0, 6 * H);
    let c = compare_newest(&models, "article", 200, 0.05).unwrap();
    assert_eq!(c.new_model_id, "d");
    assert_eq!(c.old_model_ids, ["a", "b", "c"]);
    assert_eq!(c.hours, [12]);
    assert_eq!(
        c.old,
        Counts {
            impressions: 600,
            clicked: 66
        }
    );
    assert_eq!(c.verdict, Verdict::Worse);
    let e = OnlineEvaluation {
        since_ms: 0,
        until_ms: 3 * DAY,
        period_ms: 6 * H,
        widget_events: rows.len() as u64,
        models: Vec::new(),
        comparisons: vec![c],
        against_defaults: None,
        unknown_models: Default::default(),
    };
    let warning = e.warning().unwrap();
    assert!(
        warning.starts_with("online: readers click article model d less than the models before it (a, b, c): 4.00% of 300 impressions against 11.00% of 600"),
        "{warning}"
    );
    assert!(
        warning.ends_with("consider `article-rec rollback` (on AWS, `article-rec aws rollback`)"),
        "{warning}"
    );
}

#[test]
fn the_article_model_is_compared_with_the_defaults_at_the_same_hours() {
    let mut rows = Vec::new();
    shown(&mut rows, "1", 0, 9, 400, 40);
    shown(&mut rows, "1", 0, 20, 400, 80);
    for i in 0..400 {
        let reader: &'static str = Box::leak(format!("d{i}").into_boxed_str());
        let t = 9 * H + i;
        rows.push((reader, t, "/", "seen", "2", "popularity", None, None));
        if i < 16 {
            rows.push((
                reader,
                t + 500,
                "/",
                "click",
                "2",
                "popularity",
                Some("x"),
                Some(1),
            ));
        }
    }
    let models = by_model(&columns(&rows), 0, DAY);
    let c = against_defaults(&models, 200, 0.05).unwrap();
    assert_eq!(
        (c.new_model_id.as_str(), c.old_model_ids.as_slice()),
        ("1", ["2".to_string()].as_slice())
    );
    assert_eq!(c.hours, [9]);
    assert_eq!(
        (c.new, c.old),
        (
            Counts {
                impressions: 400,
                clicked: 40
            },
            Counts {
                impressions: 400,
                clicked: 16
            }
        )
    );
    assert_eq!(c.verdict, Verdict::Better);
}

#[test]
fn reading_after_a_click_is_measured_like_dwell() {
    let s = 1000;
    // events at the click, 20 s and 50 s after it, and one the next day
    let times = [-5 * s, 0, 20 * s, 50 * s, DAY];
    assert_eq!(dwell_after(&times, 0, 600 * s, 30 * 60 * s), Some(50.0));
    // gaps are capped as dwell's are
    assert_eq!(dwell_after(&times, 0, 25 * s, 30 * 60 * s), Some(45.0));
    assert_eq!(dwell_after(&times, 60 * s, 600 * s, 30 * 60 * s), None);
    let d = dwell_summary(&[Some(50.0), None, Some(10.0), Some(30.0), Some(20.0)]);
    assert_eq!((d.clicks, d.read), (5, 4));
    assert_eq!((d.mean_secs, d.median_secs), (27.5, 25.0));
    assert_eq!(dwell_summary(&[]), DwellAfterClick::default());
}
