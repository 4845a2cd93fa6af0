use super::*;
use std::collections::HashMap;

fn from(pairs: &[(&str, &str)]) -> Result<Settings> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| m.get(k).cloned())
}

#[test]
fn documented_defaults() {
    let s = from(&[]).unwrap();
    assert_eq!(s.max_recs, 20);
    assert_eq!(s.days_of_data, 28);
    assert_eq!(s.als.factors, 64);
    assert_eq!(s.als.iterations, 15);
    assert!((s.als.regularization - 0.01).abs() < 1e-9);
}

#[test]
fn the_embedding_model_is_off_by_default_and_is_a_folder_or_a_model_name() {
    assert_eq!(from(&[]).unwrap().quality.selection.embeddings, None);
    let at = |v: &str| from(&[("CONTENT_EMBEDDINGS", v)]).map(|s| s.quality.selection.embeddings);
    assert_eq!(at("  ").unwrap(), None);
    assert_eq!(
        at("/opt/models/potion/").unwrap().as_deref(),
        Some("/opt/models/potion")
    );
    assert_eq!(at("potion-base-8M").unwrap().as_deref(), Some("potion-base-8M"));
    let e = at("../secrets").unwrap_err().to_string();
    assert!(e.contains("CONTENT_EMBEDDINGS"), "{e}");
    assert!(
        at("models/potion").is_err(),
        "a name is one segment under models/"
    );
}

#[test]
fn the_widget_schemas_and_the_online_evaluation_are_settings() {
    let s = from(&[]).unwrap();
    assert_eq!(s.widget, WidgetSchemas::default());
    assert_eq!(s.widget.event, "recommendation_flow");
    assert_eq!(
        (s.online.days, s.online.period_hours, s.online.gate),
        (2.0, 6, true)
    );
    let s = from(&[
        ("WIDGET_EVENT_SCHEMA", " com.example.news/recommendation_flow "),
        ("ONLINE_GATE", "off"),
        ("ONLINE_DAYS", "0.5"),
        ("SITES", "other"),
        (
            "SITE_SETTINGS",
            r#"{"other": {"widget": {"event": "widget_event", "model": "rec_model"}}}"#,
        ),
    ])
    .unwrap();
    assert_eq!(s.widget.event, "com.example.news/recommendation_flow");
    assert!(!s.online.gate);
    let other = s.for_site("other").unwrap();
    assert_eq!(
        (
            other.widget.event.as_str(),
            other.widget.model.as_str(),
            other.widget.article.as_str()
        ),
        ("widget_event", "rec_model", "article_recommendation"),
        "a site's widget overrides what it names, the rest is the default"
    );
    for (var, value) in [
        ("WIDGET_MODEL_SCHEMA", "a/b/c"),
        ("WIDGET_ARTICLE_SCHEMA", ""),
        ("ONLINE_GATE", "maybe"),
        ("ONLINE_PERIOD_HOURS", "5"),
        ("ONLINE_ALPHA", "0.7"),
        ("ONLINE_DAYS", "0"),
    ] {
        let e = from(&[(var, value)]).unwrap_err().to_string();
        assert!(e.contains(var), "{var}={value}: {e}");
    }
    let e = from(&[
        ("SITES", "other"),
        ("SITE_SETTINGS", r#"{"other": {"widget": {"event": "x y"}}}"#),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("widget.event"), "{e}");
}

#[test]
fn bad_values_name_the_variable() {
    let e = from(&[("MAX_RECS", "many")]).unwrap_err().to_string();
    assert!(e.contains("MAX_RECS"), "{e}");
    let e = from(&[("ALS_FACTORS", "0")]).unwrap_err().to_string();
    assert!(e.contains("ALS_FACTORS"), "{e}");
}

#[test]
fn debug_never_shows_the_database_password() {
    let s = from(&[("DATABASE_URL", "postgres://app:hunter2@db:5432/recs")]).unwrap();
    let shown = format!("{s:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres://app:***@db:5432/recs"), "{shown}");
}

/// Every field that may hold a URL, in every credential form: none of
/// the secrets reaches the Debug text that the cold start logs.
#[test]
fn debug_redacts_every_credential_form_in_every_url() {
    let s = from(&[
        (
            "DATABASE_URL",
            "postgres://db.internal/recs?user=app&password=qu1et",
        ),
        ("STORE_URL", "s3://bucket/prefix?token=t0ken"),
        ("INPUT_URL", "s3://snowplow"),
        ("S3_ENDPOINT_URL", "https://minio:m1nio-pw@s3.internal"),
        ("WORDPRESS_URL", "https://editor:wp-pw@site.example/"),
        ("SITES", "other"),
        (
            "SITE_SETTINGS",
            r#"{"other": {"wordpress_url": "https://bot:other-pw@other.example/"}}"#,
        ),
    ])
    .unwrap();
    for shown in [format!("{s:?}"), format!("{s:#?}")] {
        for secret in ["qu1et", "t0ken", "m1nio-pw", "wp-pw", "other-pw"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("password=***"), "{shown}");
        assert!(shown.contains("https://editor:***@site.example/"), "{shown}");
    }
}

#[test]
fn each_site_gets_its_own_app_id_and_metadata_source() {
    let s = from(&[
        ("SITE", "wcp"),
        ("APP_ID", "wcp-web"),
        ("WORDPRESS_URL", "https://wcp.example/wp"),
        ("SITES", "other, third"),
        (
            "SITE_SETTINGS",
            r#"{"other": {"app_id": "other-web", "wordpress_url": "https://other.example"}}"#,
        ),
    ])
    .unwrap();
    let wcp = s.for_site("wcp").unwrap();
    assert_eq!((wcp.site.as_str(), wcp.app_id.as_str()), ("wcp", "wcp-web"));
    assert_eq!(wcp.wordpress.url.as_deref(), Some("https://wcp.example/wp"));
    let other = s.for_site("other").unwrap();
    assert_eq!(
        (other.site.as_str(), other.app_id.as_str()),
        ("other", "other-web")
    );
    assert_eq!(other.wordpress.url.as_deref(), Some("https://other.example"));
    let third = s.for_site("third").unwrap();
    assert_eq!((third.site.as_str(), third.app_id.as_str()), ("third", "third"));
    assert_eq!(third.wordpress.url, None, "static catalogue, not wcp's API");
    let err = s.for_site("nowhere").unwrap_err().to_string();
    assert!(err.contains("\"nowhere\" is not configured here"), "{err}");
    assert!(err.contains("other,third"), "{err}");
}

#[test]
fn site_settings_are_checked() {
    let err = from(&[("SITE_SETTINGS", r#"{"ghost": {}}"#)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("neither SITE nor in SITES"), "{err}");
    let err = from(&[("SITES", "a"), ("SITE_SETTINGS", r#"{"a": {"appid": "x"}}"#)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("SITE_SETTINGS must be a JSON object"), "{err}");
    let err = from(&[
        ("SITES", "a"),
        ("SITE_SETTINGS", r#"{"a": {"wordpress_url": "ftp://x"}}"#),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("not an http(s) URL"), "{err}");
    let err = from(&[("SITES", "a/b")]).unwrap_err().to_string();
    assert!(err.contains("SITES"), "{err}");
    assert_eq!(
        from(&[("FETCH_MAP_MIN_HOURS", "0")]).unwrap().fetch_map_min_hours,
        0
    );
}
