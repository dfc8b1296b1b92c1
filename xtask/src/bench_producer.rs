//! `cargo xtask bench producer`: builds the peers (rouse's `producer_perf`
//! example and crates/producer-bench's binaries, librdkafka compiled from
//! source the first time, with OpenSSL for its TLS rows) and
//! `rouse-kafka-mock` (the TLS rows' endpoint), starts tansu, and runs the
//! bench's driver, which spawns one process per peer and run.

use std::path::{Path, PathBuf};

use crate::cmd::{root, Failed, Step};

/// Where release binaries land (CARGO_TARGET_DIR is honoured).
pub(crate) fn release_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("release")
}

/// Builds and runs the bench; its Markdown lands in `out`.
pub(crate) fn run(out: &Path) -> Result<(), Failed> {
    let python = crate::pyenv::ensure()?;
    let tansu = crate::broker::tansu_binary(&python)?;
    Step::cargo(&[
        "build",
        "--release",
        "-p",
        "rouse-producer-bench",
        "--features",
        "peers",
        "--bins",
    ])
    .run()?;
    Step::cargo(&[
        "build",
        "--release",
        "-p",
        "rouse-kafka",
        "--example",
        "producer_perf",
    ])
    .run()?;
    // The TLS table's endpoint: the driver runs it, with and without --tls.
    Step::cargo(&[
        "build",
        "--release",
        "-p",
        "rouse-kafka-mock",
        "--bin",
        "rouse-kafka-mock",
    ])
    .run()?;
    // No topics: the driver makes a fresh one for every run.
    let broker = crate::broker::start(&tansu, &[])?;
    let bin_dir = release_dir();
    let driver = bin_dir.join("producer-bench");
    let result = Step::new(&driver.display().to_string(), &[])
        .env("ROUSE_BENCH_BOOTSTRAP", broker.bootstrap())
        .env("ROUSE_TANSU", tansu.display().to_string())
        .env("ROUSE_BENCH_BIN_DIR", bin_dir.display().to_string())
        .env("ROUSE_BENCH_MD", out.display().to_string())
        .run();
    drop(broker);
    result
}
