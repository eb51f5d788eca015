//! A small blocking HTTP/1.1 server: one thread per connection (bounded in
//! all and per client address, see `admission`), optional TLS (rustls), one
//! request per connection, hard limits on the request head, a deadline for
//! the whole head (`deadline`), read and write timeouts so a stalled client
//! cannot pin a thread or a database connection. Responses (`response`) are
//! either small JSON bodies with a length, or a stream that ends when the
//! connection closes.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbdump_shared::gzip;
use dbdump_shared::http::{self as h, Head, HeadError};
use dbdump_shared::tls::MaybeTls;
use dbdump_shared::{debug, info, signals, warn};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::edge::admission::{Admission, Client, Refusal};
use crate::edge::deadline;
use crate::edge::linger::Linger;
use crate::edge::notices::{self, Event, Notices};
pub use crate::edge::response::Response;
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

pub struct ServerOptions {
    pub tls: Option<Arc<ServerConfig>>,
    /// Most connections handled at once; beyond that, 503 at once.
    pub max_clients: usize,
    /// Most connections at once from one client address (see `admission`).
    pub per_client: usize,
    /// How long a client may stall while sending or receiving.
    pub client_timeout: Duration,
    /// How long the whole request head may take, TLS handshake included.
    pub head_timeout: Duration,
}

/// What every request thread shares.
struct Shared<H> {
    opts: ServerOptions,
    handler: Arc<H>,
    notices: Notices,
    linger: Linger,
}

/// Accepts connections until a stop is requested (see `signals`), then
/// waits up to `drain` for open requests to end.
pub fn serve<H: Handler>(
    listener: TcpListener,
    opts: ServerOptions,
    handler: Arc<H>,
    drain: Duration,
) {
    let admission = Admission::new(opts.max_clients, opts.per_client);
    let notices = Notices::new(notices::Limits {
        per_client: opts.per_client,
        total: opts.max_clients,
        head_timeout: opts.head_timeout,
    });
    let shared = Arc::new(Shared {
        opts,
        handler,
        notices,
        linger: Linger::start(),
    });
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
        let accepted = Instant::now();
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let client = Client::of(peer.ip());
        let ticket = match admission.admit(client) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                let (err, event) = match refusal {
                    Refusal::OverShare => {
                        (ApiError::OverShare(admission.per_client), Event::OverShare)
                    }
                    Refusal::Full => (ApiError::TooManyClients, Event::Full),
                };
                shared.notices.note(client, event);
                refuse(stream, &err, shared.opts.tls.is_some(), &shared.linger);
                continue;
            }
        };
        let shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("request".into())
            .spawn(move || {
                let _ticket = ticket;
                // A bug must cost one request, never the server.
                let run = std::panic::AssertUnwindSafe(|| {
                    handle_connection(stream, peer, client, accepted, &shared)
                });
                if std::panic::catch_unwind(run).is_err() {
                    dbdump_shared::error!("a request thread panicked; its connection was dropped");
                }
            });
        if let Err(e) = spawned {
            warn!("cannot start a request thread: {e}");
        }
    }
    let deadline = Instant::now() + drain;
    while admission.open() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Answers a connection that gets no thread, on the accept thread: plain
