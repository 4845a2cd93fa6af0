//! Online evaluation: what readers did with the widget, per model (computed
//! where the events are, in preprocess; train reads it for the gate). An
//! impression is one view of the widget (`widget_seen`); it is clicked when
//! the same reader clicks one of its recommendations on that page within
//! [`VIEW_WINDOW_MS`] and before seeing the widget again. Click-through rate
//! is clicked impressions over impressions, a proportion, so it gets a Wilson
//! interval and a two-proportion test against the models before it, over the
//! hours of the day the newest was shown.

pub mod load;
pub mod stats;

use std::collections::HashMap;

use self::stats::{compare, wilson, Z95};
use crate::adapters::parquet::WidgetEventColumns;
use crate::contract::database::ModelType;
use crate::contract::online::{
    Counts, DwellAfterClick, Interval, ModelComparison, ModelOnline, PeriodCtr, PositionCtr, Verdict,
};

/// A click counts for the view before it when it comes at most this long
/// after it; a later click (a tab left open) is a click without a view.
pub const VIEW_WINDOW_MS: i64 = 3_600_000;

const DAY_MS: i64 = 86_400_000;

fn interval(c: Counts) -> Option<Interval> {
    wilson(c.clicked, c.impressions, Z95)
}

struct Impression {
    model: usize,
    time_ms: i64,
    clicked: bool,
    positions: Vec<u32>,
}

/// The figures per model of the widget events at or after `since_ms`, in
/// periods of `period_ms` (from UTC midnight), by
/// model type, then the time each model was first seen.
pub fn by_model(w: &WidgetEventColumns<'_>, since_ms: i64, period_ms: i64) -> Vec<ModelOnline> {
    let period_ms = period_ms.clamp(3_600_000, DAY_MS);
    let mut models: Vec<(String, String)> = Vec::new();
    let mut model_index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut impressions: Vec<Impression> = Vec::new();
    let mut clicks = Vec::new();
    let mut without_view = Vec::new();
    // the reader's last view of a model's widget on a page
    let mut last_view: HashMap<(&str, &str, usize), usize> = HashMap::new();
    let mut order: Vec<usize> = (0..w.len()).filter(|&i| w.time_ms[i] >= since_ms).collect();
    order.sort_by_key(|&i| (w.time_ms[i], w.step[i] == "click", i));
    for i in order {
        let key = (w.model_id[i], w.model_type[i]);
        let model = *model_index.entry(key).or_insert_with(|| {
            models.push((key.0.to_string(), key.1.to_string()));
            clicks.push(0u64);
            without_view.push(0u64);
            models.len() - 1
        });
        let view_key = (w.client_id[i], w.page_path[i], model);
        // a new impression, the reader's last of this widget on this page
        let time_ms = w.time_ms[i];
        let open = |impressions: &mut Vec<Impression>, last_view: &mut HashMap<_, usize>| {
            impressions.push(Impression {
                model,
                time_ms,
                clicked: false,
                positions: Vec::new(),
            });
            last_view.insert(view_key, impressions.len() - 1);
            impressions.len() - 1
        };
        if w.step[i] != "click" {
            open(&mut impressions, &mut last_view);
            continue;
        }
        clicks[model] += 1;
        let viewed = last_view
            .get(&view_key)
            .copied()
            .filter(|&v| w.time_ms[i] - impressions[v].time_ms <= VIEW_WINDOW_MS);
        let at = match viewed {
            Some(v) => v,
            None => {
                without_view[model] += 1;
                open(&mut impressions, &mut last_view)
            }
        };
        let imp = &mut impressions[at];
        imp.clicked = true;
        if let Some(p) = w.position[i] {
            if !imp.positions.contains(&p) {
                imp.positions.push(p);
            }
        }
    }
    let mut out: Vec<ModelOnline> = models
        .iter()
        .enumerate()
        .map(|(m, (id, kind))| summarise(m, id, kind, &impressions, clicks[m], without_view[m], period_ms))
        .collect();
    out.sort_by(|a, b| {
        (&a.model_type, a.first_seen_ms, &a.model_id).cmp(&(&b.model_type, b.first_seen_ms, &b.model_id))
    });
    out
}

fn summarise(
    m: usize,
    id: &str,
    kind: &str,
    impressions: &[Impression],
    clicks: u64,
    without_view: u64,
    period_ms: i64,
) -> ModelOnline {
    let mine: Vec<&Impression> = impressions.iter().filter(|i| i.model == m).collect();
    let mut counts = Counts::default();
    let mut by_hour = [Counts::default(); 24];
    let mut by_period: Vec<(i64, Counts)> = Vec::new();
    let mut by_position: Vec<(u32, u64)> = Vec::new();
    for imp in &mine {
        let c = Counts {
            impressions: 1,
            clicked: u64::from(imp.clicked),
        };
        counts.add(c);
        by_hour[(imp.time_ms.rem_euclid(DAY_MS) / 3_600_000) as usize].add(c);
        let day = imp.time_ms.div_euclid(DAY_MS) * DAY_MS;
        let period = day + (imp.time_ms - day) / period_ms * period_ms;
        match by_period.last_mut() {
            Some((p, pc)) if *p == period => pc.add(c),
            _ => by_period.push((period, c)),
        }
        for &p in &imp.positions {
            match by_position.iter_mut().find(|(q, _)| *q == p) {
                Some((_, n)) => *n += 1,
                None => by_position.push((p, 1)),
            }
        }
    }
    by_position.sort_unstable();
    let first_seen_ms = mine.first().map_or(0, |i| i.time_ms);
    let last_seen_ms = mine.last().map_or(0, |i| i.time_ms);
    ModelOnline {
        model_id: id.to_string(),
        model_type: kind.to_string(),
        first_seen_ms,
        last_seen_ms,
        counts,
        clicks,
        clicks_without_view: without_view,
        ctr: counts.ctr(),
        interval: interval(counts),
        by_position: by_position
            .into_iter()
            .map(|(position, clicked)| PositionCtr {
                position,
                clicked,
                ctr: clicked as f64 / counts.impressions.max(1) as f64,
                interval: wilson(clicked, counts.impressions, Z95),
            })
            .collect(),
        by_period: by_period
            .into_iter()
            .map(|(start_ms, c)| PeriodCtr {
                start_ms,
                counts: c,
                ctr: c.ctr(),
                interval: interval(c),
            })
            .collect(),
        by_hour,
    }
}

