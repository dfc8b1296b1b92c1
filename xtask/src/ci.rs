//! `cargo xtask ci`: every check CI runs, in order, stopping at the first
//! failure with its exit code.

use crate::cmd::{Failed, Step};

/// Crates with loom models, run with `--cfg loom` in their own target dir so
/// the normal build stays cached.
const LOOM_CRATES: &[&str] = &["rouse-waker"];

pub(crate) fn run() -> Result<(), Failed> {
    let mut steps = vec![
        Step::cargo(&["fmt", "--all", "--check"]),
        Step::cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        Step::cargo(&["test", "--workspace"]),
        Step::cargo(&["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"),
    ];
    for krate in LOOM_CRATES {
        steps.push(
            Step::cargo(&["test", "-p", krate, "--lib", "--release"])
                .env("RUSTFLAGS", "--cfg loom")
                .env("LOOM_MAX_PREEMPTIONS", "3")
                .env("CARGO_TARGET_DIR", "target/loom"),
        );
    }
    for step in &steps {
        step.run()?;
    }
    println!("\nxtask ci: all {} steps passed", steps.len());
    Ok(())
}
