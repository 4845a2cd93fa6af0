//! `article-rec aws ...`: the deployed pipeline driven from the command line
//! (start, backfill, watch, roll back), through `aws-sdk-sfn` and the same
//! settings and SSM parameter the functions use. No AWS CLI involved.

mod backfill;
mod history;
mod names;
mod pipeline;
mod status;

use std::time::Duration;

use article_rec_core::contract::stage::RunRef;
use article_rec_core::run::definition::stage_states;
use article_rec_core::settings::Settings;
use article_rec_core::ErrorKind;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use clap::{Args, Subcommand};
use serde_json::json;

use self::history::{Failure, Outcome};
use self::names::{execution_name, exit_code_of, MAX_ATTEMPTS, MAX_NAME};
use self::pipeline::{Execution, Pipeline, Started};
use crate::summary::Summary;
use crate::Which;

/// A failure of an `aws` command, with the exit code it means.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AwsError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AwsError {
    pub fn usage(message: String) -> anyhow::Error {
        AwsError {
            kind: ErrorKind::InvalidInput,
            message,
        }
        .into()
    }
}

/// A deployed run that did not succeed: the exit code its error means.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RunFailed {
    pub code: u8,
    pub message: String,
}

#[derive(Args)]
pub struct AwsArgs {
    /// The deployed stack (the template names its pipeline `<stack>-pipeline`).
    #[arg(long, env = "STACK_NAME", default_value = "article-rec", global = true)]
    stack: String,
    /// The pipeline state machine's ARN, instead of finding it by stack name.
    #[arg(long, env = "PIPELINE_STATE_MACHINE_ARN", global = true)]
    state_machine: Option<String>,
    /// Seconds between checks while following executions.
    #[arg(long, default_value_t = 10, global = true, value_parser = clap::value_parser!(u64).range(1..=3600))]
    poll_secs: u64,
    #[command(subcommand)]
    command: AwsCommand,
}

