//! Reaching dbd_server through an HTTP proxy, the way curl does (which
//! proxy is `proxy_choice`'s business): a `CONNECT` tunnel for HTTPS (TLS, and its
//! certificate checks, stay end to end between puller and server),
//! absolute-form requests for plain HTTP, Basic credentials from the proxy
//! URL (sent to the proxy only, never logged), and errors that name the
//! proxy when it is the proxy that refused.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use dbdump_shared::http::{self as h, Head};

/// curl's default port for a proxy URL without one.
const DEFAULT_PORT: u16 = 1080;

pub struct Proxy {
    host: String,
    port: u16,
    /// `Basic …` for `Proxy-Authorization`, from the URL's user info.
    authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    // Hand-written so that the credentials can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// `host:port`, with brackets around an IPv6 address: the form of a
/// request's `Host`, of a `CONNECT` target and of a URL's authority.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The proxy URL without its user info, for messages: credentials in a
/// URL that could not even be parsed must not be shown either.
fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(end);
    let host = auth.rsplit_once('@').map_or(auth, |(_, host)| host);
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{scheme}{host}{tail}")
}

impl Proxy {
    /// Parses `[http://][user[:password]@]host[:port][/]` as curl does
    /// (no scheme means http, no port means 1080, user info is
    /// percent-decoded). `what` names where the URL came from.
    pub fn parse(url: &str, what: &str) -> Result<Proxy, String> {
        let url = url.trim();
        let bad = |why: &str| format!("{what} {:?}: {why}", redacted(url));
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        match scheme.to_ascii_lowercase().as_str() {
            "http" => {}
            "https" => {
                return Err(bad(
                    "TLS to the proxy itself is not supported; use its http:// URL \
                     (HTTPS to dbd_server still goes end to end through the tunnel)",
                ))
            }
            other if other.starts_with("socks") => {
                return Err(bad("SOCKS proxies are not supported; use an HTTP proxy"))
            }
            _ => return Err(bad("only http:// proxy URLs are supported")),
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (userinfo, hostport) = match rest[..end].rsplit_once('@') {
            Some((u, hp)) => (Some(u), hp),
            None => (None, &rest[..end]),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let authorization = match userinfo {
            None => None,
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                let decode = |s| {
                    h::percent_decode_str(s, false)
                        .map_err(|_| bad("bad percent-escape in the user or password"))
                };
                Some(h::basic_auth(&decode(user)?, &decode(password)?))
            }
        };
        Ok(Proxy {
            host: host.to_string(),
            port: port.unwrap_or(DEFAULT_PORT),
            authorization,
        })
    }

    /// `http://host:port`: how messages name the proxy (never with the
    /// credentials).
    pub fn label(&self) -> String {
        format!("http://{}", authority(&self.host, self.port))
    }

    /// Where to open the TCP connection.
    pub fn address(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// The `Proxy-Authorization` header line, if the URL had credentials.
    pub fn auth_header(&self) -> String {
        self.authorization
            .as_ref()
            .map(|a| format!("Proxy-Authorization: {a}\r\n"))
            .unwrap_or_default()
    }

    /// Asks the proxy, over `tcp`, for a tunnel to `host:port`; once it
    /// says yes, `tcp` carries bytes to and from the server as they are.
    pub fn tunnel(&self, tcp: &mut TcpStream, host: &str, port: u16) -> Result<(), String> {
        let target = authority(host, port);
        let request = format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: dbd_puller/{}\r\n{}\r\n",
            dbdump_shared::VERSION,
            self.auth_header()
        );
        let unreachable = |e: &dyn std::fmt::Display| {
            format!(
                "proxy {} failed while opening a tunnel to {target}: {e}",
                self.label()
            )
        };
        tcp.write_all(request.as_bytes())
            .and_then(|_| tcp.flush())
            .map_err(|e| unreachable(&e))?;
        // One byte at a time: after the reply's head, the bytes are the
        // server's, and none may be left behind in a buffer.
        let head = h::read_head(&mut BufReader::with_capacity(1, &mut *tcp))
            .map_err(|e| unreachable(&e))?;
        match status(&head) {
            Some((200..=299, _)) => Ok(()),
            Some((code, reason)) => Err(self.refusal(code, &reason, &target)),
            None => Err(unreachable(&format!(
                "not an HTTP answer: {:?}",
                clean(&head.start_line)
            ))),
        }
    }

    /// The one-line error for a proxy that answered `code` instead of
    /// connecting us to `target`.
    pub fn refusal(&self, code: u16, reason: &str, target: &str) -> String {
        let proxy = self.label();
        let answer = format!("{code} {}", clean(reason));
        // Some proxies (tinyproxy) say 401 to wrong credentials.
        match code {
            401 | 407 if self.authorization.is_some() => format!(
                "proxy {proxy} rejected the credentials in its URL ({answer})"
            ),
            401 | 407 => format!(
                "proxy {proxy} requires credentials ({answer}); give them in the proxy URL: http://USER:PASSWORD@HOST:PORT"
            ),
            403 => format!(
                "proxy {proxy} does not allow connections to {target} ({answer}); its rules must allow this host and port"
            ),
            500 | 502 | 504 => format!("proxy {proxy} could not reach {target} ({answer})"),
            _ => format!("proxy {proxy} refused the connection to {target} ({answer})"),
        }
    }
}

/// Status code and reason phrase of a response head.
pub fn status(head: &Head) -> Option<(u16, String)> {
    let mut parts = head.start_line.splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?.parse().ok()?;
    version
        .starts_with("HTTP/1.")
        .then(|| (code, parts.next().unwrap_or("").to_string()))
}

/// A proxy's words, made safe for one log line.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`; a bare IPv6 address has no
/// port. `None` for a bad port.
pub fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match s.split_once(':') {
        Some((host, port)) if !port.contains(':') => Some((host, Some(port.parse().ok()?))),
        _ => Some((s, None)),
    }
}

