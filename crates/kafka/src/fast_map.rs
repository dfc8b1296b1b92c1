//! The hash map of the send path's lookups by topic name (metadata, sticky
//! partition, batch queues). Three lookups per record with std's SipHash
//! were a twentieth of `send`'s cost; foldhash (the hasher of hashbrown's
//! default build) is several times cheaper on short keys. Its seeds are
//! still random per map, and topic names come from the application, not
//! from the network, so SipHash's flood resistance buys nothing here.

/// A `HashMap` with foldhash's fast hasher; build it with `default()`.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
