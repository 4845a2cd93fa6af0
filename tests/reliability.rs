//! The defects a hostile or unlucky user found (issue 33), one test each,
//! through the `article-rec` binary as a user runs it. Each failed on the
//! release before the fix; the fault injection between stages is in
//! `fault_injection.rs`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const FIRST: &str = "2026-12-06T12:00:00Z";
/// Twelve hours after the sample data ends: no reads in the window's last 12 hours.
const SECOND: &str = "2026-12-07T00:00:00Z";

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_article-rec"));
    for var in [
        "DATABASE_URL",
        "DATABASE_URL_PARAMETER",
        "STORE_URL",
        "SITE",
        "APP_ID",
        "LOCAL_DIR",
        "STRICT_SETTINGS",
    ] {
        c.env_remove(var);
    }
    c.env("ALS_ITERATIONS", "5").env("ALS_FACTORS", "16");
    c
}

fn in_dir(dir: &Path, args: &[&str]) -> Command {
    let mut c = cli();
    c.args(args).arg("--dir").arg(dir);
    c
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn fails_with(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    assert!(stderr.contains(needle), "{needle:?} not in {}", text(out));
}

/// The README's sample site after two runs: the first ends where the
/// sample data ends, the second twelve hours later.
struct Site {
    dir: tempfile::TempDir,
    second: Value,
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        ok_json(
            &in_dir(dir.path(), &["run", "--json", "--as-of", FIRST])
                .output()
                .unwrap(),
        );
        let second = ok_json(
            &in_dir(dir.path(), &["run", "--json", "--as-of", SECOND])
                .output()
                .unwrap(),
        );
        Site { dir, second }
    })
}

/// A copy of the sample site a test may change (or open: SQLite changes its
/// files when a connection closes, so the shared site is never opened).
fn copy_of_site() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let out = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", site().dir.path().display()))
        .arg(copy.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    copy
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

async fn sqlite(dir: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}/article-rec.sqlite", dir.display()))
        .await
        .unwrap()
}

/// Each current model's (type, run id, recommendations).
async fn current(dir: &Path) -> Vec<(String, String, i64)> {
    let pool = sqlite(dir).await;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT m.type, m.run_id, (SELECT COUNT(*) FROM recommendation r WHERE r.model_id = m.id) \
         FROM model m WHERE m.status = 'current' ORDER BY m.type",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

/// 1. A window whose last hours have no reads: the default list is filled
/// by a rule that can answer on the whole window, and says it fell back.
#[tokio::test]
async fn an_empty_default_list_never_becomes_current() {
    let s = &site().second;
    assert_eq!(s["defaults"]["count"], 20, "{}", s["defaults"]);
    assert_eq!(s["save"]["default_recs_written"], 20, "{}", s["save"]);
    let best = &s["defaults"]["leaderboard"][0]["rule"];
    if *best != s["defaults"]["rule"] {
        let why = s["defaults"]["fallback"].as_str().unwrap_or_default();
        assert!(why.contains("on the whole window"), "{}", s["defaults"]);
    }
    // a copy: opening the site's database would checkpoint it under other tests' copies
    let d = copy_of_site();
    let models = current(d.path()).await;
    assert_eq!(
        models,
        [
            (
                "article".to_string(),
                "2026-12-07T00-00-00Z".to_string(),
                models[0].2
            ),
            ("popularity".to_string(), "2026-12-07T00-00-00Z".to_string(), 20),
        ]
    );
}

/// 2. `aws` commands need AWS: without a region, credentials and the
/// deployed database's parameter they refuse before touching anything.
#[tokio::test]
async fn aws_commands_refuse_without_aws_configuration_and_touch_nothing() {
    let d = copy_of_site();
    let before = tree(d.path());
    let bare = |args: &[&str], dir: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_article-rec"));
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", "/nonexistent")
            .args(args)
            .arg("--dir")
            .arg(dir);
        c.output().unwrap()
    };
    let out = bare(&["aws", "rollback", "--site", "example"], d.path());
    fails_with(&out, 2, "DATABASE_URL_PARAMETER");
    let mut with_parameter = Command::new(env!("CARGO_BIN_EXE_article-rec"));
    let out = with_parameter
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("DATABASE_URL_PARAMETER", "/article-rec/prod/database-url")
        .args(["aws", "rollback", "--site", "example", "--dir"])
        .arg(d.path())
        .output()
        .unwrap();
    fails_with(&out, 2, "region");
    for args in [&["aws", "status"][..], &["aws", "run", "--site", "example"][..]] {
        fails_with(&bare(args, d.path()), 2, "region");
    }
    assert!(
        tree(d.path()) == before,
        "an aws command changed the local directory"
    );
    assert_eq!(current(d.path()).await.len(), 2);
    // on a --dir that does not exist, nothing is made
    let empty = tempfile::tempdir().unwrap();
    let fresh = empty.path().join("never");
    fails_with(
        &bare(&["aws", "rollback", "--site", "example"], &fresh),
        2,
        "DATABASE_URL_PARAMETER",
    );
    assert!(!fresh.exists());
}

