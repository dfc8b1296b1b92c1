//! `cargo bench -p rouse-reactor --bench timer_lateness`: how late the
//! loop's timers fire, with the precise wake (a timerfd armed to the exact
//! deadline, the default) and without it (`precise_timers(false)`: the
//! poller's whole-millisecond timeout, the loop before the timerfd).
//!
//! One timer at a time, each scheduled from the previous one's callback: a
//! 5-6 ms timer (the producer's default `linger.ms`, from a random point of
//! a millisecond), then one of a random 0.1-20 ms, alternately. Lateness is `Instant::now()` in the callback
//! minus the deadline: the sleep's overshoot plus the loop's dispatch, what
//! a user's timer sees. The two modes run in turns within each round (who
//! goes first alternating), so a busy spell of the shared machine hits both.
//!
//! On a loaded machine most of that lateness is the thread waiting for a
//! core once woken, which no timer can help. So on Linux the bench also
//! reads the thread's run-queue wait (`/proc/thread-self/schedstat`, second
//! field) at the end of each callback and at the start of the next, and
//! reports lateness net of the wait in between: what the sleep itself
//! overshot.
//!
//! Prints histograms per mode (all rounds), then per-round p50 / p99 / max
//! and the ratios, and the timerfd arms and loop iterations per timer.
//! ROUSE_BENCH_ROUNDS (3) and ROUSE_BENCH_TIMERS (timers per mode and round,
//! 600) shorten or lengthen a run.
#![allow(clippy::print_stdout, missing_docs)]

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
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
    /// The same, less the run-queue wait since the previous callback ended
    /// (empty where schedstat is not readable).
    net_ns: Vec<i64>,
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

/// The loop thread's total run-queue wait, ns, if the kernel says.
struct RunQueueWait(Option<File>);

impl RunQueueWait {
    fn open() -> RunQueueWait {
        RunQueueWait(File::open("/proc/thread-self/schedstat").ok())
    }

    fn read(&self) -> Option<i64> {
        let mut buf = [0u8; 128];
        let n = self.0.as_ref()?.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        text.split_whitespace().nth(1)?.parse().ok()
    }
}

struct Chain {
    left: usize,
    rng: Rng,
    late_ns: Vec<i64>,
    net_ns: Vec<i64>,
    waits: RunQueueWait,
    /// Run-queue wait when the previous callback ended.
    waited_before: Option<i64>,
}

/// The delay of timer `n`: the linger from a random point of a
/// millisecond (a producer's batch opens whenever a record comes, not on
/// the poller's millisecond: an exact 5 ms from the callback would favour
/// the poll-only loop, whose 5 ms sleep is then exact), or 0.1-20 ms at
/// random.
fn delay(n: usize, rng: &mut Rng) -> Duration {
    if n % 2 == 0 {
        LINGER + Duration::from_nanos(rng.next() % 1_000_000)
    } else {
        Duration::from_nanos(100_000 + rng.next() % 19_900_000)
    }
}

fn signed_ns(from: Instant, to: Instant) -> i64 {
    if to >= from {
        i64::try_from((to - from).as_nanos()).unwrap_or(i64::MAX)
    } else {
        -i64::try_from((from - to).as_nanos()).unwrap_or(i64::MAX)
    }
}

fn schedule(el: &mut EventLoop, chain: &Rc<RefCell<Chain>>) {
    let n = chain.borrow().left;
    let at = el.now() + delay(n, &mut chain.borrow_mut().rng);
    let next = chain.clone();
    el.call_at(at, move |el, _| {
        let late = signed_ns(at, Instant::now());
        let left = {
            let mut c = next.borrow_mut();
            let waited = c.waits.read();
            if let (Some(now), Some(before)) = (waited, c.waited_before) {
                c.net_ns.push(late - (now - before));
            }
            c.late_ns.push(late);
            c.left -= 1;
            c.left
        };
        if left == 0 {
            el.stop();
        } else {
            schedule(el, &next);
        }
        let mut c = next.borrow_mut();
        c.waited_before = c.waits.read();
    });
}

