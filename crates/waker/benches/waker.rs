//! `cargo xtask bench waker`: how fast a blocked poller wakes, and what a wake
//! costs when it needs no syscall, side by side with the peers.
//!
//! * Latency: `wake()` on one thread to the return of a blocked mio poll on
//!   another, a wake about every 100 µs, the poller calling `reset()` after
//!   each return (rouse's waker is registered by its raw fd). Peers take
//!   rounds in turns (every other round in reverse order), so a slow phase
//!   of the machine shows in one round of every peer instead of in whichever
//!   peer ran then. On this VM a wake that must rouse another, idle, CPU
//!   costs some 25 µs more than one on the waking CPU, so where the scheduler
//!   happens to put a round's two threads would decide its figure: the
//!   threads are pinned, both to one CPU (all peers) and to two CPUs (rouse's
//!   eventfd and `mio::Waker`); a last table leaves placement free and shows
//!   how often the poller returned on the waking CPU. `mio::Waker` runs twice
//!   in each round, so its ratio to itself shows the noise floor of a
//!   round's ratio. One more table has rouse and mio wake the same poller in
//!   alternation, wake by wake, which takes the machine's phases out of the
//!   ratio altogether. Other peers: rouse's pipe and socketpair, a plain
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
use rouse_bench_support::{machine, percentile};
use rouse_waker::{Mechanism, Waker};

/// Rounds per peer; each round is a fresh pair of threads.
const LATENCY_ROUNDS: usize = 10;
/// Rounds of the two other placements, rouse's eventfd and mio only.
const OTHER_PLACEMENT_ROUNDS: usize = 5;
const SAMPLES_PER_ROUND: usize = 4_000;
/// Time between wakes, so each wake finds the poller blocked.
const WAKE_PERIOD: Duration = Duration::from_micros(100);
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
    /// Builds the peer and registers its read side with `poll`: rouse's
    /// waker by its raw fd, as a program with its own mio loop would.
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
        let fd = match (&channel.rouse, &channel.pair) {
            (Some(waker), _) => Some(waker.as_raw_fd()),
            (None, Some((r, _))) => Some(r.as_raw_fd()),
            (None, None) => None,
        };
        if let Some(fd) = fd {
            poll.registry()
                .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
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

    /// Blocks until woken (or `timeout`), then does the peer's after-poll
    /// work. Returns when the poll returned, in ns since `base`.
    fn wait(&self, poll: &mut Poll, events: &mut Events, timeout: Duration, base: Instant) -> u64 {
        if self.peer == Peer::Park {
            thread::park_timeout(timeout);
            return base.elapsed().as_nanos() as u64;
        }
        let timeout = match (self.peer, &self.rouse) {
            (Peer::RouseAnnounce, Some(w)) if !w.prepare_sleep() => Duration::ZERO,
            _ => timeout,
        };
        poll.poll(events, Some(timeout)).unwrap();
        let returned = base.elapsed().as_nanos() as u64;
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
        returned
    }

    /// Write syscalls made by wakes, where the peer counts them.
    fn syscalls(&self, items: u64) -> u64 {
        match &self.rouse {
            Some(w) => w.stats().wake_syscalls,
            None => items,
        }
    }
}

/// Where the poller and the waking thread run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Placement {
    /// Both on the first CPU this process may use: every wake switches that
    /// CPU to the poller.
    SameCpu,
    /// The poller on the second CPU, the waking thread on the first.
    TwoCpus,
    /// Wherever the scheduler puts them.
    Free,
}

impl Placement {
    /// The CPUs to pin the poller and the waking thread to.
    fn cpus(self) -> (Option<usize>, Option<usize>) {
        let allowed = allowed_cpus();
        match self {
            Placement::SameCpu => (Some(allowed[0]), Some(allowed[0])),
            Placement::TwoCpus => (Some(allowed[1]), Some(allowed[0])),
            Placement::Free => (None, None),
        }
    }
}

