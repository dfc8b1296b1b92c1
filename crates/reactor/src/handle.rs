//! [`Handle`]: the loop's thread-safe face. Any thread may queue callbacks,
//! schedule and cancel timers, and stop the loop; each costs a short lock and
//! at most one wake syscall per loop sleep (the waker coalesces the rest, and
//! none at all while the loop is awake).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rouse_timer::{saturating_add, Clock};
use rouse_waker::{Waker, WakerStats};

use crate::error::LoopClosed;
use crate::lifecycle::Lifecycle;
use crate::EventLoop;

/// A callback queued from another thread.
pub(crate) type SendCallback<D> = Box<dyn FnOnce(&mut EventLoop<D>, &mut D) + Send>;

/// Names a scheduled timer (one-shot or periodic) for [`Handle::cancel`] and
/// [`EventLoop::cancel`]. Ids are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub(crate) u64);

/// Work handed to the loop thread, run in the order it was queued.
pub(crate) enum Command<D> {
    Callback {
        name: &'static str,
        run: SendCallback<D>,
    },
    Timer {
        id: TimerId,
        at: Instant,
        name: &'static str,
        run: SendCallback<D>,
    },
    Cancel(TimerId),
}

/// What the loop shares with its handles.
pub(crate) struct Shared<D> {
    pub(crate) waker: Waker,
    /// The queue, the stop request and the closed flag (their contracts are
    /// in `lifecycle.rs`).
    pub(crate) lifecycle: Lifecycle<Command<D>>,
    next_timer: AtomicU64,
    pub(crate) clock: Arc<dyn Clock>,
}

impl<D> Shared<D> {
    pub(crate) fn new(waker: Waker, clock: Arc<dyn Clock>) -> Shared<D> {
        Shared {
            waker,
            lifecycle: Lifecycle::new(),
            next_timer: AtomicU64::new(1),
            clock,
        }
    }

    pub(crate) fn next_timer_id(&self) -> TimerId {
        TimerId(self.next_timer.fetch_add(1, Ordering::Relaxed))
    }

    /// Queues `command` and wakes the loop; a closed loop refuses it (the
    /// command is dropped here, on the caller's thread).
    fn push(&self, command: Command<D>) -> Result<(), LoopClosed> {
        self.lifecycle
            .post(command, || self.wake())
            .map_err(|_refused| LoopClosed)
    }

    pub(crate) fn wake(&self) {
        if let Err(err) = self.waker.wake() {
            tracing::error!(%err, "waking the event loop failed");
        }
    }
}

/// Reports the work a dropped loop never ran (what other threads queued in
/// its last iteration), then drops it. Callbacks were promised a run, so they
/// are a warning; timers and cancels die with the loop's own timers.
pub(crate) fn report_unrun<D>(commands: Vec<Command<D>>) {
    let (mut callbacks, mut timers, mut first) = (0usize, 0usize, None);
    for command in &commands {
        match command {
            Command::Callback { name, .. } => {
                callbacks += 1;
                first = first.or(Some(*name));
            }
            Command::Timer { .. } => timers += 1,
            Command::Cancel(_) => {}
        }
    }
    if let Some(first) = first {
        tracing::warn!(
            callbacks,
            timers,
            first,
            "the event loop was dropped with callbacks other threads had queued; they will not run"
        );
    } else if timers > 0 {
        tracing::debug!(
            timers,
            "the event loop was dropped with timers queued from other threads"
        );
    }
}

/// The loop's thread-safe handle: `Clone + Send + Sync`, cheap to clone,
/// whatever the loop's data `D` is (the data never leaves the loop thread;
/// only the callbacks that will get it travel).
///
/// Everything it queues runs on the loop thread, in the order queued, on the
/// loop's next iteration, with the loop and its data.
///
/// Racing with the loop's drop, each call has one of two outcomes, never a
/// third: it is refused with [`LoopClosed`] (the callback is dropped on the
/// calling thread and never runs), or it is accepted before the drop began:
/// then it runs, or, if the loop is dropped before its next iteration, it
/// is dropped with the loop and reported (a `tracing` warning naming the
/// first such callback). Nothing accepted runs after the drop began, and
/// nothing is left queued on a dropped loop.
pub struct Handle<D = ()> {
    pub(crate) shared: Arc<Shared<D>>,
}

impl<D> Clone for Handle<D> {
    fn clone(&self) -> Handle<D> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<D> Handle<D> {
    /// Runs `callback` on the loop thread on its next iteration, waking the
    /// loop if it sleeps.
    pub fn add_callback<F>(&self, callback: F) -> Result<(), LoopClosed>
    where
        F: FnOnce(&mut EventLoop<D>, &mut D) + Send + 'static,
    {
        self.shared.push(Command::Callback {
            name: std::any::type_name::<F>(),
            run: Box::new(callback),
        })
    }

    /// Runs `callback` on the loop thread once `delay` has passed on the
    /// loop's clock. Cancel it with the returned id.
    pub fn call_later<F>(&self, delay: Duration, callback: F) -> Result<TimerId, LoopClosed>
    where
        F: FnOnce(&mut EventLoop<D>, &mut D) + Send + 'static,
    {
        let at = saturating_add(self.shared.clock.now(), delay);
        self.call_at(at, callback)
    }

    /// Runs `callback` on the loop thread at `at` on the loop's clock (never
    /// earlier; at once if `at` has passed).
    pub fn call_at<F>(&self, at: Instant, callback: F) -> Result<TimerId, LoopClosed>
    where
        F: FnOnce(&mut EventLoop<D>, &mut D) + Send + 'static,
    {
        let id = self.shared.next_timer_id();
        self.shared.push(Command::Timer {
            id,
            at,
            name: std::any::type_name::<F>(),
            run: Box::new(callback),
        })?;
        Ok(id)
    }

    /// Cancels a timer. Harmless if it already ran or was cancelled.
    pub fn cancel(&self, id: TimerId) -> Result<(), LoopClosed> {
        self.shared.push(Command::Cancel(id))
    }

    /// Wakes the loop without queuing anything: it runs one more iteration
    /// (its prepare hooks included, see [`EventLoop::add_prepare`]). For
    /// producers that hand work over through their own shared structure and
    /// only need the loop to look. Coalesced like every wake: one syscall at
    /// most per sleep, none while the loop is awake.
    pub fn wake(&self) {
        self.shared.wake();
    }

    /// Makes [`EventLoop::run`] return after the current iteration, waking a
    /// sleeping loop at once; if no run is in progress, the next one returns
    /// at once. A stop is never lost, whatever the loop is doing, and what
    /// this thread did before `stop` is visible to the loop thread once the
    /// run it ends returns.
    pub fn stop(&self) {
        let shared = &*self.shared;
        shared.lifecycle.request_stop(|| shared.wake());
    }

    /// Whether the loop was dropped (true from the moment its drop began:
    /// it will run nothing more and refuses everything). Once this answers
    /// true, what the loop thread did before the drop is visible here.
    pub fn is_closed(&self) -> bool {
        self.shared.lifecycle.is_closed()
    }

    /// The loop's clock, as the loop reads it.
    pub fn now(&self) -> Instant {
        self.shared.clock.now()
    }

    /// Wakes requested of the loop and the syscalls they cost.
    pub fn waker_stats(&self) -> WakerStats {
        self.shared.waker.stats()
    }
}

impl<D> std::fmt::Debug for Handle<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
