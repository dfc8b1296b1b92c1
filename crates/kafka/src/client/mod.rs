//! [`Producer`]: the handle application threads share, and the poller
//! thread (`rouse-kafka-poller`) that owns every broker connection.
//!
//! ```text
//!  app threads ─ send ─► metadata (partition count) ─► Accumulator ─┐
//!      │                                                            │ drain ready
//!      └── wake (only when it matters; coalesced by rouse-waker) ──►│ batches
//!                                                                   ▼
//!  rouse-kafka-poller: rouse-reactor loop ── prepare hook: pump() ── Produce ──► brokers
//!                       ▲  sleeps until the next deadline or a wake        │
//!                       └──── responses: complete / retry / fail ◄─────────┘
//! ```
//!
//! `send` never does I/O. It waits (without I/O, up to `max.block.ms`) only
//! for a topic's first metadata and for `buffer.memory`. It wakes the poller
//! when a batch opens or fills, with `linger.ms=0`, and on flush and close;
//! a wake while one is pending, or while the poller is awake, costs no
//! syscall.

mod identity;
mod latency;
mod metadata;
mod poller;
mod requests;
mod responses;
mod sequences;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::BrokerId;
use parking_lot::Mutex;
use rouse_reactor::Handle;

pub use latency::BrokerLatency;

use crate::accumulator::Accumulator;
use crate::config::ProducerConfig;
use crate::delivery::{DeliveryError, DeliveryFuture, DeliveryResult, OnDelivery};
use crate::error::ProducerError;
use crate::partitioner::{DefaultPartitioner, Partitioner, Partitions};
use crate::record::Record;
use crate::stats::ProducerStats;
use latency::LatencyWindow;
use metadata::{Lookup, Metadata};
use poller::{Loop, Poller};

/// What the handles and the poller thread share.
pub(crate) struct Shared {
    pub(crate) config: ProducerConfig,
    pub(crate) accumulator: Accumulator,
    pub(crate) metadata: Metadata,
    pub(crate) latency: Mutex<HashMap<BrokerId, LatencyWindow>>,
    /// Set by `close` once it has waited: fail what is left and stop.
    pub(crate) abort: AtomicBool,
    /// Set once, by the poller, when the producer cannot go on.
    pub(crate) fatal: OnceLock<Failure>,
}

/// Why the producer stopped for good.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// What went wrong, for the log and [`ProducerError`].
    pub(crate) reason: String,
    /// What every pending record fails with.
    pub(crate) error: DeliveryError,
}

impl Failure {
    /// A state the producer cannot recover from.
    pub(crate) fn fatal(reason: &str) -> Failure {
        Failure {
            reason: reason.to_owned(),
            error: DeliveryError::fatal(reason),
        }
    }

    /// The broker refused the credentials.
    pub(crate) fn authentication(reason: String) -> Failure {
        Failure {
            error: DeliveryError::authentication(&reason),
            reason,
        }
    }

    /// TLS with a broker failed.
    pub(crate) fn tls(reason: String) -> Failure {
        Failure {
            error: DeliveryError::tls(&reason),
            reason,
        }
    }
}

