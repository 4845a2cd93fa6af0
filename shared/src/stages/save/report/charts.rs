//! The report's charts: hand-written inline SVG (a browser lays out the
//! labels, so no font backend is needed).

use std::fmt::Write as _;

use super::{esc, num};

const W: f64 = 900.0;

/// Horizontal bars with labels on the left and values on the right.
pub(super) fn hbar_chart(rows: &[(String, f64)], counts: bool) -> String {
    let row_h = 24.0;
    let label_w = 250.0;
    let value_w = 110.0;
    let height = row_h * rows.len() as f64 + 8.0;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0);
    let mut s = svg_open(W, height, "bar chart");
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (W - label_w - value_w) * v / max;
        let value = if counts { num(*v as u64) } else { format!("{v:.3}") };
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#2b6cb0\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{value}</text>",
            label_w - 8.0,
            y + 15.0,
            esc(label),
            y + 3.0,
            row_h - 6.0,
            label_w + w + 6.0,
            y + 15.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical bars, one per labelled bin.
pub(super) fn vbar_chart(bins: &[(String, f64)]) -> String {
    let height = 260.0;
    let (left, bottom, top) = (60.0, 40.0, 20.0);
    let plot_h = height - bottom - top;
    let max = bins.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0);
    let slot = (W - left - 10.0) / bins.len().max(1) as f64;
    let mut s = svg_open(W, height, "histogram");
    axes(&mut s, left, top, W - 10.0, height - bottom, max, true);
    for (i, (label, v)) in bins.iter().enumerate() {
        let x = left + slot * i as f64;
        let bar = plot_h * v / max;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"#2b6cb0\"><title>{}: {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x + 4.0,
            height - bottom - bar,
            slot - 8.0,
            esc(label),
            num(*v as u64),
            x + slot / 2.0,
            height - bottom + 16.0,
            esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

/// One polyline per series over iterations 1..=n.
pub(super) fn line_chart(series: &[(&str, &[f64], &str)], y_label: &str) -> String {
    let height = 280.0;
    let (left, right, bottom, top) = (70.0, 170.0, 40.0, 20.0);
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(0).max(2);
    let values = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|v| v.is_finite());
    let max = values.clone().fold(f64::MIN, f64::max);
    let min = values.fold(f64::MAX, f64::min);
    let mut s = svg_open(W, height, y_label);
    if !(max.is_finite() && min.is_finite()) {
        s.push_str("<text x=\"10\" y=\"20\">no values</text></svg>");
        return s;
    }
    let span = (max - min).max(max.abs() * 1e-6).max(1e-12);
    let (lo, hi) = (min - span * 0.05, max + span * 0.05);
    let x_of = |i: usize| left + (W - left - right) * i as f64 / (n - 1) as f64;
    let y_of = |v: f64| top + (height - top - bottom) * (hi - v) / (hi - lo);
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{:.1}\" stroke=\"#5b6475\"/>\
         <line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#5b6475\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{hi:.4}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{lo:.4}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">iteration</text>\
         <text x=\"{left}\" y=\"12\">{}</text>",
        height - bottom,
        height - bottom,
        W - right,
        height - bottom,
        left - 6.0,
        top + 4.0,
        left - 6.0,
        height - bottom,
        (left + W - right) / 2.0,
        height - 8.0,
        esc(y_label)
    );
    for i in 0..n {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x_of(i),
            height - bottom + 16.0,
            i + 1
        );
    }
    for (k, (name, vals, color)) in series.iter().enumerate() {
        let points: Vec<String> = vals
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), y_of(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            points.join(" "),
            W - right + 14.0,
            top + 20.0 * k as f64,
            W - right + 32.0,
            top + 20.0 * k as f64 + 11.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Bars of several series side by side in each group; values in [0, 1].
pub(super) fn grouped_bars(groups: &[&str], series: &[(&str, Vec<f64>, &str)]) -> String {
    let height = 260.0;
    let (left, right, bottom, top) = (50.0, 170.0, 40.0, 20.0);
    let plot_h = height - top - bottom;
    let slot = (W - left - right) / groups.len().max(1) as f64;
    let bar_w = (slot - 20.0) / series.len().max(1) as f64;
    let mut s = svg_open(W, height, "metrics");
    axes(&mut s, left, top, W - right, height - bottom, 1.0, false);
    for (g, name) in groups.iter().enumerate() {
        let x0 = left + slot * g as f64 + 10.0;
        for (k, (_, vals, color)) in series.iter().enumerate() {
            let v = vals.get(g).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            let bar = plot_h * v;
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"{color}\"><title>{v:.3}</title></rect>",
                x0 + bar_w * k as f64,
                height - bottom - bar,
                bar_w - 2.0
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x0 + (slot - 20.0) / 2.0,
            height - bottom + 16.0,
            esc(name)
        );
    }
    for (k, (name, _, color)) in series.iter().enumerate() {
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            W - right + 14.0,
            top + 20.0 * k as f64,
            W - right + 32.0,
            top + 20.0 * k as f64 + 11.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

fn svg_open(width: f64, height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {height}\" width=\"100%\">",
        esc(label)
    )
}

/// Left and bottom axes with the maximum marked.
fn axes(s: &mut String, left: f64, top: f64, right: f64, bottom: f64, max: f64, counts: bool) {
    let max_label = if counts {
        num(max as u64)
    } else {
        format!("{max:.1}")
    };
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#5b6475\"/>\
         <line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#5b6475\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{max_label}</text>\
         <text x=\"{:.1}\" y=\"{bottom}\" text-anchor=\"end\">0</text>",
        left - 6.0,
        top + 4.0,
        left - 6.0
    );
}

/// A series of a time chart: its name, colour and points `(time ms, value,
/// interval low, interval high)`.
pub(super) struct TimeSeries<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub points: Vec<(i64, f64, f64, f64)>,
}

