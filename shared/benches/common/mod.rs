//! What every bench binary measures with.

pub mod peers;

/// The process's peak resident memory so far (VmHWM), in MiB.
#[allow(clippy::unwrap_used)]
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

/// A size from the environment, or the default.
#[allow(dead_code, clippy::disallowed_methods)] // not every bench takes sizes
pub fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
