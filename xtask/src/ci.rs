//! `cargo xtask ci`: every check CI runs, in order — fmt, clippy, tests,
//! docs, loom models — stopping at the first failure with its exit code.

use crate::cmd::{Failed, Step};

/// Crates with loom models, run with `--cfg loom` in their own target dir so
/// the normal build stays cached. Only tests named for loom run there: other
/// unit tests would touch loom's types outside a model.
const LOOM_CRATES: &[&str] = &["rouse-waker", "rouse-reactor", "rouse-kafka"];

/// The topic (and partitions) crates/kafka/tests/tansu.rs writes to on the
/// tansu this task starts.
const SHARED_TANSU_TOPIC: (&str, u32) = ("rouse-tansu", 3);

pub(crate) fn run() -> Result<(), Failed> {
    let mut count = 0;
    let mut run = |step: Step| {
        count += 1;
        step.run()
    };
    run(Step::cargo(&["fmt", "--all", "--check"]))?;
    run(Step::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // Tests that drive independent clients (kafka-python) are #[ignore]d for
    // a plain `cargo test`; here they run, with the venv they need.
    let python = crate::pyenv::ensure()?;
    let tansu = crate::broker::tansu_binary(&python)?;
    // One tansu for the tests that need no broker of their own (the rest
    // start theirs with the same launcher).
    let shared = crate::broker::start(
        &tansu,
        &[(SHARED_TANSU_TOPIC.0.into(), SHARED_TANSU_TOPIC.1)],
    )?;
    run(
        Step::cargo(&["test", "--workspace", "--", "--include-ignored"])
            .env("ROUSE_PYTHON", python.display().to_string())
            .env("ROUSE_TANSU", tansu.display().to_string())
            .env("ROUSE_TANSU_BOOTSTRAP", shared.bootstrap()),
    )?;
    drop(shared);
    run(Step::cargo(&["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    for krate in LOOM_CRATES {
        run(
            Step::cargo(&["test", "-p", krate, "--lib", "--release", "loom"])
                .env("RUSTFLAGS", "--cfg loom")
                .env("LOOM_MAX_PREEMPTIONS", "3")
                .env("CARGO_TARGET_DIR", "target/loom"),
        )?;
    }
    println!("\nxtask ci: all {count} steps passed");
    Ok(())
}
