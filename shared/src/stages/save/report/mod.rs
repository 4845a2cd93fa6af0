//! The run report: one self-contained HTML page (inline CSS and SVG charts, no
//! scripts, no external assets) that a newsroom data person opens to see what
//! a run did and whether its recommendations are any good.
//!
//! [`render`] is a pure function of [`ReportData`]; the save stage gathers the
//! data and writes the page beside the run's other outputs. Its size does not
//! grow with the events: every list in it is capped ([`MAX_SAMPLES`],
//! [`SAMPLE_RECS`], the defaults at `MAX_RECS`) and the charts have a fixed
//! number of marks.
//!
//! The charts are written by hand: a charting crate (plotters) needs a font
//! backend to lay out labels even for SVG, while the browser lays out SVG text
//! itself.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

mod charts;
mod online;

use self::charts::{grouped_bars, hbar_chart, line_chart, vbar_chart};
use crate::contract::evaluation::{GateDecision, HoldoutMetrics};
use crate::contract::stage::{FetchCounts, Funnel, TrainOutput};

mod lists;

/// Articles shown with their recommendations.
pub const MAX_SAMPLES: usize = 10;
/// Recommendations shown per sample article.
pub const SAMPLE_RECS: usize = 5;

/// Upper edges (seconds) of the dwell-time histogram's bins; the last bin
/// takes everything longer.
pub const DWELL_EDGES: [f64; 11] = [
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0,
];

/// An article as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub external_id: String,
    pub title: Option<String>,
    pub path: Option<String>,
    pub score: f64,
}

/// An article and the first of its recommendations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub article: Shown,
    pub recs: Vec<Shown>,
}

/// Reader x article pairs per dwell-time bin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DwellHistogram {
    /// `counts[i]` pairs have dwell in `(DWELL_EDGES[i-1], DWELL_EDGES[i]]`
    /// (from 0 for the first); the last counts those above the last edge.
    pub counts: Vec<u64>,
    pub pairs: u64,
    pub median_secs: f64,
}

impl DwellHistogram {
    /// Bins the dwell times (seconds) of every pair.
    pub fn of(dwell_secs: &[f64]) -> DwellHistogram {
        let mut counts = vec![0u64; DWELL_EDGES.len() + 1];
        let mut finite: Vec<f64> = dwell_secs.iter().copied().filter(|d| d.is_finite()).collect();
        for &d in &finite {
            let bin = DWELL_EDGES
                .iter()
                .position(|&e| d <= e)
                .unwrap_or(DWELL_EDGES.len());
            counts[bin] += 1;
        }
        let median_secs = if finite.is_empty() {
            0.0
        } else {
            let mid = finite.len() / 2;
            *finite.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        DwellHistogram {
            counts,
            pairs: finite.len() as u64,
            median_secs,
        }
    }

    fn labels() -> Vec<String> {
        let secs = |s: f64| {
            if s >= 60.0 {
                format!("{}m", s / 60.0)
            } else {
                format!("{s}s")
            }
        };
        let mut out = Vec::with_capacity(DWELL_EDGES.len() + 1);
        let mut lo = 0.0;
        for &e in &DWELL_EDGES {
            out.push(format!("{}-{}", secs(lo), secs(e)));
            lo = e;
        }
        out.push(format!(">{}", secs(lo)));
        out
    }
}

/// Everything the report shows about one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    pub site: String,
    pub run_id: String,
    /// The window's end (RFC 3339).
    pub as_of: String,
    pub days_of_data: u32,
    pub fetch: Option<FetchCounts>,
    pub funnel: Option<Funnel>,
    pub dwell: DwellHistogram,
    pub train: Option<TrainOutput>,
    /// The defaults stage's output: the rule chosen and every rule's figures.
    pub defaults_run: Option<crate::contract::stage::DefaultsOutput>,
    /// The article model this run saved, if the gate let it.
    pub article_model_id: Option<i64>,
    pub popularity_model_id: Option<i64>,
    pub defaults: Vec<Shown>,
    pub samples: Vec<Sample>,
    /// What readers did with the widget (`online.json`).
    #[serde(default)]
    pub online: Option<crate::contract::online::OnlineEvaluation>,
}