#[derive(Subcommand)]
enum AwsCommand {
    /// Start one pipeline execution for a site's window, named <site>-<as-of>:
    /// repeating the command starts nothing new while that run is going or
    /// has succeeded (a failed one is retried as <name>-r2, -r3, ...).
    Run {
        /// The site (SITE, or one of SITES, as deployed).
        #[arg(long)]
        site: String,
        /// End of the window (RFC 3339, UTC). Default: the start of this hour.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        /// Follow the execution to its end and print the run's summary; the
        /// exit code is the run's.
        #[arg(long)]
        wait: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One execution per window from --from to --to, at most --parallel at a
    /// time. Resumable: windows that already succeeded are skipped; a failed
    /// one is retried once; the failures are listed at the end.
    Backfill {
        #[arg(long)]
        site: String,
        /// End of the first window (RFC 3339, UTC).
        #[arg(long)]
        from: DateTime<Utc>,
        /// End of the last window, included if a step lands on it.
        #[arg(long)]
        to: DateTime<Utc>,
        /// Hours between windows.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8784))]
        every_hours: u32,
        /// Executions running at once.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=40))]
        parallel: u32,
        /// Print the windows' outcomes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recent executions: status, duration, events read, readers and
    /// articles, the chosen model, the gate's decision and a link to each
    /// run's report.
    Status {
        /// Only this site's executions.
        #[arg(long)]
        site: Option<String>,
        /// How many executions.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
        last: u32,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the site's previous model current again in the deployed database
    /// (DATABASE_URL, or the SSM parameter DATABASE_URL_PARAMETER names).
    Rollback {
        #[arg(long)]
        site: String,
        /// Which model: the per-article recommendations, the defaults, or both.
        #[arg(long, value_enum, default_value_t = Which::Both)]
        model: Which,
        /// Print what was switched as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The shared AWS configuration, refused early without credentials or region.
async fn aws_config(settings: &Settings) -> anyhow::Result<aws_config::SdkConfig> {
    let aws = article_rec_core::adapters::sdk::sdk_config(settings.s3.region.as_deref(), None).await;
    if aws.region().is_none() {
        return Err(AwsError::usage(
            "no AWS region: set AWS_REGION (or a profile's region)".into(),
        ));
    }
    let Some(creds) = aws.credentials_provider() else {
        return Err(AwsError::usage("no AWS credentials provider".into()));
    };
    if let Err(e) = creds.provide_credentials().await {
        return Err(AwsError::usage(format!(
            "no AWS credentials ({e}): the standard chain reads AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, or the instance or task role"
        )));
    }
    Ok(aws)
}

pub async fn main(settings: Settings, args: AwsArgs) -> anyhow::Result<()> {
    // the arguments are checked before any AWS call
    match &args.command {
        AwsCommand::Run { site, as_of, .. } => {
            settings.for_site(site)?;
            if let Some(as_of) = as_of {
                check_window(site, *as_of, "--as-of")?;
            }
        }
        AwsCommand::Backfill { site, from, to, .. } => {
            settings.for_site(site)?;
            if from > to {
                return Err(AwsError::usage(format!(
                    "--from {} is after --to {}",
                    from.to_rfc3339(),
                    to.to_rfc3339()
                )));
            }
            check_window(site, *to, "--to")?;
        }
        AwsCommand::Status { site: Some(site), .. } => {
            settings.for_site(site)?;
        }
        AwsCommand::Rollback { site, .. } => {
            settings.for_site(site)?;
            deployed_database(&settings)?;
        }
        AwsCommand::Status { site: None, .. } => {}
    }
    let aws = aws_config(&settings).await?;
    if let AwsCommand::Rollback { site, model, json } = args.command {
        // the database only: nothing local is opened or created
        let ctx = article_rec_core::Context::for_database(settings.for_site(&site)?).await?;
        return crate::rollback::rollback(ctx, model, json).await;
    }
    let pipeline = Pipeline::find(&aws, args.state_machine.as_deref(), &args.stack).await?;
    let ops = Ops {
        pipeline,
        settings,
        poll: Duration::from_secs(args.poll_secs),
    };
    match args.command {
        AwsCommand::Run {
            site,
            as_of,
            wait,
            json,
        } => ops.run(&site, as_of, wait, json).await,
        AwsCommand::Backfill {
            site,
            from,
            to,
            every_hours,
            parallel,
            json,
        } => {
            ops.backfill(&site, from, to, every_hours, parallel as usize, json)
                .await
        }
        AwsCommand::Status { site, last, json } => ops.status(site.as_deref(), last as usize, json).await,
        AwsCommand::Rollback { .. } => Ok(()),
    }
}

/// `aws rollback` acts on the deployed database: the SSM parameter the
/// functions read, or a PostgreSQL URL given outright; never the local
/// SQLite file the embedded defaults name.
fn deployed_database(settings: &Settings) -> anyhow::Result<()> {
    let postgres = ["postgres://", "postgresql://"]
        .iter()
        .any(|p| settings.database_url.starts_with(p));
    if settings.database_url_parameter.is_none() && !postgres {
        return Err(AwsError::usage(
            "aws rollback acts on the deployed database: set DATABASE_URL_PARAMETER to the \
             stack's SSM parameter (the DatabaseUrlParam it was deployed with), or DATABASE_URL \
             to its postgres:// URL; the local SQLite database is `article-rec rollback`'s"
                .into(),
        ));
    }
    Ok(())
}

fn status_name(s: &ExecutionStatus) -> &str {
    s.as_str()
}

fn check_window(site: &str, as_of: DateTime<Utc>, what: &str) -> anyhow::Result<()> {
    article_rec_core::contract::names::check_time(what, as_of)?;
    let name = execution_name(site, as_of, MAX_ATTEMPTS);
    if name.len() > MAX_NAME {
        return Err(AwsError::usage(format!(
            "site {site:?} is too long for an execution name ({name:?} is over {MAX_NAME} characters)"
        )));
    }
    RunRef {
        site: site.to_string(),
        run_id: name,
        as_of,
    }
    .validate()?;
    Ok(())
}

struct Ops {
    pipeline: Pipeline,
    settings: Settings,
    poll: Duration,
}

impl Ops {
    /// The window's live or succeeded execution, or a new attempt at it.
    async fn start_window(
        &self,
        site: &str,
        as_of: DateTime<Utc>,
        from_attempt: u32,
    ) -> anyhow::Result<(Execution, bool, u32)> {
        for attempt in from_attempt..=MAX_ATTEMPTS {
            let name = execution_name(site, as_of, attempt);
            let arn = self.pipeline.execution_arn(&name);
            if let Some(e) = self.pipeline.describe(&arn).await? {
                if e.running() || e.status == ExecutionStatus::Succeeded {
                    return Ok((e, false, attempt));
                }
                continue; // a closed, failed attempt: Step Functions keeps its name
            }
            let input = json!({
                "site": site,
                "as_of": as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            });
            let arn = match self.pipeline.start(&name, &input).await? {
                Started::New(arn) | Started::Exists(arn) => arn,
            };
            let exec = self
                .pipeline
                .describe(&arn)
                .await?
                .ok_or_else(|| anyhow::anyhow!("execution {arn} was started but cannot be described"))?;
            return Ok((exec, true, attempt));
        }
        Err(AwsError::usage(format!(
            "the window ending {} of site {site} failed {MAX_ATTEMPTS} times; see `article-rec aws status --site {site}`",
            as_of.to_rfc3339()
        )))
    }

    async fn follow(&self, exec: Execution) -> anyhow::Result<Execution> {
        let mut exec = exec;
        while exec.running() {
            tokio::time::sleep(self.poll).await;
            exec = self
                .pipeline
                .describe(&exec.arn)
                .await?
                .ok_or_else(|| anyhow::anyhow!("execution {} disappeared", exec.arn))?;
        }
        Ok(exec)
    }

    async fn outcome(&self, exec: &Execution) -> anyhow::Result<Outcome> {
        let events = self.pipeline.history(&exec.arn).await?;
        Ok(history::read(&events, &stage_states()?))
    }

    fn run_ref(exec: &Execution) -> RunRef {
        RunRef {
            site: exec.input["site"].as_str().unwrap_or_default().to_string(),
            run_id: exec.name.clone(),
            as_of: exec.input["as_of"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(exec.start),
        }
    }

    fn database(&self) -> String {
        match &self.settings.database_url_parameter {
            Some(name) => format!("the database of SSM parameter {name}"),
            None => article_rec_core::contract::redact::redact_url(&self.settings.database_url),
        }
    }

    /// Why a closed execution did not succeed, with the exit code a local
    /// run of the same failure has.
    fn failure(exec: &Execution, outcome: &Outcome) -> RunFailed {
        let f = outcome.failure.clone().unwrap_or_else(|| Failure {
            state: None,
            stage: None,
            error: exec
                .error
                .clone()
                .unwrap_or_else(|| status_name(&exec.status).to_string()),
            message: exec.cause.clone().unwrap_or_default(),
        });
        let code = match exec.status {
            ExecutionStatus::Aborted | ExecutionStatus::TimedOut => 3,
            _ => exit_code_of(&f.error),
        };
        let place = match (&f.stage, &f.state) {
            (Some(stage), Some(state)) => format!(" in stage {stage} (state {state})"),
            (None, Some(state)) => format!(" in state {state}"),
            _ => String::new(),
        };
        RunFailed {
            code,
            message: format!(
                "run {} {}{place}: {}: {}",
                exec.name,
                status_name(&exec.status),
                f.error,
                f.message
            ),
        }
    }

    async fn run(
        &self,
        site: &str,
        as_of: Option<DateTime<Utc>>,
        wait: bool,
        json: bool,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let as_of = as_of.unwrap_or_else(|| now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now));
        check_window(site, as_of, "--as-of")?;
        let (exec, started, _) = self.start_window(site, as_of, 1).await?;
        let what = match (started, exec.running()) {
            (true, _) => "started",
            (false, true) => "already running",
            (false, false) => "already succeeded",
        };
        eprintln!("{what}: execution {} ({})", exec.name, exec.arn);
        if !wait && exec.running() {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "execution": exec.name, "arn": exec.arn, "status": status_name(&exec.status), "started": started,
                    }))?
                );
            }
            return Ok(());
        }
        let exec = self.follow(exec).await?;
        let outcome = self.outcome(&exec).await?;
        if exec.status != ExecutionStatus::Succeeded {
            return Err(Self::failure(&exec, &outcome).into());
        }
        let summary = Summary::of_state(
            &Self::run_ref(&exec),
            &outcome.state,
            outcome.timings.clone(),
            self.database(),
            &self.settings.store_url,
        )?;
        if json {
            let mut v = summary.to_json();
            v["execution"] =
                json!({"name": exec.name, "arn": exec.arn, "status": "SUCCEEDED", "started": started});
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print!("{summary}");
        }
        Ok(())
    }
}
