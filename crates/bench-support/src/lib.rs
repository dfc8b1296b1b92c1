//! What the workspace's benches share, in one place: the machine's
//! description, medians and percentiles, process CPU time, and writing a
//! bench's Markdown section where `cargo xtask bench` reads it
//! (`$ROUSE_BENCH_MD`). A dev-dependency of each crate with a bench.
//! Also the producer load generator the producer bench's peers share
//! ([`perf`]), what the consumer bench's peers share ([`consume`]), the
//! broker a bench runs against ([`broker`]) and the measuring of a peer run
//! as a child process ([`child`]).
//!
//! ```
//! let times = vec![3.0, 1.0, 2.0];
//! assert_eq!(rouse_bench_support::median(times), 2.0);
//! assert_eq!(rouse_bench_support::percentile(&[1, 2, 3, 4], 0.5), 3);
//! let _line = rouse_bench_support::machine();
//! ```

use std::time::Duration;

pub mod broker;
pub mod child;
pub mod consume;
pub mod perf;

/// The CPU model, from /proc/cpuinfo ("unknown CPU" elsewhere).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// "N cores, MODEL": the line each bench's Markdown names its machine with.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {}", cpu_model())
}

/// The median of `values` (the upper one of an even count); panics on an
/// empty input, which is a bench bug.
pub fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    assert!(!values.is_empty(), "the median of nothing");
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

/// The median, lowest and highest of `values` (a cell of a bench table:
/// "median (lowest-highest)"); `None` when there are none.
pub fn median_range(values: Vec<f64>) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((median(values), lo, hi))
}

/// The number in environment variable `key`, `default` when it is unset,
/// or an error naming the variable when it is not a number.
pub fn env_or<T: std::str::FromStr>(key: &str, default: T) -> Result<T, String> {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{key}={v:?}: not a valid number")),
        Err(_) => Ok(default),
    }
}

/// Where a bench driver finds its peers' binaries: `$ROUSE_BENCH_BIN_DIR`,
/// else the driver's own directory (cargo builds them side by side).
pub fn bin_dir_from_env() -> Result<std::path::PathBuf, String> {
    match std::env::var_os("ROUSE_BENCH_BIN_DIR") {
        Some(dir) => Ok(std::path::PathBuf::from(dir)),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(std::path::PathBuf::from))
            .ok_or_else(|| "cannot tell this binary's directory: set ROUSE_BENCH_BIN_DIR".into()),
    }
}

/// The 1, 5 and 15 minute load averages, from /proc/loadavg ("unknown"
/// elsewhere): a bench's Markdown states how busy the machine was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The checked-out commit, short ("unknown" outside a git checkout): the
/// code a bench's figures belong to.
pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The value at quantile `q` (0..=1) of `sorted`, nearest rank; panics on
/// an empty slice, which is a bench bug.
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> T {
    assert!(!sorted.is_empty(), "a percentile of nothing");
    let rank = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted[rank]
}

/// This process's CPU time so far (user + system).
pub fn process_cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to a rusage we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Writes a bench's Markdown section to `$ROUSE_BENCH_MD` if it is set
/// (creating its directory), for `cargo xtask bench` to splice into
/// docs/benchmarks.md; does nothing otherwise.
///
/// # Panics
///
/// When the file cannot be written: the bench's results would be lost.
pub fn write_section(markdown: &str) {
    let Some(path) = std::env::var_os("ROUSE_BENCH_MD") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&path, markdown).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(vec![5, 1, 4, 2, 3]), 3);
        assert_eq!(median(vec![2.0, 1.0]), 2.0);
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 0.0), 1);
        assert_eq!(percentile(&sorted, 0.99), 99);
        assert_eq!(percentile(&sorted, 1.0), 100);
        assert_eq!(median_range(vec![3.0, 9.0, 1.0]), Some((3.0, 1.0, 9.0)));
        assert_eq!(median_range(Vec::new()), None);
    }

    #[test]
    fn cpu_time_moves_forward() {
        let before = process_cpu_time();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu_time() >= before);
    }
}
