//! Linux `eventfd(2)`: one fd, written with an 8-byte 1, drained by one read.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use super::creation_error;

pub(super) fn open() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes integer arguments only.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(creation_error("eventfd(2)", io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
