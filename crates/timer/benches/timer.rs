//! `cargo xtask bench timer`: request-timeout workloads on every timer
//! structure, one process, one table, one virtual clock.
//!
//! Workload (per scenario): `N` requests in flight; each request inserts a
//! timeout (fixed 5 s, or uniform 1-30 s) and its response arrives `N`
//! requests later, cancelling the timeout with probability `p` (95% or 99%);
//! the rest are left to fire. Virtual time moves 1 µs per request, so 1 ms per
//! 1000 requests, and every millisecond the loop expires what is due and asks
//! for the next deadline: one "loop iteration". Before the measured window
//! the structure is filled to its steady state (the in-flight ring plus the
//! not-cancelled timeouts of the last 30 s), so live timers reach ~1.8e6 at
//! `N = 1e6`, mixed, 95%.

// A benchmark binary reports on stdout: that is the xtask contract.
#![allow(clippy::print_stdout)]

// Submodules live in `benches/timer/` (a crate root finds modules next to
// itself, and files directly in `benches/` would become benches of their own).
#[path = "timer/alloc.rs"]
mod alloc;
#[path = "timer/peers.rs"]
mod peers;
#[path = "timer/report.rs"]
mod report;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use peers::Peer;
use report::{PeerKind, Row, Sample};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// One millisecond: the loop's iteration and the wheel's tick.
const TICK: Duration = Duration::from_millis(1);
/// Requests per loop iteration (1 µs of virtual time each).
const PER_TICK: usize = 1000;

/// How long request timeouts are.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Timeouts {
    Fixed5s,
    Mixed1To30s,
}

impl Timeouts {
    fn max(self) -> Duration {
        match self {
            Timeouts::Fixed5s => Duration::from_secs(5),
            Timeouts::Mixed1To30s => Duration::from_secs(30),
        }
    }
    fn draw(self, rng: &mut Rng) -> Duration {
        match self {
            Timeouts::Fixed5s => Duration::from_secs(5),
            Timeouts::Mixed1To30s => Duration::from_micros(1_000_000 + rng.below(29_000_000)),
        }
    }
}

/// xorshift64*: deterministic, cheap, no dependency.
pub(crate) struct Rng(u64);

impl Rng {
    /// Uniform in `0..n`, by multiply-high (Lemire) rather than `%`: a
    /// 64-bit division would cost the harness more than some peers' insert.
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((u128::from(x) * u128::from(n)) >> 64) as u64
    }
    fn percent(&mut self) -> u32 {
        self.below(100) as u32
    }
}

/// The application's side: request ids, their deadlines, the in-flight ring,
/// and the correctness counters.
struct Harness {
    rng: Rng,
    deadline: Vec<Instant>,
    generation: Vec<u32>,
    pending: Vec<bool>,
    free_ids: Vec<u32>,
    fired: Vec<u32>,
    live: usize,
    early: u64,
    late: u64,
    max_late: Duration,
    lost: u64,
}

impl Harness {
    fn new(ids: usize) -> Self {
        Self {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            deadline: Vec::with_capacity(ids),
            generation: vec![0; ids],
            pending: vec![false; ids],
            free_ids: (0..ids as u32).rev().collect(),
            fired: Vec::with_capacity(1 << 20),
            live: 0,
            early: 0,
            late: 0,
            max_late: Duration::ZERO,
            lost: 0,
        }
    }

    fn start<P: Peer>(&mut self, peer: &mut P, at: Instant) -> Request<P::Key> {
        let id = self
            .free_ids
            .pop()
            .expect("bench sized its id space too small");
        let i = id as usize;
        if i == self.deadline.len() {
            self.deadline.push(at);
        } else {
            self.deadline[i] = at;
        }
        self.pending[i] = true;
        self.live += 1;
        let key = peer.insert(id, at);
        Request {
            id,
            generation: self.generation[i],
            key,
        }
    }

    fn finish(&mut self, id: u32) {
        let i = id as usize;
        self.pending[i] = false;
        self.generation[i] = self.generation[i].wrapping_add(1);
        self.free_ids.push(id);
        self.live -= 1;
    }