/// The CPUs this process may run on, lowest first.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data, valid when zeroed; sched_getaffinity
    // writes at most `size_of::<cpu_set_t>()` bytes into the live local, and
    // CPU_ISSET reads a bit inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let rc = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        assert_eq!(
            rc,
            0,
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        );
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: cpu_set_t is plain data, valid when zeroed; CPU_SET writes a
    // bit inside it; sched_setaffinity reads `size_of::<cpu_set_t>()` bytes
    // from a live local.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(
        rc,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

/// The CPU the calling thread runs on.
fn current_cpu() -> u64 {
    // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
    let cpu = unsafe { libc::sched_getcpu() };
    cpu as u64
}

/// One round of one peer.
struct Round {
    /// Wake-to-return latencies in ns, sorted.
    samples: Vec<u64>,
    /// Write syscalls per wake, where the peer counts them.
    syscalls_per_wake: Option<f64>,
    /// Share of wakes the poller returned from on the CPU that woke it: on
    /// this VM a wake to another, idle, CPU costs tens of µs more, so the
    /// threads' placement, not the waker, sets a round's p50.
    same_cpu: f64,
}

impl Round {
    fn p(&self, p: f64) -> u64 {
        percentile(&self.samples, p)
    }
}

/// `samples` wake-to-return latencies of a blocked poll, a wake about every
/// `WAKE_PERIOD`, the poller and the waking thread placed as `placement` says.
fn latency(peer: Peer, samples: usize, placement: Placement) -> Round {
    let (poller_cpu, waker_cpu_pin) = placement.cpus();
    let base = Instant::now();
    let armed = Arc::new(AtomicBool::new(false));
    let stamp = Arc::new(AtomicU64::new(0));
    let waker_cpu = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<Arc<Channel>>();
    let poller = {
        let (armed, stamp, done, waker_cpu) = (
            armed.clone(),
            stamp.clone(),
            done.clone(),
            waker_cpu.clone(),
        );
        thread::spawn(move || {
            if let Some(cpu) = poller_cpu {
                pin_to(cpu);
            }
            let mut poll = Poll::new().unwrap();
            let channel = Arc::new(Channel::new(peer, &poll));
            channel.poller_thread.set(thread::current()).unwrap();
            tx.send(Arc::clone(&channel)).unwrap();
            let mut events = Events::with_capacity(8);
            let mut samples = Vec::with_capacity(samples);
            let mut same_cpu = 0usize;
            while !done.load(Ordering::Acquire) {
                armed.store(true, Ordering::Release);
                let returned = channel.wait(&mut poll, &mut events, Duration::from_secs(1), base);
                let sent = stamp.swap(0, Ordering::AcqRel);
                if sent != 0 {
                    samples.push(returned.saturating_sub(sent));
                    same_cpu += usize::from(current_cpu() == waker_cpu.load(Ordering::Acquire));
                }
            }
            (samples, same_cpu)
        })
    };
    let channel = rx.recv().unwrap();
    let waking = {
        let (channel, armed, stamp, done, waker_cpu) = (
            Arc::clone(&channel),
            armed.clone(),
            stamp.clone(),
            done.clone(),
            waker_cpu.clone(),
        );
        thread::spawn(move || {
            if let Some(cpu) = waker_cpu_pin {
                pin_to(cpu);
            }
            let mut next = Instant::now() + WAKE_PERIOD;
            for _ in 0..samples {
                // The poller is back in its loop; the sleep lets it block.
                while !armed.swap(false, Ordering::AcqRel) {
                    thread::yield_now();
                }
                let now = Instant::now();
                if next > now {
                    thread::sleep(next - now);
                }
                next = Instant::now().max(next) + WAKE_PERIOD;
                waker_cpu.store(current_cpu(), Ordering::Release);
                stamp.store(base.elapsed().as_nanos() as u64, Ordering::Release);
                channel.wake();
            }
            while !armed.load(Ordering::Acquire) {
                thread::yield_now();
            }
            done.store(true, Ordering::Release);
            channel.wake();
        })
    };
    waking.join().unwrap();
    let (mut samples, same_cpu) = poller.join().unwrap();
    let same_cpu = same_cpu as f64 / samples.len().max(1) as f64;
    samples.sort_unstable();
    let syscalls_per_wake = channel.rouse.as_ref().map(|w| {
        let s = w.stats();
        s.wake_syscalls as f64 / s.wakes_requested as f64
    });
    Round {
        samples,
        syscalls_per_wake,
        same_cpu,
    }
}

