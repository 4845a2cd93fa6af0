//! `check`: every setting with its source, the variables that look like
//! settings but are none, then one probe of everything the configuration
//! touches ([`article_rec_core::run::check`]).

use article_rec_core::run::check::{check as probe, settings_lines};
use article_rec_core::settings::{unknown_variables, Settings, VARIABLES};
use chrono::{DateTime, Utc};

pub async fn check(settings: Settings, as_of: DateTime<Utc>) -> anyhow::Result<()> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let ours: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| VARIABLES.contains(&k.as_str()))
        .cloned()
        .collect();
    println!(
        "settings of site {} (every variable the job reads):",
        settings.site
    );
    for line in settings_lines(&ours) {
        println!("{line}");
    }
    let unknown = unknown_variables(env.iter().map(|(k, _)| k.as_str()));
    for u in &unknown {
        println!("  unknown: {u}");
    }
    println!("what the configuration touches:");
    let mut failed = None;
    for p in probe(settings, as_of).await {
        match p.outcome {
            Ok(found) => println!("  ok      {:<16} {found} ({} ms)", p.what, p.millis),
            Err(e) => {
                println!("  FAILED  {:<16} {e} ({} ms)", p.what, p.millis);
                failed.get_or_insert((p.what, e));
            }
        }
    }
    if let Some((what, e)) = failed {
        return Err(anyhow::Error::new(e).context(format!("check failed: {what}")));
    }
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|u| u.name.as_str()).collect();
        return Err(anyhow::Error::new(article_rec_core::Error::Config(format!(
            "check failed: {} set but not a setting of article-rec",
            names.join(", ")
        ))));
    }
    println!("check passed");
    Ok(())
}
