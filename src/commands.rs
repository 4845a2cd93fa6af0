//! What each subcommand does. The stages run exactly as the state machine runs
//! them: the same JSON in, the same output placed in the run's state, which is
//! kept at `runs/<site>/<run id>/state.json` so a stage can be run on its own.

use std::time::Duration;

use anyhow::Context as _;
use article_rec_core::contract::layout::{InputLayout, RunLayout};
use article_rec_core::contract::names::check_time;
use article_rec_core::contract::stage::{RunRef, Stage};
use article_rec_core::devtools::generate::{self, Spec};
use article_rec_core::run::runner::{InProcess, Invoke, RunReport};
use article_rec_core::settings::Settings;
use article_rec_core::Context;
use bytes::Bytes;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::summary::Summary;
use crate::{Cli, Command, StageArgs};

mod history;

/// A usage mistake our own checks found (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

fn now_second() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now)
}

fn run_id_of(as_of: DateTime<Utc>) -> String {
    as_of.format("%Y-%m-%dT%H-%M-%SZ").to_string()
}

async fn generate_into(ctx: &Context, spec: &Spec) -> anyhow::Result<generate::Truth> {
    let input = InputLayout::new(&ctx.settings.input_prefix)?;
    Ok(generate::write_stream(
        spec,
        ctx.input.as_ref(),
        ctx.store.as_ref(),
        &input,
        &ctx.settings.site,
    )
    .await?)
}

/// Where the input stands for a run: sample data is generated only into a
/// store with no input at all (the first command's case), never beside
/// real input, whatever window a mistyped `--as-of` names.
enum InputState {
    InWindow,
    Elsewhere,
    None,
}

async fn input_state(ctx: &Context, run: &RunRef) -> anyhow::Result<InputState> {
    let input = InputLayout::new(&ctx.settings.input_prefix)?;
    for hour in input.hours(&run.window(ctx.settings.days_of_data)) {
        if !ctx.input.list(&hour.prefix).await?.is_empty() {
            return Ok(InputState::InWindow);
        }
    }
    if ctx.input.any_under(&input.root()).await? {
        Ok(InputState::Elsewhere)
    } else {
        Ok(InputState::None)
    }
}

/// Runs each Task in this process, showing which one on a spinner (drawn only
/// when stderr is a terminal).
struct WithProgress<'a> {
    inner: InProcess<'a>,
    bar: ProgressBar,
    /// Hours parsed and to parse (the fetch plan's), since when.
    hours: std::sync::Mutex<HoursDone>,
}

#[derive(Default)]
struct HoursDone {
    done: usize,
    total: usize,
    since: Option<std::time::Instant>,
}

/// `fetch: 37 of 672 hours parsed, about 5m 20s left`: the first fetch of a
/// site parses hundreds of hours; the estimate is the pace so far.
fn hours_message(done: usize, total: usize, elapsed: Duration) -> String {
    if done == 0 || total <= done {
        return format!("fetch: {done} of {total} hours parsed");
    }
    let per_hour = elapsed.as_secs_f64() / done as f64;
    let left = (per_hour * (total - done) as f64).round() as u64;
    let left = match left {
        0..60 => format!("{left}s"),
        60..3600 => format!("{}m {}s", left / 60, left % 60),
        _ => format!("{}h {}m", left / 3600, left % 3600 / 60),
    };
    format!("fetch: {done} of {total} hours parsed, about {left} left")
}

impl<'a> WithProgress<'a> {
    fn new(ctx: &'a Context, what: &str) -> WithProgress<'a> {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {prefix} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        WithProgress {
            inner: InProcess(ctx),
            bar,
            hours: std::sync::Mutex::new(HoursDone::default()),
        }
    }
}

#[async_trait::async_trait]
impl Invoke for WithProgress<'_> {
    async fn invoke(&self, stage: Stage, event: Value) -> article_rec_core::Result<Value> {
        let action = event["action"].as_str().map(str::to_string);
        let msg = match (action.as_deref(), event["hour"].as_str()) {
            (Some("hour"), Some(hour)) => match self.hours.lock() {
                Ok(h) if h.total > 0 => format!(
                    "{} (now {hour})",
                    hours_message(h.done, h.total, h.since.map(|t| t.elapsed()).unwrap_or_default())
                ),
                _ => format!("fetch: parsing the hour of {hour}"),
            },
            (Some("plan"), _) => "fetch: listing the window's hours".to_string(),
            _ => stage.name().to_string(),
        };
        self.bar.set_message(msg);
        let out = self.inner.invoke(stage, event).await?;
        if let Ok(mut h) = self.hours.lock() {
            match action.as_deref() {
                Some("plan") => {
                    *h = HoursDone {
                        done: 0,
                        total: out["hours"].as_array().map_or(0, Vec::len),
                        since: Some(std::time::Instant::now()),
                    };
                }
                Some("hour") => h.done += 1,
                _ => {}
            }
        }
        Ok(out)
    }
}

