//! Runs each peer several times, aggregates, prints the table and writes the
//! Markdown section for `docs/benchmarks.md` (to `$ROUSE_BENCH_MD`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rouse_bench_support::{machine, median};

/// The limits for one operation and one poll at N=1e6.
pub(crate) const OP_LIMIT: Duration = Duration::from_micros(100);
pub(crate) const POLL_LIMIT: Duration = Duration::from_millis(2);

/// One run's numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    /// Steady state: after the warm-up, iterations without per-op timing.
    pub(crate) ns_per_op: f64,
    /// The first warm-up window, right after the fill (NaN if none).
    pub(crate) post_fill_ns: f64,
    pub(crate) warmup_requests: u64,
    pub(crate) warmup_wall: Duration,
    pub(crate) p9999_op: Duration,
    pub(crate) worst_op: Duration,
    /// Worst expire + `next_deadline`.
    pub(crate) worst_poll: Duration,
    /// Single operations over [`OP_LIMIT`] and polls over [`POLL_LIMIT`] in
    /// the measured window: a worst case on a shared VM is often one
    /// descheduling, and counting how often the limits were passed (against
    /// the harness alone, which has no structure to blame) tells a pause of
    /// the structure from one of the machine.
    pub(crate) ops_over: u64,
    pub(crate) polls_over: u64,
    /// Bytes per live timer with a 4-byte payload, mean and peak.
    pub(crate) bytes_mean: f64,
    pub(crate) bytes_peak: f64,
    /// Mean bytes per live timer with a 16-byte payload (NaN if not run).
    pub(crate) bytes_16: f64,
    /// Wakes that fired nothing per 1000, sleeping to `next_deadline`.
    pub(crate) empty_per_1000: f64,
    pub(crate) early: u64,
    pub(crate) late: u64,
    pub(crate) max_late: Duration,
    pub(crate) lost: u64,
}

impl Sample {
    /// A run with no warm-up and no per-op timing (paired, storm).
    pub(crate) fn simple(
        total: Duration,
        ops: usize,
        worst_poll: Duration,
        bytes: f64,
        h: &crate::harness::Harness,
    ) -> Sample {
        Sample {
            ns_per_op: total.as_nanos() as f64 / ops as f64,
            post_fill_ns: f64::NAN,
            warmup_requests: 0,
            warmup_wall: Duration::ZERO,
            p9999_op: Duration::ZERO,
            worst_op: Duration::ZERO,
            worst_poll,
            ops_over: 0,
            polls_over: 0,
            bytes_mean: bytes,
            bytes_peak: bytes,
            bytes_16: f64::NAN,
            empty_per_1000: f64::NAN,
            early: h.early,
            late: h.late,
            max_late: h.max_late,
            lost: h.lost,
        }
    }
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
    pub(crate) scenario: String,
    unit: &'static str,
    pub(crate) peer: PeerKind,
    /// Median over runs, and the lowest and highest run.
    pub(crate) ns: f64,
    ns_range: (f64, f64),
    post_fill: f64,
    /// Warm-up in virtual seconds (1e6 requests each), lowest and highest.
    warmup_s: (f64, f64),
    warmup_wall_s: (f64, f64),
    p9999_op: Duration,
    /// Worst over all runs.
    pub(crate) worst_op: Duration,
    pub(crate) worst_poll: Duration,
    /// Summed over all runs.
    pub(crate) ops_over: u64,
    pub(crate) polls_over: u64,
    pub(crate) bytes_mean: f64,
    bytes_peak: f64,
    pub(crate) bytes_16: f64,
    pub(crate) empty_per_1000: f64,
    pub(crate) early: u64,
    pub(crate) late: u64,
    max_late: Duration,
    pub(crate) lost: u64,
    /// `ns` less the harness-alone row's: what the structure itself costs.
    pub(crate) net: f64,
    /// `net` over the 4-ary heap's `net`, median of the rounds.
    pub(crate) net_vs_dary: f64,
    /// The lowest and highest of that ratio taken round by round.
    pub(crate) net_range: (f64, f64),
}

/// Whether `name` contains one of the `|`-separated `patterns` (an empty
/// pattern matches everything): the ROUSE_BENCH_ONLY and _FILTER syntax.
pub(crate) fn matches_any(patterns: &str, name: &str) -> bool {
    patterns.split('|').any(|p| name.contains(p))
}

fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

