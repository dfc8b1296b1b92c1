//! `cargo xtask bench consumer`: builds crates/consumer-bench's binaries
//! (the driver, `bench-produce`, rouse's peer and, with the `peers`
//! feature, librdkafka's, compiled from source the first time), starts
//! tansu, and runs the driver, which spawns one process per peer and run.

use std::path::Path;

use crate::bench_producer::release_dir;
use crate::cmd::{Failed, Step};

/// Builds and runs the bench; its Markdown lands in `out`.
pub(crate) fn run(out: &Path) -> Result<(), Failed> {
    let python = crate::pyenv::ensure()?;
    let tansu = crate::broker::tansu_binary(&python)?;
    Step::cargo(&[
        "build",
        "--release",
        "-p",
        "rouse-consumer-bench",
        "--features",
        "peers",
        "--bins",
    ])
    .run()?;
    // No topics: the driver makes its own.
    let broker = crate::broker::start(&tansu, &[])?;
    let bin_dir = release_dir();
    let driver = bin_dir.join("consumer-bench");
    let result = Step::new(&driver.display().to_string(), &[])
        .env("ROUSE_BENCH_BOOTSTRAP", broker.bootstrap())
        .env("ROUSE_TANSU", tansu.display().to_string())
        .env("ROUSE_BENCH_BIN_DIR", bin_dir.display().to_string())
        .env("ROUSE_BENCH_MD", out.display().to_string())
        .run();
    drop(broker);
    result
}
