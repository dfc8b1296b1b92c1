//! The connection layer driven by a client that is not the producer, as
//! the consumer's poller will drive it: the layer negotiates the client's
//! own wants, and hands back its answers, its losses and what it learns
//! through the hooks, against the mock cluster on 127.0.0.1.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, MetadataResponse};
use rouse_kafka_mock::{ClusterConfig, MockCluster};
use rouse_reactor::{EventLoop, SourceKey};

use super::{
    requests, wire, Answered, Client, Connections, Link, Lost, Net, NetSettings, SecurityFailure,
    Serve, Want,
};
use crate::BrokerId;

const WANTS: &[Want] = &[Want::required(ApiKey::Metadata, 1, 12)];

/// A client whose requests carry a number, and which writes down every
/// hook the layer calls.
struct Numbered {
    net: Net,
    answered: Vec<u32>,
    lost: Vec<(u32, Lost)>,
    brokers: Vec<(BrokerId, String, u16)>,
    stale: usize,
}

impl Client for Numbered {
    type Purpose = u32;

    fn net(&self) -> &Net {
        &self.net
    }

    fn net_mut(&mut self) -> &mut Net {
        &mut self.net
    }

    fn on_response(
        &mut self,
        key: SourceKey,
        link: &mut Link<u32>,
        request: Answered<u32>,
        payload: Bytes,
        _now: Instant,
    ) -> Result<(), String> {
        let response: MetadataResponse =
            wire::response(request.api, request.version, payload).map_err(|e| e.to_string())?;
        self.brokers = response
            .brokers
            .iter()
            .map(|b| (BrokerId(b.node_id.0), b.host.to_string(), b.port as u16))
            .collect();
        self.adopt_bootstrap_connection(key, link);
        self.answered.push(request.purpose);
        Ok(())
    }

    fn on_unanswered(&mut self, purpose: u32, lost: Lost, _now: Instant) {
        self.lost.push((purpose, lost));
    }

    fn on_written(&mut self, purpose: u32) {
        panic!("request {purpose} expected an answer");
    }

    fn broker_address(&self, broker: BrokerId) -> Option<(String, u16)> {
        self.brokers
            .iter()
            .find(|(id, _, _)| *id == broker)
            .map(|(_, host, port)| (host.clone(), *port))
    }

    fn brokers(&self) -> Vec<(BrokerId, String, u16)> {
        self.brokers.clone()
    }

    fn reachable(&mut self, _unreachable: Option<String>) {}

    fn metadata_stale(&mut self) {
        self.stale += 1;
    }

    fn failed(&mut self, failure: SecurityFailure) {
        panic!("a plaintext connection failed securely: {failure:?}");
    }
}

/// Turns the loop until `done`, for at most 5 s.
fn turn_until(
    el: &mut EventLoop<Numbered>,
    client: &mut Numbered,
    done: impl Fn(&EventLoop<Numbered>, &Numbered) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(el, client) {
        assert!(Instant::now() < deadline, "not done within 5 s");
        el.run_once(client, Some(Duration::from_millis(20)))
            .expect("the loop turns");
    }
}

#[test]
fn a_client_of_its_own_gets_its_answers_and_its_losses_through_the_hooks() {
    let cluster = MockCluster::start(ClusterConfig::new(2)).expect("mock starts");
    let first = cluster.broker_address(1).expect("broker 1");
    let mut el: EventLoop<Numbered> = EventLoop::new().expect("loop");
    let settings = NetSettings {
        bootstrap_servers: vec![first.to_string()],
        client_id: "net-test".into(),
        request_timeout: Duration::from_secs(5),
        reconnect_backoff: Duration::from_millis(10),
        reconnect_backoff_max: Duration::from_millis(100),
        max_idle: None,
        security: Default::default(),
        wants: WANTS,
    };
    let mut client = Numbered {
        net: Net::new(settings, &el),
        answered: Vec::new(),
        lost: Vec::new(),
        brokers: Vec::new(),
        stale: 0,
    };

    let now = el.now();
    client.connect(&mut el, None, now);
    turn_until(&mut el, &mut client, |el, c| {
        c.ready_conn(el, None).is_some()
    });
    let key = client.ready_conn(&el, None).expect("ready");
    let version = el
        .source::<Link<u32>>(key)
        .expect("link")
        .conn
        .versions
        .get(ApiKey::Metadata);
    assert!(
        version.is_some_and(|v| (1..=12).contains(&v)),
        "the client's wants are negotiated: {version:?}"
    );

    let body = requests::metadata(&[]);
    let send = |el: &mut EventLoop<Numbered>, c: &mut Numbered, n: u32| {
        let now = el.now();
        c.send_on(
            el,
            key,
            ApiKey::Metadata,
            version.unwrap_or(1),
            &body,
            n,
            now,
            true,
        )
    };
    send(&mut el, &mut client, 1).expect("sent");
    turn_until(&mut el, &mut client, |_, c| !c.answered.is_empty());
    assert_eq!(client.answered, [1]);
    assert_eq!(
        client.ready_conn(&el, Some(BrokerId(1))),
        Some(key),
        "the bootstrap connection became broker 1's"
    );

    // Closed with a request in flight: handed back, not dropped.
    send(&mut el, &mut client, 2).expect("sent");
    let now = el.now();
    client.close(&mut el, key, "closed by the test", now);
    assert_eq!(
        client.lost,
        [(2, Lost::Network("closed by the test".into()))]
    );
    assert_eq!(client.stale, 1, "a lost connection asks for metadata");
    // On a connection that is gone: handed back at once.
    assert!(send(&mut el, &mut client, 3).is_err());
    assert_eq!(client.lost[1], (3, Lost::Network("connection gone".into())));
    assert_eq!(client.answered, [1], "nothing answered twice");
}
