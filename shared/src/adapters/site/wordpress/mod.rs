//! Metadata from a WordPress site's REST API (`/wp-json/wp/v2/posts`).
//!
//! Articles are looked up a page of ids at a time (`include=`, paging through
//! `X-WP-TotalPages`); if a page fails (a server error that outlasts the
//! retries, a body that is not JSON), its articles are looked up one by one,
//! so one broken post costs only itself. Requests are paced (a fixed rate),
//! bounded by a timeout and retried with exponential backoff on timeouts,
//! connection errors, 429 and 5xx.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::contract::error::{Error, Result};
use crate::contract::paths::normalise_path;
use crate::contract::site::{ArticleKey, CatalogEntry, Lookup, Site};
use crate::settings::WordPressOptions;

mod site;

/// The fields asked for, which keeps responses small. `modified_gmt` is not
/// used yet; it is logged, to tell a stale cache from an edited post. The
/// term names come embedded (`_embed=wp:term`), which WordPress honours
/// under `_fields` only when `_links` and `_embedded` are among them.
const FIELDS: &str = "id,link,title,date_gmt,modified_gmt,excerpt,categories,tags,_links,_embedded";
/// Only the posts' terms (categories and tags) are embedded, not authors or media.
const EMBED: &str = "wp:term";
/// Ids per list request (`include=`); the answer comes in pages of `page_size`.
const IDS_PER_LIST: usize = 100;
/// WordPress compares `after` and `before` with the post's local date, in
/// the site's time zone: the window asked for is widened by the largest
/// offset there is, and the answer cut to the window by `date_gmt`.
const LOCAL_TIME_MARGIN: chrono::TimeDelta = chrono::TimeDelta::hours(14);
/// At most this many pages of a listing (100 posts each at most).
const MAX_LISTING_PAGES: u32 = 200;
/// The longest wait a `Retry-After` may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct WordPress {
    base: reqwest::Url,
    client: reqwest::Client,
    opts: WordPressOptions,
    pacer: Pacer,
}

