//! The demo's claim, checked against the embedded mock with short timings:
//! with wakeups each send is acknowledged far sooner than the poll timeout,
//! without them each record waits for the poll to time out; and the
//! consumer phase's blocked poll returns on a record or a `wakeup()` far
//! sooner than its timeout.

#[allow(dead_code)]
#[path = "../examples/demo_wakeup/consumer.rs"]
mod consumer;
#[allow(dead_code)] // the demo's printing helpers are not all used here
#[path = "../examples/demo_wakeup/experiment.rs"]
mod experiment;
#[allow(dead_code)]
#[path = "../examples/demo_wakeup/report.rs"]
mod report;

use std::time::Duration;

use experiment::{Progress, Send, Settings};

struct Quiet;

impl Progress for Quiet {
    fn row(&mut self, _: bool, _: &Send) {}
    fn waiting(&mut self, _: bool, _: u32, _: Duration) {}
}

fn ms(value: &serde_json::Value, field: &str) -> f64 {
    value[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {value}"))
}

#[test]
fn wakeups_cut_send_to_ack_from_the_poll_timeout_to_almost_nothing() {
    let poll_timeout = Duration::from_millis(400);
    let settings = Settings {
        poll_timeout,
        interval: Duration::from_millis(120),
        sends: 3,
        topic: "demo-test".into(),
        bootstrap: None,
        client_settings: Vec::new(),
        consumer: true,
    };
    let report = experiment::run(&settings, &mut Quiet).expect("the demo runs on the mock");
    let json = report::to_json(&report);
    let phases = json["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 2, "{json}");
    let (off, on) = (&phases[0], &phases[1]);
    assert_eq!(off["wakeups"], false);
    assert_eq!(on["wakeups"], true);
    let timeout_ms = poll_timeout.as_secs_f64() * 1e3;

    for send in off["sends"].as_array().expect("sends") {
        // The poller slept its whole timeout before it saw the record, and
        // the record waited for the rest of that poll.
        let poll = ms(send, "poll_ms");
        assert!(
            poll >= 0.8 * timeout_ms,
            "wakeups off, poll {poll} ms: {json}"
        );
        assert!(
            ms(send, "ack_ms") >= 0.25 * timeout_ms,
            "wakeups off: {json}"
        );
    }
    for send in on["sends"].as_array().expect("sends") {
        assert!(ms(send, "ack_ms") < 0.25 * timeout_ms, "wakeups on: {json}");
        assert!(ms(send, "poll_ms") < 0.8 * timeout_ms, "wakeups on: {json}");
    }
    let ratio = json["median_ratio_off_to_on"].as_f64().expect("ratio");
    assert!(ratio > 2.0, "{json}");
    // Every send asked for a wake. A wake is one write, plus a second when
    // the poller drained the first before the writer finished (so an
    // edge-triggered poller cannot miss it): never more than two per send.
    let sends = on["sends"].as_array().map_or(0, Vec::len) as u64;
    let syscalls = on["wake_syscalls"].as_u64().expect("count");
    assert!((1..=2 * sends).contains(&syscalls), "{json}");
    assert_eq!(off["wakes_requested"].as_u64(), Some(0), "{json}");
    assert_eq!(off["wake_syscalls"].as_u64(), Some(0), "{json}");

    let consumer = &json["consumer"];
    let events = consumer["events"].as_array().expect("consumer events");
    assert_eq!(events.len(), 6, "a record and a wakeup per send: {json}");
    for event in events {
        // The poll returns on the record (on the mock, after at most its
        // held fetch, 20 ms) or the wakeup, never at its timeout.
        assert!(
            ms(event, "blocked_ms") < 0.8 * timeout_ms,
            "consumer {}: {json}",
            event["wake"]
        );
        assert!(
            ms(event, "returned_after_ms") < 0.25 * timeout_ms,
            "consumer {}: {json}",
            event["wake"]
        );
    }
    assert_eq!(events[0]["wake"], "record");
    assert_eq!(events[1]["wake"], "wakeup()");
}
