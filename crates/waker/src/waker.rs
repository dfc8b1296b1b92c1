//! [`Waker`]: the fd a poller registers, plus the protocol that keeps wakes
//! down to one syscall per sleep.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::state::WakeState;
use crate::stats::{Counters, WakerStats};
use crate::sys::{Mechanism, WakeFd};

/// Wakes one thread blocked in epoll, kqueue, `poll(2)` or `select(2)`, from
/// any thread.
///
/// Register the waker with the poller for readable readiness (it implements
/// [`mio::event::Source`], and [`AsRawFd`] for raw `poll(2)` loops). The
/// poller thread follows one protocol:
///
/// 1. optionally, [`prepare_sleep`](Waker::prepare_sleep) just before a
///    blocking poll (if it returns `false`, poll with a zero timeout);
/// 2. poll;
/// 3. [`reset`](Waker::reset) as soon as the poll returns, whatever woke it;
/// 4. only then look at the queues other threads push to.
///
/// Other threads push their work first and call [`wake`](Waker::wake)
/// second. Then no wake is lost, and however many threads wake, the poller
/// pays at most one `write(2)` per sleep and one `read(2)` per wakeup. No
/// wake waits for the poller, and the poller never waits for a wake.
///
/// # Pitfalls
/// * Spurious wakeups happen: a poll can return with the waker readable and
///   nothing queued (a wake raced with `reset`, or a write landed after the
///   `reset` that closed its round). Treat readiness as a hint. They never
///   outnumber the writes: each readable return is drained by its `reset`.
/// * Once a poller has called `prepare_sleep`, it must call it before every
///   blocking poll: the waker then believes the poller is awake between a
///   `reset` and the next `prepare_sleep`, and makes no syscall for wakes in
///   that window.
/// * Registration is edge-triggered under mio; `reset` drains the fd so a
///   level-triggered `poll(2)` loop does not spin either.
#[derive(Debug)]
pub struct Waker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    fd: WakeFd,
    state: WakeState,
    pub(crate) counters: Counters,
    /// Set for good by the first `prepare_sleep`: the poller announces sleeps.
    announces_sleep: AtomicBool,
}

impl Waker {
    /// A waker with the platform's best mechanism: eventfd on Linux, a pipe
    /// elsewhere. Fails with the name of the system call that failed (for
    /// example EMFILE from `eventfd(2)` when the process is out of fds).
    pub fn new() -> io::Result<Waker> {
        Waker::with_mechanism(Mechanism::platform_default())
    }

    /// A waker over Linux `eventfd(2)`; `Unsupported` on other systems.
    pub fn eventfd() -> io::Result<Waker> {
        Waker::with_mechanism(Mechanism::EventFd)
    }

    /// A waker over a `pipe(2)`, as tornado and libev use.
    pub fn pipe() -> io::Result<Waker> {
        Waker::with_mechanism(Mechanism::Pipe)
    }

    /// A waker over a Unix `socketpair(2)`, as kafka-python uses.
    pub fn socketpair() -> io::Result<Waker> {
        Waker::with_mechanism(Mechanism::SocketPair)
    }

    /// A waker over the given mechanism.
    pub fn with_mechanism(mechanism: Mechanism) -> io::Result<Waker> {
        let fd = WakeFd::open(mechanism)?;
        Ok(Waker {
            inner: Arc::new(Inner {
                fd,
                state: WakeState::new(),
                counters: Counters::new(),
                announces_sleep: AtomicBool::new(false),
            }),
        })
    }

    /// Wakes the poller, from any thread. Push your work before calling this.
    ///
    /// Costs one atomic read-modify-write and no syscall when a wake is
    /// already pending, or when the poller announced it is awake (see
    /// [`prepare_sleep`](Waker::prepare_sleep)); otherwise one `write(2)`.
    /// A full pipe or socket buffer is not an error: it means the poller is
    /// already due to wake. An error means the fd is unusable (it was closed
    /// under the waker); recreate the waker.
    pub fn wake(&self) -> io::Result<()> {
        if self.inner.wake_quietly()? {
            tracing::trace!(mechanism = ?self.mechanism(), "waker: wrote the wake fd");
        }
        Ok(())
    }

    /// Poller thread, just before a blocking poll: announces the sleep.
    ///
    /// Returns `false` when a wake is already pending: poll with a zero
    /// timeout then (or skip the poll), call [`reset`](Waker::reset) and look
    /// at your queues. Calling this once switches the waker to announce mode
    /// for good (see the type's pitfalls).
    pub fn prepare_sleep(&self) -> bool {
        self.inner
            .announces_sleep
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.inner.state.prepare_sleep()
    }

