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

use super::{ArticleKey, Lookup, Site};
use crate::catalog::CatalogEntry;
use crate::error::{Error, Result};
use crate::snowplow::normalise_path;

/// The fields asked for, which keeps responses small. `modified_gmt` is not
/// used yet; it is logged, to tell a stale cache from an edited post.
const FIELDS: &str = "id,link,title,date_gmt,modified_gmt";
/// Ids per list request (`include=`); the answer comes in pages of `page_size`.
const IDS_PER_LIST: usize = 100;
/// The longest wait a `Retry-After` may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

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
}

#[derive(Debug, Deserialize)]
struct Rendered {
    rendered: String,
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
        url.query_pairs_mut().append_pair("_fields", FIELDS);
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
            .append_pair("_fields", FIELDS);
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

    /// Published posts among `ids`, paging through the list endpoint.
    ///
    /// # Errors
    /// Why a page failed: the caller falls back to one request per post.
    async fn posts_by_ids(
        &self,
        ids: &[&str],
    ) -> std::result::Result<HashMap<String, CatalogEntry>, PageFailure> {
        let failed = |why: String| PageFailure { why, refused: false };
        let mut found = HashMap::with_capacity(ids.len());
        let include = ids.join(",");
        let mut page = 1u32;
        loop {
            let mut url = self.posts_url("");
            url.query_pairs_mut()
                .append_pair("include", &include)
                .append_pair("per_page", &self.opts.page_size.to_string())
                .append_pair("page", &page.to_string())
                .append_pair("_fields", FIELDS);
            let (body, total_pages) = match self.get(url).await {
                Reply::Ok { body, total_pages } => (body, total_pages.unwrap_or(1)),
                Reply::Missing(status) => return Err(failed(format!("page {page} of posts: HTTP {status}"))),
                Reply::Refused(status) => {
                    return Err(PageFailure {
                        why: format!("page {page} of posts: {}", refused(status)),
                        refused: true,
                    })
                }
                Reply::Failed(why) => return Err(failed(format!("page {page} of posts: {why}"))),
            };
            let posts: Vec<WpPost> = serde_json::from_slice(&body)
                .map_err(|e| failed(format!("page {page} of posts: invalid JSON from WordPress: {e}")))?;
            for post in posts {
                let entry = entry_of(post).map_err(failed)?;
                found.insert(entry.external_id.clone(), entry);
            }
            if page >= total_pages {
                return Ok(found);
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
    Ok(CatalogEntry {
        external_id: post.id.to_string(),
        path: normalise_path(link.path()).into_owned(),
        title: (!title.is_empty()).then_some(title),
        published_at,
        exclude_reason: None,
    })
}

#[async_trait]
impl Site for WordPress {
    fn source(&self) -> &str {
        "WordPress"
    }

    async fn metadata(&self, articles: &[ArticleKey]) -> Vec<Lookup> {
        let mut out: Vec<Option<Lookup>> = vec![None; articles.len()];
        let by_id: Vec<usize> = (0..articles.len()).filter(|&i| numeric(&articles[i])).collect();
        let pages: Vec<Vec<usize>> = by_id.chunks(IDS_PER_LIST).map(<[usize]>::to_vec).collect();
        let listed = stream::iter(pages)
            .map(|chunk: Vec<usize>| async move {
                let ids: Vec<&str> = chunk.iter().map(|&i| articles[i].external_id.as_str()).collect();
                let result = self.posts_by_ids(&ids).await;
                (chunk, result)
            })
            .buffer_unordered(self.opts.concurrency)
            .collect::<Vec<_>>()
            .await;
        let mut one_by_one = Vec::new();
        for (chunk, result) in listed {
            match result {
                Ok(mut found) => {
                    for &i in &chunk {
                        out[i] = Some(match found.remove(&articles[i].external_id) {
                            Some(entry) => Lookup::Found(entry),
                            None => Lookup::Unknown {
                                exclude_reason: Some("no published WordPress post has this id".into()),
                            },
                        });
                    }
                }
                Err(PageFailure { why, refused: true }) => {
                    for &i in &chunk {
                        out[i] = Some(Lookup::Failed(why.clone()));
                    }
                }
                Err(PageFailure { why, .. }) => {
                    warn!(error = %why, posts = chunk.len(), "a page of posts failed; looking them up one by one");
                    one_by_one.extend_from_slice(&chunk);
                }
            }
        }
        // by slug: articles whose id is not a post id
        one_by_one.extend((0..articles.len()).filter(|&i| !numeric(&articles[i])));
        let single = stream::iter(one_by_one)
            .map(|i: usize| async move {
                let a = &articles[i];
                let lookup = if numeric(a) {
                    self.post_by_id(&a.external_id).await
                } else {
                    let slug = a
                        .path
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or_default();
                    self.post_by_slug(slug).await
                };
                (i, lookup)
            })
            .buffer_unordered(self.opts.concurrency)
            .collect::<Vec<_>>()
            .await;
        for (i, lookup) in single {
            out[i] = Some(lookup);
        }
        out.into_iter()
            .map(|l| l.unwrap_or_else(|| Lookup::Failed("not looked up".into())))
            .collect()
    }
}

/// A WordPress REST API on 127.0.0.1 serving `testdata/wordpress/posts.json`,
/// with a few posts that misbehave the ways real servers do.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::Router;
    use serde_json::Value;

    /// Fails with a 500 the first time it is asked for, then answers.
    pub(crate) const FLAKY: u64 = 500_001;
    /// Its JSON is cut off.
    pub(crate) const BROKEN: u64 = 500_002;
    /// Answers after 3 s.
    pub(crate) const SLOW: u64 = 500_003;
    pub(crate) const SLOW_FOR: Duration = Duration::from_secs(3);

    const POSTS: &str = include_str!("../../testdata/wordpress/posts.json");
    const NOT_FOUND: &str = include_str!("../../testdata/wordpress/error-404.json");

    #[derive(Clone)]
    struct Shared {
        posts: Arc<Vec<Value>>,
        hits: Arc<Mutex<HashMap<String, u32>>>,
        /// A web application firewall in front of the site: every request gets a 403.
        blocked: Arc<std::sync::atomic::AtomicBool>,
    }

    fn firewall(st: &Shared) -> Option<Response> {
        st.blocked.load(std::sync::atomic::Ordering::SeqCst).then(|| {
            let mut r = (
                StatusCode::FORBIDDEN,
                "<!DOCTYPE html><title>Attention Required! | Cloudflare</title><h1>Sorry, you have been blocked</h1>",
            )
                .into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/html; charset=UTF-8"));
            r
        })
    }

    impl Shared {
        fn hit(&self, key: &str) -> u32 {
            let mut hits = self.hits.lock().unwrap();
            let n = hits.entry(key.to_string()).or_default();
            *n += 1;
            *n
        }

        fn post(&self, id: u64) -> Option<Value> {
            if let Some(p) = self.posts.iter().find(|p| p["id"] == id) {
                return Some(p.clone());
            }
            // the misbehaving posts are copies of the first, renumbered
            [FLAKY, BROKEN, SLOW].contains(&id).then(|| {
                let mut p = self.posts[0].clone();
                p["id"] = id.into();
                p["slug"] = format!("post-{id}").into();
                p["link"] = format!("https://washingtoncitypaper.com/article/{id}/post-{id}/").into();
                p
            })
        }
    }

    fn json(status: StatusCode, body: String, headers: HeaderMap) -> Response {
        let mut r = (status, headers, body).into_response();
        r.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        r
    }

    fn server_error() -> Response {
        json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"code":"internal_server_error","message":"There has been a critical error on this website.","data":{"status":500}}"#.into(),
            HeaderMap::new(),
        )
    }

