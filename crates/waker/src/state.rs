//! The coalescing protocol: one atomic word decides whether a `wake()` needs
//! a syscall and whether `reset()` must drain the fd.
//!
//! ```text
//!          wake() from any thread                    poller thread
//!  ┌──────────────────────────────────────┐  ┌─────────────────────────────────┐
//!  │ RMW: set NOTIFIED; if it was clear   │  │ prepare_sleep(): set SLEEPING;  │
//!  │   and SLEEPING is set, also set      │  │   NOTIFIED with no write this   │
//!  │   CLAIMED and count one write in     │  │   round -> do not block         │
//!  │   flight: this wake owns the write   │  │ poll(...)                       │
//!  │ owner: write(2) the fd, then move    │  │ reset(): a write in flight or   │
//!  │   its write from in flight to done   │  │   done since the last drain?    │
//!  │ everyone else: done, no syscall      │  │   -> drain; then close round    │
//!  └──────────────────────────────────────┘  │ then check your queues          │
//!                                            └─────────────────────────────────┘
//! ```
//!
//! * `NOTIFIED`: a wake was requested since the poller's last `reset`. A
//!   second `wake` while it is set costs one atomic RMW and no syscall.
//! * `SLEEPING`: the poller may be blocked, so a new wake must reach the fd.
//!   A poller that never announces its sleeps keeps this bit set for good
//!   (plain mode). One that calls `prepare_sleep` before every blocking poll
//!   (announce mode, libev's trick) has it cleared by `reset`, so wakes that
//!   arrive while it is busy cost no syscall at all: it finds `NOTIFIED`
//!   before it blocks again.
//! * `CLAIMED`: the open round has its write (so the poller may block on it).
//! * The in-flight count: writes claimed whose `write(2)` has not returned.
//!   Their byte may land in the fd at any moment, even after the round they
//!   belong to was closed.
//! * The done count: writes that returned since the last drain, so their
//!   byte may be in the fd.
//!
//! Why no wake is lost: every decision is a read-modify-write of one atomic,
//! so they are totally ordered. A producer pushes its item, then does its RMW
//! (release). If the poller's `reset` comes later in that order, the poller
//! reads its queues after it (acquire) and sees the item. If it came earlier,
//! the producer starts a new round: it writes the fd, or, if the poller said
//! it is awake, the poller's next `prepare_sleep` sees `NOTIFIED`. The write
//! lands after the reset that came before its claim, and only a reset drains,
//! so only a reset that closes its round (and is followed by a look at the
//! queues) can take it away; a poll that consumes its edge is followed by
//! such a reset too.
//!
//! Why a level-triggered poller does not spin: the fd holds data only while
//! a write is in flight or done-and-undrained, and exactly then `reset`
//! drains. `reset` closes the round even when the round's write is still in
//! flight: the late byte then makes one poll return early (a spurious
//! wakeup), and that poll's `reset` drains it. Nobody waits for anybody and
//! nobody writes twice: at most one write per round, one round per sleep.

use crate::sync::{AtomicU32, Ordering};

const NOTIFIED: u32 = 1 << 0;
const SLEEPING: u32 = 1 << 1;
const CLAIMED: u32 = 1 << 2;
/// One write in flight; the count takes bits 4..16. It is bounded by the
/// threads (and signal handlers) inside `wake`'s write at the same moment:
/// each claim needs a `reset` since the previous one, so 4095 is far off.
const IN_FLIGHT_ONE: u32 = 1 << 4;
const IN_FLIGHT: u32 = 0xfff * IN_FLIGHT_ONE;
/// One write done since the last drain; the count takes bits 16..32. It is
/// bounded by the writes in flight at the last drain plus one.
const DONE_ONE: u32 = 1 << 16;
const DONE: u32 = 0xffff * DONE_ONE;

/// What a `wake` request must do after updating the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WakeAction {
    /// A wake is already pending, or the poller is awake and will look before
    /// it blocks: nothing more to do.
    Coalesced,
    /// This wake owns the round's write: write the fd, then `mark_written`.
    WriteFd,
}

