//! Loom models of the wake protocol: whatever the interleaving of queue
//! pushes, `wake`, `prepare_sleep` and `reset`, a poller never blocks with
//! work queued and nothing in the fd, and never leaves the fd readable with
//! nobody due to drain it.
//!
//! The models run the production protocol: `WakeState::wake` (request,
//! write, mark done) and `WakeState::reset` (decide, drain, close the round),
//! with only the fd replaced. Run with `RUSTFLAGS="--cfg loom"
//! LOOM_MAX_PREEMPTIONS=3 cargo test -p rouse-waker --lib --release` in a
//! separate `CARGO_TARGET_DIR` (`cargo xtask ci` does). The fd is modelled by
//! a counter: a write adds one, a drain takes everything. Readiness is
//! modelled both ways: level (`poll(2)`: a poll returns while the fd holds
//! data) and edge (epoll under mio: a poll returns only for writes it has
//! not reported yet, and, as epoll re-checks readiness before it reports,
//! only if the fd still holds data).

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use crate::state::WakeState;

struct Model {
    state: WakeState,
    queue: Mutex<Vec<usize>>,
    fd: AtomicUsize,
    /// Writes no poll has reported yet (edge-triggered readiness).
    edges: AtomicUsize,
    /// Writes made, and polls that returned for the fd.
    writes: AtomicUsize,
    returns: AtomicUsize,
}

impl Model {
    fn new() -> Self {
        Model {
            state: WakeState::new(),
            queue: Mutex::new(Vec::new()),
            fd: AtomicUsize::new(0),
            edges: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            returns: AtomicUsize::new(0),
        }
    }

    fn push_and_wake(&self, item: usize) {
        self.queue.lock().unwrap().push(item);
        let wrote = self.state.wake(|| {
            self.fd.fetch_add(1, Ordering::SeqCst);
            self.edges.fetch_add(1, Ordering::SeqCst);
            self.writes.fetch_add(1, Ordering::SeqCst);
            Ok::<(), ()>(())
        });
        assert!(wrote.is_ok());
    }

    /// Whether a poll would return now; a returning edge-triggered poll
    /// consumes the edges it reports.
    fn poll_returns(&self, edge: bool) -> bool {
        let returns = if edge {
            self.edges.swap(0, Ordering::SeqCst) > 0 && self.fd.load(Ordering::SeqCst) > 0
        } else {
            self.fd.load(Ordering::SeqCst) > 0
        };
        if returns {
            self.returns.fetch_add(1, Ordering::SeqCst);
        }
        returns
    }

    fn reset(&self, announce: bool) {
        self.state.reset(announce, || {
            self.fd.swap(0, Ordering::SeqCst);
        });
    }

    fn take_queued(&self) -> usize {
        self.queue.lock().unwrap().drain(..).count()
    }
}

/// What the poller decides before polling: block only when it announced a
/// sleep that was accepted (or never announces) and the fd is empty.
fn poller_would_block(model: &Model, announce: bool, edge: bool) -> bool {
    let may_block = !announce || model.state.prepare_sleep();
    may_block && !model.poll_returns(edge)
}

/// Runs the poller for a bounded number of iterations against `producers`
/// threads pushing `per` items each (a wake after each push), then checks
/// the two safety properties.
fn check(producers: usize, per: usize, announce: bool, edge: bool) {
    let total = producers * per;
    loom::model(move || {
        let model = Arc::new(Model::new());
        let handles: Vec<_> = (0..producers)
            .map(|i| {
                let model = Arc::clone(&model);
                thread::spawn(move || (0..per).for_each(|j| model.push_and_wake(i * per + j)))
            })
            .collect();

        let mut seen = 0;
        let mut blocked = false;
        for _ in 0..=2 * total {
            if poller_would_block(&model, announce, edge) {
                // A real poll would block here until the fd is written.
                blocked = true;
                break;
            }
            model.reset(announce);
            seen += model.take_queued();
            if seen == total {
                break;
            }
        }
        for handle in handles {
            handle.join().unwrap();
        }

        if seen < total {
            // Every producer is done. A poller that blocked must be woken, and
            // one that is still awake (it raced a write in flight) must not
            // block now: either way its next iteration sees all the work.
            if blocked {
                assert!(
                    model.poll_returns(edge),
                    "lost wake: poller blocked, work queued, nothing to wake it"
                );
            } else {
                assert!(
                    !poller_would_block(&model, announce, edge),
                    "lost wake: poller about to block with work queued"
                );
            }
            model.reset(announce);
            seen += model.take_queued();
            assert_eq!(seen, total, "work left unseen after a wakeup");
        }
        // Whatever is left in the fd, the next reset drains it: no spin for a
        // level-triggered poller.
        if announce {
            model.state.prepare_sleep();
        }
        model.reset(announce);
        assert_eq!(model.fd.load(Ordering::SeqCst), 0, "fd left readable");
        // No spin: every poll that returned for the fd found a write's byte
        // there that a reset then took away, so there are no more returns
        // than writes; and no more writes than wakes, one per round.
        let (writes, returns) = (
            model.writes.load(Ordering::SeqCst),
            model.returns.load(Ordering::SeqCst),
        );
        assert!(
            returns <= writes,
            "{returns} poll returns for {writes} writes"
        );
        assert!(writes <= total, "{writes} writes for {total} wakes");
    });
}

#[test]
fn plain_level_one_producer_two_wakes() {
    check(1, 2, false, false);
}

#[test]
fn plain_level_two_producers() {
    check(2, 1, false, false);
}

#[test]
fn plain_level_two_producers_two_wakes_each() {
    check(2, 2, false, false);
}

#[test]
fn plain_edge_one_producer_two_wakes() {
    check(1, 2, false, true);
}

#[test]
fn plain_edge_two_producers() {
    check(2, 1, false, true);
}

#[test]
fn plain_edge_two_producers_two_wakes_each() {
    check(2, 2, false, true);
}

#[test]
fn announce_level_one_producer_two_wakes() {
    check(1, 2, true, false);
}

#[test]
fn announce_level_two_producers() {
    check(2, 1, true, false);
}

#[test]
fn announce_level_two_producers_two_wakes_each() {
    check(2, 2, true, false);
}

#[test]
fn announce_edge_one_producer_two_wakes() {
    check(1, 2, true, true);
}

#[test]
fn announce_edge_two_producers() {
    check(2, 1, true, true);
}

#[test]
fn announce_edge_two_producers_two_wakes_each() {
    check(2, 2, true, true);
}
