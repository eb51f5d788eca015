//! The small part of HTTP/1.1 both sides need, with hard limits: reading a
//! message head, percent-encoding of path segments and query strings, Basic
//! credentials. The server only answers GET and closes the connection after
//! each response, which keeps the framing simple enough to own.

use std::io::{self, BufRead};

/// Longest request or status line accepted.
pub const MAX_LINE: usize = 16 * 1024;
/// Largest message head (start line plus headers) accepted.
pub const MAX_HEAD: usize = 32 * 1024;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 100;

#[derive(Debug)]
pub enum HeadError {
    /// The connection closed before a complete head (nothing read if `empty`).
    Eof {
        empty: bool,
    },
    /// The first line is longer than [`MAX_LINE`].
    LineTooLong,
    /// The head is larger than [`MAX_HEAD`] or has too many headers.
    TooLarge,
    Malformed(String),
    Io(io::Error),
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::Eof { .. } => f.write_str("connection closed before the message head ended"),
            HeadError::LineTooLong => write!(f, "first line longer than {MAX_LINE} bytes"),
            HeadError::TooLarge => write!(f, "message head larger than {MAX_HEAD} bytes"),
            HeadError::Malformed(m) => f.write_str(m),
            HeadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A message head: the start line and the header fields in order.
#[derive(Debug, Default)]
pub struct Head {
    pub start_line: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one head, never buffering more than the limits allow.
pub fn read_head<R: BufRead>(r: &mut R) -> Result<Head, HeadError> {
    let mut head = Head::default();
    let mut total = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = if head.start_line.is_empty() {
            MAX_LINE
        } else {
            MAX_HEAD - total
        };
        let n = read_line_limited(r, &mut line, limit + 2)?;
        if n == 0 {
            return Err(HeadError::Eof {
                empty: total == 0 && head.start_line.is_empty(),
            });
        }
        if line.last() != Some(&b'\n') {
            return Err(if head.start_line.is_empty() {
                HeadError::LineTooLong
            } else {
                HeadError::TooLarge
            });
        }
        total += n;
        if total > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        let text = String::from_utf8(std::mem::take(&mut line))
            .map_err(|_| HeadError::Malformed("message head is not valid UTF-8".into()))?;
        if head.start_line.is_empty() {
            if text.is_empty() {
                continue; // tolerate a stray CRLF before the start line (RFC 9112 2.2)
            }
            head.start_line = text;
            continue;
        }
        if text.is_empty() {
            return Ok(head);
        }
        if head.headers.len() >= MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| HeadError::Malformed(format!("malformed header line {text:?}")))?;
        if name.is_empty() || name.ends_with([' ', '\t']) {
            return Err(HeadError::Malformed(format!(
                "malformed header name {name:?}"
            )));
        }
        head.headers
            .push((name.to_string(), value.trim().to_string()));
    }
}

/// Like `read_until(b'\n')` but stops after `limit` bytes.
fn read_line_limited<R: BufRead>(
    r: &mut R,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, HeadError> {
    let mut read = 0;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HeadError::Io(e)),
        };
        if buf.is_empty() {
            return Ok(read);
        }
        let room = limit - read;
        let take = buf.len().min(room);
        let (n, done) = match buf[..take].iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (take, take == room),
        };
        out.extend_from_slice(&buf[..n]);
        r.consume(n);
        read += n;
        if done {
            return Ok(read);
        }
    }
}

/// Percent-decodes; `plus_as_space` for query strings. `None` on a bad escape.
pub fn percent_decode(s: &str, plus_as_space: bool) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let s = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Percent-decodes into UTF-8 text, for names and parameters.
pub fn percent_decode_str(s: &str, plus_as_space: bool) -> Result<String, String> {
    let bytes =
        percent_decode(s, plus_as_space).ok_or_else(|| format!("bad percent-escape in {s:?}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))
}

/// Encodes everything but RFC 3986 unreserved characters, so that a name
/// holding `/`, `?`, `%`, `#`, spaces or backticks stays one path segment.
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// Splits and decodes `a=1&b=2`.
pub fn parse_query(q: &str) -> Result<Vec<(String, String)>, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode_str(k, true)?, percent_decode_str(v, true)?))
        })
        .collect()
}

/// The `Authorization` header value for Basic credentials.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        crate::base64::encode(format!("{user}:{password}").as_bytes())
    )
}

/// Decodes a Basic `Authorization` value into (user, password) bytes.
pub fn parse_basic_auth(value: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = crate::base64::decode(rest.trim().as_bytes())?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// Compares without an early exit, so response time does not reveal how much
/// of a secret matched. (Length is not hidden; it says little.)
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_a_head() {
        let mut r = Cursor::new(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\nbody".to_vec());
        let h = read_head(&mut r).unwrap();
        assert_eq!(h.start_line, "GET /a HTTP/1.1");
        assert_eq!(h.header("host"), Some("x"));
        assert_eq!(h.header("x-y"), Some("z"));
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut r, &mut rest).unwrap();
        assert_eq!(rest, "body");
    }

    #[test]
    fn limits_are_enforced() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_LINE + 10));
        assert!(matches!(
            read_head(&mut Cursor::new(long)),
            Err(HeadError::LineTooLong)
        ));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(
            read_head(&mut Cursor::new(big)),
            Err(HeadError::TooLarge)
        ));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(
            read_head(&mut Cursor::new(many)),
            Err(HeadError::TooLarge)
        ));
        assert!(matches!(
            read_head(&mut Cursor::new("")),
            Err(HeadError::Eof { empty: true })
        ));
        assert!(matches!(
            read_head(&mut Cursor::new("GET / HTTP/1.1\r\n")),
            Err(HeadError::Eof { empty: false })
        ));
        assert!(matches!(
            read_head(&mut Cursor::new("GET / HTTP/1.1\r\nnocolon\r\n\r\n")),
            Err(HeadError::Malformed(_))
        ));
    }

    #[test]
    fn percent_coding_round_trips_odd_names() {
        for name in ["a b", "x/y", "50%", "q?#&=+", "`tick`", "ünï😀", "select"] {
            let enc = percent_encode(name);
            assert!(!enc.contains(['/', '?', '%', ' ']) || enc.matches('%').count() > 0);
            assert_eq!(percent_decode_str(&enc, false).unwrap(), name);
        }
        assert_eq!(percent_decode_str("a+b", true).unwrap(), "a b");
        assert_eq!(percent_decode_str("a+b", false).unwrap(), "a+b");
        assert!(percent_decode("%zz", false).is_none());
        assert!(percent_decode("%4", false).is_none());
        assert!(percent_decode_str("%ff", false).is_err());
    }

    #[test]
    fn query_strings() {
        let q = parse_query("since=2014-09-01+01:23:45&include_columns=a,b&flag").unwrap();
        assert_eq!(q[0], ("since".into(), "2014-09-01 01:23:45".into()));
        assert_eq!(q[1], ("include_columns".into(), "a,b".into()));
        assert_eq!(q[2], ("flag".into(), "".into()));
    }

    #[test]
    fn basic_auth_round_trip_and_compare() {
        let h = basic_auth("foo", "b:ar");
        assert_eq!(
            parse_basic_auth(&h),
            Some((b"foo".to_vec(), b"b:ar".to_vec()))
        );
        assert_eq!(parse_basic_auth("Bearer x"), None);
        assert_eq!(parse_basic_auth("Basic !!!"), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
