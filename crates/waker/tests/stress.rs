//! 8 threads x 100k wakes against a poller that counts queue items: every
//! item is seen, the poller never sleeps with work queued (a lost wake
//! would show as a poll that ran out its long timeout with items waiting),
//! and it never spins (every poll that reported the waker was paid for by a
//! write).

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::unbounded;
use mio::{Events, Interest, Poll, Token};
use rouse_waker::{Mechanism, Waker};

const THREADS: usize = 8;
const PER_THREAD: usize = 100_000;
const LONG_TIMEOUT: Duration = Duration::from_secs(5);

fn stress(mechanism: Mechanism, announce: bool) {
    let mut poll = Poll::new().unwrap();
    let mut waker = Waker::with_mechanism(mechanism).unwrap();
    poll.registry()
        .register(&mut waker, Token(7), Interest::READABLE)
        .unwrap();
    let waker = Arc::new(waker);
    let (tx, rx) = unbounded::<usize>();

    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (tx, waker) = (tx.clone(), Arc::clone(&waker));
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    tx.send(t * PER_THREAD + i).unwrap();
                    waker.wake().unwrap();
                }
            })
        })
        .collect();
    drop(tx);

    let mut events = Events::with_capacity(16);
    let mut seen = vec![false; THREADS * PER_THREAD];
    let mut count = 0;
    let mut slept_with_work = 0;
    let mut woken = 0u64;
    while count < seen.len() {
        let timeout = if !announce || waker.prepare_sleep() {
            LONG_TIMEOUT
        } else {
            Duration::ZERO
        };
        poll.poll(&mut events, Some(timeout)).unwrap();
        if events.is_empty() && timeout == LONG_TIMEOUT && !rx.is_empty() {
            slept_with_work += 1;
        }
        woken += u64::from(!events.is_empty());
        waker.reset();
        for item in rx.try_iter() {
            assert!(!seen[item], "item {item} seen twice");
            seen[item] = true;
            count += 1;
        }
        assert_eq!(
            slept_with_work, 0,
            "{mechanism:?}: the poller slept with work queued"
        );
    }
    for p in producers {
        p.join().unwrap();
    }
    let stats = waker.stats();
    assert_eq!(stats.wakes_requested, (THREADS * PER_THREAD) as u64);
    assert!(stats.wake_syscalls <= stats.wakes_requested);
    assert!(
        woken <= stats.wake_syscalls,
        "{mechanism:?}: spin: {woken} wakeups for {} writes",
        stats.wake_syscalls
    );
}

// eventfd exists on Linux only: elsewhere these tests do not exist, rather
// than pass without testing anything.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn eventfd_plain() {
    stress(Mechanism::EventFd, false);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn eventfd_announce() {
    stress(Mechanism::EventFd, true);
}

#[test]
fn pipe_plain() {
    stress(Mechanism::Pipe, false);
}

#[test]
fn pipe_announce() {
    stress(Mechanism::Pipe, true);
}

#[test]
fn socketpair_plain() {
    stress(Mechanism::SocketPair, false);
}

#[test]
fn socketpair_announce() {
    stress(Mechanism::SocketPair, true);
}
