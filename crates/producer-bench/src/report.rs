//! The bench's results: every peer's samples per table and row, reduced to
//! median and range, with each metric's ratio to librdkafka's median, as
//! Markdown tables.

use std::fmt::Write as _;

use crate::matrix::{Peer, Row};
use crate::runner::Sample;

/// Which table a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// Flood, each client's defaults (the headline).
    Defaults,
    /// Flood, batch.size equal for all.
    EqualBatch,
    /// Paced at half librdkafka's defaults maximum on the row.
    Steady,
    /// A flood longer than rouse's buffer, to show what bounds latency.
    Flood,
    /// Flood over SSL and plaintext to `rouse-kafka-mock` processes
    /// (`variant` is the transport).
    Tls,
}

/// All rounds of one peer on one row of one table.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) table: Table,
    pub(crate) row: Row,
    pub(crate) peer: Peer,
    /// What sets this entry apart from the peer's defaults (flood table).
    pub(crate) variant: String,
    /// The paced rate, for the steady table.
    pub(crate) rate: Option<f64>,
    pub(crate) samples: Vec<Sample>,
    pub(crate) errors: Vec<String>,
}

impl Entry {
    /// Median, lowest and highest of `metric` over the rounds.
    pub(crate) fn stat(&self, metric: fn(&Sample) -> f64) -> Option<(f64, f64, f64)> {
        rouse_bench_support::median_range(self.samples.iter().map(metric).collect())
    }

