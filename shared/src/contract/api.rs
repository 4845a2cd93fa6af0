//! The recommendation API's query (`GET /recs`), as the existing API answers
//! it from our tables: the widget's contract, reproduced so `article-rec recs`
//! and `article-rec serve` show exactly what readers will get.
//!
//! The API (LocalAtBrown/article-rec-api, `handlers/recommendation.py`)
//! answers `?source_entity_id=&site=&model_type=&exclude=&size=` with the
//! current model of that type's recommendations for the source, recommended
//! articles of the site and not in `exclude`; when there are none, with the
//! site's current `popularity` list (its first `size`, `exclude` not
//! applied). Each result is the recommendation row with its model and its
//! recommended article nested, datetimes in ISO 8601 and the score a decimal
//! string with six places, as its JSON encoder writes them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::contract::database::{ApiArticle, ApiModel, ApiRec, RecsQuery};
use crate::contract::database::{ModelType, RecDb, DEFAULT_SOURCE};
use crate::contract::error::Result;

/// The API's largest page (its `MAX_PAGE_SIZE`): `size` must be below it.
pub const MAX_PAGE_SIZE: u32 = 100;

impl RecsQuery {
    /// The query from a request's parameters, checked as the API checks them
    /// (its messages): `exclude` a comma-separated list of integers, `size` an
    /// integer below [`MAX_PAGE_SIZE`]. `site` defaults to `default_site`,
    /// `model_type` to `article`, `size` to `default_size`.
    ///
    /// # Errors
    /// The API's message (its 400 answer's) for a parameter it refuses.
    pub fn from_params(
        params: &BTreeMap<String, String>,
        default_site: &str,
        default_size: u32,
    ) -> std::result::Result<RecsQuery, String> {
        // the API tests its parameters for truth: an empty one is absent
        let get = |name: &str| params.get(name).filter(|v| !v.is_empty());
        let exclude = match get("exclude") {
            None => Vec::new(),
            Some(list) => {
                let ids: Vec<String> = list.split(',').map(str::to_string).collect();
                if ids.iter().any(|id| id.trim().parse::<i64>().is_err()) {
                    return Err(format!("Invalid input for 'exclude' (List[int]): {list}"));
                }
                ids.into_iter().map(|id| id.trim().to_string()).collect()
            }
        };
        let size = match params.get("size") {
            None => default_size,
            Some(s) => match s.trim().parse::<u32>() {
                Ok(n) if n < MAX_PAGE_SIZE => n,
                _ => {
                    return Err(format!(
                        "Invalid input for 'size' (int), must be below {MAX_PAGE_SIZE}: {s}"
                    ))
                }
            },
        };
        let model_type = match get("model_type").map(String::as_str) {
            None | Some("article") => ModelType::Article,
            Some("popularity") => ModelType::Popularity,
            Some(other) => {
                return Err(format!(
                    "Invalid input for 'model_type': {other} (article or popularity)"
                ))
            }
        };
        Ok(RecsQuery {
            site: get("site").cloned().unwrap_or_else(|| default_site.to_string()),
            source_entity_id: get("source_entity_id").cloned(),
            model_type,
            exclude,
            size,
        })
    }
}

/// The API's answer: `{"results": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecsAnswer {
    pub results: Vec<ApiRec>,
    /// Whether the results are the site's default list (not serialised: the
    /// API does not say; the CLI does).
    #[serde(skip)]
    pub fallback: bool,
}

/// What the API answers to `query`: the model's recommendations, or the
/// site's current defaults when there are none.
///
/// # Errors
/// `Db` on database failure.
pub async fn answer(db: &dyn RecDb, query: &RecsQuery) -> Result<RecsAnswer> {
    let results = db.api_recs(query).await?;
    if !results.is_empty() {
        return Ok(RecsAnswer {
            results,
            fallback: false,
        });
    }
    let defaults = RecsQuery {
        site: query.site.clone(),
        source_entity_id: Some(DEFAULT_SOURCE.to_string()),
        model_type: ModelType::Popularity,
        exclude: Vec::new(),
        size: query.size,
    };
    Ok(RecsAnswer {
        results: db.api_recs(&defaults).await?,
        fallback: true,
    })
}

/// A timestamp as Python's `datetime.isoformat()` writes an aware UTC one:
/// microseconds only when there are any, offset `+00:00`.
pub fn isoformat(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// A score as the API's JSON encoder writes a `numeric(7, 6)`.
pub fn decimal6(score: f64) -> String {
    format!("{score:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameters_are_checked_as_the_api_checks_them() {
        let q = RecsQuery::from_params(
            &params(&[("source_entity_id", "12"), ("exclude", "3,4"), ("size", "5")]),
            "example",
            20,
        )
        .unwrap();
        assert_eq!(q.site, "example");
        assert_eq!(q.exclude, ["3", "4"]);
        assert_eq!((q.size, q.model_type), (5, ModelType::Article));
        let bad = RecsQuery::from_params(&params(&[("exclude", "3,x")]), "example", 20).unwrap_err();
        assert_eq!(bad, "Invalid input for 'exclude' (List[int]): 3,x");
        let big = RecsQuery::from_params(&params(&[("size", "100")]), "example", 20).unwrap_err();
        assert_eq!(big, "Invalid input for 'size' (int), must be below 100: 100");
        assert!(RecsQuery::from_params(&params(&[("model_type", "user")]), "e", 20).is_err());
        // empty is absent, as the API's truth tests make it
        let empty = RecsQuery::from_params(
            &params(&[
                ("exclude", ""),
                ("source_entity_id", ""),
                ("model_type", ""),
                ("site", ""),
            ]),
            "example",
            20,
        )
        .unwrap();
        assert_eq!(
            (
                empty.exclude.len(),
                empty.source_entity_id,
                empty.model_type,
                empty.site.as_str()
            ),
            (0, None, ModelType::Article, "example")
        );
        // a truncated list is refused, not read as fewer ids
        assert!(RecsQuery::from_params(&params(&[("exclude", "3,")]), "e", 20).is_err());
    }

    #[test]
    fn timestamps_and_scores_are_written_as_the_api_writes_them() {
        let t: DateTime<Utc> = "2026-12-03T12:00:01.5Z".parse().unwrap();
        assert_eq!(isoformat(t), "2026-12-03T12:00:01.500000+00:00");
        let whole: DateTime<Utc> = "2026-12-03T12:00:01Z".parse().unwrap();
        assert_eq!(isoformat(whole), "2026-12-03T12:00:01+00:00");
        assert_eq!(decimal6(0.95), "0.950000");
        assert_eq!(decimal6(1.0), "1.000000");
    }
}