/// Connects to the proxy, trying each of its addresses in turn.
pub fn dial(proxy: &Proxy, timeout: Duration) -> Result<TcpStream, String> {
    use std::net::ToSocketAddrs;
    let label = proxy.label();
    let addrs = proxy
        .address()
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve proxy {label}: {e}"))?;
    let mut last = format!("proxy {label} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = format!("cannot connect to proxy {label} ({addr}): {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_as_curl_reads_them() {
        let p = Proxy::parse("http://proxy.corp:3128", "x").unwrap();
        assert_eq!(
            (p.label().as_str(), p.auth_header().as_str()),
            ("http://proxy.corp:3128", "")
        );
        let p = Proxy::parse("proxy.corp", "x").unwrap();
        assert_eq!(
            p.label(),
            "http://proxy.corp:1080",
            "no scheme: http; no port: 1080"
        );
        let p = Proxy::parse("HTTP://[::1]:8080/", "x").unwrap();
        assert_eq!(p.address(), ("::1", 8080));
        assert_eq!(p.label(), "http://[::1]:8080");
        let p = Proxy::parse("http://us%40er:p%3Ass@w@10.0.0.1:3128", "x").unwrap();
        assert_eq!(p.label(), "http://10.0.0.1:3128");
        assert_eq!(
            p.auth_header(),
            format!(
                "Proxy-Authorization: {}\r\n",
                h::basic_auth("us@er", "p:ss@w")
            )
        );
        assert!(
            !format!("{p:?}").contains("ss"),
            "Debug shows no credentials"
        );
    }

    #[test]
    fn unusable_proxy_urls_say_why_without_the_password() {
        for (url, why) in [
            ("https://u:secret@proxy:443", "TLS to the proxy"),
            ("socks5://u:secret@proxy:1080", "SOCKS"),
            ("ftp://proxy", "only http://"),
            ("http://u:secret@proxy:99999", "bad host or port"),
            ("http://u:secret@:3128", "no host"),
        ] {
            let err = Proxy::parse(url, "https_proxy").unwrap_err();
            assert!(err.starts_with("https_proxy "), "{err}");
            assert!(err.contains(why), "{url}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn refusals_name_the_proxy_and_what_to_do() {
        let with = Proxy::parse("http://u:p@proxy:3128", "x").unwrap();
        let without = Proxy::parse("http://proxy:3128", "x").unwrap();
        let r = without.refusal(407, "Proxy Authentication Required", "db:8888");
        assert!(
            r.starts_with("proxy http://proxy:3128 requires credentials (407"),
            "{r}"
        );
        let r = with.refusal(407, "Proxy Authentication Required", "db:8888");
        assert!(r.contains("rejected the credentials"), "{r}");
        let r = with.refusal(403, "Forbidden\r\nX-Evil: 1", "db:8888");
        assert!(
            r.contains("does not allow connections to db:8888 (403 ForbiddenX-Evil: 1)"),
            "{r}"
        );
        let r = with.refusal(502, "Bad Gateway", "db:8888");
        assert_eq!(
            r,
            "proxy http://proxy:3128 could not reach db:8888 (502 Bad Gateway)"
        );
        assert!(!r.contains("u:p"));
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(authority("::1", 8888), "[::1]:8888");
        assert_eq!(authority("db.example", 8888), "db.example:8888");
    }
}
