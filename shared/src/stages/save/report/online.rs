//! The report's online section: what readers did with the widget, per model.

use std::fmt::Write as _;

use super::charts::{time_chart, TimeSeries};
use super::{esc, num, ReportData};
use crate::contract::online::{Interval, ModelComparison, ModelFigures, Verdict};

/// Model versions drawn in the chart: the newest of each type (older ones
/// are in the table).
pub const CHART_MODELS: usize = 8;

/// Model versions in the table, newest first: the report's size follows
/// this, not what the widget sent.
pub const TABLE_MODELS: usize = 40;

/// Positions in the position table.
pub const TABLE_POSITIONS: usize = 20;

const PALETTE: [&str; 8] = [
    "#2f6fdf", "#d9822b", "#2e9b57", "#a33ea1", "#c23b3b", "#0f8a8a", "#7a6a12", "#5b6475",
];

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.2}%", v * 100.0))
}

fn interval(i: Option<Interval>) -> String {
    i.map_or_else(String::new, |i| {
        format!(
            " <span class=\"muted\">[{:.2}%, {:.2}%]</span>",
            i.lo * 100.0,
            i.hi * 100.0
        )
    })
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M").to_string())
}

fn who(model_type: &str) -> &str {
    if model_type == "popularity" {
        "defaults"
    } else {
        model_type
    }
}

fn verdict_line(c: &ModelComparison, against: &str) -> String {
    let (class, said) = match c.verdict {
        Verdict::Better => ("ok", "clicked significantly more"),
        Verdict::Worse => ("no", "clicked significantly less"),
        Verdict::NoSignificantDifference => ("muted", "no significant difference"),
        Verdict::TooFewImpressions => ("muted", "too few impressions to tell"),
    };
    format!(
        "<li>{} model {} against {against}: <span class=\"{class}\">{said}</span>: {} of {} impressions ({}) against {} of {} ({}), over the {} UTC hours of the day both were shown{}.</li>",
        esc(who(&c.model_type)),
        esc(&c.new_model_id),
        num(c.new.clicked),
        num(c.new.impressions),
        pct(c.new.ctr()),
        num(c.old.clicked),
        num(c.old.impressions),
        pct(c.old.ctr()),
        c.hours.len(),
        c.test.map_or_else(String::new, |t| format!(", z = {:.2}", t.z))
    )
}