fn run(mode: Mode, timers: usize, seed: u64) -> Run {
    let mut el = EventLoop::builder()
        .precise_timers(mode == Mode::Precise)
        .build()
        .expect("event loop");
    let waits = RunQueueWait::open();
    let chain = Rc::new(RefCell::new(Chain {
        left: timers,
        rng: Rng(seed),
        late_ns: Vec::with_capacity(timers),
        net_ns: Vec::with_capacity(timers),
        waited_before: waits.read(),
        waits,
    }));
    schedule(&mut el, &chain);
    el.run(&mut ()).expect("loop ran");
    let mut c = chain.borrow_mut();
    Run {
        late_ns: std::mem::take(&mut c.late_ns),
        net_ns: std::mem::take(&mut c.net_ns),
        metrics: el.metrics(),
    }
}

fn us(ns: i64) -> f64 {
    ns as f64 / 1000.0
}

fn print_histograms(title: &str, modes: &[Mode], samples: &[Vec<i64>]) {
    println!("\n{title} (count per bucket, all rounds)");
    print!("{:<20}", "mode");
    let mut lo = 0;
    for &hi in &BUCKETS_US {
        let label = if hi == u64::MAX {
            format!(">={lo}us")
        } else {
            format!("{lo}-{hi}us")
        };
        print!("{label:>12}");
        lo = hi;
    }
    println!("{:>8}", "early");
    for (mode, all) in modes.iter().zip(samples) {
        let mut counts = [0usize; BUCKETS_US.len()];
        for &ns in all {
            let us = u64::try_from(ns.max(0)).unwrap_or(0) / 1000;
            counts[BUCKETS_US.iter().position(|&b| us < b).unwrap_or(0)] += 1;
        }
        print!("{:<20}", mode.name());
        for count in counts {
            print!("{count:>12}");
        }
        println!("{:>8}", all.iter().filter(|&&ns| ns < 0).count());
    }
}

/// p50 and p99 of `values` (0 for none).
fn p50_p99(values: &[i64]) -> (i64, i64) {
    if values.is_empty() {
        return (0, 0);
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    (percentile(&sorted, 0.5), percentile(&sorted, 0.99))
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.3}x ({lo:.3}-{hi:.3})", median(v.to_vec()))
}

fn main() {
    let rounds = env_or("ROUSE_BENCH_ROUNDS", 3usize).expect("ROUSE_BENCH_ROUNDS");
    let timers = env_or("ROUSE_BENCH_TIMERS", 600usize).expect("ROUSE_BENCH_TIMERS");
    println!(
        "timer lateness: {timers} timers per mode and round (5-6 ms and random 0.1-20 ms, alternating), {rounds} rounds; {}; load average {}",
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

    let all = |net: bool| -> Vec<Vec<i64>> {
        results
            .iter()
            .map(|runs| {
                runs.iter()
                    .flat_map(|r| {
                        if net {
                            r.net_ns.clone()
                        } else {
                            r.late_ns.clone()
                        }
                    })
                    .collect()
            })
            .collect()
    };
    print_histograms("lateness", &modes, &all(false));
    print_histograms("lateness net of run-queue wait", &modes, &all(true));

    println!("\nper round, lateness in us: p50 / p99 / max, then net of run-queue wait p50 / p99; timerfd arms and loop iterations per timer");
    let mut ratios: [Vec<f64>; 4] = Default::default();
    for (round, pair) in results[0].iter().zip(&results[1]).enumerate() {
        let mut p = [[0i64; 4]; 2];
        for (m, (mode, r)) in modes.iter().zip([pair.0, pair.1]).enumerate() {
            let (p50, p99) = p50_p99(&r.late_ns);
            let (n50, n99) = p50_p99(&r.net_ns);
            p[m] = [p50, p99, n50, n99];
            let n = r.late_ns.len().max(1) as f64;
            println!(
                "round {round} {:<18} {:>8.1} / {:>8.1} / {:>8.1}   net {:>7.1} / {:>8.1}   arms {:.2}  iterations {:.2}",
                mode.name(),
                us(p50),
                us(p99),
                us(r.late_ns.iter().copied().max().unwrap_or(0)),
                us(n50),
                us(n99),
                r.metrics.timer_wake_arms as f64 / n,
                r.metrics.iterations as f64 / n,
            );
        }
        for (i, ratio) in ratios.iter_mut().enumerate() {
            ratio.push(p[0][i] as f64 / p[1][i].max(1) as f64);
        }
    }
    println!(
        "\nprecise / poll-only (median over rounds, range): lateness p50 {}, p99 {}; net of run-queue wait p50 {}, p99 {}",
        range(&ratios[0]),
        range(&ratios[1]),
        range(&ratios[2]),
        range(&ratios[3]),
    );
}
