//! [`ProducerError`]: why `send` refused a record, and what to do instead.

use std::time::Duration;

use crate::config::ConfigError;
use crate::record::Record;

/// `send` could not take the record. Where it makes sense the record comes
/// back inside the error ([`into_record`](ProducerError::into_record)), so the
/// caller can retry, divert or drop it without having cloned it first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// `buffer.memory` stayed full for `max.block.ms`: the brokers are slower
    /// than the application, or unreachable.
    #[error("the producer's buffer.memory stayed full for {} ms (max.block.ms); slow down, retry the returned record later, or raise buffer.memory / max.block.ms", waited.as_millis())]
    BufferFull {
        /// The record, untouched.
        record: Box<Record>,
        /// How long `send` waited.
        waited: Duration,
    },
    /// The record can never be sent with these settings.
    #[error("the record needs {size} bytes, more than {setting} ({limit} bytes); shrink the record or raise {setting}")]
    RecordTooLarge {
        /// The record, untouched.
        record: Box<Record>,
        /// Bytes it needs in a batch of its own.
        size: usize,
        /// The limit it broke.
        limit: usize,
        /// The setting that sets the limit: `max.request.size` or `buffer.memory`.
        setting: &'static str,
    },
    /// The record's explicit partition, or the partitioner's choice, is not
    /// a partition of the topic.
    #[error("partition {partition} does not exist: topic {topic:?} has {partition_count} partition(s) (0..{partition_count}); pick one in range")]
    InvalidPartition {
        /// The record, untouched.
        record: Box<Record>,
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// How many partitions the topic has.
        partition_count: i32,
    },
    /// A negative timestamp other than "none": Kafka rejects those.
    #[error("timestamp {timestamp} is negative; use a time in ms since the Unix epoch, or none to stamp it on send")]
    InvalidTimestamp {
        /// The record, untouched.
        record: Box<Record>,
        /// The timestamp given.
        timestamp: i64,
    },
    /// The producer is closed or closing; it takes no more records.
    #[error("the producer is closed; create a new producer to send more records")]
    Closed {
        /// The record, untouched.
        record: Box<Record>,
    },
    /// The topic's metadata did not arrive within `max.block.ms`: the topic
    /// does not exist (and the brokers do not create topics on first use),
    /// or no broker answered — then `cause` says why (the address that did
    /// not resolve or refused the connection).
    #[error("topic {topic:?} not present in metadata after {} ms (max.block.ms): {}", waited.as_millis(), cause.as_deref().map_or_else(|| "create the topic, or check bootstrap.servers and that the brokers are up".to_owned(), |c| format!("{c}; check bootstrap.servers and that the brokers are up")))]
    MetadataTimeout {
        /// The record, untouched.
        record: Box<Record>,
        /// The topic.
        topic: String,
        /// How long `send` waited.
        waited: Duration,
        /// The last connection failure, if no broker could be reached.
        cause: Option<String>,
    },
    /// The brokers refused the topic (an invalid name, or not authorized).
    #[error("the brokers refused topic {topic:?} with Kafka error code {code} ({}); fix the topic name or the broker's ACLs", kafka_protocol::ResponseError::try_from_code(*code).map_or_else(|| "unknown".to_owned(), |e| e.to_string()))]
    TopicUnavailable {
        /// The record, untouched.
        record: Box<Record>,
        /// The topic.
        topic: String,
        /// The Kafka error code.
        code: i16,
    },
    /// `flush` or `close` ran out of time with records still unresolved.
    /// After `flush` they go on and end as usual; after `close` each was
    /// failed with an `Aborted` outcome.
    #[error("{pending} record(s) or batch(es) still had no outcome after {} ms; wait longer, or check that the brokers are reachable", waited.as_millis())]
    FlushTimeout {
        /// How long the call waited.
        waited: Duration,
        /// Records queued and batches in flight when it gave up.
        pending: u64,
    },
    /// The producer hit an unrecoverable error earlier (see
    /// [`Producer::fatal_error`](crate::Producer::fatal_error)); it takes no
    /// more records.
    #[error("the producer failed fatally and takes no more records: {reason}; close it and create a new producer")]
    Fatal {
        /// The record, untouched.
        record: Box<Record>,
        /// What went wrong.
        reason: String,
    },
    /// The producer could not authenticate, or TLS with a broker failed
    /// (the message says which and why); it takes no more records, and
    /// `flush` returns this too. Fix the `sasl.*` / `ssl.*` settings or the
    /// broker's certificate and create a new producer.
    #[error("the producer cannot reach the cluster securely and takes no more records: {reason}")]
    Authentication {
        /// The record `send` was given (`None` from `flush`).
        record: Option<Box<Record>>,
        /// What failed, naming the broker.
        reason: String,
    },
    /// The poller thread or its event loop could not be started.
    #[error("could not start the producer's poller thread: {0}; the process may be out of file descriptors or threads")]
    Start(#[source] std::io::Error),
    /// A broken promise inside the producer (a bug; please report it).
    #[error("internal error in rouse-kafka: {0}; please report it")]
    Internal(&'static str),
    /// The configuration was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Matches the variants that carry the caller's record, binding it to
/// `$record`; one list for [`ProducerError::record`] and
/// [`ProducerError::into_record`].
macro_rules! with_record {
    ($error:expr, $record:ident => $found:expr) => {
        match $error {
            ProducerError::BufferFull {
                record: $record, ..
            }
            | ProducerError::RecordTooLarge {
                record: $record, ..
            }
            | ProducerError::InvalidPartition {
                record: $record, ..
            }
            | ProducerError::InvalidTimestamp {
                record: $record, ..
            }
            | ProducerError::MetadataTimeout {
                record: $record, ..
            }
            | ProducerError::TopicUnavailable {
                record: $record, ..
            }
            | ProducerError::Fatal {
                record: $record, ..
            }
            | ProducerError::Authentication {
                record: Some($record),
                ..
            }
            | ProducerError::Closed { record: $record } => Some($found),
            ProducerError::Authentication { record: None, .. }
            | ProducerError::Config(_)
            | ProducerError::FlushTimeout { .. }
            | ProducerError::Start(_)
            | ProducerError::Internal(_) => None,
        }
    };
}

impl ProducerError {
    /// The record `send` was given, if this error carries it.
    pub fn record(&self) -> Option<&Record> {
        with_record!(self, record => &**record)
    }

    /// Takes the record back out of the error, if it carries one.
    pub fn into_record(self) -> Option<Record> {
        with_record!(self, record => *record)
    }

    /// Whether the same call could succeed later without changing anything
    /// (a full buffer drains, metadata may arrive, a flush may finish).
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            ProducerError::BufferFull { .. }
                | ProducerError::MetadataTimeout { .. }
                | ProducerError::FlushTimeout { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do_and_records_come_back() {
        let r = || Box::new(Record::value("t", "v"));
        let full = ProducerError::BufferFull {
            record: r(),
            waited: Duration::from_millis(60_000),
        };
        assert!(
            full.to_string().contains("60000 ms")
                && full.to_string().contains("raise buffer.memory")
        );
        assert!(full.is_retriable());
        assert_eq!(full.into_record(), Some(*r()));

        let big = ProducerError::RecordTooLarge {
            record: r(),
            size: 9,
            limit: 8,
            setting: "max.request.size",
        };
        assert!(big.to_string().contains("raise max.request.size"), "{big}");
        assert!(!big.is_retriable());
        assert_eq!(big.record(), Some(&*r()));

        let part = ProducerError::InvalidPartition {
            record: r(),
            topic: "t".into(),
            partition: 9,
            partition_count: 3,
        };
        assert!(part.to_string().contains("0..3"), "{part}");
        let ts = ProducerError::InvalidTimestamp {
            record: r(),
            timestamp: -5,
        };
        assert!(ts.to_string().contains("-5"));
        let closed = ProducerError::Closed { record: r() };
        assert!(closed.to_string().contains("new producer"));
        assert!(closed.into_record().is_some());

        let config = ProducerError::from(ConfigError::UnknownKey {
            key: "x".into(),
            client: "producer",
            known: &[],
        });
        assert!(config.record().is_none() && config.into_record().is_none());
    }
}