/// 3. `clean` removes what the job wrote and nothing else.
#[test]
fn clean_removes_only_what_the_job_wrote() {
    let v = copy_of_site();
    std::fs::create_dir(v.path().join("sub")).unwrap();
    std::fs::write(v.path().join("sub/keep.md"), "mine").unwrap();
    std::fs::write(v.path().join("notes.txt"), "x").unwrap();
    let out = in_dir(v.path(), &["clean", "--all"]).output().unwrap();
    fails_with(&out, 2, "notes.txt, sub");
    assert!(v.path().join("store").exists() && v.path().join("article-rec.sqlite").exists());
    let out = in_dir(v.path(), &["clean", "--all", "--keep-others"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!v.path().join("store").exists());
    assert!(!v.path().join("article-rec.sqlite").exists());
    assert_eq!(std::fs::read_to_string(v.path().join("notes.txt")).unwrap(), "x");
    assert_eq!(
        std::fs::read_to_string(v.path().join("sub/keep.md")).unwrap(),
        "mine"
    );

    // `--dir .`: the job's files go, the directory stays
    let here = copy_of_site();
    let out = cli()
        .current_dir(here.path())
        .args(["clean", "--all", "--dir", "."])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(here.path().exists());
    assert_eq!(std::fs::read_dir(here.path()).unwrap().count(), 0);

    // plain clean on a directory that is not the job's makes no database there
    let foreign = tempfile::tempdir().unwrap();
    std::fs::write(foreign.path().join("notes.txt"), "x").unwrap();
    let out = in_dir(foreign.path(), &["clean"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let names: Vec<String> = std::fs::read_dir(foreign.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["notes.txt"]);
}

/// 4. A file damaged between stages is refused, naming it; nothing of the
/// run is saved (every offset of every file: `fault_injection.rs`).
#[tokio::test]
async fn a_damaged_file_between_stages_is_refused_naming_it() {
    let d = copy_of_site();
    let run = "damaged";
    let stage = |name: &str| {
        let mut args = vec![name, "--run-id", run];
        if name == "fetch" {
            args.extend(["--as-of", SECOND]);
        }
        in_dir(d.path(), &args).output().unwrap()
    };
    for name in ["fetch", "preprocess", "defaults", "train"] {
        let out = stage(name);
        assert!(out.status.success(), "{name}: {}", text(&out));
    }
    let recs = d
        .path()
        .join(format!("store/runs/example/{run}/article_recs.parquet"));
    let clean = std::fs::read(&recs).unwrap();
    for i in [clean.len() / 3, clean.len() / 2, clean.len() - 20] {
        let mut bytes = clean.clone();
        bytes[i] ^= 0x04;
        std::fs::write(&recs, &bytes).unwrap();
        fails_with(&stage("save"), 1, "article_recs.parquet is damaged");
    }
    let models: Vec<String> = current(d.path()).await.into_iter().map(|m| m.1).collect();
    assert!(!models.contains(&run.to_string()), "{models:?}");
    std::fs::write(&recs, &clean).unwrap();
    assert!(stage("save").status.success());
}

/// 5. No password reaches any output, whatever characters it has.
#[tokio::test]
async fn no_database_password_reaches_any_output() {
    let schema = format!("t_reliability_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&article_rec_core::devtools::test_database_url())
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let d = copy_of_site();
    // trust authentication ignores the passwords, so the run succeeds with them
    let base = article_rec_core::devtools::test_database_url();
    let with_password = |pw: &str| base.replacen("://postgres@", &format!("://postgres:{pw}@"), 1);
    let sep = if base.contains('?') { '&' } else { '?' };
    for (url, secret) in [
        (with_password("Pw,S3cret"), "S3cret"),
        (with_password("a)b'c\"d"), "a)b'c\"d"),
        (format!("{base}{sep}password=q%22Zx9k%20pw"), "Zx9k"),
    ] {
        let url = format!(
            "{url}{}options=-csearch_path%3D{schema}",
            if url.contains('?') { '&' } else { '?' }
        );
        let out = cli()
            .env("DATABASE_URL", &url)
            .args(["run", "--json", "--as-of", SECOND, "--run-id", "pw", "--dir"])
            .arg(d.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).replace(secret, "<secret>"));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(secret), "the password is in the output");
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            summary["database"].as_str().unwrap().contains("127.0.0.1"),
            "{}",
            summary["database"]
        );
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}

/// An enriched event line of the sample site's tracker.
fn enriched(fields: &[(&str, &str)]) -> String {
    let names = article_rec_core::stages::fetch::snowplow::fields::FIELDS;
    let mut cols = vec![String::new(); names.len()];
    for (name, value) in fields {
        let i = names.iter().position(|n| n == name).unwrap();
        cols[i] = value.to_string();
    }
    cols.join("\t")
}

fn widget_line(n: usize, model_id: &str, model_type: &str) -> String {
    let flow = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.example.news/recommendation_flow/jsonschema/1-0-0","data":{"step_name":"widget_seen"}}}"#;
    let contexts = format!(
        r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{{"schema":"iglu:com.example.news/model/jsonschema/1-0-0","data":{{"id":"{model_id}","type":"{model_type}"}}}}]}}"#
    );
    let id = format!("6f1c2b4e-1d2a-4c3b-8e9f-{n:012}");
    let t = format!("2026-12-06 23:{:02}:{:02}.000", (n / 60) % 60, n % 60);
    enriched(&[
        ("app_id", "example"),
        ("platform", "web"),
        ("collector_tstamp", &t),
        ("derived_tstamp", &t),
        ("event", "unstruct"),
        ("event_id", &id),
        ("domain_userid", &format!("forger-{}", n % 7)),
        ("page_urlpath", "/article/100001/x/"),
        ("useragent", "Mozilla/5.0"),
        ("unstruct_event", flow),
        ("contexts", &contexts),
    ])
}

