//! The request-timeout workload, measured in steady state.
//!
//! ```text
//!  fill (untimed)  warm-up: 1 s windows of real workload     measured window
//!  |-------------|---|---|---|---| ... |---|---|  ---------->|--------------|
//!                 ^ post-fill window        ns/request of the last 4 windows
//!                   (flattering: slots      within 5% of the 4 before: stop
//!                   still in ring order)
//! ```
//!
//! Right after a synthetic fill, slots and bucket entries lie in insertion
//! order and cancels walk memory sequentially; only after some dozens of
//! turns of the in-flight ring (the timers that fire scramble the free
//! lists) do operations cost what they will for the rest of the process's
//! life. So every run warms up on the real workload until ns/request stops
//! moving, and reports how long that took.
//!
//! In the measured window, loop iterations alternate: on even ones nothing
//! but the iteration is timed (these give ns/request), on odd ones every
//! insert, cancel and release is timed on its own (these give the p99.99
//! and worst single operation; timing them costs two clock reads each,
//! which would distort ns/request). Every poll (expire plus
//! `next_deadline`) is timed on both.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::harness::{Harness, Request};
use crate::peers::Peer;
use crate::report::{Sample, OP_LIMIT, POLL_LIMIT};
use crate::{alloc, Timeouts, PER_TICK, TICK};

/// Requests per warm-up window: 1 s of virtual time.
const WINDOW_TICKS: usize = 1000;
/// Warm-up windows at least and at most.
pub(crate) const MIN_WINDOWS: usize = 8;
pub(crate) const MAX_WINDOWS: usize = 40;
/// "Stopped moving": the mean of the last 4 windows within this fraction of
/// the mean of the 4 before.
const SETTLED: f64 = 0.05;

/// A request-timeout scenario.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Requests {
    pub(crate) in_flight: usize,
    pub(crate) timeouts: Timeouts,
    pub(crate) cancel_pct: u32,
    /// Requests in the measured window.
    pub(crate) requests: usize,
    /// Divides the warm-up windows (quick mode).
    pub(crate) scale: usize,
    /// Warm-up windows at most ([`MAX_WINDOWS`]; the harness-alone row,
    /// whose timeouts never fire, would run out of request ids).
    pub(crate) max_windows: usize,
}

/// The loop's state between iterations.
struct Loop<K> {
    ring: VecDeque<(Request<K>, bool)>,
    origin: Instant,
    tick: usize,
}

impl Requests {
    fn ids(&self) -> usize {
        self.in_flight + 2_600_000
    }

    /// One loop iteration: 1000 requests, then the poll. Returns the time
    /// of the requests and of the poll.
    fn iteration<P: Peer>(
        &self,
        h: &mut Harness,
        peer: &mut P,
        l: &mut Loop<P::Key>,
    ) -> (Duration, Duration) {
        let us = Duration::from_micros(1);
        let tick_start = l.origin + TICK * l.tick as u32;
        let timer = Instant::now();
        for i in 0..PER_TICK {
            let at_now = tick_start + us * i as u32;
            let timeout = self.timeouts.draw(&mut h.rng);
            let cancels = h.rng.percent() < self.cancel_pct;
            let request = h.start(peer, at_now + timeout);
            l.ring.push_back((request, cancels));
            if let Some((old, cancels)) = l.ring.pop_front() {
                h.respond(peer, old, cancels);
            }
        }
        let requests = timer.elapsed();
        l.tick += 1;
        let now = tick_start + TICK;
        peer.advance(now); // DelayQueue's clock; not timed
        let timer = Instant::now();
        h.expire(peer, now);
        (requests, timer.elapsed())
    }

    /// Fills the structure to steady state, untimed: the not-cancelled
    /// timeouts of the past, and the in-flight ring.
    fn fill<P: Peer>(&self, h: &mut Harness, peer: &mut P, l: &mut Loop<P::Key>) {
        let us = Duration::from_micros(1);
        let ring_age = self.in_flight as u64; // in µs: one request per µs
        let mut age = self.timeouts.max().as_micros() as u64;
        while age > ring_age {
            if h.rng.percent() >= self.cancel_pct {
                let timeout = self.timeouts.draw(&mut h.rng);
                let inserted = l.origin - us * age as u32;
                if inserted + timeout > l.origin {
                    let request = h.start(peer, inserted + timeout);
                    h.respond(peer, request, false);
                }
            }
            age -= 1;
        }
        for age in (1..=ring_age).rev() {
            let inserted = l.origin - us * age as u32;
            let at = inserted + self.timeouts.draw(&mut h.rng);
            let request = h.start(peer, at);
            l.ring
                .push_back((request, h.rng.percent() < self.cancel_pct));
        }
        peer.advance(l.origin);
        h.expire(peer, l.origin);
    }

