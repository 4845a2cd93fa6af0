//! The recommendation widget's own events: a self-describing
//! `recommendation_flow` event (`unstruct_event`) whose `step_name` is
//! `widget_seen` or `widget_click`, with contexts naming the model that made
//! the recommendations and, for a click, the article clicked. Which schemas
//! those are is a setting ([`WidgetSchemas`]).

use serde::Deserialize;

use crate::settings::WidgetSchemas;
use crate::stages::fetch::snowplow::{BadRow, Contexts, Entity};

/// What the reader did with the widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidgetStep {
    /// The widget came into view.
    Seen,
    /// A recommendation in it was clicked.
    Click,
}

impl WidgetStep {
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetStep::Seen => "seen",
            WidgetStep::Click => "click",
        }
    }

    pub fn from_name(s: &str) -> Option<WidgetStep> {
        match s {
            "seen" => Some(WidgetStep::Seen),
            "click" => Some(WidgetStep::Click),
            _ => None,
        }
    }
}

/// What a widget event says, besides who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetAction {
    pub step: WidgetStep,
    /// The model's id as the widget sent it (the database's `model.id`).
    pub model_id: String,
    /// The model's type (`article` for item-item recommendations, `popularity` for defaults).
    pub model_type: String,
    /// The clicked article's external id (clicks only).
    pub article_id: Option<String>,
    /// The clicked recommendation's place in the widget, 1 first, when sent.
    pub position: Option<u32>,
}