/// 6. What readers' browsers send is bounded: huge strings are bad rows,
/// made-up models are one "unknown" line, and the report stays small.
#[tokio::test]
async fn widget_events_from_the_page_cannot_grow_the_report() {
    let d = copy_of_site();
    let hour = d.path().join("store/enriched/good/2026/12/06/23");
    std::fs::create_dir_all(&hour).unwrap();
    let mut f = std::fs::File::create(hour.join("forged.tsv")).unwrap();
    let huge = "t".repeat(900_000);
    for n in 0..20 {
        writeln!(f, "{}", widget_line(n, "1", &huge)).unwrap();
    }
    for n in 20..2020 {
        writeln!(f, "{}", widget_line(n, &(2000 + n % 1000).to_string(), "article")).unwrap();
    }
    drop(f);
    let s = ok_json(
        &in_dir(
            d.path(),
            &["run", "--json", "--as-of", SECOND, "--run-id", "forged"],
        )
        .output()
        .unwrap(),
    );
    let run = d.path().join("store/runs/example/forged");
    let report = std::fs::metadata(run.join("report.html")).unwrap().len();
    let online = std::fs::read_to_string(run.join("online.json")).unwrap();
    assert!(report < 2_000_000, "report.html is {report} bytes");
    assert!(online.len() < 200_000, "online.json is {} bytes", online.len());
    let o: Value = serde_json::from_str(&online).unwrap();
    assert_eq!(o["unknown_models"]["events"], 2000, "{}", o["unknown_models"]);
    assert_eq!(o["unknown_models"]["models"], 1000);
    for m in o["models"].as_array().unwrap() {
        assert!(m["model_id"].as_str().unwrap().len() < 6, "{}", m["model_id"]);
    }
    let bad = std::fs::read_to_string(run.join("bad_rows.jsonl")).unwrap();
    let long = bad
        .lines()
        .filter(|l| l.contains("model type is 900000 bytes long"))
        .count();
    assert_eq!(long, 20, "each huge event is a bad row with its reason");
    assert!(s["fetch"]["counts"]["parsed"]["bad"].as_u64().unwrap() >= 20);
    assert_eq!(
        s["train"]["online"]["unknown_models"]["events"], 2000,
        "{}",
        s["train"]["online"]
    );
}

