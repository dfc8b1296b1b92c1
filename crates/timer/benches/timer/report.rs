//! Runs each peer several times, aggregates, prints the table and writes the
//! Markdown section for `docs/benchmarks.md` (to `$ROUSE_BENCH_MD`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// One run's numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) ns_per_op: f64,
    pub(crate) p99_iter: Duration,
    pub(crate) worst_iter: Duration,
    pub(crate) bytes_mean: f64,
    pub(crate) bytes_peak: f64,
    pub(crate) early: u64,
    pub(crate) late: u64,
    pub(crate) max_late: Duration,
    pub(crate) lost: u64,
}

/// The peers, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeerKind {
    Wheel,
    /// Only in the fixed-duration scenarios: it cannot take other deadlines.
    Fixed,
    Heap,
    StdLazy,
    DaryLazy,
    DelayQueue,
    Nexus,
    Null,
}

impl PeerKind {
    const ALL: [PeerKind; 8] = [
        PeerKind::Wheel,
        PeerKind::Fixed,
        PeerKind::Heap,
        PeerKind::StdLazy,
        PeerKind::DaryLazy,
        PeerKind::DelayQueue,
        PeerKind::Nexus,
        PeerKind::Null,
    ];

    fn name(self) -> &'static str {
        match self {
            PeerKind::Wheel => "rouse TimerWheel",
            PeerKind::Fixed => "rouse FixedQueue (one duration)",
            PeerKind::Heap => "rouse TimerHeap",
            PeerKind::StdLazy => "std BinaryHeap, lazy (tornado/asyncio)",
            PeerKind::DaryLazy => "dary_heap 4-ary, lazy",
            PeerKind::DelayQueue => "tokio-util DelayQueue",
            PeerKind::Nexus => "nexus-timer Wheel",
            PeerKind::Null => "(harness alone, no timers)",
        }
    }
}

/// One table row: a scenario on one peer, aggregated over runs.
#[derive(Debug)]
pub(crate) struct Row {
    scenario: String,
    unit: &'static str,
    peer: PeerKind,
    /// Median over runs.
    ns: f64,
    p99: Duration,
    /// Worst over all runs.
    worst: Duration,
    bytes_mean: f64,
    bytes_peak: f64,
    early: u64,
    late: u64,
    max_late: Duration,
    lost: u64,
    vs_dary: f64,
    /// `ns` less the harness-alone row's: what the structure itself costs.
    net: f64,
    /// `net` over the 4-ary heap's `net`.
    net_vs_dary: f64,
    /// The lowest and highest of that ratio taken round by round: how far
    /// the machine's noise moved it.
    net_range: (f64, f64),
}

/// Whether `name` contains one of the `|`-separated `patterns` (an empty
/// pattern matches everything): the ROUSE_BENCH_ONLY and _FILTER syntax.
pub(crate) fn matches_any(patterns: &str, name: &str) -> bool {
    patterns.split('|').any(|p| name.contains(p))
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in timings"));
    v[v.len() / 2]
}

/// Runs `run` for every peer `runs` times and aggregates.
pub(crate) fn each_peer(
    scenario: &str,
    unit: &'static str,
    runs: usize,
    mut run: impl FnMut(PeerKind, Instant) -> Sample,
) -> Vec<Row> {
    // ROUSE_BENCH_FILTER=a|b keeps only rows whose "scenario peer" contains
    // a or b (for profiling one case); the Markdown is only meaningful
    // unfiltered.
    let filter = std::env::var("ROUSE_BENCH_FILTER").unwrap_or_default();
    let kept = |name: String| matches_any(&filter, &name);
    let peers: Vec<PeerKind> = PeerKind::ALL
        .iter()
        .copied()
        .filter(|&peer| peer != PeerKind::Fixed || scenario.starts_with("Fixed5s"))
        .filter(|peer| kept(format!("{scenario} {}", peer.name())))
        .collect();
    // Round-robin: every peer once per round, so a slow spell of the
    // (shared) machine lands on all peers alike rather than on one.
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(runs); peers.len()];
    for _ in 0..runs {
        for (i, &peer) in peers.iter().enumerate() {
            samples[i].push(run(peer, Instant::now()));
        }
    }
    let mut rows: Vec<Row> = peers
        .iter()
        .zip(&samples)
        .map(|(&peer, samples)| {
            let row = Row {
                scenario: scenario.to_owned(),
                unit,
                peer,
                ns: median(samples.iter().map(|s| s.ns_per_op).collect()),
                p99: median(samples.iter().map(|s| s.p99_iter).collect()),
                worst: samples
                    .iter()
                    .map(|s| s.worst_iter)
                    .max()
                    .unwrap_or_default(),
                bytes_mean: median(samples.iter().map(|s| s.bytes_mean).collect()),
                bytes_peak: samples.iter().map(|s| s.bytes_peak).fold(0.0, f64::max),
                early: samples.iter().map(|s| s.early).sum(),
                late: samples.iter().map(|s| s.late).sum(),
                max_late: samples.iter().map(|s| s.max_late).max().unwrap_or_default(),
                lost: samples.iter().map(|s| s.lost).sum(),
                vs_dary: f64::NAN,
                net: f64::NAN,
                net_vs_dary: f64::NAN,
                net_range: (f64::NAN, f64::NAN),
            };
            println!("{}", line(&row));
            row
        })
        .collect();
    let d = peers.iter().position(|&p| p == PeerKind::DaryLazy);
    let h = peers.iter().position(|&p| p == PeerKind::Null);
    let ns_of = |i: Option<usize>| i.map_or(f64::NAN, |i| rows[i].ns);
    let (dary, harness) = (ns_of(d), ns_of(h));
    // The net ratio round by round: its lowest and highest.
    let per_round = |i: usize| -> (f64, f64) {
        let (Some(d), Some(h)) = (d, h) else {
            return (f64::NAN, f64::NAN);
        };
        let ratios = (0..runs).map(|r| {
            let harness = samples[h][r].ns_per_op;
            (samples[i][r].ns_per_op - harness) / (samples[d][r].ns_per_op - harness)
        });
        ratios.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
    };
    for (i, row) in rows.iter_mut().enumerate() {
        row.vs_dary = row.ns / dary;
        if row.peer != PeerKind::Null {
            row.net = row.ns - harness;
            row.net_vs_dary = row.net / (dary - harness);
            row.net_range = per_round(i);
        }
    }
    rows
}

