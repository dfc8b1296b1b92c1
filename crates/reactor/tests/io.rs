//! Readiness handling on real sockets: echo over 127.0.0.1, removal during
//! dispatch, edge vs level, failing handlers, the one-waiter rule.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream, UnixStream};
use rouse_reactor::{
    Direction, EventLoop, Interest, PostAction, Ready, RegisterError, SourceKey, Watch,
};

/// Runs the loop until `done`, at most `limit` iterations of at most 100 ms.
fn run_bounded(el: &mut EventLoop, limit: usize, mut done: impl FnMut(&EventLoop) -> bool) {
    for _ in 0..limit {
        if done(el) {
            return;
        }
        el.run_once(&mut (), Some(Duration::from_millis(100)))
            .unwrap();
    }
    assert!(done(el), "condition not reached within {limit} iterations");
}

#[test]
fn echo_round_trip_over_loopback() {
    let mut el = EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    el.register(listener, Watch::read(), |el, _, l, _| loop {
        let (conn, _) = l.accept()?;
        el.register(conn, Watch::read(), |_, _, c: &mut TcpStream, _| {
            let mut buf = [0u8; 1024];
            loop {
                let n = c.read(&mut buf)?;
                if n == 0 {
                    return Ok(PostAction::Remove);
                }
                c.write_all(&buf[..n])?;
            }
        })?;
    })
    .unwrap();

    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut echoed = Vec::new();
        for i in 0..20u8 {
            let msg = [i; 100];
            s.write_all(&msg).unwrap();
            let mut back = [0u8; 100];
            s.read_exact(&mut back).unwrap();
            echoed.extend_from_slice(&back);
        }
        echoed
    });
    let handle = el.handle();
    let waiter = std::thread::spawn(move || {
        let echoed = client.join().unwrap();
        handle.stop();
        echoed
    });
    el.call_later(Duration::from_secs(10), |el, _| el.stop());
    el.run(&mut ()).unwrap();
    let echoed = waiter.join().unwrap();
    assert_eq!(echoed.len(), 2000);
    assert!(echoed
        .chunks(100)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == i as u8)));
}

/// What the two handlers of the removal test share, through the loop.
struct Removal {
    calls: Vec<&'static str>,
    a: Option<SourceKey>,
    b: Option<SourceKey>,
}

