//! Callbacks, timers, stop and time: cross-thread callbacks run exactly once,
//! a sleeping loop stops at once, timers are never early and keep deadline
//! order, periodic timers skip missed ticks, all on an injected clock.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rouse_reactor::{EventLoop, Handle, LoopClosed};
use rouse_timer::ManualClock;

fn manual_loop() -> (EventLoop, ManualClock) {
    let clock = ManualClock::new(Instant::now());
    let el = EventLoop::builder()
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    (el, clock)
}

#[test]
fn callbacks_from_eight_threads_all_run_exactly_once() {
    const THREADS: usize = 8;
    const EACH: usize = 5_000;
    let mut el = EventLoop::new().unwrap();
    let seen = Arc::new(Mutex::new(vec![0u8; THREADS * EACH]));
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (handle, seen, done) = (el.handle(), seen.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let (seen, done) = (seen.clone(), done.clone());
                    handle
                        .add_callback(move |_, _| {
                            seen.lock().unwrap()[t * EACH + i] += 1;
                            done.fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    el.call_later(Duration::from_secs(20), |el, _| el.stop());
    el.run_until(&mut (), |_, _| {
        done.load(Ordering::Relaxed) == THREADS * EACH
    })
    .unwrap();
    for t in threads {
        t.join().unwrap();
    }
    assert!(seen.lock().unwrap().iter().all(|&n| n == 1));
    let m = el.metrics();
    assert_eq!(m.callbacks_run, (THREADS * EACH) as u64);
    assert!(m.wake_syscalls <= m.wakes_requested);
}

#[test]
fn stop_from_another_thread_wakes_a_loop_sleeping_in_a_long_poll() {
    let mut el = EventLoop::builder()
        .default_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let handle = el.handle();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let asked = Instant::now();
        handle.stop();
        asked
    });
    el.run(&mut ()).unwrap();
    let returned = Instant::now();
    let asked = stopper.join().unwrap();
    let took = returned.saturating_duration_since(asked);
    assert!(took < Duration::from_millis(100), "stop took {took:?}");
}

#[test]
fn stop_before_run_returns_at_once_and_run_can_start_again() {
    let mut el = EventLoop::new().unwrap();
    el.handle().stop();
    el.run(&mut ()).unwrap();
    let ran = Rc::new(RefCell::new(false));
    let r = ran.clone();
    el.add_callback(move |el, _| {
        *r.borrow_mut() = true;
        el.stop();
    });
    el.run(&mut ()).unwrap();
    assert!(*ran.borrow());
}

#[test]
fn timers_never_fire_early_and_fire_in_deadline_order() {
    let (mut el, clock) = manual_loop();
    let start = clock.now();
    let fired = Rc::new(RefCell::new(Vec::new()));
    // Inserted out of order, with a tie at 30 ms kept in insertion order.
    for (label, ms) in [
        ("c", 30u64),
        ("a", 10),
        ("d", 30),
        ("b", 20),
        ("late", 1000),
    ] {
        let f = fired.clone();
        el.call_at(start + Duration::from_millis(ms), move |el, _| {
            f.borrow_mut().push((label, el.now()));
        });
    }
    for _ in 0..100 {
        clock.advance(Duration::from_micros(500));
        el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    }
    let fired = fired.borrow();
    let order: Vec<&str> = fired.iter().map(|(l, _)| *l).collect();
    assert_eq!(order, ["a", "b", "c", "d"]);
    for (label, at) in fired.iter() {
        let due = start
            + Duration::from_millis(match *label {
                "a" => 10,
                "b" => 20,
                _ => 30,
            });
        assert!(*at >= due, "{label} fired early");
        assert!(*at <= due + Duration::from_millis(2), "{label} fired late");
    }
    assert_eq!(el.metrics().pending_timers, 1);
}

#[test]
fn real_clock_timers_are_never_early() {
    let mut el = EventLoop::new().unwrap();
    let fired = Rc::new(RefCell::new(Vec::new()));
    let start = Instant::now();
    for ms in [15u64, 5, 25] {
        let f = fired.clone();
        el.call_later(Duration::from_millis(ms), move |_, _| {
            f.borrow_mut().push((ms, Instant::now()));
        });
    }
    el.run_until(&mut (), |_, _| fired.borrow().len() == 3)
        .unwrap();
    let fired = fired.borrow();
    assert_eq!(fired.iter().map(|f| f.0).collect::<Vec<_>>(), [5, 15, 25]);
    for (ms, at) in fired.iter() {
        assert!(*at >= start + Duration::from_millis(*ms));
    }
}

#[test]
fn cancelled_timers_do_not_fire_and_cancel_is_idempotent() {
    let (mut el, clock) = manual_loop();
    let fired = Rc::new(RefCell::new(0));
    let f = fired.clone();
    let id = el.call_later(Duration::from_millis(5), move |_, _| *f.borrow_mut() += 1);
    assert!(el.cancel(id));
    assert!(!el.cancel(id));
    clock.advance(Duration::from_secs(1));
    el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    assert_eq!(*fired.borrow(), 0);
}

#[test]
fn periodic_timer_skips_missed_ticks_without_drift() {
    let (mut el, clock) = manual_loop();
    let start = clock.now();
    let ticks = Rc::new(RefCell::new(Vec::new()));
    let (t, c) = (ticks.clone(), clock.clone());
    el.call_every(Duration::from_millis(100), move |el, _| {
        let n = t.borrow().len();
        t.borrow_mut()
            .push(el.now().duration_since(start).as_millis());
        if n == 1 {
            c.advance(Duration::from_millis(250)); // this run overran
        }
    });
    for _ in 0..80 {
        clock.advance(Duration::from_millis(10));
        el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    }
    // 100, 200 (overran to 450), so 300 and 400 are skipped: 500, 600, ...
    let ticks = ticks.borrow();
    assert_eq!(&ticks[..4], &[100, 200, 500, 600], "{ticks:?}");
}

#[test]
fn periodic_timer_can_cancel_itself() {
    let (mut el, clock) = manual_loop();
    let runs = Rc::new(RefCell::new(0));
    let id_cell = Rc::new(RefCell::new(None));
    let (r, idc) = (runs.clone(), id_cell.clone());
    let id = el.call_every(Duration::from_millis(10), move |el, _| {
        *r.borrow_mut() += 1;
        if *r.borrow() == 3 {
            assert!(el.cancel(idc.borrow().unwrap()));
        }
    });
    *id_cell.borrow_mut() = Some(id);
    for _ in 0..20 {
        clock.advance(Duration::from_millis(10));
        el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(*runs.borrow(), 3);
    assert_eq!(el.metrics().pending_timers, 0);
}

#[test]
fn callbacks_added_during_an_iteration_run_on_the_next() {
    let mut el = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    el.add_callback(move |el, _| {
        l.borrow_mut().push(el.metrics().iterations);
        let l2 = l.clone();
        el.add_callback(move |el, _| l2.borrow_mut().push(el.metrics().iterations));
    });
    el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    assert_eq!(log.borrow().len(), 1);
    el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    let log = log.borrow();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1], log[0] + 1);
}