    /// The request's response arrived (`cancels`) or it gave up waiting for
    /// one (its timeout will fire): cancel or let go of the key.
    fn respond<P: Peer>(&mut self, peer: &mut P, request: Request<P::Key>, cancels: bool) {
        let i = request.id as usize;
        let pending = self.pending[i] && self.generation[i] == request.generation;
        if pending && cancels {
            if !peer.cancel(request.key) {
                self.lost += 1; // the peer lost a pending timer
            }
            self.finish(request.id);
        } else {
            peer.release(request.key);
        }
    }

    /// One loop iteration's timer work at `now`.
    fn expire(&mut self, peer: &mut impl Peer, now: Instant) {
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        peer.expire(now, &mut fired);
        for &id in &fired {
            let i = id as usize;
            if !self.pending[i] {
                self.lost += 1; // fired a cancelled or already-fired timer
                continue;
            }
            let deadline = self.deadline[i];
            if deadline > now {
                self.early += 1;
            } else {
                let late = now - deadline;
                self.max_late = self.max_late.max(late);
                if late > TICK {
                    self.late += 1;
                }
            }
            self.finish(id);
        }
        self.fired = fired;
        std::hint::black_box(peer.next_deadline());
    }
}

/// A request in flight: its id and the key to cancel its timeout with.
struct Request<K> {
    id: u32,
    generation: u32,
    key: K,
}

/// Measures loop iterations and memory while a scenario runs.
struct Meter {
    baseline: usize,
    iterations: Vec<Duration>,
    bytes_per_live_sum: f64,
    bytes_per_live_peak: f64,
    samples: u64,
}

impl Meter {
    fn new(iterations: usize) -> Self {
        Self {
            baseline: alloc::live_bytes(),
            iterations: Vec::with_capacity(iterations),
            bytes_per_live_sum: 0.0,
            bytes_per_live_peak: 0.0,
            samples: 0,
        }
    }

    fn sample_memory(&mut self, live: usize) {
        if live == 0 {
            return;
        }
        let held = alloc::live_bytes().saturating_sub(self.baseline) as f64 / live as f64;
        self.bytes_per_live_sum += held;
        self.bytes_per_live_peak = self.bytes_per_live_peak.max(held);
        self.samples += 1;
    }

    fn finish(mut self, total: Duration, ops: usize, h: &Harness) -> Sample {
        self.iterations.sort_unstable();
        let p99 = self.iterations[self.iterations.len() * 99 / 100];
        Sample {
            ns_per_op: total.as_nanos() as f64 / ops as f64,
            p99_iter: p99,
            worst_iter: *self.iterations.last().unwrap_or(&Duration::ZERO),
            bytes_mean: self.bytes_per_live_sum / self.samples.max(1) as f64,
            bytes_peak: self.bytes_per_live_peak,
            early: h.early,
            late: h.late,
            max_late: h.max_late,
            lost: h.lost,
        }
    }
}

/// A request-timeout scenario.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Requests {
    pub(crate) in_flight: usize,
    pub(crate) timeouts: Timeouts,
    pub(crate) cancel_pct: u32,
    pub(crate) requests: usize,
}

impl Requests {
    pub(crate) fn ids(&self) -> usize {
        self.in_flight + 2_600_000
    }

