//! `article-rec`: runs the job locally on embedded defaults (a local directory
//! and SQLite), or on whatever the environment configures.
#![allow(clippy::print_stdout)]

mod aws;
mod check;
mod clean;
mod commands;
mod recs;
mod rollback;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use article_rec_core::contract::database::ModelType;
use article_rec_core::ErrorKind;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Settings come from environment variables (see the README's table); the
defaults keep everything under --dir: the store in <dir>/store, SQLite in
<dir>/article-rec.sqlite.

Exit codes:
  0  done
  1  the data cannot give a result (e.g. no input in the window); nothing was replaced
  2  wrong usage: an argument, a setting or a request that cannot work as given
  3  a transient failure (storage or database unreachable, another run holds the
     site's lock): trying again later may work
  4  an internal error (a bug; please report it)
  5  access denied: the store's or the database's permissions refuse an action
     the job needs (the message names the action and the resource)";

#[derive(Parser)]
#[command(
    name = "article-rec",
    version,
    about = "Article recommendations from Snowplow clickstream",
    long_about = "Article recommendations from Snowplow clickstream: fetch a site's \
                  events, compute reading time per reader and article, measure candidate \
                  item-item models (matrix factorisation, item-kNN, sequential rules, EASE, \
                  content, popularity) on the site's own recent reading and save each article's \
                  most related articles from the best of them, and default recommendations, \
                  to the database.",
    after_help = EXIT_CODES
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
    /// Run the whole job (fetch, preprocess, defaults, train, save) once, as the
    /// state machine does. Generates sample input first if the window has none.
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
    /// Stage 1: read the window's Snowplow events into the run's events.parquet.
    /// Starts a run; the next stages take its --run-id.
    Fetch(StageArgs),
    /// Stage 2: articles and reading time per reader and article, of a fetched run.
    Preprocess(StageArgs),
    /// Stage 3: default recommendations (for unknown readers), of a preprocessed run.
    Defaults(StageArgs),
    /// Stage 4: evaluate and train the model, of a preprocessed run.
    Train(StageArgs),
    /// Stage 5: save the recommendations to the database, of a trained run
    /// with defaults; writes the run report.
    Save(StageArgs),
    /// Run the whole job for past windows: one run per step from --from to --to.
    Backfill {
        /// Reference time of the first run (RFC 3339, UTC).
        #[arg(long)]
        from: DateTime<Utc>,
        /// Reference time of the last run, included if a step lands on it.
        #[arg(long)]
        to: DateTime<Utc>,
        /// Hours between runs.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8784))]
        every_hours: u32,
        /// Print one JSON summary per run, as a JSON array.
        #[arg(long)]
        json: bool,
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
    /// Check the configuration before a run: print every setting with its
    /// source (credentials redacted), name each variable that looks like a
    /// setting but is none, then touch what a run touches (the store: a
    /// listing and a write under runs/<site>/check/; the newest hour of input;
    /// the database, through DATABASE_URL_PARAMETER when set; the site's
    /// catalogue or WordPress; the embedding model). Exits as a run would on
    /// the first failure; 2 for an unknown variable.
    Check {
        /// The window's end the input probe looks back from (RFC 3339, UTC;
        /// it looks 48 hours back for the newest hour). Default: now.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
    },
    /// Print an article's recommendations (or the defaults) as the API's
    /// `GET /recs` answers them: JSON, the current model's, falling back to the
    /// site's current defaults when the article has none. Reads the local
    /// SQLite database, or DATABASE_URL / DATABASE_URL_PARAMETER.
    Recs {
        /// The article (its external id, the API's source_entity_id).
        #[arg(long, required_unless_present = "defaults", conflicts_with = "defaults")]
        article: Option<String>,
        /// The default recommendations (for unknown readers) instead.
        #[arg(long)]
        defaults: bool,
        /// The site (default: SITE).
        #[arg(long)]
        site: Option<String>,
        /// External ids not to recommend (integers, comma-separated, as the API takes them).
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// How many (below 100, the API's page limit; default MAX_RECS).
        #[arg(long)]
        size: Option<u32>,
    },
    /// Serve the API's query, `GET /recs?source_entity_id=&site=&model_type=&exclude=&size=`,
    /// from the same database on a local HTTP server, for a widget in development.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Port (0: any free one; the address is printed).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Write seeded synthetic Snowplow data (hour folders of gzipped TSV) and a catalogue.
    Generate {
        /// End of the generated period (RFC 3339, UTC). Default: now.
        #[arg(long)]
        end: Option<DateTime<Utc>>,
        /// Days of data to generate (default: DAYS_OF_DATA).
        #[arg(long)]
        days: Option<u32>,
        /// Readers of the synthetic site.
        #[arg(long, default_value_t = 3000)]
        readers: usize,
        /// Articles of the synthetic site.
        #[arg(long, default_value_t = 400)]
        articles: usize,
        /// Mean sessions per reader over the generated period.
        #[arg(long, default_value_t = 3.0)]
        sessions: f64,
        /// Seed of the generator: the same seed writes the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Drive the deployed pipeline on AWS Step Functions: start a run,
    /// backfill windows, list recent runs, roll back a site's model.
    Aws(aws::AwsArgs),
    /// Remove local outputs: every run's files and the parsed-hour cache; with
    /// --all also the store (input and catalogues included) and the SQLite
    /// database with its lock files, then --dir if that leaves it empty.
    /// Nothing else is removed: a --dir holding other files is refused.
    Clean {
        /// Also the store and the SQLite database the job keeps in --dir.
        #[arg(long)]
        all: bool,
        /// With --all in a --dir that holds other files: remove the job's
        /// files and keep the others (and the directory).
        #[arg(long, requires = "all")]
        keep_others: bool,
        /// Print what was removed as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct StageArgs {
    /// The run: its files and state are under runs/<site>/<run id>/. Fetch starts
    /// one (default: derived from --as-of); the other stages need it.
    #[arg(long)]
    run_id: Option<String>,
    /// Fetch only: the run's reference time (RFC 3339, UTC); the window ends
    /// here. Default: now. Later stages take it from the run.
    #[arg(long)]
    as_of: Option<DateTime<Utc>>,
    /// Print the stage's output as JSON.
    #[arg(long)]
    json: bool,
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

/// The exit code a script can act on (see [`EXIT_CODES`]).
fn exit_code(e: &anyhow::Error) -> u8 {
    let kind = e
        .chain()
        .find_map(|c| c.downcast_ref::<article_rec_core::Error>())
        .map(article_rec_core::Error::kind)
        .or_else(|| {
            e.chain()
                .find_map(|c| c.downcast_ref::<aws::AwsError>())
                .map(|a| a.kind)
        });
    match kind {
        _ if e.chain().any(|c| c.downcast_ref::<aws::RunFailed>().is_some()) => e
            .chain()
            .find_map(|c| c.downcast_ref::<aws::RunFailed>())
            .map_or(4, |f| f.code),
        Some(ErrorKind::Data) => 1,
        Some(ErrorKind::InvalidInput) => 2,
        Some(ErrorKind::Transient) => 3,
        Some(ErrorKind::Bug) => 4,
        Some(ErrorKind::Permission) => 5,
        // our own checks (a missing --run-id, an unknown run) are usage errors
        None if e.chain().any(|c| c.downcast_ref::<commands::Usage>().is_some()) => 2,
        None => 4,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,article_rec_core=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(4);
        }
    };
    match rt.block_on(commands::main_inner(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}
