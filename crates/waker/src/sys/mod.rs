//! The file descriptors a wake travels through, one mechanism per file.
//!
//! Every mechanism gives a read end to register with the poller and a write
//! end to signal. Both are non-blocking and close-on-exec. Writing and
//! draining use plain `read(2)`/`write(2)` so the write is async-signal-safe.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod eventfd;
mod pipe;
mod socketpair;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// How a [`Waker`](crate::Waker) reaches the poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// Linux `eventfd(2)`: one fd, an 8-byte counter; the cheapest.
    EventFd,
    /// A `pipe(2)`: what tornado and libev use where eventfd is missing.
    Pipe,
    /// A Unix-domain `socketpair(2)`: what kafka-python uses.
    SocketPair,
}

impl Mechanism {
    /// The best mechanism for this platform: eventfd on Linux, pipe elsewhere.
    pub fn platform_default() -> Mechanism {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            Mechanism::EventFd
        } else {
            Mechanism::Pipe
        }
    }
}

/// The pair of fds behind a waker (one fd twice for eventfd).
#[derive(Debug)]
pub(crate) struct WakeFd {
    mechanism: Mechanism,
    read: OwnedFd,
    /// `None` when the read fd is also the write fd (eventfd).
    write: Option<OwnedFd>,
}

impl WakeFd {
    pub(crate) fn open(mechanism: Mechanism) -> io::Result<WakeFd> {
        let (read, write) = match mechanism {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Mechanism::EventFd => (eventfd::open()?, None),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Mechanism::EventFd => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "eventfd(2) exists only on Linux: use Waker::pipe() or Waker::new()",
                ))
            }
            Mechanism::Pipe => {
                let (r, w) = pipe::open()?;
                (r, Some(w))
            }
            Mechanism::SocketPair => {
                let (r, w) = socketpair::open()?;
                (r, Some(w))
            }
        };
        Ok(WakeFd {
            mechanism,
            read,
            write,
        })
    }

    pub(crate) fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    pub(crate) fn read_fd(&self) -> &OwnedFd {
        &self.read
    }

    pub(crate) fn write_fd(&self) -> RawFd {
        self.write.as_ref().unwrap_or(&self.read).as_raw_fd()
    }

    /// Makes the read end readable. A full buffer means the fd is readable
    /// already, which is all a wake needs, so it is not an error.
    /// Async-signal-safe: one `write(2)`, retried on EINTR, no allocation.
    pub(crate) fn signal(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        let token: &[u8] = match self.mechanism {
            Mechanism::EventFd => &one,
            Mechanism::Pipe | Mechanism::SocketPair => &one[..1],
        };
        write_token(self.write_fd(), token)
    }

    /// Empties the read end so a level-triggered poller stops seeing it.
    pub(crate) fn drain(&self) -> io::Result<()> {
        let fd = self.read.as_raw_fd();
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes and
            // `fd` is owned by `self` for the duration of the call.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(()),
                    _ => return Err(err),
                }
            }
            // An eventfd read empties the counter at once; a short read of a
            // pipe or socket means nothing was left.
            if n == 0 || self.mechanism == Mechanism::EventFd || (n as usize) < buf.len() {
                return Ok(());
            }
        }
    }
}

/// Writes `token` with one `write(2)`. Async-signal-safe.
pub(crate) fn write_token(fd: RawFd, token: &[u8]) -> io::Result<()> {
    loop {
        // SAFETY: `token` is a live buffer of `token.len()` bytes; writing to
        // an fd has no memory-safety preconditions beyond that.
        let n = unsafe { libc::write(fd, token.as_ptr().cast(), token.len()) };
        if n >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            // Full buffer (or eventfd counter at its maximum): the read end is
            // readable already, so the poller will wake.
            io::ErrorKind::WouldBlock => return Ok(()),
            _ => return Err(err),
        }
    }
}

/// Wraps a failed creation call's error with the call's name, keeping its kind.
pub(crate) fn creation_error(call: &str, err: io::Error) -> io::Error {
    io::Error::new(
        err.kind(),
        format!("creating the waker: {call} failed: {err}"),
    )
}

/// Sets `O_NONBLOCK` and `FD_CLOEXEC` on an fd made by a call that could not
/// set them atomically.
#[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
pub(crate) fn set_nonblocking_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(creation_error("fcntl(F_GETFL)", io::Error::last_os_error()));
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(creation_error("fcntl(F_SETFL)", io::Error::last_os_error()));
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(creation_error("fcntl(F_SETFD)", io::Error::last_os_error()));
    }
    Ok(())
}