/// `rounds` rounds of each peer, peers in turns: `result[peer][round]`.
fn latency_rounds(peers: &[Peer], rounds: usize, placement: Placement) -> Vec<Vec<Round>> {
    let mut all: Vec<Vec<Round>> = peers.iter().map(|_| Vec::new()).collect();
    latency(peers[0], 500, placement); // warm-up, discarded
    for round in 0..rounds {
        // Every other round in reverse, so no peer always runs first.
        let mut order: Vec<usize> = (0..peers.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            all[i].push(latency(peers[i], SAMPLES_PER_ROUND, placement));
        }
    }
    all
}

/// What the poller and the waking thread of [`paired`] share.
#[derive(Default)]
struct PairedState {
    /// The poller is about to poll: the next wake may go.
    armed: AtomicBool,
    /// When the last wake was sent (ns since the run's base; 0: none).
    stamp: AtomicU64,
    /// Which peer sent it: 0 rouse, 1 and 2 mio.
    which: AtomicU64,
    /// The CPU the waking thread ran on.
    waker_cpu: AtomicU64,
    /// The waking thread is finished.
    done: AtomicBool,
}

/// Rouse's eventfd and `mio::Waker` waking one poller in alternation (rouse,
/// mio, mio again), so that both see the same threads, CPUs and moments of
/// the machine: `[rouse, mio, mio again]`, `samples` wakes each.
fn paired(samples: usize, placement: Placement) -> [Round; 3] {
    let (poller_cpu, waker_cpu_pin) = placement.cpus();
    let base = Instant::now();
    let state = Arc::new(PairedState::default());
    let (tx, rx) = std::sync::mpsc::channel::<(Arc<Waker>, Arc<mio::Waker>)>();
    let poller = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            let PairedState {
                armed,
                stamp,
                which,
                waker_cpu,
                done,
            } = &*state;
            if let Some(cpu) = poller_cpu {
                pin_to(cpu);
            }
            let mut poll = Poll::new().unwrap();
            let rouse = Arc::new(Waker::eventfd().unwrap());
            poll.registry()
                .register(
                    &mut SourceFd(&rouse.as_raw_fd()),
                    Token(0),
                    Interest::READABLE,
                )
                .unwrap();
            let mio = Arc::new(mio::Waker::new(poll.registry(), Token(1)).unwrap());
            tx.send((Arc::clone(&rouse), mio)).unwrap();
            let mut events = Events::with_capacity(8);
            let mut samples: [Vec<u64>; 3] = Default::default();
            let mut same_cpu = [0usize; 3];
            while !done.load(Ordering::Acquire) {
                armed.store(true, Ordering::Release);
                poll.poll(&mut events, Some(Duration::from_secs(1)))
                    .unwrap();
                let returned = base.elapsed().as_nanos() as u64;
                rouse.reset();
                let sent = stamp.swap(0, Ordering::AcqRel);
                if sent != 0 {
                    let i = which.load(Ordering::Acquire) as usize;
                    samples[i].push(returned.saturating_sub(sent));
                    same_cpu[i] += usize::from(current_cpu() == waker_cpu.load(Ordering::Acquire));
                }
            }
            (samples, same_cpu, rouse.stats())
        })
    };
    let (rouse, mio) = rx.recv().unwrap();
    let waking = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            let PairedState {
                armed,
                stamp,
                which,
                waker_cpu,
                done,
            } = &*state;
            if let Some(cpu) = waker_cpu_pin {
                pin_to(cpu);
            }
            let mut next = Instant::now() + WAKE_PERIOD;
            for n in 0..3 * samples {
                while !armed.swap(false, Ordering::AcqRel) {
                    thread::yield_now();
                }
                let now = Instant::now();
                if next > now {
                    thread::sleep(next - now);
                }
                next = Instant::now().max(next) + WAKE_PERIOD;
                which.store((n % 3) as u64, Ordering::Release);
                waker_cpu.store(current_cpu(), Ordering::Release);
                stamp.store(base.elapsed().as_nanos() as u64, Ordering::Release);
                if n % 3 == 0 {
                    rouse.wake().unwrap();
                } else {
                    mio.wake().unwrap();
                }
            }
            while !armed.load(Ordering::Acquire) {
                thread::yield_now();
            }
            done.store(true, Ordering::Release);
            mio.wake().unwrap();
        })
    };
    waking.join().unwrap();
    let (samples, same_cpu, stats) = poller.join().unwrap();
    let mut i = 0;
    samples.map(|mut v| {
        v.sort_unstable();
        let round = Round {
            same_cpu: same_cpu[i] as f64 / v.len().max(1) as f64,
            syscalls_per_wake: (i == 0)
                .then(|| stats.wake_syscalls as f64 / stats.wakes_requested as f64),
            samples: v,
        };
        i += 1;
        round
    })
}

