//! Online evaluation: what readers did with the widget, per model. An
//! impression is one view of the widget (`widget_seen`); it is clicked when
//! a recommendation in it was clicked before the reader saw the widget again.
//! Click-through rate is clicked impressions over impressions, a proportion,
//! so it gets a Wilson interval and a two-proportion test against the model
//! before it, over the hours of the day both were shown.

pub mod stats;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use self::stats::{compare, wilson, Comparison, Interval, Z95};
use crate::contract::parquet::WidgetEventColumns;

/// A click counts for the view before it when it comes at most this long
/// after it; a later click (a tab left open) is a click without a view.
pub const VIEW_WINDOW_MS: i64 = 3_600_000;

const DAY_MS: i64 = 86_400_000;

/// Impressions and clicked impressions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub impressions: u64,
    pub clicked: u64,
}

impl Counts {
    pub fn ctr(&self) -> Option<f64> {
        (self.impressions > 0).then(|| self.clicked as f64 / self.impressions as f64)
    }

    pub fn interval(&self) -> Option<Interval> {
        wilson(self.clicked, self.impressions, Z95)
    }

    fn add(&mut self, o: Counts) {
        self.impressions += o.impressions;
        self.clicked += o.clicked;
    }
}

/// Clicks on one place of the widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionCtr {
    /// 1 first.
    pub position: u32,
    /// Impressions whose recommendation at this place was clicked.
    pub clicked: u64,
    pub ctr: f64,
    pub interval: Option<Interval>,
}

/// One UTC day of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCtr {
    /// Epoch ms of the day's start, UTC.
    pub day_ms: i64,
    pub counts: Counts,
    pub ctr: Option<f64>,
    pub interval: Option<Interval>,
}

/// The online figures of one model (or of the defaults) over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOnline {
    pub model_id: String,
    pub model_type: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Widget views, plus clicks with no view before them (which show the
    /// widget was there though its view was not sent).
    pub counts: Counts,
    /// Clicks in all (an impression may get more than one).
    pub clicks: u64,
    pub clicks_without_view: u64,
    pub ctr: Option<f64>,
    pub interval: Option<Interval>,
    /// Where the widget sent positions; empty otherwise.
    pub by_position: Vec<PositionCtr>,
    pub by_day: Vec<DayCtr>,
    /// By UTC hour of the day: what the comparison with another model is over.
    pub by_hour: [Counts; 24],
}

struct Impression {
    model: usize,
    time_ms: i64,
    clicked: bool,
    positions: Vec<u32>,
}

/// The figures per model of the widget events at or after `since_ms`, by
/// model type, then the time each model was first seen.
pub fn by_model(w: &WidgetEventColumns<'_>, since_ms: i64) -> Vec<ModelOnline> {
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
        if w.step[i] != "click" {
            impressions.push(Impression {
                model,
                time_ms: w.time_ms[i],
                clicked: false,
                positions: Vec::new(),
            });
            last_view.insert(view_key, impressions.len() - 1);
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
                impressions.push(Impression {
                    model,
                    time_ms: w.time_ms[i],
                    clicked: false,
                    positions: Vec::new(),
                });
                last_view.insert(view_key, impressions.len() - 1);
                impressions.len() - 1
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
        .map(|(m, (id, kind))| summarise(m, id, kind, &impressions, clicks[m], without_view[m]))
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
) -> ModelOnline {
    let mine: Vec<&Impression> = impressions.iter().filter(|i| i.model == m).collect();
    let mut counts = Counts::default();
    let mut by_hour = [Counts::default(); 24];
    let mut by_day: Vec<(i64, Counts)> = Vec::new();
    let mut by_position: Vec<(u32, u64)> = Vec::new();
    for imp in &mine {
        let c = Counts {
            impressions: 1,
            clicked: u64::from(imp.clicked),
        };
        counts.add(c);
        by_hour[(imp.time_ms.rem_euclid(DAY_MS) / 3_600_000) as usize].add(c);
        let day = imp.time_ms.div_euclid(DAY_MS) * DAY_MS;
        match by_day.last_mut() {
            Some((d, dc)) if *d == day => dc.add(c),
            _ => by_day.push((day, c)),
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
        interval: counts.interval(),
        by_position: by_position
            .into_iter()
            .map(|(position, clicked)| PositionCtr {
                position,
                clicked,
                ctr: clicked as f64 / counts.impressions.max(1) as f64,
                interval: wilson(clicked, counts.impressions, Z95),
            })
            .collect(),
        by_day: by_day
            .into_iter()
            .map(|(day_ms, c)| DayCtr {
                day_ms,
                counts: c,
                ctr: c.ctr(),
                interval: c.interval(),
            })
            .collect(),
        by_hour,
    }
}

/// What the comparison of a model with the one before it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly more clicked.
    Better,
    /// Significantly less clicked: a rollback is worth considering.
    Worse,
    NoSignificantDifference,
    /// Either model has fewer impressions than the minimum in the hours both
    /// were shown.
    TooFewImpressions,
}

/// The newest model of a type against the one before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    pub model_type: String,
    pub new_model_id: String,
    pub old_model_id: String,
    /// The UTC hours of the day both were shown in; the counts are over these.
    pub hours: Vec<u8>,
    pub new: Counts,
    pub old: Counts,
    pub test: Option<Comparison>,
    pub verdict: Verdict,
}

/// Compares the newest model of `model_type` (by first impression) with the
/// one before it over the hours of the day both were shown, so that a model
/// seen only at night is not compared with one seen at noon. `alpha` is the
/// one-sided significance level for either verdict; `None` with fewer than
/// two models of the type.
pub fn compare_newest(
    models: &[ModelOnline],
    model_type: &str,
    min_impressions: u64,
    alpha: f64,
) -> Option<ModelComparison> {
    let mut of_type: Vec<&ModelOnline> = models.iter().filter(|m| m.model_type == model_type).collect();
    of_type.sort_by_key(|m| m.first_seen_ms);
    let [.., old, new] = of_type.as_slice() else {
        return None;
    };
    let hours: Vec<u8> = (0..24u8)
        .filter(|&h| new.by_hour[h as usize].impressions > 0 && old.by_hour[h as usize].impressions > 0)
        .collect();
    let sum = |m: &ModelOnline| {
        let mut c = Counts::default();
        for &h in &hours {
            c.add(m.by_hour[h as usize]);
        }
        c
    };
    let (n, o) = (sum(new), sum(old));
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
    Some(ModelComparison {
        model_type: model_type.to_string(),
        new_model_id: new.model_id.clone(),
        old_model_id: old.model_id.clone(),
        hours,
        new: n,
        old: o,
        test,
        verdict,
    })
}

#[cfg(test)]
mod tests;
