//! The application's side of every workload: request ids, their deadlines,
//! the correctness counters, and the timing of single operations.

use std::time::{Duration, Instant};

use crate::peers::Peer;
use crate::TICK;

/// xorshift64*: deterministic, cheap, no dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// Uniform in `0..n`, by multiply-high (Lemire) rather than `%`: a
    /// 64-bit division would cost the harness more than some peers' insert.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((u128::from(x) * u128::from(n)) >> 64) as u64
    }
    pub(crate) fn percent(&mut self) -> u32 {
        self.below(100) as u32
    }
}

/// What the application keeps per request id: one record, so a response
/// costs the harness one cache miss (three parallel arrays cost three, as
/// much as some peers' whole cancel).
#[derive(Clone, Copy)]
struct State {
    deadline: Instant,
    generation: u32,
    pending: bool,
}

/// Request ids, their deadlines, the correctness counters and (when
/// `timing`) the duration of every peer call.
pub(crate) struct Harness {
    pub(crate) rng: Rng,
    state: Vec<State>,
    free_ids: Vec<u32>,
    fired: Vec<u32>,
    pub(crate) live: usize,
    pub(crate) early: u64,
    pub(crate) late: u64,
    pub(crate) max_late: Duration,
    pub(crate) lost: u64,
    /// Time each insert, cancel and release into `op_ns`.
    pub(crate) timing: bool,
    /// Nanoseconds per timed peer call (allocated up front: the memory
    /// counter must see only the peer's allocations).
    pub(crate) op_ns: Vec<u32>,
}

impl Harness {
    pub(crate) fn new(ids: usize, timed_ops: usize) -> Self {
        Self {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            state: vec![
                State {
                    deadline: Instant::now(),
                    generation: 0,
                    pending: false,
                };
                ids
            ],
            free_ids: (0..ids as u32).rev().collect(),
            fired: Vec::with_capacity(1 << 20),
            live: 0,
            early: 0,
            late: 0,
            max_late: Duration::ZERO,
            lost: 0,
            timing: false,
            op_ns: Vec::with_capacity(timed_ops),
        }
    }

    fn record(&mut self, since: Instant) {
        if self.op_ns.len() < self.op_ns.capacity() {
            self.op_ns
                .push(since.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32);
        }
    }

    pub(crate) fn start<P: Peer>(&mut self, peer: &mut P, at: Instant) -> Request<P::Key> {
        let id = self
            .free_ids
            .pop()
            .expect("bench sized its id space too small");
        let state = &mut self.state[id as usize];
        state.deadline = at;
        state.pending = true;
        let generation = state.generation;
        self.live += 1;
        let key = if self.timing {
            let t = Instant::now();
            let key = peer.insert(id, at);
            self.record(t);
            key
        } else {
            peer.insert(id, at)
        };
        Request {
            id,
            generation,
            key,
        }
    }

    fn finish(&mut self, id: u32) {
        let state = &mut self.state[id as usize];
        state.pending = false;
        state.generation = state.generation.wrapping_add(1);
        self.free_ids.push(id);
        self.live -= 1;
    }

    /// The request's response arrived (`cancels`) or it gave up waiting for
    /// one (its timeout will fire): cancel or let go of the key.
    pub(crate) fn respond<P: Peer>(
        &mut self,
        peer: &mut P,
        request: Request<P::Key>,
        cancels: bool,
    ) {
        let state = self.state[request.id as usize];
        let pending = state.pending && state.generation == request.generation;
        let t = self.timing.then(Instant::now);
        if pending && cancels {
            if !peer.cancel(request.key) {
                self.lost += 1; // the peer lost a pending timer
            }
            if let Some(t) = t {
                self.record(t);
            }
            self.finish(request.id);
        } else {
            peer.release(request.key);
            if let Some(t) = t {
                self.record(t);
            }
        }
    }

    /// One loop iteration's timer work at `now`: fire what is due, then ask
    /// for the poll timeout. Returns how many fired.
    pub(crate) fn expire(&mut self, peer: &mut impl Peer, now: Instant) -> usize {
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        peer.expire(now, &mut fired);
        for &id in &fired {
            let state = self.state[id as usize];
            if !state.pending {
                self.lost += 1; // fired a cancelled or already-fired timer
                continue;
            }
            let deadline = state.deadline;
            if deadline > now {
                self.early += 1;
            } else {
                let late = now - deadline;
                self.max_late = self.max_late.max(late);
                if late > TICK {
                    self.late += 1;
                }
            }
            self.finish(id);
        }
        let count = fired.len();
        self.fired = fired;
        std::hint::black_box(peer.next_deadline());
        count
    }
}

/// A request in flight: its id and the key to cancel its timeout with.
pub(crate) struct Request<K> {
    id: u32,
    generation: u32,
    key: K,
}