fn esc(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1000px;color:#1d2433;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #d8dce3;padding-bottom:.3rem;margin-top:2.2rem}\
.sub{color:#5b6475;margin-top:0}table{border-collapse:collapse;width:100%;font-size:.92rem}\
td,th{padding:.3rem .5rem;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}th{background:#f5f6f8}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#116b34;font-weight:600}.no{color:#a3231b;font-weight:600}\
.gate{padding:.8rem 1rem;border-radius:6px;background:#f5f6f8}.chart{margin:.6rem 0}svg text{font-family:inherit;font-size:12px;fill:#1d2433}\
.muted{color:#5b6475}ol{margin:.2rem 0 .2rem 1.2rem;padding:0}li{margin:.1rem 0}";

/// Renders the report page.
pub fn render(d: &ReportData) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("article-rec run {} of {}", d.run_id, d.site);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
        esc(&title)
    );
    let _ = write!(
        h,
        "<header id=\"summary\"><h1>{}</h1><p class=\"sub\">window: {} days ending {} (UTC)</p>{}</header>",
        esc(&title),
        d.days_of_data,
        esc(&d.as_of),
        gate_line(d)
    );
    funnel_section(&mut h, d);
    dwell_section(&mut h, d);
    training_section(&mut h, d);
    evaluation_section(&mut h, d);
    online::online_section(&mut h, d);
    leaderboard_section(&mut h, d);
    lists::defaults_section(&mut h, d);
    lists::samples_section(&mut h, d);
    h.push_str("</body></html>\n");
    h
}

fn gate_line(d: &ReportData) -> String {
    let Some(t) = &d.train else {
        return "<p class=\"gate\">No training output.</p>".into();
    };
    let GateDecision { promote, reason, .. } = &t.gate;
    let (class, verdict) = if *promote {
        ("ok", "promoted")
    } else {
        ("no", "not promoted")
    };
    let saved = match (d.article_model_id, promote) {
        (Some(id), _) => format!(" Saved as article model {id}."),
        (None, true) => String::new(),
        (None, false) => " The current article model stays in place.".into(),
    };
    format!(
        "<p class=\"gate\" id=\"gate\">Quality gate: <span class=\"{class}\">{verdict}</span>: {}.{}</p>",
        esc(reason),
        saved
    )
}

fn funnel_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"funnel\"><h2>Funnel</h2>");
    let mut rows: Vec<(String, u64)> = Vec::new();
    if let Some(f) = &d.fetch {
        rows.push(("lines read".into(), f.parsed.lines));
        rows.push(("page events of the site".into(), f.parsed.events));
        rows.push(("kept (no duplicates, in window)".into(), f.kept));
    }
    if let Some(p) = &d.funnel {
        rows.push(("events on articles".into(), p.article_events));
        rows.push(("readers before the filter".into(), p.readers_before_filter));
        rows.push(("readers after".into(), p.readers));
        rows.push(("articles before the filter".into(), p.articles_before_filter));
        rows.push(("articles after".into(), p.articles));
        rows.push(("reader x article pairs".into(), p.pairs));
    }
    if rows.is_empty() {
        h.push_str("<p class=\"muted\">No counts.</p></section>");
        return;
    }
    let bars: Vec<(String, f64)> = rows.iter().map(|(l, v)| (l.clone(), *v as f64)).collect();
    h.push_str("<div class=\"chart\">");
    h.push_str(&hbar_chart(&bars, true));
    h.push_str("</div>");
    if let Some(f) = &d.fetch {
        let p = &f.parsed;
        let _ = write!(
            h,
            "<table><tr><th>dropped</th><th class=\"n\">lines or events</th></tr>\
             <tr><td>malformed (in bad rows, with reasons)</td><td class=\"n\">{}</td></tr>\
             <tr><td>robots</td><td class=\"n\">{}</td></tr>\
             <tr><td>other apps</td><td class=\"n\">{}</td></tr>\
             <tr><td>not page views or pings</td><td class=\"n\">{}</td></tr>\
             <tr><td>no reader id</td><td class=\"n\">{}</td></tr>\
             <tr><td>duplicates</td><td class=\"n\">{}</td></tr>\
             <tr><td>outside the window</td><td class=\"n\">{}</td></tr></table>\
             <p class=\"muted\">{} hour partitions read ({} parsed, {} from the cache), {} missing.</p>",
            num(p.bad),
            num(p.bots),
            num(p.other_app),
            num(p.not_page_event),
            num(p.no_reader),
            num(f.duplicates),
            num(f.out_of_window),
            num(f.hours_read),
            num(f.hours_parsed),
            num(f.hours_cached),
            num(f.hours_missing)
        );
    }
    h.push_str("</section>");
}

fn dwell_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"dwell\"><h2>Dwell time</h2>");
    if d.dwell.pairs == 0 {
        h.push_str("<p class=\"muted\">No reading time measured.</p></section>");
        return;
    }
    let bars: Vec<(String, f64)> = DwellHistogram::labels()
        .into_iter()
        .zip(&d.dwell.counts)
        .map(|(l, c)| (l, *c as f64))
        .collect();
    let _ = write!(
        h,
        "<p>Time each reader spent on each article ({} pairs after the filter; median {:.0} s).</p><div class=\"chart\">{}</div></section>",
        num(d.dwell.pairs),
        d.dwell.median_secs,
        vbar_chart(&bars)
    );
}

