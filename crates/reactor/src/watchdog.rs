//! The blocked-loop detector: a watchdog thread that notices a handler or
//! callback keeping the loop thread busy past a threshold while it is still
//! running — gevent's monitor thread, tornado's
//! `set_blocking_signal_threshold` and asyncio's `slow_callback_duration`,
//! without signals.
//!
//! The loop thread publishes what it runs and since when (two atomics and a
//! name behind an uncontended lock); the watchdog wakes every quarter
//! threshold, and warns once per call that is over it, naming it. When the
//! call returns, the loop thread warns again with its total time. Times are
//! real (monotonic), whatever clock the loop's timers use.
//!
//! Stopping (the loop's drop) raises a [`StopFlag`] and then unparks the
//! thread, which looks at the flag before every park: the thread exits at
//! once, not a quarter threshold later, and the drop's join cannot hang (a
//! loom model in `loom_tests.rs` runs this code).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::label::Label;
use crate::lifecycle::StopFlag;
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{park_timeout, AtomicU64, Mutex};

struct Published {
    epoch: Instant,
    /// Nanoseconds since `epoch` + 1 when the current call began; 0 = idle.
    busy_since: AtomicU64,
    /// Counts calls, so one long call is reported once.
    call: AtomicU64,
    name: Mutex<Label>,
    reports: AtomicU64,
    slow_calls: AtomicU64,
    stop: StopFlag,
}

/// The loop thread's side of the detector.
pub(crate) struct Watchdog {
    published: Arc<Published>,
    threshold: Duration,
    thread: Option<JoinHandle<()>>,
}

/// A call in progress, returned by [`Watchdog::enter`].
pub(crate) struct Entered {
    started: Instant,
}

impl Watchdog {
    pub(crate) fn start(threshold: Duration) -> std::io::Result<Watchdog> {
        let threshold = threshold.max(Duration::from_millis(1));
        let published = Arc::new(Published {
            epoch: Instant::now(),
            busy_since: AtomicU64::new(0),
            call: AtomicU64::new(0),
            name: Mutex::new(Label::Static("")),
            reports: AtomicU64::new(0),
            slow_calls: AtomicU64::new(0),
            stop: StopFlag::new(),
        });
        let watched = Arc::clone(&published);
        let thread = thread::Builder::new()
            .name("rouse-watchdog".into())
            .spawn(move || watch(&watched, threshold))
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("starting the watchdog thread failed: {e}"),
                )
            })?;
        Ok(Watchdog {
            published,
            threshold,
            thread: Some(thread),
        })
    }

    pub(crate) fn enter(&self, name: &Label) -> Entered {
        let p = &*self.published;
        *p.name.lock() = name.clone();
        p.call.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let since = started.duration_since(p.epoch).as_nanos() as u64 + 1;
        p.busy_since.store(since, Ordering::Release);
        Entered { started }
    }

    pub(crate) fn exit(&self, entered: Entered, name: &Label) {
        self.published.busy_since.store(0, Ordering::Release);
        let took = entered.started.elapsed();
        if took > self.threshold {
            self.published.slow_calls.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                handler = %name,
                took_ms = took.as_secs_f64() * 1e3,
                threshold_ms = self.threshold.as_secs_f64() * 1e3,
                "event loop was blocked: a call ran past the threshold"
            );
        }
    }

    /// Reports made while a call was still running, and calls over threshold.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.published.reports.load(Ordering::Relaxed),
            self.published.slow_calls.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Watchdog {
    /// Stops the thread and waits for it: it exits at once.
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.published.stop.raise(|| thread.thread().unpark());
            let _ = thread.join();
        }
    }
}

fn watch(p: &Published, threshold: Duration) {
    let every = (threshold / 4).max(Duration::from_millis(1));
    let mut reported_call = u64::MAX;
    while !p.stop.is_raised() {
        park_timeout(every);
        let since = p.busy_since.load(Ordering::Acquire);
        let call = p.call.load(Ordering::Relaxed);
        if since == 0 || call == reported_call {
            continue;
        }
        let started = p.epoch + Duration::from_nanos(since - 1);
        let busy = Instant::now().saturating_duration_since(started);
        if busy > threshold {
            reported_call = call;
            p.reports.fetch_add(1, Ordering::Relaxed);
            let name = p.name.lock().clone();
            tracing::warn!(
                handler = %name,
                busy_ms = busy.as_secs_f64() * 1e3,
                threshold_ms = threshold.as_secs_f64() * 1e3,
                "event loop blocked: a call is still running past the threshold"
            );
        }
    }
}