    /// Poller thread, right after its poll returned: clears the pending wake
    /// and drains the fd if a wake wrote to it. Check your queues after this,
    /// never before, or a wake that raced with it may go unseen until the
    /// next one.
    pub fn reset(&self) {
        let announce = self
            .inner
            .announces_sleep
            .load(std::sync::atomic::Ordering::Relaxed);
        let inner = &self.inner;
        inner.state.reset(announce, || {
            Counters::bump(&inner.counters.drains);
            if let Err(err) = inner.fd.drain() {
                tracing::error!(%err, "waker: draining the wake fd failed");
            }
        });
    }

    /// Whether a wake is pending (requested and not yet `reset`).
    pub fn is_pending(&self) -> bool {
        self.inner.state.is_notified()
    }

    /// The mechanism this waker was built on.
    pub fn mechanism(&self) -> Mechanism {
        self.inner.fd.mechanism()
    }

    /// A snapshot of the counters: wakes requested, syscalls made, drains.
    pub fn stats(&self) -> WakerStats {
        self.inner.counters.snapshot()
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

impl Inner {
    /// `wake` without logging, so signal handlers can call it: atomics and at
    /// most one `write(2)`, nothing else. Returns whether it wrote the fd.
    pub(crate) fn wake_quietly(&self) -> io::Result<bool> {
        Counters::bump(&self.counters.wakes_requested);
        self.state.wake(|| {
            Counters::bump(&self.counters.wake_syscalls);
            self.fd.signal()
        })
    }
}

impl AsRawFd for Waker {
    /// The fd to watch for readability.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.read_fd().as_raw_fd()
    }
}

impl AsFd for Waker {
    /// The fd to watch for readability.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.read_fd().as_fd()
    }
}

impl Source for Waker {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).deregister(registry)
    }
}

#[cfg(all(test, not(loom)))]
#[allow(unsafe_code)] // fcntl and poll on the waker's fds, to check them
mod tests {
    use super::*;

    fn fd_flags(fd: RawFd) -> (i32, i32) {
        // SAFETY: fcntl queries on an fd owned by the test's waker.
        unsafe {
            (
                libc::fcntl(fd, libc::F_GETFL),
                libc::fcntl(fd, libc::F_GETFD),
            )
        }
    }

    fn all_wakers() -> Vec<Waker> {
        let mut wakers = vec![Waker::pipe().unwrap(), Waker::socketpair().unwrap()];
        if cfg!(target_os = "linux") {
            wakers.push(Waker::eventfd().unwrap());
        }
        wakers
    }

    #[test]
    fn fds_are_nonblocking_and_cloexec() {
        for waker in all_wakers() {
            for fd in [waker.as_raw_fd(), waker.inner.fd.write_fd()] {
                let (fl, fd_flags) = fd_flags(fd);
                assert!(
                    fl & libc::O_NONBLOCK != 0,
                    "{:?}: not non-blocking",
                    waker.mechanism()
                );
                assert!(
                    fd_flags & libc::FD_CLOEXEC != 0,
                    "{:?}: not cloexec",
                    waker.mechanism()
                );
            }
        }
    }

    #[test]
    fn new_picks_eventfd_on_linux() {
        let waker = Waker::new().unwrap();
        assert_eq!(waker.mechanism(), Mechanism::platform_default());
        if cfg!(target_os = "linux") {
            assert_eq!(waker.mechanism(), Mechanism::EventFd);
        }
    }

    #[test]
    fn pending_wakes_make_no_syscall() {
        for waker in all_wakers() {
            for _ in 0..1000 {
                waker.wake().unwrap();
            }
            let stats = waker.stats();
            assert_eq!(stats.wakes_requested, 1000);
            assert_eq!(stats.wake_syscalls, 1);
            assert_eq!(stats.coalesced(), 999);
            waker.reset();
            assert_eq!(waker.stats().drains, 1);
            waker.wake().unwrap();
            assert_eq!(waker.stats().wake_syscalls, 2);
        }
    }

    #[test]
    fn full_pipe_buffer_is_not_an_error() {
        let waker = Waker::pipe().unwrap();
        // Fill the pipe behind the protocol's back, then wake: still Ok.
        let fd = waker.inner.fd.write_fd();
        while crate::sys::write_token(fd, &[0u8; 4096]).is_ok() {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: poll on one valid pollfd with a zero timeout.
            if unsafe { libc::poll(&mut pfd, 1, 0) } == 0 {
                break;
            }
        }
        waker.wake().unwrap();
        waker.reset();
        assert!(!waker.is_pending());
    }

    #[test]
    fn reset_drains_so_poll_sees_nothing_left() {
        for waker in all_wakers() {
            waker.wake().unwrap();
            waker.reset();
            let mut pfd = libc::pollfd {
                fd: waker.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one valid pollfd with a zero timeout.
            let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
            assert_eq!(
                ready,
                0,
                "{:?} still readable after reset",
                waker.mechanism()
            );
        }
    }
}
