//! The TLS table: rouse and librdkafka over SSL to one TLS endpoint, a
//! `rouse-kafka-mock --tls` process (rustls on the mock's side, so neither
//! client's TLS library serves the other), and over plaintext to a second
//! mock process without TLS, so each client's own cost of TLS (SSL over
//! plaintext) shows beside the ratio to librdkafka. Both mocks run with
//! `--auto-create`: each run's topic (one partition) is made on its first
//! Metadata request, and the mock's CPU over the run is the broker column.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::matrix::{matches_any, Peer, Row, Settings};
use crate::report::{self, Entry, Table};
use crate::runner::{Broker, Job};
use crate::Bench;

/// The two rows: 100 B and 1 KiB, one partition, acks all, linger 5 ms,
/// one sender thread, each client's defaults.
pub(crate) const ROWS: [Row; 2] = [
    Row {
        record_size: 100,
        partitions: 1,
        acks: "all",
        linger_ms: 5,
        threads: 1,
    },
    Row {
        record_size: 1024,
        partitions: 1,
        acks: "all",
        linger_ms: 5,
        threads: 1,
    },
];

/// Each TLS run sends this many times the flood rows' records (200000 of
/// 100 B, 75000 of 1 KiB at scale 1): the flood rows' 0.1 s runs leave
/// start-up and the TLS handshake too large a share for SSL over
/// plaintext to mean anything.
pub(crate) const RECORDS_FACTOR: f64 = 5.0;
/// The send phase's cap, in seconds.
pub(crate) const MAX_SECONDS: f64 = 5.0;
/// The mock's binary, relative to the release directory.
const MOCK_BINARY: &str = "rouse-kafka-mock";
/// How long a mock may take to print its settings.
const MOCK_START: Duration = Duration::from_secs(30);
const SSL: &str = "SSL";
const PLAINTEXT: &str = "plaintext";

/// A `rouse-kafka-mock` process, killed when dropped.
struct MockProcess {
    child: Child,
    broker: Broker,
    /// The generated CA's PEM file (TLS only).
    ca: Option<String>,
}