fn training_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"training\"><h2>Training</h2>");
    let Some(t) = &d.train else {
        h.push_str("<p class=\"muted\">No training output.</p></section>");
        return;
    };
    let warm = match &t.warm_start_from {
        Some(run) => format!(
            "warm-started from run {} ({} articles' factors)",
            esc(run),
            num(t.warm_start_articles)
        ),
        None => "cold start".into(),
    };
    let model = match &t.model {
        Some(m) => format!("model {} fitted in {:.1} s", esc(&m.to_string()), t.fit_secs),
        None => "no model refitted (the gate kept the current one)".into(),
    };
    let _ = write!(
        h,
        "<p>{} readers x {} articles, {} non-zeros; {model}.</p>",
        num(t.readers),
        num(t.articles),
        num(t.nonzeros),
    );
    if t.factors > 0 {
        let _ = write!(
            h,
            "<p>{} factors, {} iterations, {warm}.</p>",
            t.factors, t.iterations
        );
    }
    let mut series = Vec::new();
    if !t.loss.is_empty() {
        series.push(("production fit", t.loss.as_slice(), "#2b6cb0"));
    }
    if let Some(e) = t.evaluation.as_ref().filter(|e| !e.loss.is_empty()) {
        series.push(("evaluation fit", e.loss.as_slice(), "#c05621"));
    }
    if !series.is_empty() {
        let _ = write!(
            h,
            "<div class=\"chart\">{}</div>",
            line_chart(&series, "loss per iteration")
        );
    }
    h.push_str("</section>");
}

