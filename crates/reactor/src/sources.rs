//! Registering sources with the loop (one handler per fd and direction),
//! and reaching a registered source from outside its handler.

use std::io;
use std::os::fd::AsRawFd;

use crate::error::RegisterError;
use crate::handler::{Owned, PostAction};
use crate::io_table::SourceKey;
use crate::label::Label;
use crate::{EventLoop, Interest, Ready, Watch};

impl<D> EventLoop<D> {
    /// Hands `source` to the loop and calls `handler` with the loop, its
    /// data and the source whenever the source is ready as `watch` says.
    /// Returns the key to reach, change or remove it.
    ///
    /// `source` is any fd-backed source: a mio `TcpStream`, `TcpListener`,
    /// `UnixStream`, a [`Waker`](rouse_waker::Waker), or a struct of your own
    /// that holds one beside its per-connection state (implement `AsRawFd`).
    /// The loop owns it: removing the registration drops (closes) it, and
    /// [`source_mut`](EventLoop::source_mut) and [`take`](EventLoop::take)
    /// reach it from outside its handler.
    ///
    /// Refused, with the holder's name, if another registration holds a
    /// direction of the same fd (gevent's one waiter per socket): two
    /// handlers would race for one readiness. The source is then dropped.
    ///
    /// The handler's verdict ([`PostAction`]) decides what happens next; see
    /// the crate docs.
    pub fn register<S, F>(
        &mut self,
        source: S,
        mut watch: Watch,
        handler: F,
    ) -> Result<SourceKey, RegisterError>
    where
        S: AsRawFd + 'static,
        F: FnMut(&mut EventLoop<D>, &mut D, &mut S, Ready) -> io::Result<PostAction> + 'static,
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
    /// registration of the same fd holds is refused. A disabled registration
    /// stays disabled.
    pub fn set_interest(
        &mut self,
        key: SourceKey,
        interest: Interest,
    ) -> Result<(), RegisterError> {
        self.io.set_interest(self.poll.registry(), key, interest)
    }

    /// The interest a registration has now (disabled or not); `None` if the
    /// key is stale.
    pub fn interest(&self, key: SourceKey) -> Option<Interest> {
        self.io.registration(key).map(|r| r.interest)
    }

    /// Stops watching a registration's fd, as the
    /// [`Disable`](PostAction::Disable) verdict does: the registration, its
    /// source and its claim on the fd's directions stay.
    pub fn disable(&mut self, key: SourceKey) -> Result<(), RegisterError> {
        self.io.set_enabled(self.poll.registry(), key, false)
    }

    /// Watches a disabled registration's fd again, with its interest. A
    /// source that is still ready is reported at once.
    pub fn enable(&mut self, key: SourceKey) -> Result<(), RegisterError> {
        self.io.set_enabled(self.poll.registry(), key, true)
    }

    /// Whether a registration is enabled; `None` if the key is stale.
    pub fn is_enabled(&self, key: SourceKey) -> Option<bool> {
        self.io.registration(key).map(|r| r.enabled)
    }

    /// Removes a registration and drops (closes) its source; events already
    /// polled for it are discarded. Safe from inside any handler: if it is
    /// the running handler's own registration, the source is dropped when
    /// that handler returns (so its fd number cannot be reused while the
    /// handler still holds it). `false` if the key is stale.
    pub fn remove(&mut self, key: SourceKey) -> bool {
        match self.io.remove(self.poll.registry(), key) {
            Some(handler) => {
                drop(handler);
                true
            }
            None => false,
        }
    }

    /// Removes a registration and hands its source back instead of dropping
    /// it. `None`, and the registration untouched, if the key is stale, the
    /// source is not an `S`, or the registration's handler is running (it
    /// holds the source: return [`PostAction::Remove`] from it instead).
    pub fn take<S: 'static>(&mut self, key: SourceKey) -> Option<S> {
        if !self.io.handler(key)?.source().is::<S>() {
            return None;
        }
        let handler = self.io.remove(self.poll.registry(), key)??;
        handler.into_source().downcast::<S>().ok().map(|s| *s)
    }

    /// A registered source, from outside its handler. `None` if the key is
    /// stale, the source is not an `S`, or its handler is running (the
    /// handler has it as its argument).
    pub fn source<S: 'static>(&self, key: SourceKey) -> Option<&S> {
        self.io.handler(key)?.source().downcast_ref::<S>()
    }

    /// As [`source`](EventLoop::source), mutably: a handler or callback can
    /// write to another registration's connection.
    pub fn source_mut<S: 'static>(&mut self, key: SourceKey) -> Option<&mut S> {
        self.io.handler_mut(key)?.source_mut().downcast_mut::<S>()
    }

    /// Whether `key` names a live registration.
    pub fn contains(&self, key: SourceKey) -> bool {
        self.io.contains(key)
    }
}
