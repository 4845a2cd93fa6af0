//! Typed settings, built once at start-up. This is the only module that reads
//! environment variables. Every variable, its default and meaning is listed in
//! the README's configuration table.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::contract::error::{Error, Result};

mod options;
mod parse;
mod variables;

pub use options::{
    AlsParams, GateParams, MetricsSink, OnlineParams, QualityParams, S3Options, SelectionParams, SiteConfig,
    WidgetSchemas, WordPressOptions, CONTENT_LANGUAGES,
};
pub use variables::{unknown as unknown_variables, Unknown, STRICT, VARIABLES};

/// Everything a stage may be configured with.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// Site name: the first segment of every run key and the `site` column in the database.
    pub site: String,
    /// Snowplow `app_id` of the site's tracker; events of other apps are dropped.
    pub app_id: String,
    /// The schemas of the recommendation widget's events, kept beside page events.
    pub widget: WidgetSchemas,
    pub days_of_data: u32,
    pub max_recs: usize,
    /// `file:///abs/dir` or a bare path (local directory), or `s3://bucket/prefix`.
    pub store_url: String,
    /// How to reach S3 when `store_url` is `s3://`.
    pub s3: S3Options,
    /// `sqlite://path` or `postgres://...`. Redacted in `Debug`.
    pub database_url: String,
    /// The store the Snowplow S3 loader writes to (`s3://bucket/prefix` or a
    /// directory); unset: the data store itself.
    pub input_url: Option<String>,
    /// Where the Snowplow S3 loader writes, relative to the input store's root.
    pub input_prefix: String,
    /// Seed of every random choice (ALS initialisation), for reproducible runs.
    pub seed: u64,
    /// Gaps between a reader's events longer than this are inactivity, not reading.
    pub dwell_cap_secs: f64,
    /// Half-life of the publish-time decay applied to article recommendations.
    pub half_life_days: f64,
    /// Half-life of the publish-time decay applied to default recommendations.
    pub defaults_half_life_days: f64,
    /// Retired models kept per site and type (rollback targets); older ones are deleted.
    pub keep_models: u32,
    /// How long save waits for another run of the site to finish before failing
    /// with a retryable error.
    pub save_lock_wait_secs: u64,
    /// SSM parameter (a SecureString) holding the database URL; when set it
    /// replaces `database_url`, read once per process.
    pub database_url_parameter: Option<String>,
    /// `log` (structured log lines) or `cloudwatch`.
    pub metrics_sink: MetricsSink,
    /// CloudWatch namespace of the metrics.
    pub metrics_namespace: String,
    /// The site's WordPress API, where article metadata comes from when set.
    pub wordpress: WordPressOptions,
    pub als: AlsParams,
    pub quality: QualityParams,
    pub online: OnlineParams,
    /// Fetch fans the hours out (a Distributed Map) when at least this many
    /// need parsing; 0: never.
    pub fetch_map_min_hours: u32,
    /// An event found again within this many hour partitions after its own
    /// is a duplicate (`DEDUP_HOURS`); memory holds their identities.
    pub dedup_hours: u32,
    /// The sites this deployment serves besides `SITE` (`SITES`, comma
    /// separated), with their overrides (`SITE_SETTINGS`, JSON). Each run names
    /// its site; see [`Settings::for_site`].
    pub sites: BTreeMap<String, SiteConfig>,
    /// `STRICT_SETTINGS`: an unknown variable that looks like a setting is
    /// refused, not only warned about.
    pub strict: bool,
}

/// Every field, credentials and all: only [`Settings`]'s `Debug` prints it,
/// after [`redact`] took every credential out of the whole text.
struct Unredacted<'a>(&'a Settings);

impl fmt::Debug for Unredacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        f.debug_struct("Settings")
            .field("site", &s.site)
            .field("app_id", &s.app_id)
            .field("widget", &s.widget)
            .field("days_of_data", &s.days_of_data)
            .field("max_recs", &s.max_recs)
            .field("store_url", &s.store_url)
            .field("s3", &s.s3)
            .field("database_url", &s.database_url)
            .field("input_url", &s.input_url)
            .field("input_prefix", &s.input_prefix)
            .field("seed", &s.seed)
            .field("dwell_cap_secs", &s.dwell_cap_secs)
            .field("half_life_days", &s.half_life_days)
            .field("defaults_half_life_days", &s.defaults_half_life_days)
            .field("keep_models", &s.keep_models)
            .field("save_lock_wait_secs", &s.save_lock_wait_secs)
            .field("wordpress", &s.wordpress)
            .field("database_url_parameter", &s.database_url_parameter)
            .field("metrics_sink", &s.metrics_sink)
            .field("metrics_namespace", &s.metrics_namespace)
            .field("als", &s.als)
            .field("quality", &s.quality)
            .field("online", &s.online)
            .field("fetch_map_min_hours", &s.fetch_map_min_hours)
            .field("dedup_hours", &s.dedup_hours)
            .field("sites", &s.sites)
            .field("strict", &s.strict)
            .finish()
    }
}

