//! A Unix-domain `socketpair(2)`: what kafka-python wakes its selector with.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use super::creation_error;

pub(super) fn open() -> io::Result<(OwnedFd, OwnedFd)> {
    // std creates the pair close-on-exec.
    let (read, write) = UnixStream::pair().map_err(|e| creation_error("socketpair(2)", e))?;
    for end in [&read, &write] {
        end.set_nonblocking(true)
            .map_err(|e| creation_error("ioctl(FIONBIO) on the socketpair", e))?;
    }
    Ok((read.into(), write.into()))
}
