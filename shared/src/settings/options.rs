//! The option structs [`super::Settings`] holds, one per part of the job:
//! defined here, with their checks; a model family's own parameters are
//! beside the family (`AlsParams` in `recommend::als`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::contract::error::{Error, Result};
pub use crate::recommend::als::AlsParams;
pub use crate::recommend::content_tfidf::CONTENT_LANGUAGES;
use crate::recommend::families;

/// How models are evaluated, and what a model must show to be promoted.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityParams {
    /// The last this many days of the window are the holdout; 0 turns
    /// evaluation (and the gate) off.
    pub holdout_days: f64,
    /// Holdout questions beyond this many are sampled.
    pub max_questions: usize,
    /// A holdout question is cold when its source or answer had fewer
    /// readers than this before the cut (`COLD_READERS`).
    pub cold_readers: u32,
    pub gate: GateParams,
    pub selection: SelectionParams,
}

/// Which models train measures on the holdout, and within what limits.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionParams {
    /// Families measured (`MODEL_FAMILIES`): any of `recommend::families`
    /// (`most_read`, `trending`, `als`, `item_knn`, `sequential_rules`,
    /// `ease`, `content`, `embedding`, and `hybrid`, the best collaborative
    /// candidate blended with the text). The popularity baseline is always
    /// measured.
    pub families: Vec<String>,
    /// Seconds the measuring may take; candidates not reached are skipped,
    /// so the stage stays inside the Lambda limit.
    pub budget_secs: f64,
    /// EASE models only this many most-read articles (it holds one dense
    /// `n x n` f32 matrix: 1.6 GB at 20,000, and its fit is cubic in `n`).
    pub ease_max_articles: usize,
    /// Reads further apart than this form no sequential rule.
    pub rules_max_gap_hours: f64,
    /// The language of the articles' text (`CONTENT_LANGUAGE`): its stop
    /// words and stemmer.
    pub content_language: String,
    /// Where the operator's static embedding model is (`CONTENT_EMBEDDINGS`):
    /// an absolute path is a local folder, anything else a key prefix in
    /// the job's store. Off (`None`) by default; nothing is downloaded.
    pub embeddings: Option<String>,
}

impl Default for SelectionParams {
    fn default() -> Self {
        SelectionParams {
            families: families::by_default().map(str::to_string).collect(),
            budget_secs: 480.0,
            ease_max_articles: 20_000,
            rules_max_gap_hours: 12.0,
            content_language: "english".into(),
            embeddings: None,
        }
    }
}

impl SelectionParams {
    /// # Errors
    /// `Config` naming the first out-of-range field.
    pub fn check(&self) -> Result<()> {
        if let Some(f) = self
            .families
            .iter()
            .find(|f| !families::selectable().any(|known| known == f.as_str()))
        {
            let known: Vec<&str> = families::selectable().collect();
            return Err(Error::Config(format!(
                "MODEL_FAMILIES: unknown family {f:?} (known: {})",
                known.join(", ")
            )));
        }
        if !(self.budget_secs.is_finite() && self.budget_secs > 0.0) {
            return Err(Error::Config("TRAIN_BUDGET_SECS must be > 0".into()));
        }
        if self.ease_max_articles == 0 || self.ease_max_articles > 40_000 {
            return Err(Error::Config("EASE_MAX_ARTICLES must be in 1..=40000".into()));
        }
        if !(self.rules_max_gap_hours.is_finite() && self.rules_max_gap_hours > 0.0) {
            return Err(Error::Config("RULES_MAX_GAP_HOURS must be > 0".into()));
        }
        if let Some(at) = self.embeddings.as_deref().filter(|at| !at.starts_with('/')) {
            crate::contract::names::check_segment(
                "CONTENT_EMBEDDINGS (an absolute path or a model name under models/ in the store)",
                at,
                100,
            )
            .map_err(|e| Error::Config(e.to_string()))?;
        }
        if !CONTENT_LANGUAGES.contains(&self.content_language.as_str()) {
            return Err(Error::Config(format!(
                "CONTENT_LANGUAGE {:?} is not one of {}",
                self.content_language,
                CONTENT_LANGUAGES.join(", ")
            )));
        }
        Ok(())
    }
}

impl Default for QualityParams {
    fn default() -> Self {
        QualityParams {
            holdout_days: 2.0,
            max_questions: 20_000,
            cold_readers: 5,
            gate: GateParams {
                min_auc: 0.0,
                min_lift: 0.05,
                hit_rate_tolerance: 0.05,
                min_questions: 50,
            },
            selection: SelectionParams::default(),
        }
    }
}

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSink {
    Log,
    CloudWatch,
}

