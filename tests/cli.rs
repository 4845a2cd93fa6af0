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
        "leaders:  MRR@20 ",
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
    // on the sample site the promoted model reads better than the most-read list
    let e = &summary["train"]["evaluation"];
    let (best, popularity) = (&e["model"], &e["popularity"]);
    for figure in ["hit_rate", "mrr"] {
        assert!(
            best[figure].as_f64().unwrap() > popularity[figure].as_f64().unwrap(),
            "{figure}: {e}"
        );
    }
    assert_eq!(summary["train"]["gate"]["promote"], true, "{}", summary["train"]);
    assert!(summary["defaults"]["rule"].is_object(), "{}", summary["defaults"]);

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

/// Every name that becomes part of a file name is checked before anything is
/// written (a release build once wrote generated data outside --dir).
#[test]
fn names_that_would_leave_the_directory_are_refused_before_any_write() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("local");
    let cases: [(&str, &str, &[&str]); 4] = [
        ("APP_ID", "../../../escaped", &["run"]),
        ("APP_ID", "../../../escaped", &["generate", "--days", "1"]),
        ("SITE", "../escaped", &["run"]),
        ("SITE", "example", &["run", "--run-id", "../../escaped"]),
    ];
    for (var, value, args) in cases {
        let out = cli()
            .env(var, value)
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value} {args:?}: {stderr}");
        assert!(
            stderr.contains("escaped"),
            "the message names the bad name: {stderr}"
        );
        let mut stack = vec![parent.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                assert!(
                    path.starts_with(&dir),
                    "{var}={value} {args:?} wrote {} outside --dir",
                    path.display()
                );
                if path.is_dir() {
                    stack.push(path);
                }
            }
        }
        assert!(
            !dir.join("store").join("enriched").exists(),
            "{var}={value} {args:?}: no input may be generated"
        );
    }
}

