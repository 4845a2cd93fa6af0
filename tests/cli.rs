//! The `article-rec` binary as a user runs it.

use std::process::Command;

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_article-rec"));
    c.env_remove("DATABASE_URL")
        .env_remove("STORE_URL")
        .env_remove("SITE");
    c.env("ALS_ITERATIONS", "5").env("ALS_FACTORS", "16");
    c
}

#[test]
fn run_on_embedded_defaults_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli()
        .args(["run", "--as-of", "2026-11-01T06:00:00Z", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "events:",
        "filter:",
        "saved:",
        "default recommendations:",
        "article-rec.sqlite",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    assert!(dir.path().join("article-rec.sqlite").exists());

    // a second run reuses the generated input and saves a new model
    let out = cli()
        .args(["run", "--json", "--as-of", "2026-11-01T08:00:00Z", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["save"]["newly_saved"], true);
    assert!(summary["save"]["recs_written"].as_u64().unwrap() > 0);

    // rollback puts the first run's models back, both of them
    let out = cli()
        .args(["rollback", "--json", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let switched: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let switched = switched.as_array().unwrap();
    assert_eq!(switched.len(), 2);
    for (entry, kind) in switched.iter().zip(["article", "popularity"]) {
        assert_eq!(entry["model_type"], kind);
        assert_eq!(entry["to"]["run_id"], "2026-11-01T06-00-00Z");
        assert_eq!(entry["to"]["status"], "current");
        assert_eq!(entry["from"]["run_id"], "2026-11-01T08-00-00Z");
        assert_eq!(entry["from"]["status"], "failed");
    }
    // nothing earlier is left: a clear error, and the current model stays
    let out = cli()
        .args(["rollback", "--model", "article", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot roll back the article model of site example: no earlier model is kept"),
        "{stderr}"
    );
}

#[test]
fn a_wrong_argument_is_a_clear_error() {
    let out = cli().args(["run", "--as-of", "yesterday"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--as-of"), "{stderr}");
    let out = cli().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_bad_setting_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli()
        .env("MAX_RECS", "lots")
        .args(["run", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAX_RECS"));
}
