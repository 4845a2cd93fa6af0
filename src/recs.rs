//! `recs` and `serve`: the recommendations as the existing API answers its
//! `GET /recs` query ([`article_rec_core::contract::api`]), from the local SQLite
//! database or `DATABASE_URL`, so a widget developer sees what readers get.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use article_rec_core::contract::api::{answer, RecsQuery};
use article_rec_core::contract::database::{RecDb, DEFAULT_SOURCE};
use article_rec_core::Context;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// What `recs` asks for.
pub struct RecsArgs {
    pub article: Option<String>,
    pub defaults: bool,
    pub site: Option<String>,
    pub exclude: Vec<String>,
    pub size: Option<u32>,
}

/// The query parameters the API would get for these arguments.
fn params(args: &RecsArgs) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    if let Some(site) = &args.site {
        p.insert("site".to_string(), site.clone());
    }
    if args.defaults {
        p.insert("source_entity_id".to_string(), DEFAULT_SOURCE.to_string());
        p.insert("model_type".to_string(), "popularity".to_string());
    } else if let Some(article) = &args.article {
        p.insert("source_entity_id".to_string(), article.clone());
        p.insert("model_type".to_string(), "article".to_string());
    }
    if !args.exclude.is_empty() {
        p.insert("exclude".to_string(), args.exclude.join(","));
    }
    if let Some(size) = args.size {
        p.insert("size".to_string(), size.to_string());
    }
    p
}

/// Prints the API's answer (JSON) for an article or the defaults; says on
/// stderr when the answer is the site's defaults standing in.
pub async fn recs(ctx: Context, args: RecsArgs) -> anyhow::Result<()> {
    let settings = &ctx.settings;
    let default_size = u32::try_from(settings.max_recs).unwrap_or(u32::MAX);
    let query = RecsQuery::from_params(&params(&args), &settings.site, default_size)
        .map_err(article_rec_core::Error::InvalidInput)?;
    let got = answer(ctx.db()?, &query)
        .await
        .with_context(|| format!("recommendations of site {}", query.site))?;
    if got.fallback {
        eprintln!(
            "no recommendations for {} in site {}'s current article model: the site's current defaults, as the API answers",
            query.source_entity_id.as_deref().unwrap_or("any article"),
            query.site
        );
    }
    println!("{}", serde_json::to_string_pretty(&got)?);
    Ok(())
}

#[derive(Clone)]
struct Served {
    db: Arc<dyn RecDb>,
    site: String,
    size: u32,
}

/// The API's `GET /recs` (and `GET /health`) on `bind:port`, until stopped.
/// Prints the address it listens on first (port 0 picks a free one).
pub async fn serve(ctx: Context, bind: &str, port: u16) -> anyhow::Result<()> {
    let served = Served {
        db: ctx.shared_db()?,
        site: ctx.settings.site.clone(),
        size: u32::try_from(ctx.settings.max_recs).unwrap_or(u32::MAX),
    };
    let app = Router::new()
        .route("/recs", get(recs_handler))
        .route("/health", get(|| async { "OK" }))
        .with_state(served);
    let listener = tokio::net::TcpListener::bind((bind, port))
        .await
        .map_err(|e| article_rec_core::Error::InvalidInput(format!("cannot listen on {bind}:{port}: {e}")))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}/recs (the API's query; Ctrl-C stops)");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The API's headers: JSON, readable from any page (the widget's).
fn api_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Authorization"),
    );
    r
}

async fn recs_handler(State(s): State<Served>, Query(params): Query<BTreeMap<String, String>>) -> Response {
    let query = match RecsQuery::from_params(&params, &s.site, s.size) {
        Ok(q) => q,
        Err(message) => return api_response(StatusCode::BAD_REQUEST, json!({ "message": message })),
    };
    match answer(s.db.as_ref(), &query).await {
        Ok(got) => match serde_json::to_value(&got) {
            Ok(body) => api_response(StatusCode::OK, body),
            Err(e) => {
                eprintln!("error: answer of {params:?}: {e}");
                api_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"message": "INTERNAL_ERROR"}),
                )
            }
        },
        Err(e) => {
            eprintln!("error: {params:?}: {e}");
            api_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "INTERNAL_ERROR"}),
            )
        }
    }
}
