//! The results, as a side-by-side summary for people and as JSON for tools.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use super::consumer::{ConsumerPhase, Event, Wake};
use super::experiment::{Phase, Report, Send};

/// Milliseconds with one decimal, for tables.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// A phase's name in tables and JSON.
pub(crate) fn phase_name(wakeups: bool) -> &'static str {
    if wakeups {
        "wakeups on"
    } else {
        "wakeups off"
    }
}

/// One printed row per send.
pub(crate) fn row(wakeups: bool, send: &Send) -> String {
    let poll = send.poll.map_or_else(|| "-".to_string(), ms);
    format!(
        "{:<12} send {:>2}  poller slept {:>10} before it saw the record  send-to-ack {:>10}  \
         partition {} offset {}",
        phase_name(wakeups),
        send.seq,
        poll,
        ms(send.ack),
        send.partition,
        send.offset
    )
}

/// One printed row per consumer-phase event.
pub(crate) fn consumer_row(event: &Event) -> String {
    let from = match event.wake {
        Wake::Record => "its ack",
        Wake::Wakeup => "the call",
    };
    format!(
        "{:<12} {:<8} {:>2}  poll returned {:>10} after {from:<8} (blocked {:>10})",
        "consumer",
        event.wake.name(),
        event.seq,
        ms(event.returned_after),
        ms(event.blocked),
    )
}

/// The consumer phase's lines of the summary, and its sentence.
fn consumer_summary(out: &mut String, report: &Report, phase: &ConsumerPhase) {
    let timeout = ms(report.settings.poll_timeout);
    let _ = writeln!(
        out,
        "\nconsumer: poll({timeout}) on an idle partition (fetch.max.wait.ms {})",
        ms(phase.fetch_max_wait)
    );
    let _ = writeln!(
        out,
        "{:<28} {:>14}",
        "median record ack -> poll",
        ms(phase.median(Wake::Record))
    );
    let _ = writeln!(
        out,
        "{:<28} {:>14}",
        "median wakeup() -> poll",
        ms(phase.median(Wake::Wakeup))
    );
    let _ = writeln!(
        out,
        "{:<28} {:>14}",
        "poller wakes / syscalls",
        format!("{} / {}", phase.wakes_requested, phase.wake_syscalls)
    );
    let _ = writeln!(out, "\n{}", consumer_meaning(report, phase));
}

/// One sentence on the consumer phase.
pub(crate) fn consumer_meaning(report: &Report, phase: &ConsumerPhase) -> String {
    format!(
        "A consumer blocked in poll({}) returned a median {} after a record's acknowledgement, \
         as soon as its poller had fetched the record, and {} after another thread's \
         wakeup(), instead of at the timeout.",
        ms(report.settings.poll_timeout),
        ms(phase.median(Wake::Record)),
        ms(phase.median(Wake::Wakeup)),
    )
}

/// The side-by-side summary and the sentence that reads it.
pub(crate) fn summary(report: &Report) -> String {
    let (off, on) = phases(report);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:>14} {:>14}",
        "",
        phase_name(false),
        phase_name(true)
    );
    let line = |out: &mut String, what: &str, a: String, b: String| {
        let _ = writeln!(out, "{what:<28} {a:>14} {b:>14}");
    };
    line(
        &mut out,
        "median send-to-ack",
        ms(off.median_ack()),
        ms(on.median_ack()),
    );
    line(
        &mut out,
        "max send-to-ack",
        ms(off.max_ack()),
        ms(on.max_ack()),
    );
    line(
        &mut out,
        "wakes requested / syscalls",
        format!("{} / {}", off.wakes_requested, off.wake_syscalls),
        format!("{} / {}", on.wakes_requested, on.wake_syscalls),
    );
    let _ = writeln!(
        out,
        "median ratio (off / on)      {:>14.0}x",
        ratio(off, on)
    );
    let _ = writeln!(out, "\n{}", meaning(report));
    if let Some(phase) = &report.consumer {
        consumer_summary(&mut out, report, phase);
    }
    out
}

/// One sentence: what the numbers mean.
pub(crate) fn meaning(report: &Report) -> String {
    let (off, on) = phases(report);
    format!(
        "Without wakeups each record sat in the queue until the poller's {} poll timed out \
         (median {}); with them the sender woke the poller at once and the record was \
         acknowledged in {} — {:.0}x sooner, for {} wake syscalls across {} sends.",
        ms(report.settings.poll_timeout),
        ms(off.median_ack()),
        ms(on.median_ack()),
        ratio(off, on),
        on.wake_syscalls,
        on.sends.len()
    )
}

/// The same results for tools.
pub(crate) fn to_json(report: &Report) -> Value {
    let (off, on) = phases(report);
    json!({
        "settings": {
            "poll_timeout_ms": millis(report.settings.poll_timeout),
            "interval_ms": millis(report.settings.interval),
            "sends": report.settings.sends,
            "topic": report.settings.topic,
            "bootstrap": report.bootstrap,
            "embedded_mock": report.embedded_mock,
        },
        "phases": report.phases.iter().map(phase_json).collect::<Vec<_>>(),
        "median_ratio_off_to_on": ratio(off, on),
        "meaning": meaning(report),
        "consumer": report.consumer.as_ref().map(|phase| consumer_json(report, phase)),
    })
}

fn consumer_json(report: &Report, phase: &ConsumerPhase) -> Value {
    json!({
        "fetch_max_wait_ms": millis(phase.fetch_max_wait),
        "median_record_ms": millis(phase.median(Wake::Record)),
        "median_wakeup_ms": millis(phase.median(Wake::Wakeup)),
        "wakes_requested": phase.wakes_requested,
        "wake_syscalls": phase.wake_syscalls,
        "events": phase.events.iter().map(|e| json!({
            "seq": e.seq,
            "wake": e.wake.name(),
            "returned_after_ms": millis(e.returned_after),
            "blocked_ms": millis(e.blocked),
        })).collect::<Vec<_>>(),
        "meaning": consumer_meaning(report, phase),
    })
}

fn phase_json(phase: &Phase) -> Value {
    json!({
        "phase": phase_name(phase.wakeups),
        "wakeups": phase.wakeups,
        "median_ack_ms": millis(phase.median_ack()),
        "max_ack_ms": millis(phase.max_ack()),
        "wakes_requested": phase.wakes_requested,
        "wake_syscalls": phase.wake_syscalls,
        "sends": phase.sends.iter().map(|s| json!({
            "seq": s.seq,
            "poll_ms": s.poll.map(millis),
            "ack_ms": millis(s.ack),
            "partition": s.partition,
            "offset": s.offset,
        })).collect::<Vec<_>>(),
    })
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(off: &Phase, on: &Phase) -> f64 {
    off.median_ack().as_secs_f64() / on.median_ack().as_secs_f64().max(1e-6)
}

fn phases(report: &Report) -> (&Phase, &Phase) {
    (&report.phases[0], &report.phases[1])
}
