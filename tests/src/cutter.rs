//! A relay that cuts one answer short, to show that the puller never acts
//! on an incomplete one: it passes requests on to a dbd_server and answers
//! back, except the `nth` answer to a request whose first line contains a
//! given text, which it cuts (without its last line, the trailer) or empties
//! (a bare 200 with no body).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A running relay; its threads end with the test process.
pub struct Cutter {
    pub port: u16,
}

/// How the chosen answer is cut.
#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// Without its last line (the trailer of a stream or digest).
    NoTrailer,
    /// A bare `200 OK` with nothing after the head.
    Empty,
}

impl Cutter {
    /// Relays to the server on `target`; the `nth` (0-based) answer to a
    /// request whose first line contains `matching` is cut as `how` says.
    pub fn start(target: u16, matching: &'static str, nth: u32, how: Cut) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(AtomicU32::new(0));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || relay(client, target, matching, &seen, nth, how));
            }
        });
        Cutter { port }
    }
}

fn relay(mut client: TcpStream, target: u16, matching: &str, seen: &AtomicU32, nth: u32, how: Cut) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let _ = server.write_all(&head);
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    let chosen = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .is_some_and(|l| l.contains(matching));
    if chosen && seen.fetch_add(1, Ordering::SeqCst) == nth {
        answer = match how {
            Cut::NoTrailer => {
                let body = answer.strip_suffix(b"\n").unwrap_or(&answer);
                let end = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                answer[..end].to_vec()
            }
            Cut::Empty => b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec(),
        };
    }
    let _ = client.write_all(&answer);
}
