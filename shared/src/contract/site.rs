//! A site: which page paths are articles, their external ids, and where their
//! metadata comes from. The path rule is the one of the sites the job serves
//! (WordPress permalinks `/article/<id>/<slug>`), including Google's AMP viewer
//! paths `/v/s/<host>/article/<id>/<slug>`, which the original job lost.
//! Metadata comes from the site's WordPress REST API (`adapters::site::WordPress`) or from a
//! static catalogue file (`adapters::site::StaticCatalog`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An article whose metadata is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleKey {
    pub external_id: String,
    /// The canonical path it was read on (a slug lookup needs it).
    pub path: String,
}

/// What a metadata source knows of one article.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Title, link, publish time.
    Found(CatalogEntry),
    /// The source does not know it. With a reason, the article must never be
    /// recommended (e.g. the API says there is no such post).
    Unknown { exclude_reason: Option<String> },
    /// The source failed for this article (after retries): skipped this run,
    /// counted, tried again next run.
    Failed(String),
}

/// A site's article rule and metadata source.
#[async_trait]
pub trait Site: Send + Sync + std::fmt::Debug {
    /// Where metadata comes from, for logs and exclusion reasons.
    fn source(&self) -> &str;

    /// The article a normalised path points at, if it is one.
    fn article_of<'p>(&self, path: &'p str) -> Option<ArticleRef<'p>> {
        article_of(path)
    }

    /// Metadata of these articles, in the same order. Never fails as a whole:
    /// a failing article is [`Lookup::Failed`] and the rest go on.
    async fn metadata(&self, articles: &[ArticleKey]) -> Vec<Lookup>;

    /// The stories published in `[since, until]` (until: the run's time), whether or not anyone read
    /// them: the candidate window's unread articles.
    ///
    /// # Errors
    /// Why the listing failed; the run goes on with the articles read.
    async fn published(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> std::result::Result<Vec<CatalogEntry>, String>;
}

/// One article's metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub external_id: String,
    pub path: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub published_at: Option<DateTime<Utc>>,
    /// Why the article must never be recommended (e.g. "sponsored"), if so.
    #[serde(default)]
    pub exclude_reason: Option<String>,
    /// A short summary in plain text (WordPress: the excerpt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// The site's section (WordPress: the first category).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Tag names (WordPress: the other categories, then the tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// What of an article's text is kept: a site's API or file can hold a
/// whole story (or anything) in an excerpt; the job needs a title, a
/// summary and a few tags.
pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_EXCERPT_CHARS: usize = 2_000;
pub const MAX_SECTION_CHARS: usize = 200;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 100;
pub const MAX_REASON_CHARS: usize = 500;

/// `s` cut to its first `max` characters.
fn cut_chars(s: &mut String, max: usize) -> bool {
    match s.char_indices().nth(max) {
        Some((i, _)) => {
            s.truncate(i);
            true
        }
        None => false,
    }
}

impl CatalogEntry {
    /// The entry with its text cut to what is kept ([`MAX_EXCERPT_CHARS`]
    /// and the rest), and whether anything was cut.
    pub fn bounded(mut self) -> (CatalogEntry, bool) {
        let mut cut = false;
        for (field, max) in [
            (&mut self.title, MAX_TITLE_CHARS),
            (&mut self.excerpt, MAX_EXCERPT_CHARS),
            (&mut self.section, MAX_SECTION_CHARS),
            (&mut self.exclude_reason, MAX_REASON_CHARS),
        ] {
            if let Some(v) = field.as_mut() {
                cut |= cut_chars(v, max);
            }
        }
        if self.tags.len() > MAX_TAGS {
            self.tags.truncate(MAX_TAGS);
            cut = true;
        }
        for t in &mut self.tags {
            cut |= cut_chars(t, MAX_TAG_CHARS);
        }
        (self, cut)
    }

    /// The tags as stored in one text column: one per line, each trimmed and
    /// on one line, empty ones dropped; `None` without tags.
    pub fn tags_text(tags: &[String]) -> Option<String> {
        let clean: Vec<String> = tags
            .iter()
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|t| !t.is_empty())
            .collect();
        (!clean.is_empty()).then(|| clean.join("\n"))
    }

    /// The tags of a text column written by [`CatalogEntry::tags_text`].
    pub fn tags_of(text: Option<&str>) -> Vec<String> {
        text.map(|t| t.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// An article a path points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleRef<'a> {
    /// The site's own id for the article (the WordPress post id).
    pub external_id: &'a str,
    /// The path without any AMP viewer prefix.
    pub canonical_path: &'a str,
}

/// The article a normalised path points at, or `None` for non-article pages
/// (home page, section fronts, `/article/<non-numeric>/...`).
pub fn article_of(path: &str) -> Option<ArticleRef<'_>> {
    let canonical = strip_amp_viewer(path);
    let rest = canonical.strip_prefix("/article/")?;
    let id = rest.split('/').next()?;
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(ArticleRef {
        external_id: id,
        canonical_path: canonical,
    })
}

/// `/v/s/<host>/rest` → `/rest`; other paths unchanged.
fn strip_amp_viewer(path: &str) -> &str {
    let Some(after) = path.strip_prefix("/v/s/") else {
        return path;
    };
    match after.find('/') {
        Some(i) => &after[i..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_paths_and_amp_viewer_paths_map_to_one_article() {
        let web = article_of("/article/503532/at-a-rakes-progress").unwrap();
        let amp = article_of("/v/s/washingtoncitypaper.com/article/503532/at-a-rakes-progress").unwrap();
        assert_eq!(web, amp);
        assert_eq!(web.external_id, "503532");
        assert_eq!(amp.canonical_path, "/article/503532/at-a-rakes-progress");
    }

    #[test]
    fn fronts_and_non_numeric_ids_are_not_articles() {
        assert_eq!(article_of("/"), None);
        assert_eq!(article_of("/section/news"), None);
        assert_eq!(article_of("/article/emailnewsletter/d-c-calls-for-pause"), None);
        assert_eq!(article_of("/article/"), None);
        assert_eq!(article_of("/v/s/host.example"), None);
    }

    #[test]
    fn an_entry_keeps_a_bounded_amount_of_text() {
        let big = CatalogEntry {
            external_id: "1".into(),
            path: "/article/1/x".into(),
            title: Some("t".repeat(10)),
            excerpt: Some("é".repeat(10_000_000)),
            tags: (0..80).map(|i| format!("tag {i} {}", "x".repeat(200))).collect(),
            ..CatalogEntry::default()
        };
        let (kept, cut) = big.bounded();
        assert!(cut);
        assert_eq!(kept.title.as_deref(), Some("tttttttttt"));
        assert_eq!(kept.excerpt.unwrap().chars().count(), MAX_EXCERPT_CHARS);
        assert_eq!(kept.tags.len(), MAX_TAGS);
        assert!(kept.tags.iter().all(|t| t.chars().count() == MAX_TAG_CHARS));
        let small = CatalogEntry {
            title: Some("Budget".into()),
            ..CatalogEntry::default()
        };
        assert_eq!(small.clone().bounded(), (small, false));
    }
}
