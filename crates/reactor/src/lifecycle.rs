//! The loop's cross-thread lifecycle: stop requests, work posted from other
//! threads, and closing. [`Handle`](crate::Handle) and
//! [`EventLoop`](crate::EventLoop) call these methods and nothing else
//! touches the flags, so the loom models in `loom_tests.rs` run exactly the
//! code production runs.
//!
//! # Contracts (each checked by a loom model)
//!
//! 1. **A stop is never lost.** [`Lifecycle::request_stop`] raises the flag
//!    and only then wakes the loop. The loop takes the flag at the top of
//!    every iteration ([`Lifecycle::take_stop`]) and looks again before it
//!    sleeps ([`Lifecycle::work_waiting`]); a wake that comes after that
//!    look ends the sleep at once. So a stop from any thread ends the run in
//!    progress after its current iteration, or, if none is in progress, the
//!    next run at once. Everything the stopping thread did before the stop
//!    happens-before the run's return (Release store, AcqRel take).
//! 2. **Posted work is never stranded.** [`Lifecycle::post`] reads the
//!    closed flag under the queue's lock, and [`Lifecycle::close`] sets it
//!    under the same lock as it empties the queue. So a post is either
//!    refused and handed back (the handle answers `LoopClosed`), or queued
//!    before the close: then it runs on the loop's next iteration (the post
//!    pushes, then wakes), or, if the loop closes first, it is among what
//!    `close` returns, which the loop reports by name. Nothing is ever
//!    queued after a close, so nothing runs after it.
//! 3. **`is_closed` publishes the close.** [`Lifecycle::is_closed`] is true
//!    once `close` has run, and everything the loop thread did before closing
//!    happens-before an `is_closed` that answers true (Release / Acquire).
//!
//! The watchdog thread's stop is contract 1 again with a [`StopFlag`] of its
//! own: its thread exits at once after the flag is raised.
//!
//! # Why the wake is a closure
//!
//! The OS waker (an eventfd under mio) cannot run under loom, so the wake is
//! an argument: production passes the loop's `Waker::wake` (the watchdog its
//! thread's `unpark`), the models pass loom's `unpark`. That has the one
//! property the loop relies on from its waker: a wake after the sleeper's
//! last look ends its next sleep at once (a park token, as an eventfd stays
//! readable until the loop's reset drains it); rouse-waker's own loom models
//! check that its `Waker` keeps that promise. A closure rather than a trait:
//! one call, two callers, nothing to store.

use std::sync::atomic::Ordering;

use crate::sync::{AtomicBool, Mutex};

/// A flag one thread raises for another that may be asleep (the loop's stop
/// request, the watchdog's stop).
#[derive(Debug)]
pub(crate) struct StopFlag(AtomicBool);

impl StopFlag {
    /// A lowered flag.
    pub(crate) fn new() -> StopFlag {
        StopFlag(AtomicBool::new(false))
    }

    /// Raises the flag, then wakes the sleeper. In this order: a sleeper the
    /// wake ends then finds the flag raised. The other order lets it wake,
    /// look, find nothing, and sleep through the stop.
    pub(crate) fn raise(&self, wake: impl FnOnce()) {
        self.0.store(true, Ordering::Release);
        wake();
    }

    /// Whether the flag is raised; if so, what the raiser did before raising
    /// it is visible.
    pub(crate) fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Lowers the flag, saying whether it was raised: each raise is taken
    /// once (a stop ends one run, not every later one).
    pub(crate) fn take(&self) -> bool {
        // A load first: the loop takes the flag every iteration and it is
        // almost never raised, so the common case writes nothing. (It also
        // keeps the models clear of loom 0.7's modelling of a swap that
        // races a store, tokio-rs/loom#254, which lets the swap miss a store
        // that happened before it.)
        self.is_raised() && self.0.swap(false, Ordering::AcqRel)
    }
}

/// What other threads share with the loop about its life: the queue of work
/// they post (`T`: the loop's commands), the stop request and the closed
/// flag. See the module docs for the contracts.
pub(crate) struct Lifecycle<T> {
    queue: Mutex<Vec<T>>,
    closed: AtomicBool,
    stop: StopFlag,
}