/// Runs `run(peer, start, round)` for every peer `runs` times and
/// aggregates.
pub(crate) fn each_peer(
    scenario: &str,
    unit: &'static str,
    runs: usize,
    mut run: impl FnMut(PeerKind, Instant, usize) -> Sample,
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
    for round in 0..runs {
        for (i, &peer) in peers.iter().enumerate() {
            samples[i].push(run(peer, Instant::now(), round));
        }
    }
    let d = peers.iter().position(|&p| p == PeerKind::DaryLazy);
    let h = peers.iter().position(|&p| p == PeerKind::Null);
    // The net ratio to the 4-ary heap, round by round.
    let ratios = |i: usize| -> Vec<f64> {
        let (Some(d), Some(h)) = (d, h) else {
            return Vec::new();
        };
        (0..runs)
            .map(|r| {
                let harness = samples[h][r].ns_per_op;
                (samples[i][r].ns_per_op - harness) / (samples[d][r].ns_per_op - harness)
            })
            .collect()
    };
    let harness = h.map_or(f64::NAN, |h| {
        median(samples[h].iter().map(|s| s.ns_per_op).collect())
    });
    peers
        .iter()
        .enumerate()
        .map(|(i, &peer)| {
            let s = &samples[i];
            let ratios = ratios(i);
            let null = peer == PeerKind::Null;
            let ns = median(s.iter().map(|s| s.ns_per_op).collect());
            let row = Row {
                scenario: scenario.to_owned(),
                unit,
                peer,
                ns,
                ns_range: range(s.iter().map(|s| s.ns_per_op)),
                post_fill: median(s.iter().map(|s| s.post_fill_ns).collect()),
                warmup_s: range(s.iter().map(|s| s.warmup_requests as f64 / 1e6)),
                warmup_wall_s: range(s.iter().map(|s| s.warmup_wall.as_secs_f64())),
                p9999_op: median(s.iter().map(|s| s.p9999_op).collect()),
                worst_op: s.iter().map(|s| s.worst_op).max().unwrap_or_default(),
                worst_poll: s.iter().map(|s| s.worst_poll).max().unwrap_or_default(),
                ops_over: s.iter().map(|s| s.ops_over).sum(),
                polls_over: s.iter().map(|s| s.polls_over).sum(),
                bytes_mean: median(s.iter().map(|s| s.bytes_mean).collect()),
                bytes_peak: s.iter().map(|s| s.bytes_peak).fold(0.0, f64::max),
                bytes_16: s.iter().map(|s| s.bytes_16).fold(f64::NAN, f64::max),
                empty_per_1000: s.iter().map(|s| s.empty_per_1000).fold(f64::NAN, f64::max),
                early: s.iter().map(|s| s.early).sum(),
                late: s.iter().map(|s| s.late).sum(),
                max_late: s.iter().map(|s| s.max_late).max().unwrap_or_default(),
                lost: s.iter().map(|s| s.lost).sum(),
                net: if null { f64::NAN } else { ns - harness },
                net_vs_dary: if null || ratios.is_empty() {
                    f64::NAN
                } else {
                    median(ratios.clone())
                },
                net_range: if null || ratios.is_empty() {
                    (f64::NAN, f64::NAN)
                } else {
                    range(ratios.into_iter())
                },
            };
            println!("{}", line(&row));
            row
        })
        .collect()
}

const HEADER: &str = "| scenario | peer | ns/op, median (range) | net vs 4-ary, median (range) | p99.99 op ns | worst op µs | worst poll µs | ops >100 µs / polls >2 ms | B/live, 4 B payload | B/live, 16 B | empty wakes /1000 | early | late >1 tick (max late µs) | lost |";
const RULE: &str = "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
const WARM_HEADER: &str = "| scenario | peer | post-fill ns/op (not steady) | steady ns/op | warm-up, virtual s | warm-up, wall s |";
const WARM_RULE: &str = "|---|---|---:|---:|---:|---:|";

/// A number, or `-` when not measured.
fn num(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "-".to_owned()
    } else {
        format!("{x:.decimals$}")
    }
}

fn pair(r: (f64, f64), decimals: usize) -> String {
    if r.0.is_nan() || r.0.is_infinite() {
        "-".to_owned()
    } else {
        format!("{}-{}", num(r.0, decimals), num(r.1, decimals))
    }
}

fn micros(d: Duration) -> String {
    if d.is_zero() {
        "-".to_owned()
    } else {
        format!("{:.0}", d.as_secs_f64() * 1e6)
    }
}

