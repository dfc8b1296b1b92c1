//! Every record's one outcome: [`RecordMetadata`] or a [`DeliveryError`].
//!
//! A successful `send` hands the record to the accumulator together with a
//! crate-private `Completer`, the only way to resolve the record. A completer
//! is consumed by completing it, so a record cannot be resolved twice; and
//! dropping one that was never completed (a bug, or a panic unwinding
//! through the poller) resolves the record with an internal error, so a
//! record cannot be left hanging either. Exactly once, by construction.
//!
//! The application sees the outcome through one of:
//!
//! * a [`DeliveryFuture`]: [`wait`](DeliveryFuture::wait),
//!   [`wait_timeout`](DeliveryFuture::wait_timeout) or
//!   [`is_done`](DeliveryFuture::is_done) from any thread;
//! * a callback ([`OnDelivery::Callback`]), run once on the poller thread.
//!   Keep callbacks short, as every other record waits behind them; a
//!   panicking callback is caught and logged so the poller survives.
//!
//! Pitfall: never block in a callback. A callback may send again, but if
//! `buffer.memory` is full that send waits for the poller to free memory,
//! and the poller is the thread running the callback: it stalls until
//! `max.block.ms` runs out.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Where a delivered record ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset in the partition, or `-1` where the broker gave
    /// none: with `acks=0` (the broker sends no response), and when a retry
    /// was answered DUPLICATE_SEQUENCE_NUMBER (the record was written by an
    /// earlier attempt) by a broker that no longer knows that attempt's
    /// offset. Whenever the broker does give the first write's offset, as
    /// Kafka does for a duplicate of one of a producer's last five batches,
    /// that offset is reported.
    pub offset: i64,
    /// The record's timestamp: the creation time it was sent with, or the
    /// broker's append time for topics with `LogAppendTime`.
    pub timestamp: i64,
    /// How long the poller's poll had lasted when it returned and the
    /// poller drained this record's batch: how long the poller slept before
    /// it saw the record. Close to `rouse.poll.timeout.ms` when nothing woke
    /// it, short when `send` did. `None` outside the poller.
    pub poll_duration: Option<Duration>,
}

/// The outcome of one record.
pub type DeliveryResult = Result<RecordMetadata, DeliveryError>;

/// A callback for one record's outcome.
pub type DeliveryCallback = Box<dyn FnOnce(DeliveryResult) + Send + 'static>;

/// What failed, coarsely; the message has the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryErrorKind {
    /// The broker rejected the batch with this Kafka error code and the
    /// producer gave up (not retriable, or out of retries).
    Broker(i16),
    /// `delivery.timeout.ms` passed before the broker acknowledged the record.
    Timeout,
    /// The connection failed and the producer gave up.
    Network,
    /// The producer was closed or aborted before the record was sent.
    Aborted,
    /// The batch could not be encoded (compression failed).
    Encoding,
    /// The record was dropped without an outcome: a bug in the producer.
    Dropped,
    /// The producer hit an error it cannot recover from (see
    /// [`Producer::fatal_error`](crate::Producer::fatal_error)): every
    /// pending and later record fails with it; create a new producer.
    Fatal,
    /// The broker refused this client's SASL credentials (or the SASL
    /// exchange failed): fix `sasl.*` and create a new producer. Every
    /// pending record fails with it, and `send` and `flush` return
    /// [`ProducerError::Authentication`](crate::ProducerError::Authentication).
    Authentication,
    /// TLS with a broker failed: its certificate is not trusted or not for
    /// its host name, it refused the client's certificate, or the port does
    /// not speak what `security.protocol` says. Handled as `Authentication`.
    Tls,
}

/// Why a record was not delivered, whether trying again could help, and what
/// to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    kind: DeliveryErrorKind,
    retriable: bool,
    message: String,
}

impl DeliveryError {
    /// An error of `kind`; `retriable` says whether sending the record again
    /// may succeed.
    pub fn new(
        kind: DeliveryErrorKind,
        retriable: bool,
        message: impl Into<String>,
    ) -> DeliveryError {
        DeliveryError {
            kind,
            retriable,
            message: message.into(),
        }
    }

