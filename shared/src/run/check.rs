//! `article-rec check`: what a configuration will touch, touched once before
//! a run does: the data store (a listing and a write under the site's runs),
//! the Snowplow input (its newest hour), the database (connection and
//! migrations, through the SSM parameter when one is named), the site's
//! catalogue or WordPress API, and the embedding model when one is set.
//! Each probe says what it did; the first failure decides the exit code.

use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::contract::database::ModelType;
use crate::contract::error::{Error, Result};
use crate::contract::layout::{InputLayout, RunLayout};
use crate::settings::Settings;
use crate::Context;

/// Hours back from now that the input probe looks for the newest hour.
const INPUT_HOURS: i64 = 48;

/// One thing the configuration touches, and how it went.
#[derive(Debug)]
pub struct Probe {
    /// What was touched (`store`, `database`, ...).
    pub what: &'static str,
    /// What was done and found, or why it failed.
    pub outcome: std::result::Result<String, Error>,
    pub millis: u128,
}

async fn timed<F>(what: &'static str, probe: F) -> Probe
where
    F: std::future::Future<Output = Result<String>>,
{
    let start = Instant::now();
    let outcome = probe.await;
    Probe {
        what,
        outcome,
        millis: start.elapsed().as_millis(),
    }
}

/// Opens the adapters the settings name (the database through its SSM
/// parameter when one is set) and probes each. An adapter that cannot be
/// opened is the one failing probe.
pub async fn check(settings: Settings, now: DateTime<Utc>) -> Vec<Probe> {
    let start = Instant::now();
    let ctx = match Context::from_settings(settings.clone()).await {
        Ok(ctx) => ctx,
        Err(e) => {
            let what = match &e {
                Error::Db { .. } | Error::Migrate { .. } => "database",
                _ if settings.database_url_parameter.is_some() => "database (SSM parameter)",
                _ => "adapters",
            };
            return vec![Probe {
                what,
                outcome: Err(e),
                millis: start.elapsed().as_millis(),
            }];
        }
    };
    vec![
        timed("store", store(&ctx, now)).await,
        timed("input", input(&ctx, now)).await,
        timed("database", database(&ctx)).await,
        timed("site", site(&ctx, now)).await,
        timed("embedding model", embeddings(&ctx)).await,
    ]
}

async fn store(ctx: &Context, now: DateTime<Utc>) -> Result<String> {
    let site = &ctx.settings.site;
    let checks = RunLayout::of(site, "check")?;
    let listed = ctx.store.list(&checks.prefix()).await?;
    let key = checks.check_probe(now);
    ctx.store
        .put(&key, Bytes::from(format!("article-rec check at {now}\n")))
        .await?;
    let back = ctx.store.get(&key).await?;
    if !back.starts_with(b"article-rec check") {
        return Err(Error::Bug(format!(
            "{key} read back differs from what was written"
        )));
    }
    Ok(format!(
        "{}: listed {}, wrote and read {key} ({} earlier checks)",
        crate::contract::redact::redact_url(&ctx.settings.store_url),
        checks.prefix(),
        listed.len()
    ))
}

async fn input(ctx: &Context, now: DateTime<Utc>) -> Result<String> {
    let input = InputLayout::new(&ctx.settings.input_prefix)?;
    let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    for back in 0..INPUT_HOURS {
        let part = input.hour(hour - Duration::hours(back));
        if ctx.input.any_under(&part.prefix).await? {
            return Ok(format!(
                "newest hour with input: {} ({back} hours ago), under {}",
                part.hour.format("%Y-%m-%d %H:00 UTC"),
                input.root()
            ));
        }
    }
    Err(Error::Empty {
        stage: "check",
        what: format!(
            "no input under {} in the last {INPUT_HOURS} hours (the Snowplow loader's prefix: INPUT_URL, INPUT_PREFIX)",
            input.root()
        ),
    })
}

async fn database(ctx: &Context) -> Result<String> {
    let db = ctx.db()?;
    let site = &ctx.settings.site;
    let mut current = Vec::new();
    for kind in [ModelType::Article, ModelType::Popularity] {
        match db.current_model(site, kind).await? {
            Some(m) => current.push(format!("{} model {} (run {})", kind.as_str(), m.id, m.run_id)),
            None => current.push(format!("no current {} model", kind.as_str())),
        }
    }
    let via = ctx
        .settings
        .database_url_parameter
        .as_deref()
        .map_or_else(String::new, |p| format!(", URL from SSM parameter {p}"));
    Ok(format!(
        "{}{via}: connected, migrations applied; site {site}: {}",
        crate::contract::redact::redact_url(&ctx.settings.database_url),
        current.join(", ")
    ))
}

async fn site(ctx: &Context, now: DateTime<Utc>) -> Result<String> {
    let site = ctx.site().await?;
    let since = now - Duration::days(i64::from(ctx.settings.days_of_data));
    match site.published(since, now).await {
        Ok(list) => Ok(format!(
            "{}: {} articles published in the window",
            site.source(),
            list.len()
        )),
        Err(message) => Err(Error::Config(format!("{}: {message}", site.source()))),
    }
}

async fn embeddings(ctx: &Context) -> Result<String> {
    match crate::stages::train::embedding_model(ctx).await? {
        Some(model) => Ok(format!(
            "{}: {} dimensions",
            ctx.settings
                .quality
                .selection
                .embeddings
                .as_deref()
                .unwrap_or_default(),
            model.dim()
        )),
        None => Ok("none (CONTENT_EMBEDDINGS unset)".into()),
    }
}

/// The variables of the environment the job reads, each with its value
/// (credentials redacted) and whether it was set or is the default: the
/// lines `check` prints first.
pub fn settings_lines(set: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for name in crate::settings::VARIABLES {
        match set.iter().find(|(k, _)| k == name) {
            Some((_, v)) => out.push(format!("  {name}={} (environment)", redacted_value(name, v))),
            None => out.push(format!("  {name} (default)")),
        }
    }
    out
}

fn redacted_value(name: &str, value: &str) -> String {
    if name.ends_with("_URL") {
        crate::contract::redact::redact_url(value)
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_setting_are_never_printed() {
        let lines = settings_lines(&[
            (
                "DATABASE_URL".into(),
                "postgres://app:Pw,S3cret@db:5432/recs".into(),
            ),
            ("MAX_RECS".into(), "5".into()),
        ]);
        let all = lines.join("\n");
        assert!(!all.contains("S3cret"), "{all}");
        assert!(all.contains("MAX_RECS=5 (environment)"));
        assert!(all.contains("  SITE (default)"));
    }
}
