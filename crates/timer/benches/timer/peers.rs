//! Every peer behind one adapter: request ids in, a key or handle back (kept
//! with the request, as an application would), fired request ids out, time
//! passed in by the harness (a virtual clock).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rouse_timer::{FixedQueue, TimerHeap, TimerKey, TimerWheel, Timers};

/// What the harness drives.
pub(crate) trait Peer {
    /// What the request keeps to cancel its timeout later.
    type Key;
    /// Schedules request `id` to time out at `at`.
    fn insert(&mut self, id: u32, at: Instant) -> Self::Key;
    /// Cancels a timeout; `false` if it already fired.
    fn cancel(&mut self, key: Self::Key) -> bool;
    /// The request no longer needs its key (it will let the timer fire, or
    /// the timer fired): only nexus-timer has work to do here.
    fn release(&mut self, _key: Self::Key) {}
    /// Appends every request id due at `now` to `fired`.
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>);
    /// The loop's poll-timeout input.
    fn next_deadline(&mut self) -> Option<Instant>;
    /// Moves a peer's own clock (DelayQueue's paused runtime); not timed.
    fn advance(&mut self, _now: Instant) {}
}

/// No timers at all: what the harness itself costs per operation, to be
/// subtracted from the other rows. Nothing ever fires.
pub(crate) struct Null;

impl Peer for Null {
    type Key = u32;
    fn insert(&mut self, id: u32, at: Instant) -> u32 {
        std::hint::black_box((id, at));
        id
    }
    fn cancel(&mut self, id: u32) -> bool {
        std::hint::black_box(id);
        true
    }
    fn expire(&mut self, now: Instant, _fired: &mut Vec<u32>) {
        std::hint::black_box(now);
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        None
    }
}

/// `rouse-timer`'s structures, through the [`Timers`] trait.
pub(crate) struct Rouse<S>(S);

pub(crate) fn wheel(start: Instant) -> Rouse<TimerWheel<u32>> {
    Rouse(TimerWheel::new(start))
}

pub(crate) fn heap() -> Rouse<TimerHeap<u32>> {
    Rouse(TimerHeap::new())
}

impl<S: Timers<u32>> Peer for Rouse<S> {
    type Key = TimerKey;
    fn insert(&mut self, id: u32, at: Instant) -> TimerKey {
        self.0.insert_at(at, id)
    }
    fn cancel(&mut self, key: TimerKey) -> bool {
        self.0.cancel(key).is_some()
    }
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>) {
        while let Some(e) = self.0.pop_expired(now) {
            fired.push(e.value);
        }
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        self.0.next_deadline()
    }
}

/// `rouse-timer`'s one-duration FIFO, for the fixed 5 s scenarios only: the
/// request's `now` is its deadline minus the 5 s.
pub(crate) struct Fixed(FixedQueue<u32>);

/// The duration of the fixed scenarios.
const FIXED: Duration = Duration::from_secs(5);

pub(crate) fn fixed(start: Instant) -> Fixed {
    Fixed(FixedQueue::new(start, FIXED))
}

impl Peer for Fixed {
    type Key = TimerKey;
    fn insert(&mut self, id: u32, at: Instant) -> TimerKey {
        let now = at.checked_sub(FIXED).unwrap_or(at);
        self.0.insert(now, id)
    }
    fn cancel(&mut self, key: TimerKey) -> bool {
        self.0.cancel(key).is_some()
    }
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>) {
        while let Some(e) = self.0.pop_expired(now) {
            fired.push(e.value);
        }
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        self.0.next_deadline()
    }
}

/// The heap operations lazy deletion needs, for `std` and `dary_heap`.
pub(crate) trait HeapStore<E: Ord>: Default {
    fn push(&mut self, e: E);
    fn pop(&mut self) -> Option<E>;
    fn peek(&self) -> Option<&E>;
    fn len(&self) -> usize;
    fn retain(&mut self, f: impl FnMut(&E) -> bool);
}

impl<E: Ord> HeapStore<E> for BinaryHeap<E> {
    fn push(&mut self, e: E) {
        BinaryHeap::push(self, e)
    }
    fn pop(&mut self) -> Option<E> {
        BinaryHeap::pop(self)
    }
    fn peek(&self) -> Option<&E> {
        BinaryHeap::peek(self)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
    fn retain(&mut self, f: impl FnMut(&E) -> bool) {
        BinaryHeap::retain(self, f)
    }
}

impl<E: Ord> HeapStore<E> for dary_heap::QuaternaryHeap<E> {
    fn push(&mut self, e: E) {
        dary_heap::QuaternaryHeap::push(self, e)
    }
    fn pop(&mut self) -> Option<E> {
        dary_heap::QuaternaryHeap::pop(self)
    }
    fn peek(&self) -> Option<&E> {
        dary_heap::QuaternaryHeap::peek(self)
    }
    fn len(&self) -> usize {
        dary_heap::QuaternaryHeap::len(self)
    }
    fn retain(&mut self, f: impl FnMut(&E) -> bool) {
        dary_heap::QuaternaryHeap::retain(self, f)
    }
}

/// `(deadline ns, seq, id, generation)`, earliest first: 24 bytes.
type LazyEntry = Reverse<(u64, u64, u32, u32)>;

/// What tornado and asyncio do: a heap whose cancelled entries stay until
/// they surface, compacted when more than 512 and over half are cancelled.
/// The per-id generation plays the part of the `_Timeout` object's flag.
pub(crate) struct Lazy<H> {
    heap: H,
    generation: Vec<u32>,
    cancelled: usize,
    seq: u64,
    base: Instant,
}

impl<H: HeapStore<LazyEntry>> Lazy<H> {
    pub(crate) fn new(base: Instant) -> Self {
        Self {
            heap: H::default(),
            generation: Vec::new(),
            cancelled: 0,
            seq: 0,
            base,
        }
    }
    fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_nanos() as u64
    }
}

