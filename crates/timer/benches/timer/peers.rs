//! Every peer behind one adapter: request ids in, a key or handle back (kept
//! with the request, as an application would), fired request ids out, time
//! passed in by the harness (a virtual clock).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rouse_timer::{FixedQueue, TimerHeap, TimerKey, TimerWheel, Timers};

/// What a timer carries: the request id, alone (4 bytes) or padded to 16
/// bytes (an id plus, say, a connection and a stream), for the bytes per
/// live timer at both sizes.
pub(crate) trait Payload: Copy + Ord + std::fmt::Debug + 'static {
    fn of(id: u32) -> Self;
    fn id(self) -> u32;
}

impl Payload for u32 {
    fn of(id: u32) -> Self {
        id
    }
    fn id(self) -> u32 {
        self
    }
}

impl Payload for [u32; 4] {
    fn of(id: u32) -> Self {
        [id, !id, id ^ 0x5555_5555, 7]
    }
    fn id(self) -> u32 {
        self[0]
    }
}

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
pub(crate) struct Rouse<S, P>(S, std::marker::PhantomData<P>);

pub(crate) fn wheel<P: Payload>(start: Instant) -> Rouse<TimerWheel<P>, P> {
    Rouse(TimerWheel::new(start), std::marker::PhantomData)
}

pub(crate) fn heap<P: Payload>() -> Rouse<TimerHeap<P>, P> {
    Rouse(TimerHeap::new(), std::marker::PhantomData)
}

impl<S: Timers<P>, P: Payload> Peer for Rouse<S, P> {
    type Key = TimerKey;
    fn insert(&mut self, id: u32, at: Instant) -> TimerKey {
        self.0.insert_at(at, P::of(id))
    }
    fn cancel(&mut self, key: TimerKey) -> bool {
        self.0.cancel(key).is_some()
    }
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>) {
        while let Some(e) = self.0.pop_expired(now) {
            fired.push(e.value.id());
        }
    }
    fn next_deadline(&mut self) -> Option<Instant> {
        self.0.next_deadline()
    }
}

/// `rouse-timer`'s one-duration FIFO, for the fixed 5 s scenarios only: the
/// request's `now` is its deadline minus the 5 s.
pub(crate) struct Fixed<P>(FixedQueue<P>);

/// The duration of the fixed scenarios.
const FIXED: Duration = Duration::from_secs(5);

pub(crate) fn fixed<P>(start: Instant) -> Fixed<P> {
    Fixed(FixedQueue::new(start, FIXED))
}

impl<P: Payload> Peer for Fixed<P> {
    type Key = TimerKey;
    fn insert(&mut self, id: u32, at: Instant) -> TimerKey {
        let now = at.checked_sub(FIXED).unwrap_or(at);
        self.0.insert(now, P::of(id))
    }
    fn cancel(&mut self, key: TimerKey) -> bool {
        self.0.cancel(key).is_some()
    }
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>) {
        while let Some(e) = self.0.pop_expired(now) {
            fired.push(e.value.id());
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

/// `(deadline ns, seq, payload, generation)`, earliest first: 24 bytes with
/// a 4-byte payload (the entry is the application's timer object).
type LazyEntry<P> = Reverse<(u64, u64, P, u32)>;

/// What tornado and asyncio do: a heap whose cancelled entries stay until
/// they surface, compacted when more than 512 and over half are cancelled.
/// The per-id generation plays the part of the `_Timeout` object's flag.
pub(crate) struct Lazy<H, P> {
    heap: H,
    _payload: std::marker::PhantomData<P>,
    generation: Vec<u32>,
    cancelled: usize,
    seq: u64,
    base: Instant,
}

impl<H: HeapStore<LazyEntry<P>>, P: Payload> Lazy<H, P> {
    pub(crate) fn new(base: Instant) -> Self {
        Self {
            heap: H::default(),
            _payload: std::marker::PhantomData,
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

impl<H: HeapStore<LazyEntry<P>>, P: Payload> Peer for Lazy<H, P> {
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
            .push(Reverse((self.ns(at), self.seq, P::of(id), generation)));
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
                .retain(|Reverse((_, _, p, g))| generation[p.id() as usize] == *g);
            self.cancelled = 0;
        }
        true
    }
    fn expire(&mut self, now: Instant, fired: &mut Vec<u32>) {
        let now = self.ns(now);
        while let Some(&Reverse((deadline, _, p, g))) = self.heap.peek() {
            let id = p.id();
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
pub(crate) struct Nexus<P: 'static> {
    wheel: nexus_timer::Wheel<P>,
    buf: Vec<P>,
}

impl<P: Payload> Nexus<P> {
    pub(crate) fn new(start: Instant) -> Self {
        Self {
            wheel: nexus_timer::Wheel::unbounded(4096, start),
            buf: Vec::with_capacity(1 << 16),
        }
    }
}

impl<P: Payload> Peer for Nexus<P> {
    type Key = nexus_timer::TimerHandle<P>;
    fn insert(&mut self, id: u32, at: Instant) -> Self::Key {
        self.wheel.schedule(at, P::of(id))
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
        fired.extend(self.buf.iter().map(|p| p.id()));
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
pub(crate) struct Delay<P> {
    queue: tokio_util::time::DelayQueue<P>,
    std_base: Instant,
    tokio_base: tokio::time::Instant,
    clock: Instant,
    waker: Waker,
}

impl<P: Payload> Delay<P> {
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

impl<P: Payload> Peer for Delay<P> {
    /// Not generational: the harness only cancels requests it knows are
    /// still pending, or this could remove a newer timer in the same slot.
    type Key = tokio_util::time::delay_queue::Key;
    fn insert(&mut self, id: u32, at: Instant) -> Self::Key {
        let when = self.to_tokio(at);
        self.queue.insert_at(P::of(id), when)
    }
    fn cancel(&mut self, key: Self::Key) -> bool {
        self.queue.try_remove(&key).is_some()
    }
    fn expire(&mut self, _now: Instant, fired: &mut Vec<u32>) {
        let mut cx = Context::from_waker(&self.waker);
        while let Poll::Ready(Some(e)) = self.queue.poll_expired(&mut cx) {
            fired.push(e.into_inner().id());
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