const HEADER: &str = "| scenario | peer | ns/op | vs 4-ary | net ns | net vs 4-ary | p99 iter µs | worst iter µs | B/live mean | B/live peak | early | late >1 tick | max late µs | lost |";
const RULE: &str = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn ratio(x: f64) -> String {
    if x.is_nan() {
        "-".to_owned()
    } else {
        format!("{x:.2}x")
    }
}

fn line(r: &Row) -> String {
    format!(
        "| {} | {} | {:.1} {} | {} | {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {} | {} | {:.0} | {} |",
        r.scenario,
        r.peer.name(),
        r.ns,
        r.unit,
        ratio(r.vs_dary),
        if r.net.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.1}", r.net)
        },
        if r.net_range.0.is_nan() {
            ratio(r.net_vs_dary)
        } else {
            format!(
                "{} ({:.2}-{:.2})",
                ratio(r.net_vs_dary),
                r.net_range.0,
                r.net_range.1
            )
        },
        r.p99.as_secs_f64() * 1e6,
        r.worst.as_secs_f64() * 1e6,
        r.bytes_mean,
        r.bytes_peak,
        r.early,
        r.late,
        r.max_late.as_secs_f64() * 1e6,
        if r.peer == PeerKind::Null {
            "-".to_owned()
        } else {
            r.lost.to_string()
        },
    )
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cpus} CPUs, {model}")
}

fn find<'a>(rows: &'a [Row], scenario: &str, peer: PeerKind) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.scenario.contains(scenario) && r.peer == peer)
}

/// Which number of a row a ratio is taken of.
type Measure = fn(&Row) -> f64;

