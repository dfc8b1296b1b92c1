//! A signal wakes a poller blocked in mio, and the poller learns which one.
//! Its own test binary: signal dispositions are process-wide.

use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use rouse_waker::Waker;

#[test]
fn signal_wakes_blocked_poller_and_is_reported() {
    let mut poll = Poll::new().unwrap();
    let mut waker = Waker::new().unwrap();
    poll.registry()
        .register(&mut waker, Token(0), Interest::READABLE)
        .unwrap();
    let signals = waker
        .signal_wakeup(&[libc::SIGUSR1, libc::SIGUSR2])
        .unwrap();
    assert_eq!(signals.signals(), &[libc::SIGUSR1, libc::SIGUSR2]);

    let raiser = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: raising a signal whose handler is installed above.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
    });
    let mut events = Events::with_capacity(4);
    let start = Instant::now();
    let mut caught = Vec::new();
    while caught.is_empty() && start.elapsed() < Duration::from_secs(10) {
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        waker.reset();
        caught = signals.take_pending();
    }
    raiser.join().unwrap();
    assert_eq!(caught, vec![libc::SIGUSR2]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "signal did not wake the poll"
    );
    assert_eq!(waker.stats().signals, 1);
    assert!(signals.take_pending().is_empty());
}

#[test]
fn uncatchable_and_bogus_signals_are_refused_by_name() {
    let waker = Waker::new().unwrap();
    let err = waker.signal_wakeup(&[libc::SIGKILL]).unwrap_err();
    assert!(
        err.to_string().contains(&libc::SIGKILL.to_string()),
        "{err}"
    );
    let err = waker.signal_wakeup(&[0]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("signal 0"), "{err}");
}
