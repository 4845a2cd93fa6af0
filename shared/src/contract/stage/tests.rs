use super::*;

fn run(site: &str, id: &str) -> RunRef {
    RunRef {
        site: site.into(),
        run_id: id.into(),
        as_of: "2026-01-02T00:00:00Z".parse().unwrap(),
    }
}

#[test]
fn rejects_names_that_could_escape_the_run_prefix() {
    assert!(run("wcp", "2026-01-02T00-00").validate().is_ok());
    assert!(run("../x", "a").validate().is_err());
    assert!(run("wcp", "a/b").validate().is_err());
    assert!(run("", "a").validate().is_err());
    assert!(run("cache", "a").validate().is_err());
    // a site name longer than 43 characters cannot name a schedule's execution
    assert!(run(&"s".repeat(43), "a").validate().is_ok());
    assert!(run(&"s".repeat(44), "a").validate().is_err());
}

#[test]
fn a_window_cannot_end_in_the_future_or_before_2000() {
    let at = |as_of: DateTime<Utc>| RunRef {
        as_of,
        ..run("wcp", "a")
    };
    let now = Utc::now();
    assert!(at(now).validate().is_ok());
    assert!(at(now + Duration::seconds(60)).validate().is_ok(), "clock skew");
    for bad in [
        now + Duration::hours(1),
        "2999-01-01T00:00:00Z".parse().unwrap(),
        "1999-12-31T23:59:59Z".parse().unwrap(),
        DateTime::UNIX_EPOCH,
    ] {
        let e = at(bad).validate().unwrap_err();
        assert_eq!(e.kind(), crate::contract::error::ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("as_of"), "{e}");
        // the names alone still find the run's files
        assert!(at(bad).validate_names().is_ok());
    }
}

#[test]
fn window_ends_at_as_of() {
    let w = run("wcp", "a").window(28);
    assert_eq!(w.end, run("wcp", "a").as_of);
    assert_eq!((w.end - w.start).num_days(), 28);
    assert!(!w.contains_ms(w.end.timestamp_millis()));
    assert!(w.contains_ms(w.start.timestamp_millis()));
}

#[test]
fn a_window_starts_at_the_top_of_an_hour_and_counts_whole_hours() {
    let r = RunRef {
        as_of: "2026-01-02T13:51:15Z".parse().unwrap(),
        ..run("wcp", "a")
    };
    let w = r.window(1);
    assert_eq!(w.start, "2026-01-01T13:00:00Z".parse::<DateTime<Utc>>().unwrap());
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap().timestamp_millis();
    assert!(!w.includes_bucket(at("2026-01-01T12:00:00Z"), false));
    assert!(w.includes_bucket(at("2026-01-01T13:00:00Z"), false));
    assert!(w.includes_bucket(at("2026-01-02T12:00:00Z"), false));
    // the hour of as_of: only as the partition still filling read it
    assert!(!w.includes_bucket(at("2026-01-02T13:00:00Z"), false));
    assert!(w.includes_bucket(at("2026-01-02T13:00:00Z"), true));
    assert!(!w.includes_bucket(at("2026-01-02T14:00:00Z"), true));
}
