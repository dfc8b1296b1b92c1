//! `MockCluster` over real 127.0.0.1 sockets, with a small blocking client
//! that encodes requests with kafka-protocol, as any client would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse,
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;
use rouse_kafka_mock::{ClusterConfig, MockCluster};

/// A blocking client on one connection, every call bounded by a timeout.
struct Client {
    stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Client {
            stream,
            correlation_id: 0,
        })
    }

    fn send<R: Request>(&mut self, version: i16, body: &R) -> i32 {
        self.correlation_id += 1;
        let key = ApiKey::try_from(R::KEY).expect("a known API");
        let mut payload = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("cluster-test")))
            .encode(&mut payload, key.request_header_version(version))
            .expect("header encodes");
        body.encode(&mut payload, version).expect("body encodes");
        self.write_frame(&payload);
        self.correlation_id
    }

    fn write_frame(&mut self, payload: &[u8]) {
        let len = (payload.len() as i32).to_be_bytes();
        self.stream.write_all(&len).expect("write");
        self.stream.write_all(payload).expect("write");
    }

    fn receive<R: Decodable + HeaderVersion>(&mut self, version: i16) -> (i32, R) {
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .expect("a response within 5 s");
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream
            .read_exact(&mut body)
            .expect("the whole response");
        let mut buf = Bytes::from(body);
        let header = ResponseHeader::decode(&mut buf, R::header_version(version)).expect("header");
        (
            header.correlation_id,
            R::decode(&mut buf, version).expect("body"),
        )
    }

    fn call<R: Request>(&mut self, version: i16, body: &R) -> R::Response {
        let id = self.send(version, body);
        let (got, response) = self.receive::<R::Response>(version);
        assert_eq!(got, id, "responses come in request order");
        response
    }

    /// True once the peer has closed the connection (bounded wait).
    fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }
}

fn addr(cluster: &MockCluster, broker: i32) -> SocketAddr {
    cluster.broker_address(broker).expect("broker exists")
}

fn api_versions() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("cluster-test"))
        .with_client_software_version(StrBytes::from_static_str("1"))
}

#[test]
fn three_brokers_answer_api_versions_and_metadata() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("starts");
    cluster.create_topic("orders", 6).expect("topic");
    for broker in 1..=3 {
        let mut client = Client::connect(addr(&cluster, broker)).expect("connects");
        let versions: ApiVersionsResponse = client.call(3, &api_versions());
        assert_eq!(versions.error_code, 0);
        let metadata: MetadataResponse =
            client.call(9, &MetadataRequest::default().with_topics(None));
        assert_eq!(metadata.brokers.len(), 3);
        let ports: Vec<u16> = metadata.brokers.iter().map(|b| b.port as u16).collect();
        for b in 1..=3 {
            assert!(ports.contains(&addr(&cluster, b).port()), "{ports:?}");
        }
        assert_eq!(metadata.topics[0].partitions.len(), 6);
    }
    assert_eq!(cluster.handle().request_count(None, ApiKey::Metadata), 3);
}

#[test]
fn unsupported_version_is_answered_not_dropped() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("starts");
    let mut client = Client::connect(addr(&cluster, 1)).expect("connects");
    // Metadata v13 is past what the mock serves: UNSUPPORTED_VERSION, and
    // the connection stays usable.
    let metadata: MetadataResponse = client.call(13, &MetadataRequest::default());
    assert_eq!(
        metadata.error_code,
        ResponseError::UnsupportedVersion.code()
    );
    let versions: ApiVersionsResponse = client.call(3, &api_versions());
    assert_eq!(versions.error_code, 0);
}

