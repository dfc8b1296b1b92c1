//! Test helpers: a client that speaks to the core through real frames, and
//! record batch builders. Requests are encoded with `kafka-protocol`'s
//! client side, responses decoded with it, so tests see what clients see.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, MetadataRequest, ProduceRequest, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::{ClusterHandle, Outcome};

/// Encodes a request frame (no length prefix) as a client would.
pub(crate) fn request_frame<R: Request>(version: i16, correlation_id: i32, body: &R) -> Bytes {
    let key = ApiKey::try_from(R::KEY).expect("known key");
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("testkit")))
        .encode(&mut buf, key.request_header_version(version))
        .expect("header encodes");
    body.encode(&mut buf, version).expect("request encodes");
    buf.freeze()
}

/// Decodes a whole response frame (length prefix included).
pub(crate) fn decode_response<R: Decodable + HeaderVersion>(
    version: i16,
    frame: &Bytes,
) -> (i32, R) {
    let mut buf = frame.clone();
    let len = i32::from_be_bytes(frame[..4].try_into().unwrap());
    assert_eq!(len as usize, frame.len() - 4, "length prefix matches");
    let _ = buf.split_to(4);
    let header =
        ResponseHeader::decode(&mut buf, R::header_version(version)).expect("response header");
    let body = R::decode(&mut buf, version).expect("response body");
    assert!(buf.is_empty(), "response fully consumed");
    (header.correlation_id, body)
}

/// A client bound to one cluster.
pub(crate) struct Client {
    pub(crate) cluster: ClusterHandle,
    correlation_id: i32,
}

impl Client {
    pub(crate) fn new(cluster: &ClusterHandle) -> Self {
        Self {
            cluster: cluster.clone(),
            correlation_id: 0,
        }
    }

    /// Sends `req` to `broker` and returns the raw outcome.
    pub(crate) fn send<R: Request>(&mut self, broker: i32, version: i16, req: &R) -> Outcome {
        self.correlation_id += 1;
        self.cluster
            .handle(broker, request_frame(version, self.correlation_id, req))
    }

    /// Sends `req` and decodes the response, which must come (delay or
    /// not; a parked fetch is waited for until its deadline).
    pub(crate) fn call<R: Request>(&mut self, broker: i32, version: i16, req: &R) -> R::Response {
        let mut outcome = self.send(broker, version, req);
        if let Outcome::Deferred(parked) = &outcome {
            if let Some(deadline) = parked.fetch_deadline() {
                std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
                outcome = self
                    .cluster
                    .resume(parked)
                    .expect("answered at its deadline");
            }
        }
        match outcome {
            Outcome::Respond { bytes, .. } => {
                let (correlation_id, response) = decode_response::<R::Response>(version, &bytes);
                assert_eq!(correlation_id, self.correlation_id);
                response
            }
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

pub(crate) fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

/// An idempotent producer's identity for a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Idempotence {
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    pub(crate) base_sequence: i32,
}

/// One RecordBatch v2 holding `values` keyed `k0, k1, ...`, with one header.
pub(crate) fn batch(
    values: &[&str],
    idempotence: Option<Idempotence>,
    compression: Compression,
) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, value)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: idempotence.map_or(-1, |p| p.producer_id),
            producer_epoch: idempotence.map_or(-1, |p| p.epoch),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder groups records into one batch only while offset - sequence
            // stays constant, so non-idempotent records count up from -1 too.
            sequence: idempotence.map_or(i as i32 - 1, |p| p.base_sequence + i as i32),
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(value.to_string())),
            headers: IndexMap::from([(
                StrBytes::from_static_str("h"),
                Some(Bytes::from_static(b"v")),
            )]),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("batch encodes");
    buf.freeze()
}

pub(crate) fn produce_request(
    topic: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

pub(crate) fn fetch_request(
    version: i16,
    topic: &str,
    partition: i32,
    offset: i64,
) -> FetchRequest {
    let mut p = FetchPartition::default()
        .with_partition(partition)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    if version >= 5 {
        p = p.with_log_start_offset(-1);
    }
    FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![p])])
}

pub(crate) fn metadata_request(topics: Option<&[&str]>) -> MetadataRequest {
    MetadataRequest::default().with_topics(topics.map(|names| {
        names
            .iter()
            .map(|n| MetadataRequestTopic::default().with_name(Some(name(n))))
            .collect()
    }))
}

/// Decodes every record in a fetched record set: `(offset, value)`.
pub(crate) fn fetched_values(records: &Bytes) -> Vec<(i64, String)> {
    let mut buf = records.clone();
    RecordBatchDecoder::decode_all(&mut buf)
        .expect("fetched batches decode")
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| {
            (
                r.offset,
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
            )
        })
        .collect()
}
