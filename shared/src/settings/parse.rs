//! Settings read from the environment (or any lookup): each variable
//! parsed, checked and named in its error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::*;
use crate::contract::error::{Error, Result};

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