impl MockProcess {
    /// Starts the mock and reads the client settings it prints.
    fn start(binary: &Path, tls: bool) -> Result<MockProcess, String> {
        let mut command = Command::new(binary);
        command
            .arg("--auto-create")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if tls {
            command.arg("--tls");
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("running {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("the mock's stdout")?;
        let (lines, settings) = mpsc::channel();
        // The mock keeps running after its settings: a thread reads them so
        // a mock that prints nothing cannot hang the bench.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut bootstrap, mut ca) = (None, None);
        while bootstrap.is_none() || (tls && ca.is_none()) {
            let Ok(line) = settings.recv_timeout(MOCK_START) else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} printed no bootstrap.servers{} within {MOCK_START:?}",
                    binary.display(),
                    if tls { " and ssl.ca.location" } else { "" }
                ));
            };
            if let Some(v) = line.strip_prefix("bootstrap.servers=") {
                bootstrap = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("ssl.ca.location=") {
                ca = Some(v.to_string());
            }
        }
        let broker = Broker {
            bootstrap: bootstrap.unwrap_or_default(),
            tansu: None,
            pid: child.id(),
        };
        Ok(MockProcess { child, broker, ca })
    }

    /// The settings a client needs on this endpoint, after the row's.
    fn client_props(&self) -> Vec<String> {
        match &self.ca {
            Some(ca) => vec![
                "security.protocol=SSL".to_string(),
                format!("ssl.ca.location={ca}"),
            ],
            None => Vec::new(),
        }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the TLS table's (filtered) runs: label "tls ROW PEER TRANSPORT".
pub(crate) fn run(bench: &mut Bench) {
    let kinds = [
        (Peer::Rouse, SSL),
        (Peer::Librdkafka, SSL),
        (Peer::Rouse, PLAINTEXT),
        (Peer::Librdkafka, PLAINTEXT),
    ];
    let filter = bench.filter.clone();
    let chosen = |row: &Row, (peer, transport): (Peer, &str)| {
        matches_any(&filter, &format!("tls {row} {} {transport}", peer.name()))
    };
    let wanted = |transport: &str| {
        ROWS.iter()
            .any(|row| kinds.iter().any(|&k| k.1 == transport && chosen(row, k)))
    };
    let (want_ssl, want_plain) = (wanted(SSL), wanted(PLAINTEXT));
    if !want_ssl && !want_plain {
        return;
    }
    let binary: PathBuf = bench.bin_dir.join(MOCK_BINARY);
    let start = |tls: bool, want: bool| -> Option<MockProcess> {
        if !want {
            return None;
        }
        MockProcess::start(&binary, tls)
            .map_err(|e| {
                eprintln!("tls: {e}; build it with cargo build --release -p rouse-kafka-mock")
            })
            .ok()
    };
    for (index, row) in ROWS.iter().enumerate() {
        // Fresh mocks per row: they keep every record in memory.
        let (ssl, plain) = (start(true, want_ssl), start(false, want_plain));
        let picked: Vec<(Peer, &str)> = kinds.into_iter().filter(|&k| chosen(row, k)).collect();
        let first = bench.entries.len();
        for &(peer, transport) in &picked {
            bench.entries.push(Entry {
                table: Table::Tls,
                row: *row,
                peer,
                variant: transport.to_string(),
                rate: None,
                samples: Vec::new(),
                errors: Vec::new(),
            });
        }
        for round in 0..bench.rounds {
            for k in 0..picked.len() {
                let slot = (k + index + round) % picked.len();
                let (peer, transport) = picked[slot];
                let mock = if transport == SSL { &ssl } else { &plain };
                let Some(mock) = mock else {
                    let error = format!("no {transport} mock running");
                    bench.entries[first + slot].errors.push(error);
                    continue;
                };
                let job = Job {
                    peer,
                    row,
                    settings: Settings::Defaults,
                    records: row.records(bench.scale * RECORDS_FACTOR),
                    rate: None,
                    max_seconds: MAX_SECONDS,
                    extra_props: mock.client_props(),
                };
                bench.run_on(Some(&mock.broker), &job, first + slot, "tls");
            }
        }
        let line: Vec<String> = bench.entries[first..]
            .iter()
            .map(|e| {
                let rps = e.stat(|s| s.records_per_s).map_or(0.0, |s| s.0);
                format!("{} {} {:.0}k/s", e.peer.name(), e.variant, rps / 1e3)
            })
            .collect();
        println!("tls {row}: {}", line.join(", "));
    }
}

/// The TLS table (ratios to librdkafka over the same transport) and each
/// client's cost of TLS; empty when no TLS run was asked for.
pub(crate) fn section(entries: &[Entry]) -> String {
    let mine: Vec<&Entry> = entries.iter().filter(|e| e.table == Table::Tls).collect();
    if mine.is_empty() {
        return String::new();
    }
    let columns = report::TLS_COLUMNS;
    let mut out = String::from("| row | peer | transport |");
    for c in columns {
        let _ = write!(out, " {} |", c.heading);
    }
    out.push_str(" failed | note |\n|---|---|---|");
    out.push_str(&"---:|".repeat(columns.len()));
    out.push_str("---:|---|\n");
    let find = |row: &Row, peer: Peer, transport: &str| {
        mine.iter()
            .find(|e| e.row == *row && e.peer == peer && e.variant == transport)
            .copied()
    };
    for entry in &mine {
        let reference = find(&entry.row, Peer::Librdkafka, &entry.variant);
        let _ = write!(
            out,
            "| {} | {} | {} |",
            entry.row,
            entry.peer.name(),
            entry.variant
        );
        for c in columns {
            let _ = write!(out, " {} |", report::cell(entry, reference, c));
        }
        let failed: u64 = entry.samples.iter().map(|s| s.failed).sum();
        let _ = writeln!(out, " {failed} | {} |", entry.errors.join("; "));
    }
    out.push_str(
        "\nEach client's cost of TLS: its SSL median over its plaintext median.\n\n\
         | row | peer | records/s SSL / plaintext | client CPU per record SSL / plaintext |\n\
         |---|---|---:|---:|\n",
    );
    for row in &ROWS {
        for peer in [Peer::Rouse, Peer::Librdkafka] {
            let (Some(ssl), Some(plain)) = (find(row, peer, SSL), find(row, peer, PLAINTEXT))
            else {
                continue;
            };
            let ratio = |metric: fn(&crate::runner::Sample) -> f64| match (
                ssl.stat(metric),
                plain.stat(metric),
            ) {
                (Some(a), Some(b)) if b.0 > 0.0 => format!("{:.2}x", a.0 / b.0),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "| {row} | {} | {} | {} |",
                peer.name(),
                ratio(|s| s.records_per_s),
                ratio(|s| s.cpu_us_per_record)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Sample;

    fn entry(peer: Peer, transport: &str, rps: f64, cpu: f64) -> Entry {
        Entry {
            table: Table::Tls,
            row: ROWS[0],
            peer,
            variant: transport.into(),
            rate: None,
            samples: vec![Sample {
                records_per_s: rps,
                cpu_us_per_record: cpu,
                ..Sample::default()
            }],
            errors: Vec::new(),
        }
    }

    #[test]
    fn ratios_compare_like_transports_and_cost_is_ssl_over_plaintext() {
        let entries = vec![
            entry(Peer::Rouse, SSL, 300e3, 3.0),
            entry(Peer::Librdkafka, SSL, 200e3, 6.0),
            entry(Peer::Rouse, PLAINTEXT, 400e3, 2.0),
            entry(Peer::Librdkafka, PLAINTEXT, 400e3, 4.0),
        ];
        let md = section(&entries);
        // rouse over SSL against librdkafka over SSL, not over plaintext.
        assert!(md.contains("| rouse | SSL | 300k **1.50x** |"), "{md}");
        assert!(
            md.contains("| rouse | plaintext | 400k **1.00x** |"),
            "{md}"
        );
        assert!(md.contains("| rouse | 0.75x | 1.50x |"), "{md}");
        assert!(md.contains("| librdkafka | 0.50x | 1.50x |"), "{md}");
    }

    #[test]
    fn no_tls_runs_no_section() {
        assert!(section(&[]).is_empty());
    }
}
