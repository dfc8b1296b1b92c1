//! `buffer.memory` accounting: senders reserve bytes before they open a
//! batch and the batch gives them back when it resolves.
//!
//! Waiters are served first come, first served (a ticket queue), so a sender
//! asking for a big record is not starved by a stream of small ones, as in
//! Java's `BufferPool`. Only bytes are counted; the memory itself comes from
//! the global allocator.
//!
//! The pool also knows which reserved bytes are in flight (drained batches
//! awaiting their response), so the drain can tell how much more a blocked
//! sender needs sent early: [`BufferPool::shortfall`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::sync::{Condvar, Mutex};

/// Why a reservation failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReserveError {
    /// Not enough bytes came free within the wait; carries the time waited.
    Timeout(Duration),
    /// The pool was closed while waiting.
    Closed,
}

#[derive(Debug)]
struct State {
    available: usize,
    /// Tickets of blocked senders and the bytes each waits for, oldest first.
    waiting: VecDeque<(u64, usize)>,
    /// Reserved bytes of batches the poller has drained and not yet got
    /// back: they come free without anything else being sent.
    in_flight: usize,
    next_ticket: u64,
    closed: bool,
}

#[derive(Debug)]
pub(crate) struct BufferPool {
    total: usize,
    state: Mutex<State>,
    freed: Condvar,
}

/// Bytes taken from a pool; given back on drop unless handed on with
/// [`Reservation::keep`].
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    pool: &'a BufferPool,
    bytes: usize,
}

impl Reservation<'_> {
    /// Stops tracking the bytes: the caller now owns them and must
    /// [`BufferPool::release`] them itself.
    pub(crate) fn keep(mut self) -> usize {
        std::mem::take(&mut self.bytes)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.pool.release(self.bytes);
        }
    }
}

impl BufferPool {
    pub(crate) fn new(total: usize) -> BufferPool {
        BufferPool {
            total,
            state: Mutex::new(State {
                available: total,
                waiting: VecDeque::new(),
                in_flight: 0,
                next_ticket: 0,
                closed: false,
            }),
            freed: Condvar::new(),
        }
    }

