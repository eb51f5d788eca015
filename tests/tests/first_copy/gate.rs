//! A relay between dbd_puller and dbd_server that holds a first copy's
//! range streams (requests with `order=key`) still, so that a test knows
//! the copy is under way when it writes to the source or kills the puller:
//! the first `free` range streams pass whole (ranges done), every later one
//! passes `allowance` bytes of its answer and then waits until the gate is
//! released (with [`Gate::start_for`], only the range streams of one
//! table). Every other request (listing, ranges, changes, digests) passes
//! untouched. It counts the requests it saw, so that a test can also show
//! that a copy asked for no ranges at all.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dbdump_tests::wait_until;

#[derive(Default)]
struct State {
    /// Range streams still to let through whole.
    free: AtomicU32,
    allowance: u64,
    /// Only range streams whose request line holds this are held.
    only: Option<String>,
    released: AtomicBool,
    /// Range streams being relayed now, and of them those held.
    open: AtomicU32,
    held: AtomicU32,
    /// Range streams and ranges requests seen.
    ranges_streams: AtomicU32,
    ranges_requests: AtomicU32,
}

/// A running relay; its threads end with the test process (or when their
/// connections close).
pub struct Gate {
    pub port: u16,
    state: Arc<State>,
}

impl Gate {
    /// Relays to the server on `target`: `free` range streams whole, then
    /// `allowance` bytes of each further one until [`Gate::release`].
    pub fn start(target: u16, free: u32, allowance: u64) -> Gate {
        Gate::with(target, free, allowance, None)
    }

    /// Like [`Gate::start`], for the range streams of `table` only: those
    /// of other tables pass whole.
    pub fn start_for(target: u16, table: &str, free: u32, allowance: u64) -> Gate {
        Gate::with(target, free, allowance, Some(format!("/{table}/?")))
    }

    fn with(target: u16, free: u32, allowance: u64, only: Option<String>) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the gate");
        let port = listener.local_addr().expect("gate address").port();
        let state = Arc::new(State {
            free: AtomicU32::new(free),
            allowance,
            only,
            ..State::default()
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || relay(client, target, &state));
            }
        });
        Gate { port, state }
    }

    /// A relay that holds nothing: it only counts.
    pub fn open(target: u16) -> Gate {
        let gate = Gate::start(target, 0, 0);
        gate.release();
        gate
    }

    /// Lets every held stream, and every later one, go on.
    pub fn release(&self) {
        self.state.released.store(true, Ordering::SeqCst);
    }

    /// Range streams held at their allowance now.
    pub fn held(&self) -> u32 {
        self.state.held.load(Ordering::SeqCst)
    }

    /// Waits until `n` range streams are held (the copy cannot end while
    /// one is). Panics after 60 s.
    pub fn wait_held(&self, n: u32) {
        wait_until(
            &format!("{n} range streams to be held"),
            Duration::from_secs(60),
            || self.held() >= n,
        );
    }

    /// Waits until some range stream is held and none is moving: the copy
    /// stands still, part done.
    pub fn wait_still(&self) {
        wait_until(
            "the copy's range streams to stand still",
            Duration::from_secs(60),
            || {
                let (open, held) = (
                    self.state.open.load(Ordering::SeqCst),
                    self.state.held.load(Ordering::SeqCst),
                );
                held >= 1 && held == open
            },
        );
    }

    /// Range streams (`order=key`) relayed so far.
    pub fn range_streams(&self) -> u32 {
        self.state.ranges_streams.load(Ordering::SeqCst)
    }

    /// Ranges requests (`/ranges?`) relayed so far.
    pub fn ranges_requests(&self) -> u32 {
        self.state.ranges_requests.load(Ordering::SeqCst)
    }
}

fn relay(mut client: TcpStream, target: u16, state: &State) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    if server.write_all(&head).is_err() {
        return;
    }
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    if line.contains("/ranges?") {
        state.ranges_requests.fetch_add(1, Ordering::SeqCst);
    }
    let range = line.contains("order=key");
    if !range {
        let _ = std::io::copy(&mut server, &mut client);
        return;
    }
    state.ranges_streams.fetch_add(1, Ordering::SeqCst);
    // A free stream passes whole; a held one up to its allowance.
    let spared = state
        .only
        .as_ref()
        .is_some_and(|t| !line.contains(t.as_str()));
    let whole = spared
        || state
            .free
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
            .is_ok();
    let mut budget = if whole { u64::MAX } else { state.allowance };
    state.open.fetch_add(1, Ordering::SeqCst);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        if !state.released.load(Ordering::SeqCst) && (chunk.len() as u64) > budget {
            let (now, later) = chunk.split_at(budget as usize);
            if client.write_all(now).is_err() {
                break;
            }
            state.held.fetch_add(1, Ordering::SeqCst);
            while !state.released.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            state.held.fetch_sub(1, Ordering::SeqCst);
            chunk = later;
        }
        budget = budget.saturating_sub(chunk.len() as u64);
        if client.write_all(chunk).is_err() {
            break;
        }
    }
    state.open.fetch_sub(1, Ordering::SeqCst);
    let _ = client.shutdown(Shutdown::Both);
}
