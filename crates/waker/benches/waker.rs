//! `cargo xtask bench waker`: how fast a blocked poller wakes, and what a wake
//! costs when it needs no syscall, side by side with the peers.
//!
//! * Latency: `wake()` on one thread to the return of a blocked poll on
//!   another, for rouse's eventfd, pipe and socketpair, `mio::Waker`, a plain
//!   socketpair written once per wake (kafka-python), and a futex
//!   park/unpark floor (no fd at all).
//! * Pending wake: ns per `wake()` when a wake is already pending, against a
//!   bare `write(2)` to an eventfd and `mio::Waker::wake`.
//! * Under load: two producer threads push items and wake the poller after
//!   each push; items/s and write syscalls per item, with rouse in plain and
//!   announce mode against `mio::Waker` and the kafka-python socketpair.
#![allow(clippy::print_stdout)]

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use rouse_waker::{Mechanism, Waker};

const LATENCY_SAMPLES: usize = 20_000;
/// Latency samples are taken in rounds, peers interleaved, so a slow phase of
/// the machine hurts every peer alike instead of whichever ran then.
const LATENCY_ROUNDS: usize = 5;
const PENDING_CALLS: u64 = 20_000_000;
const SYSCALL_CALLS: u64 = 1_000_000;
const LOAD_PRODUCERS: usize = 2;
const LOAD_ITEMS_PER_PRODUCER: u64 = 300_000;

/// One way to wake a poller, as seen by the bench.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Peer {
    Rouse(Mechanism),
    RouseAnnounce,
    MioWaker,
    KafkaPythonSocketpair,
    Park,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Rouse(Mechanism::EventFd) => "rouse eventfd",
            Peer::Rouse(Mechanism::Pipe) => "rouse pipe",
            Peer::Rouse(Mechanism::SocketPair) => "rouse socketpair",
            Peer::RouseAnnounce => "rouse eventfd, announce mode",
            Peer::MioWaker => "mio::Waker",
            Peer::KafkaPythonSocketpair => "socketpair, 1 byte per wake (kafka-python)",
            Peer::Park => "futex park/unpark (floor, no fd)",
        }
    }
}

/// The waking side and the polling side of one peer, shared by both threads.
struct Channel {
    peer: Peer,
    rouse: Option<Waker>,
    mio: Option<mio::Waker>,
    pair: Option<(UnixStream, UnixStream)>,
    poller_thread: std::sync::OnceLock<thread::Thread>,
}

impl Channel {
    /// Builds the peer and registers its read side with `poll`.
    fn new(peer: Peer, poll: &Poll) -> Channel {
        let mut channel = Channel {
            peer,
            rouse: None,
            mio: None,
            pair: None,
            poller_thread: std::sync::OnceLock::new(),
        };
        match peer {
            Peer::Rouse(m) => channel.rouse = Some(Waker::with_mechanism(m).unwrap()),
            Peer::RouseAnnounce => channel.rouse = Some(Waker::eventfd().unwrap()),
            Peer::MioWaker => {
                channel.mio = Some(mio::Waker::new(poll.registry(), Token(0)).unwrap())
            }
            Peer::KafkaPythonSocketpair => {
                let (r, w) = UnixStream::pair().unwrap();
                r.set_nonblocking(true).unwrap();
                channel.pair = Some((r, w));
            }
            Peer::Park => {}
        }
        if let Some(waker) = channel.rouse.as_mut() {
            poll.registry()
                .register(waker, Token(0), Interest::READABLE)
                .unwrap();
        }
        if let Some((r, _)) = &channel.pair {
            poll.registry()
                .register(&mut SourceFd(&r.as_raw_fd()), Token(0), Interest::READABLE)
                .unwrap();
        }
        channel
    }

    fn wake(&self) {
        match self.peer {
            Peer::Rouse(_) | Peer::RouseAnnounce => self.rouse.as_ref().unwrap().wake().unwrap(),
            Peer::MioWaker => self.mio.as_ref().unwrap().wake().unwrap(),
            Peer::KafkaPythonSocketpair => {
                (&self.pair.as_ref().unwrap().1).write_all(b"x").unwrap();
            }
            Peer::Park => self.poller_thread.get().unwrap().unpark(),
        }
    }