    /// The broker answered with error `code` and the producer gave up; the
    /// message names the error and whether resending could help.
    pub fn broker(code: i16, attempts: u32) -> DeliveryError {
        let error = kafka_protocol::ResponseError::try_from_code(code);
        let retriable = error.is_some_and(|e| e.is_retriable());
        let name = error.map_or_else(|| "NONE".to_owned(), |e| e.to_string());
        let advice = if retriable {
            "the error is transient: resend the record, or raise retries / delivery.timeout.ms"
        } else {
            "the broker will reject it again: fix the record, topic or broker settings first"
        };
        DeliveryError::new(
            DeliveryErrorKind::Broker(code),
            retriable,
            format!("broker rejected the batch with {name} (code {code}) after {attempts} attempt(s); {advice}"),
        )
    }

    /// `delivery.timeout.ms` passed; `sent` says whether a request was ever
    /// sent (then the record may have been written).
    pub fn timeout(after: Duration, sent: bool) -> DeliveryError {
        let maybe = if sent {
            "it may or may not have been written; resend it if a duplicate is acceptable"
        } else {
            "it was never sent; resend it, check the brokers are reachable, or raise delivery.timeout.ms"
        };
        DeliveryError::new(
            DeliveryErrorKind::Timeout,
            true,
            format!(
                "record not acknowledged within delivery.timeout.ms ({} ms): {maybe}",
                after.as_millis()
            ),
        )
    }

    /// The producer was closed or aborted before sending the record.
    pub fn aborted(reason: &str) -> DeliveryError {
        DeliveryError::new(
            DeliveryErrorKind::Aborted,
            false,
            format!("record aborted before it was sent: {reason}; send it with a new producer if it is still wanted"),
        )
    }

    /// A network failure the producer gave up on.
    pub fn network(detail: &str) -> DeliveryError {
        DeliveryError::new(
            DeliveryErrorKind::Network,
            true,
            format!("network error: {detail}; the record may or may not have been written; resend it if a duplicate is acceptable"),
        )
    }

    /// The producer cannot go on: `reason` says why.
    pub fn fatal(reason: &str) -> DeliveryError {
        DeliveryError::new(
            DeliveryErrorKind::Fatal,
            false,
            format!("fatal producer error: {reason}; this producer can send nothing more: close it and create a new one"),
        )
    }

    /// The broker refused the credentials; `detail` names the broker and
    /// its reason (never the password).
    pub fn authentication(detail: &str) -> DeliveryError {
        DeliveryError::new(
            DeliveryErrorKind::Authentication,
            false,
            format!("SASL authentication failed: {detail}; fix sasl.mechanism / sasl.username / sasl.password (or sasl.jaas.config) and create a new producer"),
        )
    }

    /// TLS failed; `detail` names the broker and the cause.
    pub fn tls(detail: &str) -> DeliveryError {
        DeliveryError::new(
            DeliveryErrorKind::Tls,
            false,
            format!("TLS failed: {detail}; fix security.protocol / ssl.* (or the broker's certificate) and create a new producer"),
        )
    }

    /// Whether this is an authentication or TLS failure.
    pub fn is_security(&self) -> bool {
        matches!(
            self.kind,
            DeliveryErrorKind::Authentication | DeliveryErrorKind::Tls
        )
    }

    /// The batch could not be compressed or encoded.
    pub fn encoding(detail: &str) -> DeliveryError {
        DeliveryError::new(
            DeliveryErrorKind::Encoding,
            false,
            format!("could not encode the record batch: {detail}; try another compression.type"),
        )
    }

    fn dropped() -> DeliveryError {
        DeliveryError::new(
            DeliveryErrorKind::Dropped,
            false,
            "the producer dropped the record without an outcome (a bug in rouse-kafka; please report it); it may or may not have been written",
        )
    }

    /// What failed.
    pub fn kind(&self) -> DeliveryErrorKind {
        self.kind
    }

    /// Whether sending the record again may succeed.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }

    /// The full message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// How a successful `send` reports the record's outcome.
pub enum OnDelivery {
    /// Return a [`DeliveryFuture`].
    Future,
    /// Call this once, on the poller thread. If `send` itself fails the
    /// callback is dropped uncalled: the error is returned from `send`.
    Callback(DeliveryCallback),
}

impl fmt::Debug for OnDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnDelivery::Future => "OnDelivery::Future",
            OnDelivery::Callback(_) => "OnDelivery::Callback(..)",
        })
    }
}

