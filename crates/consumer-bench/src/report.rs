//! The bench's results: every peer's samples per table and row, reduced to
//! median and range, each metric with its ratio to librdkafka's median, as
//! Markdown tables.

use std::fmt::Write as _;

use crate::run::{Peer, Sample};

/// Which table a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// Reading a pre-filled topic as fast as the peer can.
    Throughput,
    /// Produce-to-poll latency at a fixed rate.
    Latency,
    /// A consumer group: joining it, and a second member joining.
    Group,
}

impl Table {
    /// The table's name in ROUSE_BENCH_FILTER's "table row peer".
    pub(crate) fn label(self) -> &'static str {
        match self {
            Table::Throughput => "throughput",
            Table::Latency => "latency",
            Table::Group => "group",
        }
    }
}

/// All rounds of one peer on one row of one table.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) table: Table,
    /// The row's label ("100 B none", "cooperative-sticky").
    pub(crate) row: String,
    pub(crate) peer: Peer,
    pub(crate) samples: Vec<Sample>,
    pub(crate) errors: Vec<String>,
}

impl Entry {
    /// Median, lowest and highest of `metric` over the rounds.
    pub(crate) fn stat(&self, metric: fn(&Sample) -> f64) -> Option<(f64, f64, f64)> {
        rouse_bench_support::median_range(self.samples.iter().map(metric).collect())
    }
}

type Metric = (&'static str, fn(&Sample) -> f64, usize);

const THROUGHPUT: [Metric; 5] = [
    ("records/s", |s| s.records_per_s, 0),
    ("MB/s", |s| s.mb_per_s, 1),
    ("client CPU µs/record", |s| s.cpu_us_per_record, 2),
    ("peak RSS MiB", |s| s.peak_rss_mib, 0),
    ("broker CPU µs/record", |s| s.broker_us_per_record, 2),
];

const LATENCY: [Metric; 4] = [
    ("p50 ms", |s| s.p50_ms, 2),
    ("p99 ms", |s| s.p99_ms, 2),
    ("client CPU µs/record", |s| s.cpu_us_per_record, 2),
    ("broker CPU µs/record", |s| s.broker_us_per_record, 2),
];

const GROUP: [Metric; 6] = [
    (
        "1st member: subscribe to 1st record ms",
        |s| s.first_record_ms,
        0,
    ),
    (
        "2nd member: subscribe to 1st record ms",
        |s| s.join_first_record_ms,
        0,
    ),
    ("1st member's longest pause ms", |s| s.pause_ms, 0),
    ("1st member's max latency ms", |s| s.member1_max_ms, 0),
    ("max latency, both ms", |s| s.max_ms, 0),
    ("records read twice", |s| s.reread, 0),
];

/// One Markdown table: a line per row and peer; each cell the median,
/// its ratio to librdkafka's median in bold, and the range.
pub(crate) fn table(entries: &[Entry], table: Table) -> String {
    let metrics: &[Metric] = match table {
        Table::Throughput => &THROUGHPUT,
        Table::Latency => &LATENCY,
        Table::Group => &GROUP,
    };
    let mut out = String::from("| row | peer |");
    for (name, _, _) in metrics {
        let _ = write!(out, " {name} |");
    }
    out.push_str("\n| --- | --- |");
    out.push_str(&" ---: |".repeat(metrics.len()));
    out.push('\n');
    let mine: Vec<&Entry> = entries.iter().filter(|e| e.table == table).collect();
    for entry in &mine {
        let base = mine
            .iter()
            .find(|e| e.row == entry.row && e.peer == Peer::Librdkafka);
        let _ = write!(out, "| {} | {} |", entry.row, entry.peer.name());
        if entry.samples.is_empty() {
            let why = entry.errors.first().map_or("no run", String::as_str);
            let _ = writeln!(out, " failed: {why} |{}", " |".repeat(metrics.len() - 1));
            continue;
        }
        for &(_, metric, digits) in metrics {
            let (median, lo, hi) = entry.stat(metric).unwrap_or_default();
            let ratio = base
                .and_then(|b| b.stat(metric))
                .filter(|(m, _, _)| *m > 0.0)
                .map_or(String::new(), |(m, _, _)| {
                    format!(" **{:.2}x**", median / m)
                });
            let _ = write!(
                out,
                " {median:.digits$}{ratio} ({lo:.digits$}-{hi:.digits$}) |"
            );
        }
        if !entry.errors.is_empty() {
            let _ = write!(out, " ({} failed runs)", entry.errors.len());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(peer: Peer, rps: &[f64]) -> Entry {
        Entry {
            table: Table::Throughput,
            row: "100 B none".into(),
            peer,
            samples: rps
                .iter()
                .map(|&r| Sample {
                    records_per_s: r,
                    ..Sample::default()
                })
                .collect(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn cells_give_median_ratio_and_range() {
        let entries = [
            entry(Peer::Rouse, &[300.0, 100.0, 200.0]),
            entry(Peer::Librdkafka, &[100.0, 100.0, 100.0]),
        ];
        let md = table(&entries, Table::Throughput);
        assert!(
            md.contains("| 100 B none | rouse | 200 **2.00x** (100-300) |"),
            "{md}"
        );
        assert!(
            md.contains("| 100 B none | librdkafka | 100 **1.00x** (100-100) |"),
            "{md}"
        );
    }
}