fn line(r: &Row) -> String {
    format!(
        "| {} | {} | {:.1} {} ({}) | {} | {} | {} | {} | {} | {} ({} peak) | {} | {} | {} | {} ({:.0}) | {} |",
        r.scenario,
        r.peer.name(),
        r.ns,
        r.unit,
        pair(r.ns_range, 0),
        if r.net_vs_dary.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.2}x ({})", r.net_vs_dary, pair(r.net_range, 2))
        },
        if r.p9999_op.is_zero() {
            "-".to_owned()
        } else {
            r.p9999_op.as_nanos().to_string()
        },
        micros(r.worst_op),
        micros(r.worst_poll),
        if r.p9999_op.is_zero() {
            "-".to_owned()
        } else {
            format!("{} / {}", r.ops_over, r.polls_over)
        },
        num(r.bytes_mean, 1),
        num(r.bytes_peak, 1),
        num(r.bytes_16, 1),
        num(r.empty_per_1000, 1),
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

fn warm_line(r: &Row) -> Option<String> {
    if r.post_fill.is_nan() || r.peer == PeerKind::Null {
        return None;
    }
    Some(format!(
        "| {} | {} | {:.1} | {:.1} | {} | {} |",
        r.scenario,
        r.peer.name(),
        r.post_fill,
        r.ns,
        pair(r.warmup_s, 1),
        pair(r.warmup_wall_s, 1),
    ))
}

fn find<'a>(rows: &'a [Row], scenario: &str, peer: PeerKind) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.scenario.contains(scenario) && r.peer == peer)
}

/// The (lowest, highest) of `of` over the wheel's mixed-timeout rows.
fn over_mixed(rows: &[Row], of: impl Fn(&Row) -> Option<f64>) -> (f64, f64) {
    range(
        rows.iter()
            .filter(|r| r.scenario.starts_with("Mixed") && r.peer == PeerKind::Wheel)
            .filter_map(of),
    )
}

