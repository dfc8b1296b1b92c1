//! `cargo xtask demo-wakeup`: the project's main job. Until the Kafka demo
//! lands it runs the waker experiment of the kafka-python article
//! (examples/wakeup_experiment.rs), passing its flags through.

use crate::cmd::{Failed, Step};

pub(crate) fn run(args: Vec<String>) -> Result<(), Failed> {
    Step::cargo(&[
        "run",
        "--quiet",
        "--release",
        "--example",
        "wakeup_experiment",
        "--",
    ])
    .args(args)
    .run()
}
