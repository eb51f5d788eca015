//! Reads against a deadline for the whole exchange, not just per read: a
//! socket read timeout restarts with every byte, so a client trickling one
//! byte a second (slowloris) would keep its thread forever. Used for the
//! request head (TLS handshake included) and for the short wait for the
//! client to close after the response.

use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dbdump_shared::http::{self as h, Head, HeadError};
use dbdump_shared::tls::MaybeTls;
use rustls::ServerConnection;

/// A socket whose reads wait at most `stall` each and end at `until`.
pub struct Deadline<'a> {
    tcp: &'a TcpStream,
    until: Instant,
    stall: Duration,
}

impl<'a> Deadline<'a> {
    pub fn new(tcp: &'a TcpStream, until: Instant, stall: Duration) -> Deadline<'a> {
        Deadline { tcp, until, stall }
    }

    /// How long the next read may wait; `None` once the deadline passed.
    fn wait(&self) -> Option<Duration> {
        let left = self.until.saturating_duration_since(Instant::now());
        // A zero read timeout means "wait forever" to the OS.
        (left >= Duration::from_millis(1)).then(|| left.min(self.stall))
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "deadline passed")
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wait = self.wait().ok_or_else(timed_out)?;
        self.tcp.set_read_timeout(Some(wait))?;
        match (&*self.tcp).read(buf) {
            // What a socket read timeout gives on Linux, made explicit.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(timed_out()),
            other => other,
        }
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.tcp).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.tcp).flush()
    }
}

/// Whether `e` means the deadline or the per-read stall ran out.
pub fn is_timeout(e: &HeadError) -> bool {
    matches!(e, HeadError::Io(io) if matches!(io.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock))
}

/// Reads the request head (after the TLS handshake, if any) by `until`,
/// each read waiting at most `stall`. Bytes after the head are a request
/// body, which GET has none of: they are dropped with the buffer.
pub fn read_head(
    conn: &mut MaybeTls<ServerConnection>,
    until: Instant,
    stall: Duration,
) -> Result<Head, HeadError> {
    const BUFFER: usize = 8192;
    match conn {
        MaybeTls::Plain(tcp) => h::read_head(&mut BufReader::with_capacity(
            BUFFER,
            Deadline::new(tcp, until, stall),
        )),
        MaybeTls::Tls(tls) => {
            // Below rustls, so that every socket read of the handshake
            // counts against the deadline too.
            let tls = &mut **tls;
            let mut socket = Deadline::new(&tls.sock, until, stall);
            let stream = rustls::Stream::new(&mut tls.conn, &mut socket);
            h::read_head(&mut BufReader::with_capacity(BUFFER, stream))
        }
    }
}

/// After the response: lets the client see the end before the socket is
/// dropped, discarding what it still sends, for `limit` at most (a client
/// that keeps sending must not keep the thread).
pub fn drain(tcp: &TcpStream, limit: Duration) {
    let mut reader = Deadline::new(tcp, Instant::now() + limit, Duration::from_millis(200));
    let mut sink = [0u8; 4096];
    while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (client, listener.accept().unwrap().0)
    }

    #[test]
    fn a_trickled_head_ends_at_the_deadline_not_per_byte() {
        let (mut client, server) = pair();
        let trickle = std::thread::spawn(move || {
            let _ = client.write_all(b"GET / HTTP/1.1\r\n");
            for _ in 0..40 {
                std::thread::sleep(Duration::from_millis(50));
                if client.write_all(b"X").is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut conn = MaybeTls::Plain(server);
        let err = read_head(
            &mut conn,
            started + Duration::from_millis(400),
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(is_timeout(&err), "{err}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(1),
            "{took:?}"
        );
        drop(conn);
        trickle.join().unwrap();
    }

    #[test]
    fn a_complete_head_reads_as_usual() {
        let (mut client, server) = pair();
        client
            .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut conn = MaybeTls::Plain(server);
        let until = Instant::now() + Duration::from_secs(5);
        let head = read_head(&mut conn, until, Duration::from_secs(1)).unwrap();
        assert_eq!(head.start_line, "GET /x HTTP/1.1");
    }

    #[test]
    fn drain_stops_at_its_limit_while_the_client_keeps_sending() {
        let (mut client, server) = pair();
        let sender = std::thread::spawn(move || {
            for _ in 0..100 {
                if client.write_all(b"more").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let started = Instant::now();
        drain(&server, Duration::from_millis(300));
        assert!(started.elapsed() < Duration::from_secs(1));
        drop(server);
        sender.join().unwrap();
    }
}