/// The shared slot a future waits on: threads on the condvar, async tasks
/// through their wakers.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

#[derive(Default)]
struct SlotState {
    result: Option<DeliveryResult>,
    /// Tasks polling a clone of the future while it is pending (usually
    /// one; deduplicated with `Waker::will_wake`).
    wakers: Vec<Waker>,
}

/// The pending outcome of one record; cheap to clone, every clone sees it.
///
/// Wait for it from a plain thread ([`wait`](Self::wait),
/// [`wait_timeout`](Self::wait_timeout)) or `.await` it in any executor:
/// it is a [`std::future::Future`] and needs no runtime. The poller thread
/// wakes the waiting task when the broker answers.
///
/// ```no_run
/// # async fn f(producer: rouse_kafka::Producer) -> Result<(), Box<dyn std::error::Error>> {
/// use rouse_kafka::Record;
/// let delivered = producer.send(Record::value("orders", "paid"))?.await?;
/// println!("offset {}", delivered.offset);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DeliveryFuture {
    slot: Arc<Slot>,
}

impl fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("done", &self.is_done())
            .finish()
    }
}

impl DeliveryFuture {
    /// Blocks until the record has its outcome.
    pub fn wait(&self) -> DeliveryResult {
        let mut state = self.slot.state.lock();
        loop {
            if let Some(r) = state.result.as_ref() {
                return r.clone();
            }
            self.slot.done.wait(&mut state);
        }
    }

    /// Blocks up to `timeout`; `None` if the record is still pending.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<DeliveryResult> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.slot.state.lock();
        loop {
            if let Some(r) = state.result.as_ref() {
                return Some(r.clone());
            }
            match deadline {
                Some(deadline) => {
                    if self.slot.done.wait_until(&mut state, deadline).timed_out() {
                        return state.result.clone();
                    }
                }
                None => self.slot.done.wait(&mut state),
            }
        }
    }

    /// The outcome if there is one, without blocking.
    pub fn try_result(&self) -> Option<DeliveryResult> {
        self.slot.state.lock().result.clone()
    }

    /// Whether the record has its outcome.
    pub fn is_done(&self) -> bool {
        self.slot.state.lock().result.is_some()
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        let mut state = self.slot.state.lock();
        if let Some(result) = state.result.as_ref() {
            return Poll::Ready(result.clone());
        }
        // Checked and registered under the lock the completer takes, so a
        // completion cannot slip between the two.
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The only way to resolve a record; see the module docs.
pub(crate) struct Completer {
    target: Option<Target>,
}

enum Target {
    Future(Arc<Slot>),
    Callback(DeliveryCallback),
}

impl Completer {
    /// A completer and, for [`OnDelivery::Future`], the future it resolves.
    pub(crate) fn new(on_delivery: OnDelivery) -> (Completer, Option<DeliveryFuture>) {
        match on_delivery {
            OnDelivery::Future => {
                let slot = Arc::new(Slot::default());
                let future = DeliveryFuture {
                    slot: Arc::clone(&slot),
                };
                (
                    Completer {
                        target: Some(Target::Future(slot)),
                    },
                    Some(future),
                )
            }
            OnDelivery::Callback(callback) => (
                Completer {
                    target: Some(Target::Callback(callback)),
                },
                None,
            ),
        }
    }

    /// Resolves the record. Consumes the completer: once is all there is.
    pub(crate) fn complete(mut self, result: DeliveryResult) {
        self.resolve(result);
    }

    fn resolve(&mut self, result: DeliveryResult) {
        match self.target.take() {
            Some(Target::Future(slot)) => {
                let wakers = {
                    let mut state = slot.state.lock();
                    state.result = Some(result);
                    std::mem::take(&mut state.wakers)
                };
                slot.done.notify_all();
                for waker in wakers {
                    waker.wake();
                }
            }
            Some(Target::Callback(callback)) => {
                let outcome = catch_unwind(AssertUnwindSafe(|| callback(result)));
                if outcome.is_err() {
                    tracing::error!("a delivery callback panicked; the poller carries on");
                }
            }
            None => {}
        }
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if self.target.is_some() {
            tracing::error!("a record was dropped without an outcome");
            self.resolve(Err(DeliveryError::dropped()));
        }
    }
}

#[cfg(test)]
mod tests;