    fn extra(&self, key: &str) -> Option<&str> {
        self.samples
            .iter()
            .flat_map(|s| &s.extra)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A metric column: heading, how to read it from a sample, how to print it.
pub(crate) struct Column {
    pub(crate) heading: &'static str,
    metric: fn(&Sample) -> f64,
    format: fn(f64) -> String,
}

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn decimals(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const FLOOD_COLUMNS: &[Column] = &[
    Column {
        heading: "records/s",
        metric: |s| s.records_per_s,
        format: rate,
    },
    Column {
        heading: "MB/s",
        metric: |s| s.mb_per_s,
        format: decimals,
    },
    Column {
        heading: "client CPU µs/record",
        metric: |s| s.cpu_us_per_record,
        format: decimals,
    },
    Column {
        heading: "peak RSS MiB",
        metric: |s| s.peak_rss_mib,
        format: decimals,
    },
    Column {
        heading: "broker CPU µs/record",
        metric: |s| s.broker_us_per_record,
        format: decimals,
    },
    Column {
        heading: "ack p50 ms",
        metric: |s| s.p50_ms,
        format: decimals,
    },
    Column {
        heading: "ack p99 ms",
        metric: |s| s.p99_ms,
        format: decimals,
    },
];

const STEADY_COLUMNS: &[Column] = &[
    Column {
        heading: "records/s achieved",
        metric: |s| s.records_per_s,
        format: rate,
    },
    Column {
        heading: "ack p50 ms",
        metric: |s| s.p50_ms,
        format: decimals,
    },
    Column {
        heading: "ack p99 ms",
        metric: |s| s.p99_ms,
        format: decimals,
    },
    Column {
        heading: "client CPU µs/record",
        metric: |s| s.cpu_us_per_record,
        format: decimals,
    },
];

/// The TLS table's columns: throughput, the client's CPU, the mock's CPU
/// and latency.
pub(crate) const TLS_COLUMNS: &[Column] = &[
    Column {
        heading: "records/s",
        metric: |s| s.records_per_s,
        format: rate,
    },
    Column {
        heading: "client CPU µs/record",
        metric: |s| s.cpu_us_per_record,
        format: decimals,
    },
    Column {
        heading: "peak RSS MiB",
        metric: |s| s.peak_rss_mib,
        format: decimals,
    },
    Column {
        heading: "mock CPU µs/record",
        metric: |s| s.broker_us_per_record,
        format: decimals,
    },
    Column {
        heading: "ack p50 ms",
        metric: |s| s.p50_ms,
        format: decimals,
    },
    Column {
        heading: "ack p99 ms",
        metric: |s| s.p99_ms,
        format: decimals,
    },
];

/// `median ratio (lo-hi)`: the ratio is to librdkafka's median.
pub(crate) fn cell(entry: &Entry, reference: Option<&Entry>, column: &Column) -> String {
    let Some((mid, lo, hi)) = entry.stat(column.metric) else {
        return "failed".into();
    };
    let f = column.format;
    let ratio = reference
        .and_then(|r| r.stat(column.metric))
        .filter(|(theirs, _, _)| *theirs > 0.0)
        .map_or(String::new(), |(theirs, _, _)| {
            format!(" **{:.2}x**", mid / theirs)
        });
    if entry.samples.len() > 1 {
        format!("{}{ratio} ({}-{})", f(mid), f(lo), f(hi))
    } else {
        format!("{}{ratio}", f(mid))
    }
}

/// The Markdown table of `table`'s entries, rows in order, librdkafka's
/// line the reference of each row's ratios.
pub(crate) fn table(entries: &[Entry], table: Table) -> String {
    let columns = if table == Table::Steady {
        STEADY_COLUMNS
    } else {
        FLOOD_COLUMNS
    };
    let mut out = String::from("| row | peer |");
    if table == Table::Steady {
        out.push_str(" rate asked |");
    }
    for c in columns {
        let _ = write!(out, " {} |", c.heading);
    }
    out.push_str(" failed | note |\n|---|---|");
    if table == Table::Steady {
        out.push_str("---:|");
    }
    out.push_str(&"---:|".repeat(columns.len()));
    out.push_str("---:|---|\n");
    let mine: Vec<&Entry> = entries.iter().filter(|e| e.table == table).collect();
    for entry in &mine {
        let reference = mine
            .iter()
            .find(|e| e.row == entry.row && e.peer == Peer::Librdkafka)
            .copied();
        let _ = write!(out, "| {} | {} |", entry.row, entry.peer.name());
        if table == Table::Steady {
            let _ = write!(out, " {} |", entry.rate.map_or("-".into(), rate));
        }
        for c in columns {
            let _ = write!(out, " {} |", cell(entry, reference, c));
        }
        let failed: u64 = entry.samples.iter().map(|s| s.failed).sum();
        let mut note: Vec<String> = entry.errors.clone();
        if entry.extra("note") == Some("acks-all") {
            note.push("always acks=all".into());
        }
        let _ = writeln!(out, " {failed} | {} |", note.join("; "));
    }
    out
}

/// The flood table: latency against the bound the client's buffer sets
/// (a record waits behind at most a full buffer, drained at the run's
/// throughput).
pub(crate) fn flood(entries: &[Entry]) -> String {
    let mut out = String::from(
        "| client | records/s | MB/s | ack p50 ms | ack p99 ms | peak RSS MiB | buffer | buffer / throughput ms |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for entry in entries.iter().filter(|e| e.table == Table::Flood) {
        let (Some(rps), Some(mbs), Some(p50), Some(p99), Some(rss)) = (
            entry.stat(|s| s.records_per_s),
            entry.stat(|s| s.mb_per_s),
            entry.stat(|s| s.p50_ms),
            entry.stat(|s| s.p99_ms),
            entry.stat(|s| s.peak_rss_mib),
        ) else {
            let _ = writeln!(
                out,
                "| {} {} | failed | | | | | | |",
                entry.peer.name(),
                entry.variant
            );
            continue;
        };
        let memory: Option<f64> = entry.extra("buffer.memory").and_then(|m| m.parse().ok());
        let (buffer, bound) = match memory {
            Some(m) => (
                format!("buffer.memory {} MiB", decimals(m / 1048576.0)),
                decimals(m / (mbs.0 * 1e6) * 1e3),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} | {} | {} | {buffer} | {bound} |",
            entry.peer.name(),
            entry.variant,
            rate(rps.0),
            decimals(mbs.0),
            decimals(p50.0),
            decimals(p99.0),
            decimals(rss.0),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(peer: Peer, rps: &[f64]) -> Entry {
        Entry {
            table: Table::Defaults,
            row: Row::all()[0],
            peer,
            variant: String::new(),
            rate: None,
            samples: rps
                .iter()
                .map(|&r| Sample {
                    records_per_s: r,
                    mb_per_s: r * 100.0 / 1e6,
                    p50_ms: 1.0,
                    extra: vec![("buffer.memory".into(), "33554432".into())],
                    ..Sample::default()
                })
                .collect(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn cells_give_median_ratio_and_range() {
        let entries = vec![
            entry(Peer::Rouse, &[300e3, 100e3, 200e3]),
            entry(Peer::Librdkafka, &[400e3, 400e3, 400e3]),
            entry(Peer::Rskafka, &[]),
        ];
        let md = table(&entries, Table::Defaults);
        assert!(
            md.contains("| rouse | 200k **0.50x** (100k-300k) |"),
            "{md}"
        );
        assert!(
            md.contains("| librdkafka | 400k **1.00x** (400k-400k) |"),
            "{md}"
        );
        assert!(md.contains("| rskafka | failed |"), "{md}");
    }

    #[test]
    fn the_flood_bound_is_buffer_over_throughput() {
        // 32 MiB at 20 MB/s: 1678 ms.
        let mut flooded = entry(Peer::Rouse, &[200e3]);
        flooded.table = Table::Flood;
        let md = flood(&[flooded, entry(Peer::Rouse, &[1.0])]);
        assert!(md.contains("| buffer.memory 32.0 MiB | 1678 |"), "{md}");
        assert_eq!(
            md.lines().count(),
            3,
            "only the flood table's entries: {md}"
        );
    }
}
