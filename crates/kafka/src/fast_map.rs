//! The hash map of the send path's lookups by topic name (metadata, sticky
//! partition, batch queues). Three lookups per record with std's SipHash
//! were a twentieth of `send`'s cost; foldhash (the hasher of hashbrown's
//! default build) is several times cheaper on short keys. Its seeds are
//! still random per map, and topic names come from the application, not
//! from the network, so SipHash's flood resistance buys nothing here.

/// A `HashMap` with foldhash's fast hasher; build it with `default()`.
#[cfg(not(loom))]
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Under loom a fixed seed: a model must take its locks in the same order
/// every time it is replayed, and the drain locks queues in map order.
#[cfg(loom)]
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
