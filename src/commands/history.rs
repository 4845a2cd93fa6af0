//! Commands over past windows: backfill (one run per step) and generate (a sample site's Snowplow hours).

use super::*;

/// `backfill`: one run per step over past windows; every failure is printed,
/// the first decides the exit code.
pub(super) async fn backfill(
    settings: Settings,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    every_hours: u32,
    json: bool,
) -> anyhow::Result<()> {
    if from > to {
        return Err(Usage(format!("--from {from} is after --to {to}")).into());
    }
    check_time("--from", from)?;
    check_time("--to", to)?;
    let ctx = Context::from_settings(settings).await?;
    let step = chrono::Duration::hours(i64::from(every_hours));
    let mut summaries = Vec::new();
    let mut failed = Vec::new();
    let mut as_of = from;
    while as_of <= to {
        let run = RunRef {
            site: ctx.settings.site.clone(),
            run_id: run_id_of(as_of),
            as_of,
        };
        match run_once(&ctx, &run).await {
            Ok(report) => {
                let summary = Summary::new(&ctx, &run, &report).await?;
                if json {
                    summaries.push(summary.to_json());
                } else {
                    print!("{summary}");
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                if json {
                    summaries.push(json!({"run": run, "error": format!("{e:#}")}));
                }
                failed.push((run.run_id.clone(), e));
            }
        }
        as_of += step;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
    }
    if let Some((_, first)) = failed.into_iter().next() {
        // the first failure decides the exit code; every one was printed
        return Err(first.context("backfill: some runs failed"));
    }
    Ok(())
}

/// The generated site's size, from `generate`'s options.
pub(super) struct SiteShape {
    pub(super) readers: usize,
    pub(super) articles: usize,
    pub(super) sessions: f64,
    pub(super) seed: u64,
}

/// `generate`: seeded synthetic Snowplow data and a catalogue.
pub(super) async fn generate(
    settings: Settings,
    end: Option<DateTime<Utc>>,
    days: Option<u32>,
    shape: SiteShape,
) -> anyhow::Result<()> {
    if !(shape.sessions.is_finite() && shape.sessions > 0.0) {
        anyhow::bail!("--sessions must be a positive number, not {}", shape.sessions);
    }
    let end = end.unwrap_or_else(now_second);
    check_time("--end", end)?;
    let ctx = Context::from_settings(settings).await?;
    let mut spec = Spec::sample(
        &ctx.settings.app_id,
        end,
        days.unwrap_or(ctx.settings.days_of_data),
        shape.seed,
    );
    spec.readers = shape.readers;
    spec.articles = shape.articles;
    spec.sessions_per_reader = shape.sessions;
    let truth = generate_into(&ctx, &spec).await?;
    println!(
        "wrote {} lines ({} valid page events, {} duplicates, {} malformed) under {}/{}",
        truth.lines,
        truth.valid_events,
        truth.duplicates,
        truth.malformed.len(),
        ctx.settings.store_url,
        ctx.settings.input_prefix
    );
    Ok(())
}
