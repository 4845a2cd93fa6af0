//! Fetch throughput and memory, on generated Snowplow data.
//!
//! `cargo bench -p article-rec-core --bench fetch` (BENCH_EVENTS, default 5,000,000).
//! Data is generated once into `target/bench-data/fetch-<n>/` (day by day, so
//! generation stays small), then this binary runs itself again to measure, so
//! the reported peak memory is the measurement's alone. It reports:
//! - per hour partition: gunzip + parse + filter + Parquet write, the work one
//!   Lambda does per hour (events/s of wall time and per CPU-second);
//! - the whole stage over the window, cold (every hour parsed) and warm (cached).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]
// A bench binary takes its size from the environment, not from Settings.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use article_rec_core::adapters::parquet::{encode, HourEvents, HourKeys, HourPairs, HourPaths};
use article_rec_core::adapters::storage::LocalDir;
use article_rec_core::contract::layout::InputLayout;
use article_rec_core::contract::stage::{FetchInput, RunRef};
use article_rec_core::contract::storage::BlobStore;
use article_rec_core::devtools::generate::{self, Spec};
use article_rec_core::settings::Settings;
use article_rec_core::stages::fetch::hour_batch::EventBatch;
use article_rec_core::Context;
use chrono::{DateTime, Duration, Utc};
use polars::prelude::{DataFrame, ParquetCompression, ParquetWriter, StatisticsOptions};

const END: &str = "2026-11-01T00:00:00Z";
const DAYS: u32 = 7;
/// Lines per reader-day with 1.5 sessions a day: the sample spec writes about
/// 25 lines a session (measured on the default local run: 225,365 lines from
/// 3,000 readers x 3 sessions).
const EVENTS_PER_READER_DAY: f64 = 37.5;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in USER_HZ (100 on Linux) ticks
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn data_dir(events: u64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/bench-data/fetch-{events}"))
}

fn settings(dir: &Path) -> Settings {
    let mut s = Settings::local(dir);
    s.days_of_data = DAYS;
    s
}

async fn generate_once(dir: &Path, events: u64) {
    if dir.join("done").exists() {
        return;
    }
    let store = LocalDir::new(dir.join("store"));
    let input = InputLayout::new(&settings(dir).input_prefix).unwrap();
    let end: DateTime<Utc> = END.parse().unwrap();
    let readers_per_day = (events as f64 / f64::from(DAYS) / EVENTS_PER_READER_DAY) as usize;
    let mut total = 0;
    for day in 0..DAYS {
        let mut spec = Spec::sample(
            "example",
            end - Duration::days(i64::from(day)),
            1,
            1000 + u64::from(day),
        );
        spec.readers = readers_per_day;
        spec.articles = 5000;
        spec.sessions_per_reader = 1.5;
        let truth = generate::write_stream(&spec, &store, &store, &input, "example")
            .await
            .unwrap();
        total += truth.lines;
    }
    std::fs::write(dir.join("done"), total.to_string()).unwrap();
}

