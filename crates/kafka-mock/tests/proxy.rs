//! The fault proxy over real 127.0.0.1 sockets: bytes intact through delays
//! and splits, cuts, refusal spells, outages, seeded schedules, drop, and a
//! mock cluster reached entirely through it. Every wait is bounded.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use rouse_kafka_mock::proxy::{FaultEventKind, FaultKind, FaultPlan, FaultProxy, Refusal};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

const TIMEOUT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An upstream that echoes every connection back until end-of-stream, then
/// closes its side; counts connections and the ends it saw.
struct Echo {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let ended = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, e, s) = (accepted.clone(), ended.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut echoes = Vec::new();
            while !s.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        a.fetch_add(1, Ordering::AcqRel);
                        let e = e.clone();
                        echoes.push(std::thread::spawn(move || echo(stream, &e)));
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(ms(2));
                    }
                    Err(err) => panic!("accept: {err}"),
                }
            }
            for t in echoes {
                let _ = t.join();
            }
        });
        Echo {
            addr,
            accepted,
            ended,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Acquire)
    }

    fn ended(&self) -> usize {
        self.ended.load(Ordering::Acquire)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn echo(mut stream: TcpStream, ended: &AtomicUsize) {
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    ended.fetch_add(1, Ordering::AcqRel);
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// Sends `ping` and reads the echo: proves the path is open end to end.
fn ping(stream: &mut TcpStream) {
    stream.write_all(b"ping").expect("write ping");
    let mut back = [0u8; 4];
    stream
        .read_exact(&mut back)
        .expect("echo within the timeout");
    assert_eq!(&back, b"ping");
}

/// Whether the peer closed: end-of-stream or a reset, within the timeout.
fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(ms(5));
    }
}

/// A deterministic pattern that shows any reordering or loss.
fn pattern(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn bytes_arrive_intact_and_in_order_through_delays_and_splits() {
    let echo = Echo::start();
    let plan = FaultPlan::new(11)
        .with_delay(Duration::ZERO, ms(4))
        .with_split_writes(97);
    let proxy = FaultProxy::start(&[echo.addr], plan).expect("proxy");
    let data = pattern(300_000);
    let started = Instant::now();
    let mut stream = connect(proxy.routes()[0].listen).expect("connect");
    let mut reader = stream.try_clone().expect("clone");
    let expected = data.len();
    let read = std::thread::spawn(move || {
        let mut got = Vec::with_capacity(expected);
        reader.read_to_end(&mut got).map(|_| got)
    });
    // Uneven writes, so chunks of many sizes cross the proxy.
    let mut sizes = [1usize, 7, 1500, 64, 9000, 3].iter().cycle();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap()).min(rest.len());
        stream.write_all(&rest[..n]).expect("write");
        rest = &rest[n..];
    }
    stream.shutdown(Shutdown::Write).expect("half-close");
    let got = read.join().expect("reader").expect("echo read to the end");
    // Well before the echo's own 10 s read timeout: the half-close was
    // passed on, not waited out.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(got.len(), data.len(), "every byte came back");
    assert!(got == data, "in order, unchanged");
    let stats = proxy.stats();
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.bytes_to_upstream, data.len() as u64);
    assert_eq!(stats.bytes_to_client, data.len() as u64);
    assert!(stats.chunks_delayed > 0, "{stats:?}");
    assert!(stats.chunks_split > 0, "{stats:?}");
    assert_eq!(stats.cut, 0);
    // The half-close went through: the echo saw end-of-stream and closed.
    wait_for("the upstream's end", || echo.ended() == 1);
    wait_for("the connection to be forgotten", || {
        proxy.live_connections() == 0
    });
}

#[test]
fn every_chunk_is_held_for_the_delay_each_way() {
    let echo = Echo::start();
    let plan = FaultPlan::new(2).with_delay(ms(150), ms(150));
    let proxy = FaultProxy::start(&[echo.addr], plan).expect("proxy");
    let mut stream = connect(proxy.routes()[0].listen).expect("connect");
    let started = Instant::now();
    ping(&mut stream);
    assert!(started.elapsed() >= ms(300), "{:?}", started.elapsed());
    assert_eq!(proxy.stats().chunks_delayed, 2);
}