    /// Takes `bytes`, waiting up to `max_wait` for them to come free. Calls
    /// `before_blocking` once if it has to wait, so whoever drains the
    /// buffer can be woken first.
    pub(crate) fn reserve(
        &self,
        bytes: usize,
        max_wait: Duration,
        before_blocking: impl FnOnce(),
    ) -> Result<Reservation<'_>, ReserveError> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(ReserveError::Closed);
        }
        if state.waiting.is_empty() && state.available >= bytes {
            state.available -= bytes;
            return Ok(Reservation { pool: self, bytes });
        }
        let start = Instant::now();
        let deadline = start.checked_add(max_wait);
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push_back((ticket, bytes));
        drop(state);
        before_blocking();
        let mut state = self.state.lock();
        let outcome = loop {
            if state.closed {
                break Err(ReserveError::Closed);
            }
            if state.waiting.front().map(|&(t, _)| t) == Some(ticket) && state.available >= bytes {
                state.available -= bytes;
                break Ok(Reservation { pool: self, bytes });
            }
            let timed_out = match deadline {
                Some(deadline) => self.freed.wait_until(&mut state, deadline).timed_out(),
                None => {
                    self.freed.wait(&mut state);
                    false
                }
            };
            if timed_out {
                break Err(ReserveError::Timeout(start.elapsed()));
            }
        };
        state.waiting.retain(|&(t, _)| t != ticket);
        drop(state);
        // The next waiter in line may now be able to go.
        self.freed.notify_all();
        outcome
    }

    /// Takes `bytes` only if they are free now and no sender is waiting
    /// for memory: a growing batch never jumps the queue of blocked senders.
    pub(crate) fn try_reserve(&self, bytes: usize) -> bool {
        let mut state = self.state.lock();
        let granted = !state.closed && state.waiting.is_empty() && state.available >= bytes;
        if granted {
            state.available -= bytes;
        }
        granted
    }

    /// Gives back bytes taken by [`reserve`](Self::reserve).
    pub(crate) fn release(&self, bytes: usize) {
        self.give_back(bytes, false);
    }

    /// Gives back the bytes of a batch that ended in flight (after
    /// [`sent`](Self::sent)).
    pub(crate) fn release_sent(&self, bytes: usize) {
        self.give_back(bytes, true);
    }

    fn give_back(&self, bytes: usize, was_in_flight: bool) {
        let mut state = self.state.lock();
        if was_in_flight {
            debug_assert!(state.in_flight >= bytes, "in-flight bytes balance");
            state.in_flight -= bytes.min(state.in_flight);
        }
        state.available = (state.available + bytes).min(self.total);
        let wake = !state.waiting.is_empty();
        drop(state);
        if wake {
            self.freed.notify_all();
        }
    }

    /// Notes that a batch holding `bytes` was drained: they will come back
    /// with its response, whatever else is sent.
    pub(crate) fn sent(&self, bytes: usize) {
        let mut state = self.state.lock();
        state.in_flight += bytes;
        debug_assert!(
            state.in_flight + state.available <= self.total,
            "in-flight bytes are reserved bytes"
        );
    }

    /// Undoes [`sent`](Self::sent): the batch is queued again (a retry).
    pub(crate) fn requeued(&self, bytes: usize) {
        let mut state = self.state.lock();
        debug_assert!(state.in_flight >= bytes, "in-flight bytes balance");
        state.in_flight -= bytes.min(state.in_flight);
    }

    /// Bytes that blocked senders wait for beyond what is free now and what
    /// in-flight batches will give back: how much lingering batches must
    /// free by being sent early. Zero when no sender is blocked.
    pub(crate) fn shortfall(&self) -> usize {
        let state = self.state.lock();
        if state.waiting.is_empty() {
            return 0;
        }
        let wanted: usize = state.waiting.iter().map(|&(_, bytes)| bytes).sum();
        wanted.saturating_sub(state.available + state.in_flight)
    }

    /// Whether a sender is blocked waiting for memory.
    #[cfg(test)]
    pub(crate) fn has_waiters(&self) -> bool {
        !self.state.lock().waiting.is_empty()
    }

    /// Bytes currently reserved.
    pub(crate) fn used(&self) -> usize {
        self.total - self.state.lock().available
    }

    /// Fails every waiting and future reservation with `Closed`.
    pub(crate) fn close(&self) {
        self.state.lock().closed = true;
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{mpsc, Arc};

    use super::*;

    #[test]
    fn reserve_and_release_balance() {
        let pool = BufferPool::new(100);
        let a = pool.reserve(60, Duration::ZERO, || {}).unwrap();
        assert_eq!(pool.used(), 60);
        assert!(matches!(
            pool.reserve(50, Duration::ZERO, || {}),
            Err(ReserveError::Timeout(_))
        ));
        drop(a);
        assert_eq!(pool.used(), 0);
        let kept = pool.reserve(100, Duration::ZERO, || {}).unwrap().keep();
        assert_eq!(pool.used(), 100);
        pool.release(kept);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn growth_takes_only_free_bytes_and_never_jumps_a_blocked_sender() {
        let pool = Arc::new(BufferPool::new(100));
        assert!(pool.try_reserve(60));
        assert!(!pool.try_reserve(50), "only 40 bytes are free");
        let (tx, rx) = mpsc::sync_channel(1);
        let waiter = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                let r = pool.reserve(50, Duration::from_secs(10), || tx.send(()).unwrap());
                r.map(Reservation::keep)
            })
        };
        rx.recv().unwrap();
        // Wait until the waiter is queued: its ticket is in before the hook.
        assert!(pool.has_waiters());
        assert!(
            !pool.try_reserve(10),
            "40 bytes are free, but a sender waits"
        );
        pool.release(20);
        assert_eq!(waiter.join().unwrap(), Ok(50));
        assert!(pool.try_reserve(10));
        assert_eq!(pool.used(), 100);
        pool.close();
        pool.release(100);
        assert!(!pool.try_reserve(1), "a closed pool gives nothing");
    }

    #[test]
    fn a_blocked_sender_wakes_the_drainer_and_gets_freed_memory() {
        let pool = Arc::new(BufferPool::new(100));
        let held = pool.reserve(100, Duration::ZERO, || {}).unwrap().keep();
        let (tx, rx) = mpsc::sync_channel(1);
        let waiter = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                let r = pool.reserve(40, Duration::from_secs(10), || tx.send(()).unwrap());
                r.map(Reservation::keep)
            })
        };
        rx.recv().unwrap(); // the waiter announced it is about to block
        assert!(pool.has_waiters());
        pool.release(held);
        assert_eq!(waiter.join().unwrap(), Ok(40));
        assert!(!pool.has_waiters());
        assert_eq!(pool.used(), 40);
    }

    #[test]
    fn close_fails_waiters_and_later_reservations() {
        let pool = Arc::new(BufferPool::new(10));
        let _held = pool.reserve(10, Duration::ZERO, || {}).unwrap();
        let (tx, rx) = mpsc::sync_channel(1);
        let waiter = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                pool.reserve(5, Duration::from_secs(10), || tx.send(()).unwrap())
                    .map(|r| r.keep())
            })
        };
        rx.recv().unwrap();
        pool.close();
        assert_eq!(waiter.join().unwrap(), Err(ReserveError::Closed));
        assert!(matches!(
            pool.reserve(1, Duration::ZERO, || {}),
            Err(ReserveError::Closed)
        ));
    }

    #[test]
    fn waiters_are_served_in_arrival_order() {
        let pool = Arc::new(BufferPool::new(100));
        let held = pool.reserve(60, Duration::ZERO, || {}).unwrap().keep();
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let spawn = |name: &'static str, bytes: usize| {
            let (pool, order) = (Arc::clone(&pool), Arc::clone(&order));
            let (tx, rx) = mpsc::sync_channel(1);
            let handle = std::thread::spawn(move || {
                let r = pool.reserve(bytes, Duration::from_secs(10), || tx.send(()).unwrap());
                order.lock().push(name);
                r.map(Reservation::keep)
            });
            rx.recv().unwrap(); // queued before the next one starts
            handle
        };
        // 40 bytes are free: enough for `small`, but `big` asked first.
        let big = spawn("big", 80);
        let small = spawn("small", 30);
        assert_eq!(pool.used(), 60, "small must not jump the queue");
        pool.release(held);
        let big_bytes = big.join().unwrap().unwrap();
        pool.release(big_bytes);
        assert_eq!(small.join().unwrap(), Ok(30));
        assert_eq!(*order.lock(), ["big", "small"]);
    }

    #[test]
    fn shortfall_is_what_waiters_want_beyond_free_and_in_flight_bytes() {
        let pool = Arc::new(BufferPool::new(100));
        let queued = pool.reserve(70, Duration::ZERO, || {}).unwrap().keep();
        let drained = pool.reserve(20, Duration::ZERO, || {}).unwrap().keep();
        assert_eq!(pool.shortfall(), 0, "nobody waits");
        pool.sent(drained);
        let spawn = |bytes: usize| {
            let pool = Arc::clone(&pool);
            let (tx, rx) = mpsc::sync_channel(1);
            let handle = std::thread::spawn(move || {
                pool.reserve(bytes, Duration::from_secs(10), || tx.send(()).unwrap())
                    .map(Reservation::keep)
            });
            rx.recv().unwrap();
            handle
        };
        let first = spawn(40);
        assert_eq!(pool.shortfall(), 10, "40 wanted, 10 free, 20 on the way");
        let second = spawn(25);
        assert_eq!(pool.shortfall(), 35, "every waiter counts");
        pool.requeued(drained);
        assert_eq!(pool.shortfall(), 55, "a requeued batch is not on its way");
        pool.sent(drained);
        pool.release_sent(drained);
        assert_eq!(pool.shortfall(), 35, "30 free now, none on the way");
        pool.release(queued);
        assert_eq!(first.join().unwrap(), Ok(40));
        assert_eq!(second.join().unwrap(), Ok(25));
        assert_eq!(pool.shortfall(), 0);
        assert_eq!(pool.used(), 65);
    }

    #[test]
    fn timeout_reports_the_wait() {
        let pool = BufferPool::new(1);
        match pool.reserve(2, Duration::from_millis(20), || {}) {
            Err(ReserveError::Timeout(waited)) => assert!(waited >= Duration::from_millis(20)),
            other => panic!("{other:?}"),
        }
        assert!(!pool.has_waiters(), "a timed-out waiter leaves the queue");
    }
}
