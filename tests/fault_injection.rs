//! Damage between stages: a byte flipped at many offsets of every file a
//! stage hands to another (and of the hour cache, and of the current model's
//! files a later run starts from) is never saved as a model. Each flip is
//! either an error naming the file, or (for the cache, which is derived from
//! the input) the same output as the clean run's. And a stage whose list came
//! out empty never replaces the current model.

use std::path::Path;

use article_rec_core::adapters::parquet::{ArticleRecColumns, DefaultColumns};
use article_rec_core::contract::checked_store::CheckedStore;
use article_rec_core::contract::database::{ModelType, DEFAULT_SOURCE};
use article_rec_core::contract::integrity::Files;
use article_rec_core::contract::layout::{InputLayout, ObjectKey, RunLayout};
use article_rec_core::contract::stage::{FetchRequest, RunRef, SaveOutput, Stage};
use article_rec_core::devtools::generate::{self, Spec};
use article_rec_core::run::dispatch::dispatch;
use article_rec_core::settings::Settings;
use article_rec_core::{Context, Error};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const AS_OF: &str = "2026-11-01T06:00:00Z";

fn as_of() -> DateTime<Utc> {
    AS_OF.parse().unwrap()
}

async fn context(dir: &Path) -> Context {
    let mut settings = Settings::local(dir);
    settings.days_of_data = 3;
    settings.quality.holdout_days = 1.0;
    settings.als.iterations = 4;
    settings.als.factors = 8;
    // ALS alone (and the baselines): its factors are a file a later run reads
    settings.quality.selection.families = vec!["als".into()];
    settings.fetch_map_min_hours = 0;
    Context::from_settings(settings).await.unwrap()
}

async fn generated(ctx: &Context) {
    let mut spec = Spec::sample("example", as_of(), 3, 7);
    spec.readers = 500;
    spec.articles = 60;
    let input = InputLayout::new(&ctx.settings.input_prefix).unwrap();
    let data = generate::generate(&spec, &input).unwrap();
    generate::write(&data, ctx.store.as_ref(), &input, "example")
        .await
        .unwrap();
}

fn run_ref(id: &str, as_of: DateTime<Utc>) -> RunRef {
    RunRef {
        site: "example".into(),
        run_id: id.into(),
        as_of,
    }
}

/// The stages up to train, state as the state machine keeps it.
async fn until_save(ctx: &Context, run: &RunRef) -> Value {
    let mut state = json!({ "run": run });
    let fetch = serde_json::to_value(FetchRequest::Window(
        article_rec_core::contract::stage::FetchInput { run: run.clone() },
    ))
    .unwrap();
    state["fetch"] = dispatch(Stage::Fetch, fetch, ctx).await.unwrap();
    state["preprocess"] = dispatch(Stage::Preprocess, state.clone(), ctx).await.unwrap();
    let defaults = dispatch(Stage::Defaults, state.clone(), ctx).await.unwrap();
    let train = dispatch(Stage::Train, state.clone(), ctx).await.unwrap();
    state["model"] = json!({ "defaults": defaults, "train": train });
    state
}

fn path_of(dir: &Path, key: &str) -> std::path::PathBuf {
    dir.join("store").join(key)
}

/// Offsets spread over a file of `len` bytes: its ends, and `n` between.
fn offsets(len: usize, n: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (0..n).map(|i| i * len / n).collect();
    out.extend([len - 1, len / 2, 4, len.saturating_sub(8)]);
    out.sort_unstable();
    out.dedup();
    out
}

