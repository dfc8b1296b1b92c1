//! A tornado-IOLoop-style event loop on mio: handlers per fd, thread-safe
//! callbacks, timers, signals, stop, and a blocked-loop detector.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use mio::net::{TcpListener, TcpStream};
//! use rouse_reactor::{EventLoop, Watch};
//!
//! let mut el = EventLoop::new()?;
//! let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//! let addr = listener.local_addr()?;
//!
//! // Echo whatever a client sends (level-triggered: called while readable).
//! el.register(listener, Watch::read().named("accept"), |el, listener, _| {
//!     let (conn, _) = listener.accept()?;
//!     el.register(conn, Watch::read().level(), |_, conn: &mut TcpStream, _| {
//!         let mut buf = [0u8; 512];
//!         let n = conn.read(&mut buf)?; // WouldBlock parks the handler
//!         conn.write_all(&buf[..n])
//!     })?;
//!     Ok(())
//! })?;
//!
//! // A client on another thread; the loop stops when it has its echo.
//! let handle = el.handle();
//! let client = std::thread::spawn(move || {
//!     let mut s = std::net::TcpStream::connect(addr).unwrap();
//!     s.write_all(b"ping").unwrap();
//!     let mut echo = [0u8; 4];
//!     s.read_exact(&mut echo).unwrap();
//!     handle.add_callback(|el| el.stop()).unwrap();
//!     echo
//! });
//! el.call_later(Duration::from_secs(10), |el| el.stop()); // a bound, not a sleep
//! el.run()?;
//! assert_eq!(&client.join().unwrap(), b"ping");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The contract
//!
//! * **One waiter per fd and direction.** A second registration asking for a
//!   direction of an fd that another holds is refused with
//!   [`RegisterError::AlreadyWatched`] naming the holder (gevent's rule).
//! * **Edge or level, per registration** ([`Trigger`]). Edge is mio's: drain
//!   to `WouldBlock` or you will not hear of the rest. Level is tornado's:
//!   the handler is called again each iteration until it returns an error of
//!   kind `WouldBlock`.
//! * **Handler results.** `Ok(())`: handled. `Err(WouldBlock)`: parked until
//!   the next readiness. A reset, broken pipe, abort or EOF error: the peer
//!   closed; the registration is removed and its source closed, quietly.
//!   Any other error: logged at warn with the handler's name; the
//!   registration is kept. A panic: caught, logged at error; the
//!   registration is removed (its state may be broken). Callbacks and timers
//!   that panic are logged and the loop goes on.
//! * **Callbacks** queued during an iteration run on the next one; timers
//!   those callbacks schedule cannot fire in the current one either.
//! * **Timeouts.** The poll timeout is 0 when work is waiting, else the time
//!   to the next timer capped by the default timeout: never a busy loop,
//!   never sleeping past a due timer (timers are at most one 1 ms tick late).
//! * **Wakes** from other threads cost one syscall at most per sleep, none
//!   while the loop is awake (the waker's announce-sleep protocol).
//! * **EINTR** from the poll is retried, never surfaced.

mod dispatch;
mod error;
mod event_loop;
mod handle;
mod handler;
mod interest;
mod io_table;
mod label;
mod metrics;
mod scheduling;
mod signals;
mod sources;
mod timer_table;
mod watchdog;

pub use error::{Direction, LoopClosed, RegisterError};
pub use event_loop::{Builder, EventLoop};
pub use handle::{Handle, TimerId};
pub use interest::{Interest, Ready, Trigger, Watch};
pub use io_table::SourceKey;
pub use metrics::Metrics;
pub use scheduling::PrepareId;
