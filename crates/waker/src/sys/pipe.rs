//! `pipe(2)`: a read end to register, a write end to signal with one byte.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use super::creation_error;

pub(super) fn open() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    make_pipe(&mut fds)?;
    // SAFETY: both fds were just returned by the kernel and are owned by
    // nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use std::os::fd::AsRawFd;
        super::set_nonblocking_cloexec(read.as_raw_fd())?;
        super::set_nonblocking_cloexec(write.as_raw_fd())?;
    }
    Ok((read, write))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn make_pipe(fds: &mut [libc::c_int; 2]) -> io::Result<()> {
    // SAFETY: `fds` points to two writable c_ints, as pipe2 requires.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
        return Err(creation_error("pipe2(2)", io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn make_pipe(fds: &mut [libc::c_int; 2]) -> io::Result<()> {
    // SAFETY: `fds` points to two writable c_ints, as pipe requires.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        return Err(creation_error("pipe(2)", io::Error::last_os_error()));
    }
    Ok(())
}
