//! The one place that builds object keys. Every key a stage reads or writes comes
//! from here; [`ObjectKey`] has no public constructor, so a key formatted ad hoc
//! elsewhere does not compile.
//!
//! ```text
//! <input prefix>/YYYY/MM/DD/HH/<part>          Snowplow S3 loader hour partitions (input)
//! catalog/<site>/articles.jsonl                static article catalogue (optional)
//! cache/<site>/hours/YYYY/MM/DD/HH/manifest.json  fetch: a parsed, complete hour
//! cache/<site>/hours/YYYY/MM/DD/HH/v-<digest>/   its files, one folder per listing
//!     events.parquet, bad_rows.jsonl
//! runs/<site>/<run id>/hours/YYYY/MM/DD/HH/    fetch: an hour still filling (not cached)
//! runs/<site>/<run id>/events.parquet          fetch
//! runs/<site>/<run id>/bad_rows.jsonl          fetch: quarantined lines with reasons
//! runs/<site>/<run id>/articles.parquet        preprocess
//! runs/<site>/<run id>/dwell.parquet           preprocess
//! runs/<site>/<run id>/defaults.parquet        defaults
//! runs/<site>/<run id>/article_factors.parquet train
//! runs/<site>/<run id>/evaluation.json         train: holdout metrics, quality gate
//! runs/<site>/<run id>/report.html             save: the run report
//! runs/<site>/<run id>/state.json              local CLI: the state passed between stages
//! ```
//!
//! Runs, the hour cache and catalogues have top-level prefixes of their own, so
//! access rights and expiry rules are one per kind, whatever the sites.
//! ```

use std::fmt;

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};

use crate::contract::error::{Error, Result};
use crate::contract::names::{check_segment, check_site};
use crate::contract::stage::{RunRef, Window};