/// A small site, three days, generated by the CLI itself.
fn small_site(dir: &std::path::Path) {
    let out = cli()
        .env("DAYS_OF_DATA", "3")
        .args([
            "generate",
            "--end",
            "2026-11-01T06:00:00Z",
            "--readers",
            "400",
            "--articles",
            "60",
            "--dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("wrote "), "{stdout}");
    assert!(dir.join("store/catalog/example/articles.jsonl").exists());
}

fn small(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    cli()
        .env("DAYS_OF_DATA", "3")
        .env("HOLDOUT_DAYS", "1")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn ok_json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn fails_with(out: &std::process::Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
}

#[test]
fn each_stage_runs_on_its_own_in_order_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    small_site(dir.path());
    let run = ["--run-id", "step"];

    // out of order: a clear message and the usage exit code
    fails_with(
        &small(dir.path(), &["preprocess", "--run-id", "step"]),
        2,
        "no run step of site example: start it with `article-rec fetch --run-id step`",
    );
    fails_with(&small(dir.path(), &["train"]), 2, "train needs --run-id");

    let fetched = ok_json(&small(
        dir.path(),
        &[
            "fetch",
            "--run-id",
            "step",
            "--as-of",
            "2026-11-01T06:00:00Z",
            "--json",
        ],
    ));
    assert!(fetched["counts"]["kept"].as_u64().unwrap() > 1000, "{fetched}");
    fails_with(
        &small(dir.path(), &["save", "--run-id", "step"]),
        2,
        "run step has no defaults output yet: run `article-rec defaults --run-id step` first",
    );
    fails_with(
        &small(
            dir.path(),
            &[
                "preprocess",
                "--run-id",
                "step",
                "--as-of",
                "2026-11-01T06:00:00Z",
            ],
        ),
        2,
        "--as-of is for fetch",
    );
    let pre = ok_json(&small(
        dir.path(),
        &[&["preprocess", "--json"][..], &run].concat(),
    ));
    assert!(pre["funnel"]["readers"].as_u64().unwrap() > 100, "{pre}");
    let out = small(dir.path(), &[&["defaults"][..], &run].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("defaults of run step of site example done"),
        "{stdout}"
    );
    let train = ok_json(&small(dir.path(), &[&["train", "--json"][..], &run].concat()));
    // the candidates were measured and the best one, which beats popularity, refitted
    let e = &train["evaluation"];
    assert!(e["leaderboard"].as_array().unwrap().len() > 5, "{train}");
    assert_eq!(train["model"], e["winner"], "{train}");
    assert!(
        e["model"]["mrr"].as_f64().unwrap() > e["popularity"]["mrr"].as_f64().unwrap(),
        "{train}"
    );
    assert!(
        train["recs_key"]
            .as_str()
            .unwrap()
            .ends_with("/article_recs.parquet"),
        "{train}"
    );
    let save = ok_json(&small(dir.path(), &[&["save", "--json"][..], &run].concat()));
    assert!(save["default_recs_written"].as_u64().unwrap() > 0, "{save}");
    let report = dir
        .path()
        .join("store")
        .join(save["report_key"].as_str().unwrap());
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("id=\"funnel\"") && html.contains("id=\"training\""));

    // the state the stages passed along is the state machine's
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("store/runs/example/step/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["model"]["train"], train);
    assert_eq!(state["save"], save);

    // a window with no input: the data exit code (one in the future is
    // wrong usage: tests/reliability.rs)
    fails_with(
        &small(
            dir.path(),
            &["fetch", "--run-id", "empty", "--as-of", "2001-01-01T00:00:00Z"],
        ),
        1,
        "no input objects",
    );
}

#[test]
fn backfill_runs_each_past_window_and_clean_removes_outputs() {
    let dir = tempfile::tempdir().unwrap();
    small_site(dir.path());
    fails_with(
        &small(
            dir.path(),
            &[
                "backfill",
                "--from",
                "2026-11-02T00:00:00Z",
                "--to",
                "2026-11-01T00:00:00Z",
            ],
        ),
        2,
        "is after --to",
    );
    let runs = ok_json(&small(
        dir.path(),
        &[
            "backfill",
            "--from",
            "2026-10-31T06:00:00Z",
            "--to",
            "2026-11-01T06:00:00Z",
            "--every-hours",
            "24",
            "--json",
        ],
    ));
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run"]["run_id"], "2026-10-31T06-00-00Z");
    assert_eq!(runs[1]["run"]["run_id"], "2026-11-01T06-00-00Z");
    for r in runs {
        assert!(r["save"]["default_recs_written"].as_u64().unwrap() > 0, "{r}");
        assert!(
            std::path::Path::new(r["report"].as_str().unwrap()).exists(),
            "{r}"
        );
    }

    // clean: run outputs and the hour cache go, input and catalogue stay
    let store = dir.path().join("store");
    assert!(store.join("runs").exists() && store.join("cache").exists());
    let cleaned = ok_json(&small(dir.path(), &["clean", "--json"]));
    assert!(cleaned["objects_removed"].as_u64().unwrap() > 10, "{cleaned}");
    assert!(!store.join("runs/example").exists());
    assert!(!store.join("cache/example").exists());
    assert!(store.join("catalog/example/articles.jsonl").exists());
    assert!(store.join("enriched").exists());
    // never a deployment's store
    let out = cli()
        .env("STORE_URL", "s3://somebody-elses-bucket")
        .args(["clean", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    fails_with(&out, 2, "clean only removes local outputs");
    let out = small(dir.path(), &["clean", "--all"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().exists());
}

#[test]
fn help_explains_every_subcommand_and_the_exit_codes() {
    let out = cli().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "run",
        "fetch",
        "preprocess",
        "defaults",
        "train",
        "save",
        "backfill",
        "rollback",
        "generate",
        "clean",
    ] {
        assert!(help.contains(&format!("  {sub} ")), "{sub} missing from:\n{help}");
    }
    assert!(help.contains("Exit codes:"), "{help}");
    for (sub, options) in [
        ("backfill", &["--from", "--to", "--every-hours", "--json"][..]),
        ("fetch", &["--run-id", "--as-of", "--json"][..]),
        ("clean", &["--all", "--json"][..]),
        (
            "generate",
            &["--end", "--days", "--readers", "--articles", "--seed"][..],
        ),
        ("rollback", &["--model", "--json"][..]),
    ] {
        let out = cli().args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for o in options {
            assert!(help.contains(o), "{sub} --help lacks {o}:\n{help}");
        }
    }
    let out = cli()
        .args(["backfill", "--from", "2026-11-01T00:00:00Z"])
        .output()
        .unwrap();
    fails_with(&out, 2, "--to");
    let out = cli().args(["clean", "--everything"]).output().unwrap();
    fails_with(&out, 2, "--everything");
    // every subcommand refuses a wrong argument with a message naming it
    for (args, needle) in [
        (&["fetch", "--as-of", "soon"][..], "--as-of"),
        (&["defaults", "--run-id", "a/b"][..], "bad run id"),
        (&["rollback", "--model", "everything"][..], "--model"),
        (&["generate", "--readers", "many"][..], "--readers"),
        (
            &[
                "backfill",
                "--from",
                "2026-11-01T00:00:00Z",
                "--to",
                "2026-11-02T00:00:00Z",
                "--every-hours",
                "0",
            ][..],
            "--every-hours",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = cli().args(args).arg("--dir").arg(dir.path()).output().unwrap();
        fails_with(&out, 2, needle);
    }
}

/// `recs` and `serve` answer the API's query from the job's own database:
/// an article's recommendations as save wrote them (best first), excluded
/// articles left out, `size` of them; the site's current defaults for an
/// article the model has nothing for; the API's 400 for what it refuses.
#[test]
fn recs_and_serve_answer_the_apis_query_with_its_fallback() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    small_site(dir.path());
    ok_json(&small(
        dir.path(),
        &["run", "--json", "--as-of", "2026-11-01T06:00:00Z"],
    ));
    // what save wrote, read straight from the database
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("article-rec.sqlite").display());
    let saved = |source: &str| -> Vec<String> {
        rt.block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT a.external_id FROM recommendation r JOIN model m ON m.id = r.model_id \
                 JOIN article a ON a.id = r.recommended_article_id \
                 WHERE m.status = 'current' AND m.site = 'example' AND r.source_entity_id = ? \
                 ORDER BY r.score DESC, a.external_id",
            )
            .bind(source)
            .fetch_all(&pool)
            .await
            .unwrap();
            rows.into_iter().map(|r| r.0).collect()
        })
    };
    let article: String = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar(
            "SELECT r.source_entity_id FROM recommendation r JOIN model m ON m.id = r.model_id \
             WHERE m.status = 'current' AND m.type = 'article' ORDER BY r.source_entity_id LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    });
    let expected = saved(&article);
    assert!(expected.len() >= 4, "{expected:?}");
    let ids = |answer: &serde_json::Value| -> Vec<String> {
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["recommended_article"]["external_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };

    let out = small(dir.path(), &["recs", "--article", &article]);
    let all = ok_json(&out);
    assert_eq!(ids(&all), expected[..expected.len().min(20)]);
    let first = &all["results"][0];
    assert_eq!(first["source_entity_id"], article.as_str());
    assert_eq!(first["model"]["type"], "article");
    assert_eq!(first["model"]["status"], "current");
    assert!(
        first["score"].as_str().unwrap().len() == 8,
        "six places: {}",
        first["score"]
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("defaults"));

    let exclude = format!("{},{}", expected[0], expected[2]);
    let some = ok_json(&small(
        dir.path(),
        &[
            "recs",
            "--article",
            &article,
            "--exclude",
            &exclude,
            "--size",
            "2",
        ],
    ));
    assert_eq!(ids(&some), [expected[1].clone(), expected[3].clone()]);

    // an article the model has nothing for: the site's defaults stand in
    let defaults = saved("default");
    assert!(!defaults.is_empty());
    let out = small(dir.path(), &["recs", "--article", "999999999", "--size", "5"]);
    let fallback = ok_json(&out);
    assert_eq!(ids(&fallback), defaults[..defaults.len().min(5)]);
    assert_eq!(fallback["results"][0]["model"]["type"], "popularity");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the site's current defaults"));
    let asked = ok_json(&small(dir.path(), &["recs", "--defaults", "--size", "5"]));
    assert_eq!(ids(&asked), ids(&fallback));

    fails_with(
        &small(dir.path(), &["recs", "--article", &article, "--exclude", "x"]),
        2,
        "Invalid input for 'exclude' (List[int]): x",
    );

    // the same answers over HTTP
    let mut server = cli()
        .args(["serve", "--port", "0", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches("/recs")
        .to_string();
    let get = |query: &str| -> (u16, Option<String>, serde_json::Value) {
        rt.block_on(async {
            let r = reqwest::get(format!("{base}/recs?{query}")).await.unwrap();
            let status = r.status().as_u16();
            let origin = r
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_string());
            (
                status,
                origin,
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
            )
        })
    };
    let (status, origin, body) = get(&format!(
        "source_entity_id={article}&site=example&model_type=article&exclude={exclude}&size=2"
    ));
    assert_eq!((status, origin.as_deref()), (200, Some("*")));
    assert_eq!(body, some);
    let (status, _, body) = get("source_entity_id=999999999&size=5");
    assert_eq!((status, &body), (200, &fallback));
    let (status, _, body) = get("size=500");
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Invalid input for 'size' (int), must be below 100: 500"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// `check` on a working configuration touches everything and passes; a
/// misspelt variable is named with the setting it was meant to be (exit 2);
/// a database that does not answer fails as a run would (exit 3), its
/// password never printed; a store without input says so (exit 1).
#[test]
fn check_touches_what_a_run_touches_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    small_site(dir.path());
    let check = ["check", "--as-of", "2026-11-01T06:00:00Z", "--dir"];
    let out = cli()
        .env("MAX_RECS", "15")
        .args(check)
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "  MAX_RECS=15 (environment)",
        "  SITE (default)",
        "  ok      store ",
        "  ok      input ",
        "newest hour with input: 2026-11-01 05:00 UTC",
        "  ok      database ",
        "no current article model",
        "  ok      site ",
        "  ok      embedding model  none",
        "check passed",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in:\n{stdout}");
    }
    assert!(
        std::fs::read_dir(dir.path().join("store/runs/example/check"))
            .unwrap()
            .count()
            == 1,
        "the store probe's write"
    );

    let out = cli()
        .env("MAX_REC", "5")
        .args(check)
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("unknown: MAX_REC is not a setting of article-rec (did you mean MAX_RECS?)"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAX_REC set but not a setting"));

    let out = cli()
        .env("DATABASE_URL", "postgres://app:Pw-S3cret@127.0.0.1:1/recs")
        .args(check)
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("  FAILED  database"), "{stdout}");
    assert!(
        !stdout.contains("S3cret") && !stderr.contains("S3cret"),
        "{stdout}\n{stderr}"
    );

    // a month after the input ends: the loader's prefix holds nothing recent
    let out = cli()
        .args(["check", "--as-of", "2026-12-01T00:00:00Z", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("  FAILED  input"), "{stdout}");
    assert!(
        stdout.contains("no input under enriched/good/ in the last 48 hours"),
        "{stdout}"
    );
}