impl<H: HeapStore<LazyEntry>> Peer for Lazy<H> {
    /// The request id and its generation: the `_Timeout` object's identity.
    type Key = (u32, u32);
    fn insert(&mut self, id: u32, at: Instant) -> (u32, u32) {
        let id_us = id as usize;
        if id_us >= self.generation.len() {
            self.generation.resize(id_us + 1, 0);
        }
        self.seq += 1;
        let generation = self.generation[id_us];
        self.heap
            .push(Reverse((self.ns(at), self.seq, id, generation)));
        (id, generation)
    }
    fn cancel(&mut self, (id, generation): (u32, u32)) -> bool {
        if self.generation[id as usize] != generation {
            return false; // fired already
        }
        self.generation[id as usize] = generation.wrapping_add(1);
        self.cancelled += 1;
        if self.cancelled > 512 && self.cancelled > self.heap.len() / 2 {
            let generation = &self.generation;
            self.heap
                .retain(|Reverse((_, _, id, g))| generation[*id as usize] == *g);
            self.cancelled = 0;
        }
        true
    }
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>) {
        let now = self.ns(now);
        while let Some(&Reverse((deadline, _, id, g))) = self.heap.peek() {
            if self.generation[id as usize] != g {
                self.heap.pop();
                self.cancelled = self.cancelled.saturating_sub(1);
            } else if deadline <= now {
                self.heap.pop();
                // Fired: bump so a stale cancel of this id cannot match.
                self.generation[id as usize] = g.wrapping_add(1);
                fired.push(id);
            } else {
                break;
            }
        }
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        self.heap
            .peek()
            .map(|Reverse((d, ..))| self.base + Duration::from_nanos(*d))
    }
}

/// `nexus_timer::Wheel`, polled with `poll_and_rebalance`; handles of fired
/// timers are freed when the loop learns they fired.
pub(crate) struct Nexus {
    wheel: nexus_timer::Wheel<u32>,
    buf: Vec<u32>,
}

impl Nexus {
    pub(crate) fn new(start: Instant) -> Self {
        Self {
            wheel: nexus_timer::Wheel::unbounded(4096, start),
            buf: Vec::with_capacity(1 << 16),
        }
    }
}

impl Peer for Nexus {
    type Key = nexus_timer::TimerHandle<u32>;
    fn insert(&mut self, id: u32, at: Instant) -> Self::Key {
        self.wheel.schedule(at, id)
    }
    fn cancel(&mut self, key: Self::Key) -> bool {
        // A fired timer's handle is a zombie: cancel frees it, returns None.
        self.wheel.cancel(key).is_some()
    }
    fn release(&mut self, key: Self::Key) {
        self.wheel.free(key);
    }
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>) {
        self.buf.clear();
        self.wheel.poll_and_rebalance(now, &mut self.buf);
        fired.extend_from_slice(&self.buf);
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        self.wheel.next_deadline()
    }
}

/// One paused current-thread runtime for the whole process; `main` enters it.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("tokio runtime for DelayQueue")
    })
}

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// `tokio_util::time::DelayQueue` on the paused runtime: its clock is moved
/// to the harness's virtual time with `tokio::time::advance`.
pub(crate) struct Delay {
    queue: tokio_util::time::DelayQueue<u32>,
    std_base: Instant,
    tokio_base: tokio::time::Instant,
    clock: Instant,
    waker: Waker,
}

impl Delay {
    pub(crate) fn new(start: Instant) -> Self {
        Self {
            queue: tokio_util::time::DelayQueue::new(),
            std_base: start,
            tokio_base: tokio::time::Instant::now(),
            clock: start,
            waker: Waker::from(Arc::new(NoopWake)),
        }
    }
    fn to_tokio(&self, at: Instant) -> tokio::time::Instant {
        self.tokio_base + at.saturating_duration_since(self.std_base)
    }
}

impl Peer for Delay {
    /// Not generational: the harness only cancels requests it knows are
    /// still pending, or this could remove a newer timer in the same slot.
    type Key = tokio_util::time::delay_queue::Key;
    fn insert(&mut self, id: u32, at: Instant) -> Self::Key {
        let when = self.to_tokio(at);
        self.queue.insert_at(id, when)
    }
    fn cancel(&mut self, key: Self::Key) -> bool {
        self.queue.try_remove(&key).is_some()
    }
    fn expire(&mut self, _now: Instant, fired: &mut Vec<u32>) {
        let mut cx = Context::from_waker(&self.waker);
        while let Poll::Ready(Some(e)) = self.queue.poll_expired(&mut cx) {
            fired.push(e.into_inner());
        }
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        let key = self.queue.peek()?;
        let at = self.queue.deadline(&key);
        Some(self.std_base + at.duration_since(self.tokio_base))
    }
    fn advance(&mut self, now: Instant) {
        if now > self.clock {
            let by = now - self.clock;
            self.clock = now;
            runtime().block_on(tokio::time::advance(by));
        }
    }
}