    pub(crate) fn run<P: Peer>(&self, start: Instant, make: impl FnOnce() -> P) -> Sample {
        let mut h = Harness::new(self.ids());
        let mut peer = make();
        let mut ring = VecDeque::with_capacity(self.in_flight + 1);
        // Baseline after the application's tables and the (empty) peer:
        // everything allocated from here on is the structure's.
        let mut meter = Meter::new(self.requests / PER_TICK);
        let origin = start + self.timeouts.max() + Duration::from_secs(1);
        let us = Duration::from_micros(1);

        // Steady state, untimed: the not-cancelled timeouts of the past...
        let ring_age = self.in_flight as u64; // in µs: one request per µs
        let history = self.timeouts.max().as_micros() as u64;
        let mut age = history;
        while age > ring_age {
            if h.rng.percent() >= self.cancel_pct {
                let timeout = self.timeouts.draw(&mut h.rng);
                let inserted = origin - us * age as u32;
                if inserted + timeout > origin {
                    let request = h.start(&mut peer, inserted + timeout);
                    h.respond(&mut peer, request, false);
                }
            }
            age -= 1;
        }
        // ...and the in-flight ring.
        for age in (1..=ring_age).rev() {
            let inserted = origin - us * age as u32;
            let at = inserted + self.timeouts.draw(&mut h.rng);
            let request = h.start(&mut peer, at);
            ring.push_back((request, h.rng.percent() < self.cancel_pct));
        }
        peer.advance(origin);
        h.expire(&mut peer, origin);

        let mut total = Duration::ZERO;
        let mut now = origin;
        for tick in 0..self.requests / PER_TICK {
            let tick_start = origin + TICK * tick as u32;
            let timer = Instant::now();
            for i in 0..PER_TICK {
                let at_now = tick_start + us * i as u32;
                let timeout = self.timeouts.draw(&mut h.rng);
                let cancels = h.rng.percent() < self.cancel_pct;
                let request = h.start(&mut peer, at_now + timeout);
                ring.push_back((request, cancels));
                if let Some((old, cancels)) = ring.pop_front() {
                    h.respond(&mut peer, old, cancels);
                }
            }
            let requests_done = timer.elapsed();
            now = tick_start + TICK;
            peer.advance(now); // DelayQueue's clock; not timed
            let timer = Instant::now();
            h.expire(&mut peer, now);
            let iteration = requests_done + timer.elapsed();
            total += iteration;
            meter.iterations.push(iteration);
            meter.sample_memory(h.live);
        }
        std::hint::black_box(now);
        let sample = meter.finish(total, self.requests, &h);
        for (request, _) in ring {
            h.respond(&mut peer, request, false);
        }
        sample
    }
}

/// [`Requests::run`] as a function, for `on_peer!`.
fn requests<P: Peer>(start: Instant, scenario: &Requests, make: impl FnOnce() -> P) -> Sample {
    scenario.run(start, make)
}

/// Paired insert + cancel with `background` timers pending.
pub(crate) fn paired<P: Peer>(
    start: Instant,
    background: usize,
    pairs: usize,
    make: impl FnOnce() -> P,
) -> Sample {
    let ids = background + 16;
    let mut h = Harness::new(ids);
    let mut peer = make();
    let mut kept = Vec::with_capacity(background);
    let mut meter = Meter::new(pairs / PER_TICK);
    for _ in 0..background {
        let at = start + Timeouts::Mixed1To30s.draw(&mut h.rng);
        kept.push(h.start(&mut peer, at));
    }
    let mut total = Duration::ZERO;
    for tick in 0..pairs / PER_TICK {
        let tick_start = start + TICK * tick as u32;
        let timer = Instant::now();
        for i in 0..PER_TICK {
            let at = tick_start
                + Duration::from_micros(i as u64)
                + Timeouts::Mixed1To30s.draw(&mut h.rng);
            let request = h.start(&mut peer, at);
            h.respond(&mut peer, request, true);
        }
        let done = timer.elapsed();
        peer.advance(tick_start + TICK);
        let timer = Instant::now();
        h.expire(&mut peer, tick_start + TICK);
        let iteration = done + timer.elapsed();
        total += iteration;
        meter.iterations.push(iteration);
        meter.sample_memory(h.live);
    }
    let sample = meter.finish(total, pairs, &h);
    for request in kept {
        h.respond(&mut peer, request, false);
    }
    sample
}

