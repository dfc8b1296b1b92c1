//! [`ConsumerStats`]: a snapshot of the consumer's counters and of every
//! assigned partition's figures ([`PartitionStats`]).

use rouse_waker::WakerStats;

use crate::record::TopicPartition;

/// What [`Consumer::stats`](crate::Consumer::stats) returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Records fetched into the buffers since the start.
    pub records_fetched: u64,
    /// Their keys', values' and headers' bytes.
    pub bytes_fetched: u64,
    /// Fetch requests sent.
    pub fetch_requests: u64,
    /// Records buffered now, waiting for `poll` (the in-memory backlog),
    /// over every partition.
    pub buffered_records: usize,
    /// Bytes of those records (keys, values, headers).
    pub buffered_bytes: usize,
    /// Every assigned partition, in topic and partition order.
    pub partitions: Vec<PartitionStats>,
    /// The poller's waker: wakes asked for (by `seek`, `pause`, `commit`,
    /// a drain that freed a full buffer...) and the syscalls they cost.
    pub waker: WakerStats,
}

impl ConsumerStats {
    /// The sum of the partitions' known lags: records the brokers hold that
    /// `poll` has not handed out yet (buffered ones included).
    pub fn total_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.lag).sum()
    }
}

/// One assigned partition's figures in [`ConsumerStats::partitions`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionStats {
    /// The partition.
    pub partition: TopicPartition,
    /// The offset of the next record `poll` hands out, once known (as
    /// [`Consumer::position`](crate::Consumer::position) says).
    pub position: Option<i64>,
    /// The high watermark the last fetch answer reported, once one came.
    pub high_watermark: Option<i64>,
    /// High watermark minus position (never below 0), once both are known;
    /// buffered records count as lag until `poll` hands them out.
    pub lag: Option<i64>,
    /// Records fetched and waiting in this partition's buffer.
    pub buffered_records: usize,
    /// Their bytes (keys, values, headers).
    pub buffered_bytes: usize,
    /// Whether the application paused it.
    pub paused: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Compression, ConsumerConfig};
    use crate::consumer::decode::{self, DecodeOptions};
    use crate::consumer::fetch::FetchVerdict;
    use crate::consumer::list_offsets::ListOffsetsVerdict;
    use crate::consumer::positions::{Fetchable, Position, Positions};
    use crate::consumer::test_batches::{at, produced, records};

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("t", partition)
    }

    /// Two partitions: 0 reset to offset 10, 1 never positioned.
    fn positions() -> Positions {
        let config = ConsumerConfig::from_pairs([
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("max.poll.records", "3"),
        ])
        .expect("valid");
        let mut positions = Positions::new(&config);
        positions.assign([tp(0), tp(1)]);
        let asked = positions.take_reset_requests();
        let (_, _, generation) = asked.iter().find(|a| a.0 == tp(0)).expect("asked").clone();
        positions.apply_reset(
            &tp(0),
            generation,
            ListOffsetsVerdict::Offset(Position::at(10)),
        );
        positions
    }

    fn fetch(positions: &mut Positions, n: usize, high_watermark: i64) -> Fetchable {
        let f = positions.fetchable().remove(0);
        positions.mark_fetching(&f.partition);
        let data = at(f.position.offset, &produced(&records(n), Compression::None));
        let options = DecodeOptions {
            check_crcs: true,
            read_committed: false,
        };
        let verdict = FetchVerdict::Records {
            decoded: decode::decode_partition(&f.partition, f.position.offset, data, &[], options),
            high_watermark,
            limit: 1 << 20,
        };
        positions.apply_fetch(&f, verdict);
        f
    }

    #[test]
    fn each_partition_reports_position_high_watermark_lag_and_buffer() {
        let mut positions = positions();
        let before = positions.partition_stats();
        assert_eq!(before.len(), 2);
        assert_eq!(before[0].position, Some(10));
        assert_eq!((before[0].high_watermark, before[0].lag), (None, None));
        assert_eq!((before[1].position, before[1].lag), (None, None));

        fetch(&mut positions, 5, 25);
        let one_record = records(1)[0].payload_len();
        let stats = positions.partition_stats();
        let p0 = &stats[0];
        assert_eq!(p0.partition, tp(0));
        assert_eq!((p0.position, p0.high_watermark), (Some(10), Some(25)));
        assert_eq!(p0.lag, Some(15), "buffered records are still lag");
        assert_eq!(p0.buffered_records, 5);
        assert_eq!(p0.buffered_bytes, 5 * one_record);
        assert_eq!(positions.buffered_bytes(), 5 * one_record);

        let drained = positions.drain().expect("records");
        assert_eq!(drained.len(), 3, "max.poll.records");
        let p0 = positions.partition_stats().remove(0);
        assert_eq!((p0.position, p0.lag), (Some(13), Some(12)));
        assert_eq!(
            (p0.buffered_records, p0.buffered_bytes),
            (2, 2 * one_record)
        );

        positions.drain().expect("records");
        let p0 = positions.partition_stats().remove(0);
        assert_eq!(
            (p0.position, p0.lag, p0.buffered_records),
            (Some(15), Some(10), 0)
        );
        assert_eq!(p0.buffered_bytes, 0);

        positions.set_paused(&tp(0), true).expect("assigned");
        assert!(positions.partition_stats()[0].paused);
    }

    #[test]
    fn a_seek_past_the_high_watermark_reports_no_negative_lag() {
        let mut positions = positions();
        fetch(&mut positions, 2, 12);
        positions.seek(&tp(0), 40).expect("assigned");
        let p0 = positions.partition_stats().remove(0);
        assert_eq!((p0.position, p0.lag), (Some(40), Some(0)));
        assert_eq!(p0.buffered_records, 0, "a seek drops the buffer");
    }

    #[test]
    fn total_lag_adds_the_known_lags() {
        let partition = |p: i32, lag: Option<i64>| PartitionStats {
            partition: tp(p),
            position: None,
            high_watermark: None,
            lag,
            buffered_records: 0,
            buffered_bytes: 0,
            paused: false,
        };
        let stats = ConsumerStats {
            records_fetched: 0,
            bytes_fetched: 0,
            fetch_requests: 0,
            buffered_records: 0,
            buffered_bytes: 0,
            partitions: vec![
                partition(0, Some(3)),
                partition(1, None),
                partition(2, Some(4)),
            ],
            waker: WakerStats::default(),
        };
        assert_eq!(stats.total_lag(), 7);
    }
}
