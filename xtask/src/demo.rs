//! `cargo xtask demo-wakeup`: the project's main job, the producer/poller
//! wakeup experiment (examples/demo_wakeup). Flags pass through to it; one
//! more is handled here: `--broker tansu` starts a local tansu (installed
//! into target/pyenv if missing), creates the topic and points the demo at
//! it with `--bootstrap`. `-X key=value` (any client setting, as kcat's)
//! passes through untouched, so `cargo xtask demo-wakeup --bootstrap HOST:PORT
//! -X security.protocol=SASL_SSL ...` runs against a secured broker.

use crate::broker;
use crate::cmd::{Failed, Step};

/// The demo's default topic (keep in step with examples/demo_wakeup).
const DEFAULT_TOPIC: &str = "rouse-demo";

pub(crate) fn run(mut args: Vec<String>) -> Result<(), Failed> {
    let broker = take_flag(&mut args, "--broker")?;
    let _tansu = match broker.as_deref() {
        None | Some("mock") => None,
        Some("tansu") => {
            let topic = flag_value(&args, "--topic").unwrap_or_else(|| DEFAULT_TOPIC.into());
            let python = crate::pyenv::ensure()?;
            let tansu = broker::tansu_binary(&python)?;
            let running = broker::start(&tansu, &[(topic, 1)])?;
            args.extend(["--bootstrap".to_string(), running.bootstrap()]);
            Some(running)
        }
        Some(other) => {
            return Err(Failed {
                what: format!(
                    "--broker {other:?}: the choices are `tansu` and `mock` (the default)"
                ),
                code: 2,
            })
        }
    };
    // A first run compiles the workspace in release mode (about 90 s on two
    // cores): cargo's own progress lines show it is working, not hung.
    println!("xtask demo-wakeup: building the demo in release mode (a first build takes a minute or two; cargo's progress follows)");
    Step::cargo(&["run", "--release", "--example", "demo_wakeup", "--"])
        .args(args)
        .run()
}

/// Removes `--name VALUE` or `--name=VALUE` from `args`, returning VALUE.
fn take_flag(args: &mut Vec<String>, name: &str) -> Result<Option<String>, Failed> {
    let prefix = format!("{name}=");
    if let Some(i) = args.iter().position(|a| a.starts_with(&prefix)) {
        return Ok(Some(args.remove(i)[prefix.len()..].to_string()));
    }
    let Some(i) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    if i + 1 >= args.len() {
        return Err(Failed {
            what: format!("{name} needs a value, as in {name} tansu"),
            code: 2,
        });
    }
    args.remove(i);
    Ok(Some(args.remove(i)))
}

/// The value of `--name VALUE` or `--name=VALUE`, left in place.
fn flag_value(args: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(value) = a.strip_prefix(&prefix) {
            Some(value.to_string())
        } else if a == name {
            args.get(i + 1).cloned()
        } else {
            None
        }
    })
}
