use super::*;

/// A valid page ping line with the given overrides by field name.
pub(crate) fn line(overrides: &[(&str, &str)]) -> String {
    let mut cols = vec![String::new(); f::FIELD_COUNT];
    let defaults = [
        ("app_id", "site"),
        ("platform", "web"),
        ("collector_tstamp", "2026-01-02 03:04:05.678"),
        ("event", "page_ping"),
        ("event_id", "e0a3b7a2-6b1c-4a43-9d55-0c8f3b0b6a01"),
        ("domain_userid", "reader-1"),
        ("network_userid", "net-1"),
        ("page_url", "https://site.example/article/1/slug/"),
        ("page_urlhost", "site.example"),
        ("page_urlpath", "/article/1/slug/"),
        ("useragent", "Mozilla/5.0"),
        ("derived_tstamp", "2026-01-02 03:04:05.123"),
    ];
    for (name, value) in defaults.iter().chain(overrides) {
        let i = f::FIELDS.iter().position(|n| n == name).unwrap();
        cols[i] = value.to_string();
    }
    cols.join("\t")
}

fn bot(useragent: &str, derived_contexts: &str) -> Result<bool, BadRow> {
    is_bot(useragent.as_bytes(), derived_contexts.as_bytes())
}

fn keep(l: &str) -> Event<'_> {
    match parse_line(l, "site").unwrap() {
        Parsed::Keep(e) => e,
        other => panic!("expected Keep, got {other:?}"),
    }
}

#[test]
fn field_table_matches_the_handout() {
    let handout =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/snowplow-enriched-fields.txt");
    let text = std::fs::read_to_string(&handout)
        .unwrap_or_else(|e| panic!("{} is needed by this test: {e}", handout.display()));
    let names: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(names, f::FIELDS);
}

#[test]
fn reads_a_page_ping() {
    let l = line(&[]);
    let e = keep(&l);
    assert_eq!(e.client_id, "reader-1");
    assert_eq!(e.event, PageEvent::PagePing);
    assert_eq!(e.path, "/article/1/slug");
    // derived_tstamp wins over collector_tstamp
    assert_eq!(e.time_ms, 1_767_323_045_123);
}

#[test]
fn falls_back_to_collector_time_and_network_id() {
    let l = line(&[("derived_tstamp", ""), ("domain_userid", "")]);
    let e = keep(&l);
    assert_eq!(e.time_ms, 1_767_323_045_678);
    assert_eq!(e.client_id, "net-1");
}

#[test]
fn amp_client_id_comes_from_contexts() {
    let ctx = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:dev.amp.snowplow/amp_id/jsonschema/1-0-0","data":{"ampClientId":"amp-xyz"}}]}"#;
    let l = line(&[("domain_userid", ""), ("contexts", ctx)]);
    assert_eq!(keep(&l).client_id, "amp-xyz");
}

#[test]
fn malformed_lines_say_why() {
    assert_eq!(parse_line("a\tb", "site"), Err(BadRow::FieldCount(2)));
    let l = line(&[("derived_tstamp", "2026-13-40 99:00:00")]);
    assert!(matches!(
        parse_line(&l, "site"),
        Err(BadRow::Timestamp {
            field: "derived_tstamp",
            ..
        })
    ));
    let l = line(&[("contexts", "{\"schema\":")]);
    assert!(matches!(
        parse_line(&l, "site"),
        Err(BadRow::Json {
            field: "contexts",
            ..
        })
    ));
}

#[test]
fn event_ids_are_uuids() {
    let id = |v: &str| match parse_line(&line(&[("event_id", v)]), "site") {
        Ok(Parsed::Keep(e)) => Ok(e.event_id.to_string()),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e.to_string()),
    };
    let canonical = "e0a3b7a2-6b1c-4a43-9d55-0c8f3b0b6a01";
    assert_eq!(id(canonical).as_deref(), Ok(canonical));
    // the same UUID written otherwise is the same id
    assert_eq!(id(&canonical.to_uppercase()).as_deref(), Ok(canonical));
    assert_eq!(id(&canonical.replace('-', "")).as_deref(), Ok(canonical));
    assert_eq!(id("").unwrap_err(), "missing event_id");
    assert_eq!(
        id("e0a3b7a2-6b1c-4a43-9d55-0c8f3b0b6a0").unwrap_err(),
        r#"event_id is not a UUID: "e0a3b7a2-6b1c-4a43-9d55-0c8f3b0b6a0""#
    );
    assert_eq!(
        id(&"x".repeat(100)).unwrap_err(),
        format!("event_id is not a UUID: {:?}", "x".repeat(64))
    );
}