/// Flips one bit at each offset of `key`, runs `stage` on `event` each time,
/// and puts the file back. Each run must fail naming the file.
async fn each_flip_is_refused(ctx: &Context, dir: &Path, key: &str, stage: Stage, event: &Value) -> usize {
    let path = path_of(dir, key);
    let clean = std::fs::read(&path).unwrap();
    let at = offsets(clean.len(), 40);
    for &i in &at {
        let mut bytes = clean.clone();
        bytes[i] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let err = dispatch(stage, event.clone(), ctx)
            .await
            .expect_err(&format!("{key} flipped at {i} was read by {}", stage.name()));
        assert!(
            matches!(err, Error::Corrupt { .. }) && err.to_string().contains(key),
            "{key} flipped at {i}, {}: {err}",
            stage.name()
        );
    }
    std::fs::write(&path, &clean).unwrap();
    at.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_flipped_file_between_stages_is_ever_saved_as_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    generated(&ctx).await;
    let run = run_ref("run-1", as_of());
    let layout = RunLayout::new(&run).unwrap();
    let state = until_save(&ctx, &run).await;
    assert!(
        state["model"]["train"]["factors_key"].is_string(),
        "ALS won: {}",
        state["model"]["train"]["gate"]
    );
    let key = |k: ObjectKey| k.to_string();

    // the hour files preprocess merges, through partials.json
    let partials: Value =
        serde_json::from_slice(&std::fs::read(path_of(dir.path(), &key(layout.partials()))).unwrap())
            .unwrap();
    let an_hour = &partials["hours"][10];

    // every file between two stages, at every consumer
    let mut flips = 0;
    for (file, consumers) in [
        (key(layout.partials()), &[Stage::Preprocess][..]),
        (key(layout.duplicates()), &[Stage::Preprocess][..]),
        (
            an_hour["pairs_key"].as_str().unwrap().to_string(),
            &[Stage::Preprocess][..],
        ),
        (
            an_hour["paths_key"].as_str().unwrap().to_string(),
            &[Stage::Preprocess][..],
        ),
        (key(layout.widget_events()), &[Stage::Preprocess][..]),
        (
            key(layout.dwell()),
            &[Stage::Defaults, Stage::Train, Stage::Save][..],
        ),
        (
            key(layout.articles()),
            &[Stage::Defaults, Stage::Train, Stage::Save][..],
        ),
        (key(layout.online()), &[Stage::Train, Stage::Save][..]),
        (key(layout.defaults()), &[Stage::Save][..]),
        (key(layout.article_recs()), &[Stage::Save][..]),
        (key(layout.evaluation()), &[Stage::Save][..]),
    ] {
        for &stage in consumers {
            flips += each_flip_is_refused(&ctx, dir.path(), &file, stage, &state).await;
        }
    }
    assert!(flips > 400, "{flips} flips");
    // nothing was saved by any of them: the clean save is this run's first
    let db = ctx.db().unwrap();
    assert!(db
        .current_model("example", ModelType::Article)
        .await
        .unwrap()
        .is_none());
    let saved: SaveOutput =
        serde_json::from_value(dispatch(Stage::Save, state.clone(), &ctx).await.unwrap()).unwrap();
    assert!(saved.newly_saved && saved.article_model_id.is_some(), "{saved:?}");
    let current = db
        .current_model("example", ModelType::Article)
        .await
        .unwrap()
        .unwrap();
    let served = db.current_recs("example", DEFAULT_SOURCE).await.unwrap();

    // the hour cache is derived from the input: a damaged cached hour is
    // parsed again, and fetch's output is the clean run's
    let cached: Vec<String> = walk(&dir.path().join("store/cache"))
        .into_iter()
        .filter(|p| {
            ["pairs.parquet", "paths.parquet", "keys.parquet", "widget.parquet"]
                .iter()
                .any(|f| p.ends_with(f))
        })
        .take(8)
        .collect();
    assert_eq!(cached.len(), 8, "cached hour files");
    let fetch = serde_json::to_value(FetchRequest::Window(
        article_rec_core::contract::stage::FetchInput { run: run.clone() },
    ))
    .unwrap();
    for file in &cached {
        let clean = std::fs::read(file).unwrap();
        for i in offsets(clean.len(), 6) {
            let mut bytes = clean.clone();
            bytes[i] ^= 0x10;
            std::fs::write(file, &bytes).unwrap();
            let again = dispatch(Stage::Fetch, fetch.clone(), &ctx).await.unwrap();
            assert_eq!(again["files"], state["fetch"]["files"], "{file} flipped at {i}");
            assert_eq!(again["counts"]["kept"], state["fetch"]["counts"]["kept"]);
            assert_eq!(
                std::fs::read(file).unwrap(),
                clean,
                "parsed again into the same bytes"
            );
        }
    }

    // the next run starts from the current model's files, read only as written
    let next = run_ref("run-2", as_of() + Duration::hours(2));
    let next_state = until_save(&ctx, &next).await;
    assert_eq!(next_state["model"]["train"]["warm_start_from"], "run-1");
    let prev = RunLayout::new(&run).unwrap();
    let mut before_train = next_state.clone();
    before_train.as_object_mut().unwrap().remove("model");
    for file in [key(prev.factors()), key(prev.evaluation())] {
        each_flip_is_refused(&ctx, dir.path(), &file, Stage::Train, &before_train).await;
    }
    // and after all that the site serves what the clean save made current
    assert_eq!(
        db.current_model("example", ModelType::Article)
            .await
            .unwrap()
            .unwrap()
            .id,
        current.id
    );
    assert_eq!(db.current_recs("example", DEFAULT_SOURCE).await.unwrap(), served);
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A list written through the store as a stage writes it: its key's digest
/// replaces the one the stage recorded.
async fn replace_file(
    ctx: &Context,
    files: &mut Value,
    key: &ObjectKey,
    write: impl AsyncFnOnce(&CheckedStore),
) {
    let store = CheckedStore::new(ctx.store.clone(), Files::new(), Vec::new());
    write(&store).await;
    let written = store.written();
    files[key.to_string()] = json!(written.get(key.as_str()).unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_list_never_replaces_the_current_model() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(dir.path()).await;
    generated(&ctx).await;
    let first = run_ref("run-1", as_of());
    let state = until_save(&ctx, &first).await;
    dispatch(Stage::Save, state, &ctx).await.unwrap();
    let db = ctx.db().unwrap();
    let defaults = db
        .current_model("example", ModelType::Popularity)
        .await
        .unwrap()
        .unwrap();
    let article = db
        .current_model("example", ModelType::Article)
        .await
        .unwrap()
        .unwrap();
    let served = db.current_recs("example", DEFAULT_SOURCE).await.unwrap();
    assert_eq!(served.len(), 20);

    // the next run's stages made empty lists (a run that read nothing new)
    let next = run_ref("run-2", as_of() + Duration::hours(2));
    let layout = RunLayout::new(&next).unwrap();
    let mut state = until_save(&ctx, &next).await;
    let empty_defaults = DefaultColumns {
        external_id: Vec::new(),
        score: Vec::new(),
    };
    replace_file(
        &ctx,
        &mut state["model"]["defaults"]["files"],
        &layout.defaults(),
        async |s| empty_defaults.write(s, &layout.defaults()).await.unwrap(),
    )
    .await;
    let empty_recs = ArticleRecColumns {
        source_external_id: Vec::new(),
        external_id: Vec::new(),
        score: Vec::new(),
    };
    replace_file(
        &ctx,
        &mut state["model"]["train"]["files"],
        &layout.article_recs(),
        async |s| empty_recs.write(s, &layout.article_recs()).await.unwrap(),
    )
    .await;
    let saved: SaveOutput =
        serde_json::from_value(dispatch(Stage::Save, state, &ctx).await.unwrap()).unwrap();
    assert_eq!(saved.default_recs_written, 0);
    assert_eq!(
        saved.popularity_model_id, defaults.id,
        "the current defaults are kept"
    );
    let why = saved.defaults_rejected.unwrap();
    assert!(why.contains("no recommendations"), "{why}");
    assert_eq!(saved.article_model_id, None);
    assert!(saved
        .article_model_rejected
        .unwrap()
        .contains("no recommendations"));
    assert_eq!(
        db.current_model("example", ModelType::Popularity)
            .await
            .unwrap()
            .unwrap()
            .id,
        defaults.id
    );
    assert_eq!(
        db.current_model("example", ModelType::Article)
            .await
            .unwrap()
            .unwrap()
            .id,
        article.id
    );
    assert_eq!(db.current_recs("example", DEFAULT_SOURCE).await.unwrap(), served);
}