#[test]
fn handler_removing_another_source_during_dispatch_silences_it() {
    let mut el = EventLoop::new().unwrap();
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let (b, mut b_peer) = UnixStream::pair().unwrap();
    // Whichever runs first removes the other.
    let a = el
        .register(a, Watch::read(), |el, r: &mut Removal, s, _| {
            r.calls.push("a");
            assert!(el.remove(r.b.take().unwrap()), "b was live");
            drain(s)
        })
        .unwrap();
    let b = el
        .register(b, Watch::read(), |el, r: &mut Removal, s, _| {
            r.calls.push("b");
            assert!(el.remove(r.a.take().unwrap()), "a was live");
            drain(s)
        })
        .unwrap();
    let mut shared = Removal {
        calls: Vec::new(),
        a: Some(a),
        b: Some(b),
    };

    // Both become readable before the same poll.
    a_peer.write_all(b"x").unwrap();
    b_peer.write_all(b"y").unwrap();
    for _ in 0..20 {
        if !shared.calls.is_empty() {
            break;
        }
        el.run_once(&mut shared, Some(Duration::from_millis(100)))
            .unwrap();
    }
    el.run_once(&mut shared, Some(Duration::from_millis(20)))
        .unwrap();
    // Exactly one ran: the other was removed before its event was dispatched.
    assert_eq!(shared.calls.len(), 1, "{:?}", shared.calls);
    assert_eq!(el.metrics().registrations, 1);
    // The removed one's source was closed: its peer reads the end.
    let mut buf = [0u8; 8];
    let removed_peer = if shared.calls == ["a"] {
        &mut b_peer
    } else {
        &mut a_peer
    };
    // Closed synchronously (with its byte unread: a reset); a read that
    // would block means it is still open.
    let read = removed_peer.read(&mut buf);
    assert!(
        matches!(&read, Err(e) if e.kind() == io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
}

/// Reads until the socket is drained (`?` turns WouldBlock into a park) or
/// the peer closed (then the registration goes).
fn drain(s: &mut UnixStream) -> io::Result<PostAction> {
    let mut buf = [0u8; 64];
    loop {
        if s.read(&mut buf)? == 0 {
            return Ok(PostAction::Remove);
        }
    }
}

/// A handler that reads one byte per call, counting them in the loop's
/// data, and never reports WouldBlock itself unless the socket is empty.
fn one_byte_handler(
    _: &mut EventLoop<usize>,
    count: &mut usize,
    s: &mut UnixStream,
    _: Ready,
) -> io::Result<PostAction> {
    let mut byte = [0u8; 1];
    s.read_exact(&mut byte)?;
    *count += 1;
    Ok(PostAction::Continue)
}

#[test]
fn level_trigger_calls_again_until_would_block_edge_does_not() {
    for (watch, expected) in [(Watch::read().level(), 10), (Watch::read().edge(), 1)] {
        let mut el = EventLoop::new().unwrap();
        let (s, mut peer) = UnixStream::pair().unwrap();
        let mut count = 0;
        el.register(s, watch.clone(), one_byte_handler).unwrap();
        peer.write_all(&[7u8; 10]).unwrap();
        for _ in 0..30 {
            el.run_once(&mut count, Some(Duration::from_millis(10)))
                .unwrap();
        }
        assert_eq!(count, expected, "{:?}", watch.trigger());
    }
}

#[test]
fn level_handler_is_parked_after_would_block_so_the_loop_sleeps() {
    let mut el = EventLoop::new().unwrap();
    let (s, mut peer) = UnixStream::pair().unwrap();
    let mut count = 0;
    el.register(s, Watch::read().level(), one_byte_handler)
        .unwrap();
    peer.write_all(&[1u8; 3]).unwrap();
    for _ in 0..10 {
        el.run_once(&mut count, Some(Duration::from_millis(5)))
            .unwrap();
    }
    assert_eq!(count, 3);
    // Now parked: a long wait is a real sleep, not a spin of handler calls.
    let handlers_before = el.metrics().handlers_run;
    el.run_once(&mut count, Some(Duration::from_millis(50)))
        .unwrap();
    assert_eq!(el.metrics().handlers_run, handlers_before);
}

#[test]
fn a_level_handler_that_says_wait_is_parked_though_still_readable() {
    let mut el = EventLoop::new().unwrap();
    let (s, mut peer) = UnixStream::pair().unwrap();
    let mut calls = 0;
    el.register(s, Watch::read().level(), |_, calls: &mut usize, _, _| {
        *calls += 1;
        Ok(PostAction::Wait) // nothing read: the socket stays readable
    })
    .unwrap();
    peer.write_all(b"unread").unwrap();
    for _ in 0..5 {
        el.run_once(&mut calls, Some(Duration::from_millis(5)))
            .unwrap();
    }
    // Edge-triggered underneath: no new edge, no new call.
    assert_eq!(calls, 1);
}

#[test]
fn panicking_and_failing_handlers_do_not_stop_others() {
    let mut el = EventLoop::new().unwrap();
    let (bad, mut bad_peer) = UnixStream::pair().unwrap();
    let (failing, mut failing_peer) = UnixStream::pair().unwrap();
    let (good, mut good_peer) = UnixStream::pair().unwrap();
    let good_calls = Rc::new(RefCell::new(0));
    let bad_key = el
        .register(bad, Watch::read().named("bad"), |_, _, _, _| {
            panic!("handler bug")
        })
        .unwrap();
    let failing_key = el
        .register(failing, Watch::read().named("failing"), |_, _, s, _| {
            let mut byte = [0u8; 1];
            s.read_exact(&mut byte)?;
            Err(io::Error::other("business failure"))
        })
        .unwrap();
    let g = good_calls.clone();
    el.register(good, Watch::read(), move |_, _, s, _| {
        *g.borrow_mut() += 1;
        drain(s)
    })
    .unwrap();
    bad_peer.write_all(b"!").unwrap();
    failing_peer.write_all(b"?").unwrap();
    good_peer.write_all(b"ok").unwrap();
    run_bounded(&mut el, 20, |el| {
        *good_calls.borrow() == 1 && !el.contains(bad_key)
    });
    let m = el.metrics();
    assert_eq!(m.panics, 1);
    assert_eq!(m.handler_errors, 1);
    assert!(!el.contains(bad_key), "a panicking handler is removed");
    assert!(el.contains(failing_key), "a failing handler is kept");
}

#[test]
fn an_error_that_says_the_peer_went_away_is_a_close_not_a_failure() {
    let mut el = EventLoop::new().unwrap();
    let (s, peer) = UnixStream::pair().unwrap();
    let key = el
        .register(s, Watch::read(), |_, _, s, _| {
            // What `?` on a write to a closed peer propagates.
            s.write_all(b"late")?;
            Ok(PostAction::Wait)
        })
        .unwrap();
    drop(peer);
    run_bounded(&mut el, 20, |el| !el.contains(key));
    assert_eq!(el.metrics().handler_errors, 0);
}

#[test]
fn second_waiter_for_a_direction_is_refused_by_name() {
    let mut el: EventLoop = EventLoop::new().unwrap();
    let (s, _peer) = UnixStream::pair().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
    let reader = el
        .register(fd, Watch::read().named("reader"), |_, _, _, _| {
            Ok(PostAction::Wait)
        })
        .unwrap();
    let err = el
        .register(fd, Watch::read().named("thief"), |_, _, _, _| {
            Ok(PostAction::Wait)
        })
        .unwrap_err();
    match &err {
        RegisterError::AlreadyWatched {
            direction, owner, ..
        } => {
            assert_eq!(*direction, Direction::Read);
            assert_eq!(owner, "reader");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("reader"));
    // The other direction of the same fd is free.
    let writer = el
        .register(fd, Watch::write().named("writer"), |_, _, _, _| {
            Ok(PostAction::Wait)
        })
        .unwrap();
    // ...and the reader cannot grab it through an interest change.
    assert!(el.set_interest(reader, Interest::READ_WRITE).is_err());
    assert!(el.remove(writer));
    el.set_interest(reader, Interest::READ_WRITE).unwrap();
    assert!(el.remove(reader));
    drop(s);
}

#[test]
fn interest_switches_between_read_and_read_write() {
    let mut el = EventLoop::new().unwrap();
    let (s, _peer) = UnixStream::pair().unwrap();
    let writable = Rc::new(RefCell::new(0));
    let w = writable.clone();
    let key = el
        .register(s, Watch::read(), move |_, _, _, ready| {
            if ready.writable {
                *w.borrow_mut() += 1;
            }
            Ok(PostAction::Wait)
        })
        .unwrap();
    el.run_once(&mut (), Some(Duration::from_millis(10)))
        .unwrap();
    assert_eq!(*writable.borrow(), 0, "not watching WRITE yet");
    el.set_interest(key, Interest::READ_WRITE).unwrap();
    assert_eq!(el.interest(key), Some(Interest::READ_WRITE));
    run_bounded(&mut el, 10, |_| *writable.borrow() > 0);
    el.set_interest(key, Interest::READ).unwrap();
    let before = *writable.borrow();
    el.run_once(&mut (), Some(Duration::from_millis(10)))
        .unwrap();
    assert_eq!(*writable.borrow(), before);
}
