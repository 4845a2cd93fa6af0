//! `clean`: removes what the job wrote locally, and nothing else. Plain
//! `clean` removes the runs' files and the parsed-hour cache from a local
//! store; `--all` also the store itself (input included) and the SQLite
//! database with its lock files, then `--dir` when that leaves it empty. A
//! directory that holds anything the job did not write is refused, unless
//! `--keep-others` says to remove the job's files around it; the current
//! directory is never removed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use article_rec_core::contract::layout;
use article_rec_core::settings::Settings;
use serde_json::json;

use crate::commands::Usage;

/// The SQLite file of the embedded defaults, as `Settings::local` names it.
const DATABASE_FILE: &str = "article-rec.sqlite";

/// Whether `name`, directly under `--dir`, is something the job writes: the
/// store, the SQLite file with its journal files, and the site lock files
/// beside it (`article-rec.sqlite.<site>-<hash>.lock`).
fn is_the_jobs(name: &str) -> bool {
    name == "store"
        || name == DATABASE_FILE
        || ["-wal", "-shm", "-journal"]
            .iter()
            .any(|s| name == format!("{DATABASE_FILE}{s}"))
        || (name.starts_with(&format!("{DATABASE_FILE}.")) && name.ends_with(".lock"))
}

/// Only a store on the local file system; never a deployment's.
fn local_store(settings: &Settings) -> anyhow::Result<PathBuf> {
    let url = &settings.store_url;
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(PathBuf::from(path));
    }
    if url.contains("://") {
        return Err(Usage(format!("clean only removes local outputs; STORE_URL is {url}")).into());
    }
    Ok(PathBuf::from(url))
}

pub async fn clean(
    dir: &Path,
    settings: &Settings,
    all: bool,
    keep_others: bool,
    json: bool,
) -> anyhow::Result<()> {
    let store = local_store(settings)?;
    if all {
        return clean_all(dir, settings, &store, keep_others, json);
    }
    // the store only: no database is opened (or created) to clean
    let mut prefixes = vec![layout::runs()];
    let mut sites = vec![settings.site.clone()];
    sites.extend(settings.sites.keys().cloned());
    for site in &sites {
        prefixes.push(layout::hour_cache(site)?);
    }
    let mut removed = 0;
    if store.is_dir() {
        let opened = article_rec_core::adapters::storage::open(&settings.store_url, &settings.s3).await?;
        for p in &prefixes {
            removed += opened.delete_prefix(p).await?;
        }
    }
    let names: Vec<String> = prefixes.iter().map(ToString::to_string).collect();
    if json {
        println!("{}", json!({"objects_removed": removed, "prefixes": names}));
    } else {
        println!(
            "removed {removed} objects under {} in {} (input, catalogues and the database are kept; --all removes them too)",
            names.join(", "),
            store.display()
        );
    }
    Ok(())
}

fn clean_all(
    dir: &Path,
    settings: &Settings,
    store: &Path,
    keep_others: bool,
    json: bool,
) -> anyhow::Result<()> {
    let defaults = Settings::local(dir);
    if settings.database_url != defaults.database_url || store != Path::new(&defaults.store_url) {
        return Err(Usage(format!(
            "clean --all removes the store and the SQLite database the embedded defaults keep in {}; \
             STORE_URL or DATABASE_URL names another place, which it leaves alone",
            dir.display()
        ))
        .into());
    }
    if !dir.exists() {
        report(json, dir, &[], false);
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let (mut ours, mut others) = (Vec::new(), Vec::new());
    for e in entries {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if is_the_jobs(&name) {
            ours.push(e.path());
        } else {
            others.push(name);
        }
    }
    others.sort();
    if !others.is_empty() && !keep_others {
        return Err(Usage(format!(
            "{} holds files the job did not write ({}): clean --all removes only the job's (store/, \
             {DATABASE_FILE} and its lock files); add --keep-others to remove those and keep the rest",
            dir.display(),
            others.join(", ")
        ))
        .into());
    }
    ours.sort();
    for p in &ours {
        let gone = if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
        gone.map_err(|source| article_rec_core::Error::Storage {
            key: p.display().to_string(),
            source,
        })?;
    }
    // the directory goes too when nothing else is in it, unless it is where
    // the command runs (or above it)
    let cwd = std::env::current_dir().ok().and_then(|c| c.canonicalize().ok());
    let here = dir.canonicalize().ok();
    let holds_cwd = matches!((&cwd, &here), (Some(c), Some(h)) if c.starts_with(h));
    let removed_dir = others.is_empty() && !holds_cwd && std::fs::remove_dir(dir).is_ok();
    let names: Vec<String> = ours.iter().map(|p| p.display().to_string()).collect();
    report(json, dir, &names, removed_dir);
    Ok(())
}

fn report(json: bool, dir: &Path, removed: &[String], removed_dir: bool) {
    if json {
        println!(
            "{}",
            json!({"dir": dir, "removed": removed, "removed_dir": removed_dir})
        );
    } else if removed.is_empty() {
        println!("nothing to remove in {}", dir.display());
    } else {
        println!(
            "removed {}{}",
            removed.join(", "),
            if removed_dir {
                format!(" and {}", dir.display())
            } else {
                String::new()
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_jobs_own_names_are_its() {
        for name in [
            "store",
            "article-rec.sqlite",
            "article-rec.sqlite-wal",
            "article-rec.sqlite-shm",
            "article-rec.sqlite.example-00ab12cd34ef5678.lock",
        ] {
            assert!(is_the_jobs(name), "{name}");
        }
        for name in [
            "notes.txt",
            "sub",
            "store2",
            "article-rec.sqlite.bak",
            ".git",
            "src",
        ] {
            assert!(!is_the_jobs(name), "{name}");
        }
    }
}