/// Compares the newest model of `model_type` (by first impression) with the
/// models of the type before it, over the hours of the day the newest was
/// shown: a model current for two hours is compared with what readers were
/// shown at those hours on earlier days, not with a model seen at another
/// time of day. `alpha` is the one-sided significance level of either
/// verdict; `None` with fewer than two models of the type.
pub fn compare_newest(
    models: &[ModelOnline],
    model_type: &str,
    min_impressions: u64,
    alpha: f64,
) -> Option<ModelComparison> {
    let mut of_type: Vec<&ModelOnline> = models.iter().filter(|m| m.model_type == model_type).collect();
    of_type.sort_by_key(|m| m.first_seen_ms);
    let (new, old) = of_type.split_last()?;
    if old.is_empty() {
        return None;
    }
    Some(compare_models(new, old, min_impressions, alpha))
}

/// A click's reading: how long the reader read the clicked article's page in
/// the `horizon_ms` after the click, gaps between their events on it capped
/// at `cap_ms` (as dwell is measured). `times` are the reader's events on
/// that page, sorted; `None` when none follows the click.
pub fn dwell_after(times: &[i64], click_ms: i64, cap_ms: i64, horizon_ms: i64) -> Option<f64> {
    let after: Vec<i64> = times
        .iter()
        .copied()
        .filter(|&t| t >= click_ms && t - click_ms <= horizon_ms)
        .collect();
    if after.is_empty() {
        return None;
    }
    let ms: i64 = after.windows(2).map(|w| (w[1] - w[0]).min(cap_ms)).sum();
    Some(ms as f64 / 1000.0)
}

/// Reading after clicks: `secs` holds one entry per click, `None` for a
/// click no reading followed.
pub fn dwell_summary(secs: &[Option<f64>]) -> DwellAfterClick {
    let mut read: Vec<f64> = secs.iter().flatten().copied().collect();
    read.sort_by(f64::total_cmp);
    let n = read.len();
    let median = match n {
        0 => 0.0,
        _ if n % 2 == 1 => read[n / 2],
        _ => (read[n / 2 - 1] + read[n / 2]) / 2.0,
    };
    DwellAfterClick {
        clicks: secs.len() as u64,
        read: n as u64,
        mean_secs: if n == 0 {
            0.0
        } else {
            read.iter().sum::<f64>() / n as f64
        },
        median_secs: median,
    }
}

/// A model against others (pooled) over the hours of the day it and they
/// were shown.
fn compare_models(
    new: &ModelOnline,
    old: &[&ModelOnline],
    min_impressions: u64,
    alpha: f64,
) -> ModelComparison {
    let mut before = [Counts::default(); 24];
    for m in old {
        for (h, c) in m.by_hour.iter().enumerate() {
            before[h].add(*c);
        }
    }
    let hours: Vec<u8> = (0..24u8)
        .filter(|&h| new.by_hour[h as usize].impressions > 0 && before[h as usize].impressions > 0)
        .collect();
    let sum = |by_hour: &[Counts; 24]| {
        let mut c = Counts::default();
        for &h in &hours {
            c.add(by_hour[h as usize]);
        }
        c
    };
    let (n, o) = (sum(&new.by_hour), sum(&before));
    let test = compare((n.clicked, n.impressions), (o.clicked, o.impressions));
    let verdict = if n.impressions < min_impressions || o.impressions < min_impressions {
        Verdict::TooFewImpressions
    } else {
        match test {
            Some(t) if t.p_below < alpha => Verdict::Worse,
            Some(t) if 1.0 - t.p_below < alpha => Verdict::Better,
            _ => Verdict::NoSignificantDifference,
        }
    };
    ModelComparison {
        model_type: new.model_type.clone(),
        new_model_id: new.model_id.clone(),
        old_model_ids: old.iter().map(|m| m.model_id.clone()).collect(),
        hours,
        new: n,
        old: o,
        test,
        verdict,
    }
}

/// The newest model of each type.
fn newest<'a>(models: &'a [ModelOnline], model_type: &str) -> Option<&'a ModelOnline> {
    models
        .iter()
        .filter(|m| m.model_type == model_type)
        .max_by_key(|m| m.first_seen_ms)
}

/// The newest article model against the newest defaults.
pub fn against_defaults(models: &[ModelOnline], min_impressions: u64, alpha: f64) -> Option<ModelComparison> {
    let article = newest(models, ModelType::Article.as_str())?;
    let defaults = newest(models, ModelType::Popularity.as_str())?;
    Some(compare_models(article, &[defaults], min_impressions, alpha))
}

#[cfg(test)]
mod tests;
