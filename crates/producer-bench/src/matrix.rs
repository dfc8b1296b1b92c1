//! What the bench runs: the rows (record size, partitions, acks, linger,
//! sender threads), the peers, and the settings each peer gets in each
//! table.

use std::fmt;

/// One row of every table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    pub(crate) record_size: usize,
    pub(crate) partitions: u32,
    pub(crate) acks: &'static str,
    pub(crate) linger_ms: u32,
    pub(crate) threads: usize,
}

impl Row {
    /// The 32 rows: 100 B and 1 KiB; 1 and 6 partitions; acks 1 and all;
    /// linger 0 and 5 ms; one sender thread and four sharing one producer.
    pub(crate) fn all() -> Vec<Row> {
        let mut rows = Vec::new();
        for record_size in [100, 1024] {
            for partitions in [1, 6] {
                for acks in ["1", "all"] {
                    for linger_ms in [0, 5] {
                        for threads in [1, 4] {
                            rows.push(Row {
                                record_size,
                                partitions,
                                acks,
                                linger_ms,
                                threads,
                            });
                        }
                    }
                }
            }
        }
        rows
    }

    /// Records one flood run sends (before `--max-seconds` stops it): about
    /// 0.1-0.5 s of work for the fast peers on the dev VM, times `scale`.
    pub(crate) fn records(&self, scale: f64) -> u64 {
        let base = if self.record_size <= 100 {
            40_000.0
        } else {
            15_000.0
        };
        (base * scale).max(1000.0) as u64
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = if self.record_size >= 1024 {
            format!("{} KiB", self.record_size / 1024)
        } else {
            format!("{} B", self.record_size)
        };
        write!(
            f,
            "{size}, {}p, acks {}, linger {}, {}t",
            self.partitions, self.acks, self.linger_ms, self.threads
        )
    }
}

/// A client under test; each runs as its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Rouse,
    Librdkafka,
    Rskafka,
    RustfsKafka,
}

impl Peer {
    /// Every peer, librdkafka (the reference of the ratios) second.
    pub(crate) const ALL: [Peer; 4] = [
        Peer::Rouse,
        Peer::Librdkafka,
        Peer::Rskafka,
        Peer::RustfsKafka,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Rouse => "rouse",
            Peer::Librdkafka => "librdkafka",
            Peer::Rskafka => "rskafka",
            Peer::RustfsKafka => "rustfs-kafka",
        }
    }

    /// The binary's path relative to the release directory.
    pub(crate) fn binary(self) -> &'static str {
        match self {
            Peer::Rouse => "examples/producer_perf",
            Peer::Librdkafka => "peer-librdkafka",
            Peer::Rskafka => "peer-rskafka",
            Peer::RustfsKafka => "peer-rustfs-kafka",
        }
    }
}

/// Which settings the peers get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settings {
    /// Each client's own defaults: only bootstrap.servers, acks and
    /// linger.ms set (and librdkafka's message-count queue limit raised).
    Defaults,
    /// `batch.size` 262144 for every client that has one.
    EqualBatch,
}

/// `batch.size` in the equal-settings table.
pub(crate) const EQUAL_BATCH_SIZE: &str = "262144";

/// librdkafka's `queue.buffering.max.messages` in both tables: its default
/// (100000) refuses sends in a flood, where an application would have to
/// retry; raised so it takes records as the others do.
pub(crate) const LIBRDKAFKA_QUEUE_MESSAGES: &str = "1000000";

impl Settings {
    /// The `--producer-props` for `peer` on `row`.
    pub(crate) fn props(self, peer: Peer, row: &Row, bootstrap: &str) -> Vec<String> {
        let mut props = vec![
            format!("bootstrap.servers={bootstrap}"),
            format!("acks={}", row.acks),
            format!("linger.ms={}", row.linger_ms),
        ];
        if peer == Peer::Librdkafka {
            props.push(format!(
                "queue.buffering.max.messages={LIBRDKAFKA_QUEUE_MESSAGES}"
            ));
        }
        if self == Settings::EqualBatch {
            props.push(format!("batch.size={EQUAL_BATCH_SIZE}"));
        }
        props
    }
}

/// Whether `name` contains one of the `|`-separated `patterns` (an empty
/// pattern matches everything): ROUSE_BENCH_FILTER's syntax, as the timer
/// bench's.
pub(crate) fn matches_any(patterns: &str, name: &str) -> bool {
    patterns.split('|').any(|p| name.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_two_distinct_rows() {
        let rows = Row::all();
        assert_eq!(rows.len(), 32);
        let labels: std::collections::BTreeSet<String> =
            rows.iter().map(|r| r.to_string()).collect();
        assert_eq!(labels.len(), 32);
        assert!(labels.contains("1 KiB, 6p, acks all, linger 5, 4t"));
    }

    #[test]
    fn defaults_set_only_the_row_s_settings() {
        let row = Row::all()[0];
        let rouse = Settings::Defaults.props(Peer::Rouse, &row, "h:1");
        assert_eq!(rouse, ["bootstrap.servers=h:1", "acks=1", "linger.ms=0"]);
        let rd = Settings::Defaults.props(Peer::Librdkafka, &row, "h:1");
        assert!(rd.contains(&"queue.buffering.max.messages=1000000".to_string()));
        let equal = Settings::EqualBatch.props(Peer::Rskafka, &row, "h:1");
        assert!(equal.contains(&"batch.size=262144".to_string()));
    }

    #[test]
    fn filter_patterns() {
        assert!(matches_any("", "anything"));
        assert!(matches_any("x|rouse", "defaults 100 B rouse"));
        assert!(!matches_any("librdkafka", "defaults 100 B rouse"));
    }
}
