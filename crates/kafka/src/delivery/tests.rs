//! Every outcome path of a record: futures, callbacks, drops, `.await`.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn meta() -> RecordMetadata {
    RecordMetadata {
        topic: "t".into(),
        partition: 1,
        offset: 42,
        timestamp: 7,
        poll_duration: None,
    }
}

#[test]
fn future_sees_the_result_from_another_thread() {
    let (completer, future) = Completer::new(OnDelivery::Future);
    let future = future.unwrap();
    assert!(!future.is_done());
    assert_eq!(future.try_result(), None);
    assert_eq!(future.wait_timeout(Duration::from_millis(1)), None);
    let t = std::thread::spawn(move || completer.complete(Ok(meta())));
    assert_eq!(future.wait(), Ok(meta()));
    t.join().unwrap();
    assert!(future.is_done());
    assert_eq!(
        future.clone().wait_timeout(Duration::ZERO),
        Some(Ok(meta()))
    );
    assert_eq!(future.wait_timeout(Duration::MAX), Some(Ok(meta())));
}

#[test]
fn callback_runs_exactly_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let (completer, future) = Completer::new(OnDelivery::Callback(Box::new(move |r| {
        assert_eq!(r, Ok(meta()));
        seen.fetch_add(1, Ordering::SeqCst);
    })));
    assert!(future.is_none());
    completer.complete(Ok(meta()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_dropped_completer_still_resolves_once() {
    let (completer, future) = Completer::new(OnDelivery::Future);
    drop(completer);
    let err = future.unwrap().wait().unwrap_err();
    assert_eq!(err.kind(), DeliveryErrorKind::Dropped);
    assert!(!err.is_retriable());

    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let (completer, _) = Completer::new(OnDelivery::Callback(Box::new(move |r| {
        assert!(r.is_err());
        seen.fetch_add(1, Ordering::SeqCst);
    })));
    drop(completer);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_callback_is_contained() {
    let (completer, _) = Completer::new(OnDelivery::Callback(Box::new(|_| panic!("app bug"))));
    completer.complete(Ok(meta()));
}

#[test]
fn errors_say_what_failed_and_what_to_do() {
    let e = DeliveryError::broker(6, 3);
    assert_eq!(e.kind(), DeliveryErrorKind::Broker(6));
    assert!(e.is_retriable());
    assert!(
        e.message().contains("NotLeaderOrFollower") && e.message().contains("resend"),
        "{e}"
    );

    let e = DeliveryError::broker(10, 1);
    assert!(!e.is_retriable());
    assert!(
        e.to_string().contains("MessageTooLarge") && e.to_string().contains("fix"),
        "{e}"
    );

    let e = DeliveryError::timeout(Duration::from_secs(2), false);
    assert_eq!(e.kind(), DeliveryErrorKind::Timeout);
    assert!(
        e.is_retriable() && e.message().contains("2000 ms") && e.message().contains("never sent")
    );
    assert!(DeliveryError::timeout(Duration::ZERO, true)
        .message()
        .contains("may or may not"));

    let e = DeliveryError::aborted("producer closed");
    assert_eq!(
        (e.kind(), e.is_retriable()),
        (DeliveryErrorKind::Aborted, false)
    );
    assert!(e.message().contains("producer closed"));
    assert_eq!(
        DeliveryError::network("reset").kind(),
        DeliveryErrorKind::Network
    );
    assert!(DeliveryError::encoding("zstd")
        .message()
        .contains("compression.type"));
}

/// A waker that counts its wakes.
struct CountingWaker(AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_polled_future_is_woken_once_by_the_outcome_from_another_thread() {
    let (completer, future) = Completer::new(OnDelivery::Future);
    let mut future = future.expect("a future");
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
    assert!(
        Pin::new(&mut future).poll(&mut cx).is_pending(),
        "polled again"
    );
    std::thread::spawn(move || completer.complete(Ok(meta())))
        .join()
        .unwrap();
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "one wake, not one per poll"
    );
    assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Ready(Ok(meta())));
    assert_eq!(future.wait(), Ok(meta()), "wait() still works after .await");
}
