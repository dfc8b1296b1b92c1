//! A tornado-IOLoop-style event loop on mio: handlers per fd, thread-safe
//! callbacks, timers, signals, stop, and a blocked-loop detector. Every
//! handler, callback and timer gets the loop and its data (`&mut D`, lent by
//! [`EventLoop::run`]), and a handler says with a [`PostAction`] what
//! becomes of its registration.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use mio::net::{TcpListener, TcpStream};
//! use rouse_reactor::{EventLoop, PostAction, Watch};
//!
//! /// The loop's data: what handlers, timers and callbacks share.
//! #[derive(Default)]
//! struct Echo {
//!     bytes: usize,
//! }
//!
//! let mut el = EventLoop::new()?;
//! let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//! let addr = listener.local_addr()?;
//!
//! // Accept every pending client; `?` on WouldBlock parks the handler.
//! el.register(listener, Watch::read().named("accept"), |el, _, listener, _| loop {
//!     let (conn, _) = listener.accept()?;
//!     // Echo what a client sends (level-triggered: called while readable).
//!     el.register(conn, Watch::read().level(), |_, echo: &mut Echo, conn: &mut TcpStream, _| {
//!         let mut buf = [0u8; 512];
//!         let n = conn.read(&mut buf)?;
//!         if n == 0 {
//!             return Ok(PostAction::Remove); // the client hung up: close ours
//!         }
//!         conn.write_all(&buf[..n])?;
//!         echo.bytes += n;
//!         Ok(PostAction::Continue) // level: called again while readable
//!     })?;
//! })?;
//!
//! // A client on another thread; the loop stops when it has its echo.
//! let handle = el.handle();
//! let client = std::thread::spawn(move || {
//!     let mut s = std::net::TcpStream::connect(addr).unwrap();
//!     s.write_all(b"ping").unwrap();
//!     let mut echo = [0u8; 4];
//!     s.read_exact(&mut echo).unwrap();
//!     handle.add_callback(|el, _| el.stop()).unwrap();
//!     echo
//! });
//! el.call_later(Duration::from_secs(10), |el, _| el.stop()); // a bound, not a sleep
//! let mut echo = Echo::default();
//! el.run(&mut echo)?;
//! assert_eq!(&client.join().unwrap(), b"ping");
//! assert_eq!(echo.bytes, 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The contract
//!
//! * **The loop's data.** [`EventLoop<D>`](EventLoop) lends the `&mut D`
//!   given to [`run`](EventLoop::run) / [`run_once`](EventLoop::run_once) to
//!   every handler, callback (local or from a [`Handle`]), timer, prepare
//!   hook and signal handler, one call at a time: state they share lives
//!   there, not behind `Rc<RefCell<..>>`. `D` defaults to `()`.
//! * **A registration owns its source.** Removing it drops (closes) the
//!   source. [`source_mut`](EventLoop::source_mut) reaches a registered
//!   source from outside its handler, [`take`](EventLoop::take) removes the
//!   registration and hands the source back.
//! * **One waiter per fd and direction.** A second registration asking for a
//!   direction of an fd that another holds is refused with
//!   [`RegisterError::AlreadyWatched`] naming the holder (gevent's rule).
//! * **Edge or level, per registration** ([`Trigger`]). Edge is mio's: drain
//!   to `WouldBlock` or you will not hear of the rest. Level is tornado's:
//!   the handler is called again each iteration while it returns
//!   [`PostAction::Continue`].
//! * **Handler verdicts**, `io::Result<PostAction>`:
//!
//! | the handler returns | the registration |
//! | --- | --- |
//! | `Ok(Continue)` | kept; a level handler is called again next iteration, an edge one at the next edge |
//! | `Ok(Wait)` | kept, parked until the next readiness (the source is drained) |
//! | `Ok(Disable)` | kept with its claim on the fd, but not watched until [`EventLoop::enable`] |
//! | `Ok(Remove)` | removed; the source dropped (closed) once the handler has returned |
//! | `Err` of kind `WouldBlock` (what `?` on a drained socket gives) | as `Wait` |
//! | `Err` of kind `ConnectionReset`, `BrokenPipe`, `ConnectionAborted`, `NotConnected`, `UnexpectedEof` (the peer went away) | as `Remove`, logged at debug |
//! | any other `Err` | kept and parked; logged at warn with the handler's name |
//! | a panic | caught; removed, the source dropped; logged at error with the handler's name |
//!
//!   Return the verdict to mean "done for now" or "remove me"; the error
//!   kinds are read only so that `?` on socket calls does the right thing.
//!   Callbacks and timers that panic are logged and the loop goes on.
//! * **Removal is safe from inside any handler**, of its own registration or
//!   another's: events already polled for a removed registration are
//!   discarded, and the running handler's own source is dropped only after
//!   it returns, so an fd number cannot be reused under a live registration.
//! * **Callbacks** queued during an iteration run on the next one; timers
//!   those callbacks schedule cannot fire in the current one either.
//! * **Timeouts.** The poll timeout is 0 when work is waiting, else the time
//!   to the next timer capped by the default timeout: never a busy loop,
//!   never sleeping past a due timer. A timer never fires early; on Linux
//!   a timerfd armed to its exact deadline ends the sleep, so it fires
//!   within tens of microseconds of it rather than up to the next whole
//!   millisecond `epoll_wait` can count
//!   ([`Builder::precise_timers`]).
//! * **Stop and drop across threads.** A [`Handle::stop`] is never lost: it
//!   ends the run in progress after its iteration, or the next run at once.
//!   Work a handle queues is either refused with [`LoopClosed`] or accepted
//!   before the loop's drop began, and then runs or is reported as dropped
//!   with the loop; nothing runs after the drop, and
//!   [`Handle::is_closed`] is true from its start. (Loom models check these.)
//! * **Wakes** from other threads cost one syscall at most per sleep, none
//!   while the loop is awake (the waker's announce-sleep protocol).
//! * **Blocked-loop detector** ([`Builder::blocked_threshold`]): a call that
//!   keeps the loop thread busy past the threshold is reported by name.
//! * **EINTR** from the poll is retried, never surfaced.

// Unsafe code is confined to the timerfd's system calls (`timerfd`, Linux),
// each block with its safety argument.
#![deny(unsafe_code)]

mod dispatch;
mod error;
mod event_loop;
mod handle;
mod handler;
mod interest;
mod io_table;
mod label;
mod lifecycle;
mod metrics;
mod precise_wake;
mod scheduling;
mod signals;
mod sources;
mod sync;
mod timer_table;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod timerfd;
mod watchdog;

#[cfg(all(test, loom))]
mod loom_tests;

pub use error::{Direction, LoopClosed, RegisterError};
pub use event_loop::{Builder, EventLoop};
pub use handle::{Handle, TimerId};
pub use handler::PostAction;
pub use interest::{Interest, Ready, Trigger, Watch};
pub use io_table::SourceKey;
pub use metrics::Metrics;
pub use scheduling::PrepareId;