#[test]
fn an_outage_on_demand_cuts_and_refuses_at_once() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(&[echo.addr], FaultPlan::new(1)).expect("proxy");
    let listen = proxy.routes()[0].listen;
    let mut live = connect(listen).expect("connect");
    ping(&mut live);
    assert_eq!(proxy.outage(ms(300)).expect("outage"), 1);
    assert!(proxy.is_refusing());
    assert!(closed(&mut live));
    assert_eq!(
        connect(listen).expect_err("refused").kind(),
        io::ErrorKind::ConnectionRefused
    );
    wait_for("the outage to end", || !proxy.is_refusing());
    ping(&mut connect(listen).expect("connect"));
    let planned: Vec<Option<Duration>> = proxy.events().iter().map(|e| e.planned).collect();
    assert_eq!(planned, [None, None, None], "on demand: not from the plan");
}

#[test]
fn a_cut_closes_both_sides_and_new_connections_still_work() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(&[echo.addr], FaultPlan::new(1)).expect("proxy");
    let listen = proxy.routes()[0].listen;
    let mut a = connect(listen).expect("connect");
    let mut b = connect(listen).expect("connect");
    ping(&mut a);
    ping(&mut b);
    assert_eq!(proxy.live_connections(), 2);
    assert_eq!(proxy.cut_all(), 2);
    assert!(closed(&mut a), "the client side is closed");
    assert!(closed(&mut b), "the client side is closed");
    wait_for("both upstream sides to close", || echo.ended() == 2);
    assert_eq!(proxy.stats().cut, 2);
    let events = proxy.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].planned, events[0].connections),
        (FaultEventKind::Cut, None, 2)
    );
    let mut c = connect(listen).expect("a cut refuses nothing");
    ping(&mut c);
    assert_eq!(proxy.stats().accepted, 3);
}

#[test]
fn a_scheduled_cut_fires_at_its_offset() {
    let echo = Echo::start();
    let proxy =
        FaultProxy::start(&[echo.addr], FaultPlan::new(1).with_cut_at(ms(500))).expect("proxy");
    let mut a = connect(proxy.routes()[0].listen).expect("connect");
    ping(&mut a);
    assert!(closed(&mut a), "cut");
    let elapsed = proxy.started_at().elapsed();
    assert!(elapsed >= ms(500), "not before its time: {elapsed:?}");
    let events = proxy.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].planned, Some(ms(500)));
    assert!(events[0].at >= ms(500));
    assert_eq!(events[0].connections, 1);
}

#[test]
fn a_closed_port_refuses_for_the_spell_and_spares_live_connections() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(&[echo.addr], FaultPlan::new(1)).expect("proxy");
    let listen = proxy.routes()[0].listen;
    let mut live = connect(listen).expect("connect");
    ping(&mut live);
    let asked = Instant::now();
    proxy.refuse_for(ms(400)).expect("refusal starts");
    assert!(proxy.is_refusing());
    let error = connect(listen).expect_err("refused during the spell");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
    ping(&mut live); // a refusal cuts nothing
    wait_for("the port to reopen", || connect(listen).is_ok());
    assert!(asked.elapsed() >= ms(400), "reopened early");
    assert!(!proxy.is_refusing());
    let kinds: Vec<FaultEventKind> = proxy.events().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            FaultEventKind::RefusalStarted(ms(400)),
            FaultEventKind::RefusalEnded
        ]
    );
    let mut again = connect(listen).expect("connect");
    ping(&mut again);
    assert_eq!(proxy.stats().refused, 0, "the kernel refused, uncounted");
}

#[test]
fn accept_and_close_refusal_never_reaches_the_upstream() {
    let echo = Echo::start();
    let plan = FaultPlan::new(1).with_refusal(Refusal::AcceptAndClose);
    let proxy = FaultProxy::start(&[echo.addr], plan).expect("proxy");
    let listen = proxy.routes()[0].listen;
    proxy.refuse_for(ms(300)).expect("refusal starts");
    let mut refused = connect(listen).expect("the connect itself succeeds");
    assert!(closed(&mut refused), "and is closed at once");
    wait_for("the refusal to be counted", || proxy.stats().refused == 1);
    assert_eq!(proxy.stats().accepted, 0);
    assert_eq!(echo.accepted(), 0, "nothing was forwarded");
    wait_for("the spell to end", || !proxy.is_refusing());
    let mut ok = connect(listen).expect("connect");
    ping(&mut ok);
    assert_eq!(echo.accepted(), 1);
}

