//! Typed settings, built once at start-up. This is the only module that reads
//! environment variables. Every variable, its default and meaning is listed in
//! the README's configuration table.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::contract::error::{Error, Result};

mod options;
mod variables;

pub use options::{
    AlsParams, GateParams, MetricsSink, OnlineParams, QualityParams, S3Options, SelectionParams, SiteConfig,
    WidgetSchemas, WordPressOptions, CONTENT_LANGUAGES, MODEL_FAMILIES,
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

/// An app id is the tracker's `app_id`, or [`EVERY_APP`]; an empty one
/// would silently keep other apps' events.
fn check_app_id(var: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() {
        return Err(Error::Config(format!(
            "{var} is empty: name the site's Snowplow app_id, or {EVERY_APP:?} to keep the events of every app"
        )));
    }
    if v != v.trim() {
        return Err(Error::Config(format!(
            "{var} {v:?} has white space around it: the tracker's app_id is matched exactly"
        )));
    }
    Ok(())
}

/// A widget schema setting: `name` or `vendor/name`, nothing else.
fn widget_schema(var: &str, v: &str) -> Result<String> {
    let v = v.trim();
    let parts: Vec<&str> = v.split('/').collect();
    if v.is_empty()
        || parts.len() > 2
        || parts
            .iter()
            .any(|p| p.is_empty() || p.contains(char::is_whitespace))
    {
        return Err(Error::Config(format!(
            "{var} {v:?}: name a schema as name or vendor/name (the start of its iglu: URI)"
        )));
    }
    Ok(v.to_string())
}

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

    /// Reads the environment over the local defaults rooted at `LOCAL_DIR`
    /// (default `./local`).
    ///
    /// # Errors
    /// `Config` naming the variable that does not parse or is out of range.
    pub fn from_env() -> Result<Settings> {
        #[allow(clippy::disallowed_methods)] // this is the one place that reads the environment
        let s = Settings::from_lookup(|k| std::env::var(k).ok())?;
        s.check_environment()?;
        Ok(s)
    }

    /// Warns about (with `STRICT_SETTINGS`, refuses) every variable of the
    /// environment that looks like a setting but is none, naming the
    /// nearest known one.
    ///
    /// # Errors
    /// `Config` listing them, when strict.
    pub fn check_environment(&self) -> Result<()> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect();
        let unknown = unknown_variables(names.iter().map(String::as_str));
        if self.strict && !unknown.is_empty() {
            let all: Vec<String> = unknown.iter().map(ToString::to_string).collect();
            return Err(Error::Config(format!(
                "{} (unset {STRICT} to only warn)",
                all.join("; ")
            )));
        }
        for u in &unknown {
            tracing::warn!(variable = %u.name, nearest = u.nearest, "{u}; it is ignored");
        }
        Ok(())
    }

    /// As [`Settings::from_env`], but rooted at `dir` whatever `LOCAL_DIR` says
    /// (the CLI's `--dir`).
    ///
    /// # Errors
    /// `Config` naming the variable that does not parse or is out of range.
    pub fn from_env_in(dir: &Path) -> Result<Settings> {
        let dir = dir.display().to_string();
        #[allow(clippy::disallowed_methods)] // the environment, read here as in from_env
        let s = Settings::from_lookup(|k| {
            if k == "LOCAL_DIR" {
                Some(dir.clone())
            } else {
                std::env::var(k).ok()
            }
        })?;
        s.check_environment()?;
        Ok(s)
    }

    /// As [`Settings::from_env`], over any key lookup (tests pass a map).
    ///
    /// # Errors
    /// `Config` naming the variable that does not parse or is out of range.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let dir = get("LOCAL_DIR").unwrap_or_else(|| "local".into());
        let mut s = Settings::local(Path::new(&dir));
        if let Some(v) = get("SITE") {
            s.app_id = v.clone();
            s.site = v;
        }
        if let Some(v) = get("APP_ID") {
            s.app_id = v;
        }
        check_app_id("APP_ID", &s.app_id)?;
        for (var, schema) in [
            ("WIDGET_EVENT_SCHEMA", &mut s.widget.event),
            ("WIDGET_MODEL_SCHEMA", &mut s.widget.model),
            ("WIDGET_ARTICLE_SCHEMA", &mut s.widget.article),
        ] {
            if let Some(v) = get(var) {
                *schema = widget_schema(var, &v)?;
            }
        }
        parse_into(&get, "DAYS_OF_DATA", &mut s.days_of_data)?;
        parse_into(&get, "MAX_RECS", &mut s.max_recs)?;
        if let Some(v) = get("STORE_URL") {
            s.store_url = v;
        }
        s.s3.endpoint = get("S3_ENDPOINT_URL").filter(|v| !v.is_empty());
        s.s3.region = get("AWS_REGION").filter(|v| !v.is_empty());
        parse_into(&get, "S3_FORCE_PATH_STYLE", &mut s.s3.force_path_style)?;
        parse_into(&get, "S3_MAX_ATTEMPTS", &mut s.s3.max_attempts)?;
        if let Some(v) = get("DATABASE_URL") {
            s.database_url = v;
        }
        s.input_url = get("INPUT_URL").filter(|v| !v.is_empty());
        if let Some(v) = get("INPUT_PREFIX") {
            s.input_prefix = v;
        }
        parse_into(&get, "SEED", &mut s.seed)?;
        parse_into(&get, "DWELL_CAP_SECS", &mut s.dwell_cap_secs)?;
        parse_into(&get, "HALF_LIFE_DAYS", &mut s.half_life_days)?;
        parse_into(&get, "DEFAULTS_HALF_LIFE_DAYS", &mut s.defaults_half_life_days)?;
        parse_into(&get, "KEEP_MODELS", &mut s.keep_models)?;
        parse_into(&get, "SAVE_LOCK_WAIT_SECS", &mut s.save_lock_wait_secs)?;
        s.database_url_parameter = get("DATABASE_URL_PARAMETER").filter(|v| !v.is_empty());
        if let Some(v) = get("METRICS_SINK") {
            s.metrics_sink = match v.as_str() {
                "log" => MetricsSink::Log,
                "cloudwatch" => MetricsSink::CloudWatch,
                other => {
                    return Err(Error::Config(format!(
                        "METRICS_SINK {other:?}: use log or cloudwatch"
                    )))
                }
            };
        }
        if let Some(v) = get("METRICS_NAMESPACE") {
            s.metrics_namespace = v;
        }
        s.wordpress.url = get("WORDPRESS_URL").filter(|v| !v.is_empty());
        parse_into(
            &get,
            "WORDPRESS_REQUESTS_PER_SEC",
            &mut s.wordpress.requests_per_sec,
        )?;
        let mut timeout = s.wordpress.timeout.as_secs_f64();
        parse_into(&get, "WORDPRESS_TIMEOUT_SECS", &mut timeout)?;
        if !(timeout.is_finite() && timeout > 0.0 && timeout <= 300.0) {
            return Err(Error::Config("WORDPRESS_TIMEOUT_SECS must be in (0, 300]".into()));
        }
        s.wordpress.timeout = std::time::Duration::from_secs_f64(timeout);
        parse_into(&get, "WORDPRESS_ATTEMPTS", &mut s.wordpress.attempts)?;
        parse_into(&get, "ALS_FACTORS", &mut s.als.factors)?;
        parse_into(&get, "ALS_REGULARIZATION", &mut s.als.regularization)?;
        parse_into(&get, "ALS_ITERATIONS", &mut s.als.iterations)?;
        parse_into(&get, "ALS_ALPHA", &mut s.als.alpha)?;
        parse_into(&get, "ALS_CG_STEPS", &mut s.als.cg_steps)?;
        parse_into(&get, "ALS_WARM_START", &mut s.als.warm_start)?;
        parse_into(&get, "ALS_WARM_ITERATIONS", &mut s.als.warm_iterations)?;
        parse_into(&get, "HOLDOUT_DAYS", &mut s.quality.holdout_days)?;
        parse_into(&get, "EVAL_MAX_QUESTIONS", &mut s.quality.max_questions)?;
        parse_into(&get, "COLD_READERS", &mut s.quality.cold_readers)?;
        parse_into(&get, "QUALITY_MIN_AUC", &mut s.quality.gate.min_auc)?;
        parse_into(
            &get,
            "QUALITY_HIT_RATE_TOLERANCE",
            &mut s.quality.gate.hit_rate_tolerance,
        )?;
        parse_into(&get, "QUALITY_MIN_QUESTIONS", &mut s.quality.gate.min_questions)?;
        parse_into(&get, "QUALITY_MIN_LIFT", &mut s.quality.gate.min_lift)?;
        if let Some(v) = get("MODEL_FAMILIES").filter(|v| !v.trim().is_empty()) {
            s.quality.selection.families = v
                .split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect();
        }
        parse_into(&get, "TRAIN_BUDGET_SECS", &mut s.quality.selection.budget_secs)?;
        parse_into(
            &get,
            "EASE_MAX_ARTICLES",
            &mut s.quality.selection.ease_max_articles,
        )?;
        parse_into(
            &get,
            "RULES_MAX_GAP_HOURS",
            &mut s.quality.selection.rules_max_gap_hours,
        )?;
        if let Some(v) = get("CONTENT_LANGUAGE").filter(|v| !v.trim().is_empty()) {
            s.quality.selection.content_language = v.trim().to_lowercase();
        }
        s.quality.selection.embeddings = get("CONTENT_EMBEDDINGS")
            .map(|v| v.trim().trim_end_matches('/').to_string())
            .filter(|v| !v.is_empty());
        parse_into(&get, "FETCH_MAP_MIN_HOURS", &mut s.fetch_map_min_hours)?;
        parse_into(&get, "DEDUP_HOURS", &mut s.dedup_hours)?;
        parse_into(&get, "ONLINE_DAYS", &mut s.online.days)?;
        parse_into(&get, "ONLINE_PERIOD_HOURS", &mut s.online.period_hours)?;
        parse_into(&get, "ONLINE_MIN_IMPRESSIONS", &mut s.online.min_impressions)?;
        parse_into(&get, "ONLINE_ALPHA", &mut s.online.alpha)?;
        if let Some(v) = get("ONLINE_GATE") {
            s.online.gate = match v.trim() {
                "flag" => true,
                "off" => false,
                other => return Err(Error::Config(format!("ONLINE_GATE {other:?}: use flag or off"))),
            };
        }
        parse_flag(&get, STRICT, &mut s.strict)?;
        for name in get("SITES").unwrap_or_default().split(',').map(str::trim) {
            if !name.is_empty() {
                s.sites.insert(name.to_string(), SiteConfig::default());
            }
        }
        if let Some(raw) = get("SITE_SETTINGS").filter(|v| !v.trim().is_empty()) {
            let given: BTreeMap<String, SiteConfig> = serde_json::from_str(&raw).map_err(|e| {
                Error::Config(format!(
                    "SITE_SETTINGS must be a JSON object of site name to {{\"app_id\", \"wordpress_url\", \"widget\"}}: {e}"
                ))
            })?;
            for (name, c) in given {
                if name != s.site && !s.sites.contains_key(&name) {
                    return Err(Error::Config(format!(
                        "SITE_SETTINGS names {name:?}, which is neither SITE nor in SITES"
                    )));
                }
                if let Some(app_id) = &c.app_id {
                    check_app_id(&format!("SITE_SETTINGS {name:?} app_id"), app_id)?;
                }
                if let Some(w) = &c.widget {
                    for (what, v) in [("event", &w.event), ("model", &w.model), ("article", &w.article)] {
                        widget_schema(&format!("SITE_SETTINGS {name:?} widget.{what}"), v)?;
                    }
                }
                s.sites.insert(name, c);
            }
        }
        s.check()?;
        Ok(s)
    }

    /// # Errors
    /// `Config` naming the first setting out of range.
    pub fn check(&self) -> Result<()> {
        if self.days_of_data == 0 || self.days_of_data > 366 {
            return Err(Error::Config("DAYS_OF_DATA must be in 1..=366".into()));
        }
        if self.max_recs == 0 || self.max_recs > 1000 {
            return Err(Error::Config("MAX_RECS must be in 1..=1000".into()));
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.dwell_cap_secs) {
            return Err(Error::Config("DWELL_CAP_SECS must be > 0".into()));
        }
        if !(positive(self.half_life_days) && positive(self.defaults_half_life_days)) {
            return Err(Error::Config("half-lives must be > 0 days".into()));
        }
        self.wordpress.check()?;
        let o = &self.online;
        // more than DAYS_OF_DATA looks at the whole window: fetch keeps no more
        if !(o.days.is_finite() && o.days > 0.0) {
            return Err(Error::Config(format!("ONLINE_DAYS must be > 0, got {}", o.days)));
        }
        if !(1..=24).contains(&o.period_hours) || 24 % o.period_hours != 0 {
            return Err(Error::Config(format!(
                "ONLINE_PERIOD_HOURS must divide a day (1, 2, 3, 4, 6, 8, 12 or 24), got {}",
                o.period_hours
            )));
        }
        if !(o.alpha > 0.0 && o.alpha < 0.5) {
            return Err(Error::Config(format!(
                "ONLINE_ALPHA must be in (0, 0.5), got {}",
                o.alpha
            )));
        }
        if self.dedup_hours > 24 * 7 {
            return Err(Error::Config(format!(
                "DEDUP_HOURS must be at most 168 (a week of partitions), got {}",
                self.dedup_hours
            )));
        }
        if self.save_lock_wait_secs > 900 {
            return Err(Error::Config(
                "SAVE_LOCK_WAIT_SECS must be at most 900 (a Lambda's longest run)".into(),
            ));
        }
        let q = &self.quality;
        if !(q.holdout_days.is_finite() && q.holdout_days >= 0.0) {
            return Err(Error::Config(format!(
                "HOLDOUT_DAYS must be >= 0, got {}",
                q.holdout_days
            )));
        }
        if q.max_questions == 0 {
            return Err(Error::Config("EVAL_MAX_QUESTIONS must be >= 1".into()));
        }
        if !(0.0..=1.0).contains(&q.gate.min_auc) || !(0.0..=1.0).contains(&q.gate.hit_rate_tolerance) {
            return Err(Error::Config(
                "QUALITY_MIN_AUC and QUALITY_HIT_RATE_TOLERANCE must be in [0, 1]".into(),
            ));
        }
        if !(q.gate.min_lift.is_finite() && q.gate.min_lift >= 0.0) {
            return Err(Error::Config("QUALITY_MIN_LIFT must be >= 0".into()));
        }
        q.selection.check()?;
        crate::contract::names::check_site(&self.site).map_err(|e| Error::Config(format!("SITE: {e}")))?;
        for (name, c) in &self.sites {
            crate::contract::names::check_site(name).map_err(|e| Error::Config(format!("SITES: {e}")))?;
            if let Some(url) = &c.wordpress_url {
                let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !ok {
                    return Err(Error::Config(format!(
                        "SITES {name}: wordpress_url {url:?} is not an http(s) URL"
                    )));
                }
            }
        }
        self.als.check()
    }
}