/// HTTP only (a TLS handshake here would let one client stall everyone, so
/// an HTTPS client is just closed).
fn refuse(mut stream: TcpStream, err: &ApiError, tls: bool, linger: &Linger) {
    debug!("refusing {:?}: {err}", stream.peer_addr());
    if tls {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    write_plain_error(&mut stream, err);
    linger.close(stream);
}

fn handle_connection<H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    client: Client,
    accepted: Instant,
    shared: &Shared<H>,
) {
    let opts = &shared.opts;
    let head_until = accepted + opts.head_timeout;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(opts.client_timeout));
    // The wrong protocol for the port is told in plain HTTP, at once.
    match (
        opts.tls.is_some(),
        first_byte(&stream, head_until, opts.client_timeout),
    ) {
        (true, Some(b)) if b.is_ascii_alphabetic() => {
            refuse_plain_http(stream, &shared.linger);
            return;
        }
        (false, Some(0x16)) => {
            refuse_tls(stream, &shared.linger);
            return;
        }
        _ => {}
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
    let head = deadline::read_head(&mut conn, head_until, opts.client_timeout);
    // Mid-handshake there is no channel to answer on.
    let handshaking = matches!(&conn, MaybeTls::Tls(t) if t.conn.is_handshaking());
    let mut resp = Response::new(&mut conn);
    let mut outcome = Outcome::default();
    // `None`: no access log line (the notice about the client says it).
    let label = match head {
        Ok(head) => match parse_request(head) {
            Ok(req) => {
                let label = (req.method.clone(), request_label(&req));
                // A HEAD answer has no body (RFC 9110 9.3.2), whatever it says.
                resp.set_head_only(req.method == "HEAD");
                resp.set_gzip(gzip::accepts_gzip(req.head.header("accept-encoding")));
                outcome = shared.handler.handle(&req, &mut resp);
                Some(label)
            }
            Err((err, label)) => {
                resp.error(&err);
                Some(label)
            }
        },
        Err(HeadError::Eof { empty: true }) => return,
        Err(e) if deadline::is_timeout(&e) => {
            shared.notices.note(client, Event::HeadTimeout);
            debug!("{peer}: no complete request head in time");
            if !handshaking {
                resp.error(&ApiError::HeadTimeout(opts.head_timeout));
            }
            None
        }
        Err(e @ HeadError::Eof { .. }) => {
            // A slowloris that gives up ends here: one notice, not a line
            // per connection. A client that only half-closed gets the 400.
            shared.notices.note(client, Event::Abandoned);
            resp.error(&ApiError::BadRequest(format!("malformed request: {e}")));
            None
        }
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
            Some(("-".to_string(), "-".to_string()))
        }
    };
    let sent = resp.finish();
    match &mut conn {
        MaybeTls::Tls(tls) if !sent.failed && !tls.conn.is_handshaking() => {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        _ => {}
    }
    let _ = conn.tcp().shutdown(Shutdown::Write);
    // Give the client a moment to see the end before the socket is dropped,
    // without waiting on a client that keeps the connection open.
    deadline::drain(conn.tcp(), Duration::from_secs(1));
    let Some((method, target)) = label else {
        return;
    };
    let rows = outcome
        .rows
        .map(|r| format!(" rows={r}"))
        .unwrap_or_default();
    let gzip = sent
        .gzip_level
        .map(|l| format!(" gzip={l}"))
        .unwrap_or_default();
    info!(
        "{peer} {method} {target} {}{rows} bytes={}{gzip} ms={}",
        sent.status,
        sent.bytes,
        accepted.elapsed().as_millis()
    );
}

/// The first byte the client sends, waited for no longer than the head may
/// take: a TLS handshake starts with 0x16, an HTTP request with a method
/// name.
fn first_byte(stream: &TcpStream, head_until: Instant, stall: Duration) -> Option<u8> {
    let left = head_until.saturating_duration_since(Instant::now());
    let _ = stream.set_read_timeout(Some(left.min(stall).max(Duration::from_millis(1))));
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first), Ok(1)).then_some(first[0])
}

/// Answers a TLS client on the plain port in plain HTTP at once (it would
/// otherwise wait for a ServerHello until a timeout); the client sees that
/// the answer is not TLS and can say so. The linger reads its ClientHello
/// before closing, so that the answer is not lost to a reset.
fn refuse_tls(stream: TcpStream, linger: &Linger) {
    let err = ApiError::BadRequest(
        "this port speaks plain HTTP, not HTTPS; use http:// (dbd_puller: without --source-ssl), or start dbd_server with --listen-ssl".into(),
    );
    refuse(stream, &err, false, linger);
    debug!("refused a TLS handshake on the plain HTTP port");
}

/// An error answer written straight to a plain socket, for the cases that
/// never reach a handler.
fn write_plain_error(stream: &mut TcpStream, err: &ApiError) {
    let status = err.status();
    let body = dbdump_shared::wire::error_line(status, &err.to_string());
    let extra: String = err
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n{extra}Connection: close\r\nContent-Length: {}\r\n\r\n",
        h::reason(status),
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(&body));
}

/// Tells a plain-HTTP client, in plain HTTP, that this port wants HTTPS.
fn refuse_plain_http(stream: TcpStream, linger: &Linger) {
    let err = ApiError::BadRequest(
        "this port speaks HTTPS only; use https:// (dbd_puller: --source-ssl, or --source-ssl-ca FILE for a self-signed certificate)".into(),
    );
    refuse(stream, &err, false, linger);
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
