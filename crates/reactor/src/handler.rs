//! Handlers behind one object-safe trait, and what their results mean.
//!
//! A handler returns `io::Result<()>`:
//!
//! | result | meaning | the registration |
//! | --- | --- | --- |
//! | `Ok(())` | handled; level handlers may still be ready | kept; a level handler is called again next iteration |
//! | `Err(WouldBlock)` | drained, nothing more until the next readiness | kept, parked |
//! | `Err(ConnectionReset, BrokenPipe, ConnectionAborted, NotConnected, UnexpectedEof)` | the peer went away: a close, not an error | removed, the source dropped (closed); logged at debug |
//! | any other `Err` | a failure | kept (as tornado keeps it); logged at warn with the handler's name |
//! | a panic | a bug | removed, the source dropped; logged at error with the handler's name |

use std::any::Any;
use std::io;
use std::os::fd::AsRawFd;

use crate::{EventLoop, Ready};

/// A registration's handler and the source it owns, type-erased.
pub(crate) trait Dispatch {
    fn call(&mut self, el: &mut EventLoop, ready: Ready) -> io::Result<()>;
}

/// A source owned by the loop and the closure that handles it.
pub(crate) struct Owned<S, F> {
    pub(crate) source: S,
    pub(crate) handler: F,
}

impl<S, F> Dispatch for Owned<S, F>
where
    S: AsRawFd,
    F: FnMut(&mut EventLoop, &mut S, Ready) -> io::Result<()>,
{
    fn call(&mut self, el: &mut EventLoop, ready: Ready) -> io::Result<()> {
        (self.handler)(el, &mut self.source, ready)
    }
}

/// What the loop does with a registration after its handler returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Keep it; a level handler is called again.
    StillReady,
    /// Keep it, parked until the next readiness.
    Parked,
    /// The peer closed: remove it quietly.
    PeerClosed,
    /// Keep it and log the failure.
    Failed(String),
    /// Remove it and log the panic.
    Panicked(String),
}

impl Outcome {
    pub(crate) fn of(result: Result<io::Result<()>, Box<dyn Any + Send>>) -> Outcome {
        match result {
            Ok(Ok(())) => Outcome::StillReady,
            Ok(Err(err)) => match err.kind() {
                io::ErrorKind::WouldBlock => Outcome::Parked,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
                | io::ErrorKind::UnexpectedEof => Outcome::PeerClosed,
                _ => Outcome::Failed(err.to_string()),
            },
            Err(payload) => Outcome::Panicked(panic_message(&*payload)),
        }
    }
}

/// The text of a panic payload, as far as it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_map_to_outcomes() {
        assert_eq!(Outcome::of(Ok(Ok(()))), Outcome::StillReady);
        let would_block = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(Outcome::of(Ok(Err(would_block))), Outcome::Parked);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(Outcome::of(Ok(Err(reset))), Outcome::PeerClosed);
        let other = io::Error::other("boom");
        assert_eq!(Outcome::of(Ok(Err(other))), Outcome::Failed("boom".into()));
        let panic = std::panic::catch_unwind(|| -> io::Result<()> { panic!("bug {}", 7) });
        assert_eq!(Outcome::of(panic), Outcome::Panicked("bug 7".into()));
    }
}