#[test]
fn garbage_closes_only_that_connection() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("starts");
    let mut good = Client::connect(addr(&cluster, 1)).expect("connects");
    let mut bad = Client::connect(addr(&cluster, 1)).expect("connects");
    bad.write_frame(&[0xff; 12]); // API key -1: not Kafka
    assert!(bad.is_closed(), "a bad frame closes its connection");
    let mut huge = Client::connect(addr(&cluster, 1)).expect("connects");
    huge.stream
        .write_all(&i32::MAX.to_be_bytes())
        .expect("write");
    assert!(
        huge.is_closed(),
        "a huge length prefix closes its connection"
    );
    let versions: ApiVersionsResponse = good.call(3, &api_versions());
    assert_eq!(versions.error_code, 0, "other clients carry on");
}

#[test]
fn stopped_broker_closes_connections_and_restarts_on_the_same_port() {
    let cluster = MockCluster::start(ClusterConfig::new(2)).expect("starts");
    let before = cluster.bootstrap_servers();
    let mut client = Client::connect(addr(&cluster, 2)).expect("connects");
    let _: ApiVersionsResponse = client.call(3, &api_versions());

    cluster.stop_broker(2).expect("stops");
    assert!(client.is_closed(), "its connections are closed");
    assert!(
        Client::connect(addr(&cluster, 2)).is_err(),
        "its port refuses"
    );
    assert_eq!(cluster.bootstrap_servers(), addr(&cluster, 1).to_string());
    let mut other = Client::connect(addr(&cluster, 1)).expect("broker 1 is up");
    let metadata: MetadataResponse = other.call(9, &MetadataRequest::default());
    assert_eq!(metadata.brokers.len(), 1, "metadata shows broker 2 gone");

    cluster.restart_broker(2).expect("restarts");
    assert_eq!(cluster.bootstrap_servers(), before);
    let mut again = Client::connect(addr(&cluster, 2)).expect("same port again");
    let versions: ApiVersionsResponse = again.call(3, &api_versions());
    assert_eq!(versions.error_code, 0);
}

#[test]
fn delayed_responses_hold_later_ones_back_in_order() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("starts");
    cluster
        .handle()
        .delay_responses(ApiKey::Metadata, None, Duration::from_millis(150));
    let mut client = Client::connect(addr(&cluster, 1)).expect("connects");
    let started = Instant::now();
    let first = client.send(9, &MetadataRequest::default());
    let second = client.send(3, &api_versions());
    let (id, _) = client.receive::<MetadataResponse>(9);
    assert_eq!(id, first);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the delay was applied"
    );
    let (id, versions) = client.receive::<ApiVersionsResponse>(3);
    assert_eq!(id, second, "the undelayed response waited its turn");
    assert_eq!(versions.error_code, 0);
}

#[test]
fn injected_errors_and_drops_reach_the_client() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("starts");
    cluster.handle().fail_next(
        ApiKey::ApiVersions,
        None,
        ResponseError::UnknownServerError,
        1,
    );
    let mut client = Client::connect(addr(&cluster, 1)).expect("connects");
    let versions: ApiVersionsResponse = client.call(3, &api_versions());
    assert_eq!(
        versions.error_code,
        ResponseError::UnknownServerError.code()
    );
    cluster.handle().drop_connection_after(None, 1);
    let _: ApiVersionsResponse = client.call(3, &api_versions());
    client.send(3, &api_versions());
    assert!(client.is_closed(), "dropped after one more request");
}

#[test]
fn drop_joins_the_loop_and_frees_the_ports() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("starts");
    let addrs: Vec<SocketAddr> = (1..=3).map(|b| addr(&cluster, b)).collect();
    let mut client = Client::connect(addrs[0]).expect("connects");
    drop(cluster);
    assert!(client.is_closed(), "connections closed on drop");
    for a in addrs {
        assert!(
            TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_err(),
            "{a} closed"
        );
    }
}

/// One record, as a producer without idempotence writes it.
fn one_record(value: &'static [u8]) -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 1,
        key: None,
        value: Some(Bytes::from_static(value)),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).expect("encodes");
    buf.freeze()
}