/// A validated, `/`-separated object key relative to the store's root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    fn new(key: String) -> ObjectKey {
        ObjectKey(key)
    }

    /// A key as a store listed it. Crate-private: only storage adapters call it.
    ///
    /// # Errors
    /// `InvalidInput` for empty keys, absolute keys or `..` segments.
    pub(crate) fn from_listing(key: &str) -> Result<ObjectKey> {
        if key.is_empty() || key.starts_with('/') || key.split('/').any(|s| s == ".." || s == ".") {
            return Err(Error::InvalidInput(format!("unsafe object key {key:?}")));
        }
        Ok(ObjectKey(key.to_string()))
    }

    /// A key named in a file the job wrote (`partials.json`), checked as a
    /// listed key is.
    ///
    /// # Errors
    /// `InvalidInput` for empty keys, absolute keys or `..` segments.
    pub fn parse(key: &str) -> Result<ObjectKey> {
        ObjectKey::from_listing(key)
    }

    /// A key exactly as an object store listed it, `.`, `..` or empty
    /// segments included: S3 allows them, so a listing must not fail on one.
    /// Such a key is not [`plain`](ObjectKey::is_plain): the local directory
    /// store refuses it and fetch quarantines the object unread.
    /// Crate-private: only storage adapters call it.
    pub(crate) fn listed_as_is(key: &str) -> ObjectKey {
        ObjectKey(key.to_string())
    }

    /// Whether every segment is a plain name: no empty, `.` or `..` segment,
    /// so the key means the same to every store and tool (a file system
    /// would resolve `..`; S3 would not).
    pub fn is_plain(&self) -> bool {
        self.0.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last path segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The folder the key is in (`a/b/` of `a/b/c`; empty at the top).
    pub fn folder(&self) -> Prefix {
        Prefix(
            self.0
                .rsplit_once('/')
                .map_or(String::new(), |(f, _)| format!("{f}/")),
        )
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key prefix ending in `/`, for listing and deleting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keys of one run's intermediate files.
#[derive(Debug, Clone)]
pub struct RunLayout {
    prefix: String,
}

impl RunLayout {
    /// # Errors
    /// `InvalidInput` when the run's site or id is not a safe key segment.
    pub fn new(run: &RunRef) -> Result<RunLayout> {
        run.validate_names()?;
        Ok(RunLayout {
            prefix: format!("runs/{}/{}/", run.site, run.run_id),
        })
    }

    /// The files of another run of the site (the current model's), known by its id.
    ///
    /// # Errors
    /// `InvalidInput` when the site or run id is not a safe key segment.
    pub fn of(site: &str, run_id: &str) -> Result<RunLayout> {
        check_site(site)?;
        check_segment("run id", run_id, crate::contract::names::MAX_RUN_ID_LEN)?;
        Ok(RunLayout {
            prefix: format!("runs/{site}/{run_id}/"),
        })
    }

    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(format!("{}{name}", self.prefix))
    }

    pub fn prefix(&self) -> Prefix {
        Prefix(self.prefix.clone())
    }
    /// The window's hour partitions and their files (fetch -> preprocess).
    pub fn partials(&self) -> ObjectKey {
        self.key("partials.json")
    }
    /// The window's events found again in a later hour.
    pub fn duplicates(&self) -> ObjectKey {
        self.key("duplicates.parquet")
    }
    pub fn bad_rows(&self) -> ObjectKey {
        self.key("bad_rows.jsonl")
    }
    /// The online evaluation (what readers did with the widget).
    pub fn online(&self) -> ObjectKey {
        self.key("online.json")
    }
    /// The recommendation widget's events of the window.
    pub fn widget_events(&self) -> ObjectKey {
        self.key("widget_events.parquet")
    }
    pub fn articles(&self) -> ObjectKey {
        self.key("articles.parquet")
    }
    pub fn dwell(&self) -> ObjectKey {
        self.key("dwell.parquet")
    }
    pub fn defaults(&self) -> ObjectKey {
        self.key("defaults.parquet")
    }
    /// The article model's lists (train), which save writes to the database.
    pub fn article_recs(&self) -> ObjectKey {
        self.key("article_recs.parquet")
    }
    pub fn factors(&self) -> ObjectKey {
        self.key("article_factors.parquet")
    }
    /// The train stage's evaluation and quality-gate decision (JSON).
    pub fn evaluation(&self) -> ObjectKey {
        self.key("evaluation.json")
    }
    /// The run report, a self-contained HTML page (save).
    pub fn report(&self) -> ObjectKey {
        self.key("report.html")
    }
    /// The run's state as the state machine passes it along (the local CLI
    /// keeps it, so one stage can be run at a time).
    /// What `article-rec check` writes to prove it may write under runs/
    /// (the site's pseudo-run `check`, one file a check).
    pub fn check_probe(&self, at: DateTime<Utc>) -> ObjectKey {
        ObjectKey::new(format!(
            "{}{}.txt",
            self.prefix(),
            at.format("%Y-%m-%dT%H-%M-%S%.3fZ")
        ))
    }

    pub fn state(&self) -> ObjectKey {
        self.key("state.json")
    }
}

/// The files of one parsed hour partition.
#[derive(Debug, Clone)]
pub struct HourFiles {
    prefix: String,
}

fn hour_path(hour: DateTime<Utc>) -> String {
    format!(
        "{:04}/{:02}/{:02}/{:02}/",
        hour.year(),
        hour.month(),
        hour.day(),
        hour.hour()
    )
}

impl HourFiles {
    /// The files of a complete hour, parsed from the objects that `version`
    /// names (a digest of the manifest's listing): each parse of an hour
    /// writes files of its own, and the hour's manifest says which are
    /// current, so runs that overlap never mix one listing's manifest with
    /// another's events.
    ///
    /// # Errors
    /// `InvalidInput` for an unsafe site name or version.
    pub fn cached(site: &str, hour: DateTime<Utc>, version: &str) -> Result<HourFiles> {
        check_site(site)?;
        check_segment("cache version", version, 64)?;
        Ok(HourFiles {
            prefix: format!("cache/{site}/hours/{}v-{version}/", hour_path(hour)),
        })
    }

    /// An hour still filling: parsed for this run only.
    pub fn in_run(run: &RunLayout, hour: DateTime<Utc>) -> HourFiles {
        HourFiles {
            prefix: format!("{}hours/{}", run.prefix, hour_path(hour)),
        }
    }

    /// The folder of the hour's files.
    pub fn prefix(&self) -> Prefix {
        Prefix(self.prefix.clone())
    }

    pub fn events(&self) -> ObjectKey {
        ObjectKey::new(format!("{}events.parquet", self.prefix))
    }
    /// The hour's reading sessions, by reader and article.
    pub fn pairs(&self) -> ObjectKey {
        ObjectKey::new(format!("{}pairs.parquet", self.prefix))
    }
    /// The hour's article paths and their reads.
    pub fn paths(&self) -> ObjectKey {
        ObjectKey::new(format!("{}paths.parquet", self.prefix))
    }
    /// The hour's event identities.
    pub fn keys(&self) -> ObjectKey {
        ObjectKey::new(format!("{}keys.parquet", self.prefix))
    }
    pub fn bad_rows(&self) -> ObjectKey {
        ObjectKey::new(format!("{}bad_rows.jsonl", self.prefix))
    }
    pub fn widget(&self) -> ObjectKey {
        ObjectKey::new(format!("{}widget.parquet", self.prefix))
    }
}

/// What a cached hour was parsed from (objects and ETags), its counts and
/// which version of its files holds them.
///
/// # Errors
/// `InvalidInput` for an unsafe site name.
pub fn hour_manifest(site: &str, hour: DateTime<Utc>) -> Result<ObjectKey> {
    check_site(site)?;
    Ok(ObjectKey::new(format!(
        "cache/{site}/hours/{}manifest.json",
        hour_path(hour)
    )))
}

/// Every run of every site.
pub fn runs() -> Prefix {
    Prefix("runs/".into())
}

/// Every cached hour of a site.
///
/// # Errors
/// `InvalidInput` for an unsafe site name.
pub fn hour_cache(site: &str) -> Result<Prefix> {
    check_site(site)?;
    Ok(Prefix(format!("cache/{site}/hours/")))
}

/// The static article catalogue of a site (JSON lines), for sites without an API.
///
/// # Errors
/// `InvalidInput` for an unsafe site name.
pub fn catalog(site: &str) -> Result<ObjectKey> {
    check_site(site)?;
    Ok(ObjectKey::new(format!("catalog/{site}/articles.jsonl")))
}

/// A file of the operator's static embedding model `name` in the store
/// (`CONTENT_EMBEDDINGS=name`).
///
/// # Errors
/// `InvalidInput` for a name that cannot be one key segment.
pub fn embedding_model(name: &str, file: &str) -> Result<ObjectKey> {
    check_segment("CONTENT_EMBEDDINGS model name", name, 100)?;
    check_segment("model file", file, 100)?;
    Ok(ObjectKey::new(format!("models/{name}/{file}")))
}

/// Where the Snowplow S3 loader writes: `<prefix>/YYYY/MM/DD/HH/` hour partitions.
#[derive(Debug, Clone)]
pub struct InputLayout {
    prefix: String,
}

/// One hour partition of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourPartition {
    /// Start of the hour, UTC.
    pub hour: DateTime<Utc>,
    pub prefix: Prefix,
}

