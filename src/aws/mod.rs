//! `article-rec aws ...`: the deployed pipeline driven from the command line
//! (start, backfill, watch, roll back), through `aws-sdk-sfn` and the same
//! settings and SSM parameter the functions use. No AWS CLI involved.

mod history;
mod names;
mod pipeline;

use std::collections::BTreeMap;
use std::time::Duration;

use article_rec::adapters::storage::s3::S3Store;
use article_rec::contract::evaluation::ModelSpec;
use article_rec::contract::settings::Settings;
use article_rec::contract::stage::RunRef;
use article_rec::run::runner::stage_states;
use article_rec::ErrorKind;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use self::history::{Failure, Outcome};
use self::names::{attempt_of, execution_name, exit_code_of, MAX_ATTEMPTS, MAX_NAME};
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
    let aws = article_rec::adapters::sdk::sdk_config(settings.s3.region.as_deref(), None).await;
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
    if let AwsCommand::Rollback { site, model, json } = args.command {
        return crate::commands::rollback(settings.for_site(&site)?, model, json).await;
    }
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
        AwsCommand::Status { site: None, .. } | AwsCommand::Rollback { .. } => {}
    }
    let aws = aws_config(&settings).await?;
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

fn status_name(s: &ExecutionStatus) -> &str {
    s.as_str()
}

