//! Unix signals that wake the poller, like Python's `signal.set_wakeup_fd`.
//!
//! The handler runs on whatever thread the kernel picks and may interrupt
//! anything, so it does only async-signal-safe work: it sets the signal's bit
//! in an atomic mask and runs the waker's quiet wake path (atomics and at most
//! one `write(2)`; no lock, no allocation, no logging). The poller, after
//! `reset`, calls [`SignalWakeup::take_pending`] to learn which signals came.
//!
//! Registering a signal replaces its default action (SIGINT no longer ends the
//! process) until the [`SignalWakeup`] is dropped; registration is done by
//! `signal-hook`, which chains with handlers that were installed before.

use std::io;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use signal_hook::SigId;

use crate::stats::Counters;
use crate::waker::Inner;
use crate::Waker;

/// Signals whose delivery wakes a [`Waker`]; unregistered on drop.
#[derive(Debug)]
pub struct SignalWakeup {
    pending: Arc<AtomicU64>,
    signals: Vec<c_int>,
    ids: Vec<SigId>,
}

impl SignalWakeup {
    /// Signals caught since the last call, lowest number first; clears them.
    /// A signal that arrives twice before this call is reported once.
    pub fn take_pending(&self) -> Vec<c_int> {
        let mask = self.pending.swap(0, Ordering::AcqRel);
        (1..=64).filter(|sig| mask & bit(*sig) != 0).collect()
    }

    /// The signals this registration watches.
    pub fn signals(&self) -> &[c_int] {
        &self.signals
    }
}

impl Drop for SignalWakeup {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

impl Waker {
    /// Makes each of `signals` wake this waker from inside its handler.
    ///
    /// Errors name the signal: numbers outside 1..=64 are `InvalidInput`, and
    /// signals that must not be caught (SIGKILL, SIGSTOP, SIGSEGV, SIGILL,
    /// SIGFPE) are refused. Pick other signals; on error nothing stays
    /// registered.
    pub fn signal_wakeup(&self, signals: &[c_int]) -> io::Result<SignalWakeup> {
        let mut wakeup = SignalWakeup {
            pending: Arc::new(AtomicU64::new(0)),
            signals: signals.to_vec(),
            ids: Vec::with_capacity(signals.len()),
        };
        for &sig in signals {
            if !(1..=64).contains(&sig) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("signal {sig} is not a signal number (1..=64)"),
                ));
            }
            if signal_hook::consts::FORBIDDEN.contains(&sig) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "signal {sig} cannot be caught (SIGKILL, SIGSTOP, SIGSEGV, SIGILL and SIGFPE never can)"
                    ),
                ));
            }
            let id = register(sig, Arc::clone(self.inner()), Arc::clone(&wakeup.pending))?;
            wakeup.ids.push(id);
        }
        Ok(wakeup)
    }
}

fn bit(sig: c_int) -> u64 {
    1u64 << (sig - 1)
}

fn register(sig: c_int, inner: Arc<Inner>, pending: Arc<AtomicU64>) -> io::Result<SigId> {
    let handler = move || {
        pending.fetch_or(bit(sig), Ordering::AcqRel);
        Counters::bump(&inner.counters.signals);
        // A failed write cannot be reported from a handler; the pending bit
        // is still seen at the poller's next wakeup.
        let _ = inner.wake_quietly();
    };
    // SAFETY: the handler only touches atomics and calls `wake_quietly`,
    // which does atomic operations and at most one write(2): all
    // async-signal-safe. It allocates nothing and takes no lock.
    unsafe { signal_hook::low_level::register(sig, handler) }.map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot catch signal {sig} to wake the poller: {err}"),
        )
    })
}
