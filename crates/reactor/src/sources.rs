//! Registering sources with the loop: one handler per fd and direction.

use std::io;
use std::os::fd::AsRawFd;

use crate::error::RegisterError;
use crate::handler::Owned;
use crate::io_table::SourceKey;
use crate::label::Label;
use crate::{EventLoop, Interest, Ready, Watch};

impl EventLoop {
    /// Hands `source` to the loop and calls `handler` with it whenever it is
    /// ready as `watch` says. Returns the key to change or remove it.
    ///
    /// `source` is any fd-backed source: a mio `TcpStream`, `TcpListener`,
    /// `UnixStream`, a [`Waker`](rouse_waker::Waker)... The loop owns it and
    /// drops (closes) it when the registration is removed. To watch an fd you
    /// keep owning, pass the `RawFd` itself; keep it open until you remove it.
    ///
    /// Refused, with the holder's name, if another registration holds a
    /// direction of the same fd (gevent's one waiter per socket): two
    /// handlers would race for one readiness.
    ///
    /// The handler's result decides what happens next; see the crate docs.
    pub fn register<S, F>(
        &mut self,
        source: S,
        mut watch: Watch,
        handler: F,
    ) -> Result<SourceKey, RegisterError>
    where
        S: AsRawFd + 'static,
        F: FnMut(&mut EventLoop, &mut S, Ready) -> io::Result<()> + 'static,
    {
        let fd = source.as_raw_fd();
        let name = watch.take_name().map_or_else(Label::of::<F>, Label::from);
        let key = self.io.insert(
            self.poll.registry(),
            fd,
            watch.interest(),
            watch.trigger(),
            name,
            Box::new(Owned { source, handler }),
        )?;
        tracing::debug!(fd, interest = ?watch.interest(), trigger = ?watch.trigger(), "source registered");
        Ok(key)
    }

    /// Changes what a registration waits for (an echo server adds `WRITE`
    /// while it has data queued and drops it after). A direction another
    /// registration of the same fd holds is refused.
    pub fn set_interest(
        &mut self,
        key: SourceKey,
        interest: Interest,
    ) -> Result<(), RegisterError> {
        self.io.set_interest(self.poll.registry(), key, interest)
    }

    /// The interest a registration has now; `None` if the key is stale.
    pub fn interest(&self, key: SourceKey) -> Option<Interest> {
        self.io.registration(key).map(|r| r.interest)
    }

    /// Removes a registration and drops (closes) its source; events already
    /// polled for it are discarded. Safe from inside any handler, its own
    /// included. `false` if the key is stale.
    pub fn remove(&mut self, key: SourceKey) -> bool {
        match self.io.remove(self.poll.registry(), key) {
            Some(handler) => {
                drop(handler);
                true
            }
            None => false,
        }
    }

    /// Whether `key` names a live registration.
    pub fn contains(&self, key: SourceKey) -> bool {
        self.io.contains(key)
    }
}
