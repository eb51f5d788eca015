//! Closing refused connections gently, on one helper thread. A connection
//! refused on the accept thread gets its answer before the client has even
//! sent its request; closing the socket then, with the request arriving or
//! unread, makes the kernel reset the connection, and the client sees
//! "broken pipe" or "connection reset" instead of the 503. So each refused
//! socket is kept (its request read and thrown away) until the client
//! closes, for a second at most, with a bound on how many are kept at once.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

/// How long a refused client has to send its request and read the answer.
const GRACE: Duration = Duration::from_secs(1);
/// Most sockets kept at once; past that, a refused socket closes at once.
const MAX_KEPT: usize = 256;
/// How often kept sockets are looked at.
const TICK: Duration = Duration::from_millis(20);

pub struct Linger {
    kept: SyncSender<TcpStream>,
}

impl Linger {
    pub fn start() -> Linger {
        let (kept, incoming) = mpsc::sync_channel(MAX_KEPT);
        let spawned = std::thread::Builder::new()
            .name("linger".into())
            .spawn(move || keep(incoming));
        if let Err(e) = spawned {
            dbdump_shared::warn!("cannot start the thread that closes refused connections: {e}");
        }
        Linger { kept }
    }

    /// Closes `stream`, whose answer was written, once its client is done.
    pub fn close(&self, stream: TcpStream) {
        let _ = stream.shutdown(std::net::Shutdown::Write);
        if stream.set_nonblocking(true).is_ok() {
            // Full (or no thread): dropped, so closed at once.
            let _ = self.kept.try_send(stream);
        }
    }
}

/// Reads and discards what each socket has; drops it at EOF, on an error or
/// past its grace period.
fn keep(incoming: Receiver<TcpStream>) {
    let mut kept: Vec<(TcpStream, Instant)> = Vec::new();
    let mut sink = [0u8; 4096];
    loop {
        // Idle: wait for work instead of ticking.
        if kept.is_empty() {
            match incoming.recv() {
                Ok(s) => kept.push((s, Instant::now() + GRACE)),
                Err(_) => return,
            }
        }
        loop {
            match incoming.try_recv() {
                Ok(s) if kept.len() < MAX_KEPT => kept.push((s, Instant::now() + GRACE)),
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let now = Instant::now();
        kept.retain_mut(|(s, until)| {
            now < *until
                && loop {
                    match s.read(&mut sink) {
                        Ok(0) => break false,
                        Ok(_) => continue,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break true,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => break false,
                    }
                }
        });
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_client_that_writes_after_the_answer_still_reads_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let linger = Linger::start();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        let (mut refused, _) = listener.accept().unwrap();
        refused
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
            .unwrap();
        linger.close(refused);
        std::thread::sleep(Duration::from_millis(50));
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .expect("no reset");
        let mut answer = String::new();
        client.read_to_string(&mut answer).expect("no reset");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    }

    #[test]
    fn a_client_that_never_closes_is_dropped_after_the_grace_period() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let linger = Linger::start();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        linger.close(listener.accept().unwrap().0);
        let started = Instant::now();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        let _ = client.read_to_end(&mut rest);
        // EOF at once (the write side was shut); the socket itself goes
        // within the grace period, after which writes fail.
        assert!(started.elapsed() < Duration::from_secs(1));
        std::thread::sleep(GRACE + Duration::from_millis(200));
        let broke = (0..10).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            client.write_all(b"more").is_err()
        });
        assert!(broke, "the server side was not closed");
    }
}