    fn truncated(post: &Value) -> String {
        let full = post.to_string();
        full[..full.len() / 2].to_string()
    }

    async fn one(State(st): State<Shared>, Path(id): Path<String>) -> Response {
        let n = st.hit(&format!("post/{id}"));
        if let Some(blocked) = firewall(&st) {
            return blocked;
        }
        let Some(post) = id.parse().ok().and_then(|id| st.post(id)) else {
            return json(StatusCode::NOT_FOUND, NOT_FOUND.into(), HeaderMap::new());
        };
        match post["id"].as_u64() {
            Some(FLAKY) if n == 1 => server_error(),
            Some(BROKEN) => json(StatusCode::OK, truncated(&post), HeaderMap::new()),
            Some(SLOW) => {
                tokio::time::sleep(SLOW_FOR).await;
                json(StatusCode::OK, post.to_string(), HeaderMap::new())
            }
            _ => json(StatusCode::OK, post.to_string(), HeaderMap::new()),
        }
    }

    async fn list(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
        st.hit("list");
        if let Some(blocked) = firewall(&st) {
            return blocked;
        }
        if let Some(slug) = q.get("slug") {
            let found: Vec<&Value> = st.posts.iter().filter(|p| p["slug"] == slug.as_str()).collect();
            return json(
                StatusCode::OK,
                serde_json::to_string(&found).unwrap(),
                HeaderMap::new(),
            );
        }
        let ids: Vec<u64> = q
            .get("include")
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        let posts: Vec<Value> = ids.iter().filter_map(|&id| st.post(id)).collect();
        if ids.contains(&BROKEN) {
            return json(StatusCode::OK, truncated(&Value::Array(posts)), HeaderMap::new());
        }
        if ids.contains(&SLOW) {
            tokio::time::sleep(SLOW_FOR).await;
        }
        if ids.contains(&FLAKY) && st.hit("list-with-flaky") == 1 {
            return server_error();
        }
        let per_page: usize = q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(10);
        let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
        let pages = posts.len().div_ceil(per_page).max(1);
        if page > pages {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"code":"rest_post_invalid_page_number","message":"The page number requested is larger than the number of pages available.","data":{"status":400}}"#.into(),
                HeaderMap::new(),
            );
        }
        let body: Vec<&Value> = posts.iter().skip((page - 1) * per_page).take(per_page).collect();
        let mut headers = HeaderMap::new();
        headers.insert("x-wp-total", posts.len().into());
        headers.insert("x-wp-totalpages", pages.into());
        json(StatusCode::OK, serde_json::to_string(&body).unwrap(), headers)
    }

    pub(crate) struct FakeWordPress {
        pub(crate) url: String,
        shared: Shared,
        server: tokio::task::JoinHandle<()>,
    }

    impl FakeWordPress {
        pub(crate) async fn start() -> FakeWordPress {
            let shared = Shared {
                posts: Arc::new(serde_json::from_str(POSTS).unwrap()),
                hits: Arc::default(),
                blocked: Arc::default(),
            };
            let app = Router::new()
                .route("/wp-json/wp/v2/posts", get(list))
                .route("/wp-json/wp/v2/posts/{id}", get(one))
                .with_state(shared.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let server = tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            });
            FakeWordPress { url, shared, server }
        }

        /// Requests seen for `post/<id>`, `list` or `list-with-flaky`.
        pub(crate) fn hits(&self, key: &str) -> u32 {
            self.shared.hits.lock().unwrap().get(key).copied().unwrap_or(0)
        }

        /// Puts a firewall in front of the site (every request: 403) or takes it away.
        pub(crate) fn block(&self, on: bool) {
            self.shared.blocked.store(on, std::sync::atomic::Ordering::SeqCst);
        }

        pub(crate) fn ids(&self) -> Vec<String> {
            self.shared.posts.iter().map(|p| p["id"].to_string()).collect()
        }
    }

    impl Drop for FakeWordPress {
        fn drop(&mut self) {
            self.server.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant as StdInstant;

    use super::fake::{FakeWordPress, BROKEN, FLAKY, SLOW, SLOW_FOR};
    use super::*;

    fn opts() -> WordPressOptions {
        WordPressOptions {
            requests_per_sec: 1000.0,
            backoff: Duration::from_millis(20),
            ..WordPressOptions::default()
        }
    }

    fn key(id: impl ToString) -> ArticleKey {
        let id = id.to_string();
        ArticleKey {
            path: format!("/article/{id}/some-slug"),
            external_id: id,
        }
    }

    fn found(l: &Lookup) -> &CatalogEntry {
        match l {
            Lookup::Found(e) => e,
            other => panic!("expected metadata, got {other:?}"),
        }
    }

    /// A firewall's 403 (or a 401) says nothing about a post: every lookup
    /// fails (asked again next run), none is an exclusion, and a refused
    /// page is not retried post by post.
    #[tokio::test]
    async fn a_refused_request_is_a_failed_lookup_not_an_answer() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(&wp.url, opts()).unwrap();
        wp.block(true);
        let ids = ["516627", "516542", "516670"];
        let keys: Vec<ArticleKey> = ids.iter().map(key).collect();
        let looked = client.metadata(&keys).await;
        for l in &looked {
            match l {
                Lookup::Failed(why) => {
                    assert!(why.contains("HTTP 403") && why.contains("asked again"), "{why}")
                }
                other => panic!("a refusal must not be an answer: {other:?}"),
            }
        }
        assert_eq!(wp.hits("list"), 1, "one page refused, no retries");
        assert!(
            ids.iter().all(|id| wp.hits(&format!("post/{id}")) == 0),
            "no post-by-post fallback"
        );
        assert!(matches!(client.post_by_id("516627").await, Lookup::Failed(_)));
        assert!(matches!(
            client.post_by_slug("some-slug").await,
            Lookup::Failed(_)
        ));
        wp.block(false);
        let looked = client.metadata(&keys).await;
        assert!(looked.iter().all(|l| matches!(l, Lookup::Found(_))), "{looked:?}");
    }

    #[tokio::test]
    async fn a_normal_post_by_id_and_by_slug() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(&wp.url, opts()).unwrap();
        let post = client.post_by_id("516627").await;
        let e = found(&post);
        assert_eq!(e.external_id, "516627");
        assert_eq!(
            e.title.as_deref(),
            Some("Crazy Aunt Helen\u{2019}s Is Capitol Hill\u{2019}s New Destination for Comfort Food")
        );
        assert_eq!(
            e.path,
            "/article/516627/crazy-aunt-helens-is-capitol-hills-new-destination-for-comfort-food"
        );
        assert_eq!(
            e.published_at,
            Some("2021-05-12T18:09:09Z".parse().unwrap()),
            "date_gmt, not the local date"
        );
        let by_slug = client
            .post_by_slug("crazy-aunt-helens-is-capitol-hills-new-destination-for-comfort-food")
            .await;
        assert_eq!(by_slug, post);
        let amp = client.post_by_id("516670").await;
        assert_eq!(
            found(&amp).title.as_deref(),
            Some("D.C. Council Weighs School Budgets & Recovery Funds")
        );
    }

    #[tokio::test]
    async fn an_unknown_slug_or_id_is_excluded_not_failed() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(&wp.url, opts()).unwrap();
        match client.post_by_slug("no-such-story").await {
            Lookup::Unknown {
                exclude_reason: Some(why),
            } => assert!(why.contains("no-such-story"), "{why}"),
            other => panic!("{other:?}"),
        }
        match client.post_by_id("999").await {
            Lookup::Unknown {
                exclude_reason: Some(why),
            } => assert!(why.contains("HTTP 404"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(wp.hits("post/999"), 1, "a 404 is an answer, not retried");
        let all = client.metadata(&[key(516627), key(999)]).await;
        assert!(
            matches!(
                &all[1],
                Lookup::Unknown {
                    exclude_reason: Some(_)
                }
            ),
            "{all:?}"
        );
    }

    #[tokio::test]
    async fn metadata_pages_through_the_list() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(
            &wp.url,
            WordPressOptions {
                page_size: 2,
                ..opts()
            },
        )
        .unwrap();
        let ids = wp.ids();
        assert_eq!(ids.len(), 3);
        let keys: Vec<ArticleKey> = ids.iter().map(key).collect();
        let all = client.metadata(&keys).await;
        for (k, l) in keys.iter().zip(&all) {
            assert_eq!(found(l).external_id, k.external_id);
        }
        assert_eq!(wp.hits("list"), 2, "3 posts in pages of 2");
        assert!(
            ids.iter().all(|id| wp.hits(&format!("post/{id}")) == 0),
            "no one-by-one lookups"
        );
    }

    #[tokio::test]
    async fn a_server_error_is_retried() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(&wp.url, opts()).unwrap();
        let all = client.metadata(&[key(FLAKY), key(516627)]).await;
        assert_eq!(found(&all[0]).external_id, FLAKY.to_string());
        assert_eq!(found(&all[1]).external_id, "516627");
        assert_eq!(wp.hits("list-with-flaky"), 2, "one 500, then the retry");
        // without retries the page fails, and so does the post on its own
        let wp = FakeWordPress::start().await;
        let once = WordPress::new(
            &wp.url,
            WordPressOptions {
                attempts: 1,
                ..opts()
            },
        )
        .unwrap();
        assert!(
            matches!(once.post_by_id(&FLAKY.to_string()).await, Lookup::Failed(why) if why.contains("HTTP 500"))
        );
    }

    #[tokio::test]
    async fn malformed_json_skips_only_that_post() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(&wp.url, opts()).unwrap();
        let all = client.metadata(&[key(516627), key(BROKEN), key(516542)]).await;
        assert_eq!(found(&all[0]).external_id, "516627");
        match &all[1] {
            Lookup::Failed(why) => assert!(
                why.contains("invalid JSON") && why.contains(&BROKEN.to_string()),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(found(&all[2]).external_id, "516542");
        assert_eq!(wp.hits("list"), 1);
        assert_eq!(
            wp.hits("post/516627"),
            1,
            "the broken page is looked up post by post"
        );
    }

    #[tokio::test]
    async fn a_slow_server_times_out() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(
            &wp.url,
            WordPressOptions {
                timeout: Duration::from_millis(200),
                attempts: 2,
                ..opts()
            },
        )
        .unwrap();
        let started = StdInstant::now();
        let all = client.metadata(&[key(SLOW)]).await;
        match &all[0] {
            Lookup::Failed(why) => assert!(why.contains("timed out after 0.2 s"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < SLOW_FOR, "gave up before the server answered");
        assert_eq!(wp.hits(&format!("post/{SLOW}")), 2, "each attempt timed out");
    }

    #[tokio::test]
    async fn requests_are_paced() {
        let wp = FakeWordPress::start().await;
        let client = WordPress::new(
            &wp.url,
            WordPressOptions {
                requests_per_sec: 20.0,
                ..opts()
            },
        )
        .unwrap();
        let started = StdInstant::now();
        let lookups = futures::future::join_all((0..6).map(|_| client.post_by_id("516627"))).await;
        assert!(lookups.iter().all(|l| matches!(l, Lookup::Found(_))));
        // six requests at 20 a second: the last starts 5 intervals of 50 ms after the first
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(wp.hits("post/516627"), 6);
    }

    #[test]
    fn bad_urls_and_options_are_config_errors() {
        assert!(WordPress::new("ftp://example.com", opts()).is_err());
        assert!(WordPress::new("not a url", opts()).is_err());
        assert!(WordPress::new(
            "https://example.com",
            WordPressOptions {
                page_size: 0,
                ..opts()
            }
        )
        .is_err());
        let sub = WordPress::new("https://example.com/news", opts()).unwrap();
        assert_eq!(
            sub.posts_url("/5").as_str(),
            "https://example.com/news/wp-json/wp/v2/posts/5"
        );
    }
}
