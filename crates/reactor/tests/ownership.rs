//! A registration owns its source, and user code shares the loop's data:
//! verdicts close, park or disable; `take` and `source_mut` reach a source
//! from outside its handler; a handler removing itself keeps its fd open
//! until it returns; handlers, timers, callbacks and other threads' callbacks
//! all see the same `&mut D`.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use mio::net::UnixStream;
use rouse_reactor::{EventLoop, PostAction, Ready, SourceKey, Watch};

/// A connection with its own state, registered as one source.
struct Conn {
    stream: UnixStream,
    received: Vec<u8>,
    /// Told when the loop drops this source.
    dropped: Option<Rc<RefCell<Vec<&'static str>>>>,
}

impl Conn {
    fn new(stream: UnixStream) -> Conn {
        Conn {
            stream,
            received: Vec::new(),
            dropped: None,
        }
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(log) = &self.dropped {
            log.borrow_mut().push("dropped");
        }
    }
}

/// Reads what is there into `conn.received`: `Wait` once drained, `Remove`
/// at the end of stream.
fn read_into(conn: &mut Conn) -> io::Result<PostAction> {
    let mut buf = [0u8; 64];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => return Ok(PostAction::Remove),
            Ok(n) => conn.received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(PostAction::Wait),
            Err(e) => return Err(e),
        }
    }
}

fn turns<D>(el: &mut EventLoop<D>, data: &mut D, n: usize) {
    for _ in 0..n {
        el.run_once(data, Some(Duration::from_millis(10))).unwrap();
    }
}

/// Whether the peer of a removed source sees it closed (a read that would
/// block means it is still open).
fn closed(peer: &mut UnixStream) -> bool {
    let mut buf = [0u8; 8];
    match peer.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[test]
fn remove_verdict_closes_the_source_after_the_handler_returns() {
    let mut el = EventLoop::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut conn = Conn::new(ours);
    conn.dropped = Some(log.clone());
    let handler_log = log.clone();
    let key = el
        .register(conn, Watch::read(), move |_, _, conn: &mut Conn, _| {
            read_into(conn)?;
            handler_log.borrow_mut().push("handled");
            Ok(PostAction::Remove)
        })
        .unwrap();
    peer.write_all(b"bye").unwrap();
    turns(&mut el, &mut (), 5);
    assert_eq!(*log.borrow(), ["handled", "dropped"]);
    assert!(!el.contains(key));
    assert!(closed(&mut peer));
}

#[test]
fn a_handler_removing_itself_keeps_its_fd_open_until_it_returns() {
    let mut el = EventLoop::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut conn = Conn::new(ours);
    conn.dropped = Some(log.clone());
    let handler_log = log.clone();
    el.register(conn, Watch::read(), move |el, _, conn: &mut Conn, _| {
        read_into(conn)?;
        let me = el.current_source().unwrap();
        assert!(el.remove(me));
        assert!(!el.contains(me), "gone from the table at once");
        // ...but the source is still ours, open: the fd number cannot be
        // handed to a new socket while we hold it.
        assert!(handler_log.borrow().is_empty(), "dropped under the handler");
        conn.stream.write_all(b"still open")?;
        handler_log.borrow_mut().push("returned");
        Ok(PostAction::Continue)
    })
    .unwrap();
    peer.write_all(b"x").unwrap();
    turns(&mut el, &mut (), 5);
    assert_eq!(*log.borrow(), ["returned", "dropped"]);
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"still open");
}

#[test]
fn take_hands_the_source_back_and_source_mut_reaches_it_in_place() {
    let mut el = EventLoop::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let key = el
        .register(Conn::new(ours), Watch::read(), |_, _, conn, _| {
            read_into(conn)
        })
        .unwrap();
    peer.write_all(b"hello").unwrap();
    turns(&mut el, &mut (), 3);
    // From outside the handler: the loop still owns it, state and all.
    let conn = el.source_mut::<Conn>(key).expect("registered");
    assert_eq!(conn.received, b"hello");
    conn.stream.write_all(b"from outside").unwrap();
    // The wrong type is refused and the registration left alone.
    assert!(el.source::<UnixStream>(key).is_none());
    assert!(el.take::<UnixStream>(key).is_none());
    assert!(el.contains(key));
    // Taken out: no longer watched, not closed, ours again.
    let mut conn: Conn = el.take(key).expect("taken");
    assert!(!el.contains(key));
    assert!(el.take::<Conn>(key).is_none(), "stale key");
    peer.write_all(b"!").unwrap();
    turns(&mut el, &mut (), 2);
    assert_eq!(conn.received, b"hello", "no handler runs for it any more");
    let mut buf = [0u8; 12];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"from outside");
    let _ = conn.stream.read(&mut buf).unwrap();
    assert_eq!(buf[0], b'!');
}