/// A fixed request rate: each request takes the next free slot.
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(per_sec: f64) -> Pacer {
        Pacer {
            interval: Duration::from_secs_f64(1.0 / per_sec),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// A post as the API returns it (with `_fields`, only these).
#[derive(Debug, Deserialize)]
struct WpPost {
    id: u64,
    link: String,
    title: Rendered,
    #[serde(default)]
    date_gmt: Option<String>,
    #[serde(default)]
    modified_gmt: Option<String>,
    #[serde(default)]
    excerpt: Option<Rendered>,
    #[serde(default, rename = "_embedded")]
    embedded: Option<Embedded>,
}

#[derive(Debug, Deserialize)]
struct Rendered {
    rendered: String,
}

/// `_embedded`: the post's terms, one list per taxonomy.
#[derive(Debug, Default, Deserialize)]
struct Embedded {
    #[serde(default, rename = "wp:term")]
    terms: Vec<Vec<WpTerm>>,
}

/// A term; a taxonomy the API does not expose comes as an error object,
/// which parses with an empty name and is dropped.
#[derive(Debug, Deserialize)]
struct WpTerm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    taxonomy: String,
}

/// Plain text of a rendered HTML fragment: tags dropped, entities decoded,
/// white space collapsed; `None` when no word is left (WordPress renders an
/// empty excerpt as an ellipsis).
fn plain_text(html: &str) -> Option<String> {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = html_escape::decode_html_entities(&text);
    let words = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    words.chars().any(char::is_alphanumeric).then_some(words)
}

/// The outcome of one request after its retries.
enum Reply {
    Ok {
        body: bytes::Bytes,
        total_pages: Option<u32>,
    },
    /// 404, 410: the post does not exist (or was deleted).
    Missing(reqwest::StatusCode),
    /// 401, 403: the site refused us (a firewall, an expired key), which
    /// says nothing about the post: a failed lookup, asked again next run.
    Refused(reqwest::StatusCode),
    Failed(String),
}

/// Why a 401 or 403 is not an answer about a post.
fn refused(status: reqwest::StatusCode) -> String {
    format!(
        "HTTP {}: WordPress refused the request (a firewall or credentials), which says nothing about the post; asked again next run",
        status.as_u16()
    )
}

/// Why a page of posts failed, and whether asking post by post could help.
struct PageFailure {
    why: String,
    /// The site refuses every request: one request per post would only be
    /// refused the same way, so they are not made.
    refused: bool,
}

impl WordPress {
    /// # Errors
    /// `Config` for a URL that is not http(s) or options out of range.
    pub fn new(url: &str, opts: WordPressOptions) -> Result<WordPress> {
        opts.check()?;
        let mut base =
            reqwest::Url::parse(url).map_err(|e| Error::Config(format!("WORDPRESS_URL {url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!("WORDPRESS_URL {url:?}: not http(s)")));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .user_agent(concat!("article-rec/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(WordPress {
            base,
            client,
            pacer: Pacer::new(opts.requests_per_sec),
            opts,
        })
    }

    fn posts_url(&self, suffix: &str) -> reqwest::Url {
        // the base ends with '/', so joining keeps any sub-directory install
        self.base
            .join(&format!("wp-json/wp/v2/posts{suffix}"))
            .unwrap_or_else(|_| self.base.clone())
    }

    /// One post by id: `Unknown` with a reason when there is no public post.
    pub async fn post_by_id(&self, id: &str) -> Lookup {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Lookup::Failed(format!("post id {id:?} is not a number"));
        }
        let mut url = self.posts_url(&format!("/{id}"));
        url.query_pairs_mut()
            .append_pair("_fields", FIELDS)
            .append_pair("_embed", EMBED);
        match self.get(url).await {
            Reply::Ok { body, .. } => match serde_json::from_slice::<WpPost>(&body) {
                Ok(post) => entry_of(post).map_or_else(Lookup::Failed, Lookup::Found),
                Err(e) => Lookup::Failed(format!("post {id}: invalid JSON from WordPress: {e}")),
            },
            Reply::Missing(status) => missing(status),
            Reply::Refused(status) => Lookup::Failed(format!("post {id}: {}", refused(status))),
            Reply::Failed(why) => Lookup::Failed(format!("post {id}: {why}")),
        }
    }

    /// One post by slug (the last segment of its path).
    pub async fn post_by_slug(&self, slug: &str) -> Lookup {
        let mut url = self.posts_url("");
        url.query_pairs_mut()
            .append_pair("slug", slug)
            .append_pair("_fields", FIELDS)
            .append_pair("_embed", EMBED);
        match self.get(url).await {
            Reply::Ok { body, .. } => match serde_json::from_slice::<Vec<WpPost>>(&body) {
                Ok(posts) => match posts.into_iter().next() {
                    Some(post) => entry_of(post).map_or_else(Lookup::Failed, Lookup::Found),
                    None => Lookup::Unknown {
                        exclude_reason: Some(format!("no published WordPress post has slug {slug:?}")),
                    },
                },
                Err(e) => Lookup::Failed(format!("slug {slug}: invalid JSON from WordPress: {e}")),
            },
            Reply::Missing(status) => missing(status),
            Reply::Refused(status) => Lookup::Failed(format!("slug {slug}: {}", refused(status))),
            Reply::Failed(why) => Lookup::Failed(format!("slug {slug}: {why}")),
        }
    }

    /// One page of the posts list with `query` (besides paging, fields and
    /// embeds): its posts and the page count WordPress reports.
    ///
    /// # Errors
    /// Why the page failed, prefixed with "page N of `what`".
    async fn page_of_posts(
        &self,
        query: &[(&str, &str)],
        page: u32,
        what: &str,
    ) -> std::result::Result<(Vec<WpPost>, u32), PageFailure> {
        let failed = |why: String| PageFailure {
            why: format!("page {page} of {what}: {why}"),
            refused: false,
        };
        let mut url = self.posts_url("");
        url.query_pairs_mut()
            .extend_pairs(query)
            .append_pair("per_page", &self.opts.page_size.to_string())
            .append_pair("page", &page.to_string())
            .append_pair("_fields", FIELDS)
            .append_pair("_embed", EMBED);
        let (body, total_pages) = match self.get(url).await {
            Reply::Ok { body, total_pages } => (body, total_pages.unwrap_or(1)),
            Reply::Missing(status) => return Err(failed(format!("HTTP {status}"))),
            Reply::Refused(status) => {
                return Err(PageFailure {
                    refused: true,
                    ..failed(refused(status))
                })
            }
            Reply::Failed(why) => return Err(failed(why)),
        };
        let posts =
            serde_json::from_slice(&body).map_err(|e| failed(format!("invalid JSON from WordPress: {e}")))?;
        Ok((posts, total_pages))
    }

    /// Published posts among `ids`, paging through the list endpoint.
    ///
    /// # Errors
    /// Why a page failed: the caller falls back to one request per post.
    async fn posts_by_ids(
        &self,
        ids: &[&str],
    ) -> std::result::Result<HashMap<String, CatalogEntry>, PageFailure> {
        let mut found = HashMap::with_capacity(ids.len());
        let include = ids.join(",");
        let mut page = 1u32;
        loop {
            let (posts, total_pages) = self
                .page_of_posts(&[("include", &include)], page, "posts")
                .await?;
            for post in posts {
                let entry = entry_of(post).map_err(|why| PageFailure { why, refused: false })?;
                found.insert(entry.external_id.clone(), entry);
            }
            if page >= total_pages {
                return Ok(found);
            }
            page += 1;
        }
    }

    /// Posts published in `[since, until]`, newest first, paging through the list.
    async fn posts_published(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> std::result::Result<Vec<CatalogEntry>, String> {
        let local = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let (after, before) = (local(since - LOCAL_TIME_MARGIN), local(until + LOCAL_TIME_MARGIN));
        let query = [
            ("after", after.as_str()),
            ("before", before.as_str()),
            ("orderby", "date"),
            ("order", "desc"),
        ];
        let mut out = Vec::new();
        let mut page = 1u32;
        loop {
            let (posts, total_pages) = self
                .page_of_posts(&query, page, "the listing")
                .await
                .map_err(|f| f.why)?;
            for post in posts {
                let entry = entry_of(post)?;
                if entry.published_at.is_some_and(|p| p >= since && p <= until) {
                    out.push(entry);
                }
            }
            if page >= total_pages {
                return Ok(out);
            }
            if page >= MAX_LISTING_PAGES {
                warn!(
                    pages = total_pages,
                    read = page,
                    "listing cut short: more pages than read"
                );
                return Ok(out);
            }
            page += 1;
        }
    }

    /// GET with pacing, timeout and retries. Returns the final answer.
    async fn get(&self, url: reqwest::Url) -> Reply {
        let mut delay = self.opts.backoff;
        let mut last = String::new();
        for attempt in 1..=self.opts.attempts {
            if attempt > 1 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            self.pacer.wait().await;
            debug!(%url, attempt, "WordPress GET");
            let resp = match self.client.get(url.clone()).send().await {
                Ok(resp) => resp,
                Err(e) => {
                    last = if e.is_timeout() {
                        format!("timed out after {:.1} s", self.opts.timeout.as_secs_f64())
                    } else {
                        format!("request failed: {e}")
                    };
                    continue;
                }
            };
            let status = resp.status();
            if status.is_success() {
                let total_pages = resp
                    .headers()
                    .get("x-wp-totalpages")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                match resp.bytes().await {
                    Ok(body) => return Reply::Ok { body, total_pages },
                    Err(e) => {
                        last = if e.is_timeout() {
                            format!(
                                "timed out reading the body after {:.1} s",
                                self.opts.timeout.as_secs_f64()
                            )
                        } else {
                            format!("reading the body: {e}")
                        };
                        continue;
                    }
                }
            }
            if matches!(status.as_u16(), 404 | 410) {
                return Reply::Missing(status);
            }
            if matches!(status.as_u16(), 401 | 403) {
                warn!(%url, %status, "WordPress refused the request");
                return Reply::Refused(status);
            }
            last = format!("HTTP {status}");
            if status.as_u16() == 429 || status.is_server_error() {
                if let Some(wait) = retry_after(&resp) {
                    delay = delay.max(wait);
                }
                continue;
            }
            // any other 4xx: asking again will not help
            break;
        }
        warn!(%url, attempts = self.opts.attempts, error = %last, "WordPress request failed");
        Reply::Failed(last)
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

fn numeric(a: &ArticleKey) -> bool {
    !a.external_id.is_empty() && a.external_id.bytes().all(|b| b.is_ascii_digit())
}

fn missing(status: reqwest::StatusCode) -> Lookup {
    Lookup::Unknown {
        exclude_reason: Some(format!("no public WordPress post (HTTP {})", status.as_u16())),
    }
}

/// WordPress GMT times have no zone suffix: `2021-05-12T18:09:09`.
fn gmt(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

fn entry_of(post: WpPost) -> std::result::Result<CatalogEntry, String> {
    let link = reqwest::Url::parse(&post.link)
        .map_err(|e| format!("post {}: link {:?}: {e}", post.id, post.link))?;
    let published_at = match post.date_gmt.as_deref() {
        Some(d) => Some(gmt(d).ok_or_else(|| format!("post {}: date_gmt {d:?} is not a GMT time", post.id))?),
        None => None,
    };
    debug!(post = post.id, modified_gmt = ?post.modified_gmt, "WordPress post");
    let title = html_escape::decode_html_entities(&post.title.rendered)
        .trim()
        .to_string();
    let mut categories = Vec::new();
    let mut tags = Vec::new();
    for term in post.embedded.unwrap_or_default().terms.into_iter().flatten() {
        let Some(name) = plain_text(&term.name) else {
            continue;
        };
        match term.taxonomy.as_str() {
            "category" => categories.push(name),
            "post_tag" => tags.push(name),
            _ => {}
        }
    }
    let mut categories = categories.into_iter();
    let section = categories.next();
    Ok(CatalogEntry {
        external_id: post.id.to_string(),
        path: normalise_path(link.path()).into_owned(),
        title: (!title.is_empty()).then_some(title),
        published_at,
        exclude_reason: None,
        excerpt: post.excerpt.and_then(|e| plain_text(&e.rendered)),
        section,
        tags: categories.chain(tags).collect(),
    })
}

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;