/// Rouse's eventfd against `mio::Waker`, round by round, with the ratio
/// range: the figure the waker is held to (within 1.1x in every round).
/// `mio_again` is a second run of `mio::Waker` in the same rounds: its ratio
/// to the first is what the machine's noise alone does to a round's ratio.
fn round_table(rouse: &[Round], mio: &[Round], mio_again: &[Round]) -> String {
    let mut md = String::from(
        "| round | rouse p50 ns | mio p50 ns | p50 ratio | mio/mio p50 | rouse p99 ns | mio p99 ns | p99 ratio | mio/mio p99 | rouse write syscalls per wake | woken on the waking CPU, rouse / mio |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let (mut p50_ratios, mut p99_ratios) = (Vec::new(), Vec::new());
    let (mut floor50, mut floor99) = (Vec::new(), Vec::new());
    for (i, ((r, m), a)) in rouse.iter().zip(mio).zip(mio_again).enumerate() {
        let p50 = r.p(0.5) as f64 / m.p(0.5) as f64;
        let p99 = r.p(0.99) as f64 / m.p(0.99) as f64;
        let a50 = a.p(0.5) as f64 / m.p(0.5) as f64;
        let a99 = a.p(0.99) as f64 / m.p(0.99) as f64;
        p50_ratios.push(p50);
        p99_ratios.push(p99);
        floor50.push(a50);
        floor99.push(a99);
        md.push_str(&format!(
            "| {} | {} | {} | {p50:.2}x | {a50:.2}x | {} | {} | {p99:.2}x | {a99:.2}x | {:.3} | {:.0}% / {:.0}% |\n",
            i + 1,
            r.p(0.5),
            m.p(0.5),
            r.p(0.99),
            m.p(0.99),
            r.syscalls_per_wake.unwrap_or(f64::NAN),
            100.0 * r.same_cpu,
            100.0 * m.same_cpu,
        ));
    }
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        format!("{lo:.2}-{hi:.2}x")
    };
    md.push_str(&format!(
        "\nRouse vs mio::Waker over the rounds: p50 {}, p99 {}; mio::Waker vs itself: p50 {}, p99 {}.\n",
        range(&p50_ratios),
        range(&p99_ratios),
        range(&floor50),
        range(&floor99)
    ));
    md
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
        channel.wait(&mut poll, &mut events, Duration::from_secs(5), start);
        seen += rx.try_iter().count() as u64;
    }
    let elapsed = start.elapsed();
    for p in producers {
        p.join().unwrap();
    }
    let per_sec = total as f64 / elapsed.as_secs_f64();
    (per_sec, channel.syscalls(total) as f64 / total as f64)
}