/// The atomic state shared by wakers and the poller.
#[derive(Debug)]
pub(crate) struct WakeState {
    bits: AtomicU32,
}

impl WakeState {
    /// A fresh state: nothing pending, poller assumed asleep (plain mode).
    pub(crate) fn new() -> Self {
        WakeState {
            bits: AtomicU32::new(SLEEPING),
        }
    }

    /// The whole waking side: records the wake and, when this call owns the
    /// round's write, runs `write` (one `write(2)` of the fd) and records it
    /// done, even if it failed, so `reset` does not count it in flight for
    /// ever. Returns whether it wrote. Calls nothing but `write` and atomics,
    /// so it is async-signal-safe when `write` is.
    pub(crate) fn wake<E>(&self, write: impl FnOnce() -> Result<(), E>) -> Result<bool, E> {
        match self.request() {
            WakeAction::Coalesced => Ok(false),
            WakeAction::WriteFd => {
                let written = write();
                self.mark_written();
                written.map(|()| true)
            }
        }
    }

    /// Records a wake request and says whether this caller must write the fd.
    fn request(&self) -> WakeAction {
        let mut cur = self.bits.load(Ordering::Relaxed);
        loop {
            let owns_write = cur & NOTIFIED == 0 && cur & SLEEPING != 0;
            let new = if owns_write {
                debug_assert!(
                    cur & IN_FLIGHT != IN_FLIGHT,
                    "in-flight write count overflow"
                );
                (cur | NOTIFIED | CLAIMED) + IN_FLIGHT_ONE
            } else {
                cur | NOTIFIED
            };
            // Always an RMW, even when nothing changes: it orders the caller's
            // earlier push before the poller's `reset`.
            match self
                .bits
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if owns_write => return WakeAction::WriteFd,
                Ok(_) => return WakeAction::Coalesced,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Moves the caller's write from in flight to done, in one RMW so that
    /// there is no moment when `reset` would count it neither way.
    fn mark_written(&self) {
        // Subtracting IN_FLIGHT_ONE cannot borrow: this write is counted.
        let prev = self
            .bits
            .fetch_add(DONE_ONE.wrapping_sub(IN_FLIGHT_ONE), Ordering::AcqRel);
        debug_assert!(
            prev & IN_FLIGHT != 0,
            "mark_written without a write in flight"
        );
        debug_assert!(prev & DONE != DONE, "done write count overflow");
    }

    /// Poller, before a blocking poll in announce mode: returns `false` when a
    /// wake is pending that will not reach the fd (poll with a zero timeout
    /// instead). A pending wake whose write is claimed is safe to block on.
    pub(crate) fn prepare_sleep(&self) -> bool {
        let prev = self.bits.fetch_or(SLEEPING, Ordering::AcqRel);
        prev & NOTIFIED == 0 || prev & CLAIMED != 0
    }

    /// Poller, after its poll returned: ends the round. `drain` empties the
    /// fd; it is called whenever a write may have put data there (one in
    /// flight, or done since the last drain), before `NOTIFIED` is cleared,
    /// and again if a wake changed the state meanwhile. `announce` says
    /// whether the poller announces its sleeps (then it is marked awake), or
    /// not (then it stays marked as possibly blocked). Returns whether it
    /// drained.
    pub(crate) fn reset(&self, announce: bool, mut drain: impl FnMut()) -> bool {
        let idle = if announce { 0 } else { SLEEPING };
        let mut cur = self.bits.load(Ordering::Acquire);
        let mut drained = false;
        loop {
            if cur & (IN_FLIGHT | DONE) != 0 {
                // Every write counted in `cur` is claimed by a round this
                // reset closes (or closed before): draining its byte loses
                // nothing, the poller looks at its queues next.
                drain();
                drained = true;
            }
            // Writes still in flight stay counted: their byte may land after
            // this drain, and the next reset must drain it.
            let new = (cur & IN_FLIGHT) | idle;
            match self
                .bits
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return drained,
                // A wake came in (perhaps with a write the drain missed):
                // decide again.
                Err(actual) => cur = actual,
            }
        }
    }

    /// Whether a wake is pending (for diagnostics and tests).
    pub(crate) fn is_notified(&self) -> bool {
        self.bits.load(Ordering::Acquire) & NOTIFIED != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn reset(s: &WakeState, announce: bool) -> bool {
        s.reset(announce, || {})
    }

    fn wake(s: &WakeState) -> bool {
        s.wake(|| Ok::<(), ()>(())).unwrap()
    }

    #[test]
    fn second_wake_is_coalesced_in_plain_mode() {
        let s = WakeState::new();
        assert!(wake(&s));
        assert!(!wake(&s));
        assert!(reset(&s, false));
        assert!(wake(&s));
    }

    #[test]
    fn awake_poller_in_announce_mode_costs_no_write() {
        let s = WakeState::new();
        assert!(s.prepare_sleep());
        assert!(!reset(&s, true));
        // The poller is awake now: a wake only raises NOTIFIED.
        assert!(!wake(&s));
        assert!(s.is_notified());
        // ...which stops the poller from blocking, and costs no drain.
        assert!(!s.prepare_sleep());
        assert!(!reset(&s, true));
        assert!(s.prepare_sleep());
        assert!(wake(&s));
        // A wake whose write is claimed is safe to block on.
        assert!(s.prepare_sleep());
    }

    #[test]
    fn write_in_flight_is_drained_and_its_round_closed() {
        let s = WakeState::new();
        assert_eq!(s.request(), WakeAction::WriteFd);
        // The poller returns (the byte landed) before the writer marks its
        // write done: reset drains at once and closes the round...
        assert!(reset(&s, false));
        assert!(!s.is_notified());
        // ...so the next wake writes again: the poller may block now.
        assert_eq!(s.request(), WakeAction::WriteFd);
        s.mark_written();
        s.mark_written();
        // Both writes done: the next reset drains, once, and then nothing is
        // left to drain.
        assert!(reset(&s, false));
        assert!(!reset(&s, false));
    }

    #[test]
    fn late_write_is_drained_by_the_next_reset() {
        let s = WakeState::new();
        assert!(s.prepare_sleep());
        assert_eq!(s.request(), WakeAction::WriteFd);
        // Reset before the write lands: the drain finds nothing.
        assert!(reset(&s, true));
        // The byte lands, the write is marked done: the next reset drains it
        // even though no wake is pending.
        s.mark_written();
        assert!(!s.is_notified());
        assert!(reset(&s, true));
        assert!(!reset(&s, true));
    }

    #[test]
    fn drain_runs_before_the_round_is_closed() {
        let s = WakeState::new();
        assert!(wake(&s));
        let mut notified_during_drain = false;
        s.reset(false, || notified_during_drain = s.is_notified());
        assert!(notified_during_drain);
    }

    #[test]
    fn a_write_claimed_during_the_drain_is_drained_too() {
        let s = WakeState::new();
        assert!(s.prepare_sleep());
        // A late write: claimed, its round closed, then done.
        assert_eq!(s.request(), WakeAction::WriteFd);
        assert!(reset(&s, true));
        s.mark_written();
        // The poller blocks and the late byte wakes it. While it drains, a
        // new wake claims a write (the poller is marked asleep): the state
        // changed, so reset drains again before it closes that round.
        assert!(s.prepare_sleep());
        let mut drains = 0;
        s.reset(true, || {
            drains += 1;
            if drains == 1 {
                assert!(wake(&s));
            }
        });
        assert_eq!(drains, 2);
        assert!(!s.is_notified());
    }

    #[test]
    fn a_coalesced_wake_during_the_drain_changes_nothing() {
        let s = WakeState::new();
        assert!(wake(&s));
        let mut drains = 0;
        s.reset(false, || {
            drains += 1;
            assert!(!wake(&s));
        });
        assert_eq!(drains, 1);
    }
}