/// Everything fires: `count` timers due within one second, expired 1 ms at a
/// time.
pub(crate) fn storm<P: Peer>(start: Instant, count: usize, make: impl FnOnce() -> P) -> Sample {
    let mut h = Harness::new(count);
    let mut peer = make();
    let mut kept = Vec::with_capacity(count);
    let mut meter = Meter::new(1100);
    let timer = Instant::now();
    for _ in 0..count {
        let at = start + Duration::from_micros(h.rng.below(1_000_000));
        kept.push(h.start(&mut peer, at));
    }
    let mut total = timer.elapsed();
    meter.sample_memory(h.live);
    let mut now = start;
    while h.live > 0 && now < start + Duration::from_secs(2) {
        now += TICK;
        peer.advance(now);
        let timer = Instant::now();
        h.expire(&mut peer, now);
        let iteration = timer.elapsed();
        total += iteration;
        meter.iterations.push(iteration);
    }
    h.lost += h.live as u64; // anything left did not fire in time
    let sample = meter.finish(total, count, &h);
    for request in kept {
        h.respond(&mut peer, request, false);
    }
    sample
}

/// Runs `$scenario(start, args.., make)` with the constructor of `$peer`.
macro_rules! on_peer {
    ($peer:expr, $start:expr, $scenario:expr $(, $arg:expr)*) => {{
        let start = $start;
        match $peer {
            PeerKind::Wheel => $scenario(start, $($arg,)* || peers::wheel(start)),
            PeerKind::Fixed => $scenario(start, $($arg,)* || peers::fixed(start)),
            PeerKind::Heap => $scenario(start, $($arg,)* peers::heap),
            PeerKind::StdLazy => $scenario(start, $($arg,)* || {
                peers::Lazy::<std::collections::BinaryHeap<_>>::new(start)
            }),
            PeerKind::DaryLazy => $scenario(start, $($arg,)* || {
                peers::Lazy::<dary_heap::QuaternaryHeap<_>>::new(start)
            }),
            PeerKind::DelayQueue => $scenario(start, $($arg,)* || peers::Delay::new(start)),
            PeerKind::Nexus => $scenario(start, $($arg,)* || peers::Nexus::new(start)),
            PeerKind::Null => $scenario(start, $($arg,)* || peers::Null),
        }
    }};
}

fn main() {
    let _runtime = peers::runtime().enter();
    let quick = std::env::var_os("ROUSE_BENCH_QUICK").is_some();
    // ROUSE_BENCH_RUNS=n overrides the number of runs per row (1 under a
    // cache simulator).
    let runs = std::env::var("ROUSE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if quick { 1 } else { 3 });
    let scale = if quick { 10 } else { 1 };
    // ROUSE_BENCH_ONLY=a|b runs only the scenarios whose name contains a or
    // b (for profiling one workload); the table then says so.
    let only = std::env::var("ROUSE_BENCH_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .map_or(true, |o| report::matches_any(o, name))
    };
    let mut rows: Vec<Row> = Vec::new();

    for in_flight in [100_000, 1_000_000] {
        for timeouts in [Timeouts::Fixed5s, Timeouts::Mixed1To30s] {
            for cancel_pct in [95, 99] {
                let s = Requests {
                    in_flight: in_flight / scale,
                    timeouts,
                    cancel_pct,
                    requests: 3_000_000 / scale,
                };
                let name = format!(
                    "{:?} N={:.0e} {}% cancelled",
                    s.timeouts, s.in_flight as f64, s.cancel_pct
                );
                if !wanted(&name) {
                    continue;
                }
                rows.extend(report::each_peer(
                    &name,
                    "ns/request",
                    runs,
                    |peer, start| on_peer!(peer, start, requests, &s),
                ));
            }
        }
    }
    let (bg, pairs) = (100_000 / scale, 2_000_000 / scale);
    let name = format!("paired insert+cancel, {:.0e} pending", bg as f64);
    if wanted(&name) {
        rows.extend(report::each_peer(&name, "ns/pair", runs, |peer, start| {
            on_peer!(peer, start, paired, bg, pairs)
        }));
    }
    let count = 1_000_000 / scale;
    let name = format!("storm: {:.0e} fire within 1 s", count as f64);
    if wanted(&name) {
        rows.extend(report::each_peer(&name, "ns/timer", runs, |peer, start| {
            on_peer!(peer, start, storm, count)
        }));
    }
    report::emit(&rows, runs, quick || only.is_some());
}
