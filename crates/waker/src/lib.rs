//! Wake a thread blocked in epoll, kqueue, `poll(2)` or `select(2)` from any
//! thread, with at most one syscall per sleep however many threads wake it.
//!
//! This is what kafka-python does with a socketpair and tornado with a pipe,
//! done properly: non-blocking, close-on-exec fds; an atomic pending flag so a
//! second wake costs no syscall; an optional announce-sleep protocol (libev's)
//! so wakes while the poller is busy cost none either; counters to prove it;
//! and Unix signals that wake the poller from their handler.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use crossbeam_channel::unbounded;
//! use mio::{Events, Interest, Poll, Token};
//! use rouse_waker::Waker;
//!
//! let mut poll = Poll::new()?;
//! let mut waker = Waker::new()?;
//! poll.registry().register(&mut waker, Token(0), Interest::READABLE)?;
//! let waker = Arc::new(waker);
//! let (tx, rx) = unbounded();
//!
//! let remote = Arc::clone(&waker);
//! let producer = std::thread::spawn(move || {
//!     tx.send("hello").unwrap(); // push the work first...
//!     remote.wake().unwrap();   // ...then wake
//! });
//!
//! let mut events = Events::with_capacity(8);
//! let mut got = None;
//! while got.is_none() {
//!     let timeout = if waker.prepare_sleep() { Duration::from_secs(10) } else { Duration::ZERO };
//!     poll.poll(&mut events, Some(timeout))?; // returns at once when woken
//!     waker.reset();                          // clear, drain, then...
//!     got = rx.try_recv().ok();               // ...check the queue
//! }
//! producer.join().unwrap();
//! assert_eq!(got, Some("hello"));
//! assert_eq!(waker.stats().wakes_requested, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

// Unsafe code is confined to the system calls (`sys`) and the signal
// handler's registration (`signal`), each block with its safety argument;
// the protocol itself (`state`) and everything else may not use it.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod signal;
mod state;
mod stats;
mod sync;
#[allow(unsafe_code)]
mod sys;
mod waker;

#[cfg(all(test, loom))]
mod loom_tests;

pub use signal::SignalWakeup;
pub use stats::WakerStats;
pub use sys::Mechanism;
pub use waker::Waker;
