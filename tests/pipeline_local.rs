//! The whole job on generated data with the embedded defaults (local directory
//! and SQLite), checked against what the generator wrote.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use article_rec_core::adapters::parquet::{Articles, HourEvents};
use article_rec_core::contract::database::ModelType;
use article_rec_core::contract::database::DEFAULT_SOURCE;
use article_rec_core::contract::evaluation::ModelSpec;
use article_rec_core::contract::integrity::Digest;
use article_rec_core::contract::layout::{InputLayout, RunLayout};
use article_rec_core::contract::partials::WindowPartials;
use article_rec_core::contract::stage::{RunRef, SaveOutput, Stage, TrainOutput};
use article_rec_core::devtools::generate::{self, Spec, Truth};
use article_rec_core::recommend::families::FAMILIES;
use article_rec_core::recommend::family::{Family, Role};
use article_rec_core::settings::Settings;
use article_rec_core::Context;
use sqlx::Row;

const AS_OF: &str = "2026-11-01T06:00:00Z";

fn spec(seed: u64) -> Spec {
    let mut s = Spec::sample("example", AS_OF.parse().unwrap(), 28, seed);
    s.readers = 1500;
    s.articles = 200;
    s
}

fn run_ref(id: &str) -> RunRef {
    RunRef {
        site: "example".into(),
        run_id: id.into(),
        as_of: AS_OF.parse().unwrap(),
    }
}

async fn context(dir: &Path) -> Context {
    let mut settings = Settings::local(dir);
    settings.als.iterations = 8;
    // a 200-article catalogue of 8 topics: 64 factors would memorise it
    settings.als.factors = 8;
    Context::from_settings(settings).await.unwrap()
}

async fn generated(ctx: &Context, seed: u64) -> Truth {
    let input = InputLayout::new(&ctx.settings.input_prefix).unwrap();
    let data = generate::generate(&spec(seed), &input).unwrap();
    generate::write(&data, ctx.store.as_ref(), &input, "example")
        .await
        .unwrap();
    data.truth
}

/// Every current recommendation of the site, by source, as the API reads them.
async fn all_recs(ctx: &Context, sources: &[String]) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut out = BTreeMap::new();
    for s in sources.iter().map(String::as_str).chain([DEFAULT_SOURCE]) {
        out.insert(
            s.to_string(),
            ctx.db().unwrap().current_recs("example", s).await.unwrap(),
        );
    }
    out
}