#[test]
fn a_running_handler_cannot_take_its_own_source() {
    let mut el = EventLoop::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let mut outcome = None;
    let key = el
        .register(
            Conn::new(ours),
            Watch::read(),
            |el, outcome: &mut Option<bool>, conn, _| {
                let me = el.current_source().unwrap();
                *outcome = Some(el.take::<Conn>(me).is_none() && el.contains(me));
                read_into(conn)
            },
        )
        .unwrap();
    peer.write_all(b"x").unwrap();
    turns(&mut el, &mut outcome, 3);
    assert_eq!(outcome, Some(true), "refused, registration kept");
    assert!(el.contains(key));
}

#[test]
fn a_handler_can_take_another_registrations_source() {
    let mut el = EventLoop::new().unwrap();
    let (first, mut first_peer) = UnixStream::pair().unwrap();
    let (second, mut second_peer) = UnixStream::pair().unwrap();
    let second_key = el
        .register(Conn::new(second), Watch::read(), |_, _, conn, _| {
            read_into(conn)
        })
        .unwrap();
    let mut taken: Option<Conn> = None;
    el.register(
        Conn::new(first),
        Watch::read(),
        move |el, taken: &mut Option<Conn>, conn, _| {
            *taken = el.take::<Conn>(second_key);
            read_into(conn)
        },
    )
    .unwrap();
    first_peer.write_all(b"go").unwrap();
    turns(&mut el, &mut taken, 3);
    let mut conn = taken.expect("taken from inside a handler");
    assert!(!el.contains(second_key));
    second_peer.write_all(b"direct").unwrap();
    let mut buf = [0u8; 6];
    conn.stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"direct");
}

#[test]
fn disable_stops_the_calls_until_enabled_and_keeps_the_claim() {
    let mut el = EventLoop::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let fd = ours.as_raw_fd();
    let mut calls = 0usize;
    let key = el
        .register(
            ours,
            Watch::read().named("pausing"),
            |_, calls: &mut usize, s, _| {
                *calls += 1;
                let mut byte = [0u8; 1];
                s.read_exact(&mut byte)?;
                Ok(PostAction::Disable)
            },
        )
        .unwrap();
    peer.write_all(b"abc").unwrap();
    turns(&mut el, &mut calls, 5);
    assert_eq!(calls, 1, "disabled after the first byte");
    assert_eq!(el.is_enabled(key), Some(false));
    // Disabled, the registration still holds READ of its fd.
    let thief = el.register(fd, Watch::read(), |_, _, _, _| Ok(PostAction::Wait));
    assert!(thief.is_err(), "the claim is kept while disabled");
    // Enabled again: two bytes are still there, reported at once.
    el.enable(key).unwrap();
    turns(&mut el, &mut calls, 5);
    assert_eq!(calls, 2);
    el.enable(key).unwrap();
    turns(&mut el, &mut calls, 5);
    assert_eq!(calls, 3);
}

/// What handlers, timers and callbacks share in the data test.
struct Tally {
    events: Vec<&'static str>,
    conn: Option<SourceKey>,
}

#[test]
fn handlers_timers_callbacks_and_other_threads_share_the_loops_data() {
    let mut el: EventLoop<Tally> = EventLoop::new().unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let conn = el
        .register(
            Conn::new(ours),
            Watch::read(),
            |el, t: &mut Tally, conn, _: Ready| {
                let action = read_into(conn)?;
                t.events.push("handler");
                el.add_callback(|_, t| t.events.push("callback"));
                Ok(action)
            },
        )
        .unwrap();
    let mut tally = Tally {
        events: Vec::new(),
        conn: Some(conn),
    };
    el.call_later(Duration::from_millis(1), |el, t| {
        t.events.push("timer");
        // The timer writes through the handler's connection.
        let key = t.conn.unwrap();
        let conn = el.source_mut::<Conn>(key).unwrap();
        conn.stream.write_all(b"from the timer").unwrap();
    });
    let handle = el.handle();
    std::thread::spawn(move || {
        handle
            .add_callback(|el, t| {
                t.events.push("other thread");
                el.stop();
            })
            .unwrap();
    })
    .join()
    .unwrap();
    peer.write_all(b"x").unwrap();
    el.run(&mut tally).unwrap();
    turns(&mut el, &mut tally, 10);
    let mut events = tally.events.clone();
    events.sort_unstable();
    assert_eq!(
        events,
        ["callback", "handler", "other thread", "timer"],
        "{:?}",
        tally.events
    );
    let mut buf = [0u8; 14];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"from the timer");
}
