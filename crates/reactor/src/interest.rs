//! What a registration waits for ([`Interest`], [`Trigger`]), what it is told
//! ([`Ready`]), and how it is set up ([`Watch`]).

use std::borrow::Cow;
use std::fmt;
use std::ops::BitOr;

/// The directions a registration watches. Errors and hang-ups are always
/// delivered to a registration with any interest, as tornado adds `ERROR` to
/// every handler.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest(u8);

impl Interest {
    /// Watch nothing: the registration stays, its fd is taken out of the
    /// poller (no errors or hang-ups either) until the interest is raised.
    pub const NONE: Interest = Interest(0);
    /// Readable: data, a pending accept, or the peer's end of stream.
    pub const READ: Interest = Interest(1);
    /// Writable: room in the send buffer, or a finished connect.
    pub const WRITE: Interest = Interest(2);
    /// Both directions.
    pub const READ_WRITE: Interest = Interest(3);

    /// Whether this includes reading.
    pub fn is_read(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether this includes writing.
    pub fn is_write(self) -> bool {
        self.0 & 2 != 0
    }

    /// Whether this watches nothing.
    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// The directions in `self` that are not in `other`.
    pub fn without(self, other: Interest) -> Interest {
        Interest(self.0 & !other.0)
    }

    /// The directions in both.
    pub fn intersect(self, other: Interest) -> Interest {
        Interest(self.0 & other.0)
    }

    pub(crate) fn to_mio(self) -> Option<mio::Interest> {
        match (self.is_read(), self.is_write()) {
            (true, true) => Some(mio::Interest::READABLE | mio::Interest::WRITABLE),
            (true, false) => Some(mio::Interest::READABLE),
            (false, true) => Some(mio::Interest::WRITABLE),
            (false, false) => None,
        }
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match (self.is_read(), self.is_write()) {
            (true, true) => "READ_WRITE",
            (true, false) => "READ",
            (false, true) => "WRITE",
            (false, false) => "NONE",
        };
        f.write_str(name)
    }
}

/// How readiness is reported to a handler.
///
/// * `Edge` (mio's): the handler is called once per readiness edge. It must
///   read or write until it hits `WouldBlock`, or it will not be called again
///   for what is left — the classic edge-triggered pitfall.
/// * `Level` (tornado's): the handler is called again on every iteration while
///   it keeps returning [`PostAction::Continue`](crate::PostAction::Continue);
///   it is parked when it returns [`PostAction::Wait`](crate::PostAction::Wait)
///   or an error of kind `WouldBlock` (what `?` on a drained non-blocking
///   socket gives), or when the interest changes. A handler may so read one
///   message per call without starving the rest of the loop. Pitfall: a level
///   handler that returns `Continue` forever keeps the loop from sleeping;
///   that is a busy loop of your making.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Trigger {
    /// Called once per readiness edge.
    #[default]
    Edge,
    /// Called again while ready and not yet `WouldBlock`.
    Level,
}

/// The readiness a handler is called with.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready {
    /// Readable (or the peer closed its writing end).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
    /// The fd has an error pending (read it with `take_error`).
    pub error: bool,
    /// The peer hung up: no more data will come.
    pub hang_up: bool,
}

impl Ready {
    pub(crate) fn from_event(event: &mio::event::Event) -> Ready {
        Ready {
            readable: event.is_readable() || event.is_read_closed(),
            writable: event.is_writable(),
            error: event.is_error(),
            hang_up: event.is_read_closed() && event.is_write_closed(),
        }
    }

    /// Keeps the directions in `interest`; errors and hang-ups always stay.
    pub(crate) fn filter(self, interest: Interest) -> Ready {
        Ready {
            readable: self.readable && interest.is_read(),
            writable: self.writable && interest.is_write(),
            ..self
        }
    }

    pub(crate) fn merge(self, other: Ready) -> Ready {
        Ready {
            readable: self.readable || other.readable,
            writable: self.writable || other.writable,
            error: self.error || other.error,
            hang_up: self.hang_up || other.hang_up,
        }
    }

    /// Whether anything is set.
    pub fn is_empty(self) -> bool {
        !(self.readable || self.writable || self.error || self.hang_up)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.readable, "READABLE"),
            (self.writable, "WRITABLE"),
            (self.error, "ERROR"),
            (self.hang_up, "HANG_UP"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        if set.is_empty() {
            f.write_str("NONE")
        } else {
            f.write_str(&set.join("|"))
        }
    }
}

/// How to watch a source: its interest, trigger and a name for logs.
///
/// ```
/// use rouse_reactor::{Interest, Trigger, Watch};
/// let watch = Watch::read().level().named("client 7");
/// assert_eq!(watch.interest(), Interest::READ);
/// assert_eq!(watch.trigger(), Trigger::Level);
/// ```
#[derive(Clone, Debug)]
pub struct Watch {
    interest: Interest,
    trigger: Trigger,
    name: Option<Cow<'static, str>>,
}

impl Watch {
    /// Watch `interest`, edge-triggered, named after the handler's type.
    pub fn new(interest: Interest) -> Watch {
        Watch {
            interest,
            trigger: Trigger::Edge,
            name: None,
        }
    }

    /// Watch for reading.
    pub fn read() -> Watch {
        Watch::new(Interest::READ)
    }

    /// Watch for writing.
    pub fn write() -> Watch {
        Watch::new(Interest::WRITE)
    }

    /// Watch both directions.
    pub fn read_write() -> Watch {
        Watch::new(Interest::READ_WRITE)
    }

    /// Level-triggered (tornado's semantics); see [`Trigger`].
    pub fn level(mut self) -> Watch {
        self.trigger = Trigger::Level;
        self
    }

    /// Edge-triggered (mio's semantics, the default); see [`Trigger`].
    pub fn edge(mut self) -> Watch {
        self.trigger = Trigger::Edge;
        self
    }

    /// The name logs and the blocked-loop detector use for this handler.
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Watch {
        self.name = Some(name.into());
        self
    }

    /// The interest.
    pub fn interest(&self) -> Interest {
        self.interest
    }

    /// The trigger.
    pub fn trigger(&self) -> Trigger {
        self.trigger
    }

    pub(crate) fn take_name(&mut self) -> Option<Cow<'static, str>> {
        self.name.take()
    }
}