async fn measure(dir: &Path) {
    let s = settings(dir);
    let store = LocalDir::new(dir.join("store"));
    let input = InputLayout::new(&s.input_prefix).unwrap();
    let end: DateTime<Utc> = END.parse().unwrap();
    let run = RunRef {
        site: "example".into(),
        run_id: "bench".into(),
        as_of: end,
    };
    let window = run.window(DAYS);

    // 1. per hour: what one Lambda does for one hour partition, step by step.
    // Parse + filter + Parquet write (the target) is timed apart from
    // gzip two ways: on text inflated into memory beforehand (read back from
    // RAM: a bound from above), and as fetch runs it, inflating 256 KiB at a
    // time and parsing while the chunk is in cache, minus inflating alone.
    let (mut events, mut lines, mut gz_bytes, mut text_bytes) = (0u64, 0u64, 0u64, 0u64);
    let (mut hours, mut max_hour) = (0u64, 0u64);
    let (mut t_gunzip, mut t_parse, mut t_frame, mut t_write) = (0f64, 0f64, 0f64, 0f64);
    let (mut t_gunzip_chunks, mut t_gunzip_parse) = (0f64, 0f64);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut largest: Option<DataFrame> = None;
    for part in input.hours(&window) {
        let objects = store.list(&part.prefix).await.unwrap();
        if objects.is_empty() {
            continue;
        }
        hours += 1;
        let mut bodies = Vec::new();
        for o in &objects {
            let body = store.get(&o.key).await.unwrap();
            gz_bytes += body.len() as u64;
            let t0 = Instant::now();
            let mut text = Vec::new();
            flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_end(&mut text)
                .unwrap();
            t_gunzip += t0.elapsed().as_secs_f64();
            text_bytes += text.len() as u64;
            let t0 = Instant::now();
            let mut gz = flate2::read::MultiGzDecoder::new(&body[..]);
            while gz.read(&mut chunk).unwrap() > 0 {}
            t_gunzip_chunks += t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let mut as_fetch = EventBatch::new("example");
            as_fetch.add_object(&o.key, &body);
            t_gunzip_parse += t0.elapsed().as_secs_f64();
            bodies.push((o.key.clone(), text));
        }
        let t0 = Instant::now();
        let mut batch = EventBatch::new("example");
        for (key, text) in &bodies {
            batch.add_object(key, text);
        }
        let t1 = Instant::now();
        lines += batch.counts.lines;
        let n = batch.counts.events;
        events += n;
        max_hour = max_hour.max(n);
        let key = input.part(&part, "x.parquet").unwrap();
        let mut hour = batch.into_hour(&key, 600_000, None).unwrap();
        let t2 = Instant::now();
        for (schema, df) in [
            (HourEvents::SCHEMA, &mut hour.events),
            (HourPairs::SCHEMA, &mut hour.pairs),
            (HourPaths::SCHEMA, &mut hour.paths),
            (HourKeys::SCHEMA, &mut hour.keys),
        ] {
            encode(df, schema, &key).unwrap();
        }
        t_parse += (t1 - t0).as_secs_f64();
        t_frame += (t2 - t1).as_secs_f64();
        t_write += t2.elapsed().as_secs_f64();
        if largest.as_ref().is_none_or(|l| l.height() < hour.events.height()) {
            largest = Some(hour.events);
        }
    }
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "fetch per hour partition ({hours} hours, {lines} lines, {events} page events kept, largest hour {max_hour}; {:.0} MiB gzip, {:.0} MiB text, {:.0} bytes a line):",
        mib(gz_bytes),
        mib(text_bytes),
        text_bytes as f64 / lines as f64
    );
    let rate = |secs: f64| lines as f64 / secs;
    println!(
        "  gunzip (into memory):          {t_gunzip:6.2} s  {:>9.0} lines/s  {:4.0} MiB/s of text",
        rate(t_gunzip),
        mib(text_bytes) / t_gunzip
    );
    println!(
        "  gunzip (256 KiB at a time):    {t_gunzip_chunks:6.2} s  {:>9.0} lines/s",
        rate(t_gunzip_chunks)
    );
    println!(
        "  parse + filter, text in RAM:   {t_parse:6.2} s  {:>9.0} lines/s",
        rate(t_parse)
    );
    println!(
        "  gunzip + parse + filter:       {t_gunzip_parse:6.2} s  {:>9.0} lines/s (as fetch runs)",
        rate(t_gunzip_parse)
    );
    let t_parse_hot = t_gunzip_parse - t_gunzip_chunks;
    println!(
        "  so parse + filter, in cache:   {t_parse_hot:6.2} s  {:>9.0} lines/s",
        rate(t_parse_hot)
    );
    println!(
        "  sort + aggregate + frames:     {t_frame:6.2} s  {:>9.0} lines/s",
        rate(t_frame)
    );
    println!(
        "  Parquet write (hour's files):  {t_write:6.2} s  {:>9.0} lines/s",
        rate(t_write)
    );
    println!(
        "  parse + filter + Parquet write on one core (target 1,000,000 lines/s): {:.0} lines/s with the text in RAM, {:.0} as fetch runs",
        rate(t_parse + t_frame + t_write),
        rate(t_parse_hot + t_frame + t_write)
    );
    println!(
        "  everything one hour's Lambda does (gunzip, parse, filter, table, write): {:.0} lines/s",
        rate(t_gunzip_parse + t_frame + t_write)
    );
    println!("  peak RSS so far: {:.0} MiB", common::peak_rss_mib());
    if let Some(frame) = largest {
        compare_writers(frame);
    }

    // 2. the whole stage, cold then warm
    let ctx = Context::from_settings(s.clone()).await.unwrap();
    ctx.store
        .delete_prefix(&article_rec_core::contract::layout::hour_cache("example").unwrap())
        .await
        .unwrap();
    for label in ["cold (every hour parsed)", "warm (every hour cached)"] {
        let t0 = Instant::now();
        let c0 = cpu_seconds();
        let out = article_rec_core::stages::fetch::run(FetchInput { run: run.clone() }, &ctx)
            .await
            .unwrap();
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "fetch stage, {label}: {:.2} s wall, {:.2} CPU-s, {:.0} lines/s, {} kept, {} hours parsed, {} cached",
            secs,
            cpu_seconds() - c0,
            out.counts.parsed.lines as f64 / secs,
            out.counts.kept,
            out.counts.hours_parsed,
            out.counts.hours_cached
        );
    }
    println!("peak RSS: {:.0} MiB", common::peak_rss_mib());
}

/// What the Parquet writer's settings cost on the largest hour's events.
fn compare_writers(mut df: DataFrame) {
    let rows = df.height();
    println!("  Parquet writer settings on the largest hour ({rows} events), 20 writes each:");
    for (name, compression) in [
        ("zstd (default level)", ParquetCompression::Zstd(None)),
        ("none", ParquetCompression::Uncompressed),
    ] {
        for stats in [true, false] {
            let t0 = Instant::now();
            let mut size = 0;
            for _ in 0..20 {
                let mut buf = Vec::new();
                ParquetWriter::new(&mut buf)
                    .with_compression(compression)
                    .with_statistics(if stats {
                        StatisticsOptions::default()
                    } else {
                        StatisticsOptions::empty()
                    })
                    .finish(&mut df)
                    .unwrap();
                size = buf.len();
            }
            let secs = t0.elapsed().as_secs_f64() / 20.0;
            println!(
                "    {name:20} statistics {:3}: {:>9.0} rows/s, {:5.1} bytes a row",
                if stats { "on" } else { "off" },
                rows as f64 / secs,
                size as f64 / rows as f64
            );
        }
    }
}

fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let dir = data_dir(events);
    let rt = tokio::runtime::Runtime::new().unwrap();
    if std::env::args().any(|a| a == "--measure") {
        rt.block_on(measure(&dir));
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes benches; nothing to list
    }
    std::fs::create_dir_all(&dir).unwrap();
    let t0 = Instant::now();
    rt.block_on(generate_once(&dir, events));
    println!(
        "data: {} ({} lines, generated in {:.0} s)",
        dir.display(),
        std::fs::read_to_string(dir.join("done")).unwrap(),
        t0.elapsed().as_secs_f64()
    );
    let status = Command::new(std::env::current_exe().unwrap())
        .arg("--measure")
        // one core, as the target is per core (the Parquet encoder would
        // encode columns side by side on rayon's pool)
        .env("RAYON_NUM_THREADS", "1")
        .env("BENCH_EVENTS", events.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}
