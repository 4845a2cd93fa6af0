//! The names that become segments of object keys (sites, run ids, file
//! names), checked in one place, in every build, before anything is written.

use crate::contract::error::{Error, Result};

/// Top-level names that are not run prefixes, so no site may be called that.
pub const RESERVED_TOP_LEVEL: &[&str] = &["catalog", "cache", "enriched", "models", "snowplow"];

/// The longest site name: a schedule names each site's execution
/// `<site>-<schedule execution id>`, and Step Functions allows 80 characters,
/// of which EventBridge's execution ids (UUIDs) take 36 and the dash one.
pub const MAX_SITE_LEN: usize = 43;

/// The longest run id: a Step Functions execution name.
pub const MAX_RUN_ID_LEN: usize = 80;

/// The earliest time a window may end at: Snowplow enriched events, and
/// every site this job serves, are younger.
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";

/// How far past this machine's clock a time may be (clocks differ a little;
/// a window that ends later has nothing in it yet).
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Checks a time a window ends at (`--as-of`, `--to`, `--end`, a run's
/// `as_of`): not after now (beyond [`CLOCK_SKEW_SECS`]), not before
/// [`EARLIEST`]. A window in the future would train on an almost empty
/// window; one before 2000 is a typing mistake (and a year past 2262 does
/// not fit nanoseconds).
///
/// # Errors
/// `InvalidInput` naming `what` and the time.
pub fn check_time(what: &str, t: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let now = chrono::Utc::now();
    let latest = now + chrono::Duration::seconds(CLOCK_SKEW_SECS);
    let earliest = EARLIEST
        .parse::<chrono::DateTime<chrono::Utc>>()
        .map_err(|e| Error::Bug(format!("EARLIEST: {e}")))?;
    if t > latest {
        return Err(Error::InvalidInput(format!(
            "{what} {} is in the future (now is {}): a window cannot end after now",
            t.to_rfc3339(),
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    if t < earliest {
        return Err(Error::InvalidInput(format!(
            "{what} {} is before {EARLIEST}: no clickstream is that old (a mistyped year?)",
            t.to_rfc3339()
        )));
    }
    Ok(())
}

/// Checks a name that becomes one key segment (a site, a run id, a file
/// name): 1 to `max` ASCII letters, digits, `-`, `_` or `.`, not starting
/// with `.`. Checked in every build, before anything is written under it.
///
/// # Errors
/// `InvalidInput` naming `what` and the name.
pub fn check_segment(what: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "bad {what} {name:?}: use 1 to {max} ASCII letters, digits, '-', '_' or '.', not starting with '.'"
        )))
    }
}

/// Checks a site name: a key segment of at most [`MAX_SITE_LEN`]
/// characters that is not one of the store's top-level prefixes.
///
/// # Errors
/// `InvalidInput` naming the site.
pub fn check_site(site: &str) -> Result<()> {
    check_segment("site name", site, MAX_SITE_LEN)?;
    if RESERVED_TOP_LEVEL.contains(&site) {
        return Err(Error::InvalidInput(format!("site name {site:?} is reserved")));
    }
    Ok(())
}
