//! Loom models of the loop's cross-thread lifecycle (the contracts in
//! `lifecycle.rs`) and of the watchdog's stop: whatever the interleaving, a
//! stop is never lost, posted work runs or is handed back or reported (never
//! stranded, never run after the close), `is_closed` publishes the close, and
//! the watchdog thread exits when dropped.
//!
//! The models run the production code: `Lifecycle` and `StopFlag` (through
//! `crate::sync`, loom's atomics and lock), and the watchdog's own `start`,
//! `enter`/`exit` and `Drop`. Only the loop's poll and waker are replaced:
//! the loop thread below makes the lifecycle's calls in `run_until` /
//! `turn`'s order and sleeps in [`Fd::poll`], and a wake is [`Fd::wake`]: a
//! flag under a lock that stays set until the loop's reset, as the eventfd
//! stays readable until the loop drains it (the waker's own models check
//! that the real one behaves so). Not loom's park/unpark: loom spends an
//! unpark on a thread blocked on a lock instead of keeping the token, which
//! the loop thread (it takes the queue's lock) would hit. A lost wake
//! shows as a loom deadlock, a missing happens-before as a stale Relaxed
//! read.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p
//! rouse-reactor --lib --release loom` in a separate `CARGO_TARGET_DIR`
//! (`cargo xtask ci` does).

use std::sync::atomic::Ordering;
use std::time::Duration;

use loom::sync::atomic::AtomicUsize;
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use crate::label::Label;
use crate::lifecycle::Lifecycle;
use crate::watchdog::Watchdog;

/// What the models post: a number, "run" by being counted.
type Job = usize;

/// The loop's waker fd, as the loop's poll sees it.
struct Fd {
    readable: Mutex<bool>,
    written: Condvar,
}

impl Fd {
    fn new() -> Fd {
        Fd {
            readable: Mutex::new(false),
            written: Condvar::new(),
        }
    }

    /// `Waker::wake`: the fd becomes readable, a poll in progress returns.
    fn wake(&self) {
        *self.readable.lock().unwrap() = true;
        self.written.notify_one();
    }

    /// A poll with a timeout: returns once the fd is readable (there is no
    /// clock in the model: a poll woken by nothing never returns).
    fn poll(&self) {
        let mut readable = self.readable.lock().unwrap();
        while !*readable {
            readable = self.written.wait(readable).unwrap();
        }
    }

    /// `Waker::reset` after every poll: drains the fd.
    fn reset(&self) {
        *self.readable.lock().unwrap() = false;
    }
}

/// The lifecycle and the waker fd other threads share with the loop.
struct Shared {
    lifecycle: Lifecycle<Job>,
    fd: Fd,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            lifecycle: Lifecycle::new(),
            fd: Fd::new(),
        })
    }

    /// The loop thread as `EventLoop::run_until` and `turn` drive the
    /// lifecycle: take the stop at the top of each iteration (or finish
    /// once `enough` jobs ran), take and run the posted work, look again
    /// before sleeping, poll (sleeping only if nothing waits), reset the
    /// waker. Returns how many jobs ran.
    fn run_loop(&self, enough: usize) -> usize {
        let mut ran = 0;
        let mut commands = Vec::new();
        loop {
            if self.lifecycle.take_stop() || ran >= enough {
                return ran;
            }
            self.lifecycle.take_posted(&mut commands);
            ran += commands.drain(..).count();
            // `turn` computes a zero timeout when it is done or work waits.
            if ran < enough && !self.lifecycle.work_waiting() {
                self.fd.poll();
            }
            self.fd.reset();
        }
    }
}