#[test]
fn a_scheduled_outage_cuts_then_refuses_then_recovers() {
    let echo = Echo::start();
    let plan = FaultPlan::new(5).with_outage_at(ms(500), ms(500));
    let proxy = FaultProxy::start(&[echo.addr], plan).expect("proxy");
    let listen = proxy.routes()[0].listen;
    let mut live = connect(listen).expect("connect");
    ping(&mut live);
    assert!(closed(&mut live), "cut at the start of the outage");
    wait_for("the refusal", || proxy.is_refusing());
    assert_eq!(
        connect(listen).expect_err("refused").kind(),
        io::ErrorKind::ConnectionRefused
    );
    wait_for("the outage to end", || !proxy.is_refusing());
    assert!(proxy.started_at().elapsed() >= ms(1000));
    let mut after = connect(listen).expect("connect after the outage");
    ping(&mut after);
    let events = proxy.events();
    let kinds: Vec<FaultEventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            FaultEventKind::Cut,
            FaultEventKind::RefusalStarted(ms(500)),
            FaultEventKind::RefusalEnded
        ]
    );
    assert_eq!(events[0].connections, 1);
    assert!(events[2].at >= ms(1000), "{events:?}");
    assert_eq!(proxy.stats().cut, 1);
}

#[test]
fn same_seed_same_schedule_and_the_proxy_fires_exactly_it() {
    let every = ms(40);
    let plan = FaultPlan::random(77, every);
    assert_eq!(
        plan.timeline(Duration::from_secs(30)),
        FaultPlan::random(77, every).timeline(Duration::from_secs(30))
    );
    assert_ne!(
        plan.timeline(Duration::from_secs(30)),
        FaultPlan::random(78, every).timeline(Duration::from_secs(30))
    );
    let echo = Echo::start();
    let proxy = FaultProxy::start(&[echo.addr], plan.clone()).expect("proxy");
    wait_for("ten random cuts", || proxy.events().len() >= 10);
    let fired: Vec<Duration> = proxy
        .events()
        .iter()
        .map(|e| e.planned.expect("every cut was planned"))
        .collect();
    let planned: Vec<Duration> = plan
        .timeline(*fired.last().expect("some"))
        .iter()
        .map(|f| {
            assert_eq!(f.kind, FaultKind::Cut);
            f.at
        })
        .collect();
    assert_eq!(fired, planned, "the proxy fires the timeline, in order");
    for event in proxy.events() {
        assert!(event.at >= event.planned.unwrap_or_default(), "{event:?}");
    }
}

#[test]
fn random_faults_deliver_a_prefix_of_each_stream_in_order() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(&[echo.addr], FaultPlan::random(3, ms(60))).expect("proxy");
    let listen = proxy.routes()[0].listen;
    let data = pattern(200_000);
    let mut intact = 0;
    let deadline = Instant::now() + TIMEOUT;
    while proxy.stats().cut < 3 {
        assert!(Instant::now() < deadline, "no cuts: {:?}", proxy.stats());
        let mut stream = connect(listen).expect("connect");
        let mut reader = stream.try_clone().expect("clone");
        let read = std::thread::spawn(move || {
            let mut got = Vec::new();
            let _ = reader.read_to_end(&mut got); // ends at the cut
            got
        });
        for piece in data.chunks(4096) {
            if stream.write_all(piece).is_err() {
                break;
            }
            std::thread::sleep(ms(1));
        }
        let _ = stream.shutdown(Shutdown::Write);
        let got = read.join().expect("reader");
        assert!(got[..] == data[..got.len()], "a prefix, in order");
        if got.len() == data.len() {
            intact += 1;
        }
    }
    let stats = proxy.stats();
    assert!(
        stats.chunks_split > 0 && stats.chunks_delayed > 0,
        "{stats:?}"
    );
    let _ = intact;
}

#[test]
fn drop_closes_everything_and_joins_promptly() {
    let echo = Echo::start();
    let plan = FaultPlan::new(1).with_delay(ms(100), ms(200));
    let proxy = FaultProxy::start(&[echo.addr], plan).expect("proxy");
    let listen = proxy.routes()[0].listen;
    let mut a = connect(listen).expect("connect");
    ping(&mut a); // proxied for real, not just in the listen backlog
    a.write_all(b"in flight").expect("write");
    assert_eq!(proxy.live_connections(), 1);
    // Dropped on another thread, so a drop that hangs fails the test.
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(proxy);
        let _ = done.send(());
    });
    dropped
        .recv_timeout(Duration::from_secs(3))
        .expect("the drop joined every thread promptly");
    assert!(closed(&mut a), "the client side is closed");
    assert!(
        TcpStream::connect_timeout(&listen, Duration::from_secs(1)).is_err(),
        "the port is closed"
    );
}

