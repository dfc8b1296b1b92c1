//! [`EventLoop`]: one thread's loop, read top to bottom in
//! [`EventLoop::run_once`].
//!
//! Each iteration, as tornado's `IOLoop.start` does it:
//!
//! 1. take the callbacks queued so far (later ones wait for the next round,
//!    so a callback that re-queues itself cannot starve I/O), and the timers
//!    due now (timers they schedule cannot join this round);
//! 2. run the callbacks, then the due timers, then the prepare hooks;
//! 3. compute the poll timeout: 0 if work is already waiting, else the time
//!    to the next timer, capped by the default timeout — never a busy loop,
//!    never sleeping past a due timer; on Linux a timerfd armed to that
//!    timer's exact deadline ends the sleep on time (`precise_wake.rs`);
//! 4. announce the sleep to the waker, poll, reset the waker;
//! 5. deliver caught signals, then readiness to handlers (plus the
//!    level-triggered handlers still owed a call).
//!
//! Every piece of user code gets the loop and the data passed to
//! [`EventLoop::run`] (calloop's `EventLoop<Data>`): state shared by a
//! handler, its timers and its callbacks lives there, borrowed for one call
//! at a time, instead of behind `Rc<RefCell<..>>` in every closure.

use std::io;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest as MioInterest, Poll};
use rouse_timer::{Clock, Expired, MonotonicClock};
use rouse_waker::Waker;

use crate::handle::{report_unrun, Command, Handle, Shared};
use crate::io_table::{IoTable, SourceKey, WAKER_TOKEN};
use crate::metrics::Metrics;
use crate::precise_wake::{PreciseWake, TIMER_TOKEN};
use crate::signals::SignalTable;
use crate::timer_table::{TimerEntry, TimerTable};
use crate::watchdog::Watchdog;
use crate::Ready;

/// tornado's `_POLL_TIMEOUT`: the longest sleep with nothing scheduled.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long the loop sleeps when the wheel's answer is a lower bound that has
/// passed with nothing due (the real deadline is later, but unknown): a
/// millisecond rather than a spin.
const TICK: Duration = Duration::from_millis(1);

/// Configures an [`EventLoop`] whose user code gets a `&mut D`.
pub struct Builder<D = ()> {
    default_timeout: Option<Duration>,
    clock: Option<Arc<dyn Clock>>,
    blocked_threshold: Option<Duration>,
    events_capacity: Option<usize>,
    precise_timers: bool,
    data: PhantomData<fn(&mut D)>,
}

impl<D> Default for Builder<D> {
    fn default() -> Builder<D> {
        Builder {
            default_timeout: None,
            clock: None,
            blocked_threshold: None,
            events_capacity: None,
            precise_timers: true,
            data: PhantomData,
        }
    }
}

impl<D> Builder<D> {
    /// The longest the loop sleeps with no timer pending (default one hour,
    /// as tornado). Wakes, signals and readiness end a sleep at once anyway.
    pub fn default_timeout(mut self, timeout: Duration) -> Builder<D> {
        self.default_timeout = Some(timeout);
        self
    }

    /// The clock timers are read from (default: the monotonic clock). With a
    /// [`ManualClock`](rouse_timer::ManualClock), advance time by hand and
    /// drive the loop with `run_once(Some(Duration::ZERO))`: timer-heavy
    /// scenarios then run deterministically, without sleeping.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Builder<D> {
        self.clock = Some(clock);
        self
    }

    /// Turns on the blocked-loop detector: a handler, callback or timer that
    /// keeps the loop thread busy longer than `threshold` is reported with a
    /// `tracing` warning while it runs and again when it returns.
    pub fn blocked_threshold(mut self, threshold: Duration) -> Builder<D> {
        self.blocked_threshold = Some(threshold);
        self
    }

    /// How many readiness events one poll may return (default 1024).
    pub fn events_capacity(mut self, capacity: usize) -> Builder<D> {
        self.events_capacity = Some(capacity);
        self
    }

    /// Whether timers end the loop's sleep at their exact deadline (default
    /// on). On Linux that is a timerfd in the poller, armed to the next
    /// timer's deadline when it is under 50 ms away and changed: one
    /// `timerfd_settime` per new deadline. Off (and on other platforms), the
    /// poller's own timeout ends the sleep: `epoll_wait` counts whole
    /// milliseconds, so a timer fires up to 1 ms late. Never early either
    /// way.
    pub fn precise_timers(mut self, on: bool) -> Builder<D> {
        self.precise_timers = on;
        self
    }

    /// Creates the loop: a poller, a waker, and (if asked) the watchdog
    /// thread. Fails with the failing call's error (e.g. out of fds).
    pub fn build(self) -> io::Result<EventLoop<D>> {
        let poll = Poll::new()?;
        let mut waker = Waker::new()?;
        poll.registry()
            .register(&mut waker, WAKER_TOKEN, MioInterest::READABLE)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(MonotonicClock));
        let watchdog = self.blocked_threshold.map(Watchdog::start).transpose()?;
        let precise = PreciseWake::new(poll.registry(), self.precise_timers);
        Ok(EventLoop {
            poll,
            events: Events::with_capacity(self.events_capacity.unwrap_or(1024).max(1)),
            io: IoTable::default(),
            timers: TimerTable::new(clock.now()),
            precise,
            shared: Arc::new(Shared::new(waker, clock)),
            local: Vec::new(),
            signals: SignalTable::default(),
            default_timeout: self.default_timeout.unwrap_or(DEFAULT_TIMEOUT),
            watchdog,
            metrics: Metrics::default(),
            commands: Vec::new(),
            due: Vec::new(),
            ready: Vec::new(),
            dispatching: None,
            prepare: Vec::new(),
        })
    }
}