    /// Blocks until woken (or `timeout`), then does the peer's after-poll work.
    fn wait(&self, poll: &mut Poll, events: &mut Events, timeout: Duration) {
        if self.peer == Peer::Park {
            thread::park_timeout(timeout);
            return;
        }
        let timeout = match (self.peer, &self.rouse) {
            (Peer::RouseAnnounce, Some(w)) if !w.prepare_sleep() => Duration::ZERO,
            _ => timeout,
        };
        poll.poll(events, Some(timeout)).unwrap();
        match self.peer {
            Peer::Rouse(_) | Peer::RouseAnnounce => self.rouse.as_ref().unwrap().reset(),
            Peer::KafkaPythonSocketpair => {
                let mut buf = [0u8; 1024];
                while let Ok(n) = (&self.pair.as_ref().unwrap().0).read(&mut buf) {
                    if n < buf.len() {
                        break;
                    }
                }
            }
            Peer::MioWaker | Peer::Park => {}
        }
    }

    /// Write syscalls made by wakes, where the peer counts them.
    fn syscalls(&self, items: u64) -> u64 {
        match &self.rouse {
            Some(w) => w.stats().wake_syscalls,
            None => items,
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `samples` wake-to-return latencies of a blocked poll, in ns.
fn latency(peer: Peer, samples: usize) -> Vec<u64> {
    let base = Instant::now();
    let armed = Arc::new(AtomicBool::new(false));
    let stamp = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<Arc<Channel>>();
    let poller = {
        let (armed, stamp, done) = (armed.clone(), stamp.clone(), done.clone());
        thread::spawn(move || {
            let mut poll = Poll::new().unwrap();
            let channel = Arc::new(Channel::new(peer, &poll));
            channel.poller_thread.set(thread::current()).unwrap();
            tx.send(Arc::clone(&channel)).unwrap();
            let mut events = Events::with_capacity(8);
            let mut samples = Vec::with_capacity(samples);
            while !done.load(Ordering::Acquire) {
                armed.store(true, Ordering::Release);
                channel.wait(&mut poll, &mut events, Duration::from_secs(1));
                let woke = base.elapsed().as_nanos() as u64;
                let sent = stamp.swap(0, Ordering::AcqRel);
                if sent != 0 {
                    samples.push(woke.saturating_sub(sent));
                }
            }
            samples
        })
    };
    let channel = rx.recv().unwrap();
    for _ in 0..samples {
        while !armed.swap(false, Ordering::AcqRel) {
            std::hint::spin_loop();
        }
        // Give the poller time to really block in the kernel.
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_micros(40) {
            std::hint::spin_loop();
        }
        stamp.store(base.elapsed().as_nanos() as u64, Ordering::Release);
        channel.wake();
    }
    while !armed.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    done.store(true, Ordering::Release);
    channel.wake();
    poller.join().unwrap()
}

/// p50, p99 and p99.9 of each peer's latency, measured in interleaved rounds.
fn latencies(peers: &[Peer]) -> Vec<[u64; 3]> {
    let mut all = vec![Vec::with_capacity(LATENCY_SAMPLES); peers.len()];
    latency(peers[0], 1000); // warm-up, discarded
    for _ in 0..LATENCY_ROUNDS {
        for (i, &peer) in peers.iter().enumerate() {
            all[i].extend(latency(peer, LATENCY_SAMPLES / LATENCY_ROUNDS));
        }
    }
    all.into_iter()
        .map(|mut v| {
            v.sort_unstable();
            [0.5, 0.99, 0.999].map(|p| percentile(&v, p))
        })
        .collect()
}

fn ns_per_call(calls: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// Cost of a wake that needs no syscall, and of the syscall it avoids.
fn pending_costs() -> Vec<(&'static str, f64)> {
    let rouse = Waker::eventfd().unwrap();
    rouse.wake().unwrap();
    let pending = ns_per_call(PENDING_CALLS, || rouse.wake().unwrap());

    let awake = Waker::eventfd().unwrap();
    awake.prepare_sleep();
    awake.reset(); // announce mode, poller awake: wakes only flag it
    let announce = ns_per_call(PENDING_CALLS, || {
        awake.wake().unwrap();
    });

    let poll = Poll::new().unwrap();
    let mio_waker = mio::Waker::new(poll.registry(), Token(1)).unwrap();
    let mio_cost = ns_per_call(SYSCALL_CALLS, || mio_waker.wake().unwrap());

    let raw = Waker::eventfd().unwrap();
    let fd = raw.as_raw_fd();
    let one = 1u64.to_ne_bytes();
    let write_cost = ns_per_call(SYSCALL_CALLS, || {
        // SAFETY: an 8-byte write from a live buffer to an eventfd we own.
        unsafe { libc::write(fd, one.as_ptr().cast(), 8) };
    });
    vec![
        ("rouse wake(), wake already pending", pending),
        ("rouse wake(), poller awake (announce mode)", announce),
        ("mio::Waker::wake() (always writes)", mio_cost),
        ("bare write(2) to an eventfd", write_cost),
    ]
}

/// Items/s and write syscalls per item with producers waking after each push.
fn under_load(peer: Peer) -> (f64, f64) {
    let total = LOAD_PRODUCERS as u64 * LOAD_ITEMS_PER_PRODUCER;
    let mut poll = Poll::new().unwrap();
    let channel = Arc::new(Channel::new(peer, &poll));
    let (tx, rx) = crossbeam_channel::unbounded::<u64>();
    let start = Instant::now();
    let producers: Vec<_> = (0..LOAD_PRODUCERS)
        .map(|_| {
            let (tx, channel) = (tx.clone(), Arc::clone(&channel));
            thread::spawn(move || {
                for i in 0..LOAD_ITEMS_PER_PRODUCER {
                    tx.send(i).unwrap();
                    channel.wake();
                }
            })
        })
        .collect();
    let mut events = Events::with_capacity(8);
    let mut seen = 0;
    while seen < total {
        channel.wait(&mut poll, &mut events, Duration::from_secs(5));
        seen += rx.try_iter().count() as u64;
    }
    let elapsed = start.elapsed();
    for p in producers {
        p.join().unwrap();
    }
    let per_sec = total as f64 / elapsed.as_secs_f64();
    (per_sec, channel.syscalls(total) as f64 / total as f64)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let mut md = String::new();
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    md.push_str("## Waker\n\nCommand: `cargo xtask bench waker` (release build, one run, peers side by side).\n");
    md.push_str(&format!("Machine: {cores} cores, {}.\n\n", cpu_model()));

    md.push_str(&format!(
        "### Wake latency: `wake()` to the return of a blocked poll ({LATENCY_SAMPLES} samples each)\n\n"
    ));
    md.push_str(
        "| peer | p50 ns | p99 ns | p99.9 ns | p50 vs mio::Waker |\n|---|---:|---:|---:|---:|\n",
    );
    let peers = [
        Peer::Rouse(Mechanism::EventFd),
        Peer::Rouse(Mechanism::Pipe),
        Peer::Rouse(Mechanism::SocketPair),
        Peer::MioWaker,
        Peer::KafkaPythonSocketpair,
        Peer::Park,
    ];
    let results: Vec<_> = peers.iter().copied().zip(latencies(&peers)).collect();
    let mio_p50 = results
        .iter()
        .find(|(p, _)| *p == Peer::MioWaker)
        .unwrap()
        .1[0] as f64;
    for (peer, [p50, p99, p999]) in &results {
        md.push_str(&format!(
            "| {} | {p50} | {p99} | {p999} | {:.2}x |\n",
            peer.name(),
            *p50 as f64 / mio_p50
        ));
    }

    md.push_str("\n### Cost of a wake that needs no syscall\n\n| call | ns per call | vs mio::Waker::wake |\n|---|---:|---:|\n");
    let costs = pending_costs();
    let mio_cost = costs[2].1;
    for (name, ns) in &costs {
        md.push_str(&format!("| {name} | {ns:.1} | {:.3}x |\n", ns / mio_cost));
    }

    md.push_str(&format!(
        "\n### Under load: {LOAD_PRODUCERS} producers x {LOAD_ITEMS_PER_PRODUCER} items, a wake after every push\n\n"
    ));
    md.push_str("| peer | items/s | write syscalls per item | throughput vs mio::Waker |\n|---|---:|---:|---:|\n");
    let load_peers = [
        Peer::Rouse(Mechanism::EventFd),
        Peer::RouseAnnounce,
        Peer::MioWaker,
        Peer::KafkaPythonSocketpair,
    ];
    let loads: Vec<_> = load_peers.iter().map(|&p| (p, under_load(p))).collect();
    let mio_rate = loads
        .iter()
        .find(|(p, _)| *p == Peer::MioWaker)
        .unwrap()
        .1
         .0;
    for (peer, (rate, per_item)) in &loads {
        md.push_str(&format!(
            "| {} | {rate:.0} | {per_item:.4} | {:.2}x |\n",
            peer.name(),
            rate / mio_rate
        ));
    }
    println!("{md}");
    if let Ok(path) = std::env::var("ROUSE_BENCH_MD") {
        std::fs::write(&path, &md).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
}