async fn surviving_articles(ctx: &Context, run: &RunRef) -> Vec<String> {
    let layout = RunLayout::new(run).unwrap();
    let file = Articles::read(ctx.store.as_ref(), &layout.articles())
        .await
        .unwrap();
    file.columns()
        .unwrap()
        .external_id
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_job_on_generated_data() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let truth = generated(&ctx, 42).await;
    let run = run_ref("run-1");
    let report = article_rec_core::run::runner::run_pipeline(&ctx, &run)
        .await
        .unwrap();
    let mut order: Vec<Stage> = report.timings.iter().map(|t| t.stage).collect();
    order.dedup();
    assert_eq!(order, Stage::ALL, "stages run in the state machine's order");
    // 28 days of new hours: planned, parsed one by one, then read from the cache
    assert_eq!(report.state["fetch_plan"]["distributed"], true);
    assert_eq!(report.state["fetch"]["counts"]["hours_parsed"], 0);

    // fetch found exactly what the generator wrote
    let counts = &report.state["fetch"]["counts"];
    assert_eq!(counts["parsed"]["lines"], truth.lines);
    assert_eq!(counts["kept"], truth.valid_events);
    assert_eq!(counts["duplicates"], truth.duplicates);
    assert_eq!(counts["parsed"]["bad"], truth.malformed.len() as u64);
    assert!(truth.malformed.len() >= 3);

    // every malformed line is in the bad-rows object with its reason
    let bad_key = report.state["fetch"]["bad_rows_key"].as_str().unwrap();
    let layout = RunLayout::new(&run).unwrap();
    assert_eq!(bad_key, layout.bad_rows().as_str());
    let bad = ctx.store.get(&layout.bad_rows()).await.unwrap();
    let bad: Vec<serde_json::Value> = String::from_utf8(bad.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for m in &truth.malformed {
        let row = bad
            .iter()
            .find(|b| b["key"] == m.key.as_str() && b["line"] == m.line)
            .unwrap_or_else(|| panic!("malformed line {}:{} not in bad rows", m.key, m.line));
        let reason = row["reason"].as_str().unwrap();
        let expected = m.kind.reason_prefix();
        assert!(reason.starts_with(expected), "{reason} vs {expected}");
    }

    // the model was measured on the last 2 days, never trained on, and beats
    // popularity there by a clear margin: the generator plants topics
    let train: TrainOutput = serde_json::from_value(report.state["model"]["train"].clone()).unwrap();
    let e = train.evaluation.as_ref().expect("evaluated");
    eprintln!("evaluation: {e:?}");
    assert!(e.model.questions >= 200, "{e:?}");
    assert!(e.model.hit_rate > e.popularity.hit_rate + 0.08, "{e:?}");
    assert!(e.model.mrr > 1.5 * e.popularity.mrr, "{e:?}");
    // AUC over the served lists (what a list leaves out counts as tied)
    assert!(e.model.auc > e.popularity.auc + 0.05, "{e:?}");
    // the winner was chosen among measured candidates, and it is what was refitted
    assert!(e.leaderboard.len() > 10, "{e:?}");
    assert_eq!(Some(&e.leaderboard[0].spec), e.winner.as_ref());
    assert_eq!(train.model, e.winner);
    let winner = e.winner.as_ref().unwrap();
    let baseline =
        |f| article_rec_core::recommend::family::find(FAMILIES, f).map(Family::role) == Some(Role::Baseline);
    assert!(!baseline(winner.family()), "{e:?}");
    assert!(e.model.coverage > e.popularity.coverage, "{e:?}");
    assert!(train.gate.promote, "{:?}", train.gate);
    assert_eq!(train.warm_start_from, None);
    let body = ctx.store.get(&layout.evaluation()).await.unwrap();
    let stored: TrainOutput = serde_json::from_slice(&body).unwrap();
    // the file is the output, but for its own digest, which only the wire can carry
    let digest = train.files.get(layout.evaluation().as_str()).unwrap();
    assert_eq!(*digest, Digest::of(&body));
    let mut listed = stored.files.clone();
    listed.insert(&layout.evaluation(), digest.clone());
    assert_eq!(
        TrainOutput {
            files: listed,
            ..stored
        },
        train
    );

    // every surviving article has 1..=MAX_RECS recommendations, never itself
    let articles = surviving_articles(&ctx, &run).await;
    assert!(articles.len() > 50, "only {} articles survived", articles.len());
    let recs = all_recs(&ctx, &articles).await;
    let max = ctx.settings.max_recs;
    for a in &articles {
        let list = &recs[a];
        assert!(
            !list.is_empty() && list.len() <= max,
            "article {a}: {} recs",
            list.len()
        );
        assert!(list.iter().all(|(r, _)| r != a), "article {a} recommends itself");
        assert!(list.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
        assert!(list.windows(2).all(|w| w[0].1 >= w[1].1));
    }
    let defaults = &recs[DEFAULT_SOURCE];
    assert!(!defaults.is_empty() && defaults.len() <= max);

    // the stories nobody has read yet, the freshest published after the last
    // event, are sources with lists from their text, and are recommended
    let partials: WindowPartials =
        serde_json::from_slice(&ctx.store.get(&layout.partials()).await.unwrap()).unwrap();
    let mut last_event_ms = i64::MIN;
    for h in &partials.hours {
        let key = article_rec_core::contract::layout::ObjectKey::parse(&h.events_key).unwrap();
        let events = HourEvents::read(ctx.store.as_ref(), &key).await.unwrap();
        last_event_ms = last_event_ms.max(events.columns().unwrap().time_ms.into_iter().max().unwrap());
    }
    let freshest = truth.fresh.last().unwrap();
    let published: DateTime<Utc> = AS_OF.parse().unwrap();
    assert!(
        published.timestamp_millis() > last_event_ms,
        "{published} vs {last_event_ms}"
    );
    assert_eq!(truth.fresh.len(), 4);
    let unread = report.state["preprocess"]["metadata"]["unread"].as_u64().unwrap();
    assert!(unread >= 4, "{unread} unread candidates");
    let fresh_recs = all_recs(&ctx, &truth.fresh).await;
    for f in &truth.fresh {
        assert!(articles.contains(f), "{f} is a source");
        let list = &fresh_recs[f];
        assert!(!list.is_empty() && list.len() <= max, "{f}: {list:?}");
    }
    assert!(!fresh_recs[freshest].is_empty());
    assert!(
        recs.values().flatten().any(|(r, _)| truth.fresh.contains(r)),
        "no fresh story is recommended anywhere"
    );

    // on the cold questions (fresh or barely read articles) content carries
    // the winner far above its collaborative part and clearly above
    // popularity, and the warm ones are not lost against the collaborative
    // part alone
    let (ms, ps) = (e.model_slices.unwrap(), e.popularity_slices.unwrap());
    assert!(ms.cold.questions >= 50, "{ms:?}");
    assert!(ms.cold.hit_rate > ps.cold.hit_rate + 0.1, "{ms:?} vs {ps:?}");
    let winner = e.winner.as_ref().unwrap();
    let collaborative = winner.nested("base").unwrap_or_else(|| winner.clone());
    let base = e
        .leaderboard
        .iter()
        .find(|c| c.spec == collaborative)
        .and_then(|c| c.slices)
        .unwrap();
    assert!(
        ms.warm.hit_rate >= base.warm.hit_rate - 0.01,
        "{ms:?} vs {base:?}"
    );
    if collaborative != *e.winner.as_ref().unwrap() {
        assert!(ms.cold.hit_rate > base.cold.hit_rate + 0.2, "{ms:?} vs {base:?}");
    }
    assert!((defaults[0].1 - 1.0).abs() < 1e-6, "best default scaled to 1");

    // the SQLite file itself: one current model of each type, recs only for surviving articles
    let sqlite_url = ctx.settings.database_url.clone();
    let pool = sqlx::SqlitePool::connect(&sqlite_url).await.unwrap();
    let current: Vec<(String, i64)> = sqlx::query(
        "SELECT type, count(*) FROM model WHERE site = 'example' AND status = 'current' GROUP BY type ORDER BY type",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(
        current,
        [("article".to_string(), 1), ("popularity".to_string(), 1)]
    );
    let sources: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT source_entity_id) FROM recommendation r JOIN model m ON m.id = r.model_id \
         WHERE m.status = 'current' AND m.type = 'article'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(sources as usize, articles.len());

    // a retried save (same run id) neither duplicates rows nor makes a new model
    let rows_before: i64 = sqlx::query_scalar("SELECT count(*) FROM recommendation")
        .fetch_one(&pool)
        .await
        .unwrap();
    let again = article_rec_core::run::dispatch::dispatch(Stage::Save, report.state.clone(), &ctx)
        .await
        .unwrap();
    let again: SaveOutput = serde_json::from_value(again).unwrap();
    assert!(!again.newly_saved);
    assert!(again.article_model_id.is_some());
    assert_eq!(
        again.article_model_id,
        report.state["save"]["article_model_id"].as_i64()
    );
    let rows_after: i64 = sqlx::query_scalar("SELECT count(*) FROM recommendation")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows_before, rows_after);
    let models: i64 = sqlx::query_scalar("SELECT count(*) FROM model")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(models, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn same_seed_same_recommendations() {
    let mut results = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path()).await;
        generated(&ctx, 7).await;
        let run = run_ref("repro");
        article_rec_core::run::runner::run_pipeline(&ctx, &run)
            .await
            .unwrap();
        let articles = surviving_articles(&ctx, &run).await;
        results.push(all_recs(&ctx, &articles).await);
    }
    assert!(results[0].len() > 50);
    assert_eq!(results[0], results[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_window_is_a_clear_error_and_leaves_nothing_current() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    let err = article_rec_core::run::runner::run_pipeline(&ctx, &run_ref("empty"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no input objects"), "{err}");
    assert!(ctx
        .db()
        .unwrap()
        .current_model(
            "example",
            article_rec_core::contract::database::ModelType::Article
        )
        .await
        .unwrap()
        .is_none());
    // nothing was written for the run
    let layout = RunLayout::new(&run_ref("empty")).unwrap();
    assert!(matches!(
        ctx.store.get(&layout.partials()).await,
        Err(article_rec_core::Error::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn later_runs_warm_start_and_the_gate_keeps_a_worse_model_out() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    // matrix factorisation only: its warm start is what is under test
    let mut als_only = ctx.settings.clone();
    als_only.quality.selection.families = vec!["als".into()];
    let ctx = Context::from_settings(als_only).await.unwrap();
    generated(&ctx, 11).await;
    let first = run_ref("first");
    article_rec_core::run::runner::run_pipeline(&ctx, &first)
        .await
        .unwrap();

    // two hours later: the production model starts from the first run's factors
    let mut second = run_ref("second");
    second.as_of += chrono::Duration::hours(2);
    let report = article_rec_core::run::runner::run_pipeline(&ctx, &second)
        .await
        .unwrap();
    let train: TrainOutput = serde_json::from_value(report.state["model"]["train"].clone()).unwrap();
    assert_eq!(train.warm_start_from.as_deref(), Some("first"));
    assert!(train.warm_start_articles > 50, "{}", train.warm_start_articles);
    assert_eq!(train.iterations, ctx.settings.als.warm_iterations);
    let current_eval = train.evaluation.as_ref().unwrap().model;
    let first_eval: TrainOutput = serde_json::from_slice(
        &ctx.store
            .get(&RunLayout::new(&first).unwrap().evaluation())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(train.current_model, first_eval.evaluation.map(|e| e.model));
    let save: SaveOutput = serde_json::from_value(report.state["save"].clone()).unwrap();
    let kept = save.article_model_id.expect("promoted");

    // a floor no model can reach: the current article model stays, the
    // defaults are still refreshed, and the outputs say why
    let mut strict = ctx.settings.clone();
    strict.quality.gate.min_auc = 0.999;
    let strict = Context::from_settings(strict).await.unwrap();
    let mut third = run_ref("third");
    third.as_of += chrono::Duration::hours(4);
    let report = article_rec_core::run::runner::run_pipeline(&strict, &third)
        .await
        .unwrap();
    let train: TrainOutput = serde_json::from_value(report.state["model"]["train"].clone()).unwrap();
    assert!(!train.gate.promote);
    assert!(
        train.gate.reason.contains("below the floor 0.999"),
        "{}",
        train.gate.reason
    );
    assert_eq!(train.current_model, Some(current_eval));
    let save: SaveOutput = serde_json::from_value(report.state["save"].clone()).unwrap();
    assert_eq!(save.article_model_id, None);
    assert_eq!(
        save.article_model_rejected.as_deref(),
        Some(train.gate.reason.as_str())
    );
    assert_eq!(save.recs_written, 0);
    assert!(save.default_recs_written > 0);
    let article = ctx
        .db()
        .unwrap()
        .current_model("example", ModelType::Article)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((article.id, article.run_id.as_str()), (kept, "second"));
    let popularity = ctx
        .db()
        .unwrap()
        .current_model("example", ModelType::Popularity)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(popularity.run_id, "third");
}

/// Headless Chromium (Debian's `chromium`; `.ci/run` installs it) on `url`.
fn chromium(args: &[&str], url: &str, profile: &Path) -> std::process::Output {
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("chromium: {e} (install Debian's chromium package)"));
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_report_opens_in_a_browser_with_every_section_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    generated(&ctx, 11).await;
    let run = run_ref("report");
    let report = article_rec_core::run::runner::run_pipeline(&ctx, &run)
        .await
        .unwrap();
    let key = RunLayout::new(&run).unwrap().report();
    assert_eq!(report.state["save"]["report_key"], key.as_str());
    let html = String::from_utf8(ctx.store.get(&key).await.unwrap().to_vec()).unwrap();
    // no network: the only URLs are the SVG namespace
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "self-contained, no scripts"
    );

    // the browser's own view of the page
    let file = dir.path().join("store").join(key.as_str());
    let url = format!("file://{}", file.display());
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(&["--dump-dom"], &url, profile.path());
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in [
        "summary",
        "gate",
        "funnel",
        "dwell",
        "training",
        "evaluation",
        "defaults",
        "samples",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "section {id} missing");
    }
    assert!(
        dom.matches("<svg").count() >= 3,
        "funnel, dwell and metrics charts"
    );
    // the leaderboard: a row per candidate, the winner in bold
    let board = dom
        .split("id=\"leaderboard\"")
        .nth(1)
        .expect("leaderboard section");
    let board = board.split("</table>").next().unwrap();
    let train: TrainOutput = serde_json::from_value(report.state["model"]["train"].clone()).unwrap();
    let e = train.evaluation.as_ref().unwrap();
    assert_eq!(board.matches("<tr>").count(), e.leaderboard.len() + 1, "{board}");
    assert!(
        board.contains(&format!("<b>{}</b>", e.winner.as_ref().unwrap())),
        "{board}"
    );
    assert!(
        dom.contains("Quality gate: <span class=\"ok\">promoted</span>"),
        "{dom}"
    );
    assert!(dom.contains("chosen model") && dom.contains("popularity"));
    // the defaults' rules, one row each
    let rules = dom
        .split("id=\"default-rules\"")
        .nth(1)
        .expect("the defaults' rules");
    let rules = rules.split("</table>").next().unwrap();
    assert_eq!(rules.matches("<tr>").count(), 1 + 6, "{rules}");
    let samples = dom.split("id=\"samples\"").nth(1).unwrap();
    assert!(
        samples.matches("<li>").count() >= 10,
        "sample articles with their recommendations"
    );

    // and a screenshot of it, kept beside the build for people to look at
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            "--window-size=1100,3000",
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
        profile.path(),
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 50_000,
        "a rendered page, not a blank one: {} bytes",
        png.len()
    );
}

/// An operator's static embedding model in the store (`CONTENT_EMBEDDINGS`
/// names `models/<name>/`): its candidate is measured on the holdout beside
/// the others; a model that is not there fails the run, naming the file.
#[tokio::test(flavor = "multi_thread")]
async fn an_operators_embedding_model_in_the_store_is_a_measured_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = context(dir.path()).await.settings.clone();
    settings.quality.selection.embeddings = Some("news-words".into());
    let ctx = Context::from_settings(settings).await.unwrap();
    generated(&ctx, 11).await;
    let err = article_rec_core::run::runner::run_pipeline(&ctx, &run_ref("no-model"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("models/news-words/model.safetensors"), "{err}");

    // a model whose tokens are the catalogue's words, each a fixed
    // pseudo-random vector: a text's mean vector is a projection of its words
    let catalog = ctx
        .store
        .get(&article_rec_core::contract::layout::catalog("example").unwrap())
        .await
        .unwrap();
    let mut words = std::collections::BTreeSet::new();
    for line in std::str::from_utf8(&catalog).unwrap().lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut text = String::new();
        for f in ["title", "excerpt", "section"] {
            text += e[f].as_str().unwrap_or("");
            text.push(' ');
        }
        for t in e["tags"].as_array().into_iter().flatten() {
            text += t.as_str().unwrap_or("");
            text.push(' ');
        }
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            words.insert(w.to_lowercase());
        }
    }
    let vector = |w: &str| -> Vec<f32> {
        let mut h = w.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        (0..64)
            .map(|_| {
                h = h.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                ((h >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    };
    let mut vocab: Vec<(&str, Vec<f32>)> = vec![("[UNK]", vec![0.0; 64])];
    vocab.extend(words.iter().map(|w| (w.as_str(), vector(w))));
    assert!(vocab.len() > 500, "{} words", vocab.len());
    let (weights, tokenizer) = article_rec_core::recommend::model2vec::model_files(&vocab, true);
    for (file, bytes) in [("model.safetensors", weights), ("tokenizer.json", tokenizer)] {
        let key = article_rec_core::contract::layout::embedding_model("news-words", file).unwrap();
        ctx.store.put(&key, bytes.into()).await.unwrap();
    }
    let report = article_rec_core::run::runner::run_pipeline(&ctx, &run_ref("with-model"))
        .await
        .unwrap();
    let train: TrainOutput = serde_json::from_value(report.state["model"]["train"].clone()).unwrap();
    let e = train.evaluation.unwrap();
    let measured = |spec: &ModelSpec| {
        e.leaderboard
            .iter()
            .find(|c| c.spec == *spec)
            .and_then(|c| c.metrics)
            .unwrap_or_else(|| panic!("{spec} not measured: {:#?}", e.leaderboard))
    };
    let vectors = measured(&ModelSpec::named("embedding"));
    let popularity = measured(&ModelSpec::popularity());
    assert!(
        vectors.hit_rate > popularity.hit_rate + 0.1,
        "{vectors:?} vs {popularity:?}"
    );
    assert!(train.gate.promote, "{:?}", train.gate);
}

/// What the site's database serves now, as the widget would show it.
async fn served(
    ctx: &Context,
    catalog: &[article_rec_core::contract::site::CatalogEntry],
) -> generate::Served {
    let db = ctx.db().unwrap();
    let model = |kind| async move { db.current_model("example", kind).await.unwrap().map(|m| m.id) };
    let mut lists = std::collections::HashMap::new();
    for e in catalog {
        let recs = db.current_recs("example", &e.external_id).await.unwrap();
        if !recs.is_empty() {
            lists.insert(
                e.external_id.clone(),
                recs.into_iter().map(|(id, _)| id).collect(),
            );
        }
    }
    let defaults = db.current_recs("example", DEFAULT_SOURCE).await.unwrap();
    generate::Served {
        article_model_id: model(ModelType::Article).await,
        lists,
        defaults_model_id: model(ModelType::Popularity).await,
        defaults: defaults.into_iter().map(|(id, _)| id).collect(),
        defaults_share: 0.3,
    }
}

/// A backfill over simulated days with the widget on: each day readers are
/// shown what the run before saved (30% of them the defaults, a control
/// group) and click as the generator's planted structure says. The model
/// that wins offline must win online too, and the report charts each
/// version's click-through rate (in the browser).
#[tokio::test(flavor = "multi_thread")]
async fn over_simulated_days_the_promoted_model_is_clicked_more_than_the_defaults() {
    use article_rec_core::contract::online::{OnlineEvaluation, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::local(dir.path());
    settings.als.iterations = 8;
    settings.als.factors = 8;
    settings.days_of_data = 14;
    settings.online.min_impressions = 100;
    let ctx = Context::from_settings(settings).await.unwrap();
    let end: DateTime<Utc> = AS_OF.parse().unwrap();
    let mut spec = spec(5);
    spec.days = 14;
    let input = InputLayout::new(&ctx.settings.input_prefix).unwrap();
    let mut stream = generate::stream(&spec, &input).unwrap();
    generate::write_catalog(stream.catalog(), ctx.store.as_ref(), "example")
        .await
        .unwrap();
    let catalog = stream.catalog().to_vec();
    let mut held: Option<generate::HourLines> = None;
    let mut last = None;
    for day in (0..=3).rev() {
        let as_of = end - chrono::Duration::days(day);
        // the hours before the run, with what the widget served meanwhile
        loop {
            let h = match held.take() {
                Some(h) => h,
                None => match stream.next_hour().unwrap() {
                    Some(h) => h,
                    None => break,
                },
            };
            if h.hour + chrono::Duration::hours(1) > as_of {
                held = Some(h);
                break;
            }
            generate::write_hour(&h, ctx.store.as_ref(), &input, "example")
                .await
                .unwrap();
        }
        let run = RunRef {
            site: "example".into(),
            run_id: format!("day-{}", 3 - day),
            as_of,
        };
        let report = article_rec_core::run::runner::run_pipeline(&ctx, &run)
            .await
            .unwrap();
        stream.serve(served(&ctx, &catalog).await);
        last = Some((run, report));
    }
    let (run, report) = last.unwrap();
    let train: TrainOutput = serde_json::from_value(report.state["model"]["train"].clone()).unwrap();
    assert!(train.gate.promote, "{}", train.gate.reason);
    let winner = train.evaluation.as_ref().and_then(|e| e.winner.clone()).unwrap();
    assert_ne!(
        winner,
        ModelSpec::popularity(),
        "a model beats popularity offline"
    );
    let layout = RunLayout::new(&run).unwrap();
    let online: OnlineEvaluation =
        serde_json::from_slice(&ctx.store.get(&layout.online()).await.unwrap()).unwrap();
    let article = online.newest("article").expect("the article model was shown");
    let defaults = online.newest("popularity").expect("the defaults were shown");
    let (a, d) = (article.online.ctr.unwrap(), defaults.online.ctr.unwrap());
    eprintln!(
        "online over {} widget events: article model {} CTR {a:.4} of {}, defaults {} CTR {d:.4} of {}",
        online.widget_events,
        article.online.model_id,
        article.online.counts.impressions,
        defaults.online.model_id,
        defaults.online.counts.impressions
    );
    assert!(a > d, "the promoted model is clicked more: {a:.4} against {d:.4}");
    let against = online.against_defaults.as_ref().unwrap();
    assert_eq!(against.verdict, Verdict::Better, "{against:?}");
    assert!(
        article.dwell_after_click.read > 0,
        "clicks are followed by reading"
    );
    // the version before the newest article model was shown too
    assert!(
        online
            .models
            .iter()
            .filter(|m| m.online.model_type == "article")
            .count()
            >= 2
    );
    assert_eq!(
        train.online.as_ref().and_then(|o| o.against_defaults),
        Some(Verdict::Better)
    );

    // the report's online chart, as the browser sees it: a series a version
    let file = dir.path().join("store").join(layout.report().as_str());
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(
        &["--dump-dom"],
        &format!("file://{}", file.display()),
        profile.path(),
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let section = dom.split("id=\"online\"").nth(1).expect("the online section");
    let section = section.split("</section>").next().unwrap();
    let chart = section
        .split("id=\"online-chart\"")
        .nth(1)
        .expect("the online chart");
    let chart = chart.split("</svg>").next().unwrap();
    let versions = online.models.len().min(8);
    assert_eq!(chart.matches("class=\"series\"").count(), versions, "{chart}");
    assert!(chart.contains(&format!("data-name=\"article {}\"", article.online.model_id)));
    assert!(section.contains("clicked significantly more"), "{section}");
}