/// A tornado-style event loop on mio whose handlers, callbacks, timers,
/// prepare hooks and signal handlers get `&mut D`, the data passed to
/// [`run`](EventLoop::run); see the crate docs. `D` defaults to `()` for
/// loops whose closures keep their own state.
///
/// Not `Send`: build it on the thread that runs it, and reach it from other
/// threads through its [`Handle`].
pub struct EventLoop<D = ()> {
    pub(crate) poll: Poll,
    events: Events,
    pub(crate) io: IoTable<D>,
    pub(crate) timers: TimerTable<D>,
    precise: PreciseWake,
    pub(crate) shared: Arc<Shared<D>>,
    pub(crate) local: Vec<crate::dispatch::LocalCallback<D>>,
    pub(crate) signals: SignalTable<D>,
    default_timeout: Duration,
    pub(crate) watchdog: Option<Watchdog>,
    pub(crate) metrics: Metrics,
    commands: Vec<Command<D>>,
    due: Vec<Expired<TimerEntry<D>>>,
    ready: Vec<(SourceKey, Ready)>,
    pub(crate) dispatching: Option<SourceKey>,
    pub(crate) prepare: Vec<crate::scheduling::PrepareHook<D>>,
}

impl<D> EventLoop<D> {
    /// The registration whose handler is running, so a handler can change
    /// its own interest or remove itself; `None` outside handlers.
    pub fn current_source(&self) -> Option<SourceKey> {
        self.dispatching
    }

    /// A loop with the default settings.
    pub fn new() -> io::Result<EventLoop<D>> {
        Builder::default().build()
    }

    /// Configures a loop.
    pub fn builder() -> Builder<D> {
        Builder::default()
    }

    /// The thread-safe handle other threads use.
    pub fn handle(&self) -> Handle<D> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The loop's clock.
    pub fn now(&self) -> Instant {
        self.shared.clock.now()
    }

    /// Makes `run` return after this iteration (if no run is in progress,
    /// the next one returns at once).
    pub fn stop(&mut self) {
        // Our own thread: it is awake, no wake needed.
        self.shared.lifecycle.request_stop(|| {});
    }

    /// Runs until [`stop`](EventLoop::stop) (from any thread), lending
    /// `data` to every handler, callback and timer. A stop that came before
    /// the call makes it return at once; a stop is never lost (one from
    /// another thread wakes a sleeping loop), and each stop ends one run.
    /// Only errors of the poller itself end it early; handler errors never
    /// do.
    pub fn run(&mut self, data: &mut D) -> io::Result<()> {
        self.run_until(data, |_, _| false)
    }

    /// Runs until `done` returns true or until stopped. `done` is checked
    /// before every iteration and again before the loop would sleep, so a
    /// callback or timer that makes it true ends the run without a sleep.
    pub fn run_until(
        &mut self,
        data: &mut D,
        mut done: impl FnMut(&mut EventLoop<D>, &mut D) -> bool,
    ) -> io::Result<()> {
        loop {
            if self.shared.lifecycle.take_stop() || done(self, data) {
                return Ok(());
            }
            self.turn(data, None, &mut done)?;
        }
    }

    /// One iteration, for embedding the loop in another; sleeps at most
    /// `max_wait` (`None`: as long as the loop would).
    pub fn run_once(&mut self, data: &mut D, max_wait: Option<Duration>) -> io::Result<()> {
        self.turn(data, max_wait, &mut |_, _| false)
    }