impl Drop for WithProgress<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The whole job for one run, its state kept for the stage subcommands.
async fn run_once(ctx: &Context, run: &RunRef) -> anyhow::Result<RunReport> {
    let progress = WithProgress::new(ctx, &format!("run {}", run.run_id));
    let report = article_rec_core::run::runner::run_pipeline_with(&progress, run)
        .await
        .with_context(|| format!("run {} of site {} failed", run.run_id, run.site))?;
    drop(progress);
    put_state(ctx, run, &report.state).await?;
    if let Err(e) = ctx.metrics.flush().await {
        eprintln!("warning: metrics not sent: {e}");
    }
    Ok(report)
}

async fn put_state(ctx: &Context, run: &RunRef, state: &Value) -> anyhow::Result<()> {
    let key = RunLayout::new(run)?.state();
    let body = serde_json::to_vec_pretty(state)?;
    ctx.store.put(&key, Bytes::from(body)).await?;
    Ok(())
}

/// Where each stage's output sits in the run's state (the state machine's
/// ResultPath and the Parallel state's ResultSelector).
fn output_path(stage: Stage) -> &'static [&'static str] {
    match stage {
        Stage::Fetch => &["fetch"],
        Stage::Preprocess => &["preprocess"],
        Stage::Defaults => &["model", "defaults"],
        Stage::Train => &["model", "train"],
        Stage::Save => &["save"],
    }
}

/// What a stage needs done before it.
fn needs(stage: Stage) -> &'static [Stage] {
    match stage {
        Stage::Fetch => &[],
        Stage::Preprocess => &[Stage::Fetch],
        Stage::Defaults | Stage::Train => &[Stage::Preprocess],
        Stage::Save => &[Stage::Defaults, Stage::Train],
    }
}

fn output_of(state: &Value, stage: Stage) -> Option<&Value> {
    let mut v = state;
    for p in output_path(stage) {
        v = v.get(*p)?;
    }
    Some(v)
}

/// One stage of one run, on the state the earlier stages left.
async fn stage_once(ctx: &Context, stage: Stage, args: &StageArgs) -> anyhow::Result<()> {
    let mut state = if stage == Stage::Fetch {
        let as_of = args.as_of.unwrap_or_else(now_second);
        let run = RunRef {
            site: ctx.settings.site.clone(),
            run_id: args.run_id.clone().unwrap_or_else(|| run_id_of(as_of)),
            as_of,
        };
        run.validate()?;
        json!({ "run": run })
    } else {
        if args.as_of.is_some() {
            return Err(Usage(format!(
                "--as-of is for fetch, which starts a run; {} takes the run's own",
                stage.name()
            ))
            .into());
        }
        let run_id = args.run_id.clone().ok_or_else(|| {
            Usage(format!(
                "{} needs --run-id: the run `article-rec fetch` started (or `article-rec run` made)",
                stage.name()
            ))
        })?;
        let run = RunRef {
            site: ctx.settings.site.clone(),
            run_id: run_id.clone(),
            as_of: DateTime::UNIX_EPOCH,
        };
        let key = RunLayout::new(&run)?.state();
        let body = match ctx.store.get(&key).await {
            Ok(b) => b,
            Err(article_rec_core::Error::NotFound { .. }) => {
                return Err(Usage(format!(
                    "no run {run_id} of site {}: start it with `article-rec fetch --run-id {run_id}`",
                    run.site
                ))
                .into())
            }
            Err(e) => return Err(e.into()),
        };
        // a damaged state file is data, not a bug: exit 1, naming it
        let state: Value = serde_json::from_slice(&body).map_err(|e| article_rec_core::Error::Schema {
            key: key.to_string(),
            expected: "a run state (JSON, as the stages left it)".into(),
            found: e.to_string(),
        })?;
        for before in needs(stage) {
            if output_of(&state, *before).is_none() {
                return Err(Usage(format!(
                    "run {run_id} has no {} output yet: run `article-rec {} --run-id {run_id}` first",
                    before.name(),
                    before.name()
                ))
                .into());
            }
        }
        state
    };
    let run: RunRef = serde_json::from_value(state["run"].clone())?;
    let progress = WithProgress::new(ctx, &format!("run {}", run.run_id));
    let out = progress.invoke(stage, state.clone()).await.with_context(|| {
        format!(
            "{} of run {} of site {} failed",
            stage.name(),
            run.run_id,
            run.site
        )
    })?;
    drop(progress);
    let path = output_path(stage);
    let mut slot = &mut state;
    for p in path {
        slot = &mut slot[*p];
    }
    *slot = out.clone();
    put_state(ctx, &run, &state).await?;
    if let Err(e) = ctx.metrics.flush().await {
        eprintln!("warning: metrics not sent: {e}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} of run {} of site {} done: {}",
            stage.name(),
            run.run_id,
            run.site,
            serde_json::to_string(&out)?
        );
        if let Some(next) = Stage::ALL.iter().find(|s| needs(**s).contains(&stage)) {
            println!("next: article-rec {} --run-id {}", next.name(), run.run_id);
        }
    }
    Ok(())
}