/// A few sentences read off the numbers (not written in advance).
fn reading(rows: &[Row]) -> String {
    let mut text = String::new();
    let mixed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("Mixed") && r.peer == PeerKind::Wheel)
        .collect();
    // (min, max) over the mixed scenarios of peer / wheel, on total and on
    // net (harness subtracted) ns.
    let span = |peer: PeerKind, of: Measure| -> (f64, f64) {
        let ratios: Vec<f64> = mixed
            .iter()
            .filter_map(|w| find(rows, &w.scenario, peer).map(|p| of(p) / of(w)))
            .collect();
        let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let max = ratios.iter().copied().fold(0.0, f64::max);
        (min, max)
    };
    let kinds: &[(&str, Measure)] = if mixed.is_empty() {
        &[]
    } else {
        &[
            ("time per request", |r: &Row| r.ns),
            ("time per request net of the harness", |r: &Row| r.net),
        ]
    };
    for &(what, of) in kinds {
        let (dary_lo, dary_hi) = span(PeerKind::DaryLazy, of);
        let (nexus_lo, nexus_hi) = span(PeerKind::Nexus, of);
        let (dq_lo, dq_hi) = span(PeerKind::DelayQueue, of);
        let _ = write!(
            text,
            "On mixed 1-30 s timeouts, in {what}, the wheel costs {:.2}-{:.2}x the 4-ary lazy heap \
             and is {nexus_lo:.1}-{nexus_hi:.1}x faster than nexus-timer and {dq_lo:.1}-{dq_hi:.1}x faster than DelayQueue. ",
            1.0 / dary_hi,
            1.0 / dary_lo,
        );
    }
    if let Some(p) = rows
        .iter()
        .find(|r| r.scenario.starts_with("paired") && r.peer == PeerKind::Wheel)
    {
        let harness = find(rows, &p.scenario, PeerKind::Null).map_or(f64::NAN, |n| n.ns);
        let _ = write!(
            text,
            "A paired insert+cancel costs {:.1} ns on the wheel ({:.1} ns after the harness's own {harness:.1} ns). ",
            p.ns,
            p.ns - harness,
        );
    }
    let fixed: Vec<(f64, f64, f64)> = rows
        .iter()
        .filter(|r| r.peer == PeerKind::Fixed)
        .filter_map(|f| {
            let dary = find(rows, &f.scenario, PeerKind::DaryLazy)?;
            let wheel = find(rows, &f.scenario, PeerKind::Wheel)?;
            Some((f.ns / dary.ns, f.ns / wheel.ns, f.bytes_mean))
        })
        .collect();
    if !fixed.is_empty() {
        let lo = |i: usize| {
            fixed
                .iter()
                .map(|t| [t.0, t.1, t.2][i])
                .fold(f64::INFINITY, f64::min)
        };
        let hi = |i: usize| fixed.iter().map(|t| [t.0, t.1, t.2][i]).fold(0.0, f64::max);
        let _ = write!(
            text,
            "On fixed 5 s timeouts the FixedQueue costs {:.2}-{:.2}x the 4-ary heap's time and {:.2}-{:.2}x the wheel's, at {:.0}-{:.0} bytes per live timer. ",
            lo(0),
            hi(0),
            lo(1),
            hi(1),
            lo(2),
            hi(2),
        );
    }
    if let Some(big) = find(rows, "Mixed1To30s N=1e6 95%", PeerKind::Wheel) {
        let dary = find(rows, "Mixed1To30s N=1e6 95%", PeerKind::DaryLazy);
        let _ = write!(
            text,
            "At N=1e6, mixed, 95% cancelled (about 1.8e6 live timers) the wheel's worst loop iteration \
             (1000 requests plus expiry) was {:.2} ms against {:.2} ms for the 4-ary heap, whose compaction \
             shows up there; it held {:.1} bytes per live timer on average ({:.1} peak), all slack included. ",
            big.worst.as_secs_f64() * 1e3,
            dary.map_or(f64::NAN, |d| d.worst.as_secs_f64() * 1e3),
            big.bytes_mean,
            big.bytes_peak,
        );
    }
    let wheel_rows = rows
        .iter()
        .filter(|r| matches!(r.peer, PeerKind::Wheel | PeerKind::Fixed));
    let (early, late, lost) = wheel_rows.fold((0, 0, 0), |(e, l, x), r| {
        (e + r.early, l + r.late, x + r.lost)
    });
    let _ = write!(
        text,
        "Across every scenario the wheel and the FixedQueue fired {early} timers early, {late} more than one tick late, and lost {lost}."
    );
    text
}

/// Prints the table and, if `ROUSE_BENCH_MD` is set, writes the section.
pub(crate) fn emit(rows: &[Row], runs: usize, quick: bool) {
    let mut table = format!("{HEADER}\n{RULE}\n");
    for row in rows {
        table.push_str(&line(row));
        table.push('\n');
    }
    let reading = reading(rows);
    let machine = machine();
    println!("\n{table}\n{reading}\nmachine: {machine}");
    let Some(path) = std::env::var_os("ROUSE_BENCH_MD") else {
        return;
    };
    let mut md = String::new();
    let _ = writeln!(md, "## Timers\n");
    let runs_env = std::env::var("ROUSE_BENCH_RUNS")
        .map(|r| format!("ROUSE_BENCH_RUNS={r} "))
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "Command: `{runs_env}cargo xtask bench timer`{}\n",
        if quick {
            " (ROUSE_BENCH_QUICK=1: sizes / 10)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "Machine: {machine}. Median of {runs} runs, the peers taking turns within each round (worst iteration: worst of all runs).\n"
    );
    let _ = writeln!(
        md,
        "Workload: N requests in flight, each inserting a timeout (fixed 5 s or uniform 1-30 s) whose response \
         arrives N requests later and cancels it with the given probability; virtual time advances 1 µs per request \
         and the loop expires due timers and asks for the next deadline every 1 ms (1000 requests = one loop \
         iteration). Structures start filled to steady state; 3e6 requests are measured. ns/op includes the \
         harness's own bookkeeping, identical for every peer. B/live: heap bytes the structure holds \
         (garbage and slack included; the application's copy of each key not) divided by live timers, sampled \
         every iteration. Max late: largest gap between a deadline and the poll that fired it; the loop polls every \
         1 ms, so up to 1000 µs is the poll interval, not the structure. \
         `TimerWheel::<u32>::bytes_per_timer()` = {} bytes (slot plus bucket entry, before slack). \
         The last row of each block is the harness alone (no timer structure); net ns is ns/op less that row, \
         what the structure itself costs, and net vs 4-ary compares those (in brackets: the lowest and highest of that ratio round by round). Timings on a shared VM vary from run \
         to run (up to 2x between invocations seen here); rows of one table ran in one process, the peers in turns.\n",
        rouse_timer::TimerWheel::<u32>::bytes_per_timer(),
    );
    md.push_str(&table);
    let _ = writeln!(md, "\n{reading}");
    if let Err(e) = std::fs::write(&path, md) {
        println!(
            "could not write ROUSE_BENCH_MD ({}): {e}",
            path.to_string_lossy()
        );
    }
}