/// Whether an Iglu URI (`iglu:vendor/name/format/version`) is the schema a
/// setting names (`name`, or `vendor/name`).
pub fn is_schema(uri: &str, wanted: &str) -> bool {
    let Some(rest) = uri.strip_prefix("iglu:") else {
        return false;
    };
    let mut parts = rest.splitn(3, '/');
    let (Some(vendor), Some(name)) = (parts.next(), parts.next()) else {
        return false;
    };
    match wanted.split_once('/') {
        Some((v, n)) => v == vendor && n == name,
        None => wanted == name,
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Entity<'a>,
}

#[derive(Deserialize)]
struct Flow {
    step_name: Option<String>,
}

#[derive(Deserialize)]
struct Model {
    id: Option<serde_json::Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Article {
    id: Option<serde_json::Value>,
    position: Option<serde_json::Value>,
}

fn widget_bad(why: String) -> BadRow {
    BadRow::Widget(why)
}

fn json_bad(field: &'static str) -> impl Fn(serde_json::Error) -> BadRow {
    move |e| BadRow::Json {
        field,
        error: e.to_string(),
    }
}

/// An id sent as a string or as a whole number; anything else is not an id.
fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// The longest model id: the database's ids are integers (19 digits at most).
pub const MAX_MODEL_ID: usize = 19;
/// The longest model type (`article`, `popularity`, or a future one).
pub const MAX_MODEL_TYPE: usize = 32;
/// The last position a widget may show (MAX_RECS is at most 1000).
pub const MAX_POSITION: u32 = 1000;
/// The longest article id (a WordPress id, a slug, a UUID).
pub const MAX_ARTICLE_ID: usize = 128;

/// The page sends these strings, so a reader's browser can put anything in
/// them: each is bounded in length and character set as it is read, and a
/// value outside is a bad row with its reason, never a row of the report.
fn bounded(what: &str, value: String, max: usize, ok: impl Fn(char) -> bool) -> Result<String, BadRow> {
    if value.len() > max {
        return Err(widget_bad(format!(
            "widget event's {what} is {} bytes long (at most {max}): {:?}...",
            value.len(),
            cut(&value)
        )));
    }
    if let Some(c) = value.chars().find(|c| !ok(*c)) {
        return Err(widget_bad(format!(
            "widget event's {what} {:?} has the character {c:?}",
            cut(&value)
        )));
    }
    Ok(value)
}

/// The widget event in an `unstruct` line, if the line is one; `Ok(None)` for
/// any other self-describing event.
///
/// # Errors
/// A [`BadRow`] for a widget event that cannot be counted: JSON that does not
/// parse, a step that is not `widget_seen` or `widget_click`, no model context
/// or one without `id` and `type`, a click without the clicked article's id.
pub fn widget_action(
    unstruct_event: &[u8],
    contexts: &[u8],
    schemas: &WidgetSchemas,
) -> Result<Option<WidgetAction>, BadRow> {
    if unstruct_event.is_empty() {
        return Ok(None);
    }
    let envelope: Envelope<'_> =
        serde_json::from_slice(unstruct_event).map_err(json_bad("unstruct_event"))?;
    if !is_schema(&envelope.data.schema, &schemas.event) {
        return Ok(None);
    }
    let flow: Flow = serde_json::from_str(envelope.data.data.get()).map_err(json_bad("unstruct_event"))?;
    let step = match flow.step_name.as_deref() {
        Some("widget_seen") => WidgetStep::Seen,
        Some("widget_click") => WidgetStep::Click,
        Some(other) => {
            return Err(widget_bad(format!(
                "widget event step_name {:?}: expected widget_seen or widget_click",
                cut(other)
            )))
        }
        None => return Err(widget_bad("widget event without step_name".into())),
    };
    let entities: Vec<Entity<'_>> = if contexts.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice::<Contexts<'_>>(contexts)
            .map_err(json_bad("contexts"))?
            .data
    };
    let mut model = None;
    let mut article = None;
    for e in &entities {
        if model.is_none() && is_schema(&e.schema, &schemas.model) {
            model = Some(serde_json::from_str::<Model>(e.data.get()).map_err(json_bad("contexts"))?);
        } else if article.is_none() && is_schema(&e.schema, &schemas.article) {
            article = Some(serde_json::from_str::<Article>(e.data.get()).map_err(json_bad("contexts"))?);
        }
    }
    let Some(model) = model else {
        return Err(widget_bad(format!(
            "widget event without a {} context naming the model",
            schemas.model
        )));
    };
    let model_id = model.id.as_ref().and_then(id_text);
    let model_type = model.kind.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let (Some(model_id), Some(model_type)) = (model_id, model_type) else {
        return Err(widget_bad(format!(
            "widget event's {} context lacks an id or a type",
            schemas.model
        )));
    };
    let model_id = bounded("model id", model_id, MAX_MODEL_ID, |c| c.is_ascii_digit())?;
    let model_type = bounded("model type", model_type, MAX_MODEL_TYPE, |c| {
        c.is_ascii_lowercase() || c == '_'
    })?;
    let (mut article_id, mut position) = (None, None);
    if let Some(a) = article {
        article_id = match a.id.as_ref().and_then(id_text) {
            Some(id) => Some(bounded("article id", id, MAX_ARTICLE_ID, |c| {
                c.is_ascii_graphic()
            })?),
            None => None,
        };
        position = match &a.position {
            None | Some(serde_json::Value::Null) => None,
            Some(p) => match p.as_u64().and_then(|p| u32::try_from(p).ok()) {
                Some(p) if (1..=MAX_POSITION).contains(&p) => Some(p),
                Some(p) if p > MAX_POSITION => {
                    return Err(widget_bad(format!(
                        "widget event's position {p}: a widget shows at most {MAX_POSITION}"
                    )))
                }
                _ => {
                    return Err(widget_bad(format!(
                        "widget event's position {}: expected a whole number from 1",
                        cut(&p.to_string())
                    )))
                }
            },
        };
    }
    if step == WidgetStep::Click && article_id.is_none() {
        return Err(widget_bad(format!(
            "widget_click without the clicked article's id (a {} context)",
            schemas.article
        )));
    }
    if step == WidgetStep::Seen {
        // a view is of the whole widget; an article context there says nothing clicked
        article_id = None;
        position = None;
    }
    Ok(Some(WidgetAction {
        step,
        model_id,
        model_type,
        article_id,
        position,
    }))
}

/// A value's first 64 characters, for a reason.
fn cut(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_is_named_by_its_name_or_vendor_and_name() {
        let uri = "iglu:org.example/recommendation_flow/jsonschema/1-0-2";
        assert!(is_schema(uri, "recommendation_flow"));
        assert!(is_schema(uri, "org.example/recommendation_flow"));
        assert!(!is_schema(uri, "com.other/recommendation_flow"));
        assert!(!is_schema(uri, "recommendation"));
        assert!(!is_schema(
            "org.example/recommendation_flow/jsonschema/1-0-0",
            "recommendation_flow"
        ));
        assert!(!is_schema("iglu:recommendation_flow", "recommendation_flow"));
    }

    #[test]
    fn strings_from_the_page_are_bounded_as_they_are_read() {
        let schemas = WidgetSchemas::default();
        let flow = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.example/recommendation_flow/jsonschema/1-0-0","data":{"step_name":"widget_click"}}}"#;
        let event = |model: &str, article: &str| {
            let contexts = format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{{"schema":"iglu:com.example/model/jsonschema/1-0-0","data":{model}}},{{"schema":"iglu:com.example/article_recommendation/jsonschema/1-0-0","data":{article}}}]}}"#
            );
            widget_action(flow.as_bytes(), contexts.as_bytes(), &schemas)
        };
        let ok = event(
            r#"{"id": 12, "type": "article"}"#,
            r#"{"id": "100001", "position": 2}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((ok.model_id.as_str(), ok.model_type.as_str()), ("12", "article"));
        let long = "a".repeat(900_000);
        for (model, article, reason) in [
            (
                format!(r#"{{"id": 12, "type": "{long}"}}"#),
                r#"{"id": "1"}"#.to_string(),
                "model type is 900000 bytes",
            ),
            (
                r#"{"id": "12; DROP", "type": "article"}"#.into(),
                r#"{"id": "1"}"#.into(),
                "model id",
            ),
            (
                r#"{"id": "1234567890123456789012", "type": "article"}"#.into(),
                r#"{"id": "1"}"#.into(),
                "model id is 22 bytes",
            ),
            (
                r#"{"id": 12, "type": "Article<script>"}"#.into(),
                r#"{"id": "1"}"#.into(),
                "model type",
            ),
            (
                r#"{"id": 12, "type": "article"}"#.into(),
                format!(r#"{{"id": "{}"}}"#, "9".repeat(200)),
                "article id is 200 bytes",
            ),
            (
                r#"{"id": 12, "type": "article"}"#.into(),
                r#"{"id": "a\u0007b"}"#.into(),
                "article id",
            ),
        ] {
            let e = event(&model, &article).unwrap_err().to_string();
            assert!(e.contains(reason), "{reason}: {e}");
            assert!(e.len() < 300, "the reason quotes a bounded part: {}", e.len());
        }
    }
}
