//! Names of handlers and callbacks, for logs and the blocked-loop detector:
//! cheap to clone on every dispatch.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A handler's or callback's name.
#[derive(Clone, Debug)]
pub(crate) enum Label {
    /// A closure's type name or a literal.
    Static(&'static str),
    /// A name given at run time (`Watch::named(format!(..))`).
    Shared(Arc<str>),
}

impl Label {
    pub(crate) fn of<F: ?Sized>() -> Label {
        Label::Static(std::any::type_name::<F>())
    }
}

impl From<Cow<'static, str>> for Label {
    fn from(name: Cow<'static, str>) -> Label {
        match name {
            Cow::Borrowed(s) => Label::Static(s),
            Cow::Owned(s) => Label::Shared(s.into()),
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Static(s) => f.write_str(s),
            Label::Shared(s) => f.write_str(s),
        }
    }
}
