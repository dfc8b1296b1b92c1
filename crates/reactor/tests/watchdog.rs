//! The blocked-loop detector reports a callback while it still runs, and
//! again when it returns, naming it.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rouse_reactor::EventLoop;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn slow_callback_for_the_watchdog(_: &mut EventLoop, _: &mut ()) {
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn a_blocking_callback_is_reported_while_running_and_after() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global: the watchdog warns from its own thread. One test per binary.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let mut el = EventLoop::builder()
        .blocked_threshold(Duration::from_millis(50))
        .build()
        .unwrap();
    el.add_callback(slow_callback_for_the_watchdog);
    el.add_callback(|_, _| {}); // fast: never reported
    el.run_once(&mut (), Some(Duration::ZERO)).unwrap();

    let m = el.metrics();
    assert_eq!(m.blocked_reports, 1, "one report while it ran");
    assert_eq!(m.slow_calls, 1, "one report when it returned");
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("still running"), "{text}");
    assert!(text.contains("slow_callback_for_the_watchdog"), "{text}");
}
