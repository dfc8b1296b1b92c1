//! A Unix signal arrives as a callback on the loop thread. Its own test
//! binary: signal dispositions are process-wide.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rouse_reactor::EventLoop;

#[test]
fn signal_is_delivered_as_a_callback_on_the_loop_thread() {
    let mut el = EventLoop::builder()
        .default_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let loop_thread = std::thread::current().id();
    el.add_signal_handler(libc::SIGUSR1, move |el, _, sig| {
        assert_eq!(std::thread::current().id(), loop_thread);
        g.borrow_mut().push(sig);
        el.stop();
    })
    .unwrap();
    let raiser = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: raising a signal whose handler is installed above.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
    });
    let start = Instant::now();
    el.call_later(Duration::from_secs(10), |el, _| el.stop());
    el.run(&mut ()).unwrap();
    raiser.join().unwrap();
    assert_eq!(*got.borrow(), vec![libc::SIGUSR1]);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(el.add_signal_handler(libc::SIGKILL, |_, _, _| {}).is_err());
}