/// Every candidate's figures on the holdout, best first, and why the winner won.
fn leaderboard_section(h: &mut String, d: &ReportData) {
    let Some(e) = d.train.as_ref().and_then(|t| t.evaluation.as_ref()) else {
        return;
    };
    if e.leaderboard.is_empty() {
        return;
    }
    h.push_str("<section id=\"leaderboard\"><h2>Model selection</h2>");
    let why = match &e.winner {
        Some(w) if w.is_popularity() => {
            "No model beats the popularity baseline on this site's holdout: readers get the defaults."
                .to_string()
        }
        Some(w) => format!(
            "{} has the best MRR@{} (ties: hit rate) of {} candidates.",
            esc(&w.to_string()),
            e.k,
            e.leaderboard.iter().filter(|c| c.metrics.is_some()).count()
        ),
        None => "No candidate could be measured.".into(),
    };
    let _ = write!(h, "<p>{why}</p>");
    h.push_str("<table><tr><th>candidate</th><th class=\"n\">MRR</th><th class=\"n\">hit rate</th><th class=\"n\">AUC</th><th class=\"n\">coverage</th><th class=\"n\">seconds</th></tr>");
    for c in &e.leaderboard {
        let name = esc(&c.spec.to_string());
        let name = if e.winner.as_ref() == Some(&c.spec) {
            format!("<b>{name}</b>")
        } else {
            name
        };
        match (&c.metrics, &c.skipped) {
            (Some(m), _) => {
                let _ = write!(
                    h,
                    "<tr><td>{name}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.2}</td></tr>",
                    m.mrr, m.hit_rate, m.auc, m.coverage, c.secs
                );
            }
            (None, why) => {
                let _ = write!(
                    h,
                    "<tr><td>{name}</td><td colspan=\"5\" class=\"muted\">not measured: {}</td></tr>",
                    esc(why.as_deref().unwrap_or(""))
                );
            }
        }
    }
    h.push_str("</table></section>");
}

fn evaluation_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"evaluation\"><h2>Offline evaluation</h2>");
    let Some(e) = d.train.as_ref().and_then(|t| t.evaluation.as_ref()) else {
        h.push_str(
            "<p class=\"muted\">Not evaluated (HOLDOUT_DAYS is 0 or the window too short).</p></section>",
        );
        return;
    };
    let previous = d.train.as_ref().and_then(|t| t.current_model.as_ref());
    let _ = write!(
        h,
        "<p>Trained without the last days; each reader's consecutive holdout reads A then B ask: is B in A's top {}? \
         {} questions ({} found), {} training and {} holdout readings.</p>",
        e.k,
        num(e.model.questions),
        num(e.questions_found),
        num(e.train_readings),
        num(e.holdout_readings)
    );
    let mut series: Vec<(&str, &HoldoutMetrics, &str)> = vec![
        ("chosen model", &e.model, "#2b6cb0"),
        ("popularity", &e.popularity, "#a0aec0"),
    ];
    if let Some(p) = previous {
        series.push(("previous model", p, "#c05621"));
    }
    let groups = ["hit rate", "MRR", "AUC", "coverage"];
    let values: Vec<(&str, Vec<f64>, &str)> = series
        .iter()
        .map(|(n, m, c)| (*n, vec![m.hit_rate, m.mrr, m.auc, m.coverage], *c))
        .collect();
    let _ = write!(h, "<div class=\"chart\">{}</div>", grouped_bars(&groups, &values));
    h.push_str("<table><tr><th></th><th class=\"n\">hit rate</th><th class=\"n\">MRR</th><th class=\"n\">AUC</th><th class=\"n\">coverage</th><th class=\"n\">questions</th></tr>");
    for (n, m, _) in &series {
        let _ = write!(
            h,
            "<tr><td>{n}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{}</td></tr>",
            m.hit_rate,
            m.mrr,
            m.auc,
            m.coverage,
            num(m.questions)
        );
    }
    h.push_str("</table>");
    if let (Some(model), Some(pop)) = (&e.model_slices, &e.popularity_slices) {
        let _ = write!(
            h,
            "<h3>Fresh and read articles</h3><p>A question is cold when A or B had fewer than {} readers before the cut, or was published after it: what content has to answer.</p>\
             <table id=\"slices\"><tr><th>slice</th><th class=\"n\">questions</th><th class=\"n\">hit rate</th><th class=\"n\">popularity</th><th class=\"n\">MRR</th><th class=\"n\">popularity</th></tr>",
            e.cold_readers
        );
        for (name, m, p) in [("cold", &model.cold, &pop.cold), ("warm", &model.warm, &pop.warm)] {
            let _ = write!(
                h,
                "<tr><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td></tr>",
                num(m.questions),
                m.hit_rate,
                p.hit_rate,
                m.mrr,
                p.mrr
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

#[cfg(test)]
mod tests;
