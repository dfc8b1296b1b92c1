//! How a mock cluster is shaped before it starts.

use std::time::Duration;

use crate::error::ClusterError;
use crate::frame::DEFAULT_MAX_FRAME_SIZE;
use crate::security::{SaslConfig, TlsConfig};

/// Room above the largest request a connection may buffer: the length
/// prefix and one socket read of the next frame.
pub const BUFFER_SLACK: usize = 64 * 1024;

/// The default cap on partial-frame bytes buffered over all connections
/// together: 64 MiB.
pub const DEFAULT_MAX_BUFFERED_TOTAL: usize = 64 * 1024 * 1024;

/// The most brokers one mock cluster may have.
pub const MAX_BROKERS: usize = 16;

/// Settings of a mock cluster. Build with [`ClusterConfig::new`] and the
/// `with_*` methods; [`ClusterConfig::default`] is one broker with topic
/// auto-creation on.
///
/// ```
/// use rouse_kafka_mock::ClusterConfig;
///
/// let config = ClusterConfig::new(3).with_default_partitions(4).with_auto_create_topics(false);
/// assert_eq!(config.brokers(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    brokers: usize,
    auto_create_topics: bool,
    default_partitions: i32,
    max_request_size: usize,
    max_buffered_per_connection: Option<usize>,
    max_buffered_total: usize,
    fetch_wait_cap: Duration,
    cluster_id: String,
    forget_producers_on_restart: bool,
    strict_unknown_producer: bool,
    tls: Option<TlsConfig>,
    sasl: Option<SaslConfig>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self::new(1)
    }
}

impl ClusterConfig {
    /// A cluster of `brokers` brokers with ids `1..=brokers` (checked to be
    /// `1..=16` when the cluster is built).
    pub fn new(brokers: usize) -> Self {
        Self {
            brokers,
            auto_create_topics: true,
            default_partitions: 1,
            max_request_size: DEFAULT_MAX_FRAME_SIZE,
            max_buffered_per_connection: None,
            max_buffered_total: DEFAULT_MAX_BUFFERED_TOTAL,
            fetch_wait_cap: Duration::from_millis(100),
            cluster_id: "rouse-kafka-mock".to_owned(),
            forget_producers_on_restart: false,
            strict_unknown_producer: false,
            tls: None,
            sasl: None,
        }
    }

    /// Whether Metadata requests naming an unknown topic create it (Kafka's
    /// `auto.create.topics.enable`, default on).
    pub fn with_auto_create_topics(mut self, on: bool) -> Self {
        self.auto_create_topics = on;
        self
    }

    /// Partitions of auto-created topics and of CreateTopics requests that
    /// leave the count to the broker (Kafka's `num.partitions`, default 1).
    pub fn with_default_partitions(mut self, partitions: i32) -> Self {
        self.default_partitions = partitions;
        self
    }

    /// The largest request frame accepted (Kafka's
    /// `socket.request.max.bytes`, default 100 MiB).
    pub fn with_max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// The most bytes of not-yet-whole request frames one connection may
    /// buffer (default: [`max_request_size`](Self::max_request_size) plus
    /// [`BUFFER_SLACK`]). A connection over it is closed, with a warning
    /// naming the peer and the size its frame announced.
    /// It also bounds the answers a connection queues: once they reach
    /// this many bytes (or 64 answers), the connection stops reading until
    /// the client has read some, so a client that pipelines requests
    /// without reading gets TCP backpressure.
    pub fn with_max_buffered_per_connection(mut self, bytes: usize) -> Self {
        self.max_buffered_per_connection = Some(bytes);
        self
    }

    /// The most bytes of not-yet-whole request frames all connections
    /// together may buffer (default [`DEFAULT_MAX_BUFFERED_TOTAL`], 64
    /// MiB). The connection whose read goes over it is closed, with a
    /// warning naming the peer and the size its frame announced (the count
    /// may pass the cap by one socket read, 64 KiB, until then). So with
    /// the defaults a client announcing a 100 MiB frame and sending it is
    /// closed at about 64 MiB; the mock never holds the whole frame.
    pub fn with_max_buffered_total(mut self, bytes: usize) -> Self {
        self.max_buffered_total = bytes;
        self
    }

