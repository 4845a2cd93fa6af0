//! `article-rec`: runs the job locally on embedded defaults (a local directory
//! and SQLite), or on whatever the environment configures.
#![allow(clippy::print_stdout)]

mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use article_rec::db::ModelType;
use article_rec::generate::{self, Spec};
use article_rec::layout::InputLayout;
use article_rec::settings::Settings;
use article_rec::stage::RunRef;
use article_rec::Context;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "article-rec",
    version,
    about = "Article recommendations from Snowplow clickstream"
)]
struct Cli {
    /// Directory for the local store (`<dir>/store`) and SQLite file (`<dir>/article-rec.sqlite`).
    #[arg(long, env = "LOCAL_DIR", default_value = "local", global = true)]
    dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole job (fetch, preprocess, defaults, train, save) once.
    /// Generates sample input first if the window has none.
    Run {
        /// The run's reference time (RFC 3339, UTC); the window ends here. Default: now.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        /// Run id (default: derived from --as-of).
        #[arg(long)]
        run_id: Option<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write seeded synthetic Snowplow data (hour folders of gzipped TSV) and a catalogue.
    Generate {
        /// End of the generated period (RFC 3339, UTC). Default: now.
        #[arg(long)]
        end: Option<DateTime<Utc>>,
        /// Days of data to generate (default: DAYS_OF_DATA).
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, default_value_t = 3000)]
        readers: usize,
        #[arg(long, default_value_t = 400)]
        articles: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Make the site's previous model current again (the current one becomes
    /// 'failed' and is never rolled back to).
    Rollback {
        /// Which model: the per-article recommendations, the defaults, or both.
        #[arg(long, value_enum, default_value_t = Which::Both)]
        model: Which,
        /// Print what was switched as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Which {
    Article,
    Popularity,
    Both,
}

impl Which {
    fn kinds(self) -> &'static [ModelType] {
        match self {
            Which::Article => &[ModelType::Article],
            Which::Popularity => &[ModelType::Popularity],
            Which::Both => &[ModelType::Article, ModelType::Popularity],
        }
    }
}

fn now_second() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now)
}

async fn generate_into(ctx: &Context, spec: &Spec) -> anyhow::Result<generate::Truth> {
    let input = InputLayout::new(&ctx.settings.input_prefix)?;
    let data = generate::generate(spec, &input);
    generate::write_to(
        &data,
        ctx.input.as_ref(),
        ctx.store.as_ref(),
        &input,
        &ctx.settings.site,
    )
    .await?;
    Ok(data.truth)
}

async fn main_inner(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env_in(&cli.dir)?;
    match cli.command {
        Command::Run { as_of, run_id, json } => {
            let as_of = as_of.unwrap_or_else(now_second);
            let ctx = Context::from_settings(settings).await?;
            let run = RunRef {
                site: ctx.settings.site.clone(),
                run_id: run_id.unwrap_or_else(|| as_of.format("%Y-%m-%dT%H-%M-%SZ").to_string()),
                as_of,
            };
            let input = InputLayout::new(&ctx.settings.input_prefix)?;
            let window = run.window(ctx.settings.days_of_data);
            let mut has_input = false;
            for hour in input.hours(&window) {
                if !ctx.input.list(&hour.prefix).await?.is_empty() {
                    has_input = true;
                    break;
                }
            }
            if !has_input {
                let spec = Spec::sample(
                    &ctx.settings.app_id,
                    as_of,
                    ctx.settings.days_of_data,
                    ctx.settings.seed,
                );
                eprintln!(
                    "No input in the window: generating sample data (seed {})...",
                    spec.seed
                );
                generate_into(&ctx, &spec).await?;
            }
            let report = article_rec::runner::run_pipeline(&ctx, &run)
                .await
                .with_context(|| format!("run {} of site {} failed", run.run_id, run.site))?;
            if let Err(e) = ctx.metrics.flush().await {
                eprintln!("warning: metrics not sent: {e}");
            }
            let summary = summary::Summary::new(&ctx, &run, &report).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary.to_json())?);
            } else {
                print!("{summary}");
            }
        }
        Command::Generate {
            end,
            days,
            readers,
            articles,
            seed,
        } => {
            let ctx = Context::from_settings(settings).await?;
            let mut spec = Spec::sample(
                &ctx.settings.app_id,
                end.unwrap_or_else(now_second),
                days.unwrap_or(ctx.settings.days_of_data),
                seed,
            );
            spec.readers = readers;
            spec.articles = articles;
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
        }
        Command::Rollback { model, json } => {
            let ctx = Context::from_settings(settings).await?;
            let site = ctx.settings.site.clone();
            let mut switched = Vec::new();
            for &kind in model.kinds() {
                let done = article_rec::stages::save::rollback(&ctx, &site, kind)
                    .await
                    .with_context(|| format!("rollback of site {site}"))?;
                switched.push(serde_json::json!({
                    "site": site,
                    "model_type": kind.as_str(),
                    "from": {"id": done.from.id, "run_id": done.from.run_id, "status": done.from.status},
                    "to": {"id": done.to.id, "run_id": done.to.run_id, "status": done.to.status},
                }));
                if !json {
                    println!(
                        "{site} {}: model {} (run {}) is current again; model {} (run {}) is now failed",
                        kind.as_str(),
                        done.to.id,
                        done.to.run_id,
                        done.from.id,
                        done.from.run_id
                    );
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&switched)?);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,article_rec=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(main_inner(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