#[test]
fn skips_other_events_apps_bots_and_anonymous_lines() {
    let skip = |o: &[(&str, &str)]| match parse_line(&line(o), "site").unwrap() {
        Parsed::Skip(s) => Some(s),
        Parsed::Keep(_) | Parsed::Widget(_) => None,
    };
    assert_eq!(skip(&[("event", "struct")]), Some(Skip::NotPageEvent));
    assert_eq!(skip(&[("app_id", "other")]), Some(Skip::OtherApp));
    assert_eq!(skip(&[("useragent", "Googlebot/2.1")]), Some(Skip::Bot));
    let iab = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0","data":{"spiderOrRobot":true,"category":"SPIDER_OR_ROBOT"}}]}"#;
    assert_eq!(skip(&[("derived_contexts", iab)]), Some(Skip::Bot));
    assert_eq!(
        skip(&[("domain_userid", ""), ("network_userid", "")]),
        Some(Skip::NoReader)
    );
    assert_eq!(skip(&[]), None);
}

#[test]
fn contexts_are_checked_on_every_line_but_read_only_for_amp() {
    let web = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"x"}}]}"#;
    assert_eq!(keep(&line(&[("contexts", web)])).client_id, "reader-1");
    // JSON of another shape has no AMP id to give; that is not a bad row
    assert_eq!(keep(&line(&[("contexts", "[1, 2]")])).client_id, "reader-1");
    // broken JSON is, with serde's reason or the checker's position
    let l = line(&[("contexts", r#"{"data":[{"schema":"web_page"}"#)]);
    assert_eq!(
        parse_line(&l, "site"),
        Err(BadRow::Json {
            field: "contexts",
            error: "EOF while parsing a list at byte 30".into()
        })
    );
    let amp_broken = r#"{"data":[{"schema":"iglu:dev.amp.snowplow/amp_id/jsonschema/1-0-0"}]}"#;
    assert!(matches!(
        parse_line(&line(&[("domain_userid", ""), ("contexts", amp_broken)]), "site"),
        Err(BadRow::Json { field: "contexts", error }) if error.contains("missing field `data`")
    ));
    // with a cookie id the AMP id is not needed, so its shape is not read
    assert_eq!(keep(&line(&[("contexts", amp_broken)])).client_id, "reader-1");
}

#[test]
fn robots_by_iab_verdict_or_user_agent() {
    let iab = |verdict: &str| {
        format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{{"schema":"iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0","data":{{"spiderOrRobot":{verdict},"category":"BROWSER"}}}},{{"schema":"iglu:x/y/jsonschema/1-0-0","data":{{"mobile":true}}}}]}}"#
        )
    };
    assert_eq!(bot("Mozilla/5.0", &iab("false")), Ok(false));
    assert_eq!(bot("Mozilla/5.0", &iab("true")), Ok(true));
    // read (and so checked) only where a verdict may be
    assert_eq!(bot("Mozilla/5.0", r#"{"spiders_and_robots": fals}"#), Ok(false));
    assert!(matches!(
        bot("Mozilla/5.0", r#"{"spiders_and_robots": true]"#),
        Err(BadRow::Json {
            field: "derived_contexts",
            ..
        })
    ));
    for ua in ["Googlebot/2.1", "BOT", "a SpIdEr", "crawler", "x crawl"] {
        assert_eq!(bot(ua, ""), Ok(true), "{ua}");
    }
    // at every offset, in and across the 16-byte blocks
    for at in 0..40 {
        let ua = format!("{}Crawler{}", "x".repeat(at), "y".repeat(40 - at));
        assert_eq!(bot(&ua, ""), Ok(true), "{ua}");
        assert_eq!(bot(&ua.replace("Crawler", "Crowler"), ""), Ok(false));
    }
    for ua in [
        "",
        "b",
        "Mozilla/5.0 (Bo; Spide; Craw)",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15",
    ] {
        assert_eq!(bot(ua, ""), Ok(false), "{ua}");
    }
}

proptest::proptest! {
    #[test]
    fn timestamps_agree_with_chrono(y in 0u32..10_000, m in 0u32..14, d in 0u32..33, secs in 0u32..86_400, ms in 0u32..1000) {
        let text = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{ms:03}", secs / 3600, secs / 60 % 60, secs % 60);
        let chrono = chrono::NaiveDate::from_ymd_opt(y as i32, m, d)
            .and_then(|day| day.and_hms_milli_opt(secs / 3600, secs / 60 % 60, secs % 60, ms))
            .map(|t| t.and_utc().timestamp_millis());
        proptest::prop_assert_eq!(parse_tstamp(&text), chrono, "{}", text);
    }
}

#[test]
fn timestamps() {
    assert_eq!(parse_tstamp("1970-01-01 00:00:01"), Some(1000));
    assert_eq!(parse_tstamp("1970-01-01 00:00:01.5"), Some(1500));
    assert_eq!(parse_tstamp("1970-01-01 00:00:01.123456"), Some(1123));
    assert_eq!(parse_tstamp("2024-02-30 00:00:00"), None);
    assert_eq!(parse_tstamp("1970-01-01 00:00:01."), None);
    assert_eq!(parse_tstamp("not a time at all!!"), None);
    assert_eq!(parse_tstamp(""), None);
}

#[test]
fn paths_are_normalised() {
    assert_eq!(normalise_path("/article/1/caf%C3%A9/"), "/article/1/café");
    assert_eq!(normalise_path("/a/b?x=1#top"), "/a/b");
    assert_eq!(normalise_path("/"), "/");
    assert_eq!(normalise_path(""), "/");
    assert_eq!(normalise_path("a/b/"), "/a/b");
    assert_eq!(normalise_path("//"), "/");
    assert!(matches!(normalise_path("/a/b/?q"), Cow::Borrowed("/a/b")));
    assert_eq!(normalise_path("/a%20b/%2F/"), "/a b");
    assert_eq!(path_of_url("https://h.example/x/y/?q=1"), "/x/y/");
    assert_eq!(path_of_url("https://h.example"), "");
}

/// The widget's events as the Snowplow JavaScript tracker sends them and
/// enrich writes them: the event in `unstruct_event`, wrapped in the
/// `unstruct_event` envelope; the model and article in `contexts`.
pub(crate) mod widget_events {
    use super::*;
    use crate::stages::fetch::snowplow::widget::WidgetStep;

    pub(crate) const FLOW: &str = "iglu:com.example.news/recommendation_flow/jsonschema/1-0-0";
    pub(crate) const MODEL: &str = "iglu:com.example.news/model/jsonschema/1-0-0";
    pub(crate) const ARTICLE: &str = "iglu:com.example.news/article_recommendation/jsonschema/1-0-0";

    pub(crate) fn unstruct(schema: &str, data: &str) -> String {
        format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{{"schema":"{schema}","data":{data}}}}}"#
        )
    }

    pub(crate) fn contexts(entities: &[(&str, &str)]) -> String {
        let inner: Vec<String> = entities
            .iter()
            .map(|(schema, data)| format!(r#"{{"schema":"{schema}","data":{data}}}"#))
            .collect();
        format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{}]}}"#,
            inner.join(",")
        )
    }

    /// A widget event line, with more fields overridden by `more`.
    pub(crate) fn widget_line_with(step: &str, entities: &[(&str, &str)], more: &[(&str, &str)]) -> String {
        let flow = unstruct(FLOW, &format!(r#"{{"step_name":"{step}"}}"#));
        let ctx = contexts(entities);
        let mut fields = vec![
            ("event", "unstruct"),
            ("unstruct_event", flow.as_str()),
            ("contexts", ctx.as_str()),
        ];
        fields.extend_from_slice(more);
        line(&fields)
    }

    fn widget_line(step: &str, entities: &[(&str, &str)]) -> String {
        line(&[
            ("event", "unstruct"),
            (
                "unstruct_event",
                &unstruct(FLOW, &format!(r#"{{"step_name":"{step}"}}"#)),
            ),
            ("contexts", &contexts(entities)),
        ])
    }

    fn parsed(l: &str) -> Result<Parsed<'_>, String> {
        let schemas = WidgetSchemas::default();
        parse_with(&Line::first(l.as_bytes(), &READ), "site", Some(&schemas)).map_err(|e| e.to_string())
    }

    fn widget(l: &str) -> WidgetEvent<'_> {
        match parsed(l) {
            Ok(Parsed::Widget(w)) => w,
            other => panic!("expected a widget event, got {other:?}"),
        }
    }

    #[test]
    fn a_seen_and_a_click_are_read_with_their_model_and_article() {
        let web_page = (
            "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
            r#"{"id":"5f1b0c1e-8a0e-4a8c-9a7e-0b7f6b1d2c3e"}"#,
        );
        let seen_line = widget_line(
            "widget_seen",
            &[web_page, (MODEL, r#"{"id":1234,"type":"article"}"#)],
        );
        let seen = widget(&seen_line);
        assert_eq!(seen.action.step, WidgetStep::Seen);
        assert_eq!(
            (seen.action.model_id.as_str(), seen.action.model_type.as_str()),
            ("1234", "article")
        );
        assert_eq!((seen.action.article_id, seen.action.position), (None, None));
        assert_eq!(
            (seen.client_id.as_ref(), seen.path.as_ref()),
            ("reader-1", "/article/1/slug")
        );
        assert_eq!(seen.time_ms, 1_767_323_045_123);

        let click_line = widget_line(
            "widget_click",
            &[
                (MODEL, r#"{"id":"77","type":"popularity"}"#),
                (ARTICLE, r#"{"id":98765,"position":3}"#),
                web_page,
            ],
        );
        let click = widget(&click_line);
        assert_eq!(click.action.step, WidgetStep::Click);
        assert_eq!(
            (click.action.model_id.as_str(), click.action.model_type.as_str()),
            ("77", "popularity")
        );
        assert_eq!(click.action.article_id.as_deref(), Some("98765"));
        assert_eq!(click.action.position, Some(3));
    }

    #[test]
    fn without_widget_schemas_or_for_another_event_nothing_changes() {
        let l = widget_line("widget_seen", &[(MODEL, r#"{"id":1,"type":"article"}"#)]);
        assert_eq!(parse_line(&l, "site").unwrap(), Parsed::Skip(Skip::NotPageEvent));
        let link_click = line(&[
            ("event", "unstruct"),
            (
                "unstruct_event",
                &unstruct(
                    "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
                    r#"{"targetUrl":"https://site.example/"}"#,
                ),
            ),
        ]);
        assert_eq!(parsed(&link_click), Ok(Parsed::Skip(Skip::NotPageEvent)));
        // a schema of another vendor with the same name is still the widget's
        // unless the setting names the vendor
        let schemas = WidgetSchemas {
            event: "com.other/recommendation_flow".into(),
            ..WidgetSchemas::default()
        };
        let split = Line::first(l.as_bytes(), &READ);
        assert_eq!(
            parse_with(&split, "site", Some(&schemas)).unwrap(),
            Parsed::Skip(Skip::NotPageEvent)
        );
        // widget events of robots and of other apps are skipped like page events
        let bot = line(&[
            ("event", "unstruct"),
            (
                "unstruct_event",
                &unstruct(FLOW, r#"{"step_name":"widget_seen"}"#),
            ),
            ("contexts", &contexts(&[(MODEL, r#"{"id":1,"type":"article"}"#)])),
            ("useragent", "Googlebot/2.1"),
        ]);
        assert_eq!(parsed(&bot), Ok(Parsed::Skip(Skip::Bot)));
        let other = l.replacen("site", "other", 1);
        assert_eq!(parsed(&other), Ok(Parsed::Skip(Skip::OtherApp)));
    }

    #[test]
    fn malformed_widget_events_are_bad_rows_with_their_reason() {
        let model = (MODEL, r#"{"id":1,"type":"article"}"#);
        let cases: Vec<(String, &str)> = vec![
            (
                widget_line("widget_hover", &[model]),
                r#"widget event step_name "widget_hover": expected widget_seen or widget_click"#,
            ),
            (
                line(&[
                    ("event", "unstruct"),
                    ("unstruct_event", &unstruct(FLOW, r#"{"step":"widget_seen"}"#)),
                    ("contexts", &contexts(&[model])),
                ]),
                "widget event without step_name",
            ),
            (
                widget_line("widget_seen", &[]),
                "widget event without a model context naming the model",
            ),
            (
                widget_line("widget_seen", &[(MODEL, r#"{"id":1}"#)]),
                "widget event's model context lacks an id or a type",
            ),
            (
                widget_line("widget_seen", &[(MODEL, r#"{"id":[1],"type":"article"}"#)]),
                "widget event's model context lacks an id or a type",
            ),
            (
                widget_line("widget_click", &[model]),
                "widget_click without the clicked article's id (a article_recommendation context)",
            ),
            (
                widget_line("widget_click", &[model, (ARTICLE, r#"{"id":"5","position":0}"#)]),
                "widget event's position 0: expected a whole number from 1",
            ),
            (
                widget_line(
                    "widget_click",
                    &[model, (ARTICLE, r#"{"id":"5","position":"2"}"#)],
                ),
                r#"widget event's position "2": expected a whole number from 1"#,
            ),
        ];
        for (l, reason) in &cases {
            assert_eq!(parsed(l).as_ref().map(|_| ()), Err(&reason.to_string()), "{l}");
        }
        // JSON that does not parse: the field is named
        let broken = line(&[
            ("event", "unstruct"),
            (
                "unstruct_event",
                r#"{"schema":"x","data":{"schema":"recommendation_flow","data":"#,
            ),
        ]);
        let err = parsed(&broken).unwrap_err();
        assert!(err.starts_with("invalid JSON in unstruct_event"), "{err}");
        let broken_model = widget_line("widget_seen", &[(MODEL, r#"{"id":1,"type":7}"#)]);
        let err = parsed(&broken_model).unwrap_err();
        assert!(err.starts_with("invalid JSON in contexts"), "{err}");
        // a widget event is still an event: it needs an event id
        let no_id = widget_line("widget_seen", &[model]).replace("e0a3b7a2-6b1c-4a43-9d55-0c8f3b0b6a01", "");
        assert_eq!(parsed(&no_id).unwrap_err(), "missing event_id");
    }
}
