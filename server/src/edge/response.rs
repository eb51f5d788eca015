//! The response side of one connection: a complete JSON answer with its
//! length, or a stream of unknown length that ends when the connection
//! closes; gzip-compressed for a client that accepts it, flushed on a
//! clock, counted for the access log, and never retried after a failed
//! write.

use std::io::{self, BufWriter, Write};

use dbdump_shared::gzip::{Encoded, Paced};
use dbdump_shared::http as h;
use dbdump_shared::tls::MaybeTls;
use rustls::ServerConnection;

use crate::error::ApiError;

type Conn = MaybeTls<ServerConnection>;

/// Counts what goes out, for the log, and notes a failed write (a client
/// gone or stalled past the write timeout).
struct Counting<W: Write> {
    inner: W,
    bytes: u64,
    failed: bool,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Once a write failed nothing more is tried: each try could wait
        // the whole write timeout again on a client that stopped reading
        // (and a compressed body's end is written on the way out).
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "an earlier write to the client failed",
            ));
        }
        let result = self.inner.write(buf);
        match &result {
            Ok(n) => self.bytes += *n as u64,
            Err(e) => self.failed |= e.kind() != io::ErrorKind::Interrupted,
        }
        result
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Buffered<'a> = BufWriter<Counting<&'a mut Conn>>;

/// The response side of one connection.
pub struct Response<'a> {
    /// The body as it goes out: paced flushes, gzip once a stream starts
    /// for a client that accepts it. Always there but while it is switched.
    out: Option<Paced<Encoded<Buffered<'a>>>>,
    status: u16,
    started: bool,
    head_only: bool,
    /// The client accepts gzip (`Accept-Encoding`).
    gzip: bool,
}

fn switching() -> io::Error {
    io::Error::other("the response body is being switched")
}

impl<'a> Response<'a> {
    /// The response side of `conn`: plain, not yet started.
    pub fn new(conn: &'a mut Conn) -> Response<'a> {
        let counting = Counting {
            inner: conn,
            bytes: 0,
            failed: false,
        };
        Response {
            out: Some(Paced::new(Encoded::new(
                BufWriter::with_capacity(64 * 1024, counting),
                false,
            ))),
            status: 0,
            started: false,
            head_only: false,
            gzip: false,
        }
    }

    /// Headers only (a HEAD request).
    pub fn set_head_only(&mut self, head_only: bool) {
        self.head_only = head_only;
    }

    /// The client accepts gzip: streams and large JSON answers go compressed.
    pub fn set_gzip(&mut self, gzip: bool) {
        self.gzip = gzip;
    }

    fn out(&mut self) -> io::Result<&mut Paced<Encoded<Buffered<'a>>>> {
        self.out.as_mut().ok_or_else(switching)
    }

    fn head(
        &mut self,
        status: u16,
        content_type: &str,
        length: Option<usize>,
        extra: &[(&str, String)],
    ) -> io::Result<()> {
        self.status = status;
        self.started = true;
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nConnection: close\r\nCache-Control: no-store\r\nDate: {}\r\nServer: dbd_server/{}\r\n",
            h::reason(status),
            httpdate::fmt_http_date(std::time::SystemTime::now()),
            dbdump_shared::VERSION
        );
        if let Some(len) = length {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.out()?.write_all(head.as_bytes())
    }

    /// A complete JSON response.
    /// A successful answer over [`GZIP_JSON_ABOVE`] bytes goes compressed to
    /// a client that accepts gzip (a table listing of hundreds of tables);
    /// errors never do.
    pub fn json<T: serde::Serialize>(&mut self, status: u16, body: &T, extra: &[(&str, String)]) {
        let mut bytes = serde_json::to_vec(body).unwrap_or_default();
        bytes.push(b'\n');
        let mut extra = extra.to_vec();
        if self.gzip && status == 200 && bytes.len() > GZIP_JSON_ABOVE {
            let mut packed = Encoded::new(Vec::new(), true);
            if let Ok(packed) = packed.write_all(&bytes).and_then(|_| packed.finish()) {
                bytes = packed;
                extra.extend(gzip_headers());
            }
        }
        let head_only = self.head_only;
        let _ = self
            .head(status, "application/json", Some(bytes.len()), &extra)
            .and_then(|_| {
                if head_only {
                    Ok(())
                } else {
                    self.out()?.write_all(&bytes)
                }
            })
            .and_then(|_| self.out()?.flush());
    }

    /// The error body `{"error": ..., "status": ...}` with the error's status.
    pub fn error(&mut self, err: &ApiError) {
        let body = dbdump_shared::wire::ErrorBody {
            error: err.to_string(),
            status: err.status(),
        };
        self.json(err.status(), &body, &err.headers());
    }

    /// Starts a 200 stream of unknown length; the body ends when the
    /// connection closes (hence the trailer line in the protocol). It is
    /// gzip-compressed for a client that accepts that, and flushed at least
    /// every [`dbdump_shared::gzip::FLUSH_EVERY`] while rows keep coming.
    pub fn stream(&mut self, content_type: &str) -> io::Result<&mut dyn Write> {
        let extra = if self.gzip {
            gzip_headers()
        } else {
            vec![("Vary", "Accept-Encoding".to_string())]
        };
        self.head(200, content_type, None, &extra)?;
        if self.gzip {
            let plain = self.out.take().ok_or_else(switching)?;
            let buffered = plain.into_inner().finish()?;
            self.out = Some(Paced::new(Encoded::new(buffered, true)));
        }
        Ok(self.out()?)
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Sends what is buffered. Once a write failed, nothing more is tried:
    /// each try could wait the whole write timeout again on a client that
    /// stopped reading.
    pub fn finish(self) -> Sent {
        let mut sent = Sent {
            status: self.status,
            bytes: 0,
            failed: true,
            gzip_level: None,
        };
        let Some(out) = self.out else {
            return sent;
        };
        sent.bytes = out.get_ref().get_ref().get_ref().bytes;
        sent.gzip_level = out.get_ref().gzip_level();
        // A compressed body's last block and CRC trailer go out here.
        if let Ok(mut buffered) = out.into_inner().finish() {
            let _ = buffered.flush();
            let &Counting { bytes, failed, .. } = buffered.get_ref();
            (sent.bytes, sent.failed) = (bytes, failed);
            // Not through `drop`, which would try to flush once more.
            let _unsent = buffered.into_parts();
        }
        sent
    }
}

/// What a finished response sent, for the access log.
pub struct Sent {
    pub status: u16,
    pub bytes: u64,
    /// A write failed (the client went away or stalled).
    pub failed: bool,
    /// A compressed stream: the highest gzip level it used.
    pub gzip_level: Option<u32>,
}

/// Smaller JSON answers are not worth compressing.
const GZIP_JSON_ABOVE: usize = 1024;

fn gzip_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Content-Encoding", "gzip".to_string()),
        ("Vary", "Accept-Encoding".to_string()),
    ]
}
