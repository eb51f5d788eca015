//! The HTTP(S) client that talks to dbd_server: GET only, one request per
//! connection, a connect timeout and a stall timeout (no whole-request
//! deadline, so a long stream is fine as long as bytes keep coming), TLS
//! with a configurable CA, bodies read as a stream, optionally through an
//! HTTP proxy (`proxy`).

use std::io::{self, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use dbdump_shared::debug;
use dbdump_shared::gzip::{self, Decoded};
use dbdump_shared::http::{self as h, Head, HeadError};
use dbdump_shared::tls::MaybeTls;
use dbdump_shared::wire::ErrorBody;

use crate::config::Config;
use crate::source::body::{framing, Body};
use crate::source::proxy::{self, Proxy};
use crate::source::proxy_choice;
use crate::source::tlserror::{self, Peer};

#[derive(Debug)]
pub enum ClientError {
    /// Could not connect, or the connection stalled or broke.
    Network(String),
    /// The TLS handshake failed (the message says why and what to do).
    Tls(String),
    /// The server answered with an error status.
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The answer does not follow HTTP or the protocol.
    Protocol(String),
    /// The HTTP proxy could not be reached or refused to pass the request
    /// on; the message names the proxy.
    Proxy(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Network(m) => write!(f, "dbd_server unreachable: {m}"),
            ClientError::Tls(m) => write!(f, "TLS handshake with dbd_server failed: {m}"),
            ClientError::Status {
                status, message, ..
            } => write!(f, "dbd_server answered {status}: {message}"),
            ClientError::Protocol(m) => write!(f, "bad answer from dbd_server: {m}"),
            ClientError::Proxy(m) => f.write_str(m),
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Network(e.to_string())
    }
}

pub struct Client {
    host: String,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    /// `--source-ssl-ca`, for messages.
    ca: Option<PathBuf>,
    authorization: Option<String>,
    timeout: Duration,
    /// Body bytes read from the server so far, for the summary lines.
    read: Arc<AtomicU64>,
    proxy: Option<Proxy>,
    /// Ask for gzip (`--source-compress`).
    compress: bool,
}

type Conn = MaybeTls<ClientConnection>;

/// What [`Client::get`] returns: the body, gunzipped when the server sent
/// it compressed.
pub type Response = BufReader<Decoded<Body<BufReader<Conn>>>>;

impl Client {
    pub fn new(c: &Config) -> Result<Client, String> {
        let tls = if c.source_tls {
            Some(dbdump_shared::tls::client_config(c.source_ca.as_deref())?)
        } else {
            None
        };
        let env = |name: &str| std::env::var(name).ok();
        let proxy = proxy_choice::choose(
            c.source_proxy.as_deref(),
            tls.is_some(),
            &c.source_host,
            c.source_port,
            &env,
        )?;
        if let Some((proxy, from)) = &proxy {
            debug!(
                "reaching the server through proxy {} (from {from})",
                proxy.label()
            );
        }
        Ok(Client {
            proxy: proxy.map(|(p, _)| p),
            host: c.source_host.clone(),
            port: c.source_port,
            tls,
            ca: c.source_ca.clone(),
            authorization: c
                .source_credentials
                .as_ref()
                .map(|(u, p)| h::basic_auth(u, p)),
            timeout: c.source_timeout,
            read: Arc::new(AtomicU64::new(0)),
            compress: c.source_compress,
        })
    }

    /// Body bytes read from the server since start-up.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// `http(s)://host:port`, for messages.
    pub fn base(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.tls.is_some() { "https" } else { "http" },
            self.host,
            self.port
        )
    }

    /// The server and what it is trusted by, for TLS messages.
    fn peer(&self) -> Peer<'_> {
        Peer {
            address: format!("{}:{}", self.host, self.port),
            ca: self.ca.as_deref(),
        }
    }

    /// A TCP connection to the server, or a tunnel to it through the proxy
    /// (for HTTPS), or a connection to the proxy (for plain HTTP).
    fn open(&self) -> Result<TcpStream, ClientError> {
        let Some(proxy) = &self.proxy else {
            return self.dial();
        };
        let mut tcp = proxy::dial(proxy, self.timeout).map_err(ClientError::Proxy)?;
        tcp.set_read_timeout(Some(self.timeout))?;
        tcp.set_write_timeout(Some(self.timeout))?;
        if self.tls.is_some() {
            proxy
                .tunnel(&mut tcp, &self.host, self.port)
                .map_err(ClientError::Proxy)?;
        }
        Ok(tcp)
    }

    fn dial(&self) -> Result<TcpStream, ClientError> {
        let addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| ClientError::Network(format!("cannot resolve {}: {e}", self.host)))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(tcp) => return Ok(tcp),
                Err(e) => last = Some(format!("{addr}: {e}")),
            }
        }
        Err(ClientError::Network(last.unwrap_or_else(|| {
            format!("{} resolves to no address", self.host)
        })))
    }

    fn connect(&self) -> Result<Conn, ClientError> {
        let tcp = self.open()?;
        tcp.set_read_timeout(Some(self.timeout))?;
        tcp.set_write_timeout(Some(self.timeout))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(MaybeTls::Plain(tcp)),
            Some(cfg) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|e| {
                    ClientError::Network(format!("bad TLS server name {}: {e}", self.host))
                })?;
                let session = ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| ClientError::Network(format!("TLS set-up failed: {e}")))?;
                let mut tls = StreamOwned::new(session, tcp);
                // Shake hands before the request, so that a failure is told
                // as a TLS one.
                while tls.conn.is_handshaking() {
                    tls.conn.complete_io(&mut tls.sock).map_err(|e| {
                        ClientError::Tls(tlserror::handshake_failure(&e, &self.peer()))
                    })?;
                }
                Ok(MaybeTls::Tls(Box::new(tls)))
            }
        }
    }

    /// GETs `path` (already percent-encoded) and returns the body of a 200
    /// answer; any other status becomes [`ClientError::Status`].
    pub fn get(&self, path: &str) -> Result<Response, ClientError> {
        let mut conn = self.connect()?;
        let host = proxy::authority(&self.host, self.port);
        // Plain HTTP through a proxy: the request names the whole URL, and
        // the proxy's credentials go with it (over a tunnel, only the
        // CONNECT carried them).
        let (target, proxy_auth) = match (&self.proxy, &self.tls) {
            (Some(p), None) => (format!("http://{host}{path}"), p.auth_header()),
            _ => (path.to_string(), String::new()),
        };
        let mut request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dbd_puller/{}\r\nAccept: application/x-ndjson, application/json\r\nConnection: close\r\n{proxy_auth}",
            dbdump_shared::VERSION
        );
        if let Some(auth) = &self.authorization {
            request.push_str(&format!("Authorization: {auth}\r\n"));
        }
        if self.compress {
            request.push_str("Accept-Encoding: gzip\r\n");
        }
        request.push_str("\r\n");
        conn.write_all(request.as_bytes())
            .and_then(|_| conn.flush())?;
        let mut reader = BufReader::with_capacity(256 * 1024, conn);
        let head = h::read_head(&mut reader).map_err(|e| match e {
            HeadError::Io(e) => ClientError::Network(e.to_string()),
            HeadError::Eof { .. } => {
                ClientError::Network("connection closed before a response".into())
            }
            other => ClientError::Protocol(other.to_string()),
        })?;
        let status = parse_status(&head)?;
        let framing = framing(&head).map_err(ClientError::Protocol)?;
        let gzip = gzip::is_gzip(head.header("content-encoding")).map_err(ClientError::Protocol)?;
        // Bytes are counted as they arrive, before any gunzipping.
        let body = Body::new(reader, framing, self.read.clone());
        let mut body = Decoded::new(body, gzip);
        if status == 200 {
            return Ok(BufReader::with_capacity(256 * 1024, body));
        }
        let mut text = String::new();
        let _ = body.by_ref().take(64 * 1024).read_to_string(&mut text);
        let answer = serde_json::from_str::<ErrorBody>(&text);
        if let (Some(proxy), None, Err(_)) = (&self.proxy, &self.tls, &answer) {
            // Not dbd_server's JSON: the proxy's own error page.
            let reason = proxy::status(&head).map(|(_, r)| r).unwrap_or_default();
            return Err(ClientError::Proxy(proxy.refusal(status, &reason, &host)));
        }
        let message = answer
            .map(|b| b.error)
            .unwrap_or_else(|_| text.trim().chars().take(300).collect());
        Err(ClientError::Status {
            status,
            message,
            retry_after: head.header("retry-after").and_then(parse_retry_after),
        })
    }

    /// GETs `path` and parses the JSON answer.
    pub fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let mut body = self.get(path)?;
        let mut text = String::new();
        body.read_to_string(&mut text)?;
        serde_json::from_str(&text).map_err(|e| ClientError::Protocol(format!("{path}: {e}")))
    }
}

fn parse_status(head: &Head) -> Result<u16, ClientError> {
    let mut parts = head.start_line.splitn(3, ' ');
    match (
        parts.next(),
        parts.next().and_then(|s| s.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => Ok(code),
        _ => Err(ClientError::Protocol(format!(
            "not an HTTP response: {:?}",
            head.start_line
        ))),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(s) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when = httpdate::parse_http_date(v.trim()).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn head(lines: &str) -> Head {
        h::read_head(&mut Cursor::new(lines.to_string())).unwrap()
    }

    #[test]
    fn status_lines() {
        let hd = head("HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(parse_status(&hd).unwrap(), 404);
        assert!(parse_status(&head("SSH-2.0-OpenSSH\r\n\r\n")).is_err());
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
