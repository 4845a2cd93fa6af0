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