    /// Runs the scenario on a fresh peer: fill, warm-up, measured window.
    /// With `memory_only`, the window samples memory and nothing else.
    pub(crate) fn run<P: Peer>(
        &self,
        start: Instant,
        memory_only: bool,
        make: impl FnOnce() -> P,
    ) -> Sample {
        let ticks = self.requests / PER_TICK;
        let mut h = Harness::new(self.ids(), ticks / 2 * PER_TICK * 2 + 16);
        let mut l = Loop {
            ring: VecDeque::with_capacity(self.in_flight + 1),
            origin: start + self.timeouts.max() + Duration::from_secs(1),
            tick: 0,
        };
        let mut polls: Vec<Duration> = Vec::with_capacity(ticks + 1);
        let mut windows: Vec<f64> = Vec::with_capacity(MAX_WINDOWS);
        // Baseline after the application's tables: everything allocated
        // from here on is the structure's.
        let baseline = alloc::live_bytes();
        let mut peer = make();
        self.fill(&mut h, &mut peer, &mut l);

        let window_ticks = (WINDOW_TICKS / self.scale).max(10);
        // ROUSE_BENCH_WARMUP_WINDOWS=n: exactly n windows, whatever the
        // timings say (under a cache simulator, where time means nothing).
        let fixed_windows: Option<usize> = std::env::var("ROUSE_BENCH_WARMUP_WINDOWS")
            .ok()
            .and_then(|n| n.parse().ok());
        let warm = Instant::now();
        let warm_tick = l.tick;
        loop {
            let mut total = Duration::ZERO;
            for _ in 0..window_ticks {
                let (requests, poll) = self.iteration(&mut h, &mut peer, &mut l);
                total += requests + poll;
            }
            windows.push(total.as_nanos() as f64 / (window_ticks * PER_TICK) as f64);
            // The 16-byte memory run only needs the population in shape.
            let max = if memory_only {
                MIN_WINDOWS
            } else {
                self.max_windows
            };
            let done = match fixed_windows {
                Some(n) => windows.len() >= n,
                None => windows.len() >= max || (windows.len() >= MIN_WINDOWS && settled(&windows)),
            };
            if done {
                break;
            }
        }
        let warmup_wall = warm.elapsed();
        let warmup_requests = ((l.tick - warm_tick) * PER_TICK) as u64;

        let mut total = Duration::ZERO;
        let mut bytes_sum = 0.0;
        let mut bytes_peak: f64 = 0.0;
        for i in 0..ticks {
            h.timing = !memory_only && i % 2 == 1;
            let (requests, poll) = self.iteration(&mut h, &mut peer, &mut l);
            if !h.timing {
                total += requests + poll;
            }
            polls.push(poll);
            let held = alloc::live_bytes().saturating_sub(baseline) as f64 / h.live.max(1) as f64;
            bytes_sum += held;
            bytes_peak = bytes_peak.max(held);
        }
        h.timing = false;
        let untimed = if memory_only {
            ticks
        } else {
            ticks - ticks / 2
        };
        let mut ops = std::mem::take(&mut h.op_ns);
        ops.sort_unstable();
        let op_at = |q: f64| {
            ops.get(((ops.len() as f64 * q) as usize).min(ops.len().saturating_sub(1)))
                .map_or(Duration::ZERO, |&ns| Duration::from_nanos(u64::from(ns)))
        };
        let sample = Sample {
            ns_per_op: total.as_nanos() as f64 / (untimed * PER_TICK) as f64,
            post_fill_ns: windows[0],
            warmup_requests,
            warmup_wall,
            p9999_op: op_at(0.9999),
            worst_op: op_at(1.0),
            worst_poll: polls.iter().copied().max().unwrap_or_default(),
            ops_over: ops
                .iter()
                .filter(|&&ns| u64::from(ns) > OP_LIMIT.as_nanos() as u64)
                .count() as u64,
            polls_over: polls.iter().filter(|&&poll| poll > POLL_LIMIT).count() as u64,
            bytes_mean: bytes_sum / ticks.max(1) as f64,
            bytes_peak,
            bytes_16: f64::NAN,
            empty_per_1000: f64::NAN,
            early: h.early,
            late: h.late,
            max_late: h.max_late,
            lost: h.lost,
        };
        for (request, _) in l.ring {
            h.respond(&mut peer, request, false);
        }
        sample
    }
}