    /// Whether [`restart_broker`](crate::MockCluster::restart_broker) makes
    /// the broker forget the idempotent-producer state (producer ids,
    /// epochs, recent sequence numbers) of the partitions it leads, as a
    /// broker whose producer snapshots were lost (default off: state
    /// survives restarts). The records stay. See also
    /// [`ClusterHandle::forget_producers`](crate::ClusterHandle::forget_producers).
    pub fn with_forget_producers_on_restart(mut self, on: bool) -> Self {
        self.forget_producers_on_restart = on;
        self
    }

    /// Whether a batch from a producer id the partition does not know must
    /// start at sequence 0; otherwise it is refused with
    /// `UNKNOWN_PRODUCER_ID` (59), as brokers did before KIP-360 relaxed
    /// it. Default off: an unknown producer may start at any sequence, as
    /// in current Kafka.
    pub fn with_strict_unknown_producer(mut self, on: bool) -> Self {
        self.strict_unknown_producer = on;
        self
    }

    /// The longest a fetch short of its `min_bytes` is parked before it is
    /// answered with what there is (records arriving end the wait at
    /// once); it is the smaller of this and the request's `max_wait_ms`
    /// (default 100 ms).
    pub fn with_fetch_wait_cap(mut self, cap: Duration) -> Self {
        self.fetch_wait_cap = cap;
        self
    }

    /// The cluster id reported in Metadata responses.
    pub fn with_cluster_id(mut self, id: impl Into<String>) -> Self {
        self.cluster_id = id.into();
        self
    }

    /// TLS on every broker's listener (default off: plaintext). See
    /// [`MockCluster::generated_certs`](crate::MockCluster::generated_certs)
    /// for the CA clients must trust, and docs/mock-security.md.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// SASL on every broker's listener (default off): clients must log in
    /// as one of its users, with one of its mechanisms, before any request
    /// but ApiVersions is served.
    pub fn with_sasl(mut self, sasl: SaslConfig) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// The listeners' TLS settings, if TLS is on.
    pub fn tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// The listeners' SASL settings, if SASL is on.
    pub fn sasl(&self) -> Option<&SaslConfig> {
        self.sasl.as_ref()
    }

    /// Number of brokers.
    pub fn brokers(&self) -> usize {
        self.brokers
    }

    /// Whether topics are created on first mention in Metadata.
    pub fn auto_create_topics(&self) -> bool {
        self.auto_create_topics
    }

    /// Partitions of topics created without an explicit count.
    pub fn default_partitions(&self) -> i32 {
        self.default_partitions
    }

    /// The largest request frame accepted.
    pub fn max_request_size(&self) -> usize {
        self.max_request_size
    }

    /// The per-connection cap on buffered partial-frame bytes.
    pub fn max_buffered_per_connection(&self) -> usize {
        self.max_buffered_per_connection
            .unwrap_or_else(|| self.max_request_size.saturating_add(BUFFER_SLACK))
    }

    /// The cap on partial-frame bytes buffered over all connections.
    pub fn max_buffered_total(&self) -> usize {
        self.max_buffered_total
    }

    /// Whether a restart forgets producer state.
    pub fn forget_producers_on_restart(&self) -> bool {
        self.forget_producers_on_restart
    }

    /// Whether unknown producers must start at sequence 0.
    pub fn strict_unknown_producer(&self) -> bool {
        self.strict_unknown_producer
    }

    /// The longest a fetch short of its `min_bytes` is parked.
    pub fn fetch_wait_cap(&self) -> Duration {
        self.fetch_wait_cap
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub(crate) fn set_forget_producers_on_restart(&mut self, on: bool) {
        self.forget_producers_on_restart = on;
    }

    pub(crate) fn set_strict_unknown_producer(&mut self, on: bool) {
        self.strict_unknown_producer = on;
    }

    pub(crate) fn validate(&self) -> Result<(), ClusterError> {
        if !(1..=MAX_BROKERS).contains(&self.brokers) {
            return Err(ClusterError::BrokerCount(self.brokers));
        }
        if self.default_partitions < 1 {
            return Err(ClusterError::InvalidPartitionCount(self.default_partitions));
        }
        Ok(())
    }
}
