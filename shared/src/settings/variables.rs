//! The environment variables the job reads, and the ones it does not know
//! that look like its own: a misspelt setting (`MAX_REC=5`) would otherwise
//! run with the default and say nothing.

/// Every variable the job reads: the settings ([`super::Settings::from_lookup`]),
/// the CLI's (`LOCAL_DIR`, `STACK_NAME`, `PIPELINE_STATE_MACHINE_ARN`) and
/// the log filter (`RUST_LOG`). A test checks the settings ask for no other.
pub const VARIABLES: &[&str] = &[
    "LOCAL_DIR",
    "SITE",
    "APP_ID",
    "SITES",
    "SITE_SETTINGS",
    "WIDGET_EVENT_SCHEMA",
    "WIDGET_MODEL_SCHEMA",
    "WIDGET_ARTICLE_SCHEMA",
    "DAYS_OF_DATA",
    "MAX_RECS",
    "STORE_URL",
    "S3_ENDPOINT_URL",
    "AWS_REGION",
    "S3_FORCE_PATH_STYLE",
    "S3_MAX_ATTEMPTS",
    "DATABASE_URL",
    "INPUT_URL",
    "INPUT_PREFIX",
    "SEED",
    "DWELL_CAP_SECS",
    "HALF_LIFE_DAYS",
    "DEFAULTS_HALF_LIFE_DAYS",
    "KEEP_MODELS",
    "SAVE_LOCK_WAIT_SECS",
    "DATABASE_URL_PARAMETER",
    "METRICS_SINK",
    "METRICS_NAMESPACE",
    "WORDPRESS_URL",
    "WORDPRESS_REQUESTS_PER_SEC",
    "WORDPRESS_TIMEOUT_SECS",
    "WORDPRESS_ATTEMPTS",
    "ALS_FACTORS",
    "ALS_REGULARIZATION",
    "ALS_ITERATIONS",
    "ALS_ALPHA",
    "ALS_CG_STEPS",
    "ALS_WARM_START",
    "ALS_WARM_ITERATIONS",
    "HOLDOUT_DAYS",
    "EVAL_MAX_QUESTIONS",
    "COLD_READERS",
    "QUALITY_MIN_AUC",
    "QUALITY_HIT_RATE_TOLERANCE",
    "QUALITY_MIN_QUESTIONS",
    "QUALITY_MIN_LIFT",
    "MODEL_FAMILIES",
    "TRAIN_BUDGET_SECS",
    "EASE_MAX_ARTICLES",
    "RULES_MAX_GAP_HOURS",
    "CONTENT_LANGUAGE",
    "CONTENT_EMBEDDINGS",
    "FETCH_MAP_MIN_HOURS",
    "DEDUP_HOURS",
    "ONLINE_DAYS",
    "ONLINE_PERIOD_HOURS",
    "ONLINE_MIN_IMPRESSIONS",
    "ONLINE_ALPHA",
    "ONLINE_GATE",
    STRICT,
    "STACK_NAME",
    "PIPELINE_STATE_MACHINE_ARN",
    "RUST_LOG",
];

/// `STRICT_SETTINGS=1` refuses to start with an unknown variable that looks
/// like one of the job's, instead of warning.
pub const STRICT: &str = "STRICT_SETTINGS";

/// First words of the job's variables that other software also uses for
/// its own (`AWS_ACCESS_KEY_ID`, `RUST_BACKTRACE`): a variable starting with
/// one is only checked for being a near miss of a known name.
const SHARED_PREFIXES: [&str; 2] = ["AWS", "RUST"];

/// A variable that looks like a setting of the job's but is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub name: String,
    /// The known variable it is closest to.
    pub nearest: &'static str,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is not a setting of article-rec (did you mean {}?)",
            self.name, self.nearest
        )
    }
}

/// The job's prefixes: the first word of each variable of more than one
/// word (`ALS_` of `ALS_FACTORS`), but the shared ones.
fn prefixes() -> impl Iterator<Item = &'static str> {
    VARIABLES
        .iter()
        .filter_map(|v| v.split_once('_').map(|(first, _)| first))
        .filter(|p| !SHARED_PREFIXES.contains(p))
}

fn nearest(name: &str) -> (&'static str, usize) {
    VARIABLES
        .iter()
        .map(|v| (*v, strsim::levenshtein(name, v)))
        .min_by_key(|(v, d)| (*d, *v))
        .unwrap_or(("SITE", usize::MAX))
}

/// The variables among `names` that are not the job's but look like it:
/// they start with one of its prefixes (`MAX_REC`, `DAYS_OF_DAT`), or are
/// one or two edits from one of its names (`SITEE`), each with the known
/// name nearest to it; sorted by name.
pub fn unknown<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Unknown> {
    let mut out: Vec<Unknown> = names
        .into_iter()
        .filter(|n| !VARIABLES.contains(n))
        .filter_map(|name| {
            let (nearest, distance) = nearest(name);
            let ours = prefixes().any(|p| {
                name.strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('_') || rest.is_empty())
            });
            // short names are close to many others: one edit for them
            let allowed = if name.len() < 6 { 1 } else { 2 };
            (ours || distance <= allowed).then(|| Unknown {
                name: name.to_string(),
                nearest,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_settings_are_named_with_the_nearest_known_one() {
        let env = [
            "MAX_REC",
            "DAYS_OF_DAT",
            "SITEE",
            "ALS_FACTOR",
            "MAX_RECS",
            "PATH",
            "HOME",
            "USER",
            "TERM",
            "AWS_ACCESS_KEY_ID",
            "AWS_LAMBDA_FUNCTION_NAME",
            "RUST_BACKTRACE",
            "CARGO_PKG_NAME",
            "TEST_DATABASE_URL",
            "LAMBDA_TASK_ROOT",
            "_HANDLER",
            "AWS_REGON",
        ];
        let found: Vec<(String, &str)> = unknown(env).into_iter().map(|u| (u.name, u.nearest)).collect();
        assert_eq!(
            found,
            [
                ("ALS_FACTOR".to_string(), "ALS_FACTORS"),
                ("AWS_REGON".to_string(), "AWS_REGION"),
                ("DAYS_OF_DAT".to_string(), "DAYS_OF_DATA"),
                ("MAX_REC".to_string(), "MAX_RECS"),
                ("SITEE".to_string(), "SITE"),
            ]
        );
        assert_eq!(
            unknown(["SITEE"])[0].to_string(),
            "SITEE is not a setting of article-rec (did you mean SITE?)"
        );
    }

    #[test]
    fn the_listed_variables_are_every_one_the_settings_read() {
        let asked = std::sync::Mutex::new(Vec::new());
        super::super::Settings::from_lookup(|k| {
            asked.lock().unwrap().push(k.to_string());
            None
        })
        .unwrap();
        let asked = asked.into_inner().unwrap();
        for k in &asked {
            assert!(VARIABLES.contains(&k.as_str()), "{k} is read but not listed");
        }
        for v in VARIABLES {
            let elsewhere = ["STACK_NAME", "PIPELINE_STATE_MACHINE_ARN", "RUST_LOG"];
            assert!(
                asked.iter().any(|k| k == v) || elsewhere.contains(v),
                "{v} is listed but never read"
            );
        }
    }
}
