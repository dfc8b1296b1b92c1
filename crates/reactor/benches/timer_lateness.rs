//! `cargo bench -p rouse-reactor --bench timer_lateness`: how late the
//! loop's timers fire, with the precise wake (a timerfd armed to the exact
//! deadline, the default) and without it (`precise_timers(false)`: the
//! poller's whole-millisecond timeout, the loop before the timerfd).
//!
//! One timer at a time, each scheduled from the previous one's callback: a
//! 5 ms timer (the producer's default `linger.ms`), then one of a random
//! 0.1-20 ms, alternately. Lateness is `Instant::now()` in the callback
//! minus the deadline: the sleep's overshoot plus the loop's dispatch, what
//! a user's timer sees. The two modes run in turns within each round (who
//! goes first alternating), so a busy spell of the shared machine hits both.
//! Prints a histogram per mode (all rounds), then per-round p50 / p99 / max
//! and the ratios, and the timerfd arms and loop iterations per timer.
//!
//! ROUSE_BENCH_ROUNDS (3) and ROUSE_BENCH_TIMERS (timers per mode and round,
//! 600) shorten or lengthen a run.
#![allow(clippy::print_stdout, missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rouse_bench_support::{env_or, load_average, machine, median, percentile};
use rouse_reactor::{EventLoop, Metrics};

const LINGER: Duration = Duration::from_millis(5);

/// Histogram bucket upper bounds, in microseconds (the last is open).
const BUCKETS_US: [u64; 8] = [25, 50, 100, 200, 500, 1_000, 2_000, u64::MAX];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Precise,
    PollOnly,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Precise => "precise (timerfd)",
            Mode::PollOnly => "poll timeout only",
        }
    }
}

/// What one mode measured in one round.
struct Run {
    /// Lateness of each timer, ns; negative would be early.
    late_ns: Vec<i64>,
    metrics: Metrics,
}

/// A small xorshift: the random delays, the same sequence for both modes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Chain {
    left: usize,
    rng: Rng,
    late_ns: Vec<i64>,
}

/// The delay of timer `n`: the linger, or 0.1-20 ms at random.
fn delay(n: usize, rng: &mut Rng) -> Duration {
    if n % 2 == 0 {
        LINGER
    } else {
        Duration::from_nanos(100_000 + rng.next() % 19_900_000)
    }
}

fn schedule(el: &mut EventLoop, chain: &Rc<RefCell<Chain>>) {
    let n = chain.borrow().left;
    let at = el.now() + delay(n, &mut chain.borrow_mut().rng);
    let next = chain.clone();
    el.call_at(at, move |el, _| {
        let now = Instant::now();
        let late = if now >= at {
            i64::try_from((now - at).as_nanos()).unwrap_or(i64::MAX)
        } else {
            -i64::try_from((at - now).as_nanos()).unwrap_or(i64::MAX)
        };
        let left = {
            let mut c = next.borrow_mut();
            c.late_ns.push(late);
            c.left -= 1;
            c.left
        };
        if left == 0 {
            el.stop();
        } else {
            schedule(el, &next);
        }
    });
}

fn run(mode: Mode, timers: usize, seed: u64) -> Run {
    let mut el = EventLoop::builder()
        .precise_timers(mode == Mode::Precise)
        .build()
        .expect("event loop");
    let chain = Rc::new(RefCell::new(Chain {
        left: timers,
        rng: Rng(seed),
        late_ns: Vec::with_capacity(timers),
    }));
    schedule(&mut el, &chain);
    el.run(&mut ()).expect("loop ran");
    let late_ns = std::mem::take(&mut chain.borrow_mut().late_ns);
    Run {
        late_ns,
        metrics: el.metrics(),
    }
}

fn us(ns: i64) -> f64 {
    ns as f64 / 1000.0
}

fn histogram(late_ns: &[i64]) -> Vec<usize> {
    let mut counts = vec![0; BUCKETS_US.len()];
    for &ns in late_ns {
        let us = u64::try_from(ns.max(0)).unwrap_or(0) / 1000;
        let i = BUCKETS_US.iter().position(|&b| us < b).unwrap_or(0);
        counts[i] += 1;
    }
    counts
}

fn main() {
    let rounds = env_or("ROUSE_BENCH_ROUNDS", 3usize).expect("ROUSE_BENCH_ROUNDS");
    let timers = env_or("ROUSE_BENCH_TIMERS", 600usize).expect("ROUSE_BENCH_TIMERS");
    println!(
        "timer lateness: {timers} timers per mode and round (5 ms and random 0.1-20 ms, alternating), {rounds} rounds; {}; load average {}",
        machine(),
        load_average()
    );
    let modes = [Mode::Precise, Mode::PollOnly];
    let mut results: Vec<Vec<Run>> = vec![Vec::new(), Vec::new()];
    for round in 0..rounds.max(1) {
        for k in 0..modes.len() {
            let m = (k + round) % modes.len();
            results[m].push(run(modes[m], timers, 0x9e37_79b9_7f4a_7c15 ^ round as u64));
        }
    }

    println!("\nlateness histogram, all rounds (count per bucket)");
    print!("{:<20}", "mode");
    let mut lo = 0;
    for &hi in &BUCKETS_US {
        let label = if hi == u64::MAX {
            format!(">={lo}us")
        } else {
            format!("{lo}-{hi}us")
        };
        print!("{label:>11}");
        lo = hi;
    }
    println!("{:>8}", "early");
    for (m, mode) in modes.iter().enumerate() {
        let all: Vec<i64> = results[m].iter().flat_map(|r| r.late_ns.clone()).collect();
        print!("{:<20}", mode.name());
        for count in histogram(&all) {
            print!("{count:>11}");
        }
        println!("{:>8}", all.iter().filter(|&&ns| ns < 0).count());
    }

    println!(
        "\nper round, lateness in us (p50 / p99 / max), timerfd arms and loop iterations per timer"
    );
    let mut ratios = (Vec::new(), Vec::new());
    for (round, pair) in results[0].iter().zip(&results[1]).enumerate() {
        let mut p = [(0i64, 0i64); 2];
        for (m, (mode, r)) in modes.iter().zip([pair.0, pair.1]).enumerate() {
            let mut sorted = r.late_ns.clone();
            sorted.sort_unstable();
            let (p50, p99) = (percentile(&sorted, 0.5), percentile(&sorted, 0.99));
            p[m] = (p50, p99);
            let n = sorted.len() as f64;
            println!(
                "round {round} {:<20} {:>8.1} / {:>8.1} / {:>8.1}   arms {:.2}  iterations {:.2}",
                mode.name(),
                us(p50),
                us(p99),
                us(*sorted.last().unwrap_or(&0)),
                r.metrics.timer_wake_arms as f64 / n,
                r.metrics.iterations as f64 / n,
            );
        }
        ratios.0.push(p[0].0 as f64 / p[1].0.max(1) as f64);
        ratios.1.push(p[0].1 as f64 / p[1].1.max(1) as f64);
    }
    let range = |v: &Vec<f64>| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{:.3}x ({lo:.3}-{hi:.3})", median(v.clone()))
    };
    println!(
        "\nprecise / poll-only lateness: p50 {}, p99 {} (median over rounds, range)",
        range(&ratios.0),
        range(&ratios.1)
    );
}