pub async fn main_inner(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env_in(&cli.dir)?;
    match cli.command {
        Command::Run { as_of, run_id, json } => run(settings, as_of, run_id, json).await,
        Command::Fetch(args) => stage(settings, Stage::Fetch, &args).await,
        Command::Preprocess(args) => stage(settings, Stage::Preprocess, &args).await,
        Command::Defaults(args) => stage(settings, Stage::Defaults, &args).await,
        Command::Train(args) => stage(settings, Stage::Train, &args).await,
        Command::Save(args) => stage(settings, Stage::Save, &args).await,
        Command::Backfill {
            from,
            to,
            every_hours,
            json,
        } => history::backfill(settings, from, to, every_hours, json).await,
        Command::Generate {
            end,
            days,
            readers,
            articles,
            sessions,
            seed,
        } => {
            let shape = history::SiteShape {
                readers,
                articles,
                sessions,
                seed,
            };
            history::generate(settings, end, days, shape).await
        }
        Command::Rollback { model, json } => {
            crate::rollback::rollback(Context::from_settings(settings).await?, model, json).await
        }
        Command::Check { as_of } => {
            if let Some(as_of) = as_of {
                check_time("--as-of", as_of)?;
            }
            crate::check::check(settings, as_of.unwrap_or_else(now_second)).await
        }
        Command::Recs {
            article,
            defaults,
            site,
            exclude,
            size,
        } => {
            let args = crate::recs::RecsArgs {
                article,
                defaults,
                site,
                exclude,
                size,
            };
            crate::recs::recs(Context::for_database(settings).await?, args).await
        }
        Command::Serve { bind, port } => {
            crate::recs::serve(Context::for_database(settings).await?, &bind, port).await
        }
        Command::Aws(args) => crate::aws::main(settings, args).await,
        Command::Clean {
            all,
            keep_others,
            json,
        } => crate::clean::clean(&cli.dir, &settings, all, keep_others, json).await,
    }
}

async fn stage(settings: Settings, stage: Stage, args: &StageArgs) -> anyhow::Result<()> {
    // refused before the store or the database is opened (or created)
    if let Some(as_of) = args.as_of {
        check_time("--as-of", as_of)?;
    }
    stage_once(&Context::from_settings(settings).await?, stage, args).await
}

/// `run`: the whole job once, generating sample input if the window has none.
async fn run(
    settings: Settings,
    as_of: Option<DateTime<Utc>>,
    run_id: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let as_of = as_of.unwrap_or_else(now_second);
    let run = RunRef {
        site: settings.site.clone(),
        run_id: run_id.unwrap_or_else(|| run_id_of(as_of)),
        as_of,
    };
    // before anything is opened or written: the names become key segments,
    // and the window must end between 2000 and now
    run.validate()?;
    let ctx = Context::from_settings(settings).await?;
    match input_state(&ctx, &run).await? {
        InputState::InWindow => {}
        InputState::Elsewhere => eprintln!(
            "No input in the window ending {as_of}, but the store has input elsewhere: \
             no sample data is generated beside it (check --as-of)"
        ),
        InputState::None => {
            let spec = Spec::sample(
                &ctx.settings.app_id,
                as_of,
                ctx.settings.days_of_data,
                ctx.settings.seed,
            );
            eprintln!(
                "No input in the store: generating sample data (seed {})...",
                spec.seed
            );
            generate_into(&ctx, &spec).await?;
        }
    }
    let report = run_once(&ctx, &run).await?;
    let summary = Summary::new(&ctx, &run, &report).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary.to_json())?);
    } else {
        print!("{summary}");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
