//! `cargo xtask bench timer`: request-timeout workloads on every timer
//! structure, one process, one table, one virtual clock, measured in steady
//! state (see `timer/workload.rs`).
//!
//! Workload (per scenario): `N` requests in flight; each request inserts a
//! timeout (fixed 5 s, or uniform 1-30 s) and its response arrives `N`
//! requests later, cancelling the timeout with probability `p` (95% or 99%);
//! the rest are left to fire. Virtual time moves 1 µs per request, so 1 ms per
//! 1000 requests, and every millisecond the loop expires what is due and asks
//! for the next deadline: one "loop iteration". Live timers reach ~1.8e6 at
//! `N = 1e6`, mixed, 95%.

// A benchmark binary reports on stdout: that is the xtask contract.
#![allow(clippy::print_stdout)]

// Submodules live in `benches/timer/` (a crate root finds modules next to
// itself, and files directly in `benches/` would become benches of their own).
#[path = "timer/alloc.rs"]
mod alloc;
#[path = "timer/harness.rs"]
mod harness;
#[path = "timer/peers.rs"]
mod peers;
#[path = "timer/report.rs"]
mod report;
#[path = "timer/workload.rs"]
mod workload;

use std::time::{Duration, Instant};

use harness::Rng;
use peers::Peer;
use report::{PeerKind, Row, Sample};
use workload::Requests;

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

/// The steady-state run with a 4-byte payload.
fn steady<P: Peer>(start: Instant, s: &Requests, make: impl FnOnce() -> P) -> Sample {
    s.run(start, false, make)
}

/// Bytes per live timer with the payload `make` builds the peer for.
fn memory<P: Peer>(start: Instant, s: &Requests, make: impl FnOnce() -> P) -> f64 {
    s.run(start, true, make).bytes_mean
}

/// Empty wakes per 1000 sleeping to `next_deadline`, and timers lost, early
/// or late there.
fn sleeping<P: Peer>(
    start: Instant,
    s: &Requests,
    count: usize,
    make: impl FnOnce() -> P,
) -> (f64, u64) {
    workload::sleeping(start, count, s.timeouts, s.cancel_pct, make)
}

/// Runs `$scenario(start, args.., make)` with the constructor of `$peer`.
/// `$payload` is the timer's value type (`u32` or `[u32; 4]`).
macro_rules! on_peer {
    ($peer:expr, $payload:ty, $start:expr, $scenario:expr $(, $arg:expr)*) => {{
        let start = $start;
        match $peer {
            PeerKind::Wheel => $scenario(start, $($arg,)* || peers::wheel::<$payload>(start)),
            PeerKind::Fixed => $scenario(start, $($arg,)* || peers::fixed::<$payload>(start)),
            PeerKind::Heap => $scenario(start, $($arg,)* peers::heap::<$payload>),
            PeerKind::StdLazy => $scenario(start, $($arg,)* || {
                peers::Lazy::<std::collections::BinaryHeap<_>, $payload>::new(start)
            }),
            PeerKind::DaryLazy => $scenario(start, $($arg,)* || {
                peers::Lazy::<dary_heap::QuaternaryHeap<_>, $payload>::new(start)
            }),
            PeerKind::DelayQueue => {
                $scenario(start, $($arg,)* || peers::Delay::<$payload>::new(start))
            }
            PeerKind::Nexus => $scenario(start, $($arg,)* || peers::Nexus::<$payload>::new(start)),
            PeerKind::Null => $scenario(start, $($arg,)* || peers::Null),
        }
    }};
}

fn main() {
    let _runtime = peers::runtime().enter();
    let quick = std::env::var_os("ROUSE_BENCH_QUICK").is_some();
    // ROUSE_BENCH_RUNS=n overrides the number of rounds per row (1 under a
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
    // ROUSE_BENCH_NO_EXTRAS=1 skips the 16-byte payload and sleeping runs
    // (while iterating on one number).
    let extras = std::env::var_os("ROUSE_BENCH_NO_EXTRAS").is_none();
    let mut rows: Vec<Row> = Vec::new();

    for in_flight in [100_000, 1_000_000] {
        for timeouts in [Timeouts::Fixed5s, Timeouts::Mixed1To30s] {
            for cancel_pct in [95, 99] {
                let s = Requests {
                    in_flight: in_flight / scale,
                    timeouts,
                    cancel_pct,
                    requests: 3_000_000 / scale,
                    scale,
                    max_windows: workload::MAX_WINDOWS,
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
                    |peer, start, round| {
                        // The harness alone has nothing to warm up, and its
                        // timeouts never fire: every window costs it ids.
                        let s = if peer == PeerKind::Null {
                            Requests {
                                max_windows: workload::MIN_WINDOWS,
                                ..s
                            }
                        } else {
                            s
                        };
                        let mut sample = on_peer!(peer, u32, start, steady, &s);
                        if round == 0 && extras && peer != PeerKind::Null {
                            sample.bytes_16 = on_peer!(peer, [u32; 4], Instant::now(), memory, &s);
                            let (empty, bad) =
                                on_peer!(peer, u32, Instant::now(), sleeping, &s, 100_000 / scale);
                            sample.empty_per_1000 = empty;
                            sample.lost += bad;
                        }
                        sample
                    },
                ));
            }
        }
    }
    let (bg, pairs) = (100_000 / scale, 2_000_000 / scale);
    let name = format!("paired insert+cancel, {:.0e} pending", bg as f64);
    if wanted(&name) {
        rows.extend(report::each_peer(
            &name,
            "ns/pair",
            runs,
            |peer, start, _| on_peer!(peer, u32, start, workload::paired, bg, pairs),
        ));
    }
    let count = 1_000_000 / scale;
    let name = format!("storm: {:.0e} fire within 1 s", count as f64);
    if wanted(&name) {
        rows.extend(report::each_peer(
            &name,
            "ns/timer",
            runs,
            |peer, start, _| on_peer!(peer, u32, start, workload::storm, count),
        ));
    }
    report::emit(&rows, runs, quick || only.is_some());
}