impl InputLayout {
    /// # Errors
    /// `Config` when the prefix is empty, absolute or has `..`.
    pub fn new(prefix: &str) -> Result<InputLayout> {
        let p = prefix.trim_matches('/');
        if p.is_empty() || p.split('/').any(|s| s.is_empty() || s == "..") {
            return Err(Error::Config(format!("bad input prefix {prefix:?}")));
        }
        Ok(InputLayout {
            prefix: p.to_string(),
        })
    }

    /// The whole input: every hour partition is under it.
    pub fn root(&self) -> Prefix {
        Prefix(format!("{}/", self.prefix))
    }

    pub fn hour(&self, hour: DateTime<Utc>) -> HourPartition {
        HourPartition {
            hour,
            prefix: Prefix(format!("{}/{}", self.prefix, hour_path(hour))),
        }
    }

    /// Every hour partition overlapping the window, oldest first.
    pub fn hours(&self, window: &Window) -> Vec<HourPartition> {
        let mut out = Vec::new();
        let Ok(mut h) = window.start.duration_trunc(Duration::hours(1)) else {
            return out;
        };
        while h < window.end {
            out.push(self.hour(h));
            h += Duration::hours(1);
        }
        out
    }

    /// A key for an object inside an hour partition (used by the data generator).
    ///
    /// # Errors
    /// `InvalidInput` when `file` is not a plain file name.
    pub fn part(&self, hour: &HourPartition, file: &str) -> Result<ObjectKey> {
        check_segment("object name", file, 255)?;
        Ok(ObjectKey::new(format!("{}{file}", hour.prefix)))
    }
}

