//! The report's lists: the default recommendations and sample articles with theirs.

use super::*;

fn article_cell(a: &Shown) -> String {
    let title = a.title.as_deref().unwrap_or("(no title)");
    let path = a.path.as_deref().unwrap_or("");
    format!(
        "{} <span class=\"muted\">{} {}</span>",
        esc(title),
        esc(&a.external_id),
        esc(path)
    )
}

pub(super) fn defaults_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"defaults\"><h2>Default recommendations</h2>");
    if d.defaults.is_empty() {
        h.push_str("<p class=\"muted\">None.</p></section>");
        return;
    }
    if let Some(run) = d.defaults_run.as_ref().filter(|r| !r.leaderboard.is_empty()) {
        let chosen = run.rule.map(|r| r.to_string()).unwrap_or_default();
        let _ = write!(
            h,
            "<p>Rule <b>{}</b>: the best of {} at predicting what a reader new after the holdout cut opened first.</p>\
             <table id=\"default-rules\"><tr><th>rule</th><th class=\"n\">MRR</th><th class=\"n\">hit rate</th><th class=\"n\">questions</th></tr>",
            esc(&chosen),
            run.leaderboard.len()
        );
        for r in &run.leaderboard {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{}</td></tr>",
                esc(&r.rule.to_string()),
                r.mrr,
                r.hit_rate,
                num(r.questions)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p>What a reader the site does not know yet is shown.</p><table><tr><th class=\"n\">#</th><th>article</th><th class=\"n\">score</th></tr>");
    for (i, a) in d.defaults.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{:.3}</td></tr>",
            i + 1,
            article_cell(a),
            a.score
        );
    }
    h.push_str("</table></section>");
}

pub(super) fn samples_section(h: &mut String, d: &ReportData) {
    h.push_str("<section id=\"samples\"><h2>Recommendations of the most read articles</h2>");
    if d.samples.is_empty() {
        h.push_str("<p class=\"muted\">No article model was saved by this run.</p></section>");
        return;
    }
    h.push_str("<table><tr><th>article</th><th>recommended next (score)</th></tr>");
    for s in &d.samples {
        let _ = write!(h, "<tr><td>{}</td><td><ol>", article_cell(&s.article));
        for r in &s.recs {
            let _ = write!(h, "<li>{} ({:.3})</li>", article_cell(r), r.score);
        }
        h.push_str("</ol></td></tr>");
    }
    h.push_str("</table></section>");
}