pub(super) fn online_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"online\"><h2>Online: what readers clicked</h2>");
    let Some(o) = &d.online else {
        h.push_str(
            "<p class=\"muted\">No online evaluation: this run has no widget events file.</p></section>",
        );
        return;
    };
    let _ = write!(
        h,
        "<p class=\"sub\">{} widget events from {} to {} (UTC). An impression is one view of the widget; it is clicked when a recommendation in it was clicked. Intervals are 95% (Wilson).</p>",
        num(o.widget_events),
        when(o.since_ms),
        when(o.until_ms)
    );
    if let Some(w) = d.train.as_ref().and_then(|t| t.gate.online_warning.as_ref()) {
        let _ = write!(h, "<p class=\"gate no\" id=\"online-warning\">{}</p>", esc(w));
    }
    let u = o.unknown_models;
    if u.events > 0 {
        let _ = write!(
            h,
            "<p class=\"muted\" id=\"online-unknown\">{} widget events named {} unknown models (not in the database: never issued, another site's, or pruned): left out of every figure.</p>",
            num(u.events),
            num(u.models)
        );
    }
    if o.models.is_empty() {
        h.push_str("<p class=\"muted\">No widget events in this time: the widget sends none, or not with the schemas configured (<code>WIDGET_EVENT_SCHEMA</code>, <code>WIDGET_MODEL_SCHEMA</code>, <code>WIDGET_ARTICLE_SCHEMA</code>).</p></section>");
        return;
    }
    let comparisons: Vec<String> = o
        .comparisons
        .iter()
        .map(|c| verdict_line(c, &format!("the {} before it", c.old_model_ids.len())))
        .chain(o.against_defaults.iter().map(|c| verdict_line(c, "the defaults")))
        .collect();
    if !comparisons.is_empty() {
        let _ = write!(h, "<ul id=\"online-comparisons\">{}</ul>", comparisons.join(""));
    }
    let mut newest: Vec<&ModelFigures> = o.models.iter().collect();
    newest.sort_by_key(|m| std::cmp::Reverse(m.online.first_seen_ms));
    newest.truncate(CHART_MODELS);
    newest.sort_by(|a, b| {
        (&a.online.model_type, a.online.first_seen_ms).cmp(&(&b.online.model_type, b.online.first_seen_ms))
    });
    let names: Vec<String> = newest
        .iter()
        .map(|m| format!("{} {}", who(&m.online.model_type), m.online.model_id))
        .collect();
    let series: Vec<TimeSeries<'_>> = newest
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(k, (m, name))| TimeSeries {
            name,
            color: PALETTE[k % PALETTE.len()],
            points: m
                .online
                .by_period
                .iter()
                .filter_map(|p| {
                    let (ctr, i) = (p.ctr?, p.interval?);
                    Some((p.start_ms + o.period_ms / 2, ctr, i.lo, i.hi))
                })
                .collect(),
        })
        .collect();
    let _ = write!(
        h,
        "<div class=\"chart\" id=\"online-chart\">{}</div>",
        time_chart(
            &series,
            o.since_ms,
            o.until_ms,
            "click-through rate per model version"
        )
    );
    h.push_str("<table id=\"online-models\"><tr><th>model</th><th>first shown</th><th class=\"n\">impressions</th><th class=\"n\">clicked</th><th class=\"n\">click-through rate</th><th class=\"n\">clicks without a view</th><th class=\"n\">reading after a click (median)</th></tr>");
    let mut shown: Vec<&ModelFigures> = o.models.iter().collect();
    shown.sort_by_key(|m| std::cmp::Reverse(m.online.first_seen_ms));
    let hidden = shown.len().saturating_sub(TABLE_MODELS);
    shown.truncate(TABLE_MODELS);
    shown.sort_by(|a, b| {
        (&a.online.model_type, a.online.first_seen_ms).cmp(&(&b.online.model_type, b.online.first_seen_ms))
    });
    for m in shown {
        let r = &m.dwell_after_click;
        let reading = if r.read > 0 {
            format!(
                "{:.0} s <span class=\"muted\">({} of {} clicks)</span>",
                r.median_secs,
                num(r.read),
                num(r.clicks)
            )
        } else {
            "–".into()
        };
        let _ = write!(
            h,
            "<tr><td>{} {}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}{}</td><td class=\"n\">{}</td><td class=\"n\">{reading}</td></tr>",
            esc(who(&m.online.model_type)),
            esc(&m.online.model_id),
            when(m.online.first_seen_ms),
            num(m.online.counts.impressions),
            num(m.online.counts.clicked),
            pct(m.online.ctr),
            interval(m.online.interval),
            num(m.online.clicks_without_view)
        );
    }
    h.push_str("</table>");
    if hidden > 0 {
        let _ = write!(
            h,
            "<p class=\"muted\">{} older model versions are not shown (online.json has them).</p>",
            num(hidden as u64)
        );
    }
    if let Some(m) = o.newest("article").filter(|m| !m.online.by_position.is_empty()) {
        let _ = write!(
            h,
            "<h3>By position, article model {}</h3><table id=\"online-positions\"><tr><th class=\"n\">position</th><th class=\"n\">clicked impressions</th><th class=\"n\">rate</th></tr>",
            esc(&m.online.model_id)
        );
        for p in m.online.by_position.iter().take(TABLE_POSITIONS) {
            let _ = write!(
                h,
                "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}{}</td></tr>",
                p.position,
                num(p.clicked),
                pct(Some(p.ctr)),
                interval(p.interval)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::online::{
        Counts, DwellAfterClick, ModelOnline, OnlineEvaluation, PeriodCtr, PositionCtr,
    };

    const H: i64 = 3_600_000;

    fn model(id: &str, kind: &str, first: i64, periods: &[(i64, u64, u64)]) -> ModelFigures {
        let mut counts = Counts::default();
        let by_period = periods
            .iter()
            .map(|&(start_ms, impressions, clicked)| {
                let c = Counts { impressions, clicked };
                counts.add(c);
                PeriodCtr {
                    start_ms,
                    counts: c,
                    ctr: c.ctr(),
                    interval: Some(Interval {
                        lo: c.ctr().unwrap_or(0.0) * 0.8,
                        hi: c.ctr().unwrap_or(0.0) * 1.2,
                    }),
                }
            })
            .collect();
        ModelFigures {
            online: ModelOnline {
                model_id: id.into(),
                model_type: kind.into(),
                first_seen_ms: first,
                last_seen_ms: first + H,
                counts,
                clicks: counts.clicked + 1,
                clicks_without_view: 1,
                ctr: counts.ctr(),
                interval: Some(Interval { lo: 0.01, hi: 0.2 }),
                by_position: vec![PositionCtr {
                    position: 1,
                    clicked: 4,
                    ctr: 0.04,
                    interval: None,
                }],
                by_period,
                by_hour: [Counts::default(); 24],
            },
            dwell_after_click: DwellAfterClick {
                clicks: 10,
                read: 8,
                mean_secs: 50.0,
                median_secs: 42.0,
            },
        }
    }

    fn data(models: Vec<ModelFigures>) -> ReportData {
        ReportData {
            online: Some(OnlineEvaluation {
                since_ms: 0,
                until_ms: 48 * H,
                period_ms: 6 * H,
                widget_events: 1234,
                models,
                comparisons: vec![ModelComparison {
                    model_type: "article".into(),
                    new_model_id: "8".into(),
                    old_model_ids: vec!["7".into()],
                    hours: vec![12, 13],
                    new: Counts {
                        impressions: 300,
                        clicked: 12,
                    },
                    old: Counts {
                        impressions: 600,
                        clicked: 66,
                    },
                    test: None,
                    verdict: Verdict::Worse,
                }],
                against_defaults: None,
                unknown_models: Default::default(),
            }),
            ..ReportData::default()
        }
    }

    #[test]
    fn the_online_section_charts_each_version_and_says_what_it_found() {
        let html = super::super::render(&data(vec![
            model("7", "article", 0, &[(0, 100, 10), (6 * H, 120, 11)]),
            model("8", "article", 24 * H, &[(24 * H, 300, 12)]),
            model("3", "popularity", 0, &[(0, 50, 1)]),
        ]));
        let section = &html[html.find("<section id=\"online\">").unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        assert!(section.contains("1,234 widget events"), "{section}");
        for name in ["article 7", "article 8", "defaults 3"] {
            assert!(
                section.contains(&format!("data-name=\"{name}\"")),
                "{name}: {section}"
            );
        }
        assert_eq!(section.matches("<circle").count(), 4, "a dot a period");
        assert!(section.contains("<td class=\"n\">9.55%"), "{section}");
        assert!(section.contains("42 s"), "{section}");
        assert!(section.contains("clicked significantly less"), "{section}");
        assert!(section.contains("id=\"online-positions\""), "{section}");
    }

    /// Two days of a model a run: the chart keeps the newest versions, the
    /// table lists them all, and the page stays small.
    #[test]
    fn a_model_a_run_keeps_the_section_small() {
        let models: Vec<ModelFigures> = (0..24)
            .map(|i| {
                model(
                    &format!("{}", 100 + i),
                    "article",
                    i * 2 * H,
                    &[(i * 2 * H, 1000, 40)],
                )
            })
            .collect();
        let html = super::super::render(&data(models));
        let section = &html[html.find("<section id=\"online\">").unwrap()..];
        assert_eq!(section.matches("class=\"series\"").count(), CHART_MODELS);
        assert!(section.contains("data-name=\"article 123\""));
        assert!(!section.contains("data-name=\"article 100\""));
        assert!(section.contains("<td>article 100</td>"));
        assert!(html.len() < 200 * 1024, "{} bytes", html.len());
    }
}