#[cfg(test)]
pub(crate) fn test_prefix(p: &str) -> Prefix {
    Prefix(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_live_under_runs_site_and_run_id() {
        let run = RunRef {
            site: "wcp".into(),
            run_id: "r1".into(),
            as_of: Utc::now(),
        };
        let l = RunLayout::new(&run).unwrap();
        assert_eq!(l.partials().as_str(), "runs/wcp/r1/partials.json");
        assert_eq!(l.factors().as_str(), "runs/wcp/r1/article_factors.parquet");
        assert_eq!(l.prefix().as_str(), "runs/wcp/r1/");
        let hour = "2026-01-02T03:00:00Z".parse().unwrap();
        assert_eq!(
            HourFiles::in_run(&l, hour).events().as_str(),
            "runs/wcp/r1/hours/2026/01/02/03/events.parquet"
        );
        assert_eq!(
            hour_manifest("wcp", hour).unwrap().as_str(),
            "cache/wcp/hours/2026/01/02/03/manifest.json"
        );
        assert_eq!(
            HourFiles::cached("wcp", hour, "0123abcd")
                .unwrap()
                .events()
                .as_str(),
            "cache/wcp/hours/2026/01/02/03/v-0123abcd/events.parquet"
        );
    }

    #[test]
    fn hours_cover_the_window_in_loader_layout() {
        let input = InputLayout::new("/enriched/good/").unwrap();
        let w = Window {
            start: "2026-01-01T22:30:00Z".parse().unwrap(),
            end: "2026-01-02T01:00:00Z".parse().unwrap(),
        };
        let hours: Vec<String> = input
            .hours(&w)
            .into_iter()
            .map(|h| h.prefix.to_string())
            .collect();
        assert_eq!(
            hours,
            [
                "enriched/good/2026/01/01/22/",
                "enriched/good/2026/01/01/23/",
                "enriched/good/2026/01/02/00/"
            ]
        );
    }

    #[test]
    fn names_that_become_key_segments_are_checked_in_every_build() {
        let input = InputLayout::new("enriched/good").unwrap();
        let hour = input.hour("2026-01-02T03:00:00Z".parse().unwrap());
        assert!(input.part(&hour, "site-part.gz").is_ok());
        for bad in ["../escape", "a/b", ".hidden", "", "sp ace"] {
            assert!(input.part(&hour, bad).is_err(), "{bad:?}");
        }
        assert!(check_site(&"s".repeat(43)).is_ok());
        let err = check_site(&"s".repeat(44)).unwrap_err().to_string();
        assert!(err.contains("1 to 43"), "{err}");
        assert!(check_site("cache").is_err());
        assert!(HourFiles::cached("../x", "2026-01-02T03:00:00Z".parse().unwrap(), "1").is_err());
        assert!(HourFiles::cached("x", "2026-01-02T03:00:00Z".parse().unwrap(), "../1").is_err());
        assert!(catalog("a/b").is_err());
    }

    #[test]
    fn listing_keys_cannot_escape_the_root() {
        assert!(ObjectKey::from_listing("a/../b").is_err());
        assert!(ObjectKey::from_listing("/etc/passwd").is_err());
        assert!(ObjectKey::from_listing("a/b.gz").is_ok());
    }
}
