//! The peers the benches time in the same run: Python libraries in the
//! bench's own virtual environment (`scripts/bench-peers` makes it).

use std::path::PathBuf;
use std::process::Command;

/// The bench environment's Python, or the system's when it is not made.
#[allow(dead_code, clippy::disallowed_methods)]
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("BENCH_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-bench/bin/python3"));
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs a peer script and reads its one JSON line; `Err` says why not.
#[allow(dead_code)]
pub fn run(script: &str, args: &[String], threads: usize) -> Result<serde_json::Value, String> {
    let out = Command::new(python())
        .arg(format!("{}/benches/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .env("OPENBLAS_NUM_THREADS", threads.to_string())
        .env("OMP_NUM_THREADS", threads.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .to_string());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}
