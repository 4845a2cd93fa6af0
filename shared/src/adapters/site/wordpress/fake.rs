//! A WordPress REST API on 127.0.0.1 serving `testdata/wordpress/posts.json`,
//! with a few posts that misbehave the ways real servers do.
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

const POSTS: &str = include_str!("../../../../testdata/wordpress/posts.json");
const NOT_FOUND: &str = include_str!("../../../../testdata/wordpress/error-404.json");

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

/// The site's terms: id -> (name as WordPress renders it, taxonomy).
const TERMS: [(u64, &str, &str); 3] = [
    (7, "News", "category"),
    (101, "D.C. Council", "post_tag"),
    (102, "Education &amp; Schools", "post_tag"),
];

/// A post as WordPress answers for this query: with `_embed` (all, or a
/// list naming `wp:term`) its terms under `_embedded`, one list per
/// taxonomy, but only when `_fields` lets `_embedded` through.
fn answer(mut post: Value, q: &HashMap<String, String>) -> Value {
    let embed = q
        .get("_embed")
        .is_some_and(|e| e.is_empty() || e.split(',').any(|x| x == "wp:term"));
    let fields_allow = q
        .get("_fields")
        .is_none_or(|f| f.split(',').any(|x| x == "_embedded"));
    if embed && fields_allow {
        let terms = |key: &str| -> Vec<Value> {
            post[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|id| TERMS.iter().find(|t| id == &Value::from(t.0)))
                .map(|(id, name, taxonomy)| serde_json::json!({"id": id, "name": name, "taxonomy": taxonomy}))
                .collect()
        };
        let embedded = serde_json::json!({"wp:term": [terms("categories"), terms("tags")]});
        post["_embedded"] = embedded;
    }
    post
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

async fn one(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let n = st.hit(&format!("post/{id}"));
    if let Some(blocked) = firewall(&st) {
        return blocked;
    }
    let Some(post) = id.parse().ok().and_then(|id| st.post(id)).map(|p| answer(p, &q)) else {
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
        let found: Vec<Value> = st
            .posts
            .iter()
            .filter(|p| p["slug"] == slug.as_str())
            .map(|p| answer(p.clone(), &q))
            .collect();
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
    let posts: Vec<Value> = if q.contains_key("include") {
        ids.iter()
            .filter_map(|&id| st.post(id))
            .map(|p| answer(p, &q))
            .collect()
    } else {
        listing(&st.posts, &q)
    };
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

/// Every post, or those with `after` < local `date` < `before` as WordPress
/// compares them (the post's local date against the parameter's digits,
/// whatever zone the parameter names), newest first for `orderby=date`.
fn listing(posts: &[Value], q: &HashMap<String, String>) -> Vec<Value> {
    let local = |v: &str| v.get(..19).unwrap_or(v).to_string();
    let mut out: Vec<Value> = posts
        .iter()
        .filter(|p| {
            let date = p["date"].as_str().unwrap_or_default();
            q.get("after").is_none_or(|a| date > local(a).as_str())
                && q.get("before").is_none_or(|b| date < local(b).as_str())
        })
        .map(|p| answer(p.clone(), q))
        .collect();
    if q.get("orderby").is_some_and(|o| o == "date") {
        let asc = q.get("order").is_some_and(|o| o == "asc");
        out.sort_by(|a, b| {
            let (x, y) = (a["date"].as_str(), b["date"].as_str());
            if asc {
                x.cmp(&y)
            } else {
                y.cmp(&x)
            }
        });
    }
    out
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