/// A yes/no variable: `1`, `true`, `yes` or `0`, `false`, `no`.
fn parse_flag(get: &impl Fn(&str) -> Option<String>, key: &str, slot: &mut bool) -> Result<()> {
    if let Some(raw) = get(key) {
        *slot = match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" | "" => false,
            _ => return Err(Error::Config(format!("{key}={raw:?}: use 1 or 0"))),
        };
    }
    Ok(())
}

fn parse_into<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    slot: &mut T,
) -> Result<()>
where
    T::Err: fmt::Display,
{
    if let Some(raw) = get(key) {
        *slot = raw
            .trim()
            .parse()
            .map_err(|e| Error::Config(format!("{key}={raw:?}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn documented_defaults() {
        let s = from(&[]).unwrap();
        assert_eq!(s.max_recs, 20);
        assert_eq!(s.days_of_data, 28);
        assert_eq!(s.als.factors, 64);
        assert_eq!(s.als.iterations, 15);
        assert!((s.als.regularization - 0.01).abs() < 1e-9);
    }

    #[test]
    fn the_embedding_model_is_off_by_default_and_is_a_folder_or_a_model_name() {
        assert_eq!(from(&[]).unwrap().quality.selection.embeddings, None);
        let at = |v: &str| from(&[("CONTENT_EMBEDDINGS", v)]).map(|s| s.quality.selection.embeddings);
        assert_eq!(at("  ").unwrap(), None);
        assert_eq!(
            at("/opt/models/potion/").unwrap().as_deref(),
            Some("/opt/models/potion")
        );
        assert_eq!(at("potion-base-8M").unwrap().as_deref(), Some("potion-base-8M"));
        let e = at("../secrets").unwrap_err().to_string();
        assert!(e.contains("CONTENT_EMBEDDINGS"), "{e}");
        assert!(
            at("models/potion").is_err(),
            "a name is one segment under models/"
        );
    }

    #[test]
    fn the_widget_schemas_and_the_online_evaluation_are_settings() {
        let s = from(&[]).unwrap();
        assert_eq!(s.widget, WidgetSchemas::default());
        assert_eq!(s.widget.event, "recommendation_flow");
        assert_eq!(
            (s.online.days, s.online.period_hours, s.online.gate),
            (2.0, 6, true)
        );
        let s = from(&[
            ("WIDGET_EVENT_SCHEMA", " com.example.news/recommendation_flow "),
            ("ONLINE_GATE", "off"),
            ("ONLINE_DAYS", "0.5"),
            ("SITES", "other"),
            (
                "SITE_SETTINGS",
                r#"{"other": {"widget": {"event": "widget_event", "model": "rec_model"}}}"#,
            ),
        ])
        .unwrap();
        assert_eq!(s.widget.event, "com.example.news/recommendation_flow");
        assert!(!s.online.gate);
        let other = s.for_site("other").unwrap();
        assert_eq!(
            (
                other.widget.event.as_str(),
                other.widget.model.as_str(),
                other.widget.article.as_str()
            ),
            ("widget_event", "rec_model", "article_recommendation"),
            "a site's widget overrides what it names, the rest is the default"
        );
        for (var, value) in [
            ("WIDGET_MODEL_SCHEMA", "a/b/c"),
            ("WIDGET_ARTICLE_SCHEMA", ""),
            ("ONLINE_GATE", "maybe"),
            ("ONLINE_PERIOD_HOURS", "5"),
            ("ONLINE_ALPHA", "0.7"),
            ("ONLINE_DAYS", "0"),
        ] {
            let e = from(&[(var, value)]).unwrap_err().to_string();
            assert!(e.contains(var), "{var}={value}: {e}");
        }
        let e = from(&[
            ("SITES", "other"),
            ("SITE_SETTINGS", r#"{"other": {"widget": {"event": "x y"}}}"#),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("widget.event"), "{e}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = from(&[("MAX_RECS", "many")]).unwrap_err().to_string();
        assert!(e.contains("MAX_RECS"), "{e}");
        let e = from(&[("ALS_FACTORS", "0")]).unwrap_err().to_string();
        assert!(e.contains("ALS_FACTORS"), "{e}");
    }

    #[test]
    fn debug_never_shows_the_database_password() {
        let s = from(&[("DATABASE_URL", "postgres://app:hunter2@db:5432/recs")]).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5432/recs"), "{shown}");
    }

    /// Every field that may hold a URL, in every credential form: none of
    /// the secrets reaches the Debug text that the cold start logs.
    #[test]
    fn debug_redacts_every_credential_form_in_every_url() {
        let s = from(&[
            (
                "DATABASE_URL",
                "postgres://db.internal/recs?user=app&password=qu1et",
            ),
            ("STORE_URL", "s3://bucket/prefix?token=t0ken"),
            ("INPUT_URL", "s3://snowplow"),
            ("S3_ENDPOINT_URL", "https://minio:m1nio-pw@s3.internal"),
            ("WORDPRESS_URL", "https://editor:wp-pw@site.example/"),
            ("SITES", "other"),
            (
                "SITE_SETTINGS",
                r#"{"other": {"wordpress_url": "https://bot:other-pw@other.example/"}}"#,
            ),
        ])
        .unwrap();
        for shown in [format!("{s:?}"), format!("{s:#?}")] {
            for secret in ["qu1et", "t0ken", "m1nio-pw", "wp-pw", "other-pw"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("password=***"), "{shown}");
            assert!(shown.contains("https://editor:***@site.example/"), "{shown}");
        }
    }

    #[test]
    fn each_site_gets_its_own_app_id_and_metadata_source() {
        let s = from(&[
            ("SITE", "wcp"),
            ("APP_ID", "wcp-web"),
            ("WORDPRESS_URL", "https://wcp.example/wp"),
            ("SITES", "other, third"),
            (
                "SITE_SETTINGS",
                r#"{"other": {"app_id": "other-web", "wordpress_url": "https://other.example"}}"#,
            ),
        ])
        .unwrap();
        let wcp = s.for_site("wcp").unwrap();
        assert_eq!((wcp.site.as_str(), wcp.app_id.as_str()), ("wcp", "wcp-web"));
        assert_eq!(wcp.wordpress.url.as_deref(), Some("https://wcp.example/wp"));
        let other = s.for_site("other").unwrap();
        assert_eq!(
            (other.site.as_str(), other.app_id.as_str()),
            ("other", "other-web")
        );
        assert_eq!(other.wordpress.url.as_deref(), Some("https://other.example"));
        let third = s.for_site("third").unwrap();
        assert_eq!((third.site.as_str(), third.app_id.as_str()), ("third", "third"));
        assert_eq!(third.wordpress.url, None, "static catalogue, not wcp's API");
        let err = s.for_site("nowhere").unwrap_err().to_string();
        assert!(err.contains("\"nowhere\" is not configured here"), "{err}");
        assert!(err.contains("other,third"), "{err}");
    }

    #[test]
    fn site_settings_are_checked() {
        let err = from(&[("SITE_SETTINGS", r#"{"ghost": {}}"#)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("neither SITE nor in SITES"), "{err}");
        let err = from(&[("SITES", "a"), ("SITE_SETTINGS", r#"{"a": {"appid": "x"}}"#)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SITE_SETTINGS must be a JSON object"), "{err}");
        let err = from(&[
            ("SITES", "a"),
            ("SITE_SETTINGS", r#"{"a": {"wordpress_url": "ftp://x"}}"#),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("not an http(s) URL"), "{err}");
        let err = from(&[("SITES", "a/b")]).unwrap_err().to_string();
        assert!(err.contains("SITES"), "{err}");
        assert_eq!(
            from(&[("FETCH_MAP_MIN_HOURS", "0")]).unwrap().fetch_map_min_hours,
            0
        );
    }
}
