//! The same waker from a raw, level-triggered `poll(2)` loop: a wake makes
//! the fd readable, `reset` empties it, so the loop neither misses work nor
//! spins.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::unbounded;
use rouse_waker::Waker;

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
        let mut empty_wakeups = 0u32;
        while got < ITEMS {
            let readable = poll_readable(waker.as_raw_fd(), 5_000);
            assert!(
                readable || !rx.is_empty() || got == ITEMS,
                "poll timed out with work pending"
            );
            waker.reset();
            let before = got;
            got += rx.try_iter().count() as u32;
            if got == before {
                empty_wakeups += 1;
            }
        }
        producer.join().unwrap();
        // Spurious wakeups are allowed, a spin is not: far fewer empty
        // wakeups than items.
        assert!(
            empty_wakeups < ITEMS / 2,
            "{:?}: {empty_wakeups} empty wakeups",
            waker.mechanism()
        );
        waker.reset();
        assert!(
            !poll_readable(waker.as_raw_fd(), 0),
            "fd left readable after reset"
        );
    }
}

#[test]
fn blocked_raw_poll_returns_on_wake() {
    let waker = Arc::new(Waker::new().unwrap());
    let remote = Arc::clone(&waker);
    let waking = thread::spawn(move || {
        thread::sleep(std::time::Duration::from_millis(50));
        remote.wake().unwrap();
    });
    let start = std::time::Instant::now();
    assert!(poll_readable(waker.as_raw_fd(), 10_000));
    assert!(start.elapsed() < std::time::Duration::from_secs(9));
    waking.join().unwrap();
}
