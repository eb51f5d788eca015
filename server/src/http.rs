//! A small blocking HTTP/1.1 server: one thread per connection (bounded),
//! optional TLS (rustls), one request per connection, hard limits on the
//! request head, read and write timeouts so a stalled client cannot pin a
//! thread or a database connection. Responses are either small JSON bodies
//! with a length, or a stream that ends when the connection closes.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbdump_shared::http::{self as h, Head, HeadError};
use dbdump_shared::tls::MaybeTls;
use dbdump_shared::{debug, info, signals, warn};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::error::ApiError;

/// A parsed request. The target is kept raw; the router decodes it.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub head: Head,
}

/// What a handler reports for the access log.
#[derive(Default)]
pub struct Outcome {
    pub rows: Option<u64>,
}

pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request, resp: &mut Response<'_>) -> Outcome;
}

type Conn = MaybeTls<ServerConnection>;

/// Counts what goes out, for the log.
struct Counting<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The response side of one connection.
pub struct Response<'a> {
    out: BufWriter<Counting<&'a mut Conn>>,
    status: u16,
    started: bool,
    head_only: bool,
}

impl Response<'_> {
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
        self.out.write_all(head.as_bytes())
    }

    /// A complete JSON response.
    pub fn json<T: serde::Serialize>(&mut self, status: u16, body: &T, extra: &[(&str, String)]) {
        let mut bytes = serde_json::to_vec(body).unwrap_or_default();
        bytes.push(b'\n');
        let head_only = self.head_only;
        let _ = self
            .head(status, "application/json", Some(bytes.len()), extra)
            .and_then(|_| {
                if head_only {
                    Ok(())
                } else {
                    self.out.write_all(&bytes)
                }
            })
            .and_then(|_| self.out.flush());
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
    /// connection closes (hence the trailer line in the protocol).
    pub fn stream(&mut self, content_type: &str) -> io::Result<&mut dyn Write> {
        self.head(200, content_type, None, &[])?;
        Ok(&mut self.out)
    }

    pub fn is_started(&self) -> bool {
        self.started
    }
}

pub struct ServerOptions {
    pub tls: Option<Arc<ServerConfig>>,
    /// Most connections handled at once; beyond that, 503 at once.
    pub max_clients: usize,
    /// How long a client may stall while sending or receiving.
    pub client_timeout: Duration,
}

/// Accepts connections until a stop is requested (see `signals`), then
/// waits up to `drain` for open requests to end.
pub fn serve<H: Handler>(
    listener: TcpListener,
    opts: ServerOptions,
    handler: Arc<H>,
    drain: Duration,
) {
    let active = Arc::new(AtomicUsize::new(0));
    let opts = Arc::new(opts);
    for stream in listener.incoming() {
        if signals::stop_requested() {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= opts.max_clients {
            active.fetch_sub(1, Ordering::SeqCst);
            reject_busy(stream, opts.tls.is_some());
            continue;
        }
        let (active, opts, handler) = (active.clone(), opts.clone(), handler.clone());
        let spawned = std::thread::Builder::new()
            .name("request".into())
            .spawn(move || {
                let _guard = Decrement(&active);
                // A bug must cost one request, never the server.
                let run =
                    std::panic::AssertUnwindSafe(|| handle_connection(stream, &opts, &*handler));
                if std::panic::catch_unwind(run).is_err() {
                    dbdump_shared::error!("a request thread panicked; its connection was dropped");
                }
            });
        if let Err(e) = spawned {
            warn!("cannot start a request thread: {e}");
        }
    }
    let deadline = Instant::now() + drain;
    while active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn reject_busy(mut stream: TcpStream, tls: bool) {
    debug!("too many clients; refusing {:?}", stream.peer_addr());
    if !tls {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        write_plain_error(
            &mut stream,
            503,
            "too many clients; retry shortly",
            "Retry-After: 1\r\n",
        );
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn handle_connection<H: Handler>(stream: TcpStream, opts: &ServerOptions, handler: &H) {
    let started = Instant::now();
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return,
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(opts.client_timeout));
    let _ = stream.set_write_timeout(Some(opts.client_timeout));
    if opts.tls.is_some() && looks_like_plain_http(&stream) {
        refuse_plain_http(stream);
        return;
    }
    if opts.tls.is_none() && looks_like_tls(&stream) {
        refuse_tls(stream);
        return;
    }
    let mut conn = match &opts.tls {
        None => MaybeTls::Plain(stream),
        Some(cfg) => match ServerConnection::new(cfg.clone()) {
            Ok(sc) => MaybeTls::Tls(Box::new(StreamOwned::new(sc, stream))),
            Err(e) => {
                warn!("TLS session set-up failed: {e}");
                return;
            }
        },
    };
    let head = {
        let mut reader = BufReader::with_capacity(8192, &mut conn);
        let head = h::read_head(&mut reader);
        // Anything buffered past the head is a request body; GET has none and
        // the connection closes after the response, so it is dropped.
        drop(reader);
        head
    };
    let mut resp = Response {
        out: BufWriter::with_capacity(
            64 * 1024,
            Counting {
                inner: &mut conn,
                bytes: 0,
            },
        ),
        status: 0,
        started: false,
        head_only: false,
    };
    let mut outcome = Outcome::default();
    let (method, target) = match head {
        Ok(head) => match parse_request(head) {
            Ok(req) => {
                let label = (req.method.clone(), request_label(&req));
                // A HEAD answer has no body (RFC 9110 9.3.2), whatever it says.
                resp.head_only = req.method == "HEAD";
                outcome = handler.handle(&req, &mut resp);
                label
            }
            Err((err, label)) => {
                resp.error(&err);
                label
            }
        },
        Err(HeadError::Eof { empty: true }) => return,
        Err(HeadError::Io(e)) => {
            // TLS errors (plain HTTP sent to the HTTPS port, bad handshakes) land here too.
            match dbdump_shared::tls::refused_certificate(&e) {
                Some(why) => warn!(
                    "{peer} refused this server's certificate ({why}): give that dbd_puller \
                     this server's certificate file (--ssl-public-key) with --source-ssl-ca"
                ),
                None => debug!("{peer}: connection dropped before a request: {e}"),
            }
            return;
        }
        Err(e) => {
            let err = match e {
                HeadError::LineTooLong => ApiError::UriTooLong,
                HeadError::TooLarge => ApiError::HeadersTooLarge,
                other => ApiError::BadRequest(format!("malformed request: {other}")),
            };
            resp.error(&err);
            ("-".to_string(), "-".to_string())
        }
    };
    let _ = resp.out.flush();
    let status = resp.status;
    let bytes = resp.out.get_ref().bytes;
    drop(resp);
    if let MaybeTls::Tls(tls) = &mut conn {
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }
    let _ = conn.tcp().shutdown(Shutdown::Write);
    // Give the client a moment to see the end before the socket is dropped,
    // without waiting on a client that keeps the connection open.
    let _ = conn
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 512];
    while matches!(conn.tcp().read(&mut sink), Ok(n) if n > 0) {}
    let rows = outcome
        .rows
        .map(|r| format!(" rows={r}"))
        .unwrap_or_default();
    info!(
        "{peer} {method} {target} {status}{rows} bytes={bytes} ms={}",
        started.elapsed().as_millis()
    );
}

/// A TLS handshake starts with byte 0x16; an HTTP request with a method name.
fn looks_like_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first), Ok(1) if first[0].is_ascii_alphabetic())
}