fn check_window(site: &str, as_of: DateTime<Utc>, what: &str) -> anyhow::Result<()> {
    if as_of > Utc::now() {
        return Err(AwsError::usage(format!(
            "{what} {} is in the future: a window cannot end after now",
            as_of.to_rfc3339()
        )));
    }
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

/// Where a window stands in a backfill.
enum Window {
    /// To start: this attempt; `retried` once a failure of this call was retried.
    Pending {
        attempt: u32,
        retried: bool,
    },
    Running {
        exec: Execution,
        attempt: u32,
        retried: bool,
    },
    Succeeded {
        name: String,
        skipped: bool,
    },
    Failed {
        name: String,
        error: RunFailed,
    },
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
            None => article_rec::contract::redact::redact(&self.settings.database_url),
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

    #[allow(clippy::too_many_lines)]
    async fn backfill(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        every_hours: u32,
        parallel: usize,
        json: bool,
    ) -> anyhow::Result<()> {
        let ends = names::windows(from, to, every_hours);
        let prefix = format!("{site}-");
        let existing = self.pipeline.list(usize::MAX, |n| n.starts_with(&prefix)).await?;
        let mut windows: BTreeMap<DateTime<Utc>, Window> = BTreeMap::new();
        for &end in &ends {
            let mut last = 0;
            let mut state = None;
            for (name, arn, status) in &existing {
                let Some(attempt) = attempt_of(name, site, end) else {
                    continue;
                };
                last = last.max(attempt);
                if *status == ExecutionStatus::Succeeded {
                    state = Some(Window::Succeeded {
                        name: name.clone(),
                        skipped: true,
                    });
                } else if *status == ExecutionStatus::Running && state.is_none() {
                    if let Some(exec) = self.pipeline.describe(arn).await? {
                        state = Some(Window::Running {
                            exec,
                            attempt,
                            retried: false,
                        });
                    }
                }
            }
            windows.insert(
                end,
                state.unwrap_or(Window::Pending {
                    attempt: last + 1,
                    retried: false,
                }),
            );
        }
        loop {
            let running = windows
                .values()
                .filter(|w| matches!(w, Window::Running { .. }))
                .count();
            let mut free = parallel.saturating_sub(running);
            for (end, w) in &mut windows {
                if free == 0 {
                    break;
                }
                let Window::Pending { attempt, retried } = *w else {
                    continue;
                };
                if attempt > MAX_ATTEMPTS {
                    *w = Window::Failed {
                        name: execution_name(site, *end, MAX_ATTEMPTS),
                        error: RunFailed {
                            code: 1,
                            message: format!("tried {MAX_ATTEMPTS} times before; not started again"),
                        },
                    };
                    continue;
                }
                let (exec, started, attempt) = self.start_window(site, *end, attempt).await?;
                eprintln!(
                    "{}: execution {}",
                    if started { "started" } else { "following" },
                    exec.name
                );
                *w = if exec.status == ExecutionStatus::Succeeded {
                    Window::Succeeded {
                        name: exec.name,
                        skipped: true,
                    }
                } else {
                    free -= 1;
                    Window::Running {
                        exec,
                        attempt,
                        retried,
                    }
                };
            }
            let busy = windows
                .values()
                .any(|w| matches!(w, Window::Running { .. } | Window::Pending { .. }));
            if !busy {
                break;
            }
            tokio::time::sleep(self.poll).await;
            for w in windows.values_mut() {
                let Window::Running {
                    exec,
                    attempt,
                    retried,
                } = w
                else {
                    continue;
                };
                let Some(now) = self.pipeline.describe(&exec.arn).await? else {
                    return Err(anyhow::anyhow!("execution {} disappeared", exec.arn));
                };
                if now.running() {
                    continue;
                }
                let (attempt, retried) = (*attempt, *retried);
                *w = if now.status == ExecutionStatus::Succeeded {
                    Window::Succeeded {
                        name: now.name,
                        skipped: false,
                    }
                } else {
                    let error = Self::failure(&now, &self.outcome(&now).await?);
                    eprintln!("error: {}", error.message);
                    if retried {
                        Window::Failed {
                            name: now.name,
                            error,
                        }
                    } else {
                        Window::Pending {
                            attempt: attempt + 1,
                            retried: true,
                        }
                    }
                };
            }
        }
        let mut rows = Vec::new();
        let mut first_failure: Option<RunFailed> = None;
        let (mut ran, mut skipped, mut failed) = (0, 0, Vec::new());
        for (end, w) in windows {
            let (name, outcome, error) = match w {
                Window::Succeeded { name, skipped: true } => {
                    skipped += 1;
                    (name, "skipped: succeeded before", None)
                }
                Window::Succeeded { name, skipped: false } => {
                    ran += 1;
                    (name, "succeeded", None)
                }
                Window::Failed { name, error } => {
                    failed.push(name.clone());
                    (name, "FAILED", Some(error))
                }
                Window::Pending { .. } | Window::Running { .. } => continue,
            };
            rows.push(json!({
                "as_of": end.to_rfc3339(),
                "execution": name,
                "outcome": outcome,
                "error": error.as_ref().map(|e| e.message.clone()),
            }));
            if !json {
                match &error {
                    Some(e) => println!("{}  {name}  {outcome}: {}", end.to_rfc3339(), e.message),
                    None => println!("{}  {name}  {outcome}", end.to_rfc3339()),
                }
            }
            if first_failure.is_none() {
                first_failure = error;
            }
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
            println!(
                "backfill of {site}: {} windows, {ran} succeeded now, {skipped} had succeeded before, {} failed{}",
                ends.len(),
                failed.len(),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", failed.join(", "))
                }
            );
        }
        match first_failure {
            Some(e) => Err(RunFailed {
                code: e.code,
                message: format!(
                    "backfill: {} of {} windows failed; the first: {}",
                    failed.len(),
                    ends.len(),
                    e.message
                ),
            }
            .into()),
            None => Ok(()),
        }
    }

    async fn report_link(&self, key: &str) -> Option<String> {
        if !self.settings.store_url.starts_with("s3://") {
            return Some(crate::summary::report_location(&self.settings.store_url, key));
        }
        let store = S3Store::connect(&self.settings.store_url, &self.settings.s3)
            .await
            .ok()?;
        store
            .presigned_get(key, Duration::from_secs(24 * 3600))
            .await
            .ok()
    }

    async fn status(&self, site: Option<&str>, last: usize, json: bool) -> anyhow::Result<()> {
        let prefix = site.map(|s| format!("{s}-"));
        let listed = self
            .pipeline
            .list(last.saturating_mul(4).max(20), |n| {
                prefix.as_ref().is_none_or(|p| n.starts_with(p.as_str()))
            })
            .await?;
        let mut rows = Vec::new();
        for (_, arn, _) in listed {
            if rows.len() >= last {
                break;
            }
            let Some(exec) = self.pipeline.describe(&arn).await? else {
                continue;
            };
            if site.is_some_and(|s| exec.input["site"].as_str() != Some(s)) {
                continue;
            }
            let outcome = self.outcome(&exec).await?;
            let s = &outcome.state;
            let report = match s["save"]["report_key"].as_str() {
                Some(key) => self.report_link(key).await,
                None => None,
            };
            let seconds = exec
                .stop
                .map(|stop| (stop - exec.start).num_milliseconds() as f64 / 1000.0);
            let failure = (!exec.running() && exec.status != ExecutionStatus::Succeeded)
                .then(|| Self::failure(&exec, &outcome).message);
            rows.push(json!({
                "execution": exec.name,
                "site": exec.input["site"],
                "status": status_name(&exec.status),
                "started": exec.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "seconds": seconds,
                "lines_read": s["fetch"]["counts"]["parsed"]["lines"],
                "events_kept": s["fetch"]["counts"]["kept"],
                "readers": s["preprocess"]["funnel"]["readers"],
                "articles": s["preprocess"]["funnel"]["articles"],
                "model": serde_json::from_value::<ModelSpec>(s["model"]["train"]["model"].clone())
                    .ok()
                    .map(|m| m.to_string()),
                "promoted": s["model"]["train"]["gate"]["promote"],
                "gate": s["model"]["train"]["gate"]["reason"],
                "online": s["model"]["train"]["online"],
                "online_warning": s["model"]["train"]["gate"]["online_warning"],
                "report": report,
                "failure": failure,
            }));
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        if rows.is_empty() {
            println!(
                "no executions{}",
                site.map(|s| format!(" of site {s}")).unwrap_or_default()
            );
        }
        for r in &rows {
            print!("{}", status_block(r));
        }
        Ok(())
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn duration(secs: Option<f64>) -> String {
    match secs {
        None => "running".into(),
        Some(s) if s < 60.0 => format!("{s:.0}s"),
        Some(s) => format!("{}m {:02}s", (s / 60.0).floor(), (s % 60.0).floor()),
    }
}

/// One execution of `aws status`, as lines.
fn status_block(r: &Value) -> String {
    use article_rec::contract::online::{ModelHeadline, OnlineHeadline};
    let started = r["started"]
        .as_str()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        );
    let mut out = format!(
        "{}  {}  started {started}, {}\n",
        text(&r["execution"]),
        text(&r["status"]),
        duration(r["seconds"].as_f64())
    );
    if !r["lines_read"].is_null() {
        out.push_str(&format!(
            "  events:  {} lines read, {} kept; {} readers x {} articles\n",
            text(&r["lines_read"]),
            text(&r["events_kept"]),
            text(&r["readers"]),
            text(&r["articles"])
        ));
    }
    if !r["gate"].is_null() {
        let decision = if r["promoted"] == json!(true) {
            "promoted"
        } else {
            "KEPT THE CURRENT MODEL"
        };
        out.push_str(&format!(
            "  model:   {}; gate {decision}: {}\n",
            text(&r["model"]),
            text(&r["gate"])
        ));
    }
    if let Ok(o) = serde_json::from_value::<OnlineHeadline>(r["online"].clone()) {
        let ctr = |m: &Option<ModelHeadline>| {
            m.as_ref().map_or_else(
                || "-".to_string(),
                |m| {
                    let rate = m.ctr.map_or_else(|| "-".into(), |c| format!("{:.2}%", c * 100.0));
                    format!("{rate} of {} (model {})", m.counts.impressions, m.model_id)
                },
            )
        };
        out.push_str(&format!(
            "  online:  {} widget events; article CTR {}, defaults {}\n",
            o.widget_events,
            ctr(&o.article),
            ctr(&o.defaults)
        ));
    }
    if let Some(w) = r["online_warning"].as_str() {
        out.push_str(&format!("  WARNING: {w}\n"));
    }
    if let Some(f) = r["failure"].as_str() {
        out.push_str(&format!("  failed:  {f}\n"));
    }
    if let Some(link) = r["report"].as_str() {
        out.push_str(&format!("  report:  {link}\n"));
    }
    out
}