#[test]
fn timers_scheduled_by_due_timers_wait_for_the_next_iteration() {
    let (mut el, clock) = manual_loop();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    el.call_later(Duration::from_millis(1), move |el, _| {
        l.borrow_mut().push("first");
        let l2 = l.clone();
        el.call_later(Duration::ZERO, move |_, _| l2.borrow_mut().push("second"));
    });
    clock.advance(Duration::from_millis(5));
    el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    assert_eq!(*log.borrow(), ["first"]);
    el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    assert_eq!(*log.borrow(), ["first", "second"]);
}

#[test]
fn handle_timers_and_cancel_from_another_thread() {
    let mut el = EventLoop::new().unwrap();
    let handle = el.handle();
    let fired = Arc::new(AtomicUsize::new(0));
    let f1 = fired.clone();
    let f2 = fired.clone();
    std::thread::spawn(move || {
        let keep = handle
            .call_later(Duration::from_millis(20), move |_, _| {
                f1.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let drop_it = handle
            .call_later(Duration::from_millis(10), move |_, _| {
                f2.fetch_add(100, Ordering::SeqCst);
            })
            .unwrap();
        handle.cancel(drop_it).unwrap();
        handle
            .call_later(Duration::from_millis(60), |el, _| el.stop())
            .unwrap();
        keep
    })
    .join()
    .unwrap();
    el.run(&mut ()).unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_callback_is_logged_and_the_loop_goes_on() {
    let mut el = EventLoop::new().unwrap();
    let ran = Rc::new(RefCell::new(false));
    el.add_callback(|_, _| panic!("callback bug"));
    let r = ran.clone();
    el.add_callback(move |_, _| *r.borrow_mut() = true);
    el.run_once(&mut (), Some(Duration::ZERO)).unwrap();
    assert!(*ran.borrow());
    assert_eq!(el.metrics().panics, 1);
}

#[test]
fn a_dropped_loop_refuses_more_work() {
    let el: EventLoop = EventLoop::new().unwrap();
    let handle = el.handle();
    drop(el);
    assert!(handle.is_closed());
    assert!(handle.add_callback(|_, _| {}).is_err());
}

/// Posts to the loop from its destructor, saying what the loop answered.
struct PostsOnDrop {
    handle: Handle,
    answer: crossbeam_channel::Sender<Result<(), LoopClosed>>,
}

impl Drop for PostsOnDrop {
    fn drop(&mut self) {
        let _ = self.answer.send(self.handle.add_callback(|_, _| {}));
    }
}

#[test]
fn work_queued_on_a_dropped_loop_is_dropped_with_it_and_may_post_from_its_destructor() {
    let (answer, answers) = crossbeam_channel::unbounded();
    // On a thread of its own, bounded: dropping the queued callback under the
    // queue's lock would deadlock when its destructor posts.
    let owner = std::thread::spawn(move || {
        let el: EventLoop = EventLoop::new().unwrap();
        let handle = el.handle();
        let guard = PostsOnDrop {
            handle: handle.clone(),
            answer,
        };
        handle
            .add_callback(move |_, _| drop(guard))
            .expect("the loop is open");
        drop(el); // never ran the callback: it is dropped with the loop
        handle.is_closed()
    });
    let answered = answers
        .recv_timeout(Duration::from_secs(10))
        .expect("the queued callback was neither dropped with the loop nor run");
    assert_eq!(
        answered,
        Err(LoopClosed),
        "a post from a dropped loop's work"
    );
    assert!(owner.join().unwrap());
}

#[test]
fn idle_loop_sleeps_until_its_timer_instead_of_spinning() {
    let mut el = EventLoop::new().unwrap();
    let fired = Rc::new(RefCell::new(false));
    let f = fired.clone();
    el.call_later(Duration::from_millis(50), move |_, _| {
        *f.borrow_mut() = true
    });
    el.run_until(&mut (), |_, _| *fired.borrow()).unwrap();
    // A handful of iterations, not thousands of zero-timeout polls.
    assert!(el.metrics().iterations < 10, "{:?}", el.metrics());
}

#[test]
fn bare_wake_runs_prepare_hooks_which_see_work_handed_over() {
    let mut el = EventLoop::builder()
        .default_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let inbox = Arc::new(Mutex::new(Vec::<u32>::new()));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (i, s) = (inbox.clone(), seen.clone());
    let id = el.add_prepare(move |el, _| {
        s.borrow_mut().extend(i.lock().unwrap().drain(..));
        if s.borrow().len() == 3 {
            el.stop();
        }
    });
    let handle = el.handle();
    let producer = std::thread::spawn(move || {
        for n in 0..3 {
            std::thread::sleep(Duration::from_millis(20));
            inbox.lock().unwrap().push(n);
            handle.wake();
        }
    });
    let start = Instant::now();
    el.run(&mut ()).unwrap();
    producer.join().unwrap();
    assert_eq!(*seen.borrow(), [0, 1, 2]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "woken, not timed out"
    );
    assert!(el.remove_prepare(id));
    assert!(!el.remove_prepare(id));
}
