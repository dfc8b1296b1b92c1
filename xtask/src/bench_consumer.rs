//! `cargo xtask bench consumer`: builds crates/consumer-bench's binaries
//! (the driver, `bench-produce`, rouse's peer and, with the `peers`
//! feature, librdkafka's, compiled from source the first time), starts
//! tansu, and runs the driver, which spawns one process per peer and run.

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
        "rouse-consumer-bench",
        "--features",
        "peers",
        "--bins",
    ])
    .run()?;
    run_driver(&tansu, "consumer-bench", out)
}