impl<T> Lifecycle<T> {
    /// An open loop's: nothing queued, no stop requested.
    pub(crate) fn new() -> Lifecycle<T> {
        Lifecycle {
            queue: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            stop: StopFlag::new(),
        }
    }

    /// Queues `item` for the loop's next iteration, then calls `wake`; hands
    /// `item` back if the loop is closed (and does not wake it).
    pub(crate) fn post(&self, item: T, wake: impl FnOnce()) -> Result<(), T> {
        {
            let mut queue = self.queue.lock();
            // Under the lock `close` holds while it sets the flag and drains:
            // an open loop's queue is drained after this push, a closed one's
            // is never pushed to. The lock orders it, so Relaxed is enough.
            if self.closed.load(Ordering::Relaxed) {
                return Err(item);
            }
            queue.push(item);
        }
        wake();
        Ok(())
    }

    /// Moves everything posted so far to the end of `into` (the loop runs it
    /// this iteration; what is posted from now on waits for the next).
    pub(crate) fn take_posted(&self, into: &mut Vec<T>) {
        into.append(&mut *self.queue.lock());
    }

    /// Whether anything is posted and not yet taken.
    pub(crate) fn has_posted(&self) -> bool {
        !self.queue.lock().is_empty()
    }

    /// Asks the loop to stop: raises the stop flag, then calls `wake`.
    pub(crate) fn request_stop(&self, wake: impl FnOnce()) {
        self.stop.raise(wake);
    }

    /// Takes the stop request, if there is one (the loop's top of iteration).
    pub(crate) fn take_stop(&self) -> bool {
        self.stop.take()
    }

    /// Whether the loop must not sleep: a stop or posted work is waiting.
    pub(crate) fn work_waiting(&self) -> bool {
        self.stop.is_raised() || self.has_posted()
    }

    /// Closes the loop for good: every later post is refused. Returns what
    /// was posted and never taken, for the caller to report and drop (outside
    /// the lock, so their destructors may post: they are refused).
    pub(crate) fn close(&self) -> Vec<T> {
        let mut queue = self.queue.lock();
        self.closed.store(true, Ordering::Release);
        std::mem::take(&mut *queue)
    }

    /// Whether [`close`](Lifecycle::close) has run; if so, what the loop
    /// thread did before closing is visible.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_stop_is_taken_once() {
        let lifecycle = Lifecycle::<u8>::new();
        let woken = Cell::new(0);
        lifecycle.request_stop(|| woken.set(woken.get() + 1));
        assert_eq!(woken.get(), 1);
        assert!(lifecycle.work_waiting());
        assert!(lifecycle.take_stop());
        assert!(!lifecycle.take_stop());
        assert!(!lifecycle.work_waiting());
    }

    #[test]
    fn posts_wake_and_are_taken_in_order() {
        let lifecycle = Lifecycle::new();
        let woken = Cell::new(0);
        lifecycle.post(1, || woken.set(woken.get() + 1)).unwrap();
        lifecycle.post(2, || woken.set(woken.get() + 1)).unwrap();
        assert_eq!(woken.get(), 2);
        assert!(lifecycle.work_waiting());
        let mut taken = vec![0];
        lifecycle.take_posted(&mut taken);
        assert_eq!(taken, [0, 1, 2]);
        assert!(!lifecycle.has_posted());
    }

    #[test]
    fn close_hands_back_what_was_not_taken_and_refuses_the_rest() {
        let lifecycle = Lifecycle::new();
        lifecycle.post("queued", || {}).unwrap();
        assert!(!lifecycle.is_closed());
        assert_eq!(lifecycle.close(), ["queued"]);
        assert!(lifecycle.is_closed());
        let woken = Cell::new(false);
        assert_eq!(lifecycle.post("late", || woken.set(true)), Err("late"));
        assert!(!woken.get(), "a refused post must not wake the closed loop");
        let mut taken = Vec::new();
        lifecycle.take_posted(&mut taken);
        assert!(taken.is_empty());
    }
}
