//! Starting the `rouse-kafka-consumer` thread: its event loop, the
//! poller as the loop's data, and the pump as its prepare hook.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;
use rouse_reactor::Handle;

use super::{Command, ConsumerPoller, Loop};
use crate::consumer::consumer_error::ConsumerError;
use crate::consumer::shared::Shared;

/// Starts `rouse-kafka-consumer` and returns its loop's handle.
pub(crate) fn spawn_poller(
    shared: Arc<Shared>,
    commands: Receiver<Command>,
) -> Result<(Handle<ConsumerPoller>, JoinHandle<()>), ConsumerError> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name("rouse-kafka-consumer".into())
        .spawn(move || {
            let mut el = match Loop::builder().build() {
                Ok(el) => el,
                Err(error) => {
                    let _ = tx.send(Err(error));
                    return;
                }
            };
            let _ = tx.send(Ok(el.handle()));
            let mut poller = ConsumerPoller::new(shared, commands, &el);
            el.add_prepare(|el, poller| poller.pump(el));
            let span = tracing::info_span!("rouse-kafka-consumer");
            let _entered = span.enter();
            if let Err(error) = el.run(&mut poller) {
                tracing::error!(%error, "the consumer poller's event loop failed");
            }
            // The loop first (it closes every connection), then the rest.
            drop(el);
            drop(poller);
        })
        .map_err(ConsumerError::Start)?;
    match rx.recv() {
        Ok(Ok(handle)) => Ok((handle, thread)),
        Ok(Err(error)) => Err(ConsumerError::Start(error)),
        Err(_) => Err(ConsumerError::Start(std::io::ErrorKind::BrokenPipe.into())),
    }
}
