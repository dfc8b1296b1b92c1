//! Unix signals delivered as callbacks on the loop thread, through the
//! waker's async-signal-safe wakeup (`rouse_waker::SignalWakeup`).

use std::io;
use std::os::raw::c_int;

use rouse_waker::SignalWakeup;

use crate::label::Label;
use crate::EventLoop;

type SignalHandler<D> = Box<dyn FnMut(&mut EventLoop<D>, &mut D, c_int)>;

/// The signals watched: the wakeup, the handler (`None` while it runs), and
/// its name for logs.
pub(crate) struct SignalTable<D> {
    watched: Vec<(SignalWakeup, Option<SignalHandler<D>>, Label)>,
}

impl<D> Default for SignalTable<D> {
    fn default() -> SignalTable<D> {
        SignalTable {
            watched: Vec::new(),
        }
    }
}

impl<D> EventLoop<D> {
    /// Calls `handler` on the loop thread each time `signal` arrives (several
    /// arrivals between two iterations are delivered once). The signal's
    /// default action (SIGINT ending the process, say) is replaced for as
    /// long as the loop lives. Errors name the signal: uncatchable signals
    /// (SIGKILL, SIGSTOP, ...) and numbers that are not signals are refused.
    pub fn add_signal_handler<F>(&mut self, signal: c_int, handler: F) -> io::Result<()>
    where
        F: FnMut(&mut EventLoop<D>, &mut D, c_int) + 'static,
    {
        let wakeup = self.shared.waker.signal_wakeup(&[signal])?;
        self.signals
            .watched
            .push((wakeup, Some(Box::new(handler)), Label::of::<F>()));
        Ok(())
    }

    pub(crate) fn deliver_signals(&mut self, data: &mut D) {
        for i in 0..self.signals.watched.len() {
            let caught = self.signals.watched[i].0.take_pending();
            for signal in caught {
                let Some(mut handler) = self.signals.watched[i].1.take() else {
                    continue;
                };
                let name = self.signals.watched[i].2.clone();
                tracing::debug!(signal, handler = %name, "delivering a signal");
                self.metrics.callbacks_run += 1;
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handler(self, data, signal)
                }));
                if let Err(payload) = ok {
                    self.metrics.panics += 1;
                    tracing::error!(signal, handler = %name, panic = %crate::handler::panic_message(&*payload), "signal handler panicked");
                }
                self.signals.watched[i].1 = Some(handler);
            }
        }
    }
}
