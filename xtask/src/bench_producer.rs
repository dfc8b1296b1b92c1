//! `cargo xtask bench producer`: builds the peers (rouse's `producer_perf`
//! example and crates/producer-bench's binaries, librdkafka compiled from
//! source the first time, with OpenSSL for its TLS rows) and
//! `rouse-kafka-mock` (the TLS rows' endpoint), starts tansu, and runs the
//! bench's driver, which spawns one process per peer and run.

use std::path::Path;

use crate::bench_driver::{run_driver, tansu};
use crate::cmd::{Failed, Step};

/// Builds and runs the bench; its Markdown lands in `out`.
pub(crate) fn run(out: &Path) -> Result<(), Failed> {
    let tansu = tansu()?;
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
    run_driver(&tansu, "producer-bench", out)
}