/// A fetch of partition 0 of `topic` from `offset`, waiting up to
/// `max_wait_ms` for its first byte.
fn long_fetch(topic: &str, offset: i64, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(vec![FetchPartition::default()
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

/// Produces one record to partition 0 of `topic` (acks 1).
fn produce_one(producer: &mut Client, topic: &str, value: &'static [u8]) -> ProduceResponse {
    producer.call(
        9,
        &ProduceRequest::default()
            .with_acks(1)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default().with_records(Some(one_record(value)))
                ])]),
    )
}

#[test]
fn a_parked_fetch_is_answered_when_a_record_is_produced() {
    // A 60 s cap and a 30 s wait: only the Produce can answer the fetch
    // within the client's 5 s read timeout.
    let config = ClusterConfig::new(1).with_fetch_wait_cap(Duration::from_secs(60));
    let cluster = MockCluster::start(config).expect("starts");
    cluster.create_topic("t", 1).expect("created");
    let mut consumer = Client::connect(addr(&cluster, 1)).expect("connects");
    let fetch = consumer.send(12, &long_fetch("t", 0, 30_000));
    let behind = consumer.send(3, &api_versions());
    std::thread::sleep(Duration::from_millis(50)); // the fetch is parked

    let mut producer = Client::connect(addr(&cluster, 1)).expect("connects");
    let produced = produce_one(&mut producer, "t", b"wake");
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);

    let (id, response) = consumer.receive::<FetchResponse>(12);
    assert_eq!(id, fetch);
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(partition.high_watermark, 1);
    assert!(
        partition.records.as_ref().is_some_and(|r| !r.is_empty()),
        "the answer carries the produced record"
    );
    let (id, _) = consumer.receive::<ApiVersionsResponse>(3);
    assert_eq!(id, behind, "the request behind the fetch waited its turn");
}

#[test]
fn a_parked_fetch_with_nothing_new_is_answered_empty_at_its_wait() {
    let config = ClusterConfig::new(1).with_fetch_wait_cap(Duration::from_secs(60));
    let cluster = MockCluster::start(config).expect("starts");
    cluster.create_topic("t", 1).expect("created");
    let mut consumer = Client::connect(addr(&cluster, 1)).expect("connects");
    let asked = Instant::now();
    let fetch = consumer.send(12, &long_fetch("t", 0, 300));
    let behind = consumer.send(3, &api_versions());
    let (id, response) = consumer.receive::<FetchResponse>(12);
    assert_eq!(id, fetch);
    assert!(
        asked.elapsed() >= Duration::from_millis(300),
        "held its wait"
    );
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert!(partition.records.as_ref().is_none_or(|r| r.is_empty()));
    let (id, _) = consumer.receive::<ApiVersionsResponse>(3);
    assert_eq!(id, behind);
}

#[test]
fn an_injected_delay_holds_a_parked_fetch_answer_on_the_socket() {
    let config = ClusterConfig::new(1).with_fetch_wait_cap(Duration::from_secs(60));
    let cluster = MockCluster::start(config).expect("starts");
    cluster.create_topic("t", 1).expect("created");
    cluster
        .handle()
        .delay_responses(ApiKey::Fetch, None, Duration::from_millis(300));
    let mut consumer = Client::connect(addr(&cluster, 1)).expect("connects");
    let fetch = consumer.send(12, &long_fetch("t", 0, 30_000));
    std::thread::sleep(Duration::from_millis(50)); // the fetch is parked
    let mut producer = Client::connect(addr(&cluster, 1)).expect("connects");
    produce_one(&mut producer, "t", b"late");
    let produced = Instant::now();
    let (id, response) = consumer.receive::<FetchResponse>(12);
    assert_eq!(id, fetch);
    assert!(
        produced.elapsed() >= Duration::from_millis(300),
        "the answer waited out the injected delay"
    );
    assert_eq!(response.responses[0].partitions[0].high_watermark, 1);
}
