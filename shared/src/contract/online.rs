//! What the online evaluation reports (what readers did with the widget,
//! per model): `online.json`, which preprocess writes and train and save read.
//! Computed by preprocess's `online` module; train reads it for the gate.

use serde::{Deserialize, Serialize};

/// A proportion's interval, both ends in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Two rates compared: the pooled two-proportion z-test of `new` against `old`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub new_rate: f64,
    pub old_rate: f64,
    /// `(new - old) / se` under the pooled null.
    pub z: f64,
    /// One-sided p-value of "new is below old": small when it clearly is.
    pub p_below: f64,
    /// Two-sided p-value of any difference.
    pub p_two_sided: f64,
}

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

    pub fn add(&mut self, o: Counts) {
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

/// One period of a model (the online evaluation's periods start at UTC
/// midnight and are `ONLINE_PERIOD_HOURS` long).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodCtr {
    /// Epoch ms of the period's start, UTC.
    pub start_ms: i64,
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
    pub by_period: Vec<PeriodCtr>,
    /// By UTC hour of the day: what the comparison with another model is over.
    pub by_hour: [Counts; 24],
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

/// The newest model of a type against those before it (or against the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelComparison {
    pub model_type: String,
    pub new_model_id: String,
    /// The models it is compared with, pooled.
    pub old_model_ids: Vec<String>,
    /// The UTC hours of the day both sides were shown in; the counts are over these.
    pub hours: Vec<u8>,
    pub new: Counts,
    pub old: Counts,
    pub test: Option<Comparison>,
    pub verdict: Verdict,
}

/// How long readers read the article they clicked, right after the click.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DwellAfterClick {
    /// Clicks looked at.
    pub clicks: u64,
    /// Of those, the clicks followed by reading of the clicked article.
    pub read: u64,
    pub mean_secs: f64,
    pub median_secs: f64,
}

/// A model's figures with the reading after its clicks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFigures {
    #[serde(flatten)]
    pub online: ModelOnline,
    pub dwell_after_click: DwellAfterClick,
}

/// The online evaluation of one run (`online.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineEvaluation {
    /// Epoch ms, UTC: the widget events looked at are in `[since_ms, until_ms)`.
    pub since_ms: i64,
    pub until_ms: i64,
    /// The length of each model's periods (`by_period`).
    pub period_ms: i64,
    /// Widget events in that time.
    pub widget_events: u64,
    /// By model type, then first impression.
    pub models: Vec<ModelFigures>,
    /// The newest model of each type against the one before it.
    pub comparisons: Vec<ModelComparison>,
    /// The newest article model against the newest defaults, over the hours
    /// both were shown.
    pub against_defaults: Option<ModelComparison>,
    /// Widget events naming a model the database does not know (never
    /// issued, another site's, or pruned): left out of every figure.
    #[serde(default)]
    pub unknown_models: UnknownModels,
}

/// What the widget sent about models the database does not know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownModels {
    pub events: u64,
    /// Distinct (model id, model type) pairs among them.
    pub models: u64,
}

/// The newest model of a type, in a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeadline {
    pub model_id: String,
    pub counts: Counts,
    pub ctr: Option<f64>,
    pub interval: Option<Interval>,
    pub dwell_after_click: DwellAfterClick,
}

/// What the run's summary and the state machine's output carry of the online
/// evaluation (the whole of it is in `online.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineHeadline {
    pub widget_events: u64,
    /// The newest article model.
    pub article: Option<ModelHeadline>,
    /// The newest defaults.
    pub defaults: Option<ModelHeadline>,
    /// The newest article model against the article models before it.
    pub against_earlier: Option<Verdict>,
    pub against_defaults: Option<Verdict>,
    /// Widget events naming models the database does not know, left out.
    #[serde(default)]
    pub unknown_models: UnknownModels,
}

impl OnlineEvaluation {
    /// The newest model of the type.
    pub fn newest(&self, model_type: &str) -> Option<&ModelFigures> {
        self.models
            .iter()
            .filter(|m| m.online.model_type == model_type)
            .max_by_key(|m| m.online.first_seen_ms)
    }

    pub fn headline(&self) -> OnlineHeadline {
        let line = |t: &str| {
            self.newest(t).map(|m| ModelHeadline {
                model_id: m.online.model_id.clone(),
                counts: m.online.counts,
                ctr: m.online.ctr,
                interval: m.online.interval,
                dwell_after_click: m.dwell_after_click,
            })
        };
        OnlineHeadline {
            widget_events: self.widget_events,
            article: line("article"),
            defaults: line("popularity"),
            against_earlier: self
                .comparisons
                .iter()
                .find(|c| c.model_type == "article")
                .map(|c| c.verdict),
            against_defaults: self.against_defaults.as_ref().map(|c| c.verdict),
            unknown_models: self.unknown_models,
        }
    }
}

impl OnlineEvaluation {
    /// What the gate says of the online comparison: a warning when the newest
    /// article model is significantly less clicked than the one before it.
    pub fn warning(&self) -> Option<String> {
        let c = self
            .comparisons
            .iter()
            .find(|c| c.model_type == "article" && c.verdict == Verdict::Worse)?;
        let rate = |x: Counts| x.ctr().unwrap_or(0.0) * 100.0;
        Some(format!(
            "online: readers click article model {} less than the models before it ({}): {:.2}% of {} impressions against {:.2}% of {}, over the {} hours of the day it was shown (p = {:.3}); consider `article-rec rollback` (on AWS, `article-rec aws rollback`)",
            c.new_model_id,
            c.old_model_ids.join(", "),
            rate(c.new),
            c.new.impressions,
            rate(c.old),
            c.old.impressions,
            c.hours.len(),
            c.test.map_or(f64::NAN, |t| t.p_below)
        ))
    }
}