/// What differs between the sites one deployment serves (`SITE_SETTINGS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Snowplow `app_id` of the site's tracker (default: the site name).
    #[serde(default)]
    pub app_id: Option<String>,
    /// The site's WordPress API (default: the static catalogue in the store).
    #[serde(default)]
    pub wordpress_url: Option<String>,
    /// The site's widget schemas, where its widget sends others than the
    /// deployment's `WIDGET_*_SCHEMA`.
    #[serde(default)]
    pub widget: Option<WidgetSchemas>,
}

/// The online evaluation: what readers did with the widget, per model.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineParams {
    /// The widget events of this many days before the run are looked at (`ONLINE_DAYS`).
    pub days: f64,
    /// Each model's click-through rate over time, in periods of this many
    /// hours (`ONLINE_PERIOD_HOURS`).
    pub period_hours: u32,
    /// A comparison of two models needs this many impressions of each in the
    /// hours both were shown (`ONLINE_MIN_IMPRESSIONS`).
    pub min_impressions: u64,
    /// One-sided significance level of a comparison (`ONLINE_ALPHA`).
    pub alpha: f64,
    /// Whether the gate flags an article model whose click-through rate fell
    /// significantly below its predecessor's (`ONLINE_GATE`: `flag` or `off`).
    pub gate: bool,
}

impl Default for OnlineParams {
    fn default() -> OnlineParams {
        OnlineParams {
            days: 2.0,
            period_hours: 6,
            min_impressions: 200,
            alpha: 0.05,
            gate: true,
        }
    }
}

/// Which Snowplow schemas the recommendation widget's events use. Each names
/// a schema as `name` (any vendor) or `vendor/name`, the first two parts of
/// its Iglu URI (`iglu:vendor/name/jsonschema/1-0-0`), so a new version of a
/// schema needs no change here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WidgetSchemas {
    /// The self-describing event (`unstruct_event`) with `step_name`
    /// `widget_seen` or `widget_click`.
    pub event: String,
    /// The context naming the model that made the recommendations (`id`, `type`).
    pub model: String,
    /// The context naming the recommended (clicked) article (`id`, and
    /// `position` when the widget sends it).
    pub article: String,
}

impl Default for WidgetSchemas {
    fn default() -> WidgetSchemas {
        WidgetSchemas {
            event: "recommendation_flow".into(),
            model: "model".into(),
            article: "article_recommendation".into(),
        }
    }
}

/// How to reach the S3 server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// e.g. `http://127.0.0.1:5000` for a local S3-protocol server; None for AWS.
    pub endpoint: Option<String>,
    /// Overrides the region of the AWS chain.
    pub region: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub force_path_style: bool,
    /// Attempts per request, first one included.
    pub max_attempts: u32,
}

/// How to talk to a WordPress site.
#[derive(Debug, Clone, PartialEq)]
pub struct WordPressOptions {
    /// The site's base URL (`https://example.com`); unset: no WordPress.
    pub url: Option<String>,
    /// Requests per second, at most.
    pub requests_per_sec: f64,
    /// Per request, connecting included.
    pub timeout: Duration,
    /// Tries per request (1 = no retry).
    pub attempts: u32,
    /// First retry delay; doubles each retry.
    pub backoff: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Posts per page of a list answer (`per_page`; WordPress allows at most 100).
    pub page_size: usize,
}

impl Default for WordPressOptions {
    fn default() -> WordPressOptions {
        WordPressOptions {
            url: None,
            requests_per_sec: 10.0,
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff: Duration::from_millis(500),
            concurrency: 4,
            page_size: 100,
        }
    }
}

impl WordPressOptions {
    /// # Errors
    /// `Config` naming the setting out of range.
    pub fn check(&self) -> Result<()> {
        if !(self.requests_per_sec.is_finite() && self.requests_per_sec > 0.0) {
            return Err(Error::Config("WORDPRESS_REQUESTS_PER_SEC must be > 0".into()));
        }
        if self.attempts == 0 || self.concurrency == 0 || !(1..=100).contains(&self.page_size) {
            return Err(Error::Config(
                "WordPress attempts and concurrency must be >= 1, page size in 1..=100".into(),
            ));
        }
        Ok(())
    }
}

/// What the gate requires of a new model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateParams {
    /// Optional absolute AUC floor; 0 (the default) turns it off.
    pub min_auc: f64,
    /// How much better than the popularity baseline (relative, on hit rate
    /// and on MRR) a model must be to be promoted.
    pub min_lift: f64,
    /// How far (absolute) the hit rate may fall below the current model's.
    pub hit_rate_tolerance: f64,
    /// Fewer questions than this cannot judge a model: it is promoted.
    pub min_questions: u64,
}
