//! SIGINT/SIGTERM turn into a flag that long-running loops poll, so both
//! binaries can finish the unit of work in flight and exit cleanly. A second
//! signal falls back to the default action (immediate termination).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;
const SIG_DFL: usize = 0;

extern "C" {
    // From the C library std already links (glibc or musl).
    fn signal(signum: i32, handler: usize) -> usize;
}

extern "C" fn on_signal(sig: i32) {
    SIGNAL.store(sig, Ordering::SeqCst);
    STOP.store(true, Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; restores the default action so
    // that a second Ctrl-C kills a stuck process.
    unsafe {
        signal(sig, SIG_DFL);
    }
}

/// Installs the handlers. Call once, early in `main`.
pub fn install() {
    let handler = on_signal as extern "C" fn(i32) as usize;
    // SAFETY: the handler only touches atomics and calls signal().
    unsafe {
        signal(SIGINT, handler);
        signal(SIGTERM, handler);
    }
}

/// Whether a stop was asked for (by a signal or [`request_stop`]).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Asks every loop to stop, as a signal would.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// The signal number that asked for the stop, if any.
pub fn received() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Sleeps for `d`, waking early when a stop is requested. Returns false if
/// it was interrupted.
pub fn sleep(d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop_requested() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}
