//! The broker a bench runs its peers against: its address, tansu's binary
//! to create and delete each run's topic with, and its process id for its
//! CPU time (shared by the producer and consumer benches).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The broker a bench's peers talk to.
pub struct Broker {
    /// Its `host:port`.
    pub bootstrap: String,
    /// tansu's binary, for creating and deleting topics; `None` for a
    /// `rouse-kafka-mock` started with `--auto-create`, which makes each
    /// run's topic (one partition) on its first Metadata request.
    pub tansu: Option<PathBuf>,
    /// The broker's process id, for its CPU time.
    pub pid: u32,
}

impl Broker {
    /// From ROUSE_BENCH_BOOTSTRAP, ROUSE_TANSU and ROUSE_BENCH_BROKER_PID
    /// (without it: the tansu process listening on the bootstrap port,
    /// found in /proc).
    pub fn from_env() -> Result<Broker, String> {
        let bootstrap = std::env::var("ROUSE_BENCH_BOOTSTRAP").map_err(|_| {
            "set ROUSE_BENCH_BOOTSTRAP to a tansu broker's host:port, or run `cargo xtask bench producer` (or `consumer`), which starts one".to_string()
        })?;
        let tansu = std::env::var_os("ROUSE_TANSU")
            .map(PathBuf::from)
            .ok_or("set ROUSE_TANSU to tansu's binary (it creates each run's topic)")?;
        let pid = match std::env::var("ROUSE_BENCH_BROKER_PID") {
            Ok(pid) => pid
                .parse()
                .map_err(|_| format!("ROUSE_BENCH_BROKER_PID={pid:?}: expected a process id"))?,
            Err(_) => find_listener(&bootstrap).ok_or_else(|| {
                format!("no tansu process listening on {bootstrap} found in /proc: set ROUSE_BENCH_BROKER_PID")
            })?,
        };
        Ok(Broker {
            bootstrap,
            tansu: Some(tansu),
            pid,
        })
    }

    fn topic_command(&self, tansu: &Path, verb: &str, topic: &str) -> Command {
        let mut command = Command::new(tansu);
        command
            .args(["topic", verb, topic, "--broker"])
            .arg(format!("tcp://{}", self.bootstrap))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    /// Creates `topic` with `partitions` (tansu's auto-creation would give
    /// its default count).
    pub fn create_topic(&self, topic: &str, partitions: u32) -> Result<(), String> {
        let Some(tansu) = &self.tansu else {
            return Ok(());
        };
        let out = self
            .topic_command(tansu, "create", topic)
            .args(["--partitions", &partitions.to_string()])
            .output()
            .map_err(|e| format!("running {}: {e}", tansu.display()))?;
        if !out.status.success() {
            return Err(format!(
                "tansu topic create {topic}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    /// Deletes `topic`: the in-memory broker would otherwise hold every
    /// run's records, and later runs would find a bigger log.
    pub fn delete_topic(&self, topic: &str) {
        if let Some(tansu) = &self.tansu {
            let _ = self.topic_command(tansu, "delete", topic).output();
        }
    }
}

/// tansu's pid from /proc: the process whose command line has
/// `--listener-url tcp://BOOTSTRAP`.
fn find_listener(bootstrap: &str) -> Option<u32> {
    let wanted = format!("tcp://{bootstrap}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let is_tansu = args.first()?.ends_with(b"tansu");
            let listens = args
                .windows(2)
                .any(|w| w[0] == b"--listener-url" && w[1] == wanted.as_bytes());
            (is_tansu && listens).then_some(pid)
        })
}
