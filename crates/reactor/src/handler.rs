//! Handlers behind one object-safe trait, and what their results mean.
//!
//! A handler returns `io::Result<PostAction>`: the verdict says what the
//! loop does with the registration; an error that `?` propagated is read by
//! its kind, so `?` on socket calls keeps working.
//!
//! | the handler returns | meaning | the registration |
//! | --- | --- | --- |
//! | `Ok(PostAction::Continue)` | handled; a level handler may still be ready | kept; a level handler is called again next iteration, an edge one at the next edge |
//! | `Ok(PostAction::Wait)` | drained: nothing more until the next readiness | kept, parked |
//! | `Ok(PostAction::Disable)` | not interested for now | kept, its fd out of the poller until [`EventLoop::enable`] |
//! | `Ok(PostAction::Remove)` | done with the source | removed; the source dropped (closed) once the handler returned |
//! | `Err(e)`, `e.kind()` `WouldBlock` | what `?` on a drained socket gives | as `Wait` |
//! | `Err(e)`, `e.kind()` `ConnectionReset`, `BrokenPipe`, `ConnectionAborted`, `NotConnected`, `UnexpectedEof` | the peer went away: a close, not a failure | as `Remove`; logged at debug |
//! | any other `Err` | a failure | kept (as tornado keeps it), parked; logged at warn with the handler's name |
//! | a panic | a bug | removed, the source dropped; logged at error with the handler's name |
//!
//! Code that means "done for now" or "remove me" says so with the verdict;
//! the error kinds are read only so that `?` does the right thing.

use std::any::Any;
use std::io;
use std::os::fd::AsRawFd;

use crate::{EventLoop, Ready};

/// What the loop does with a registration after its handler returned
/// (calloop's `PostAction`, with tornado's level-triggered re-call).
///
/// ```
/// use std::io::Read;
/// use mio::net::UnixStream;
/// use rouse_reactor::{EventLoop, PostAction, Watch};
///
/// let mut el = EventLoop::new()?;
/// let (ours, theirs) = UnixStream::pair()?;
/// let key = el.register(ours, Watch::read(), |_, bytes: &mut usize, s: &mut UnixStream, _| {
///     let mut buf = [0u8; 64];
///     loop {
///         match s.read(&mut buf)? {
///             0 => return Ok(PostAction::Remove), // the peer closed: drop ours
///             n => *bytes += n,                    // `?` parks on WouldBlock
///         }
///     }
/// })?;
/// drop(theirs);
/// let mut bytes = 0;
/// while el.contains(key) {
///     el.run_once(&mut bytes, Some(std::time::Duration::from_millis(100)))?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostAction {
    /// Keep the registration. A level-triggered handler is called again on
    /// the next iteration (it may do one unit of work per call); an
    /// edge-triggered one at the next readiness edge.
    Continue,
    /// Keep the registration; the source is drained, so call it only at the
    /// next readiness. What a level handler returns to let the loop sleep.
    Wait,
    /// Keep the registration (and its claim on the fd's directions) but
    /// stop watching the fd until [`EventLoop::enable`].
    Disable,
    /// Remove the registration and drop (close) the source, after the
    /// handler has returned.
    Remove,
}

/// A registration's handler and the source it owns, type-erased.
pub(crate) trait Dispatch<D> {
    fn call(&mut self, el: &mut EventLoop<D>, data: &mut D, ready: Ready)
        -> io::Result<PostAction>;
    /// The source, for [`EventLoop::source`] to downcast.
    fn source(&self) -> &dyn Any;
    /// The source, for [`EventLoop::source_mut`] to downcast.
    fn source_mut(&mut self) -> &mut dyn Any;
    /// The source without its handler, for [`EventLoop::take`].
    fn into_source(self: Box<Self>) -> Box<dyn Any>;
}

/// A source owned by the loop and the closure that handles it.
pub(crate) struct Owned<S, F> {
    pub(crate) source: S,
    pub(crate) handler: F,
}

impl<D, S, F> Dispatch<D> for Owned<S, F>
where
    S: AsRawFd + 'static,
    F: FnMut(&mut EventLoop<D>, &mut D, &mut S, Ready) -> io::Result<PostAction>,
{
    fn call(
        &mut self,
        el: &mut EventLoop<D>,
        data: &mut D,
        ready: Ready,
    ) -> io::Result<PostAction> {
        (self.handler)(el, data, &mut self.source, ready)
    }

    fn source(&self) -> &dyn Any {
        &self.source
    }

    fn source_mut(&mut self) -> &mut dyn Any {
        &mut self.source
    }

    fn into_source(self: Box<Self>) -> Box<dyn Any> {
        Box::new(self.source)
    }
}

/// What the loop does with a registration after its handler returned: the
/// verdict, or what an error or panic amounts to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Keep it; a level handler is called again.
    Continue,
    /// Keep it, parked until the next readiness.
    Wait,
    /// Keep it, out of the poller until enabled.
    Disable,
    /// Remove it: the handler asked, or the peer closed (`quiet`).
    Remove { peer_closed: bool },
    /// Keep it, parked, and log the failure.
    Failed(String),
    /// Remove it and log the panic.
    Panicked(String),
}

impl Outcome {
    pub(crate) fn of(result: Result<io::Result<PostAction>, Box<dyn Any + Send>>) -> Outcome {
        match result {
            Ok(Ok(PostAction::Continue)) => Outcome::Continue,
            Ok(Ok(PostAction::Wait)) => Outcome::Wait,
            Ok(Ok(PostAction::Disable)) => Outcome::Disable,
            Ok(Ok(PostAction::Remove)) => Outcome::Remove { peer_closed: false },
            Ok(Err(err)) => match err.kind() {
                io::ErrorKind::WouldBlock => Outcome::Wait,
                kind if is_peer_gone(kind) => Outcome::Remove { peer_closed: true },
                _ => Outcome::Failed(err.to_string()),
            },
            Err(payload) => Outcome::Panicked(panic_message(&*payload)),
        }
    }
}

/// The error kinds a socket call returns when the peer went away. Read only
/// so that `?` on such a call removes the registration quietly.
fn is_peer_gone(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
    )
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
    fn verdicts_errors_and_panics_map_to_outcomes() {
        let verdicts = [
            (PostAction::Continue, Outcome::Continue),
            (PostAction::Wait, Outcome::Wait),
            (PostAction::Disable, Outcome::Disable),
            (PostAction::Remove, Outcome::Remove { peer_closed: false }),
        ];
        for (verdict, outcome) in verdicts {
            assert_eq!(Outcome::of(Ok(Ok(verdict))), outcome);
        }
        let would_block = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(Outcome::of(Ok(Err(would_block))), Outcome::Wait);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            Outcome::of(Ok(Err(reset))),
            Outcome::Remove { peer_closed: true }
        );
        let other = io::Error::other("boom");
        assert_eq!(Outcome::of(Ok(Err(other))), Outcome::Failed("boom".into()));
        let panic = std::panic::catch_unwind(|| -> io::Result<PostAction> { panic!("bug {}", 7) });
        assert_eq!(Outcome::of(panic), Outcome::Panicked("bug 7".into()));
    }
}
