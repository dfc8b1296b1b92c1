//! The same waker from a raw, level-triggered `poll(2)` loop: a wake makes
//! the fd readable, `reset` empties it, so the loop neither misses work nor
//! spins.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::unbounded;
use rouse_waker::Waker;

/// Long enough that only a lost wake runs it out: the producer never pauses.
const LOST_WAKE_TIMEOUT_MS: i32 = 10_000;

fn poll_readable(fd: i32, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a bounded timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    assert!(n >= 0, "poll failed: {}", std::io::Error::last_os_error());
    n == 1 && pfd.revents & libc::POLLIN != 0
}

#[test]
fn raw_poll_loop_sees_every_item_without_spinning() {
    for waker in [
        Waker::new().unwrap(),
        Waker::pipe().unwrap(),
        Waker::socketpair().unwrap(),
    ] {
        let mechanism = waker.mechanism();
        let waker = Arc::new(waker);
        let (tx, rx) = unbounded::<u32>();
        const ITEMS: u32 = 20_000;
        let remote = Arc::clone(&waker);
        let producer = thread::spawn(move || {
            for i in 0..ITEMS {
                tx.send(i).unwrap();
                remote.wake().unwrap();
            }
        });

        let mut got = 0;
        let mut readable_returns = 0u64;
        while got < ITEMS {
            let readable = poll_readable(waker.as_raw_fd(), LOST_WAKE_TIMEOUT_MS);
            // A poll that ran out its timeout while items wait is a lost
            // wake. (With nothing queued the producer was merely slow.)
            assert!(
                readable || rx.is_empty(),
                "{mechanism:?}: lost wake: the poll timed out with {} items queued",
                rx.len()
            );
            readable_returns += u64::from(readable);
            waker.reset();
            got += rx.try_iter().count() as u32;
        }
        producer.join().unwrap();
        // Spurious wakeups are allowed (an item taken before its wake wrote,
        // a write that landed after its round was reset), a spin is not:
        // each readable return must be paid for by a write, because `reset`
        // drains whatever the poll saw.
        let writes = waker.stats().wake_syscalls;
        assert!(
            readable_returns <= writes,
            "{mechanism:?}: spin: poll returned readable {readable_returns} times for {writes} writes"
        );
        waker.reset();
        assert!(
            !poll_readable(waker.as_raw_fd(), 0),
            "{mechanism:?}: fd left readable after reset"
        );
    }
}

#[test]
fn blocked_raw_poll_returns_on_wake() {
    let waker = Arc::new(Waker::new().unwrap());
    let remote = Arc::clone(&waker);
    let waking = thread::spawn(move || {
        // Most likely the poll below is blocked by then; either way it must
        // return for the wake, and not run out its timeout.
        thread::sleep(std::time::Duration::from_millis(50));
        remote.wake().unwrap();
    });
    assert!(poll_readable(waker.as_raw_fd(), LOST_WAKE_TIMEOUT_MS));
    waking.join().unwrap();
}