/// Values with their intervals over time: a dot and a whisker per point,
/// the dots of a series joined; the x axis spans `[from_ms, to_ms)`.
pub(super) fn time_chart(series: &[TimeSeries<'_>], from_ms: i64, to_ms: i64, y_label: &str) -> String {
    let height = 300.0;
    let (left, right, bottom, top) = (60.0, 190.0, 40.0, 20.0);
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.3))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let mut s = svg_open(W, height, y_label);
    if series.iter().all(|s| s.points.is_empty()) || to_ms <= from_ms {
        s.push_str("<text x=\"10\" y=\"20\">no values</text></svg>");
        return s;
    }
    let hi = if max > 0.0 { max * 1.05 } else { 1.0 };
    let span = (to_ms - from_ms) as f64;
    let x_of = |t: i64| left + (W - left - right) * ((t - from_ms) as f64 / span).clamp(0.0, 1.0);
    let y_of = |v: f64| top + (height - top - bottom) * (1.0 - (v / hi).clamp(0.0, 1.0));
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{:.1}\" stroke=\"#5b6475\"/>\
         <line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#5b6475\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.1}%</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0%</text>\
         <text x=\"{left}\" y=\"12\">{}</text>",
        height - bottom,
        height - bottom,
        W - right,
        height - bottom,
        left - 6.0,
        top + 4.0,
        hi * 100.0,
        left - 6.0,
        height - bottom,
        esc(y_label)
    );
    // a tick a day (UTC midnight), labelled with the date
    let day = 86_400_000_i64;
    let mut t = from_ms.div_euclid(day) * day;
    while t <= to_ms {
        if t >= from_ms {
            let label = chrono::DateTime::from_timestamp_millis(t)
                .map_or_else(String::new, |d| d.format("%b %-d").to_string());
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#5b6475\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                height - bottom,
                height - bottom + 5.0,
                height - bottom + 18.0,
                esc(&label),
                x = x_of(t)
            );
        }
        t += day;
    }
    for (k, ts) in series.iter().enumerate() {
        let dots: Vec<String> = ts
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x_of(p.0), y_of(p.1)))
            .collect();
        let _ = write!(
            s,
            "<g class=\"series\" data-name=\"{}\"><polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
            esc(ts.name),
            ts.color,
            dots.join(" ")
        );
        for &(t, v, lo, hi) in &ts.points {
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{c}\"/><circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{c}\"><title>{}: {:.2}% ({:.2}% to {:.2}%)</title></circle>",
                y_of(lo),
                y_of(hi),
                y_of(v),
                esc(ts.name),
                v * 100.0,
                lo * 100.0,
                hi * 100.0,
                x = x_of(t),
                c = ts.color
            );
        }
        let _ = write!(
            s,
            "</g><rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            W - right + 14.0,
            top + 20.0 * k as f64,
            ts.color,
            W - right + 32.0,
            top + 20.0 * k as f64 + 11.0,
            esc(ts.name)
        );
    }
    s.push_str("</svg>");
    s
}
