//! Execution names and windows: pure, so the same call always means the same
//! window (Step Functions refuses a second execution of a name for 90 days).

use chrono::{DateTime, TimeDelta, Utc};

/// Step Functions' limit on an execution name.
pub const MAX_NAME: usize = 80;

/// Attempts of one window beyond which `aws run` and `backfill` stop.
pub const MAX_ATTEMPTS: u32 = 9;

/// `<site>-<as-of>` for the first attempt at a window, `<site>-<as-of>-r<n>`
/// for a later one (the name is also the run id: `runs/<site>/<name>/`).
pub fn execution_name(site: &str, as_of: DateTime<Utc>, attempt: u32) -> String {
    let base = format!("{site}-{}", as_of.format("%Y-%m-%dT%H-%M-%SZ"));
    if attempt <= 1 {
        base
    } else {
        format!("{base}-r{attempt}")
    }
}

/// Which attempt at the window `name` is, if it is one.
pub fn attempt_of(name: &str, site: &str, as_of: DateTime<Utc>) -> Option<u32> {
    let base = execution_name(site, as_of, 1);
    let rest = name.strip_prefix(&base)?;
    if rest.is_empty() {
        return Some(1);
    }
    let n: u32 = rest.strip_prefix("-r")?.parse().ok()?;
    (n >= 2).then_some(n)
}

/// The window ends from `from` to `to` (included when a step lands on it),
/// `every_hours` apart.
pub fn windows(from: DateTime<Utc>, to: DateTime<Utc>, every_hours: u32) -> Vec<DateTime<Utc>> {
    let step = TimeDelta::hours(i64::from(every_hours.max(1)));
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        out.push(t);
        t += step;
    }
    out
}

/// The exit code of a deployed run that failed with Step Functions error
/// `error` (the stage's `ArticleRec.*` type, or the service's own), as a local
/// run of the same failure exits.
pub fn exit_code_of(error: &str) -> u8 {
    match error {
        "ArticleRec.Data" => 1,
        "ArticleRec.InvalidInput" => 2,
        "ArticleRec.Transient" | "States.Timeout" | "States.HeartbeatTimeout" => 3,
        "ArticleRec.AccessDenied" | "States.Permissions" => 5,
        e if e.starts_with("Lambda.") && !e.contains("ResourceNotFound") => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_window_has_one_name_per_attempt_and_each_name_says_its_attempt() {
        let as_of = t("2026-12-03T12:00:00Z");
        assert_eq!(
            execution_name("example", as_of, 1),
            "example-2026-12-03T12-00-00Z"
        );
        assert_eq!(
            execution_name("example", as_of, 2),
            "example-2026-12-03T12-00-00Z-r2"
        );
        for n in 1..=MAX_ATTEMPTS {
            assert_eq!(
                attempt_of(&execution_name("example", as_of, n), "example", as_of),
                Some(n)
            );
        }
        // another site, another window, or a schedule's execution is none of them
        assert_eq!(attempt_of("example-2026-12-03T12-00-00Z", "other", as_of), None);
        assert_eq!(attempt_of("example-2026-12-03T14-00-00Z", "example", as_of), None);
        assert_eq!(
            attempt_of("example-2026-12-03T12-00-00Z-r1", "example", as_of),
            None
        );
        assert_eq!(
            attempt_of("example-2026-12-03T12-00-00Z-rx", "example", as_of),
            None
        );
        assert_eq!(attempt_of("example-0b1c2d3e-4f50", "example", as_of), None);
    }

    #[test]
    fn windows_step_from_the_first_to_the_last_included() {
        let w = windows(t("2026-11-01T00:00:00Z"), t("2026-11-02T00:00:00Z"), 12);
        assert_eq!(
            w,
            vec![
                t("2026-11-01T00:00:00Z"),
                t("2026-11-01T12:00:00Z"),
                t("2026-11-02T00:00:00Z")
            ]
        );
        assert_eq!(
            windows(t("2026-11-01T00:00:00Z"), t("2026-11-01T23:00:00Z"), 24).len(),
            1
        );
        assert!(windows(t("2026-11-02T00:00:00Z"), t("2026-11-01T00:00:00Z"), 24).is_empty());
    }

    #[test]
    fn a_deployed_failure_exits_as_the_same_local_failure() {
        assert_eq!(exit_code_of("ArticleRec.Data"), 1);
        assert_eq!(exit_code_of("ArticleRec.InvalidInput"), 2);
        assert_eq!(exit_code_of("ArticleRec.Transient"), 3);
        assert_eq!(exit_code_of("ArticleRec.Bug"), 4);
        assert_eq!(exit_code_of("ArticleRec.AccessDenied"), 5);
        assert_eq!(exit_code_of("Lambda.TooManyRequestsException"), 3);
        assert_eq!(exit_code_of("States.Timeout"), 3);
        // a definition or deployment fault is ours to fix
        assert_eq!(exit_code_of("States.Runtime"), 4);
        assert_eq!(exit_code_of("Lambda.ResourceNotFoundException"), 4);
    }
}