fn main() {
    let mut md = String::new();
    md.push_str("## Waker\n\nCommand: `cargo xtask bench waker` (release build, one run, peers in turns).\n");
    md.push_str(&format!("Machine: {}.\n\n", machine()));

    let peers = [
        Peer::Rouse(Mechanism::EventFd),
        Peer::MioWaker,
        Peer::Rouse(Mechanism::Pipe),
        Peer::Rouse(Mechanism::SocketPair),
        Peer::KafkaPythonSocketpair,
        Peer::Park,
        Peer::MioWaker, // the same again: the noise floor of a ratio
    ];
    md.push_str(&format!(
        "### Wake latency: `wake()` to the return of a blocked poll\n\n\
         A wake about every {} µs, {SAMPLES_PER_ROUND} samples per round, peers in turns \
         within each round, a fresh poller and waking thread per round. Where the two \
         threads run decides the figure on this VM (a wake that must rouse another, \
         idle, CPU costs some 25 µs more), so each table fixes their placement; the \
         last leaves it to the scheduler and shows how often the poller returned on \
         the CPU that woke it.\n\n\
         #### Poller and waking thread on one CPU ({LATENCY_ROUNDS} rounds)\n\n",
        WAKE_PERIOD.as_micros()
    ));
    let rounds = latency_rounds(&peers, LATENCY_ROUNDS, Placement::SameCpu);
    md.push_str(&round_table(&rounds[0], &rounds[1], &rounds[6]));
    md.push_str("\nAll peers on one CPU, every round's samples pooled; the range is the lowest and highest round's p50.\n\n");
    md.push_str(
        "| peer | p50 ns | p99 ns | p99.9 ns | round p50s ns | p50 vs mio::Waker |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let pooled: Vec<Vec<u64>> = rounds
        .iter()
        .map(|rs| {
            let mut v: Vec<u64> = rs.iter().flat_map(|r| r.samples.iter().copied()).collect();
            v.sort_unstable();
            v
        })
        .collect();
    let mio_p50 = percentile(&pooled[1], 0.5) as f64;
    for ((peer, v), rs) in peers.iter().zip(&pooled).zip(&rounds).take(6) {
        let p50s = rs.iter().map(|r| r.p(0.5));
        let (lo, hi) = (p50s.clone().min().unwrap(), p50s.max().unwrap());
        md.push_str(&format!(
            "| {} | {} | {} | {} | {lo}-{hi} | {:.2}x |\n",
            peer.name(),
            percentile(v, 0.5),
            percentile(v, 0.99),
            percentile(v, 0.999),
            percentile(v, 0.5) as f64 / mio_p50
        ));
    }
    md.push_str(&format!(
        "\n#### Both wakers waking one poller in alternation, on one CPU ({LATENCY_ROUNDS} rounds)\n\n\
         The same threads take turns wake by wake: rouse, mio, mio again. This takes the \
         machine's phases out of the ratio.\n\n"
    ));
    let (mut rouse, mut mio, mut again) = (Vec::new(), Vec::new(), Vec::new());
    paired(500, Placement::SameCpu); // warm-up, discarded
    for _ in 0..LATENCY_ROUNDS {
        let [r, m, a] = paired(SAMPLES_PER_ROUND, Placement::SameCpu);
        rouse.push(r);
        mio.push(m);
        again.push(a);
    }
    md.push_str(&round_table(&rouse, &mio, &again));
    let two_cpus = allowed_cpus().len() >= 2;
    for (placement, title) in [
        (Placement::TwoCpus, "Poller and waking thread on two CPUs"),
        (Placement::Free, "Placement left to the scheduler"),
    ] {
        if placement == Placement::TwoCpus && !two_cpus {
            continue;
        }
        md.push_str(&format!(
            "\n#### {title} ({OTHER_PLACEMENT_ROUNDS} rounds)\n\n"
        ));
        let rounds = latency_rounds(
            &[
                Peer::Rouse(Mechanism::EventFd),
                Peer::MioWaker,
                Peer::MioWaker,
            ],
            OTHER_PLACEMENT_ROUNDS,
            placement,
        );
        md.push_str(&round_table(&rounds[0], &rounds[1], &rounds[2]));
    }
    if std::env::var("ROUSE_BENCH_ONLY").is_ok_and(|v| v == "latency") {
        println!("{md}");
        return;
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
    rouse_bench_support::write_section(&md);
}