/// Whether ns/request stopped moving: the last 4 windows' mean within
/// [`SETTLED`] of the 4 before.
fn settled(windows: &[f64]) -> bool {
    let n = windows.len();
    if n < 8 {
        return false;
    }
    let mean = |w: &[f64]| w.iter().sum::<f64>() / w.len() as f64;
    let (before, last) = (mean(&windows[n - 8..n - 4]), mean(&windows[n - 4..]));
    (last - before).abs() <= SETTLED * before
}

/// A loop that sleeps until `next_deadline()` each time: `count` timers of
/// the scenario's timeouts, `cancel_pct`% of them cancelled right away (so
/// a structure that reports a cancelled timer's deadline wakes for it).
/// Returns wakes that fired nothing, per 1000 wakes, and whether every live
/// timer fired on time.
pub(crate) fn sleeping<P: Peer>(
    start: Instant,
    count: usize,
    timeouts: Timeouts,
    cancel_pct: u32,
    make: impl FnOnce() -> P,
) -> (f64, u64) {
    let mut h = Harness::new(count, 0);
    let mut peer = make();
    let mut kept = Vec::with_capacity(count);
    for _ in 0..count {
        let at = start + timeouts.draw(&mut h.rng);
        let request = h.start(&mut peer, at);
        if h.rng.percent() < cancel_pct {
            h.respond(&mut peer, request, true);
        } else {
            kept.push(request);
        }
    }
    let (mut wakes, mut empty) = (0u64, 0u64);
    let mut now = start;
    while h.live > 0 {
        let Some(next) = peer.next_deadline() else {
            break;
        };
        // A deadline already passed that did not fire (DelayQueue rounds to
        // its millisecond tick): a real loop would poll with timeout 0;
        // step one tick so the run ends.
        now = if next > now { next } else { now + TICK };
        peer.advance(now);
        wakes += 1;
        // `expire` asks for the next deadline again; harmless here.
        if h.expire(&mut peer, now) == 0 {
            empty += 1;
        }
        if wakes > 10 * count as u64 + 100_000 {
            break; // a peer that never fires: reported as lost
        }
    }
    let bad = h.lost + h.live as u64 + h.early + h.late;
    for request in kept {
        h.respond(&mut peer, request, false);
    }
    (empty as f64 * 1000.0 / wakes.max(1) as f64, bad)
}

/// Paired insert + cancel with `background` timers pending: the cost of a
/// timeout whose response comes at once.
pub(crate) fn paired<P: Peer>(
    start: Instant,
    background: usize,
    pairs: usize,
    make: impl FnOnce() -> P,
) -> Sample {
    let mut h = Harness::new(background + 16, 0);
    let mut kept = Vec::with_capacity(background);
    let baseline = alloc::live_bytes();
    let mut peer = make();
    for _ in 0..background {
        let at = start + Timeouts::Mixed1To30s.draw(&mut h.rng);
        kept.push(h.start(&mut peer, at));
    }
    let mut total = Duration::ZERO;
    let mut worst_poll = Duration::ZERO;
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
        let poll = timer.elapsed();
        worst_poll = worst_poll.max(poll);
        total += done + poll;
    }
    let bytes = alloc::live_bytes().saturating_sub(baseline) as f64 / h.live.max(1) as f64;
    let sample = Sample::simple(total, pairs, worst_poll, bytes, &h);
    for request in kept {
        h.respond(&mut peer, request, false);
    }
    sample
}

/// Everything fires: `count` timers due within one second, expired 1 ms at
/// a time.
pub(crate) fn storm<P: Peer>(start: Instant, count: usize, make: impl FnOnce() -> P) -> Sample {
    let mut h = Harness::new(count, 0);
    let mut kept = Vec::with_capacity(count);
    let baseline = alloc::live_bytes();
    let mut peer = make();
    let timer = Instant::now();
    for _ in 0..count {
        let at = start + Duration::from_micros(h.rng.below(1_000_000));
        kept.push(h.start(&mut peer, at));
    }
    let mut total = timer.elapsed();
    let bytes = alloc::live_bytes().saturating_sub(baseline) as f64 / h.live.max(1) as f64;
    let mut now = start;
    let mut worst_poll = Duration::ZERO;
    while h.live > 0 && now < start + Duration::from_secs(2) {
        now += TICK;
        peer.advance(now);
        let timer = Instant::now();
        h.expire(&mut peer, now);
        let poll = timer.elapsed();
        worst_poll = worst_poll.max(poll);
        total += poll;
    }
    h.lost += h.live as u64; // anything left did not fire in time
    let sample = Sample::simple(total, count, worst_poll, bytes, &h);
    for request in kept {
        h.respond(&mut peer, request, false);
    }
    sample
}