/// A few sentences read off the numbers (not written in advance), against
/// the targets of the timer issue.
fn reading(rows: &[Row]) -> String {
    let mut text = String::new();
    let ratio_to = |peer: PeerKind, net: bool| {
        move |w: &Row| {
            let p = find(rows, &w.scenario, peer)?;
            Some(if net { p.net / w.net } else { p.ns / w.ns })
        }
    };
    let (lo, hi) = over_mixed(rows, |w| Some(w.net_range.0));
    let (_, hi2) = over_mixed(rows, |w| Some(w.net_range.1));
    let (med_lo, med_hi) = over_mixed(rows, |w| Some(w.net_vs_dary));
    if lo.is_finite() {
        let _ = write!(
            text,
            "On mixed 1-30 s timeouts in steady state the wheel costs {med_lo:.2}-{med_hi:.2}x the 4-ary lazy heap's \
             time net of the harness (medians per scenario; {lo:.2}-{:.2}x over single rounds; target <= 0.8x). ",
            hi.max(hi2)
        );
        let (n_lo, n_hi) = over_mixed(rows, ratio_to(PeerKind::Nexus, true));
        let (d_lo, d_hi) = over_mixed(rows, ratio_to(PeerKind::DelayQueue, true));
        let (nt_lo, nt_hi) = over_mixed(rows, ratio_to(PeerKind::Nexus, false));
        let (dt_lo, dt_hi) = over_mixed(rows, ratio_to(PeerKind::DelayQueue, false));
        let _ = write!(
            text,
            "It is {n_lo:.1}-{n_hi:.1}x faster than nexus-timer and {d_lo:.1}-{d_hi:.1}x faster than DelayQueue net \
             ({nt_lo:.1}-{nt_hi:.1}x and {dt_lo:.1}-{dt_hi:.1}x on total time; target >= 2x). "
        );
    }
    let big = |peer: PeerKind, of: fn(&Row) -> Duration| {
        rows.iter()
            .filter(|r| r.scenario.starts_with("Mixed1To30s N=1e6") && r.peer == peer)
            .map(of)
            .max()
    };
    if let (Some(op), Some(poll)) = (
        big(PeerKind::Wheel, |r| r.worst_op),
        big(PeerKind::Wheel, |r| r.worst_poll),
    ) {
        let dary = big(PeerKind::DaryLazy, |r| r.worst_op.max(r.worst_poll));
        let _ = write!(
            text,
            "At N=1e6 (mixed) its worst single operation was {:.0} µs and its worst poll {:.2} ms (targets 100 µs, 2 ms; \
             the 4-ary heap's worst operation or poll: {:.1} ms). ",
            op.as_secs_f64() * 1e6,
            poll.as_secs_f64() * 1e3,
            dary.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        );
        let over = |peer: PeerKind| {
            rows.iter()
                .filter(|r| r.scenario.starts_with("Mixed1To30s N=1e6") && r.peer == peer)
                .fold((0, 0), |(o, p), r| (o + r.ops_over, p + r.polls_over))
        };
        let (wheel, alone) = (over(PeerKind::Wheel), over(PeerKind::Null));
        let _ = write!(
            text,
            "Over all its N=1e6 mixed runs, {} of its single operations took over 100 µs and {} of its polls over 2 ms; \
             the harness alone, with no timer structure to blame, had {} operations over 100 µs in the same runs \
             (the machine's own pauses). ",
            wheel.0, wheel.1, alone.0,
        );
    }
    let (b_lo, b_hi) = over_mixed(rows, |w| Some(w.bytes_mean));
    let (b16_lo, b16_hi) = over_mixed(rows, |w| Some(w.bytes_16).filter(|b| !b.is_nan()));
    let (e_lo, e_hi) = over_mixed(rows, |w| Some(w.empty_per_1000).filter(|e| !e.is_nan()));
    if b_lo.is_finite() {
        let _ = write!(
            text,
            "It held {b_lo:.1}-{b_hi:.1} bytes per live timer with a 4-byte payload (target <= 48), {} with 16 bytes, \
             and a loop sleeping to its next_deadline woke for nothing {} times per 1000 wakes (target <= 10). ",
            pair((b16_lo, b16_hi), 1),
            pair((e_lo, e_hi), 1),
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

/// Prints the tables and, if `ROUSE_BENCH_MD` is set, writes the section.
pub(crate) fn emit(rows: &[Row], runs: usize, quick: bool) {
    let mut table = format!("{HEADER}\n{RULE}\n");
    for row in rows {
        table.push_str(&line(row));
        table.push('\n');
    }
    let mut warm = format!("{WARM_HEADER}\n{WARM_RULE}\n");
    for l in rows.iter().filter_map(warm_line) {
        warm.push_str(&l);
        warm.push('\n');
    }
    let reading = reading(rows);
    let machine = machine();
    println!("\n{table}\n{warm}\n{reading}\nmachine: {machine}");
    if std::env::var_os("ROUSE_BENCH_MD").is_none() {
        return;
    }
    let mut md = String::new();
    let _ = writeln!(md, "## Timers\n");
    let env: String = ["ROUSE_BENCH_RUNS", "ROUSE_BENCH_ONLY", "ROUSE_BENCH_FILTER"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}='{v}' ")))
        .collect();
    let _ = writeln!(
        md,
        "Command: `{env}cargo xtask bench timer`{}\n",
        if quick {
            " (a subset, or ROUSE_BENCH_QUICK=1: sizes / 10)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "Machine: {machine}. Median of {runs} rounds, the peers taking turns within each round; in brackets the \
         lowest and highest round (worst op and poll: worst of all rounds; 16-byte payload and empty wakes: first round).\n"
    );
    let _ = writeln!(
        md,
        "Workload: N requests in flight, each inserting a timeout (fixed 5 s or uniform 1-30 s) whose response \
         arrives N requests later and cancels it with the given probability; virtual time advances 1 µs per request \
         and the loop expires due timers and asks for the next deadline every 1 ms (1000 requests = one loop \
         iteration). Each run fills the structure synthetically, then warms up on the real workload in windows of \
         1e6 requests until the mean ns/request of the last 4 windows is within 5% of the 4 before (8 to 40 windows; \
         the second table says how long it took and what the first window after the fill measured, which flatters \
         structures whose memory is still in insertion order), then measures 3e6 requests: ns/op from iterations \
         timed whole, p99.99 and worst single operation (insert, cancel or release) from the alternate iterations \
         where each is timed alone, worst poll (expire + next_deadline) from all; ops >100 µs / polls >2 ms counts, over all rounds, the single \
         operations and polls that passed the timer issue's limits (the harness-alone row's count is the machine's \
         own pauses: a worst case on this VM is often one descheduling). ns/op includes the harness's own \
         bookkeeping, identical for every peer; net vs 4-ary subtracts the harness-alone row from both. B/live: heap \
         bytes the structure holds (garbage and slack included) per live timer, mean over the window (the 16-byte \
         payload run warms up 8 windows). Empty wakes: a separate run of 1e5 timers of the scenario's timeouts, the \
         scenario's share cancelled at once, the loop sleeping to next_deadline() each time. \
         `TimerWheel::<u32>::bytes_per_timer()` = {} bytes (slot and bucket entry, before slack). \
         Timings on a shared 2-core VM with other builds running move between rounds; read ratios of one round.\n",
        rouse_timer::TimerWheel::<u32>::bytes_per_timer(),
    );
    md.push_str(&table);
    let _ = writeln!(md, "\nWarm-up (post-fill numbers are not steady state):\n");
    md.push_str(&warm);
    let _ = writeln!(md, "\n{reading}");
    rouse_bench_support::write_section(&md);
}