#[test]
fn one_proxy_carries_several_routes_and_checks_its_plan() {
    let (x, y) = (Echo::start(), Echo::start());
    let proxy = FaultProxy::start(&[x.addr, y.addr], FaultPlan::new(0)).expect("proxy");
    assert_eq!(proxy.routes().len(), 2);
    let mut to_y = connect(proxy.listen_addr(y.addr).expect("route")).expect("connect");
    ping(&mut to_y);
    assert_eq!((x.accepted(), y.accepted()), (0, 1));
    assert_eq!(proxy.bootstrap_servers().split(',').count(), 2);
    let bad = FaultPlan::new(0).with_delay(ms(9), ms(1));
    assert_eq!(
        FaultProxy::start(&[x.addr], bad)
            .expect_err("empty range")
            .kind(),
        io::ErrorKind::InvalidInput
    );
    let public = SocketAddr::from(([0, 0, 0, 0], 0));
    assert_eq!(
        FaultProxy::start_on(&[(public, x.addr)], FaultPlan::new(0))
            .expect_err("loopback only")
            .kind(),
        io::ErrorKind::InvalidInput
    );
}

// ---- a mock cluster behind the proxy -----------------------------------

fn call<R: Request>(stream: &mut TcpStream, version: i16, body: &R) -> R::Response
where
    R::Response: Decodable + HeaderVersion,
{
    let key = ApiKey::try_from(R::KEY).expect("a known API");
    let mut payload = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(9)
        .with_client_id(Some(StrBytes::from_static_str("proxy-test")))
        .encode(&mut payload, key.request_header_version(version))
        .expect("header");
    body.encode(&mut payload, version).expect("body");
    stream
        .write_all(&(payload.len() as i32).to_be_bytes())
        .expect("write");
    stream.write_all(&payload).expect("write");
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("a response in time");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).expect("the whole response");
    let mut buf = Bytes::from(body);
    let header =
        ResponseHeader::decode(&mut buf, R::Response::header_version(version)).expect("header");
    assert_eq!(header.correlation_id, 9);
    R::Response::decode(&mut buf, version).expect("body")
}

fn api_versions() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("proxy-test"))
        .with_client_software_version(StrBytes::from_static_str("1"))
}

#[test]
fn a_client_reaches_every_broker_through_the_proxy_alone() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("cluster");
    cluster.create_topic("orders", 6).expect("topic");
    // Fragmented, delayed traffic: the mock must reassemble the frames.
    let plan = FaultPlan::new(4)
        .with_delay(Duration::ZERO, ms(10))
        .with_split_writes(5);
    let proxy = FaultProxy::in_front_of(&cluster, plan).expect("proxy");
    let first = proxy
        .bootstrap_servers()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut bootstrap = connect(first).expect("connect");
    let versions: ApiVersionsResponse = call(&mut bootstrap, 3, &api_versions());
    assert_eq!(versions.error_code, 0);
    let metadata: MetadataResponse = call(&mut bootstrap, 9, &MetadataRequest::default());
    let mut advertised: Vec<u16> = metadata.brokers.iter().map(|b| b.port as u16).collect();
    let mut proxied: Vec<u16> = proxy.routes().iter().map(|r| r.listen.port()).collect();
    advertised.sort_unstable();
    proxied.sort_unstable();
    assert_eq!(advertised, proxied, "Metadata advertises the proxy's ports");
    // A client follows Metadata: every advertised address answers.
    for broker in &metadata.brokers {
        let addr = SocketAddr::from(([127, 0, 0, 1], broker.port as u16));
        let mut stream = connect(addr).expect("the advertised address");
        let versions: ApiVersionsResponse = call(&mut stream, 3, &api_versions());
        assert_eq!(versions.error_code, 0);
    }
    assert_eq!(
        proxy.stats().accepted,
        4,
        "every connection went through it"
    );
    assert_eq!(cluster.handle().request_count(None, ApiKey::ApiVersions), 4);
    assert!(proxy.stats().chunks_split > 0);
    // A stopped and restarted broker is reached again through the proxy.
    let route = proxy.routes()[1];
    cluster.stop_broker(2).expect("stop");
    let mut down = connect(route.listen).expect("the proxy accepts");
    assert!(closed(&mut down), "but the upstream is down");
    cluster.restart_broker(2).expect("restart");
    let mut up = connect(route.listen).expect("connect");
    let versions: ApiVersionsResponse = call(&mut up, 3, &api_versions());
    assert_eq!(versions.error_code, 0);
    assert_eq!(proxy.stats().upstream_failed, 1);
}
