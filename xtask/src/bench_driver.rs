//! What `cargo xtask bench producer` and `bench consumer` share: finding
//! tansu (installed into target/pyenv first when missing) and running a
//! bench's driver against a fresh tansu, with the environment the driver
//! reads (crates/bench-support's `Broker::from_env`, `bin_dir_from_env`,
//! `write_section`).

use std::path::{Path, PathBuf};

use crate::cmd::{root, Failed, Step};

/// tansu's binary, the Python environment that ships it set up first.
pub(crate) fn tansu() -> Result<PathBuf, Failed> {
    let python = crate::pyenv::ensure()?;
    crate::broker::tansu_binary(&python)
}

/// Where release binaries land (CARGO_TARGET_DIR is honoured).
pub(crate) fn release_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("release")
}

/// Starts tansu (no topics: the drivers make their own), runs the release
/// binary `driver` against it, and stops tansu; the driver's Markdown lands
/// in `out`.
pub(crate) fn run_driver(tansu: &Path, driver: &str, out: &Path) -> Result<(), Failed> {
    let broker = crate::broker::start(tansu, &[])?;
    let bin_dir = release_dir();
    let result = Step::new(&bin_dir.join(driver).display().to_string(), &[])
        .env("ROUSE_BENCH_BOOTSTRAP", broker.bootstrap())
        .env("ROUSE_TANSU", tansu.display().to_string())
        .env("ROUSE_BENCH_BIN_DIR", bin_dir.display().to_string())
        .env("ROUSE_BENCH_MD", out.display().to_string())
        .run();
    drop(broker);
    result
}