/// A Kafka producer: cheap to clone, shared by any number of threads.
///
/// Dropping the last clone closes it, waiting up to 10 s for records in
/// flight (call [`close`](Producer::close) to choose the wait).
///
/// ```no_run
/// use std::time::Duration;
/// use rouse_kafka::{Producer, ProducerConfig, Record};
///
/// let producer = Producer::new(ProducerConfig::from_pairs([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("linger.ms", "5"),
/// ])?)?;
/// let delivered = producer.send(Record::key_value("orders", "user-42", "paid"))?.wait()?;
/// println!("stored at {}:{}", delivered.partition, delivered.offset);
/// producer.close(Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    partitioner: Arc<dyn Partitioner>,
    handle: Handle<Poller>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// Starts the poller thread with the default partitioner. Connecting
    /// happens in the background: an unreachable broker shows up as
    /// records that time out, not as an error here.
    ///
    /// # Errors
    ///
    /// [`ProducerError::Start`] if the poller's event loop or thread cannot
    /// be created (out of file descriptors or threads).
    pub fn new(config: ProducerConfig) -> Result<Producer, ProducerError> {
        Producer::with_partitioner(config, Arc::new(DefaultPartitioner::new()))
    }

    /// Like [`new`](Producer::new), with a custom partitioner.
    ///
    /// # Errors
    ///
    /// As [`new`](Producer::new).
    pub fn with_partitioner(
        config: ProducerConfig,
        partitioner: Arc<dyn Partitioner>,
    ) -> Result<Producer, ProducerError> {
        let waker: Arc<OnceLock<Handle<Poller>>> = Arc::new(OnceLock::new());
        let hook_waker = Arc::clone(&waker);
        let accumulator = Accumulator::new(&config).on_blocked(move || {
            if let Some(handle) = hook_waker.get() {
                handle.wake();
            }
        });
        let shared = Arc::new(Shared {
            accumulator,
            metadata: Metadata::default(),
            latency: Mutex::new(HashMap::new()),
            abort: AtomicBool::new(false),
            fatal: OnceLock::new(),
            config,
        });
        let (handle, thread) = spawn_poller(Arc::clone(&shared))?;
        let _ = waker.set(handle.clone());
        Ok(Producer {
            inner: Arc::new(Inner {
                shared,
                partitioner,
                handle,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Queues `record` and returns its [`DeliveryFuture`].
    ///
    /// # Errors
    ///
    /// [`ProducerError`] with the record inside: the topic's metadata did
    /// not arrive within `max.block.ms`, the topic cannot be used,
    /// `buffer.memory` stayed full, the record is too large or its partition
    /// does not exist, or the producer is closed.
    pub fn send(&self, record: Record) -> Result<DeliveryFuture, ProducerError> {
        let appended = self.append(record, OnDelivery::Future)?;
        appended.ok_or(ProducerError::Internal(
            "the accumulator returned no future",
        ))
    }

    /// Queues `record`; `callback` gets its outcome, once, on the poller
    /// thread (keep it short and never block in it).
    ///
    /// # Errors
    ///
    /// As [`send`](Producer::send); the callback is then dropped uncalled.
    pub fn send_with_callback<F>(&self, record: Record, callback: F) -> Result<(), ProducerError>
    where
        F: FnOnce(DeliveryResult) + Send + 'static,
    {
        self.append(record, OnDelivery::Callback(Box::new(callback)))
            .map(|_| ())
    }

    fn append(
        &self,
        record: Record,
        on_delivery: OnDelivery,
    ) -> Result<Option<DeliveryFuture>, ProducerError> {
        let shared = &self.inner.shared;
        let config = &shared.config;
        if shared.accumulator.is_closed() {
            return Err(self.refused(record));
        }
        let layout = match shared
            .metadata
            .lookup(&record.topic, config.max_block(), || self.wake(true))
        {
            Lookup::Known(layout) => layout,
            Lookup::Refused(code) => {
                return Err(ProducerError::TopicUnavailable {
                    topic: record.topic.clone(),
                    code,
                    record: Box::new(record),
                })
            }
            Lookup::Closed => return Err(self.refused(record)),
            Lookup::TimedOut(waited) => {
                return Err(ProducerError::MetadataTimeout {
                    topic: record.topic.clone(),
                    waited,
                    cause: shared.metadata.unreachable(),
                    record: Box::new(record),
                })
            }
        };
        let partitions = Partitions {
            count: layout.partitions,
            available: &layout.available,
        };
        let appended = match shared.accumulator.append_at(
            record,
            &*self.inner.partitioner,
            partitions,
            on_delivery,
            Instant::now,
        ) {
            Ok(appended) => appended,
            Err(ProducerError::Closed { record }) => return Err(self.refused(*record)),
            Err(error) => return Err(error),
        };
        if appended.wake {
            self.wake(false);
        }
        Ok(appended.future)
    }

    /// The error for a record a closed producer will not take: closed by the
    /// application, or failed fatally.
    fn refused(&self, record: Record) -> ProducerError {
        match self.inner.shared.fatal.get() {
            Some(failure) if failure.error.is_security() => ProducerError::Authentication {
                record: Some(Box::new(record)),
                reason: failure.error.message().to_owned(),
            },
            Some(failure) => ProducerError::Fatal {
                record: Box::new(record),
                reason: failure.reason.clone(),
            },
            None => ProducerError::Closed {
                record: Box::new(record),
            },
        }
    }

    /// The error that ended this producer, if one did: a state it cannot
    /// recover from (the broker lost or fenced its idempotent producer id
    /// and a new one could not be had, or `enable.idempotence=true` against
    /// a broker that gives none), or an authentication or TLS failure
    /// ([`DeliveryErrorKind::Authentication`](crate::DeliveryErrorKind::Authentication),
    /// [`DeliveryErrorKind::Tls`](crate::DeliveryErrorKind::Tls)). Every record pending at the time failed
    /// with a [`DeliveryErrorKind::Fatal`](crate::DeliveryErrorKind::Fatal)
    /// error, and `send` refuses every later one with
    /// [`ProducerError::Fatal`]. Close the producer and create a new one.
    pub fn fatal_error(&self) -> Option<DeliveryError> {
        self.inner
            .shared
            .fatal
            .get()
            .map(|failure| failure.error.clone())
    }

    /// Wakes the poller unless `rouse.wakeups` is off (metadata the poller
    /// must fetch for a waiting sender is woken for regardless).
    fn wake(&self, for_metadata: bool) {
        if for_metadata || self.inner.shared.config.wakeups() {
            self.inner.handle.wake();
        }
    }

    /// Sends everything queued now, lingering or not, and waits until each
    /// record has its outcome.
    ///
    /// # Errors
    ///
    /// [`ProducerError::FlushTimeout`] if records were still waiting after
    /// `timeout`; they keep going and end as usual.
    /// [`ProducerError::Authentication`] if the producer could not
    /// authenticate or TLS failed: every record has its outcome (that
    /// error), and none was delivered since.
    pub fn flush(&self, timeout: Duration) -> Result<(), ProducerError> {
        let flush = self.inner.shared.accumulator.begin_flush();
        self.inner.handle.wake();
        if flush.wait(Some(timeout)) {
            match self.inner.shared.fatal.get() {
                Some(failure) if failure.error.is_security() => {
                    Err(ProducerError::Authentication {
                        record: None,
                        reason: failure.error.message().to_owned(),
                    })
                }
                _ => Ok(()),
            }
        } else {
            Err(ProducerError::FlushTimeout {
                waited: timeout,
                pending: self.inner.shared.accumulator.stats().queued_records
                    + self.inner.shared.accumulator.stats().in_flight_batches,
            })
        }
    }

    /// Stops taking records, sends what is queued, waits up to `timeout`
    /// for the outcomes, then fails whatever is left with an `Aborted`
    /// error and stops the poller thread. Later calls return at once.
    ///
    /// # Errors
    ///
    /// [`ProducerError::FlushTimeout`] if records had to be failed because
    /// `timeout` ran out; every one of them has its error outcome.
    pub fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        self.inner.close(timeout)
    }

    /// A snapshot of the counters, with the poller waker's.
    pub fn stats(&self) -> ProducerStats {
        let waker = self.inner.handle.waker_stats();
        self.inner.shared.accumulator.stats().with_waker(waker)
    }

    /// Produce latency per broker over its recent requests.
    pub fn broker_latency(&self) -> Vec<BrokerLatency> {
        let mut all: Vec<BrokerLatency> = self
            .inner
            .shared
            .latency
            .lock()
            .iter()
            .map(|(broker, window)| window.summary(*broker))
            .collect();
        all.sort_by_key(|l| l.broker);
        all
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.shared.config
    }
}

impl Inner {
    fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        let Some(thread) = self.thread.lock().take() else {
            return Ok(());
        };
        let shared = &self.shared;
        shared.accumulator.close();
        shared.metadata.close();
        let flushed = {
            let flush = shared.accumulator.begin_flush();
            self.handle.wake();
            flush.wait(Some(timeout))
        };
        let stats = shared.accumulator.stats();
        let pending = stats.queued_records + stats.in_flight_batches;
        shared.abort.store(true, Ordering::Release);
        self.handle.wake();
        let _ = thread.join();
        if flushed {
            Ok(())
        } else {
            Err(ProducerError::FlushTimeout {
                waited: timeout,
                pending,
            })
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.close(Duration::from_secs(10));
    }
}

/// Starts `rouse-kafka-poller` and returns its loop's handle.
fn spawn_poller(shared: Arc<Shared>) -> Result<(Handle<Poller>, JoinHandle<()>), ProducerError> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let poll_timeout = shared.config.poll_timeout();
    let thread = std::thread::Builder::new()
        .name("rouse-kafka-poller".into())
        .spawn(move || {
            let mut el = match Loop::builder().default_timeout(poll_timeout).build() {
                Ok(el) => el,
                Err(error) => {
                    let _ = tx.send(Err(error));
                    return;
                }
            };
            let _ = tx.send(Ok(el.handle()));
            // The poller is the loop's data: its handlers, hook and timer
            // borrow it one call at a time.
            let mut poller = Poller::new(shared, &el);
            el.add_prepare(|el, poller| poller.pump(el));
            let span = tracing::info_span!("rouse-kafka-poller");
            let _entered = span.enter();
            if let Err(error) = el.run(&mut poller) {
                tracing::error!(%error, "the poller's event loop failed");
            }
            // The loop first (it closes every connection), then the rest.
            drop(el);
            drop(poller);
        })
        .map_err(ProducerError::Start)?;
    match rx.recv() {
        Ok(Ok(handle)) => Ok((handle, thread)),
        Ok(Err(error)) => Err(ProducerError::Start(error)),
        Err(_) => Err(ProducerError::Start(std::io::ErrorKind::BrokenPipe.into())),
    }
}