/// 7. Times in the future or before 2000 are refused before anything is written.
#[test]
fn times_out_of_range_are_refused() {
    let d = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["run", "--as-of", "2999-01-01T00:00:00Z"][..], "in the future"),
        (&["run", "--as-of", "1970-01-01T00:00:00Z"][..], "before 2000"),
        (
            &["generate", "--end", "2262-05-01T00:00:00Z"][..],
            "in the future",
        ),
        (
            &[
                "backfill",
                "--from",
                "2026-12-01T00:00:00Z",
                "--to",
                "2999-01-01T00:00:00Z",
            ][..],
            "in the future",
        ),
        (&["fetch", "--as-of", "2999-01-01T00:00:00Z"][..], "in the future"),
    ] {
        fails_with(&in_dir(d.path(), args).output().unwrap(), 2, needle);
    }
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        0,
        "nothing was written"
    );
}

/// 8. A mistyped `--as-of` never writes sample data into a store with input.
#[tokio::test]
async fn sample_data_goes_only_into_a_store_without_input() {
    let d = copy_of_site();
    let input = |d: &Path| tree(&d.join("store/enriched")).len();
    let before = input(d.path());
    let models = current(d.path()).await;
    let out = in_dir(d.path(), &["run", "--as-of", "2025-06-01T00:00:00Z"])
        .output()
        .unwrap();
    fails_with(&out, 1, "no input objects");
    assert_eq!(input(d.path()), before, "no sample data was written");
    assert_eq!(current(d.path()).await, models);
}