/// A TLS handshake starts with a handshake record, byte 0x16.
fn looks_like_tls(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first), Ok(1) if first[0] == 0x16)
}

/// Answers a TLS client on the plain port in plain HTTP at once (it would
/// otherwise wait for a ServerHello until a timeout); the client sees that
/// the answer is not TLS and can say so.
fn refuse_tls(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    // Read the ClientHello first: closing with unread bytes would reset the
    // connection before the client reads the answer.
    let mut hello = [0u8; 16 * 1024];
    let _ = stream.read(&mut hello);
    write_plain_error(
        &mut stream,
        400,
        "this port speaks plain HTTP, not HTTPS; use http:// (dbd_puller: without --source-ssl), or start dbd_server with --listen-ssl",
        "",
    );
    let _ = stream.shutdown(Shutdown::Write);
    while matches!(stream.read(&mut hello), Ok(n) if n > 0) {}
    debug!("refused a TLS handshake on the plain HTTP port");
}

/// An error answer written straight to a plain socket, for the cases that
/// never reach a handler.
fn write_plain_error(stream: &mut TcpStream, status: u16, message: &str, extra_headers: &str) {
    let body = dbdump_shared::wire::error_line(status, message);
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n{extra_headers}Connection: close\r\nContent-Length: {}\r\n\r\n",
        h::reason(status),
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(&body));
}

/// Tells a plain-HTTP client, in plain HTTP, that this port wants HTTPS.
fn refuse_plain_http(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    write_plain_error(
        &mut stream,
        400,
        "this port speaks HTTPS only; use https:// (dbd_puller: --source-ssl, or --source-ssl-ca FILE for a self-signed certificate)",
        "",
    );
    let _ = stream.shutdown(Shutdown::Both);
    debug!("refused a plain HTTP request on the HTTPS port");
}

/// Path and query as received, cut short for the log.
fn request_label(req: &Request) -> String {
    let mut s = req.path.clone();
    if !req.query.is_empty() {
        s.push('?');
        s.push_str(&req.query);
    }
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn parse_request(head: Head) -> Result<Request, (ApiError, (String, String))> {
    let mut parts = head.start_line.split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let bad = |m: &str| {
        (
            ApiError::BadRequest(m.to_string()),
            ("-".to_string(), "-".to_string()),
        )
    };
    let (Some(method), Some(target), Some(version), None) = (method, target, version, parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad("only HTTP/1.x is spoken here"));
    }
    if !target.starts_with('/') {
        return Err(bad("request target must be a path"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        head,
    })
}