#[test]
fn loom_a_stop_from_another_thread_ends_the_run_and_publishes() {
    loom::model(|| {
        let shared = Shared::new();
        let before_stop = Arc::new(AtomicUsize::new(0));
        let stopper = {
            let (shared, before_stop) = (Arc::clone(&shared), Arc::clone(&before_stop));
            thread::spawn(move || {
                before_stop.store(1, Ordering::Relaxed);
                shared.lifecycle.request_stop(|| shared.fd.wake());
            })
        };
        // Never enough jobs: only the stop ends the run (a lost one deadlocks).
        shared.run_loop(usize::MAX);
        assert_eq!(
            before_stop.load(Ordering::Relaxed),
            1,
            "run returned without seeing what the stopper did before stop"
        );
        stopper.join().unwrap();
        assert!(
            !shared.lifecycle.take_stop(),
            "a stop must end one run, not two"
        );
    });
}

#[test]
fn loom_posted_work_wakes_the_loop() {
    loom::model(|| {
        let shared = Shared::new();
        let poster = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                for job in 0..2 {
                    assert!(shared.lifecycle.post(job, || shared.fd.wake()).is_ok());
                }
            })
        };
        // Returns only when both ran: a lost wake deadlocks.
        assert_eq!(shared.run_loop(2), 2);
        poster.join().unwrap();
        assert!(!shared.lifecycle.work_waiting());
    });
}

#[test]
fn loom_posts_racing_the_close_run_or_are_refused_or_reported() {
    loom::model(|| {
        let shared = Shared::new();
        let posters: Vec<_> = [7, 8]
            .into_iter()
            .map(|job| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || shared.lifecycle.post(job, || shared.fd.wake()))
            })
            .collect();
        // The loop's last iteration (no sleep: it is about to be dropped),
        // then its drop.
        let mut ran = Vec::new();
        shared.lifecycle.take_posted(&mut ran);
        let reported = shared.lifecycle.close();
        assert!(
            shared.lifecycle.is_closed(),
            "is_closed must be true once close returned"
        );

        let mut accepted = Vec::new();
        for (poster, job) in posters.into_iter().zip([7, 8]) {
            match poster.join().unwrap() {
                Ok(()) => accepted.push(job),
                Err(refused) => assert_eq!(refused, job, "a refused post is handed back"),
            }
        }
        // Each accepted job ran or was reported, exactly once; no refused
        // one did either.
        let mut outcomes: Vec<Job> = ran.iter().chain(&reported).copied().collect();
        outcomes.sort_unstable();
        assert_eq!(
            outcomes, accepted,
            "accepted posts must each run or be reported by the close, once"
        );
        // Nothing is left queued on the closed loop, and nothing gets in.
        let mut stranded = Vec::new();
        shared.lifecycle.take_posted(&mut stranded);
        assert!(stranded.is_empty(), "work stranded on a closed loop");
        assert_eq!(shared.lifecycle.post(9, || shared.fd.wake()), Err(9));
    });
}

#[test]
fn loom_is_closed_publishes_what_the_loop_did_before_closing() {
    loom::model(|| {
        let lifecycle = Arc::new(Lifecycle::<Job>::new());
        let before_close = Arc::new(AtomicUsize::new(0));
        let observer = {
            let (lifecycle, before_close) = (Arc::clone(&lifecycle), Arc::clone(&before_close));
            thread::spawn(move || {
                if lifecycle.is_closed() {
                    assert_eq!(
                        before_close.load(Ordering::Relaxed),
                        1,
                        "is_closed answered true before the loop's last writes were visible"
                    );
                }
            })
        };
        before_close.store(1, Ordering::Relaxed);
        drop(lifecycle.close());
        observer.join().unwrap();
    });
}

#[test]
fn loom_the_watchdog_thread_exits_when_dropped() {
    loom::model(|| {
        // An hour: no call in the model is over it, so no branch depends on
        // the real clock (loom replays must take the same path).
        let watchdog = Watchdog::start(Duration::from_secs(3600)).unwrap();
        let name = Label::Static("model");
        let entered = watchdog.enter(&name);
        watchdog.exit(entered, &name);
        // Returns only if the thread saw the stop: a lost unpark deadlocks.
        // (Here loom's park is the real one, and the watchdog thread blocks
        // on nothing else, so loom keeps every unpark's token.)
        drop(watchdog);
    });
}
