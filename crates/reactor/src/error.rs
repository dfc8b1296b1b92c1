//! Errors the loop's API returns, each saying what the caller can do.

use std::io;
use std::os::fd::RawFd;

use thiserror::Error;

/// Which way of an fd a conflict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Reading.
    Read,
    /// Writing.
    Write,
}

/// Why a registration or an interest change was refused.
#[derive(Debug, Error)]
pub enum RegisterError {
    /// One fd, one waiter per direction (gevent's rule): a second handler would
    /// silently steal the first one's events. Remove the first registration,
    /// or let the one handler serve both uses.
    #[error(
        "fd {fd} already has a {direction:?} handler ({owner}); remove it first or share one handler"
    )]
    AlreadyWatched {
        /// The fd.
        fd: RawFd,
        /// The direction already taken.
        direction: Direction,
        /// The name of the handler that holds it.
        owner: String,
    },
    /// The key does not name a live registration (it was removed, or its
    /// handler panicked and was dropped). Register the source again.
    #[error("no such registration (it was removed, or its handler panicked)")]
    UnknownKey,
    /// The poller refused the fd (for example a closed fd: EBADF, or a
    /// regular file: EPERM). Check the fd is open and pollable.
    #[error("the poller refused fd {fd}: {source}")]
    Poller {
        /// The fd.
        fd: RawFd,
        /// What the poller said.
        #[source]
        source: io::Error,
    },
}

/// The event loop is gone: what was sent to it was not queued and will not
/// run. Build a new loop, or stop sending to this one.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("the event loop was dropped; nothing more can be queued on it")]
pub struct LoopClosed;

impl From<RegisterError> for std::io::Error {
    /// Lets handlers register new sources with `?`: `AlreadyWatched` becomes
    /// `AlreadyExists`, `UnknownKey` `NotFound`, a poller error keeps its kind.
    fn from(err: RegisterError) -> std::io::Error {
        let kind = match &err {
            RegisterError::AlreadyWatched { .. } => io::ErrorKind::AlreadyExists,
            RegisterError::UnknownKey => io::ErrorKind::NotFound,
            RegisterError::Poller { source, .. } => source.kind(),
        };
        io::Error::new(kind, err)
    }
}