    fn turn(
        &mut self,
        data: &mut D,
        max_wait: Option<Duration>,
        done: &mut dyn FnMut(&mut EventLoop<D>, &mut D) -> bool,
    ) -> io::Result<()> {
        self.metrics.iterations += 1;
        let span = tracing::debug_span!("rouse.iteration", n = self.metrics.iterations);
        let _entered = span.enter();
        let began = Instant::now();

        // 1. What this round runs: work queued so far, timers due now.
        let mut local = std::mem::take(&mut self.local);
        self.shared.lifecycle.take_posted(&mut self.commands);
        let now = self.now();
        let mut due = std::mem::take(&mut self.due);
        self.timers.take_due(now, &mut due);

        // 2. Run it: callbacks first, then timers.
        let mut commands = std::mem::take(&mut self.commands);
        for command in commands.drain(..) {
            self.run_command(data, command);
        }
        self.commands = commands;
        for callback in local.drain(..) {
            self.run_local(data, callback);
        }
        if self.local.is_empty() {
            self.local = local; // keep the allocation; nothing new was queued
        }
        for timer in due.drain(..) {
            self.run_timer(data, timer, now);
        }
        if self.due.is_empty() {
            self.due = due;
        }

        self.run_prepare_hooks(data);

        // 3-4. Sleep until the next thing to do (not at all if the caller
        // is done: run_until must not block after its goal was reached).
        let timeout = if done(self, data) {
            Duration::ZERO
        } else {
            self.poll_timeout(max_wait)
        };
        let poll_began = Instant::now();
        self.poll_once(timeout)?;
        let idle = poll_began.elapsed();

        // 5. Signals, then readiness.
        self.deliver_signals(data);
        self.deliver_readiness(data);

        self.metrics.idle += idle;
        self.metrics.busy += began.elapsed().saturating_sub(idle);
        Ok(())
    }

    fn poll_timeout(&mut self, max_wait: Option<Duration>) -> Duration {
        // The stop and posted work are looked at here, after this round
        // took them: one that comes later wakes the poll below.
        let work_waiting = !self.local.is_empty()
            || self.io.any_level_owed()
            || self.shared.lifecycle.work_waiting();
        if work_waiting {
            return Duration::ZERO;
        }
        let cap = max_wait.map_or(self.default_timeout, |w| w.min(self.default_timeout));
        self.timer_timeout(cap)
    }

    /// Time to the next timer, at most `cap`. Only a timer that bounds the
    /// sleep arms the precise wake.
    fn timer_timeout(&mut self, cap: Duration) -> Duration {
        let Some(deadline) = self.timers.next_deadline() else {
            return cap;
        };
        let now = self.now();
        if deadline > now {
            if deadline - now > cap {
                return cap;
            }
            return self.precise.sleep_to(now, deadline);
        }
        // The wheel answers with a lower bound. If something is truly due,
        // take it for the next round and do not sleep; if not, the bound
        // came from a cancelled timer in a bucket too large to rescan, and
        // the real deadline is unknown: sleep a tick rather than spin.
        self.timers.take_due(now, &mut self.due);
        if self.due.is_empty() {
            TICK.min(cap)
        } else {
            Duration::ZERO
        }
    }

    fn poll_once(&mut self, mut timeout: Duration) -> io::Result<()> {
        if !timeout.is_zero() && !self.shared.waker.prepare_sleep() {
            timeout = Duration::ZERO; // a wake came in while we were busy
        }
        let result = self.poll.poll(&mut self.events, Some(timeout));
        self.shared.waker.reset();
        match result {
            Ok(()) => Ok(()),
            // A signal interrupted the poll: not an error, just a short sleep.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                self.events.clear();
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    fn deliver_readiness(&mut self, data: &mut D) {
        let round = self.metrics.iterations;
        let mut ready = std::mem::take(&mut self.ready);
        for event in self.events.iter() {
            if event.token() == WAKER_TOKEN {
                tracing::trace!("event loop woken by its waker");
                continue;
            }
            if event.token() == TIMER_TOKEN {
                tracing::trace!("event loop woken by its timerfd");
                self.precise.fired();
                continue;
            }
            self.io
                .queue_event(event.token(), Ready::from_event(event), round, &mut ready);
        }
        self.io.queue_level_owed(round, &mut ready);
        for (key, seen) in ready.drain(..) {
            self.dispatch(data, key, seen);
        }
        self.ready = ready;
    }

    /// A snapshot of the loop's counters.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.metrics.clone();
        m.registrations = self.io.len();
        m.pending_timers = self.timers.len();
        if let Some(w) = &self.watchdog {
            (m.blocked_reports, m.slow_calls) = w.counts();
        }
        let wakes = self.shared.waker.stats();
        m.wakes_requested = wakes.wakes_requested;
        m.wake_syscalls = wakes.wake_syscalls;
        (m.timer_wake_armed_at, m.timer_wake_arms, m.timer_wakes) = self.precise.counts();
        m
    }
}

impl<D> Drop for EventLoop<D> {
    /// Closes the loop: from here on its handles refuse everything (and say
    /// [`is_closed`](Handle::is_closed)); work they queued that never ran is
    /// reported, then every registration is removed (its source closed).
    fn drop(&mut self) {
        let unrun = self.shared.lifecycle.close();
        for key in self.io.keys() {
            self.remove(key);
        }
        // Dropped outside the queue's lock: their destructors may use a
        // handle (and are refused).
        report_unrun(unrun);
    }
}

impl<D> std::fmt::Debug for EventLoop<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("registrations", &self.io.len())
            .field("timers", &self.timers.len())
            .finish_non_exhaustive()
    }
}
