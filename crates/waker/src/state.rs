//! The coalescing protocol: one atomic byte decides whether a `wake()` needs
//! a syscall.
//!
//! ```text
//!        wake() from any thread                     poller thread
//!  ┌─────────────────────────────────────┐  ┌──────────────────────────────────┐
//!  │ CAS: set NOTIFIED; if it was clear  │  │ prepare_sleep(): set SLEEPING;   │
//!  │   and SLEEPING is set, also set     │  │   NOTIFIED with no write coming  │
//!  │   WRITING: this wake owns the write │  │   -> do not block                │
//!  │ owner: write(2) the fd, set WRITTEN │  │ poll(...)                        │
//!  │ everyone else: done, no syscall     │  │ reset(): write still in flight?  │
//!  └─────────────────────────────────────┘  │   -> leave it for the next round │
//!                                           │   WRITTEN? drain, then clear all │
//!                                           │ then check your queues           │
//!                                           └──────────────────────────────────┘
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
//! * `WRITING`: the one wake of this round that writes the fd has claimed it.
//! * `WRITTEN`: that write is done and the fd holds data to drain.
//! * `MISSED`: the poller's `reset` found the write still in flight and left
//!   the round open. Under edge-triggered epoll the poll that just returned
//!   may have consumed that write's edge, so the next poll would not return
//!   for it: the writer, seeing `MISSED` when it marks the write done, writes
//!   once more. That costs a second syscall in this rare race only.
//!
//! Why no wake is lost: every decision is a read-modify-write of one atomic,
//! so they are totally ordered. A producer pushes its item, then does its RMW
//! (release). If the poller's `reset` comes later in that order, the poller
//! reads its queues after it (acquire) and sees the item. If it came earlier,
//! the producer starts a new round: it writes the fd, or, if the poller said
//! it is awake, the poller's next `prepare_sleep` sees `NOTIFIED`.
//!
//! Why the fd is drained exactly when it should be: only one write happens
//! per round, and `reset` drains only after that write completed and before
//! it clears `NOTIFIED`. While `NOTIFIED` is set no other wake writes, so a
//! drain can never swallow the write of the next round (which would leave
//! `NOTIFIED` set over an empty fd: every later wake coalesced, the poller
//! asleep). A write still in flight is left to the next round: its writer
//! signals again (`MISSED`), the next poll returns, and that `reset` drains.

use crate::sync::{AtomicU8, Ordering};

const NOTIFIED: u8 = 0b0001;
const SLEEPING: u8 = 0b0010;
const WRITING: u8 = 0b0100;
const WRITTEN: u8 = 0b1000;
const MISSED: u8 = 0b1_0000;

/// What a `wake` request must do after updating the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeAction {
    /// A wake is already pending, or the poller is awake and will look before
    /// it blocks: nothing more to do.
    Coalesced,
    /// This wake owns the round's write: write the fd, then `mark_written`.
    WriteFd,
}

/// The atomic state shared by wakers and the poller.
#[derive(Debug)]
pub(crate) struct WakeState {
    bits: AtomicU8,
}

impl WakeState {
    /// A fresh state: nothing pending, poller assumed asleep (plain mode).
    pub(crate) fn new() -> Self {
        WakeState {
            bits: AtomicU8::new(SLEEPING),
        }
    }

    /// Records a wake request and says whether this caller must write the fd.
    pub(crate) fn request(&self) -> WakeAction {
        let mut cur = self.bits.load(Ordering::Relaxed);
        loop {
            let owns_write = cur & NOTIFIED == 0 && cur & SLEEPING != 0;
            let new = cur | NOTIFIED | if owns_write { WRITING } else { 0 };
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

    /// Records that the owner's write is done (or failed: the state must not
    /// wait for a write that will never come). Returns `true` when the poller
    /// came by while the write was in flight: write the fd once more.
    #[must_use]
    pub(crate) fn mark_written(&self) -> bool {
        let prev = self.bits.fetch_or(WRITTEN, Ordering::AcqRel);
        prev & MISSED != 0
    }

    /// Poller, before a blocking poll in announce mode: returns `false` when a
    /// wake is pending that will not reach the fd (poll with a zero timeout
    /// instead). A pending wake whose write is coming is safe to block on.
    pub(crate) fn prepare_sleep(&self) -> bool {
        let prev = self.bits.fetch_or(SLEEPING, Ordering::AcqRel);
        prev & NOTIFIED == 0 || prev & WRITING != 0
    }

    /// Poller, after its poll returned: ends the round. `drain` is called,
    /// before `NOTIFIED` is cleared, when the round's write is in the fd.
    /// `announce` says whether the poller announces its sleeps (then it is
    /// marked awake), or not (then it stays marked as possibly blocked).
    /// Returns whether it drained.
    pub(crate) fn reset(&self, announce: bool, drain: impl FnOnce()) -> bool {
        let idle = if announce { 0 } else { SLEEPING };
        let mut cur = self.bits.load(Ordering::Acquire);
        let mut drain = Some(drain);
        loop {
            if cur & WRITING != 0 && cur & WRITTEN == 0 {
                // The write is in flight: keep the round open, and tell the
                // writer to signal again so the next poll surely returns.
                match self.bits.compare_exchange(
                    cur,
                    cur | MISSED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return false,
                    Err(actual) => {
                        cur = actual;
                        continue;
                    }
                }
            }
            let drained = cur & WRITTEN != 0;
            if drained {
                // While NOTIFIED is set nobody else writes: this drains the
                // round's one write and nothing newer.
                if let Some(drain) = drain.take() {
                    drain();
                }
            }
            match self
                .bits
                .compare_exchange(cur, idle, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return drained,
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

    #[test]
    fn second_wake_is_coalesced_in_plain_mode() {
        let s = WakeState::new();
        assert_eq!(s.request(), WakeAction::WriteFd);
        assert!(!s.mark_written());
        assert_eq!(s.request(), WakeAction::Coalesced);
        assert!(reset(&s, false));
        assert_eq!(s.request(), WakeAction::WriteFd);
    }

    #[test]
    fn awake_poller_in_announce_mode_costs_no_write() {
        let s = WakeState::new();
        assert!(s.prepare_sleep());
        assert!(!reset(&s, true));
        // The poller is awake now: a wake only raises NOTIFIED.
        assert_eq!(s.request(), WakeAction::Coalesced);
        assert!(s.is_notified());
        // ...which stops the poller from blocking.
        assert!(!s.prepare_sleep());
        assert!(!reset(&s, true));
        assert!(s.prepare_sleep());
        assert_eq!(s.request(), WakeAction::WriteFd);
    }

    #[test]
    fn write_in_flight_keeps_the_round_open() {
        let s = WakeState::new();
        assert_eq!(s.request(), WakeAction::WriteFd);
        // The write has not completed when the poller resets: nothing is
        // drained and later wakes still coalesce into this round...
        assert!(!reset(&s, false));
        assert_eq!(s.request(), WakeAction::Coalesced);
        // ...and the writer is told to signal again.
        assert!(s.mark_written());
        assert!(reset(&s, false));
        assert!(!s.is_notified());
    }

    #[test]
    fn drain_runs_before_the_round_is_closed() {
        let s = WakeState::new();
        assert_eq!(s.request(), WakeAction::WriteFd);
        assert!(!s.mark_written());
        let mut notified_during_drain = false;
        s.reset(false, || notified_during_drain = s.is_notified());
        assert!(notified_during_drain);
    }
}