/// Safe to log: every URL and connection string in it is redacted (user
/// info passwords, `password=`-like parameters), whatever field holds it.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.redacted();
        let raw = if f.alternate() {
            format!("{:#?}", Unredacted(&shown))
        } else {
            format!("{:?}", Unredacted(&shown))
        };
        f.write_str(&redact(&raw))
    }
}

pub use crate::contract::redact::{redact, redact_url};

impl Settings {
    /// Whether models and default rules are evaluated: `HOLDOUT_DAYS` on
    /// (> 0) and shorter than the window. The one place this rule is written.
    pub fn evaluates(&self) -> bool {
        let days = self.quality.holdout_days;
        days > 0.0 && days < f64::from(self.days_of_data)
    }

    /// `HOLDOUT_DAYS` before as-of: where the holdout starts.
    pub fn holdout_start(&self, as_of: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        as_of - chrono::Duration::milliseconds((self.quality.holdout_days * 86_400_000.0) as i64)
    }

    /// Where the holdout starts, when there is one ([`Settings::evaluates`]).
    pub fn holdout_cut(&self, as_of: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        self.evaluates().then(|| self.holdout_start(as_of))
    }
}

impl Settings {
    /// A copy whose every URL is as [`redact_url`] shows it: what may be
    /// printed or logged.
    pub fn redacted(&self) -> Settings {
        let mut s = self.clone();
        s.store_url = redact_url(&s.store_url);
        s.database_url = redact_url(&s.database_url);
        for url in [&mut s.input_url, &mut s.s3.endpoint, &mut s.wordpress.url]
            .into_iter()
            .chain(s.sites.values_mut().map(|c| &mut c.wordpress_url))
        {
            if let Some(u) = url.as_mut() {
                *u = redact_url(u);
            }
        }
        s
    }
}

pub const DEFAULT_SITE: &str = "example";

/// The `APP_ID` that asks for the events of every app of the collector.
pub const EVERY_APP: &str = "*";

impl Settings {
    /// Defaults for a local run rooted at `dir`: the store in `dir/store`, SQLite
    /// at `dir/article-rec.sqlite`.
    pub fn local(dir: &Path) -> Settings {
        Settings {
            site: DEFAULT_SITE.into(),
            app_id: DEFAULT_SITE.into(),
            widget: WidgetSchemas::default(),
            days_of_data: 28,
            max_recs: 20,
            store_url: dir.join("store").display().to_string(),
            s3: S3Options {
                max_attempts: 5,
                ..Default::default()
            },
            database_url: format!("sqlite://{}", dir.join("article-rec.sqlite").display()),
            input_url: None,
            input_prefix: "enriched/good".into(),
            seed: 42,
            dwell_cap_secs: 600.0,
            half_life_days: 30.0,
            defaults_half_life_days: 10.0,
            keep_models: 3,
            save_lock_wait_secs: 120,
            wordpress: WordPressOptions::default(),
            database_url_parameter: None,
            metrics_sink: MetricsSink::Log,
            metrics_namespace: "ArticleRec".into(),
            als: AlsParams::default(),
            quality: QualityParams::default(),
            online: OnlineParams::default(),
            fetch_map_min_hours: 24,
            dedup_hours: 24,
            sites: BTreeMap::new(),
            strict: false,
        }
    }

    /// The settings of one run's site: `SITE` (its `APP_ID` and
    /// `WORDPRESS_URL`), or another site of `SITES`; either with the overrides
    /// `SITE_SETTINGS` gives it. Another site's `app_id` is its name unless
    /// overridden, its metadata the static catalogue unless a `wordpress_url`
    /// is given.
    ///
    /// # Errors
    /// `InvalidInput` for a site this deployment is not configured for: running
    /// it with another site's `app_id` would silently keep nothing.
    pub fn for_site(&self, site: &str) -> Result<Settings> {
        let mut s = self.clone();
        let config = self.sites.get(site);
        if site == self.site {
            if let Some(c) = config {
                if let Some(app_id) = &c.app_id {
                    s.app_id = app_id.clone();
                }
                if c.wordpress_url.is_some() {
                    s.wordpress.url = c.wordpress_url.clone();
                }
                if let Some(w) = &c.widget {
                    s.widget = w.clone();
                }
            }
            return Ok(s);
        }
        let Some(c) = config else {
            return Err(Error::InvalidInput(format!(
                "site {site:?} is not configured here: SITE is {:?}, SITES is {:?}",
                self.site,
                self.sites.keys().cloned().collect::<Vec<_>>().join(",")
            )));
        };
        s.site = site.to_string();
        s.app_id = c.app_id.clone().unwrap_or_else(|| site.to_string());
        s.wordpress.url = c.wordpress_url.clone();
        if let Some(w) = &c.widget {
            s.widget = w.clone();
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