/// 9. Exit codes as `--help` documents them.
#[tokio::test]
async fn exit_codes_follow_the_help() {
    // another process holds SQLite's write lock: transient, 3
    let d = copy_of_site();
    let pool = sqlite(d.path()).await;
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let out = in_dir(d.path(), &["rollback"]).output().unwrap();
    fails_with(&out, 3, "database");
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop(holder);
    pool.close().await;

    // a URL that cannot work: configuration, 2
    let base = article_rec_core::devtools::test_database_url();
    for url in [
        "postgres://postgres@127.0.0.1:99999/test".to_string(),
        base.replacen("/test", "/no_such_database_here", 1),
    ] {
        let out = cli()
            .env("DATABASE_URL", &url)
            .args(["rollback", "--dir"])
            .arg(d.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}: {}", text(&out));
    }

    // PostgreSQL refuses the job's role: access denied, 5, naming the action
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    let name = format!("t_denied_{}", std::process::id());
    for sql in [
        format!("CREATE SCHEMA {name}"),
        format!("CREATE ROLE {name} LOGIN"),
        format!("REVOKE ALL ON SCHEMA {name} FROM PUBLIC"),
        // it may look, not create: the migrations need to
        format!("GRANT USAGE ON SCHEMA {name} TO {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .unwrap();
    }
    let url = base.replacen("://postgres@", &format!("://{name}@"), 1);
    let sep = if url.contains('?') { '&' } else { '?' };
    let out = cli()
        .env(
            "DATABASE_URL",
            format!("{url}{sep}options=-csearch_path%3D{name}"),
        )
        .args(["rollback", "--dir"])
        .arg(d.path())
        .output()
        .unwrap();
    fails_with(&out, 5, "permission denied");
    for sql in [format!("DROP SCHEMA {name} CASCADE"), format!("DROP ROLE {name}")] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .unwrap();
    }

    // a damaged run state is data, not a bug: 1, naming the file
    let state = d
        .path()
        .join("store/runs/example/2026-12-07T00-00-00Z/state.json");
    let body = std::fs::read(&state).unwrap();
    std::fs::write(&state, &body[..body.len() / 2]).unwrap();
    let out = in_dir(d.path(), &["save", "--run-id", "2026-12-07T00-00-00Z"])
        .output()
        .unwrap();
    fails_with(&out, 1, "state.json");
}

/// 10. An empty APP_ID would keep every app's events: it is refused.
#[test]
fn an_empty_app_id_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let out = cli()
        .env("APP_ID", "")
        .args(["generate", "--days", "1", "--dir"])
        .arg(d.path())
        .output()
        .unwrap();
    fails_with(&out, 2, "APP_ID is empty");
    assert!(!d.path().join("store").exists());
    // every app is asked for by name
    let out = cli()
        .env("APP_ID", "*")
        .args(["clean", "--dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// 11. A misspelt setting is named, with the setting it may mean.
#[test]
fn misspelt_settings_are_named() {
    let d = tempfile::tempdir().unwrap();
    let run = |strict: bool| {
        let mut c = cli();
        c.env("MAX_REC", "5").env("DAYS_OF_DAT", "3").env("SITEE", "foo");
        if strict {
            c.env("STRICT_SETTINGS", "1");
        }
        c.args(["clean", "--dir"]).arg(d.path()).output().unwrap()
    };
    let out = run(false);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (wrong, meant) in [
        ("MAX_REC", "MAX_RECS"),
        ("DAYS_OF_DAT", "DAYS_OF_DATA"),
        ("SITEE", "SITE"),
    ] {
        assert!(
            stderr.contains(&format!(
                "{wrong} is not a setting of article-rec (did you mean {meant}?)"
            )),
            "{stderr}"
        );
    }
    fails_with(&run(true), 2, "MAX_REC is not a setting");
}

/// 12. The README's test command is one that sets up what the tests need.
#[test]
fn the_readme_test_command_sets_up_what_the_tests_need() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let test_line = block.lines().nth(1).unwrap();
    let command = test_line.split('#').next().unwrap().trim();
    assert_eq!(command, "make test", "{test_line}");
    let makefile = std::fs::read_to_string(root.join("Makefile")).unwrap();
    let recipe = makefile
        .split("\ntest:")
        .nth(1)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .trim();
    assert_eq!(recipe, "scripts/test", "{recipe}");
    let script = std::fs::read_to_string(root.join("scripts/test")).unwrap();
    let (a, b, c) = article_rec_core::devtools::moto::MOTO_VERSION;
    let pin = format!("MOTO_VERSION={a}.{b}.{c}");
    for step in [
        pin.as_str(),
        "\"moto[server]==$MOTO_VERSION\"",
        "cfn-lint==",
        "asl-validator@",
        "chromium",
        "pg_ctlcluster",
        "cargo test --workspace --locked --no-fail-fast",
    ] {
        assert!(script.contains(step), "scripts/test does not {step}");
    }
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "make test"),
        ".ci/run runs the README's command"
    );
}
