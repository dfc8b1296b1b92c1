//! The requests the producer sends, built from its state, what each
//! carries while in flight, and the versions it speaks.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, ProduceRequest, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::accumulator::ProducerBatch;
use crate::net::{Connection, VersionTable, Want};

/// Metadata is asked for the same way by every client.
pub(crate) use crate::net::requests::metadata;

/// The versions this producer speaks. Produce starts at v3, the first
/// with RecordBatch v2; InitProducerId is needed only for idempotence.
pub(crate) const WANTS: &[Want] = &[
    Want::required(ApiKey::Produce, 3, 9),
    Want::required(ApiKey::Metadata, 1, 12),
    Want::optional(ApiKey::InitProducerId, 0, 4),
];

/// The producer's view of a connection's [`VersionTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    pub(crate) produce: i16,
    pub(crate) metadata: i16,
    /// `None` when the broker does not serve InitProducerId.
    pub(crate) init_producer_id: Option<i16>,
}

impl Versions {
    /// The versions of a connection negotiated with [`WANTS`] (whose
    /// required APIs it always holds; a table without them, not yet
    /// negotiated, reads as their floor).
    pub(crate) fn of(table: &VersionTable) -> Versions {
        Versions {
            produce: table.get(ApiKey::Produce).unwrap_or(WANTS[0].min()),
            metadata: table.get(ApiKey::Metadata).unwrap_or(WANTS[1].min()),
            init_producer_id: table.get(ApiKey::InitProducerId),
        }
    }
}

/// What one of the producer's requests in flight carries.
#[derive(Debug)]
pub(crate) enum Purpose {
    Metadata,
    InitProducerId,
    Produce(Vec<ProducerBatch>),
}

impl Purpose {
    /// The batches a Produce request carries (none for other requests).
    pub(crate) fn into_batches(self) -> Vec<ProducerBatch> {
        match self {
            Purpose::Produce(batches) => batches,
            _ => Vec::new(),
        }
    }
}

impl Connection<Purpose> {
    /// Produce requests in flight (for `max.in.flight.requests.per.connection`).
    pub(crate) fn produce_in_flight(&self) -> usize {
        self.in_flight_where(|p| matches!(p, Purpose::Produce(_)))
    }
}

/// An idempotent producer's id request: `producer_id` and `epoch` are -1
/// for a fresh id, or the current ones to ask for a bump (KIP-360, v3+).
pub(crate) fn init_producer_id(
    timeout_ms: i32,
    producer_id: i64,
    epoch: i16,
) -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
}

/// A Produce request carrying each batch's encoded bytes.
pub(crate) fn produce(
    acks: i16,
    timeout_ms: i32,
    batches: &[(&ProducerBatch, Bytes)],
) -> ProduceRequest {
    let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
    for (batch, bytes) in batches {
        let tp = batch.topic_partition();
        topics.entry(&tp.topic).or_default().push(
            PartitionProduceData::default()
                .with_index(tp.partition)
                .with_records(Some(bytes.clone())),
        );
    }
    let topic_data = topics
        .into_iter()
        .map(|(name, partitions)| {
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(name.to_owned())))
                .with_partition_data(partitions)
        })
        .collect();
    ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(topic_data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;

    fn offer(api: ApiKey, min: i16, max: i16) -> ApiVersion {
        ApiVersion::default()
            .with_api_key(api as i16)
            .with_min_version(min)
            .with_max_version(max)
    }

    #[test]
    fn picks_the_highest_common_version_and_refuses_old_produce() {
        let offered = [offer(ApiKey::Produce, 0, 11), offer(ApiKey::Metadata, 0, 7)];
        let v = Versions::of(&VersionTable::negotiate(&offered, WANTS).unwrap());
        assert_eq!((v.produce, v.metadata, v.init_producer_id), (9, 7, None));
        let old = [offer(ApiKey::Produce, 0, 2), offer(ApiKey::Metadata, 0, 7)];
        let error = VersionTable::negotiate(&old, WANTS)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Produce") && error.contains("0..=2"),
            "{error}"
        );
    }
}
